@profile:miaf-rc3
Feature: MIAF transport: TLS versions, HTTP/1.1, port, the WFM's own SVID, no other way in
  TLS 1.3 is the default, TLS 1.2 a permitted fallback under RFC 9325, TLS 1.0 and 1.1 never. The WFM presents its
  own WFM X.509-SVID spiffe://<td>/margo/wfm/<wfm-id> with every intermediate, and the harness validates it
  against the bundle (R1) alone, by SPIFFE ID and not by host name (Q-55). Legacy onboarding and signed routes
  are no way around mutual TLS (MGEN-05, Q-63).

  @req:MTLS-04 @level:MUST
  Scenario: A client offering TLS 1.3 and 1.2 gets TLS 1.3
    When the client C-OK opens a TLS connection offering TLS 1.3 and 1.2
    Then TLS 1.3 was negotiated (MTLS-04)

  @req:MTLS-06 @level:MUST
  Scenario Outline: A client offering only TLS <version> is refused
    When the client C-OK opens a TLS connection offering only TLS <version>
    Then the handshake is refused (MTLS-06)

    Examples:
      | version |
      | 1.0     |
      | 1.1     |

  @req:MTLS-05 @level:MAY @interpretation:Q-59
  Scenario: A TLS 1.2 fallback, if the WFM offers one, follows RFC 9325
    When the client C-OK opens a TLS connection offering only TLS 1.2
    Then a TLS 1.2 handshake is recorded, and if it completed it follows RFC 9325 (MTLS-05)

  @req:MGEN-02 @level:MUST
  Scenario: The API works over HTTP/1.1
    When the client C-OK reports the device "h11" offering ALPN http/1.1 only
    Then the WFM serves it (MGEN-02)
    And the response came over HTTP/1.1 (MGEN-02)

  @req:MGEN-03 @level:MUST
  Scenario: The API is served on port 443
    Then the WFM's base URL uses port 443 (MGEN-03)

  @req:MTLS-11 @req:MID-03 @req:MID-06 @req:MGEN-04 @req:SVID-02 @req:SVID-04 @req:SVID-05 @req:SVID-08 @req:MTB-03
  @level:MUST @interpretation:Q-55
  Scenario: The WFM presents its own WFM SVID with its intermediates
    When the client C-OK opens a TLS connection offering TLS 1.3 and 1.2
    Then the WFM's presented chain is its WFM SVID, validated against the bundle alone (MTLS-11, MID-03, SVID-08)

  @level:MUST @interpretation:Q-63
  Scenario Outline: A legacy route without a client certificate is never served (<route>)
    When a client without a certificate sends the legacy request "<route>"
    Then the legacy request is not served (MGEN-05)

    @req:MGEN-05
    Examples:
      | route                       |
      | onboarding                  |
      | onboarding-certificate      |
      | signed-client-capabilities  |
