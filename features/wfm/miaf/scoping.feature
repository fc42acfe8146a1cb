@profile:miaf-rc3
Feature: MIAF records are scoped to the calling client
  The caller is the client SPIFFE ID of the mutual-TLS connection, never an identifier in the path, query,
  headers or body (MID-07), nor a Client-Cert header the client sends itself (MTLS-09): a record put with such
  decoys is C-OK's, so C-OK deletes it (204). Ownership is read through the owner's own DELETE, not through
  C-OK2's DELETE (the digest's probe) or 201-versus-200 (MCAP-05), so that a WFM that serves cross-client deletes
  fails MID-08 alone and one that answers 200 to a creation fails MCAP-05 alone. Two clients with one deviceId
  hold two records: each deletes its own once (MID-09). A deviceId is looked up among the caller's records only (MID-08), and the same
  deviceId from two clients names two records (MID-09). C-OK and C-OK2 are both on the policy. That another
  client neither deletes nor builds on a client's device is written once for every profile
  (features/wfm/shared/route_scoping.feature, rule "route-scoping").

  @req:MID-09 @level:MUST @interpretation:Q-64
  Scenario: The same deviceId from two clients names two records
    When the client C-OK reports the device "d2"
    Then the WFM serves it (MID-09)
    When the client C-OK2 reports the device "d2"
    Then the WFM serves it (MID-09)
    When the client C-OK deletes the device "d2"
    Then the answer is 204 (MID-09)
    When the client C-OK2 deletes the device "d2"
    Then the answer is 204 (MID-09)
    When the client C-OK2 deletes the device "d2"
    Then the WFM answers 404 with a problem of type "device-not-found" (MID-09)

  @req:MID-07 @level:MUST
  Scenario: The caller comes from the certificate, not from decoys in the request
    When the client C-OK reports the device "d7" with decoys naming client "c2"
    Then the WFM serves it (MID-07)
    When the client C-OK deletes the device "d7"
    Then the answer is 204 (MID-07)

  @req:MTLS-09 @level:MUST
  Scenario: A Client-Cert header from the client does not change who the caller is
    When the client C-OK reports the device "d9" with a Client-Cert header of C-OK2
    Then the WFM serves it (MTLS-09)
    When the client C-OK deletes the device "d9"
    Then the answer is 204 (MTLS-09)
