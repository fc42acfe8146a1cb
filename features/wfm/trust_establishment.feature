@profile:httpsig-2026h1
Feature: Trust establishment with the WFM
  Before it onboards, a device obtains the WFM root CA through the Certificate API (or out of band)
  and from then on talks to the WFM over server-side TLS only, verifying the server against that root.
  These scenarios check what the WFM offers a device at that stage.

  @req:CERT-01 @req:CERT-02 @level:MUST
  Scenario: The Certificate API answers a request that carries no signature
    When the device requests the root CA certificate without signing the request
    Then the WFM answers 200 (CERT-01, CERT-02)

  @req:CERT-03 @level:MUST
  Scenario: The Certificate API returns a JSON object with a certificate string
    When the device requests the root CA certificate without signing the request
    Then the response is JSON of type "certificate-response" (CERT-03)

  @req:CERT-04 @level:MUST @interpretation:Q-09
  Scenario: The root CA arrives as strict base64 and decodes to exactly one certificate
    When the device requests the root CA certificate without signing the request
    Then the certificate value is strict base64 without line breaks (CERT-04)
    And the certificate value decodes to exactly one X.509 certificate, in PEM or DER form (CERT-04)

  @req:CERT-05 @level:MUST
  Scenario: The returned certificate is a CA certificate
    When the device requests the root CA certificate without signing the request
    Then the returned certificate is a CA certificate (CERT-05)
    And the returned certificate is self-signed (CERT-05, advisory)

  @req:TLS-06 @req:TLS-01 @req:CERT-05 @req:CERT-08 @level:MUST @interpretation:Q-07
  Scenario: The live TLS chain validates against the root CA from the Certificate API
    Given the device has downloaded the root CA from the Certificate API
    When the device opens a TLS connection that trusts only that root CA and checks the host name
    Then the TLS handshake succeeds (TLS-06, CERT-05, CERT-08)
    And the TLS handshake succeeds (TLS-01)

  @req:TLS-02 @level:MUST
  Scenario: The WFM accepts TLS 1.3
    Given the device knows the WFM root CA
    When the device opens a TLS connection limited to TLS 1.3
    Then the TLS handshake succeeds (TLS-02)

  @req:TLS-02 @level:SHOULD @interpretation:Q-08
  Scenario: The WFM refuses TLS 1.2
    Given the device knows the WFM root CA
    When the device opens a TLS connection limited to TLS 1.2
    Then the TLS handshake is refused (TLS-02, advisory)

  @req:TLS-05 @level:MUST
  Scenario: The WFM does not demand a TLS client certificate
    Given the device knows the WFM root CA
    When the device opens a TLS connection without a client certificate
    Then the TLS handshake succeeds (TLS-05)
    And the WFM did not request a client certificate (TLS-05)

  @req:GEN-02 @level:MUST
  Scenario: The API works over HTTP/1.1
    Given the device knows the WFM root CA
    When the device requests the root CA certificate over a connection that offers only HTTP/1.1
    Then the WFM answers 200 (GEN-02)
    And the response came over HTTP/1.1 (GEN-02)

  @req:GEN-03 @level:SHOULD
  Scenario: The API is served on port 443
    Then the WFM's base URL uses port 443 (GEN-03, advisory)
