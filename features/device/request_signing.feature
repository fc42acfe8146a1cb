@profile:httpsig-2026h1 @recording:nominal
Feature: Every request of the device is signed, and every body carries its digest
  After onboarding, every request carries an RFC 9421 signature over "@method", "@target-uri"
  and "content-digest" with created and keyid, made with the key of the onboarded certificate using one
  of the four Margo algorithms, and every body carries an RFC 9530 Content-Digest. Signatures are verified
  by the harness itself at the moment each request arrived. The findings of the core diagnosis appear in
  every failure message.
  Every scenario here judges the one shared recording of a nominal run (@recording:nominal), made once per
  run: a defect in that run fails each of them that judges it.

  Background:
    Given the simulated WFM is running
    When the device runs until it has reported its capabilities

  @req:SIG-01 @req:CAP-03 @level:MUST
  Scenario: Every request after onboarding is signed
    Then every request after onboarding is signed (SIG-01, CAP-03)

  @req:SIG-02 @req:DIG-02 @level:MUST
  Scenario: The signature covers the required components
    Then every signature covers "@method", "@target-uri" and "content-digest" (SIG-02, DIG-02)

  @req:SIG-02 @level:MUST @interpretation:Q-04
  Scenario: The covered component names are lower case
    Then every covered component name is lower case (SIG-02)

  @req:SIG-03 @level:MUST
  Scenario: The signature carries created and keyid, created within the window
    Then every signature has created and keyid parameters, created at the signing time (SIG-03)

  @req:SIG-07 @level:MUST @interpretation:Q-05
  Scenario: The device signs with one of the four Margo algorithms
    Then every signature uses one of the four Margo algorithms (SIG-07)

  @req:SIG-05 @level:MUST @interpretation:Q-06
  Scenario: ECDSA signatures are encoded as raw r||s
    Then every ECDSA signature is raw r||s (SIG-05)

  @req:SIG-05 @level:MUST
  Scenario: Every signature verifies with the onboarded certificate
    Then every signature verifies with the key of the onboarded certificate (SIG-05)

  @req:SIG-06 @level:MUST
  Scenario: Requests with a body carry Content-Digest, Signature-Input and Signature
    Then every request with a body carries Content-Digest, Signature-Input and Signature (SIG-06)

  @req:DIG-01 @req:DIG-06 @level:MUST @interpretation:Q-11
  Scenario: The Content-Digest is the SHA-256 of the exact body
    Then every Content-Digest is the sha-256 of the body as received (DIG-01, DIG-06)
