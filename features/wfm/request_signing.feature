@profile:httpsig-2026h1
Feature: Request signing and content digests
  After onboarding, every request of the device is signed with RFC 9421 HTTP Message Signatures over
  "@method", "@target-uri" and "content-digest", with the key of the onboarded certificate, and carries an
  RFC 9530 Content-Digest of its body. The WFM looks the certificate up by the clientId in the URL and
  processes the request only when the digest matches and the signature verifies (DIGEST section 2.7).

  Background:
    Given the device knows the WFM root CA
    And the device is onboarded

  @req:SIG-09 @req:GEN-01 @level:MUST
  Scenario: A correctly signed capabilities report is accepted
    When the device reports its capabilities with a correctly signed request
    Then the WFM accepts the request (SIG-09, GEN-01)

  # Unsigned, incomplete, wrong-key, foreign-key, stale, future, tampered and digest faults, the unknown
  # clientId and the revoked client are judged on every route in protected_routes.feature (generated).

  @req:DIG-03 @level:MUST @interpretation:Q-11
  Scenario: A digest computed over base64 of the body is refused
    When the device reports its capabilities with the request fault "digest-over-base64"
    Then the WFM answers 400 (DIG-03)

  @req:SIG-09 @req:SIG-10 @level:MUST
  Scenario: A signature whose alg does not fit the key is refused
    When the device reports its capabilities with the request fault "alg-mismatch"
    Then the WFM answers 401 (SIG-09, SIG-10)

  @req:SIG-09 @req:SIG-10 @level:MUST @interpretation:Q-06
  Scenario: A DER-encoded ECDSA signature is refused
    When the device reports its capabilities with the request fault "ecdsa-der"
    Then the WFM answers 401 (SIG-09, SIG-10)

  @req:SIG-11 @level:MUST
  Scenario: A signature created a little while ago is accepted
    When the device reports its capabilities with a request signed 30 seconds ago
    Then the WFM accepts the request (SIG-11)

  @req:SIG-07 @level:MUST @interpretation:Q-05
  Scenario Outline: The WFM verifies the Margo algorithm <algorithm>
    Given a device with a <key> key onboards
    When that device reports its capabilities signed with "<algorithm>"
    Then the WFM accepts the request (SIG-07)

    Examples:
      | key     | algorithm         |
      | p256    | ecdsa-p256-sha256 |
      | p384    | ecdsa-p384-sha384 |
      | rsa2048 | rsa-v1_5-sha256   |
      | rsa2048 | rsa-pss-sha256    |

  @level:MAY
  Scenario Outline: Extra algorithm <algorithm> (informational)
    Given a device with a <key> key onboards
    When that device reports its capabilities signed with "<algorithm>"
    Then the WFM's answer to the extra algorithm is reported (SIG-07, informational)

    Examples:
      | key     | algorithm      |
      | ed25519 | ed25519        |
      | rsa2048 | rsa-pss-sha512 |

  @req:SIG-08 @level:MUST @interpretation:Q-02
  Scenario Outline: The keyid value does not matter (<keyid>)
    When the device reports its capabilities with the keyid <keyid>
    Then the WFM accepts the request (SIG-08)

    Examples:
      | keyid             |
      | "device-key"      |
      | the clientId      |
      | "my-rsa-key"      |

  @req:SIG-04 @level:MAY
  Scenario: Any signature label is accepted
    When the device reports its capabilities with the signature label "margo"
    Then the WFM accepts the request (SIG-04)

  @level:MAY @interpretation:Q-25
  Scenario: A replay within the window is reported
    Given the device has reported its capabilities with a correctly signed request
    When the device sends the same signed request again
    Then the WFM's answer to the replay is reported (SIG-11, informational)

  @level:MAY @interpretation:Q-04
  Scenario: A component name written "Content-Digest" is reported
    When the device reports its capabilities with the request fault "uppercase-component"
    Then the WFM's answer to the upper-case component is reported (SIG-02, informational)

  @level:MAY
  Scenario: A capabilities report sent as text/plain is reported
    When the device reports its capabilities with the content type "text/plain"
    Then the WFM's answer to the content type is reported (GEN-06, informational)
