@profile:miaf-rc3
Feature: MIAF accepted-client policy
  A valid client SVID is necessary but not sufficient: the WFM authorizes each request by its local policy keyed
  on the client SPIFFE ID (MID-11). A client the policy does not hold is denied, preferably with 403 and the
  registered not-authorized problem (Q-41 b). When the operator retires a client, its next request, even on a
  kept-alive connection, should be denied (MID-12, MTLS-08: both SHOULD in the digest, so a WFM that keeps
  serving a retired client gets an advisory, and fails only with --strict).

  @req:MID-11 @req:MCAP-07 @req:MERR-10 @level:MUST @interpretation:Q-41 @interpretation:Q-65
  Scenario: A valid client SVID that the policy does not hold is denied
    Given the operator keeps an allow-list of clients
    When the client C-NOPOL reports the device "nopol"
    Then the request is denied by the accepted-client policy (MID-11, MCAP-07)
    And no record was made for the device "nopol" under C-OK (MID-11)

  @req:MID-12 @req:MTLS-08 @level:SHOULD @interpretation:Q-41 @interpretation:Q-61
  Scenario: A retired client is denied on its next request, even on a kept-alive connection
    Basis: text: MID-12 "MAY deny a request from a still-valid credential (a retired relationship) and SHOULD answer 403"; MTLS-08 "SHOULD re-evaluate authorization on every request"
    Given a new client on the policy has reported the device "ret"
    When the operator retires that client
    And that client reports the device "ret" again on the same connection
    Then the request is denied by the accepted-client policy (MID-12, MTLS-08)
    When that client deletes the device "ret" on a new connection
    Then the request is denied by the accepted-client policy (MID-12)
