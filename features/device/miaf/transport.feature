@profile:miaf-rc3
Feature: MIAF device: mutual TLS with its X.509-SVID, TLS 1.3 by default, never below TLS 1.2, HTTP/1.1
  The harness plays the WFM (the reference MIAF WFM, requiring a client certificate and trusting the bundle's
  anchor R1 alone) and issues the device its SVID spiffe://harness.test/margo/wfm/wfm-h1/client/dut1 (R1 -> I1 ->
  leaf). The scenarios tagged @recording:nominal judge one shared nominal run of the device (one launch: connect,
  report capabilities): a defect in that run fails each of them that judges it. The TLS-1.1 and TLS-1.2 scenarios
  launch the device on their own against a WFM with capped TLS versions; the port-443 scenario is NOT
  TESTED where the harness may not listen on port 443.

  @req:MTLS-01 @req:SVID-08 @req:MTB-03 @req:MGEN-04 @level:MUST @recording:nominal
  Scenario: The device presents the SVID it was issued, with its intermediate, on every connection
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has connected over mutual TLS
    Then the device presented a client certificate on every connection (MTLS-01)
    And its chain reached the bundle's anchor through the intermediate it sent (SVID-08, MTB-03)
    And it called with the SVID the harness issued it (MGEN-04)

  @req:MTLS-03 @req:SVID-02 @req:SVID-03 @req:SVID-04 @req:SVID-05 @req:SVID-07 @req:SVID-13 @req:SVID-15
  @req:SVID-18 @req:MID-06 @level:MUST @recording:nominal
  Scenario: The SVID the device presents is a well-formed client X.509-SVID of its trust domain
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has connected over mutual TLS
    Then the device's X.509-SVID passes the SVID rules (MTLS-03, SVID-02, SVID-03, SVID-04, SVID-05, SVID-07, SVID-13, SVID-15, SVID-18, MID-06)

  @req:MTLS-04 @level:MUST @recording:nominal
  Scenario: TLS 1.3 is negotiated with a WFM offering TLS 1.3 and 1.2
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has connected over mutual TLS
    Then TLS 1.3 was negotiated (MTLS-04)

  @req:MGEN-02 @level:MUST @recording:nominal
  Scenario: The device speaks HTTP/1.1 to a WFM that offers ALPN http/1.1 only
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then every request is HTTP/1.1 (MGEN-02)

  @req:MTLS-06 @level:MUST
  Scenario: The device does not complete a handshake with a WFM capped at TLS 1.1
    Given the WFM offers only TLS 1.1
    When the device runs against the simulated MIAF WFM
    Then no handshake with the TLS-1.1-only WFM completed (MTLS-06)

  @req:MTLS-05 @level:MAY
  Scenario: With a TLS-1.2-only WFM the device refuses or uses TLS 1.2 as RFC 9325 says
    Given the WFM offers only TLS 1.2
    When the device runs against the simulated MIAF WFM
    Then a TLS 1.2 handshake, if the device completed one, follows RFC 9325 (MTLS-05)

  @req:MGEN-03 @level:MUST
  Scenario: The device works with a WFM URL that names no port (port 443)
    Given the simulated MIAF WFM listens on port 443 and the device is given a URL without a port
    When the device runs against the simulated MIAF WFM
    Then the device reached the WFM on port 443 through a URL without a port (MGEN-03)
