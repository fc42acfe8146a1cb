@profile:miaf-rc3
Feature: MIAF device: capabilities reported first, on the MIAF route, as schema-valid rc.3 manifests, kept current
  The scenarios tagged @recording:nominal judge one shared nominal run of the device (one launch, its first
  capabilities report accepted): a defect in it fails every scenario below that judges the same fact. The gateway
  and the labels-change scenarios launch the device on their own.

  @req:MCAP-01 @level:MUST @interpretation:Q-62 @recording:nominal
  Scenario: The first MI request of a fresh device is its capabilities PUT
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then the first MI request is the capabilities PUT (MCAP-01)

  @req:MCAP-03 @req:MCAP-04 @req:MGEN-07 @level:MUST @recording:nominal
  Scenario: The device uses only PUT and DELETE on /api/v1/capabilities/{deviceId}, with JSON bodies
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then only the MIAF capability routes are used, with PUT or DELETE (MCAP-03)
    And every deviceId matches the DeviceId pattern (MCAP-04)
    And every capabilities PUT is labelled application/json (MGEN-07)

  @req:MCAP-12 @req:MCAP-13 @req:MCAP-18 @req:MCAP-19 @req:MCAP-22 @level:MUST @interpretation:Q-53 @recording:nominal
  Scenario: Every manifest is valid against the rc.3 capabilities schema
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then every manifest matches the rc.3 capabilities schema (MCAP-12, MCAP-13, MCAP-18, MCAP-19, MCAP-22)

  @req:MCAP-14 @req:MCAP-15 @req:MCAP-21 @req:MCAP-27 @level:MUST @recording:nominal
  Scenario: The manifest's id, hosting fields, labels and extensions follow device-capabilities.md
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then every manifest's properties.id equals the path deviceId (MCAP-14)
    And a hosting device reports every hosting field, otelCollector true (MCAP-15)
    And custom runtimes or deployment types come with labels (MCAP-21)
    And extensions sit at the document root, named x-<name>-extensions (MCAP-27)

  @req:MCAP-17 @level:IMPL @interpretation:Q-19 @recording:nominal
  Scenario: Memory and storage use binary units
    Given the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN
    When the device runs until it has reported its capabilities over mutual TLS
    Then memory and storage use binary units without a space (MCAP-17, advisory)

  @req:MCAP-08 @req:MCAP-23 @level:MUST
  Scenario: A see-thru gateway reports itself, identity fields only, before each child
    Given the device runs as a see-thru gateway with children
    When the device runs until it has reported its capabilities over mutual TLS
    Then each child was reported after its gateway (MCAP-08)
    And the non-hosting gateway reported identity fields only, its children full manifests (MCAP-23)

  @req:MCAP-02 @level:MUST
  Scenario: A changed capability is reported again
    Given the device's labels change after its first accepted report
    When the device runs against the simulated MIAF WFM
    Then the device reported its changed labels (MCAP-02)
