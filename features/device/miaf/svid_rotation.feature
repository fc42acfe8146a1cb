@profile:miaf-rc3
Feature: MIAF device: a renewed SVID is used from the next connection on
  The harness re-issues the device's SVID mid-run, after its first accepted report: it rewrites {svid_cert},
  {svid_key} and {svid_chain} in place (SUT file svid_rotation = "file") or runs the rotate_svid hook ("hook").
  A client SHOULD reconnect after renewing its own SVID (MTLS-08): the verdict is advisory, and requests still sent
  on a connection authenticated with the old SVID are recorded. This scenario launches the device on its own.

  @req:MTLS-08 @level:SHOULD
  Scenario: After its SVID is renewed the device connects again with the new one
    Given the harness renews the device's SVID after its first accepted report
    When the device runs against the simulated MIAF WFM
    Then the next connection presented the renewed SVID (MTLS-08, advisory)
