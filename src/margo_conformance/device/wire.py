"""Build, sign, send and record one request: the code the reference client and the simulated device share.

Every request becomes an ``evidence.Exchange`` holding the bytes that went out (headers in order, body),
the signature base the signer built, the answer, and the TLS facts of the connection. The request is built
first and then signed over its final URL, so ``@target-uri`` is exactly what is sent (Q-23, Q-24).
Library errors (httpx, ssl) are translated here, once, into the ``errors`` types; each carries the
Exchange so a refused handshake is still evidence.
"""

from __future__ import annotations

import ssl
import time
from typing import Callable, Mapping

import httpx

from .. import __version__
from ..errors import HarnessError, SutTimeout, SutUnreachable
from ..evidence import CapturedRequest, CapturedResponse, Exchange, TlsFacts
from ..httpsig.auth import SigningOptions, signature_fields
from .capture import _capture, _root_cause, _tls_facts  # noqa: F401  (mtls.wire imports them from here)

USER_AGENT = f"margo-conformance-device/{__version__}"


class WfmUnreachable(SutUnreachable):
    """No HTTP answer: connection refused or dropped, or the TLS handshake failed for a non-trust reason."""

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


class WfmNotTrusted(WfmUnreachable):
    """The server's certificate did not verify against the trust anchor (chain, dates or host name)."""

    silent = False


class WfmTlsFailed(WfmUnreachable):
    """The TLS handshake failed for another reason (no common protocol version or cipher, an alert)."""

    silent = False


class WfmTimeout(SutTimeout):
    """Connected, but no answer before the timeout."""

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


#: How the device signs: the shared options of ``httpsig.auth`` (one signing path for every request).
Signer = SigningOptions


class Wire:
    """One WFM base URL, one TLS context, one connection pool; every call has a timeout."""

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext, *, timeout: float = 10.0,
                 now: Callable[[], float] = time.time, transport: httpx.BaseTransport | None = None,
                 server_name: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")  # may carry a path prefix before /api/v1
        self._now = now
        #: The TLS name to send (SNI) and verify, when it is not the URL's host (a base URL with an IP address:
        #: the SUT file's ``wfm.server_name``).
        self._extensions = {"sni_hostname": server_name} if server_name else {}
        self._client = httpx.Client(verify=ssl_context, timeout=httpx.Timeout(timeout), http1=True,
                                    http2=False, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": USER_AGENT}, transport=transport)

    def url_for(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else f"{self.base_url}{path}"

    def send(self, method: str, path: str, body: bytes | None = None, *, signer: Signer | None = None,
             content_type: str | None = "application/json", headers: Mapping[str, str] | None = None,
             note: str = "") -> Exchange:
        """Send one request, signed with ``signer`` when given (its fault included), and record it."""
        body = body or b""
        hdrs: dict[str, str] = {"Accept": "application/json, application/problem+json"}
        if body and content_type is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        url = httpx.URL(self.url_for(path))  # parsed once: the exact URL sent is the URL signed
        base: str | None = None
        if signer is not None:
            try:
                signed = signature_fields(method, str(url), body, signer, now=self._now)
            except ValueError as exc:  # e.g. a body fault on a body-less request: the caller's mistake
                raise HarnessError(f"cannot sign {method} {url}: {exc}") from None
            body = signed.body  # a tampered body: other bytes than were signed go out
            hdrs.update(signed.headers)
            base = signed.signature_base
            if signer.fault is not None:
                note = f"{note}; fault={signer.fault.value}" if note else f"fault={signer.fault.value}"
        request = self._client.build_request(method, url, content=body, headers=hdrs, extensions=self._extensions)
        return self._exchange(request, body, base, note)

    def resend(self, captured: CapturedRequest, *, note: str = "replay") -> Exchange:
        """Send an earlier request again, byte for byte: same URL, headers (signature included), body."""
        request = httpx.Request(captured.method, captured.url, headers=captured.headers, content=captured.body,
                                extensions=self._extensions)
        return self._exchange(request, captured.body, None, note)

    def _exchange(self, request: httpx.Request, body: bytes, base: str | None, note: str) -> Exchange:
        exchange = Exchange(request=_capture(request, body), signature_base_sent=base, note=note)
        start = time.monotonic()
        try:
            response = self._client.send(request, stream=True)
            try:
                exchange.tls = _tls_facts(response)
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            exchange.elapsed_s = time.monotonic() - start
            exchange.error = f"timeout: {type(exc).__name__}"
            raise WfmTimeout(f"{request.method} {request.url}: no answer before the timeout "
                             f"({type(exc).__name__})", exchange) from None
        except httpx.TransportError as exc:
            exchange.elapsed_s = time.monotonic() - start
            cause = _root_cause(exc)
            if isinstance(cause, ssl.SSLCertVerificationError):
                reason = cause.verify_message or str(cause)
                exchange.tls = TlsFacts(error=f"certificate verify failed: {reason}")
                exchange.error = exchange.tls.error
                raise WfmNotTrusted(f"{request.url.host}:{request.url.port or 443}: the server certificate "
                                    f"is not trusted ({reason})", exchange) from None
            if isinstance(cause, ssl.SSLError):
                exchange.tls = TlsFacts(error=f"{cause.reason or cause}")
                exchange.error = f"TLS handshake failed: {cause.reason or cause}"
                raise WfmTlsFailed(f"{request.url}: {exchange.error}", exchange) from None
            exchange.error = f"{type(exc).__name__}: {cause or exc}"
            unreachable = WfmUnreachable(f"{request.method} {request.url}: {exchange.error}", exchange)
            # No connection at all is silence; a server that closed the connection after it was set up answered.
            unreachable.silent = isinstance(exc, httpx.ConnectError)
            raise unreachable from None
        exchange.elapsed_s = time.monotonic() - start
        exchange.response = CapturedResponse(
            status=response.status_code,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            body=response.content,
            http_version=response.http_version,
        )
        return exchange

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
