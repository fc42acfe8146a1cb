@profile:miaf-rc3
Feature: MIAF device: retries only as the problem body and Retry-After allow; problem types are opaque
  Each scenario launches the device against a WFM that answers its first capabilities report(s) with an injected
  problem. Delays are short so a run stays short: Retry-After 1-2 s where the digest's MRTY-06 uses 10 s, with the
  digest's 100 ms measurement tolerance; the resend window of MRTY-07 is 3 s where Q-46 says max(60 s, twice the
  polling interval). The vendor problem type of the 422 points at the harness's loopback sink, which must see no
  fetch (MERR-07).

  @req:MRTY-06 @req:MRTY-05 @level:MUST
  Scenario Outline: The device waits out Retry-After, the header winning over retryAfterSeconds, after a <status>
    Given the WFM answers the first capabilities report with <status>, Retry-After 2 and retryAfterSeconds 1
    When the device runs against the simulated MIAF WFM
    Then the retry came no sooner than the Retry-After header's 2 s (MRTY-06, MRTY-05)

    Examples:
      | status |
      | 503    |
      | 429    |

  @req:MRTY-08 @level:MUST @interpretation:Q-45
  Scenario: Retries of repeated 503 answers follow exponential backoff
    Given the WFM answers the first 3 capabilities reports with 503, Retry-After 1 and backoffStrategy exponential
    When the device runs against the simulated MIAF WFM
    Then the 3 retries followed exponential backoff from 1 s (MRTY-08)

  @req:MRTY-07 @req:MERR-07 @level:MUST @interpretation:Q-46
  Scenario: A 422 with retryable false is not resent, and its vendor problem type is never fetched
    Given the WFM refuses the first capabilities report with 422, retryable false and a vendor problem type
    When the device runs against the simulated MIAF WFM
    Then the refused report was not sent again (MRTY-07)
    And the problem type URI was never fetched and the device kept running (MERR-07)
