@profile:miaf-rc3
Feature: MIAF transient failures say when to come back
  A WFM that cannot serve a request now answers 503 (unavailable) or 429 (too many requests) with a Retry-After
  header and a problem body that says retryable: true and backoffStrategy "exponential" (MRTY-02, MRTY-01), under
  the type about:blank or the vendor's own, because no registered Margo type names these conditions (MERR-05).
  A conformant WFM gives these answers only in such a state, so the operator drives it there: the hooks
  wfm.operator.maintenance_on / maintenance_off for 503, and a declared per-client rate limit ([wfm] rate_limit,
  requests per second) that a burst from one fresh client exceeds for 429. Without them the scenario is NOT
  TESTED, and MRTY-01/02 are still judged on any 429 or 503 another scenario happens to see.

  @req:MRTY-02 @req:MERR-05 @level:MUST
  Scenario: In maintenance the WFM answers 503 with Retry-After and a retryable problem
    Given the operator has put the WFM into maintenance
    When the client C-OK reports the device "mnt"
    Then the answer is 503 (MRTY-02)
    And the problem type is about:blank or the vendor's own (MERR-05)

  @req:MRTY-01 @req:MERR-05 @level:MUST
  Scenario: A client over the declared rate limit gets 429 with Retry-After and a retryable problem
    Given a new client on the policy
    When that client sends capability reports faster than the declared rate limit
    Then the answer is 429 (MRTY-01)
    And the problem type is about:blank or the vendor's own (MERR-05)
