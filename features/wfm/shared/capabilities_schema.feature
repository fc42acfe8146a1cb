Feature: A manifest the schema does not allow is refused, under every profile
  Written once for every profile (no @profile tag) and bound per profile. Each Examples row is a case of the
  rule its block is tagged with, "capabilities-schema" or "malformed-body" (profiles/<name>/profile.yaml,
  rules): the case names the requirement rows its verdicts are bound to and the body it sends, which the run
  profile's client builds (httpsig: a sample of fixtures/payloads, with apiVersion and kind; mtls-svid: an rc.3
  manifest, without them). The rule names the status and the problem type; its code is the preferred code of
  its question (status_by_question), so refusing at all is judged on the must axis and the code on the
  question's interpretation axis (httpsig: Q-H02, Q-H05; miaf-rc3: Q-52). The error body is judged as the
  profile family reads it: an error document (ERR-01, Q-27) for httpsig, RFC 9457 problem details with the
  registered type and retry members (MERR-*, MRTY-*) for mtls-svid.

  @level:MUST
  Scenario Outline: A body the schema does not allow is refused (<case>)
    When my client reports the device "bad" with the body of the case "<case>" of the rule "<rule>"
    Then the WFM answers as the rule "<rule>" binds the case "<case>"

    @rule:capabilities-schema
    Examples: the required identity fields
      | rule                | case                  |
      | capabilities-schema | missing-id            |
      | capabilities-schema | missing-vendor        |
      | capabilities-schema | missing-model-number  |
      | capabilities-schema | missing-serial-number |

    @rule:capabilities-schema
    Examples: enums and arrays
      | rule                | case                        |
      | capabilities-schema | architecture-not-in-enum    |
      | capabilities-schema | peripheral-type-not-in-enum |
      | capabilities-schema | runtimes-empty              |

    @rule:malformed-body
    Examples: a body that is not JSON
      | rule           | case     |
      | malformed-body | not-json |
