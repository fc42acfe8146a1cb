"""Send one request as one WFM client over mutual TLS and record it, a TLS refusal included.

One ``MtlsWire`` is one client identity (or none: C-NOCERT) with one connection pool, so a kept-alive
connection stays that client's (MTLS-08). A request the server refuses in TLS comes back as an ``Exchange``
with ``refusal`` set and no response: the refusal is the answer the checks judge. Only silence raises:
``SutUnreachable`` when no connection could be made, ``SutTimeout`` when nothing came back in time, and
``WfmNotTrusted`` when the harness refused the server (its SVID chain does not validate against the bundle).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from .. import __version__
from ..device.wire import WfmNotTrusted, WfmTimeout, WfmUnreachable, _capture, _root_cause
from ..evidence import CapturedResponse, Exchange, TlsFacts, TlsRefusal
from .tls import ClientIdentity, HandshakeFacts, ServerChainRecorder, client_context, is_local_limit, refusal_of

USER_AGENT = f"margo-conformance-miaf-client/{__version__}"


class MtlsWire:
    """One WFM client: its SVID (or none), the run's bundle, one connection pool, a timeout on every call."""

    def __init__(self, base_url: str, identity: ClientIdentity | None, bundle_pem: bytes, *, timeout: float = 10.0,
                 min_version: str | None = "1.2", max_version: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.recorder = ServerChainRecorder()
        context = client_context(identity, bundle_pem, min_version=min_version, max_version=max_version,
                                 recorder=self.recorder)
        self._client = httpx.Client(verify=context, timeout=httpx.Timeout(timeout), http1=True, http2=False,
                                    follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT})
        self._negotiated: str | None = None

    @property
    def name(self) -> str:
        return self.identity.name if self.identity is not None else "C-NOCERT"

    def send(self, method: str, path: str, body: bytes | None = None, *, content_type: str | None = "application/json",
             headers: Mapping[str, str] | None = None, note: str = "") -> Exchange:
        body = body or b""
        hdrs = {"Accept": "application/json, application/problem+json"}
        if body and content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        url = path if path.startswith("https://") else f"{self.base_url}{path}"
        request = self._client.build_request(method, url, content=body, headers=hdrs)
        exchange = Exchange(request=_capture(request, body), note=f"client {self.name}" + (f"; {note}" if note else ""))
        start = time.monotonic()
        try:
            response = self._client.send(request, stream=True)
            try:
                exchange.tls = self._facts(response)
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            exchange.elapsed_s = time.monotonic() - start
            exchange.error = f"timeout: {type(exc).__name__}"
            raise WfmTimeout(f"{method} {url}: no answer before the timeout ({type(exc).__name__})", exchange) from None
        except httpx.TransportError as exc:
            exchange.elapsed_s = time.monotonic() - start
            self._judge_transport(exc, exchange, method, url)
            return exchange
        exchange.elapsed_s = time.monotonic() - start
        exchange.response = CapturedResponse(
            status=response.status_code,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            body=response.content, http_version=response.http_version)
        return exchange

    def _judge_transport(self, exc: httpx.TransportError, exchange: Exchange, method: str, url: str) -> None:
        """Record a refusal on the exchange, or raise for silence (or for our own refusal of the server)."""
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or str(cause)
            exchange.tls = TlsFacts(error=f"certificate verify failed: {reason}",
                                    peer_chain=self.recorder.describe(self.recorder.chain_der(None)))
            exchange.error = exchange.tls.error
            raise WfmNotTrusted(f"{url}: the WFM's SVID chain does not validate against the trust bundle ({reason})",
                                exchange) from None
        if is_local_limit(cause):
            exchange.error = f"this TLS library cannot make the offer: {getattr(cause, 'reason', cause)}"
            raise WfmUnreachable(f"{url}: {exchange.error}", exchange) from None
        # A ConnectError happened before the handshake finished; anything later is the first read (TLS 1.3).
        stage = "handshake" if isinstance(exc, httpx.ConnectError) else "first-read"
        refusal = refusal_of(cause, stage)
        if refusal is None and stage == "first-read" and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError,
                                                                          httpx.WriteError)):
            refusal = refusal_of(ConnectionResetError(str(cause or exc)), stage)
        if refusal is None:
            exchange.error = f"{type(exc).__name__}: {cause or exc}"
            unreachable = WfmUnreachable(f"{method} {url}: {exchange.error}", exchange)
            unreachable.silent = True
            raise unreachable from None
        exchange.refusal = refusal
        exchange.error = refusal.describe()
        exchange.tls = TlsFacts(error=refusal.describe(), peer_chain=self.recorder.describe(self.recorder.chain_der(None)),
                                client_cert_requested=self.recorder.cert_request if self.recorder.observed else None)

    def _facts(self, response: httpx.Response) -> TlsFacts | None:
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        if ssl_object is None:
            return None
        cipher = ssl_object.cipher()
        version = ssl_object.version()
        chain = self.recorder.chain_der(version)
        if not chain and (leaf := ssl_object.getpeercert(True)):
            chain = [leaf]
        return TlsFacts(version=version, cipher=cipher[0] if cipher else None, alpn=ssl_object.selected_alpn_protocol(),
                        peer_chain=self.recorder.describe(chain),
                        client_cert_requested=self.recorder.cert_request if self.recorder.observed else None)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MtlsWire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: How long a probe listens for a TLS 1.3 refusal before it sends a request: the alert comes right after the
