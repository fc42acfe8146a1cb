Feature: An error answer is an error document of the profile's registry, under every profile
  Written once for every profile (no @profile tag) and bound per profile through the rule "problem-body"
  (profiles/<name>/profile.yaml, rules) and its case "schema-violation": a manifest without properties.vendor,
  which both registries answer with semantic-error (422). The case names the rows the refusal is bound to
  (httpsig: CAP-09; miaf-rc3: MCAP-13), the status and the type the body should carry. The body is judged as
  the profile family reads it (the client adapter of profile.authenticator): httpsig accepts problem details or
  an {error} object (ERR-01, Q-27) and wants the Margo type that fits the status (ERR-02, SHOULD); mtls-svid
  wants application/problem+json with type, title and status (MERR-01, MERR-02, Q-42), the registered type URI
  (MERR-04, Q-43), retry members that say "do not retry" (MRTY-04) and a 422 that lists its errors (MERR-08).

  @rule:problem-body @level:MUST
  Scenario: A refused manifest is answered with an error document of the registered type
    When my client reports the device "pb" with the body of the case "schema-violation" of the rule "problem-body"
    Then the refusal is an error document as the rule "problem-body" binds the case "schema-violation"
