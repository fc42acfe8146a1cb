@profile:httpsig-2026h1
Feature: Onboarding a device client
  The device sends its X.509 certificate in a signed POST /api/v1/onboarding; the WFM verifies the
  signature with the key of that certificate, decides whether to trust it and assigns a unique,
  URL-safe clientId (201). Every malformed request is refused with 400, an untrusted one with 403.

  Background:
    Given the device knows the WFM root CA

  @req:ONB-01 @req:ONB-06 @req:ONB-07 @req:ONB-11 @level:MUST
  Scenario: A correctly signed onboarding request creates a client
    Given the device has a new client certificate
    When the device onboards with a correctly signed request
    Then the WFM answers 201 (ONB-07, ONB-01, ONB-06)
    And the response is JSON of type "onboarding-response" (ONB-07)
    And the clientId is URL-safe (ONB-11)
    And the clientId format is reported (ONB-12, informational)

  @req:ONB-11 @level:MUST
  Scenario: Two certificates get two different clientIds, even with the same subject
    Given the device has a new client certificate
    And the device onboards with a correctly signed request
    And a second device with another certificate for the same subject onboards
    Then the two clientIds differ (ONB-11)

  @req:ONB-02 @level:MUST @interpretation:Q-15
  Scenario Outline: An onboarding request without <member> is refused
    Given the device has a new client certificate
    When the device onboards with a signed request whose body lacks "<member>"
    Then the WFM refuses the request as malformed (ONB-02)

    Examples:
      | member      |
      | apiVersion  |
      | kind        |
      | certificate |

  @level:MUST @interpretation:Q-15
  Scenario Outline: An onboarding request with a wrong <member> is refused
    Given the device has a new client certificate
    When the device onboards with a signed request whose "<member>" is <value>
    Then the WFM refuses the request as malformed (<requirement>)

    @req:ONB-03
    Examples: a kind other than OnboardingRequest
      | member | value               | requirement |
      | kind   | "Onboarding"        | ONB-03      |
      | kind   | "onboardingrequest" | ONB-03      |

    @req:ONB-02
    Examples: a member of the wrong type
      | member      | value | requirement |
      | certificate | 42    | ONB-02      |
      | apiVersion  | null  | ONB-02      |

  @req:ONB-08 @level:MUST
  Scenario Outline: A certificate value that is not a certificate is refused (<variant>)
    Given the device has a new client certificate
    When the device onboards with the certificate value replaced by <variant>
    Then the WFM answers 400 (ONB-08)

    Examples:
      | variant             |
      | not-base64          |
      | base64-random-bytes |
      | truncated-der       |
      | pem-private-key     |
      | csr                 |
      | empty               |

  @req:CERT-09 @level:SHOULD
  Scenario Outline: A certificate that breaks RFC 5280 is refused (<defect>)
    Given the device has a client certificate with the defect "<defect>"
    When the device onboards with a correctly signed request
    Then the WFM answers 400 (CERT-09, advisory)

    Examples:
      | defect             |
      | negative-serial    |
      | v1-with-extensions |

  @req:ONB-08 @level:MUST @interpretation:Q-16
  Scenario: An expired client certificate is refused
    Given the device has a client certificate with the defect "expired"
    When the device onboards with a correctly signed request
    Then the WFM refuses the expired certificate (ONB-08)

  @req:ONB-09 @req:CERT-12 @level:MUST
  Scenario: A certificate from an issuer the WFM does not trust is refused with 403
    Given the operator has told the WFM to trust the device manufacturer's CA
    And the device has a client certificate from an unrelated CA
    When the device onboards with a correctly signed request
    Then the WFM answers 403 (ONB-09, CERT-12)

  @req:ONB-09 @req:ONB-10 @level:MUST @interpretation:Q-12
  Scenario: The operator rejects an onboarding request held for a decision
    Basis: text: ONB-10 the WFM MAY wait for a human to approve, and ONB-09 403 when the operator rejects the client
    Given the WFM holds onboarding requests of unknown issuers for an operator decision
    And the device has a client certificate from an unrelated CA
    When the device onboards while the operator rejects the held request
    Then the WFM answers 403 (ONB-09, ONB-10)

  @req:ONB-07 @req:ONB-10 @level:MUST @interpretation:Q-12
  Scenario: The operator approves an onboarding request held for a decision
    Basis: text: ONB-10 the WFM MAY wait for a human to approve, and ONB-07 201 with a clientId once it is trusted
    Given the WFM holds onboarding requests of unknown issuers for an operator decision
    And the device has a client certificate from an unrelated CA
    When the device onboards while the operator approves the held request
    Then the WFM answers 201 (ONB-07, ONB-10)

  # Unsigned, wrongly signed, stale and digest-faulty onboarding requests: protected_routes.feature.

  @level:MAY @interpretation:Q-09
  Scenario: A certificate sent as base64 of its PEM text is reported
    Given the device has a new client certificate
    When the device onboards with the certificate encoded as "base64-pem"
    Then the WFM's answer to a base64 PEM certificate is reported (ONB-05, informational)

  @req:ONB-11 @level:MUST @interpretation:Q-13
  Scenario: Re-onboarding the same certificate does not create a second identity
    Given the device has a new client certificate
    And the device onboards with a correctly signed request
    When the device onboards again with the same certificate
    Then the WFM keeps one identity for the certificate (ONB-11)

  @req:ONB-02 @req:ERR-01 @level:MUST @interpretation:Q-15
  Scenario: An onboarding request whose body is not JSON is refused as malformed
    When the device onboards with a signed body that is not JSON
    Then the WFM refuses it with an error document, 400 preferred by Q-15 (ONB-02, ERR-01)