#: client's Finished; reading first keeps it from being lost to a reset when the server closes on unread data.
REFUSAL_WAIT_S = 0.5


def _await_refusal(tls: ssl.SSLSocket, host: str, timeout: float) -> TlsRefusal | None:
    """Listen briefly for a refusal, then send a harmless ``HEAD /`` and read once. None: the server answered."""
    tls.settimeout(min(REFUSAL_WAIT_S, timeout))
    try:
        if not tls.recv(1):
            return refusal_of(ConnectionResetError("closed without an HTTP answer"), "first-read")
        return None  # it spoke first (unusual, but an answer)
    except (TimeoutError, socket.timeout):
        pass  # nothing yet: the server is waiting for a request, as an accepting server does
    tls.settimeout(timeout)
    tls.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    if not tls.recv(1):
        return refusal_of(ConnectionResetError("closed without an HTTP answer"), "first-read")
    return None


def handshake(base_url: str, identity: ClientIdentity | None, bundle_pem: bytes | None, *, timeout: float = 10.0,
              min_version: str | None = "1.2", max_version: str | None = None, verify: bool = True,
              alpn: list[str] | None = None, first_read: bool = True) -> HandshakeFacts:
    """One handshake as ``identity``; never raises for what the server does.

    ``first_read`` sends a harmless ``HEAD /`` after the handshake and reads once, so that a TLS 1.3 server's
    refusal of the client certificate (sent after the client finished) is seen."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 443
    recorder = ServerChainRecorder()
    facts = HandshakeFacts()
    try:
        ctx = client_context(identity, bundle_pem, min_version=min_version, max_version=max_version, verify=verify,
                             alpn=alpn, recorder=recorder)
    except ssl.SSLError as exc:
        facts.local_limit = f"cannot build the offer: {exc.reason or exc}"
        return facts
    stage = "handshake"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                facts.version = tls.version()
                cipher = tls.cipher()
                facts.cipher = cipher[0] if cipher else None
                facts.alpn = tls.selected_alpn_protocol()
                facts.chain_der = recorder.chain_der(facts.version) or ([d] if (d := tls.getpeercert(True)) else [])
                if first_read:
                    stage = "first-read"
                    facts.refusal = _await_refusal(tls, host, timeout)
    except ssl.SSLCertVerificationError as exc:
        facts.silence = None
        facts.extras["server_not_trusted"] = exc.verify_message or str(exc)
    except (TimeoutError, socket.timeout):
        facts.silence = f"no answer within {timeout:g} s"
    except OSError as exc:
        if is_local_limit(exc):
            facts.local_limit = str(getattr(exc, "reason", exc))
        else:
            refusal = refusal_of(exc, stage)
            if refusal is None:
                facts.silence = f"connection failed: {getattr(exc, 'strerror', None) or exc}"
            facts.refusal = refusal
    if not facts.chain_der:
        facts.chain_der = recorder.chain_der(facts.version)
    facts.cert_requested = recorder.cert_request if recorder.observed else None
    return facts
