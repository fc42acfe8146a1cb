@profile:miaf-rc3
Feature: MIAF device: the WFM is authenticated by its SPIFFE ID, never by the URL's host name
  For every connection the device validates the WFM's SVID against its bundle and requires exactly
  spiffe://<td>/margo/wfm/<wfm-id>, both taken from its own SVID (MID-04); the URL is routing information only
  (MGEN-08) and DNS matching never overrides the SPIFFE ID (MID-05, Q-55). The positive scenario judges the shared
  nominal run (@recording:nominal): the WFM presents W-OK (URI SAN only, neutral subject) and is reached as
  https://localhost:PORT, a host name nothing in the certificate matches. Each refusal scenario launches the device
  against a WFM presenting one W-* fixture; not one byte of HTTP may reach it. A verdict names the rows the fixture
  tests (the profile's fixture catalogue).

  @req:MID-04 @req:MID-05 @req:MGEN-08 @req:SVID-12 @level:MUST @interpretation:Q-55 @recording:nominal
  Scenario: The device reports to W-OK, which has no DNS SAN, reached by a host name its SVID does not carry
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has connected over mutual TLS
    Then the device reported its capabilities to W-OK, reached by a host name its SVID does not carry (MID-04, MID-05, MGEN-08, SVID-12)

  @req:MID-05 @level:MUST
  Scenario: The device also reports to a WFM whose SVID carries a DNS SAN for the URL host (W-OK-DNS)
    Given the simulated MIAF WFM presents the fixture "W-OK-DNS"
    When the device runs until it has reported its capabilities over mutual TLS
    Then the device proceeded to report to the WFM presenting "W-OK-DNS" (MID-05)

  @req:MID-04 @req:SVID-10 @req:MTLS-07 @level:MUST
  Scenario Outline: The device refuses a WFM SVID of another identity or another root: <fixture>
    Given the simulated MIAF WFM presents the fixture "<fixture>"
    When the device runs against the simulated MIAF WFM
    Then the device sent no HTTP request to the WFM presenting "<fixture>"

    Examples:
      | fixture  |
      | W-OTHWFM |
      | W-CLIENT |
      | W-FTD    |
      | W-R2     |

  @req:MID-05 @req:MID-04 @req:SVID-02 @req:SVID-10 @level:MUST @interpretation:Q-55
  Scenario Outline: A DNS SAN matching the URL host does not stand in for the SPIFFE ID: <fixture>
    Given the simulated MIAF WFM presents the fixture "<fixture>"
    When the device runs against the simulated MIAF WFM
    Then the device sent no HTTP request to the WFM presenting "<fixture>"

    Examples:
      | fixture       |
      | W-DNS-WRONGID |
      | W-DNSONLY     |

  @req:SVID-02 @req:SVID-04 @req:SVID-05 @req:SVID-06 @req:MID-04 @level:MUST
  Scenario Outline: The device enforces the leaf constraints on the WFM's SVID when validating: <fixture>
    Given the simulated MIAF WFM presents the fixture "<fixture>"
    When the device runs against the simulated MIAF WFM
    Then the device sent no HTTP request to the WFM presenting "<fixture>"

    Examples:
      | fixture |
      | W-2URI  |
      | W-CA    |
      | W-KCS   |

  @req:MTLS-07 @level:MUST @interpretation:Q-60
  Scenario: The device refuses an expired WFM SVID
    Given the simulated MIAF WFM presents the fixture "W-EXP"
    When the device runs against the simulated MIAF WFM
    Then the device sent no HTTP request to the WFM presenting "W-EXP"

  @req:SVID-09 @req:SVID-08 @req:MTLS-07 @level:MUST @interpretation:Q-56
  Scenario Outline: The device refuses a WFM chain without its intermediate and fetches nothing: <fixture>
    Given the simulated MIAF WFM presents the fixture "<fixture>"
    When the device runs against the simulated MIAF WFM
    Then the device sent no HTTP request to the WFM presenting "<fixture>"

    Examples:
      | fixture    |
      | W-LEAFONLY |
      | W-AIA      |
