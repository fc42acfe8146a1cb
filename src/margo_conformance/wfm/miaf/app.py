"""The MIAF WFM's ASGI application: who calls (from the TLS connection), which route, the policy, the capability
record; every error an RFC 9457 problem with the profile's registered type and retry members.

Order of the checks for one request (each names itself in ``X-Margo-Check`` and the audit log):

1. ``svid``: the connection's client leaf is recognised once (``identity.recognise``). A leaf that is not a
   client SVID of this WFM (shape, trust domain, leaf constraints, Q-57 keys) gets **403** ``not-authorized`` with
   ``Connection: close`` before the body is read: no side effect, and no second request on that connection.
   Chain failures (no certificate, unknown anchor, expired, leaf-only) never get here: OpenSSL refuses the
   handshake (a TLS alert). Q-41 (a) accepts both layers; HTTP 403 is chosen for what Python's ``ssl`` cannot
   check in the handshake because the client then learns why (``detail``) and the check is visible.
2. ``route``: the profile's routes (``capabilities.put`` / ``capabilities.delete``); another method on that path
   is 405 with ``Allow``, any other path 404, both ``about:blank`` (MERR-05).
3. ``policy``: allow-list (or namespace mode, Q-65), read on every request: not listed or retired → 403
   ``not-authorized`` (MID-11, MID-12, Q-41 b). Then the transient states: ``maintenance`` (the operator's
   maintenance mode, 503) and ``rate-limit`` (more requests from this client in the last second than the declared
   limit, 429), both ``about:blank`` with ``Retry-After`` and ``retryable: true``, ``exponential`` (MRTY-01/02).
4. ``device-id``: the deviceId (raw '/' routes; ``%2F`` is decoded, Q-47) must match the DeviceId pattern
   (MCAP-04) → else 400 ``invalid-request``.
5. PUT: ``body`` (empty or not JSON → 400 ``invalid-request``), ``schema`` (422 ``semantic-error`` with ``errors[]``),
   ``semantics`` (Q-52: 422), ``gateway`` (a child's top-level gateway reported by this caller, else 404
   ``gateway-not-found``, MCAP-08), then the record: 201 created / 200 replaced (MCAP-05).
   DELETE: 204 empty, or 404 ``device-not-found`` (MCAP-10).

The caller is the SPIFFE ID of the certificate only (MID-07); headers, query and body are never read for it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from ...profiles import Profile
from ..manifests import ManifestJudge
from ..observe import FaultPlan
from ..transport import CONNECTION_EXTENSION, ConnectionInfo
from . import defects as D
from .identity import ANONYMOUS, Caller, recognise
from .manifest import semantic_errors
from .store import MiafStore

log = logging.getLogger("margo_conformance.wfm.miaf")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CHECK_HEADER = "x-margo-check"
PROBLEM_MEDIA = "application/problem+json"
MAX_BODY_BYTES = 1024 * 1024
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")  # MCAP-04, Y3 DeviceId
_TITLES = {"invalid-request": "Invalid Request", "semantic-error": "Semantic Error",
           "not-authorized": "Not Authorized", "gateway-not-found": "Gateway Not Found",
           "device-not-found": "Device Not Found"}
_CALLER_ATTR = "miaf_caller"


@dataclass
class Exchange:
    """One request as the WFM handled it: what an observer (the simulated WFM of issue 20) is handed."""

    method: str
    target: str
    caller: str | None
    status: int | None = None
    check: str | None = None
    problem_type: str | None = None
    connection_id: int | None = None
    peer: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    started_at: float = field(default_factory=time.time)
    fault: str | None = None
    #: The answer as sent (the device-role simulated WFM keeps it as evidence).
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""


@dataclass(frozen=True)
class Problem:
    status: int
    name: str | None  # a registered problem name of the profile, or None for about:blank
    detail: str
    check: str
    errors: tuple[dict[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


class MiafApp:
    """The ASGI app; one per server. ``observer`` (optional) receives every :class:`Exchange`."""

    def __init__(self, *, profile: Profile, store: MiafStore, trust_domain: str, wfm_id: str,
                 defects: Collection[str] = (), observer: Callable[[Exchange], None] | None = None,
                 faults: FaultPlan | None = None) -> None:
        self.profile = profile
        self.store = store
        self.trust_domain = trust_domain
        self.wfm_id = wfm_id
        self.defects = frozenset(defects)
        self.observer = observer
        self.faults = faults
        self._put = profile.route("capabilities.put")
        self._delete = profile.route("capabilities.delete")
        self._judge = ManifestJudge(profile=profile.schema_set)
        self._rate = _RateWindow()

    # ------------------------------------------------------------------ identity
    def caller_of(self, conn: ConnectionInfo | None) -> Caller:
        """Recognised once per connection (the peer certificate cannot change on it)."""
        if conn is None:
            return Caller(None, "MTLS-02:no-tls-connection")
        cached = getattr(conn, _CALLER_ATTR, None)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        sslobj = conn.transport.get_extra_info("ssl_object") if conn.transport is not None else None
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        caller = recognise(der, trust_domain=self.trust_domain, wfm_id=self.wfm_id, defects=self.defects)
        setattr(conn, _CALLER_ATTR, caller)
        return caller

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        conn: ConnectionInfo | None = (scope.get("extensions") or {}).get(CONNECTION_EXTENSION)
        raw_path = scope["raw_path"].decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        exchange = Exchange(method=scope["method"], target=raw_path + ("?" + query if query else ""), caller=None,
                            connection_id=conn.id if conn else None, peer=conn.peer if conn else None,
                            headers=headers)
        try:
            status, out_headers, body = await self._handle(exchange, conn, raw_path, query, receive)
        except _Drop:
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            self._record(exchange)
            return
        except Exception as exc:  # our bug: still a problem document, never uvicorn's text/plain 500
            log.error("MIAF WFM failed on %s %s", exchange.method, exchange.target, exc_info=exc)
            status, out_headers, body = self._problem(Problem(500, None, "the WFM failed to process this request "
                                                              f"({type(exc).__name__})", "internal",
                                                              headers=(("retry-after", "1"),)), exchange)
        exchange.status = status
        out_headers = [*out_headers, ("content-length", str(len(body)))]
        exchange.response_headers, exchange.response_body = out_headers, body
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out_headers]})
        await send({"type": "http.response.body", "body": body})
        self._record(exchange)

    async def _handle(self, ex: Exchange, conn: ConnectionInfo | None, raw_path: str, query: str,
                      receive: Receive) -> tuple[int, list[tuple[str, str]], bytes]:
        conn_caller = self.caller_of(conn)
        if not conn_caller.recognised:
            return self._problem(Problem(403, "not-authorized", "the client certificate is not a client X.509-SVID "
                                         f"this WFM accepts ({conn_caller.reason})", f"svid:{conn_caller.reason}",
                                         headers=(("connection", "close"),)), ex)
        caller = conn_caller.spiffe_id
        assert caller is not None
        route_path = raw_path
        put = self._put.matches(ex.method, route_path)
        delete = self._delete.matches(ex.method, route_path)
        params = put or delete
        if params is None:
            other = self._put.matches("PUT", route_path) or self._delete.matches("DELETE", route_path)
            if other is not None:
                allow = ", ".join(sorted({self._put.method, self._delete.method}))
                return self._problem(Problem(405, None, f"method {ex.method} is not allowed on this route",
                                             "route", headers=(("allow", allow),)), ex)
            return self._problem(Problem(404, None, "no such resource", "route"), ex)

        declared = next((v for k, v in ex.headers if k.lower() == "content-length"), "")
        too_large = declared.isdigit() and int(declared) > MAX_BODY_BYTES  # refused before reading a byte of it
        body, too_large = (b"", True) if too_large else await _read_body(receive)
        ex.body = body
        if too_large:
            return self._problem(Problem(413, None, f"the body exceeds {MAX_BODY_BYTES} bytes", "body-size",
                                         headers=(("connection", "close"),)), ex)
        if D.CALLER_FROM_REQUEST in self.defects:
            caller = self._caller_from_request(ex, query, body) or caller
        ex.caller = caller
        denial = self._policy(caller) or self._transient(caller)
        if denial is not None:
            return self._problem(denial, ex)
        fault = self.faults.take("capabilities") if self.faults is not None else None
        if fault is not None:
            ex.fault = fault.action
            answered = await self._fault(fault, ex)
            if answered is not None:
                return answered
        device_id = unquote(params["deviceId"])
        if not DEVICE_ID_RE.match(device_id):
            return self._problem(Problem(400, "invalid-request", f"deviceId {device_id!r} does not match the "
                                         "DeviceId pattern (RFC 3986 unreserved characters, '/' between ids)",
                                         "device-id"), ex)
        owner = "*" if D.RECORDS_KEYED_BY_DEVICE_ID in self.defects else caller
        if put is not None:
            return self._put_capabilities(ex, owner, device_id, body)
        return self._delete_capabilities(ex, owner, device_id)

    # ------------------------------------------------------------------ steps
    def _policy(self, caller: str) -> Problem | None:
        if caller == ANONYMOUS:  # only under miaf-no-client-cert-accepted
            return None
        state = self.store.policy_state(caller)
        if state == "retired" and D.RETIRED_CLIENT_SERVED not in self.defects:
            return Problem(403, "not-authorized", "the relationship with this client has been retired", "policy:retired")
        if state is None and self.store.policy_mode() == "allowlist" and D.UNLISTED_CLIENT_ACCEPTED not in self.defects:
            return Problem(403, "not-authorized", "this client is not on the WFM's accepted-client policy",
                           "policy:not-listed")
        return None

    def _transient(self, caller: str) -> Problem | None:
        """MRTY-02: maintenance mode answers 503; MRTY-01: a client over the declared rate limit gets 429."""
        if self.store.maintenance():
            return Problem(503, None, "the WFM is in maintenance; retry later", "maintenance")
        limit = self.store.rate_limit()
        if limit is not None and not self._rate.admit(caller, limit):
            return Problem(429, None, f"more than {limit} requests in one second from this client", "rate-limit")
        return None

    def _put_capabilities(self, ex: Exchange, owner: str, device_id: str,
                          body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        if not body.strip():
            return self._problem(Problem(400, "invalid-request", "the request body is empty", "body"), ex)
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._problem(Problem(400, "invalid-request", f"the body is not JSON ({exc})", "body"), ex)
        errors = [{"field": _field(e.pointer, e.member), "message": e.message}
                  for e in self._judge.schema_errors(body, document)]
        if errors:
            return self._problem(Problem(422, "semantic-error", "the capabilities manifest breaks its schema",
                                         "schema", errors=tuple(errors)), ex)
        errors = semantic_errors(document, device_id)
        if errors:
            return self._problem(Problem(422, "semantic-error", "the capabilities manifest breaks a rule of "
                                         "device-capabilities.md", "semantics", errors=tuple(errors)), ex)
        if "/" in device_id and D.CHILD_WITHOUT_GATEWAY_ACCEPTED not in self.defects:
            gateway = device_id.split("/", 1)[0]
            if not self.store.has_capabilities(owner, gateway):
                return self._problem(Problem(404, "gateway-not-found", f"no gateway {gateway!r} was reported by this "
                                             "client for the child device", "gateway"), ex)
        created = self.store.put_capabilities(owner, device_id, body.decode("utf-8"))
        status = 201 if created and D.CREATE_200 not in self.defects else 200
        ex.check = "stored"
        return status, [], b""

    def _delete_capabilities(self, ex: Exchange, owner: str,
                             device_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.store.delete_capabilities(owner, device_id):
            ex.check = "deleted"
            return 204, [], b""
        if D.CROSS_CLIENT_DELETE in self.defects:
            for other in self.store.owners(device_id):
                if self.store.delete_capabilities(other, device_id):
                    ex.check = "deleted"
                    return 204, [], b""
        return self._problem(Problem(404, "device-not-found", f"no device {device_id!r} was reported by this client",
                                     "device-lookup"), ex)

    async def _fault(self, fault: Any, ex: Exchange) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The simulated WFM's injected behaviour (``wfm.observe.FaultPlan``), for device-role runs (issue 20):
        503 with Retry-After (MRTY-02/06), a canned answer, a delay, or a dropped connection."""
        if fault.action == "unavailable":
            return self._problem(Problem(503, None, "the WFM is temporarily unavailable (injected)", "fault:unavailable",
                                         headers=(("retry-after", str(fault.retry_after or 1)),)), ex)
        if fault.action == "respond":
            ex.check = "fault:respond"
            return fault.status, [*fault.headers, (CHECK_HEADER, "fault:respond")], fault.body
        if fault.action == "delay":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.action in ("drop", "close-mid-response"):
            raise _Drop()
        return None

    def _caller_from_request(self, ex: Exchange, query: str, body: bytes) -> str | None:
        """Only under miaf-caller-from-request: what a WFM that trusts the request would take for the caller."""
        claimed = next((v for k, v in ex.headers if k.lower() == "x-client-id"), None)
        claimed = claimed or (parse_qs(query).get("clientId") or [None])[0]
        if claimed is None:
            try:
                document = json.loads(body) if body else None
            except ValueError:
                document = None
            if isinstance(document, dict):
                for key, value in document.items():
                    if key.startswith("x-") and isinstance(value, dict) and isinstance(value.get("clientId"), str):
                        claimed = value["clientId"]
        if not claimed:
            return None
        if claimed.startswith("spiffe://"):
            return claimed
        from ...pki.spiffe import client_spiffe_id

        try:
            return client_spiffe_id(self.trust_domain, self.wfm_id, claimed)
        except ValueError:
            return None

    # ------------------------------------------------------------------ answers
    def _problem(self, problem: Problem, ex: Exchange) -> tuple[int, list[tuple[str, str]], bytes]:
        ex.check = problem.check
        name = problem.name
        if name == "semantic-error" and D.WRONG_PROBLEM_TYPE in self.defects:
            name = "invalid-request"
        type_uri = self.profile.problem_type(name).uri if name else "about:blank"
        ex.problem_type = type_uri
        title = _TITLES.get(name or "", HTTPStatus(problem.status).phrase)
        rule = self.profile.retry_rule(problem.status)
        retryable = rule.retryable if rule is not None else False
        backoff = rule.backoff if rule is not None else "none"
        if D.RETRYABLE_4XX in self.defects and 400 <= problem.status < 500 and problem.status != 429:
            retryable, backoff = True, "exponential"
        if D.RATE_LIMIT_NOT_RETRYABLE in self.defects and problem.status == 429:
            retryable, backoff = False, "none"
        doc: dict[str, Any] = {"type": type_uri, "title": title, "status": problem.status, "detail": problem.detail,
                               "instance": ex.target.split("?", 1)[0], "retryable": retryable,
                               "backoffStrategy": backoff}
        headers = [(CHECK_HEADER, problem.check), *problem.headers]
        if problem.errors:
            doc["errors"] = [dict(e) for e in problem.errors]
        if rule is not None and rule.retry_after in ("must", "should") and \
                not any(k == "retry-after" for k, _ in problem.headers):
            if not (D.MAINTENANCE_WITHOUT_RETRY_AFTER in self.defects and problem.status == 503):
                headers.append(("retry-after", "1"))
            doc["retryAfterSeconds"] = 1
        if D.PLAIN_TEXT_ERRORS in self.defects and problem.status in (404, 405):
            text = f"{problem.status} {HTTPStatus(problem.status).phrase}: {problem.detail}\n"
            return problem.status, [("content-type", "text/plain; charset=utf-8"), *headers], text.encode()
        return problem.status, [("content-type", PROBLEM_MEDIA), *headers], \
            json.dumps(doc, separators=(",", ":")).encode()

    def _record(self, ex: Exchange) -> None:
        try:
            self.store.audit(method=ex.method, path=ex.target, status=ex.status, check=ex.check, caller=ex.caller,
                             remote=ex.peer)
        except Exception:
            log.exception("audit write failed")
        if self.observer is not None:
            try:
                self.observer(ex)
            except Exception:
                log.exception("observer failed")


class _RateWindow:
    """Requests per caller in the last second (a sliding window): what a declared rate limit counts."""

    def __init__(self) -> None:
        self._seen: dict[str, collections.deque[float]] = {}

    def admit(self, caller: str, limit: int) -> bool:
        now = time.monotonic()
        seen = self._seen.setdefault(caller, collections.deque())
        while seen and now - seen[0] >= 1.0:
            seen.popleft()
        if len(seen) >= limit:
            return False
        seen.append(now)
        return True


class _Drop(Exception):
    """An injected fault: close the connection without an answer."""


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), False


def _field(pointer: str, member: str | None) -> str:
    """A JSON pointer as the dotted field path the yaml's examples use (``properties.cpus.0.architecture``)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    if member:
        parts.append(member)
    return ".".join(parts) or "(root)"
