Feature: A client's records are its own, under every profile
  Written once for every profile (no @profile tag) and bound per profile through the rule "route-scoping"
  (profiles/<name>/profile.yaml, rules), one case per answer: the rows each verdict is bound to, the status the
  text states (judged on the must axis) and the problem type. "My client" and "another client" are two clients
  of the run profile: two onboarded, signing simulated devices with their own clientIds (httpsig: records live
  under the clientId of the path, so another client's request names its own, empty scope) or the SVID clients
  C-OK and C-OK2 (mtls-svid: the caller is the client SPIFFE ID of the connection). Another client's DELETE of
  my device finds nothing (httpsig: CAP-06; miaf-rc3: MID-08, device-not-found), nor does its child of my
  device find a gateway (httpsig: CAP-06, CAP-13; miaf-rc3: MID-08, MCAP-08, gateway-not-found); my own DELETE
  then still finds my record once (httpsig: CAP-06, DIG-05; miaf-rc3: MID-08, MCAP-10) and not twice (CAP-06;
  MCAP-10). Ownership is read through the owner's own DELETE, so a WFM that answers 200 to a creation fails
  only its own scenario (CAP-05, MCAP-05).

  @rule:route-scoping @level:MUST
  Scenario: Another client neither deletes nor builds on my device, and I delete it once
    Given my client has reported the device "d1"
    When another client deletes the device "d1"
    Then the WFM answers as the rule "route-scoping" binds the case "another-clients-delete"
    When another client reports the device "d1/child"
    Then the WFM answers as the rule "route-scoping" binds the case "another-clients-child"
    When my client deletes the device "d1"
    Then the WFM answers as the rule "route-scoping" binds the case "owners-delete"
    When my client deletes the device "d1"
    Then the WFM answers as the rule "route-scoping" binds the case "owners-second-delete"
