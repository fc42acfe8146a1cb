"""Conformance under load: every answer is expected, allowed by the profile, or a violation.

Pure functions and a tally, no Locust: the workers classify each answer as it arrives and send their tallies
to the master, which merges them; unit tests feed the classifier by hand.

- expected: the answer a conformant WFM gives (201 + ``{"clientId"}`` valid against the onboarding-response
  schema; 200/201 to a capabilities PUT; 200/204 to a DELETE; a 4xx to a request that must fail);
- allowed: an overload answer the profile permits, 429 or 503 *with* ``Retry-After`` (the device waits and
  retries);
- violation: a 5xx (other than 503 with Retry-After), 429/503 without ``Retry-After``, a 2xx for a request
  that must fail, a 4xx for a correct request, an onboarding answer that breaks its schema or lacks the
  clientId, or no answer at all (connection refused or reset, timeout).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import DEFAULT_PROFILE

Klass = Literal["expected", "allowed", "violation"]



def _titles(profile: str = DEFAULT_PROFILE) -> tuple[str, str, str]:
    """The route titles the tally keys on, from the profile's routes (the same words as the route matrix)."""
    from ..profiles import load_profile

    p = load_profile(profile)
    return tuple(p.route(k).title for k in ("onboarding.post", "capabilities.put", "capabilities.delete"))  # type: ignore[return-value]


ONBOARDING, PUT, DELETE = _titles()
ROUTES = (ONBOARDING, PUT, DELETE)
OVERLOAD = (429, 503)


@dataclass(frozen=True)
class Verdict:
    klass: Klass
    reason: str
    retry_after_s: float | None = None


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as delay-seconds (RFC 9110 10.2.3); an HTTP-date counts as present with no delay known."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(int(value.strip())))
    except ValueError:
        return 1.0  # an HTTP-date: present, the device waits a second before it retries


def classify(route: str, *, must_fail: bool, status: int | None, retry_after: str | None = None,
             body: bytes = b"", error: str | None = None, refusal: str | None = None) -> Verdict:
    """``refusal``: the server refused the connection at the TLS layer (mutual-TLS profiles pass the alert, or
    "connection closed"): an answer, expected for a client that must be refused, never silence."""
    if refusal is not None:
        if must_fail:
            return Verdict("expected", f"refused at the TLS layer ({refusal})")
        return Verdict("violation", f"refused a correct client at the TLS layer ({refusal})")
    if status is None:
        return Verdict("violation", f"no answer ({error or 'transport error'})")
    if status in OVERLOAD:
        delay = retry_after_seconds(retry_after)
        if delay is None:
            return Verdict("violation", f"{status} without Retry-After")
        return Verdict("allowed", f"{status} with Retry-After", delay)
    if status >= 500:
        return Verdict("violation", f"server error {status}")
    if must_fail:
        if 200 <= status < 300:
            return Verdict("violation", f"accepted a request that must fail ({status})")
        return Verdict("expected", f"refused ({status})")
    if 400 <= status < 500:
        return Verdict("violation", f"refused a correct request ({status})")
    if route == ONBOARDING:
        return _onboarding_answer(status, body)
    if route == PUT:
        return Verdict("expected", str(status)) if status in (200, 201) else \
            Verdict("violation", f"unexpected status {status} to a capabilities PUT")
    return Verdict("expected", str(status)) if status in (200, 204) else \
        Verdict("violation", f"unexpected status {status} to a capabilities DELETE")


def _onboarding_answer(status: int, body: bytes) -> Verdict:
    if status != 201:
        return Verdict("violation", f"onboarding answered {status}, not 201")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Verdict("violation", "onboarding answer is not JSON")
    from ..schemas import validate

    if validate("onboarding-response", document):
        return Verdict("violation", "onboarding answer breaks its schema")
    if not isinstance(document, dict) or not document.get("clientId"):
        return Verdict("violation", "onboarding answer has no clientId")
    return Verdict("expected", "201 with clientId")


def problem_type(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = document.get("type") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Tally:
    """What one process saw, per route: classes, statuses, problem types, violation reasons (mergeable)."""

    routes: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)

    def _route(self, route: str) -> dict[str, Counter[str]]:
        return self.routes.setdefault(route, {"class": Counter(), "status": Counter(), "problem": Counter(),
                                              "violation": Counter()})

    def add(self, route: str, verdict: Verdict, status: int | str | None, problem: str | None = None) -> None:
        """``status``: the HTTP status, a label such as "TLS refusal (certificate_required)", or None (no answer)."""
        r = self._route(route)
        r["class"][verdict.klass] += 1
        r["status"][str(status) if status is not None else "no answer"] += 1
        if problem:
            r["problem"][problem] += 1
        if verdict.klass == "violation":
            r["violation"][verdict.reason] += 1

    def merge(self, data: dict[str, dict[str, dict[str, int]]]) -> None:
        for route, parts in data.items():
            r = self._route(route)
            for part, counts in parts.items():
                r[part].update(counts)

    def to_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        return {route: {part: dict(c) for part, c in parts.items()} for route, parts in self.routes.items()}

    def take(self) -> dict[str, dict[str, dict[str, int]]]:
        """The counts so far, and start again (what a worker reports to the master every few seconds)."""
        data = self.to_dict()
        self.routes = {}
        return data

    def total(self, klass: Klass | None = None) -> int:
        return sum(sum(r["class"].values()) if klass is None else r["class"][klass] for r in self.routes.values())

    def violation_rate(self) -> float:
        total = self.total()
        return self.total("violation") / total if total else 0.0


def wire_answer(exchange: Any) -> tuple[int | None, str | None, bytes, str | None]:
    """(status, Retry-After, body, transport error) of an ``evidence.Exchange``."""
    if exchange.response is None:
        return None, None, b"", exchange.error
    return exchange.response.status, exchange.response.header("Retry-After"), exchange.response.body, None
