@profile:miaf-rc3
Feature: MIAF capability reporting
  A client reports a device with PUT /api/v1/capabilities/{deviceId} (201 created, 200 updated: a whole-document
  replace) and removes it with DELETE (204, then 404 device-not-found). A see-thru gateway reports itself before
  any child (404 gateway-not-found otherwise). Every error is RFC 9457 problem+json with the registered type and
  retry members that say "do not retry". Device ids are unique to each scenario. Gateway before child, the
  schema and malformed-body rules, problem bodies and deleting once are written once for every profile in
  features/wfm/shared/ and bound to this profile's rows by profiles/miaf-rc3/profile.yaml (rules).

  @req:MCAP-05 @req:MCAP-03 @level:MUST
  Scenario: The first report creates the document and later ones update it
    When the client C-OK reports the device "cap"
    Then the WFM serves it (MCAP-03)
    And the answer is 201 (MCAP-05)
    When the client C-OK reports the device "cap" again
    Then the answer is 200 (MCAP-05)
    When the client C-OK reports the device "cap" with the body "changed"
    Then the answer is 200 (MCAP-05)

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
    Examples: an empty body
      | body  | preferred | requirement |
      | empty | 400       | MCAP-06     |

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
