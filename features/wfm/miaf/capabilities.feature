@profile:miaf-rc3
Feature: MIAF capability reporting
  A client reports a device with PUT /api/v1/capabilities/{deviceId} (201 created, 200 updated: a whole-document
  replace) and removes it with DELETE (204, then 404 device-not-found). A see-thru gateway reports itself before
  any child (404 gateway-not-found otherwise). Every error is RFC 9457 problem+json with the registered type and
  retry members that say "do not retry". Device ids are unique to each scenario.

  @req:MCAP-05 @req:MCAP-03 @level:MUST
  Scenario: The first report creates the document and later ones update it
    When the client C-OK reports the device "cap"
    Then the WFM serves it (MCAP-03)
    And the answer is 201 (MCAP-05)
    When the client C-OK reports the device "cap" again
    Then the answer is 200 (MCAP-05)
    When the client C-OK reports the device "cap" with the body "changed"
    Then the answer is 200 (MCAP-05)

  @req:MCAP-10 @req:MERR-01 @req:MERR-02 @req:MERR-04 @req:MRTY-04 @level:MUST @interpretation:Q-66
  Scenario: A reported device can be deleted once, and a device never reported cannot
    Given the client C-OK has reported the device "del"
    When the client C-OK deletes the device "del"
    Then the WFM answers 204 with an empty body (MCAP-10)
    When the client C-OK deletes the device "del"
    Then the WFM answers 404 with a problem of type "device-not-found" (MCAP-10)
    When the client C-OK deletes the device "never"
    Then the WFM answers 404 with a problem of type "device-not-found" (MCAP-10)

  @req:MCAP-08 @req:MERR-04 @req:MRTY-04 @level:MUST @interpretation:Q-47
  Scenario: A child reported before its gateway is refused, and accepted after it
    When the client C-OK reports the device "gw/child"
    Then the WFM answers as the rule "gateway-before-child" binds it
    Given the client C-OK has reported the device "gw" with the body "gateway"
    When the client C-OK reports the device "gw/child"
    Then the WFM serves it (MCAP-08)

  @req:MCAP-24 @level:MUST
  Scenario: A gateway that hosts nothing reports its identity fields only
    When the client C-OK reports the device "seethru" with the body "gateway"
    Then the WFM serves it (MCAP-24)

  @req:MCAP-27 @level:MUST
  Scenario: An unknown extension at the document root is ignored
    When the client C-OK reports the device "ext" with the body "extension"
    Then the WFM serves it (MCAP-27)

  @level:MUST @interpretation:Q-52
  Scenario Outline: A body the WFM must not accept is refused with a problem (<body>)
    When the client C-OK reports the device "bad" with the body "<body>"
    Then the body is refused, <preferred> preferred by Q-52, with a problem (<requirement>)

    @req:MCAP-06 @req:MERR-04
    Examples: not JSON
      | body     | preferred | requirement |
      | not-json | 400       | MCAP-06     |
      | empty    | 400       | MCAP-06     |

    @req:MCAP-09 @req:MCAP-16 @req:MCAP-18 @req:MCAP-19 @req:MERR-04 @req:MERR-08
    Examples: enum and array rules
      | body                | preferred | requirement       |
      | architecture-x86_64 | 422       | MCAP-09, MCAP-16  |
      | peripheral-type-GPU | 422       | MCAP-09, MCAP-18  |
      | runtimes-empty      | 422       | MCAP-09, MCAP-19  |

    @req:MCAP-13 @req:MERR-04
    Examples: the required identity fields
      | body                 | preferred | requirement |
      | missing-id           | 422       | MCAP-13     |
      | missing-vendor       | 422       | MCAP-13     |
      | missing-modelNumber  | 422       | MCAP-13     |
      | missing-serialNumber | 422       | MCAP-13     |

  @req:MCAP-12 @level:SHOULD @interpretation:Q-52
  Scenario: A root member the schema does not allow is refused
    When the client C-OK reports the device "root" with the body "root-member-foo"
    Then the body is refused, 422 preferred by Q-52, or accepted with a warning (MCAP-12)

  @req:MCAP-04 @level:MUST
  Scenario: A deviceId outside the DeviceId pattern is refused
    When the client C-OK reports a device whose id has a space in it
    Then the invalid deviceId is refused with 400 or 404, and which is recorded (MCAP-04)

  @req:MCAP-03 @req:MERR-05 @level:MUST
  Scenario: There is no POST on the capabilities route, and the error names no Margo type that does not apply
    When the client C-OK posts to the capabilities route of the device "post"
    Then the POST is not served, and its problem type is about:blank or the vendor's own (MCAP-03, MERR-05)

  @req:MCAP-20 @level:MAY @interpretation:Q-50
  Scenario: An unknown deployment type is mapped to custom or refused as a schema violation, and which is recorded
    When the client C-OK reports the device "wasm" with the body "deployment-type-wasm"
    Then the answer to the unknown deployment type is 200, 201 or 422 (MCAP-20)
