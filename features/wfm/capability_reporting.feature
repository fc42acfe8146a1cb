@profile:httpsig-2026h1
Feature: Capability reporting
  The onboarded device reports a DeviceCapabilitiesManifest with
  PUT /api/v1/clients/{clientId}/capabilities/{deviceId} (201 created, 200 updated) and removes it with
  DELETE (204). A see-thru gateway reports itself first, then each child under a hierarchical deviceId.
  A manifest that breaks the schema is refused (422 preferred, 400 accepted: Q-H02). The rules every profile
  shares (gateway before child, the required properties and enums, a body that is not JSON, problem bodies,
  deleting once within the client's own scope) are written once in features/wfm/shared/ and bound to this
  profile's rows by profiles/httpsig-2026h1/profile.yaml (rules).

  Background:
    Given the device knows the WFM root CA
    And the device is onboarded

  @req:CAP-04 @req:CAP-05 @level:MUST
  Scenario: The first report creates the document and the second updates it
    When the device reports its capabilities with a correctly signed request
    Then the WFM answers 201 (CAP-05, CAP-04)
    When the device reports its capabilities with a correctly signed request
    Then the WFM answers 200 (CAP-05)

  @level:MUST @interpretation:Q-H02
  Scenario Outline: A manifest that breaks the schema is refused (<sample>)
    When the device reports the sample manifest "<sample>"
    Then the WFM refuses the manifest (<requirement>)
    And the error body is problem details or an error object (ERR-01)

    @req:CAP-08
    Examples: the root members
      | sample                       | requirement |
      | manifest-enum-kind           | CAP-08      |
      | manifest-missing-api-version | CAP-08      |
      | manifest-missing-kind        | CAP-08      |
      | manifest-missing-properties  | CAP-08      |
      | manifest-not-object          | CAP-08      |

    @req:CAP-09
    Examples: the required properties
      | sample                                    | requirement |
      | manifest-vendor-not-string                | CAP-09      |

    @req:CAP-10
    Examples: the deviceId syntax
      | sample                             | requirement |
      | manifest-device-id-space           | CAP-10      |
      | manifest-device-id-double-slash    | CAP-10      |
      | manifest-device-id-at-sign         | CAP-10      |
      | manifest-device-id-trailing-slash  | CAP-10      |
      | manifest-device-id-percent-encoded | CAP-10      |
      | manifest-device-id-empty           | CAP-10      |
      | manifest-device-id-not-string      | CAP-10      |

    @req:CAP-11
    Examples: the hosting fields
      | sample                              | requirement |
      | manifest-empty-deployment-types     | CAP-11      |
      | manifest-otel-collector-not-boolean | CAP-11      |

    @req:CAP-14
    Examples: the enums and member types
      | sample                           | requirement |
      | manifest-enum-interface-type     | CAP-14      |
      | manifest-enum-runtime            | CAP-14      |
      | manifest-enum-deployment-type    | CAP-14      |
      | manifest-missing-peripheral-type | CAP-14      |
      | manifest-missing-interface-type  | CAP-14      |
      | manifest-memory-not-string       | CAP-14      |

    @req:CAP-15
    Examples: the cpus entries
      | sample                        | requirement |
      | manifest-missing-cpu-cores    | CAP-15      |
      | manifest-cpu-cores-not-number | CAP-15      |
      | manifest-cpus-not-array       | CAP-15      |

  @level:SHOULD
  Scenario Outline: A root member the schema does not allow is refused (<sample>)
    When the device reports the sample manifest "<sample>"
    Then the WFM refuses the unknown root member (<requirement>, advisory)

    @req:CAP-08
    Examples: a member that is not an extension
      | sample                       | requirement |
      | manifest-unknown-root-member | CAP-08      |
      | manifest-miaf-labels-at-root | CAP-08      |

    @req:CAP-17
    Examples: an extension named or shaped against the rule
      | sample                            | requirement |
      | manifest-extension-uppercase-name | CAP-17      |
      | manifest-extension-missing-suffix | CAP-17      |
      | manifest-extension-not-object     | CAP-17      |

  @req:CAP-13 @level:MUST
  Scenario: A see-thru gateway reports itself and then its child
    When the device reports the gateway manifest
    Then the WFM accepts the request (CAP-13)
    When the device reports the child manifest of that gateway
    Then the WFM accepts the request (CAP-13)

  @req:CAP-20 @level:SHOULD @interpretation:Q-18
  Scenario: properties.id that differs from the path deviceId is refused
    When the device reports a manifest whose properties.id differs from the path deviceId
    Then the WFM answers 422 (CAP-20, advisory)

  @req:CAP-17 @level:MUST
  Scenario: An unknown specification extension is ignored
    When the device reports the sample manifest "manifest-with-extensions"
    Then the WFM accepts the request (CAP-17)
