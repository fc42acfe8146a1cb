@profile:miaf-rc3
Feature: MIAF device: the trust bundle, fetched over HTTPS it authenticates, X.509 anchors only, replaced on refresh
  The harness is the Margo Identity Service origin (https://localhost:PORT, certificate from a separate MIS web CA
  given to the device as {mis_ca_file} or {mis_pin}): /.well-known/margo (with a member the device must ignore) and
  the SPIFFE bundle (JWK Set) with ETag, 304 and 404 problem+json. Every scenario launches the device on its own;
  they need a device that fetches its bundle (SUT file bundle = "discovery" or "url"). The refresh scenarios serve
  spiffe_refresh_hint 1 s and change the device's labels to make it connect again.

  @req:MTB-01 @level:MUST
  Scenario: The device does not trust an MIS origin its initial trust does not cover
    Given the MIS origin presents a certificate from a CA the device was never given
    When the device runs against the simulated MIAF WFM
    Then the device did contact the MIS origin (MTB-01)
    And the device sent nothing to the WFM (MTB-01)

  @req:MTB-04 @level:MUST
  Scenario: The device refuses a discovery document whose trustBundleUri is not https
    Given the discovery document gives an http:// trustBundleUri
    When the device runs against the simulated MIAF WFM
    Then the http:// bundle URI was never fetched (MTB-04)
    And the device sent nothing to the WFM (MTB-04)

  @req:MTB-06 @req:MTB-02 @level:MUST
  Scenario Outline: A first bundle without X.509 anchors leaves the device with nothing to trust: <what>
    Given the MIS serves a bundle with <what> from the start
    When the device runs against the simulated MIAF WFM
    Then the device sent nothing to the WFM (MTB-06, MTB-02)

    Examples:
      | what               |
      | no keys            |
      | only jwt-svid keys |

  @req:MTB-06 @level:MUST
  Scenario: A refreshed bundle without X.509 anchors does not replace the working one
    Given after the first accepted report the MIS serves a bundle with no keys
    When the device runs against the simulated MIAF WFM
    Then the device kept its previous anchors and reported again (MTB-06)

  @req:MTB-02 @req:SVID-11 @level:MUST
  Scenario: Anchors are replaced on refresh, never merged: R1, then R1+R2, then R2
    Given the MIS rotates the bundle from R1 to R1+R2 while the WFM moves to an SVID under R2, then to R2 alone while the WFM goes back to an SVID under R1
    When the device runs against the simulated MIAF WFM
    Then a WFM SVID under R2 was accepted while the bundle held R1 and R2 (SVID-11)
    And a WFM SVID under R1 was refused once the bundle held R2 alone (MTB-02)

  @req:MTB-05 @level:IMPL
  Scenario: Bundle refreshes are conditional, and a 404 keeps the current bundle
    Given the MIS answers bundle refreshes with 304, then with 404
    When the device runs against the simulated MIAF WFM
    Then bundle refreshes carried If-None-Match with the ETag served (MTB-05, advisory)
    And after a 404 on refresh the device kept its bundle and reported again (MTB-05)
