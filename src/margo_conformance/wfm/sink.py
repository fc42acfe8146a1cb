"""A loopback HTTP sink: a URL nothing should ever fetch, and the record of every fetch that happened anyway.

The device-role MIAF suite points a problem ``type`` (MERR-07: an opaque identifier, never dereferenced) and the
AIA ``caIssuers`` of W-AIA (SVID-09: no out-of-band retrieval of intermediates) at this sink. Any request that
reaches it is evidence of a defect; it answers 404 so that a device that fetched learns nothing useful.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: How long the sink waits for a request line before dropping a connection (no hang on a silent peer).
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SinkHit:
    method: str
    path: str
    at: float

    def summary(self) -> str:
        return f"{self.method} {self.path}"


class HttpSink:
    """``with HttpSink() as sink: sink.url("problems/x")`` ... ``sink.hits()``; binds 127.0.0.1 only."""

    def __init__(self) -> None:
        hits: list[SinkHit] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT_S

            def _any(self) -> None:
                with lock:
                    hits.append(SinkHit(self.command, self.path, time.time()))
                self.send_response(404)
                self.send_header("content-length", "0")
                self.send_header("connection", "close")
                self.end_headers()

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = _any

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        self._hits, self._lock = hits, lock
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"http-sink-{self.port}", daemon=True)

    def start(self) -> HttpSink:
        self._thread.start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def hits(self) -> list[SinkHit]:
        with self._lock:
            return list(self._hits)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
