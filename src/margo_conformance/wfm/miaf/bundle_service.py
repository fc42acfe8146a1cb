"""The harness as Margo Identity Service origin for a device under test: trust bundle discovery over HTTPS.

``GET /.well-known/margo`` answers the discovery document ``{trustDomain, trustBundleUri}`` (plus an unknown member
a device must ignore, MTB-04) and ``GET /bundle.json`` the SPIFFE bundle (a JWK Set, MTB-02). Both carry an
``ETag`` and answer ``If-None-Match`` with ``304``; a missing document is ``404`` ``application/problem+json`` with
type ``#discovery-document-not-found`` / ``#spiffe-bundle-not-found`` (MTB-05). The origin's certificate comes
from a separate "MIS web CA" (DNS SAN ``localhost``): the device authenticates it with ``{mis_ca_file}`` or
``{mis_pin}`` (MTB-01), never with the SPIFFE bundle it is fetching.

Per-scenario variants are set on the running service (``discovery``, ``bundle``, ``missing``, ``untrusted``):
an ``http://`` trustBundleUri, an empty or jwt-only bundle, {R1,R2}, {R2}, and an origin certificate from a CA
the device was never given. Every request and every failed handshake is an ``Observation`` (route ``discovery``
or ``bundle``) in ``observations``: evidence for the report, judged by ``checks.miaf_device``.

Standard library ``http.server`` on an ``ssl`` socket: a few requests per recording, no framework needed; the TLS
handshake happens in the handler thread (``do_handshake_on_connect=False``) so a silent client blocks nobody.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from ...evidence import CapturedRequest, CapturedResponse, TlsFacts
from ...pki import TestCA
from ..observe import Observation, ObservationLog
from ..transport import describe_handshake_error

DISCOVERY_PATH = "/.well-known/margo"
BUNDLE_PATH = "/bundle.json"
PROBLEM_BASE = "https://docs.margo.org/specification/problem-types#"
#: A member the discovery document does not define: a device MUST ignore it (MTB-04).
UNKNOWN_MEMBER = ("x-harness-note", "unknown members must be ignored")
_TIMEOUT_S = 5.0


def spki_pin(cert_der_or_obj: Any) -> str:
    """base64(SHA-256(DER SubjectPublicKeyInfo)): an RFC 7469 section 2.4 pin."""
    from cryptography import x509

    cert = cert_der_or_obj if isinstance(cert_der_or_obj, x509.Certificate) else \
        x509.load_der_x509_certificate(cert_der_or_obj)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


class TrustBundleService:
    """One HTTPS MIS origin on 127.0.0.1 (reached as ``localhost``); a context manager."""

    def __init__(self, trust_domain: str) -> None:
        self.trust_domain = trust_domain
        self.web_ca = TestCA("Margo Conformance MIS web CA")
        self.web_cert = self.web_ca.issue_server_cert("localhost")
        self._impostor_ca: TestCA | None = None
        self.observations = ObservationLog()
        self._lock = threading.Lock()
        self.discovery: dict[str, Any] | None = None
        self.bundle: dict[str, Any] | None = None
        #: "discovery" / "bundle": answer 404 problem+json for that document.
        self.missing: set[str] = set()
        #: True: present a certificate from a CA the device was never given (MTB-01).
        self.untrusted = False
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = _TIMEOUT_S

            def setup(self) -> None:
                self.request.settimeout(_TIMEOUT_S)
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    service._handshake_failed(self.client_address, exc)
                    raise _Abandon() from None
                super().setup()

            def handle(self) -> None:
                try:
                    super().handle()
                except (ssl.SSLError, OSError):
                    pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                service._serve(self)

            def do_POST(self) -> None:  # noqa: N802
                service._serve(self)

            do_PUT = do_DELETE = do_HEAD = do_POST

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, addr = self.socket.accept()
                return service._context().wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a refused handshake is recorded by the handler; nothing else to say

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"mis-{self.port}", daemon=True)
        self._contexts: dict[bool, ssl.SSLContext] = {}

    # ------------------------------------------------------------------ addresses and trust material
    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def discovery_url(self) -> str:
        return self.origin + DISCOVERY_PATH

    @property
    def bundle_url(self) -> str:
        return self.origin + BUNDLE_PATH

    def write_ca(self, path: Path) -> Path:
        return self.web_ca.write_cert_pem(path)

    @property
    def pin(self) -> str:
        """The pin of the origin's own leaf key (what ``{mis_pin}`` carries)."""
        return spki_pin(self.web_cert.cert)

    def _context(self) -> ssl.SSLContext:
        untrusted = self.untrusted
        ctx = self._contexts.get(untrusted)
        if ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if untrusted:
                if self._impostor_ca is None:
                    self._impostor_ca = TestCA("Margo Conformance impostor MIS web CA")
                self._impostor_ca.issue_server_cert("localhost").configure_cert(ctx)
            else:
                self.web_cert.configure_cert(ctx)
            self._contexts[untrusted] = ctx
        return ctx

    # ------------------------------------------------------------------ per-recording state
    def reset(self, bundle: dict[str, Any]) -> None:
        """A fresh scenario: the nominal discovery document, ``bundle``, a trusted origin, an empty log."""
        with self._lock:
            self.discovery = {"trustDomain": self.trust_domain, "trustBundleUri": self.bundle_url,
                              UNKNOWN_MEMBER[0]: UNKNOWN_MEMBER[1]}
            self.bundle = bundle
            self.missing = set()
            self.untrusted = False
        self.observations = ObservationLog()

    def set_bundle(self, bundle: dict[str, Any]) -> None:
        with self._lock:
            self.bundle = bundle

    def set_discovery(self, document: dict[str, Any]) -> None:
        with self._lock:
            self.discovery = document

    # ------------------------------------------------------------------ serving
    def _document(self, path: str) -> tuple[str, dict[str, Any] | None]:
        with self._lock:
            if path == DISCOVERY_PATH:
                return "discovery", None if "discovery" in self.missing else self.discovery
            if path == BUNDLE_PATH:
                return "bundle", None if "bundle" in self.missing else self.bundle
        return "", None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.time()
        path = handler.path.split("?", 1)[0]
        route, document = self._document(path)
        length = int(handler.headers.get("content-length") or 0)
        body_in = handler.rfile.read(min(length, 65536)) if length else b""
        headers: list[tuple[str, str]] = []
        if handler.command != "GET" or not route:
            status, body = (405 if route else 404), self._problem(None, 405 if route else 404)
            headers.append(("content-type", "application/problem+json"))
        elif document is None:
            name = "discovery-document-not-found" if route == "discovery" else "spiffe-bundle-not-found"
            status, body = 404, self._problem(name, 404)
            headers.append(("content-type", "application/problem+json"))
        else:
            body = json.dumps(document, separators=(",", ":")).encode()
            etag = _etag(body)
            headers.append(("etag", etag))
            if handler.headers.get("if-none-match", "").strip() == etag:
                status, body = 304, b""
            else:
                status = 200
                headers.append(("content-type", "application/json"))
        headers += [("content-length", str(len(body))), ("cache-control", "no-store")]
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        sslobj = handler.connection
        tls = TlsFacts(version=sslobj.version(), alpn=sslobj.selected_alpn_protocol(),
                       cipher=(sslobj.cipher() or (None,))[0]) if isinstance(sslobj, ssl.SSLSocket) else None
        self.observations.record(Observation(
            request=CapturedRequest(method=handler.command, url=self.origin + handler.path,
                                    headers=list(handler.headers.items()), body=body_in, target=handler.path,
                                    http_version=handler.request_version),
            response=CapturedResponse(status=status, headers=headers, body=body), tls=tls, started_at=started,
            elapsed_s=round(time.time() - started, 4), route=route or None,
            peer=f"{handler.client_address[0]}:{handler.client_address[1]}",
            note=f"MIS origin ({'impostor certificate' if self.untrusted else 'MIS web CA'})"))

    def _problem(self, name: str | None, status: int) -> bytes:
        doc = {"type": PROBLEM_BASE + name if name else "about:blank", "title": "Not Found" if status == 404
               else "Method Not Allowed", "status": status}
        return json.dumps(doc).encode()

    def _handshake_failed(self, address: Any, exc: BaseException) -> None:
        reason = describe_handshake_error(exc)
        self.observations.record(Observation(
            request=CapturedRequest(method="", url=""), kind="tls-failure", tls=TlsFacts(error=reason),
            error=f"TLS handshake with the MIS origin failed: {reason}", peer=f"{address[0]}:{address[1]}",
            note=f"MIS origin ({'impostor certificate' if self.untrusted else 'MIS web CA'})"))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TrustBundleService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TrustBundleService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Abandon(Exception):
    """The TLS handshake failed: drop the connection (already recorded)."""
