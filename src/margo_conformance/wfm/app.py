"""The WFM's ASGI application: a front layer around a small Starlette app of the three API routes.

The front layer (``FrontLayer``) sees every request before routing and after the answer:

1. builds the RequestContext from the raw scope (raw target, original-case headers, ``@target-uri`` from the
   externally visible origin and the raw path), strips the configured path prefix;
2. enforces the body limit (413 on ``Content-Length`` before reading, or while reading a chunked body);
3. applies the fault plan of the simulated WFM (503, 403/400 onboarding, delay, drop, close mid-response);
4. calls Starlette, catching anything that escapes a handler (a problem+json 500 naming check ``internal``:
   a bug of ours, which the robustness tests hunt for; a client can never cause one on purpose);
5. writes the audit row and, when observing, the Observation with the strict diagnosis of the device.

The Starlette routes do the protocol work through ``pipeline.py``; unknown routes get a problem+json 404 and
wrong methods a 405 with ``Allow`` (check ``route``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import pki
from ..evidence import CapturedRequest, CapturedResponse, TlsFacts
from ..patterns import CAPABILITIES_TEMPLATE, CERTIFICATE_PATH, CLIENTS_PREFIX, ONBOARDING_PATH
from . import pipeline
from . import defects as D
from .context import RequestContext
from .observe import Observation
from .problems import CHECK_HEADER, Rejection, reject, type_uri
from .service import WfmService
from .store import AuditEntry
from .transport import CONNECTION_EXTENSION, ConnectionInfo

log = logging.getLogger("margo_conformance.wfm")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CTX_KEY = "margo.ctx"
_CLOSE_WAIT_S = 1.0
#: A body declared larger than the limit but below this is drained (keep-alive), above it the connection closes.
_DRAIN_LIMIT = 16 * 1024 * 1024


def route_of(api_path: str) -> str | None:
    """Which API route a raw path (after the prefix) belongs to; None when it is none of them."""
    if api_path == ONBOARDING_PATH:
        return "onboarding"
    if api_path == CERTIFICATE_PATH:
        return "certificate"
    if api_path.startswith(CLIENTS_PREFIX) and "/capabilities/" in api_path:
        return "capabilities"
    return None


# ---------------------------------------------------------------------------------------------- responses
def problem_response(rejection: Rejection, ctx: RequestContext) -> Response:
    headers = dict(rejection.response_headers())
    media = headers.pop("content-type")
    return Response(rejection.body(ctx.target), status_code=rejection.status, headers=headers, media_type=media)


def _internal_error(ctx: RequestContext, exc: BaseException) -> Rejection:
    log.error("WFM handler failed on %s %s", ctx.method, ctx.target, exc_info=exc)
    ctx.check = "internal"
    return reject(500, None, f"the WFM failed to process this request ({type(exc).__name__})", "internal")


def build_starlette(svc: WfmService) -> Starlette:
    """The three routes of profile httpsig-2026h1 (DIGEST 1.3, 1.4, 1.8)."""

    def context(request: Request) -> RequestContext:
        return request.scope[CTX_KEY]  # type: ignore[no-any-return]

    async def certificate(request: Request) -> Response:
        """CERT-01..05: unauthenticated; the root CA as base64(DER) (or PEM), one line."""
        return Response(svc.certificate_body, media_type="application/json")

    onboardings_in_flight = [0]  # the 'onboarding-race-500' defect's shared state

    async def onboarding(request: Request) -> Response:
        ctx = context(request)
        if svc.config.has(D.ONBOARDING_RACE_500):
            return await _racy_onboarding(ctx)
        return await _onboarding(ctx)

    async def _racy_onboarding(ctx: RequestContext) -> Response:
        """The defect: a second onboarding while one is in flight loses the race (a 500, as a WFM whose
        clientId allocation is not safe for concurrent requests would answer)."""
        onboardings_in_flight[0] += 1
        try:
            if onboardings_in_flight[0] > 1:
                return problem_response(_internal_error(ctx, RuntimeError("concurrent onboarding")), ctx)
            await asyncio.sleep(0.01)  # the window in which a parallel request collides
            return await _onboarding(ctx)
        finally:
            onboardings_in_flight[0] -= 1

    async def _onboarding(ctx: RequestContext) -> Response:
        try:
            rejection = pipeline.run_checks(pipeline.ONBOARDING_CHECKS, ctx, svc)
            if rejection is None:
                rejection = await pipeline.decide_trust(ctx, svc)
                if rejection is not None:
                    ctx.check = rejection.check
            if rejection is not None:
                return problem_response(rejection, ctx)
        except Exception as exc:
            return problem_response(_internal_error(ctx, exc), ctx)
        status = 200 if svc.config.has(D.ONBOARDING_200) else 201
        return Response(json.dumps({"clientId": ctx.client_id}), status_code=status, media_type="application/json")

    async def capabilities(request: Request) -> Response:
        ctx = context(request)
        try:
            if ctx.method == "PUT":
                rejection = pipeline.run_checks(pipeline.CAPABILITY_PUT_CHECKS, ctx, svc)
                if rejection is not None:
                    return problem_response(rejection, ctx)
                if ctx.client is None and svc.config.accept_faulty:  # unknown client, waived: nothing to store
                    return Response(status_code=201)
                assert ctx.client_id is not None and ctx.device_id is not None
                created = await svc.store.put_capabilities_async(ctx.client_id, ctx.device_id,
                                                                 ctx.body.decode("utf-8"))
                status = 201 if created and not svc.config.has(D.CAPABILITIES_CREATE_200) else 200
                return Response(status_code=status)
            rejection = pipeline.run_checks(pipeline.CAPABILITY_DELETE_CHECKS, ctx, svc)
            if rejection is None and ctx.client is None and svc.config.accept_faulty:
                return Response(status_code=204)
            if rejection is None:
                assert ctx.client_id is not None and ctx.device_id is not None
                if await svc.store.delete_capabilities_async(ctx.client_id, ctx.device_id):
                    return Response(status_code=204)
                ctx.check = "device-lookup"
                rejection = reject(404, None, f"no capabilities reported for device {ctx.device_id!r}",
                                   "device-lookup")
            return problem_response(rejection, ctx)
        except Exception as exc:
            return problem_response(_internal_error(ctx, exc), ctx)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        ctx = context(request)
        ctx.check = "route"
        headers = list((exc.headers or {}).items())
        detail = ("no such resource" if exc.status_code == 404
                  else f"method {ctx.method} is not allowed here" if exc.status_code == 405 else str(exc.detail))
        return problem_response(reject(exc.status_code, None, detail, "route", headers=headers), ctx)

    app = Starlette(
        routes=[
            Route(CERTIFICATE_PATH, certificate, methods=["GET"]),
            Route(ONBOARDING_PATH, onboarding, methods=["POST"]),
            Route(CAPABILITIES_TEMPLATE.replace("{deviceId}", "{deviceId:path}"), capabilities,
                  methods=["PUT", "DELETE"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.router.redirect_slashes = False
    return app


# ---------------------------------------------------------------------------------------------- front layer
class _Capture:
    """Collects what the inner app sends (status, headers, body) and optionally forwards it.

    The response head is held back until the first body message, and ``before_last`` runs before the last
    one is forwarded: once the client holds the complete answer (even a body-less 201, complete with its
    head), the observation is already in the log."""

    def __init__(self, send: Send | None, before_last: Callable[[], None] | None = None) -> None:
        self._send = send
        self._before_last = before_last
        self._held: Message | None = None
        self.forwarded = False
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self._held = message
            return
        if message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False) and self._before_last is not None:
                self._before_last()
        if self._send is None:
            return
        self.forwarded = True
        if self._held is not None:
            held, self._held = self._held, None
            await self._send(held)
        await self._send(message)

    def reset(self) -> None:
        """Forget a response that was never forwarded (the app failed half-way)."""
        self._held, self.status, self.headers, self.body = None, None, [], bytearray()

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


class FrontLayer:
    def __init__(self, app: Starlette, svc: WfmService) -> None:
        self.app = app
        self.svc = svc
        self._prefix = svc.config.prefix
        self._origin = svc.config.origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        conn: ConnectionInfo | None = (scope.get("extensions") or {}).get(CONNECTION_EXTENSION)
        ctx = self._context(scope, conn)
        started = time.monotonic()
        fault_name: str | None = None
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self._record(ctx, conn, capture, fault_name, time.monotonic() - started)

        capture = _Capture(send, record)
        try:
            rejection = await self._read_body(ctx, scope, receive)
            fault = self.svc.faults.take(ctx.route) if self.svc.faults is not None and rejection is None else None
            if fault is not None:
                fault_name = ctx.fault = fault.action
            if rejection is None and fault is not None:
                rejection = self._fault_rejection(fault, ctx)
            if rejection is not None:
                ctx.check = rejection.check
                await problem_response(rejection, ctx)(scope, receive, capture)
            elif fault is not None and fault.action == "respond":
                ctx.check = "fault:respond"
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fault.headers]
                headers.append((CHECK_HEADER.encode(), b"fault:respond"))
                await capture({"type": "http.response.start", "status": fault.status, "headers": headers})
                await capture({"type": "http.response.body", "body": fault.body})
            elif fault is not None and fault.action in ("drop", "close-mid-response"):
                capture = _Capture(None)  # recorded after the connection is broken
                await self._call_app(scope, ctx, capture)
                await self._break_connection(fault.action, capture, conn, send)
            else:
                if fault is not None and fault.action == "delay":
                    await asyncio.sleep(fault.seconds)
                await self._call_app(scope, ctx, capture)
        except Exception as exc:  # our bug; never let uvicorn answer with its text/plain 500
            if not capture.forwarded:
                capture.reset()
                rejection = _internal_error(ctx, exc)
                await problem_response(rejection, ctx)(scope, receive, capture)
            else:
                log.error("WFM failed after answering %s %s", ctx.method, ctx.target, exc_info=exc)
        finally:
            record()

    # ---- request
    def _context(self, scope: Scope, conn: ConnectionInfo | None) -> RequestContext:
        raw_path = scope["raw_path"].decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        target = raw_path + ("?" + query if query else "")
        if conn is not None and conn.raw_headers:
            headers = conn.raw_headers
        else:
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        ctx = RequestContext(method=scope["method"], target=target, api_path=raw_path, url="", headers=headers,
                             body=b"", now=time.time())
        client = scope.get("client")
        ctx.remote = f"{client[0]}:{client[1]}" if client else None
        origin = self._origin or f"https://{ctx.header('host') or _server_authority(scope)}"
        ctx.url = origin + target
        prefix = self._prefix
        if prefix:
            if raw_path == prefix or raw_path.startswith(prefix + "/"):
                ctx.api_path = raw_path[len(prefix):]
            else:
                ctx.api_path = ""  # outside the API: the router answers 404
        ctx.route = route_of(ctx.api_path)
        scope[CTX_KEY] = ctx
        scope["path"] = unquote(ctx.api_path) if ctx.api_path else "/\x00outside-prefix"
        scope["root_path"] = ""
        return ctx

    async def _read_body(self, ctx: RequestContext, scope: Scope, receive: Receive) -> Rejection | None:
        limit = self.svc.config.max_body_bytes
        declared = ctx.header("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Up to _DRAIN_LIMIT the connection stays open and uvicorn discards the rest of the body, so the
            # client reads the 413 instead of a reset; beyond it, closing is cheaper than reading.
            expecting = "100-continue" in (ctx.header("expect") or "").lower()  # the body will never come
            close = [("connection", "close")] if int(declared) > _DRAIN_LIMIT or expecting else []
            return reject(413, None, f"Content-Length {declared} exceeds the limit of {limit} bytes", "body-size",
                          headers=close)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return reject(413, None, f"the body exceeds the limit of {limit} bytes", "body-size",
                              headers=[("connection", "close")])
            chunks.append(chunk)
            more = message.get("more_body", False)
        ctx.body = b"".join(chunks)
        return None

    def _fault_rejection(self, fault: Any, ctx: RequestContext) -> Rejection | None:
        if fault.action == "unavailable":
            return reject(503, None, "the WFM is temporarily unavailable (injected)", "fault:unavailable",
                          headers=[("retry-after", str(fault.retry_after))])
        if fault.action == "reject-onboarding":
            return reject(403, "certificate-not-trusted", "the operator rejected this client (injected)",
                          "fault:reject-onboarding")
        if fault.action == "fail-onboarding":
            return reject(400, "invalid-request", "the onboarding request was refused (injected)",
                          "fault:fail-onboarding")
        return None

    async def _call_app(self, scope: Scope, ctx: RequestContext, send: _Capture) -> None:
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                await asyncio.Event().wait()  # nothing more will come; a handler never asks twice
            delivered = True
            return {"type": "http.request", "body": ctx.body, "more_body": False}

        await self.app(scope, replay, send)

    async def _break_connection(self, action: str, capture: _Capture, conn: ConnectionInfo | None,
                                send: Send) -> None:
        """drop: close without a byte of response; close-mid-response: head and half the body, then close."""
        if conn is None or conn.transport is None:
            return
        if action == "close-mid-response" and capture.status is not None:
            body = bytes(capture.body)
            headers = [(k, v) for k, v in capture.headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(max(len(body), 2)).encode()))
            await send({"type": "http.response.start", "status": capture.status, "headers": headers})
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            await asyncio.sleep(0.05)  # let the partial response reach the socket before the reset
        conn.transport.abort()
        await conn.wait_closed(_CLOSE_WAIT_S)

    # ---- records
    def _record(self, ctx: RequestContext, conn: ConnectionInfo | None, capture: _Capture,
                fault: str | None, elapsed: float) -> None:
        svc = self.svc
        check = capture.header(CHECK_HEADER.encode()) if capture.status is not None else None
        problem = None
        if check is not None and capture.status is not None:
            try:
                problem = json.loads(capture.body).get("type")
            except (ValueError, AttributeError):
                problem = None
        dropped = fault in ("drop", "close-mid-response")
        try:
            svc.store.audit(AuditEntry(ts=ctx.now, method=ctx.method, path=ctx.target[:2048],
                                       status=None if dropped else capture.status, problem_type=problem,
                                       check=check, client_id=ctx.client_id, remote=ctx.remote, note=fault))
        except Exception:  # the audit must never break serving
            log.exception("audit write failed")
        if svc.observations is None:
            return
        try:
            svc.observations.record(self._observation(ctx, conn, capture, fault, check, elapsed))
        except Exception:
            log.exception("observation failed")

    def _observation(self, ctx: RequestContext, conn: ConnectionInfo | None, capture: _Capture,
                     fault: str | None, check: str | None, elapsed: float) -> Observation:
        request = CapturedRequest(method=ctx.method, url=ctx.url, headers=list(ctx.headers), body=ctx.body,
                                  target=ctx.target, http_version=f"HTTP/{conn.http_version if conn else '1.1'}")
        response = None
        if capture.status is not None and fault != "drop":
            response = CapturedResponse(status=capture.status,
                                        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in capture.headers],
                                        body=bytes(capture.body))
        obs = Observation(request=request, response=response, tls=_copy_tls(conn), elapsed_s=elapsed,
                          started_at=ctx.now, route=ctx.route, check=check, client_id=ctx.client_id,
                          device_id=ctx.device_id, connection_id=conn.id if conn else None,
                          peer=conn.peer if conn else ctx.remote, fault=fault,
                          certificate_findings=list(ctx.certificate_findings))
        if fault == "drop":
            obs.error = "response dropped by the WFM (injected): connection closed without an answer"
        elif fault == "close-mid-response":
            obs.error = "connection closed by the WFM mid-response (injected)"
        if ctx.decoded_cert is not None:
            obs.certificate = pki.describe_certificate(ctx.decoded_cert.certificate)
        key = self._judgement_key(ctx)
        if key is not None:
            verification = self.svc.judge(ctx, key)
            obs.verification = verification
            obs.findings = list(verification.findings)
            obs.signature_base_rebuilt = verification.signature_base
        notes = [f"check={check}" if check else "accepted"]
        obs.waived = [{"check": r.check, "status": r.status, "type": r.type, "detail": r.detail} for r in ctx.waived]
        if ctx.waived:  # accept_faulty: what a strict WFM would have answered
            notes.append("accepted although a strict WFM would refuse it: " + ", ".join(
                f"{r.check} -> {r.status}" for r in ctx.waived))
        if fault:
            notes.append(f"fault={fault}")
        obs.note = "; ".join(notes)
        return obs

    def _judgement_key(self, ctx: RequestContext) -> Any:
        """The key a device's signature is judged with: the submitted certificate's (onboarding) or the
        certificate bound to the path's clientId (capabilities)."""
        if ctx.verify_key is not None:
            return ctx.verify_key
        if ctx.decoded_cert is not None:
            try:
                return ctx.decoded_cert.certificate.public_key()
            except Exception:
                return None
        if ctx.route == "capabilities":
            client = ctx.client
            if client is None and ctx.client_id is None:
                match = pipeline.CAPABILITIES_PATH_RE.match(ctx.api_path)
                if match is not None:
                    ctx.client_id = unquote(match.group(1))
            if client is None and ctx.client_id is not None:
                client = self.svc.store.client(ctx.client_id)
            if client is not None and client.certificates:
                return self.svc.public_key(client.certificates[0])
        return None


def _server_authority(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    host = f"[{host}]" if ":" in host else host
    return host if port == 443 else f"{host}:{port}"


def _copy_tls(conn: ConnectionInfo | None) -> TlsFacts | None:
    if conn is None or conn.tls is None:
        return None
    t = conn.tls
    return TlsFacts(version=t.version, cipher=t.cipher, alpn=t.alpn, peer_chain=list(t.peer_chain),
                    client_cert_requested=t.client_cert_requested, error=t.error)


def build_app(svc: WfmService) -> FrontLayer:
    return FrontLayer(build_starlette(svc), svc)


__all__ = ["FrontLayer", "build_app", "build_starlette", "problem_response", "route_of", "type_uri"]
