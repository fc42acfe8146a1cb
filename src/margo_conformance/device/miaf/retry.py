"""What an answer says about sending the request again (MRTY-05..08, Q-45, Q-46), and the gaps between attempts.

- 2xx: done. A problem with ``retryable: false`` or ``backoffStrategy: "none"``, and any other 4xx that does not
  say ``retryable: true``: never resend that request (MRTY-07).
- 429 / 5xx, or ``retryable: true``: wait at least the ``Retry-After`` header (delta-seconds or HTTP-date; the
  header wins over ``retryAfterSeconds``, which is used only without it; 1 s when neither is given) (MRTY-05/06);
- then per ``backoffStrategy``: ``exponential`` doubles the gap each retry starting at the first advised delay,
  never below the current ``Retry-After``; ``fixed`` keeps the advised delay (MRTY-08, Q-45).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...evidence import CapturedResponse
from ..api import retry_after_s
from .defects import Behaviour

TRANSIENT = frozenset({429, 500, 502, 503, 504})
STRATEGIES = frozenset({"none", "fixed", "exponential"})
DEFAULT_DELAY_S = 1.0
#: The gap the ignores-retry-after defect waits, whatever the WFM says.
IMPATIENT_GAP_S = 0.2
#: The gap the retries-non-retryable defect waits before resending a refused request.
RESEND_GAP_S = 0.5


@dataclass(frozen=True)
class Advice:
    retry: bool
    delay_s: float = 0.0  # the earliest the next attempt may start, from the answer
    strategy: str = "none"
    why: str = ""


def advise(response: CapturedResponse, behaviour: Behaviour, *, now: float | None = None) -> Advice:
    """Read one answer: resend or not, how long to wait at least, which backoff."""
    status = response.status
    if 200 <= status < 300:
        return Advice(False, why="done")
    body = response.json() if "json" in (response.header("content-type") or "") else None
    body = body if isinstance(body, dict) else {}
    retryable = body.get("retryable") if isinstance(body.get("retryable"), bool) else None
    strategy = body.get("backoffStrategy") if body.get("backoffStrategy") in STRATEGIES else None
    member = body.get("retryAfterSeconds")
    member_s = float(member) if isinstance(member, int) and not isinstance(member, bool) and member >= 0 else None
    header_s = retry_after_s(response.header("retry-after"), time.time() if now is None else now)
    transient = retryable is True or (retryable is None and status in TRANSIENT)
    if retryable is False or strategy == "none" or not transient:
        if behaviour.retry_non_retryable:
            return Advice(True, RESEND_GAP_S, "fixed", f"{status}: resent although not retryable (defect)")
        return Advice(False, why=f"{status}, not retryable")
    delay = header_s if header_s is not None else member_s if member_s is not None else DEFAULT_DELAY_S
    return Advice(True, delay, strategy or "exponential", f"{status}, retryable")


class Backoff:
    """The gaps of one request's retries."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self._first: float | None = None
        self._retries = 0

    def gap(self, advice: Advice) -> float:
        if not self.behaviour.honour_retry_after:
            return IMPATIENT_GAP_S
        if self._first is None:
            self._first = advice.delay_s
        gap = advice.delay_s
        if advice.strategy == "exponential" and self.behaviour.backoff:
            gap = max(advice.delay_s, self._first * 2 ** self._retries)
        self._retries += 1
        return gap
