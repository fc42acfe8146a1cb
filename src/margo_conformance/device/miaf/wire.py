"""One trust generation of MI connections: our SVID and the current anchors, one pool, every request recorded.

A new ``MiWire`` is made whenever the SVID or the anchors change, and the old one closed, so the next request
opens a new connection presenting the new SVID and validating against the new anchors (MTLS-08, MTB-02).
Every attempt becomes an ``evidence.Exchange``. Failures are sorted once:

- ``WfmIdentityRefused``: the WFM's chain or SPIFFE ID did not pass (never retried; no HTTP was sent);
- ``TlsFailed``: the handshake failed otherwise (no common version, the WFM refused our certificate): final;
- ``Unreachable``: no connection or no answer in time: the caller may try again.
"""

from __future__ import annotations

import ssl
import time

import httpx

from ... import __version__
from ...evidence import CapturedResponse, Exchange, TlsFacts
from ..capture import _capture, _root_cause, _tls_facts
from .anchors import Anchors
from .capabilities import Report
from .defects import Behaviour
from .identity import OwnSvid
from .tls import WfmIdentityRefused, check_wfm, mi_context, on_new_connection

USER_AGENT = f"margo-conformance-miaf-device/{__version__}"


class Unreachable(Exception):
    """No connection, or no answer before the timeout (may be retried)."""


class TlsFailed(Exception):
    """The TLS handshake failed for a reason other than our verdict on the WFM (final)."""


class MiWire:
    def __init__(self, base_url: str, svid: OwnSvid, anchors: Anchors, behaviour: Behaviour, *,
                 timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.svid = svid
        self.behaviour = behaviour
        self.peer_spiffe_id: str | None = None
        self._client = httpx.Client(verify=mi_context(svid, anchors, behaviour), timeout=httpx.Timeout(timeout),
                                    http1=True, http2=False, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": USER_AGENT})
        self._trace = on_new_connection(self._check)

    def _check(self, ssl_object: object) -> None:
        self.peer_spiffe_id = check_wfm(ssl_object, self.svid, self.behaviour)

    def send(self, report: Report) -> Exchange:
        headers = {"Content-Type": "application/json", "Accept": "application/json, application/problem+json"}
        request = self._client.build_request(report.method, f"{self.base_url}{report.path}", content=report.body,
                                             headers=headers, extensions={"trace": self._trace})
        exchange = Exchange(request=_capture(request, report.body), note=f"capabilities of {report.device_id}")
        try:
            return self._send(request, report, exchange)
        except (WfmIdentityRefused, TlsFailed, Unreachable) as exc:
            exc.exchange = exchange  # type: ignore[attr-defined]  # evidence of the attempt
            raise

    def _send(self, request: httpx.Request, report: Report, exchange: Exchange) -> Exchange:
        start = time.monotonic()
        try:
            response = self._client.send(request, stream=True)
            try:
                exchange.tls = _tls_facts(response)
                response.read()
            finally:
                response.close()
        except WfmIdentityRefused as exc:
            exchange.error = f"refused the WFM: {exc}"
            raise
        except httpx.TimeoutException as exc:
            exchange.error = f"timeout: {type(exc).__name__}"
            raise Unreachable(f"{report.method} {request.url}: no answer before the timeout") from None
        except httpx.HTTPError as exc:
            cause = _root_cause(exc)
            exchange.elapsed_s = time.monotonic() - start
            if isinstance(cause, ssl.SSLCertVerificationError):
                exchange.error = f"refused the WFM: {cause.verify_message or cause}"
                exchange.tls = TlsFacts(error=exchange.error)
                raise WfmIdentityRefused(f"its certificate does not validate against the trust bundle "
                                         f"({cause.verify_message or cause})") from None
            if isinstance(cause, ssl.SSLError):
                exchange.error = f"TLS failed: {cause.reason or cause}"
                exchange.tls = TlsFacts(error=exchange.error)
                raise TlsFailed(f"{request.url.host}:{request.url.port or 443}: {exchange.error}") from None
            exchange.error = f"{type(exc).__name__}: {cause or exc}"
            raise Unreachable(f"{report.method} {request.url}: {exchange.error}") from None
        finally:
            if exchange.elapsed_s is None:
                exchange.elapsed_s = time.monotonic() - start
        exchange.response = CapturedResponse(
            status=response.status_code,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            body=response.content, http_version=response.http_version)
        return exchange

    def close(self) -> None:
        self._client.close()
