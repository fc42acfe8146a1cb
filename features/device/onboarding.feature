@profile:httpsig-2026h1
Feature: The device onboards with a well-formed, signed request
  The device sends its X.509 certificate, base64-encoded, in a POST /api/v1/onboarding signed with the
  key of that certificate; it keeps the clientId the WFM assigns and uses it, byte for byte, in every
  later path. It reports capabilities only after a successful onboarding.
  Scenarios tagged @recording:nominal judge one shared recording of a nominal run (onboard, report, sign
  every request), made once per run: a defect in that run fails each of them that judges it.

  Background:
    Given the simulated WFM is running

  @req:ONB-01 @req:ONB-02 @req:ONB-03 @req:GEN-01 @req:GEN-02 @req:GEN-06 @level:MUST @recording:nominal
  Scenario: The onboarding request body is an OnboardingRequest
    When the device runs until it has onboarded
    Then every request is HTTP/1.1 with a JSON body labelled application/json (GEN-02, GEN-06)
    And the onboarding is a POST to /api/v1/onboarding (ONB-01, GEN-01)
    And the onboarding body matches the OnboardingRequest schema (ONB-02)
    And the onboarding kind is exactly "OnboardingRequest" (ONB-03)
    And the onboarding apiVersion is the spec's example value (ONB-04, advisory)

  @req:ONB-05 @req:CERT-08 @req:CERT-09 @req:CERT-11 @level:MUST @interpretation:Q-09 @recording:nominal
  Scenario: The submitted certificate is a base64-encoded RFC 5280 certificate with an allowed key
    When the device runs until it has onboarded
    Then the submitted certificate is base64 of one X.509 certificate, DER or PEM (ONB-05, CERT-08)
    And the submitted certificate conforms to RFC 5280 (CERT-09)
    And a CA flag on the submitted certificate is reported (CERT-09, advisory)
    And the key of the submitted certificate is EC P-256, EC P-384 or RSA (CERT-11)

  @req:ONB-06 @level:MUST @interpretation:Q-03 @recording:nominal
  Scenario: The onboarding request is signed by the key of the submitted certificate
    When the device runs until it has onboarded
    Then the onboarding request is signed (ONB-06)
    And the onboarding request is signed by the key of the submitted certificate (ONB-06)

  @req:ONB-13 @level:MUST
  Scenario: The device uses an unusual but legal clientId byte for byte
    Given the WFM assigns the clientId "c.9~f-_X"
    When the device runs until it has reported its capabilities
    Then every later request carries the clientId "c.9~f-_X" byte for byte (ONB-13)

  @req:ONB-15 @level:MUST @recording:nominal
  Scenario: The device onboards before it reports capabilities
    When the device runs until it has reported its capabilities
    Then the device onboarded successfully before its first capabilities report (ONB-15)

  @req:ONB-15 @level:MUST
  Scenario: A device whose onboarding was refused with 403 reports no capabilities
    Given the WFM refuses onboarding with 403
    When the device runs
    Then the device sends no capabilities report (ONB-15)

  @req:ERR-04 @level:SHOULD @interpretation:Q-H04
  Scenario: A device whose onboarding was refused with 400 does not repeat the same request
    Basis: analogy Q-H04: ERR-04's "retryable: false is not retried" is stated for MIAF; the HTTPSIG text has no retry rules
    Given the WFM refuses onboarding with 400
    When the device runs
    Then the device does not send the refused onboarding request again (ERR-04, advisory)


  @req:GEN-04 @level:MUST @interpretation:Q-23
  Scenario: The device works with a WFM base URL that carries a path prefix
    Given the WFM serves its API under a path prefix
    When the device runs until it has reported its capabilities
    Then the device's requests reached the WFM's API under its base URL (GEN-04)

  @req:GEN-03 @level:MUST
  Scenario: The device works with a WFM on port 443 given a URL without a port
    Given the WFM listens on port 443 and the device is given a URL without a port
    When the device runs until it has reported its capabilities
    Then the device's requests reached the WFM's API under its base URL (GEN-03)
