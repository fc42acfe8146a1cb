"""Test helpers for the reference MIAF device: a tiny HTTPS/HTTP origin for discovery and bundles, and a sink."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from margo_conformance.pki import IssuedCert


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    status: int = 200
    content_type: str = "application/json"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Origin:
    """Serves ``routes`` (path -> Resource) over HTTPS (with ``cert``) or plain HTTP on 127.0.0.1; records
    every request; ``If-None-Match`` equal to the ETag -> 304."""

    cert: IssuedCert | None = None
    routes: dict[str, Resource] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                origin.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                res = origin.routes.get(self.path)
                if res is None:
                    self._send(404, b'{"type":"about:blank","title":"Not Found","status":404}',
                               "application/problem+json", None)
                elif res.etag is not None and self.headers.get("If-None-Match") == res.etag:
                    self._send(304, b"", None, res.etag)
                else:
                    self._send(res.status, res.body, res.content_type, res.etag)

            def _send(self, status: int, body: bytes, ctype: str | None, etag: str | None) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.cert.configure_cert(ctx)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.cert is not None else 'http'}://localhost:{self.port}"

    def json(self, path: str, doc: Any, *, etag: str | None = None, status: int = 200) -> None:
        self.routes[path] = Resource(json.dumps(doc).encode(), etag, status)

    def gets(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def __enter__(self) -> Origin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
