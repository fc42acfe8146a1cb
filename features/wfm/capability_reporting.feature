Feature: Capability reporting
  The onboarded device reports a DeviceCapabilitiesManifest with
  PUT /api/v1/clients/{clientId}/capabilities/{deviceId} (201 created, 200 updated) and removes it with
  DELETE (204). A see-thru gateway reports itself first, then each child under a hierarchical deviceId.
  A manifest that breaks the schema is refused with 422.

  Background:
    Given the device knows the WFM root CA
    And the device is onboarded

  @req:CAP-04 @req:CAP-05 @level:MUST
  Scenario: The first report creates the document and the second updates it
    When the device reports its capabilities with a correctly signed request
    Then the WFM answers 201 (CAP-05)
    When the device reports its capabilities with a correctly signed request
    Then the WFM answers 200 (CAP-05)

  @req:CAP-06 @level:MUST
  Scenario: A reported device can be deleted once
    Given the device has reported its capabilities with a correctly signed request
    When the device deletes its capabilities
    Then the WFM answers 204 (CAP-06)
    When the device deletes its capabilities
    Then the WFM answers 404 (CAP-06)

  @req:CAP-07 @req:CAP-14 @level:MUST
  Scenario Outline: A manifest that breaks the schema is refused (<sample>)
    When the device reports the sample manifest "<sample>"
    Then the WFM answers 422 (<requirement>)
    And the error body is problem details or an error object (ERR-01)

    Examples:
      | sample                                | requirement |
      | invalid-kind-enum                     | CAP-08      |
      | invalid-architecture-enum             | CAP-14      |
      | invalid-peripheral-type-enum          | CAP-14      |
      | invalid-interface-type-enum           | CAP-14      |
      | invalid-supported-runtimes-enum       | CAP-14      |
      | invalid-supported-deployment-types-enum | CAP-14    |
      | missing-apiVersion                    | CAP-08      |
      | missing-kind                          | CAP-08      |
      | missing-properties                    | CAP-08      |
      | missing-properties-vendor             | CAP-09      |
      | missing-properties-modelNumber        | CAP-09      |
      | missing-properties-serialNumber       | CAP-09      |
      | missing-cpus-cores                    | CAP-15      |
      | empty-supported-runtimes              | CAP-11      |
      | otel-collector-not-boolean            | CAP-11      |

  @req:CAP-08 @level:SHOULD
  Scenario: An unknown root member is refused
    When the device reports the sample manifest "unknown-root-member"
    Then the WFM answers 422 (CAP-08, advisory)

  @req:CAP-13 @level:MUST
  Scenario: A see-thru gateway reports itself and then its child
    When the device reports the gateway manifest
    Then the WFM answers 201 (CAP-13)
    When the device reports the child manifest of that gateway
    Then the WFM answers 201 (CAP-13)

  @req:CAP-13 @level:MUST
  Scenario: A child reported before its gateway is refused with 404
    When the device reports the child manifest of that gateway
    Then the WFM answers 404 (CAP-13)

  @req:CAP-20 @level:SHOULD @interpretation:Q-18
  Scenario: properties.id that differs from the path deviceId is refused
    When the device reports a manifest whose properties.id differs from the path deviceId
    Then the WFM answers 422 (CAP-20, advisory)

  @req:CAP-17 @level:MUST
  Scenario: An unknown specification extension is ignored
    When the device reports the sample manifest "valid-with-extension"
    Then the WFM answers 201 (CAP-17)

  @req:ERR-01 @req:ERR-02 @level:SHOULD @interpretation:Q-27
  Scenario: Error bodies are problem details with a Margo problem type
    When the device reports its capabilities with the request fault "wrong-key"
    Then the error body is problem details or an error object (ERR-01)
    And the problem type is the Margo type for the status (ERR-02, advisory)
