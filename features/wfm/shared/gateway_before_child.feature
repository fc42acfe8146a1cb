Feature: A see-thru gateway reports itself before any child, under every profile
  Written once for every profile (no @profile tag) and bound per profile through the rule
  "gateway-before-child" (profiles/<name>/profile.yaml, rules): its requirement rows (httpsig: CAP-13;
  miaf-rc3: MCAP-08), its status (404, stated by the text, so judged on the must axis) and its problem type
  (miaf-rc3: gateway-not-found; httpsig states none). "My client" is the run profile's client: an onboarded,
  signing simulated device (authenticator httpsig) or the SVID client C-OK (mtls-svid). Device ids are unique to
  the scenario, so no earlier scenario's gateway can be the parent.

  @rule:gateway-before-child @level:MUST
  Scenario: A child reported before its gateway is refused, and accepted after it
    When my client reports the device "gw/child"
    Then the WFM answers as the rule "gateway-before-child" binds it
    Given my client has reported the gateway "gw"
    When my client reports the device "gw/child"
    Then the WFM serves it as the rule "gateway-before-child" binds it
