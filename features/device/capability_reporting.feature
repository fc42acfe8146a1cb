@profile:httpsig-2026h1
Feature: The device reports its capabilities
  The onboarded device reports a DeviceCapabilitiesManifest with
  PUT /api/v1/clients/{clientId}/capabilities/{deviceId}; properties.id equals the path deviceId; a
  hosting device reports every hosting field. A see-thru gateway reports itself (identity only) and then
  each child. When the WFM answers 503 with Retry-After, the device waits at least that long.
  Scenarios tagged @recording:nominal judge one shared recording of a nominal run (onboard, report, sign
  every request), made once per run: a defect in that run fails each of them that judges it.

  Background:
    Given the simulated WFM is running

  @req:CAP-01 @req:CAP-04 @level:MUST @recording:nominal
  Scenario: The device reports its capabilities with PUT after onboarding
    When the device runs until it has reported its capabilities
    Then the device reported its capabilities with PUT on its clientId's capabilities path (CAP-04, CAP-01)

  @req:CAP-08 @req:CAP-09 @req:CAP-10 @req:CAP-14 @req:CAP-15 @req:CAP-17 @level:MUST @recording:nominal
  Scenario: The manifest matches the DeviceCapabilitiesManifest schema
    When the device runs until it has reported its capabilities
    Then every manifest matches the DeviceCapabilitiesManifest schema (CAP-08, CAP-09, CAP-10, CAP-14, CAP-15, CAP-17)

  @req:CAP-20 @level:MUST @interpretation:Q-18 @recording:nominal
  Scenario: properties.id equals the path deviceId
    When the device runs until it has reported its capabilities
    Then every manifest's properties.id equals the path deviceId (CAP-20)

  @req:CAP-11 @req:CAP-21 @level:MUST @recording:nominal
  Scenario: A hosting device reports every hosting field with otelCollector true
    When the device runs until it has reported its capabilities
    Then a hosting device's manifest has every hosting field and otelCollector true (CAP-11, CAP-21)
    And memory and storage use binary units without a space (CAP-16, advisory)

  @req:CAP-12 @req:CAP-13 @level:MUST
  Scenario: A see-thru gateway reports itself first, identity only, then its children
    Given the device runs as a see-thru gateway with children
    When the device runs until it has reported its capabilities
    Then each child was reported after its gateway (CAP-13)
    And the gateway's manifest has only identity fields (CAP-12)

  @req:ERR-04 @level:SHOULD @interpretation:Q-H04
  Scenario: On 503 with Retry-After the device waits before it retries
    Basis: analogy Q-H04: ERR-04's "clients MUST honour Retry-After" is stated for MIAF; the HTTPSIG text has no retry rules
    Given the WFM answers the first capabilities report with 503 and Retry-After 2
    When the device runs until it has reported its capabilities
    Then the device waited at least 2 seconds before retrying (ERR-04, advisory)
