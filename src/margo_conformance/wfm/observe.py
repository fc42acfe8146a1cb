"""The simulated-WFM side: what a device did (ObservationLog) and what the WFM does to it (FaultPlan).

The device-role steps read the log instead of sleeping: ``log.wait_for(predicate, timeout)`` returns the first
matching observation (arrival order) or raises ``SutTimeout`` naming what did arrive. Every HTTP exchange is
an ``Observation`` (an ``evidence.Exchange``) with the request as received (method, raw target, header names
in their original case, body bytes), the response sent (or none, for a dropped one), the TLS facts of the
connection, the signature base rebuilt by the verifier and the ``diagnose`` findings under MARGO_POLICY
(even when the request was accepted). A TLS handshake that fails (a device refusing our certificate) is an
observation of kind ``tls-failure`` with ``tls.error`` holding the alert: evidence, not an error (the MIAF
device role also records each completed handshake, kind ``tls-handshake``). Bytes that
are not HTTP at all are an observation of kind ``protocol-error``.

Private keys never enter an observation: the WFM never holds a device's key, and text renderings go through
``evidence.redact``.

Faults are rules consumed in the order they were added; each matches a route (``certificate``,
``onboarding``, ``capabilities`` or any) and has a count (None: until cleared). Response faults:

- ``unavailable``: 503 with ``Retry-After`` (request not processed)
- ``reject_onboarding`` / ``fail_onboarding``: 403 certificate-not-trusted / 400 invalid-request (not processed)
- ``delay``: wait N seconds, then process and answer normally
- ``drop``: process, then close the connection without answering
- ``close_mid_response``: process, send the status line, headers and half of the body, then close
- ``respond``: any canned status, body and headers (not processed), e.g. an unknown problem type (ERR-05)

and one id fault: ``assign_client_id(value)``: the next new client gets ``value`` (ONB-13's ``c.9~f-_X``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import SutTimeout
from ..evidence import Exchange
from ..findings import Finding

ObservationKind = Literal["http", "tls-failure", "protocol-error", "tls-handshake"]
Route = Literal["certificate", "onboarding", "capabilities"]
FaultAction = Literal["unavailable", "reject-onboarding", "fail-onboarding", "delay", "drop", "close-mid-response",
                      "respond"]


@dataclass
class Observation(Exchange):
    """One thing a device did to the simulated WFM, in arrival order (``seq`` from 1)."""

    seq: int = 0
    kind: ObservationKind = "http"
    #: certificate | onboarding | capabilities | None (unknown route)
    route: str | None = None
    #: The check that produced an error response (as in X-Margo-Check); None when accepted.
    check: str | None = None
    client_id: str | None = None
    device_id: str | None = None
    connection_id: int | None = None
    peer: str | None = None
    #: Name of the fault the WFM injected into this exchange, if any.
    fault: str | None = None
    #: Findings about the certificate a device submitted at onboarding (decode notes, RFC 5280 lint).
    certificate_findings: list[Finding] = field(default_factory=list)
    #: describe_certificate() of the submitted certificate (onboarding), for evidence.
    certificate: dict[str, str] | None = None
    #: The full strict diagnosis (MARGO_POLICY); ``findings`` holds its findings.
    verification: Any = None
    #: accept_faulty: the refusals a strict WFM would have answered, in check order
    #: ({"check", "status", "type", "detail"}); the device got a success instead.
    waived: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def signed(self) -> bool:
        return self.request.header("signature") is not None or self.request.header("signature-input") is not None

    def finding_codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """Exchange.to_dict plus what the simulated WFM knows (JSON-safe, bodies as cut text)."""
        data = super().to_dict()
        data.update(seq=self.seq, kind=self.kind, route=self.route, check=self.check, client_id=self.client_id,
                    device_id=self.device_id, connection_id=self.connection_id, peer=self.peer, fault=self.fault,
                    certificate=self.certificate, waived=list(self.waived),
                    certificate_findings=[f.to_dict() for f in self.certificate_findings])
        return data

    def summary(self) -> str:
        if self.kind == "tls-handshake" and self.tls is not None:
            return f"#{self.seq} tls-handshake: {self.tls.version}, ALPN {self.tls.alpn or 'none'}; {self.note}"
        if self.kind != "http":
            return f"#{self.seq} {self.kind}: {self.error or (self.tls.error if self.tls else '')}"
        status = "no response" if self.response is None else str(self.response.status)
        extra = f" [{self.check}]" if self.check else ""
        fault = f" fault={self.fault}" if self.fault else ""
        return f"#{self.seq} {self.request.method} {self.request.target} -> {status}{extra}{fault}"


class ObservationLog:
    """Every observation in arrival order; thread-safe; waitable."""

    def __init__(self) -> None:
        self._items: list[Observation] = []
        self._cond = threading.Condition()

    def record(self, observation: Observation) -> Observation:
        with self._cond:
            observation.seq = len(self._items) + 1
            self._items.append(observation)
            self._cond.notify_all()
        return observation

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[Observation]:
        return iter(self.all())

    def all(self) -> list[Observation]:
        with self._cond:
            return list(self._items)

    def mark(self) -> int:
        """A position to pass as ``since``: only later observations are considered."""
        return len(self)

    def since(self, mark: int) -> list[Observation]:
        with self._cond:
            return self._items[mark:]

    def http(self, route: str | None = None, *, since: int = 0) -> list[Observation]:
        """HTTP exchanges (optionally of one route) in arrival order."""
        return [o for o in self.since(since) if o.kind == "http" and (route is None or o.route == route)]

    def handshake_failures(self, *, since: int = 0) -> list[Observation]:
        return [o for o in self.since(since) if o.kind == "tls-failure"]

    def clear(self) -> None:
        """Forget everything (sequence numbers restart): between scenarios sharing one server."""
        with self._cond:
            self._items.clear()

    def wait_for(self, predicate: Callable[[Observation], bool], timeout: float, *, since: int = 0,
                 what: str = "a matching request") -> Observation:
        """The first observation at or after ``since`` that satisfies ``predicate``; waits up to ``timeout``
        seconds for it. Raises SutTimeout (the device did not do it) listing what it did do."""
        deadline = time.monotonic() + timeout
        checked = since
        with self._cond:
            while True:
                for item in self._items[checked:]:
                    if predicate(item):
                        return item
                checked = max(checked, len(self._items))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "; ".join(o.summary() for o in self._items[since:][-10:]) or "nothing"
                    raise SutTimeout(f"waited {timeout:g} s for {what}; the device sent: {seen}")
                self._cond.wait(remaining)

    def wait_for_request(self, route: str, timeout: float, *, method: str | None = None,
                         since: int = 0) -> Observation:
        """Shorthand: the next HTTP exchange on ``route`` (and ``method``)."""
        return self.wait_for(
            lambda o: o.kind == "http" and o.route == route and (method is None or o.method == method),
            timeout, since=since, what=f"a {method or ''} request to the {route} route".replace("  ", " "))


@dataclass
class FaultRule:
    action: FaultAction
    route: str | None = None
    #: How many more requests it applies to; None: until cleared.
    remaining: int | None = 1
    retry_after: int | None = None
    seconds: float = 0.0
    #: For "respond": the canned answer.
    status: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def matches(self, route: str | None) -> bool:
        return self.route is None or self.route == route


class FaultPlan:
    """Per-scenario behaviour of the simulated WFM; methods are safe to call from the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._client_ids: list[str] = []

    # ---- scenario-facing
    def unavailable(self, retry_after: int = 5, *, count: int | None = 1, route: Route | None = None) -> None:
        """Answer 503 with ``Retry-After: retry_after`` to the next ``count`` requests (ERR-04)."""
        self._add(FaultRule("unavailable", route, count, retry_after=retry_after))

    def reject_onboarding(self, *, count: int | None = 1) -> None:
        """Answer onboarding with 403 certificate-not-trusted (ONB-09)."""
        self._add(FaultRule("reject-onboarding", "onboarding", count))

    def fail_onboarding(self, *, count: int | None = 1) -> None:
        """Answer onboarding with 400 invalid-request."""
        self._add(FaultRule("fail-onboarding", "onboarding", count))

    def delay(self, seconds: float, *, count: int | None = 1, route: Route | None = None) -> None:
        self._add(FaultRule("delay", route, count, seconds=seconds))

    def drop(self, *, count: int | None = 1, route: Route | None = None) -> None:
        """Process the request, then close the connection without answering."""
        self._add(FaultRule("drop", route, count))

    def close_mid_response(self, *, count: int | None = 1, route: Route | None = None) -> None:
        """Process the request, send the head and half the body, then close the connection."""
        self._add(FaultRule("close-mid-response", route, count))

    def respond(self, status: int, body: bytes | str | dict[str, Any] = b"", *,
                headers: dict[str, str] | None = None, count: int | None = 1, route: Route | None = None) -> None:
        """Answer the next ``count`` requests with exactly this (request not processed): e.g. a problem type
        the device cannot know (ERR-05), a 429, a 500. A dict body is sent as JSON; the content type defaults
        to application/problem+json for a dict, text/plain otherwise."""
        import json as _json

        hdrs = dict(headers or {})
        if isinstance(body, dict):
            raw = _json.dumps(body).encode()
            hdrs.setdefault("content-type", "application/problem+json")
        else:
            raw = body.encode() if isinstance(body, str) else bytes(body)
            if raw:
                hdrs.setdefault("content-type", "text/plain; charset=utf-8")
        if not 100 <= status <= 599:
            raise ValueError(f"status {status} is not an HTTP status code")
        self._add(FaultRule("respond", route, count, status=status, body=raw,
                            headers=tuple((k.lower(), v) for k, v in hdrs.items())))

    def assign_client_id(self, client_id: str, *, count: int = 1) -> None:
        """The next ``count`` new clients get ``client_id`` (ONB-13: e.g. ``c.9~f-_X``)."""
        with self._lock:
            self._client_ids.extend([client_id] * count)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._client_ids.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    # ---- server-facing
    def _add(self, rule: FaultRule) -> None:
        if rule.remaining is not None and rule.remaining <= 0:
            raise ValueError("count must be positive (or None for 'until cleared')")
        with self._lock:
            self._rules.append(rule)

    def take(self, route: str | None) -> FaultRule | None:
        """The first rule matching ``route``, consumed once."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(route):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def take_client_id(self) -> str | None:
        with self._lock:
            return self._client_ids.pop(0) if self._client_ids else None
