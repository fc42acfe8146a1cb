"""uvicorn over TLS with our own protocol factory: swappable certificates, handshake failures, raw headers.

uvicorn takes an SSL context only through file paths in ``Config`` and wraps every accepted socket inside
the event loop, where a failed handshake is logged at debug level and otherwise vanishes. The simulated WFM
needs more: a device that refuses our certificate must show up as evidence, the certificate must change
between scenarios without a restart, and the request headers must be seen with their original case. So the
server is started *without* ``ssl=`` and uvicorn's ``http`` protocol class is replaced by a factory that, per
accepted connection:

1. creates the HTTP protocol (a subclass of uvicorn's ``H11Protocol``) that keeps the raw header list of the
   current request and hands a ``ConnectionInfo`` to the ASGI app through ``scope["extensions"]``;
2. wraps it in ``asyncio.sslproto.SSLProtocol`` (what ``loop.create_server(ssl=...)`` does internally) with
   the *current* SSL context, and keeps the handshake waiter, whose exception is the handshake failure.

``SSLProtocol`` lives in ``asyncio.sslproto``, which CPython does not document as public; its constructor has
been stable since 3.11 and the transport tests exercise it (a handshake failure is recorded, a good
handshake serves), so a change there fails loudly.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import threading
import time
from asyncio import sslproto
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..evidence import TlsFacts

HANDSHAKE_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 2.0
CONNECTION_EXTENSION = "margo.connection"


@dataclass
class ConnectionInfo:
    """One accepted TCP connection: who, over which TLS, and the raw head of its current request."""

    id: int
    opened_at: float = field(default_factory=time.time)
    peer: str | None = None
    tls: TlsFacts | None = None
    #: Header fields of the request being served, names in their original case (latin-1 text).
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    http_version: str = "1.1"
    requests: int = 0
    closed: bool = False
    transport: asyncio.Transport | None = field(default=None, repr=False)
    protocol: MargoH11Protocol | None = field(default=None, repr=False)
    _closed_event: asyncio.Event | None = field(default=None, repr=False)

    async def wait_closed(self, timeout: float) -> bool:
        if self.closed:
            return True
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        try:
            await asyncio.wait_for(self._closed_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def mark_closed(self) -> None:
        self.closed = True
        if self._closed_event is not None:
            self._closed_event.set()


class MargoH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus: raw header capture, a ConnectionInfo in the scope, and a
    problem+json 400 for bytes that are not HTTP (instead of uvicorn's text/plain)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], *, info: ConnectionInfo,
                 listener: Listener) -> None:
        super().__init__(config, server_state, app_state)
        self._info = info
        self._listener = listener
        info.protocol = self
        inner_app = self.app

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope["extensions"] = {**(scope.get("extensions") or {}), CONNECTION_EXTENSION: info}
            await inner_app(scope, receive, send)

        self.app = app
        next_event = self.conn.next_event

        def next_event_capturing() -> Any:
            event = next_event()
            if isinstance(event, h11.Request):
                info.raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()]
                info.http_version = event.http_version.decode("ascii", "replace")
                info.requests += 1
            return event

        self.conn.next_event = next_event_capturing  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._info.transport = transport
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None:
            cipher = sslobj.cipher()
            self._info.tls = TlsFacts(
                version=sslobj.version(), cipher=cipher[0] if cipher else None,
                alpn=sslobj.selected_alpn_protocol(),
                client_cert_requested=sslobj.context.verify_mode != ssl.CERT_NONE)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._info.mark_closed()
        self._listener.forget(self._info)

    def send_400_response(self, msg: str) -> None:
        body = (b'{"type":"https://docs.margo.org/specification/problems/invalid-request","title":"Invalid Request",'
                b'"status":400,"detail":"the bytes received are not a valid HTTP/1.1 request"}')
        head = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
                b"x-margo-check: http-syntax\r\nconnection: close\r\ncontent-length: " + str(len(body)).encode()
                + b"\r\n\r\n")
        self.transport.write(head + body)
        self.transport.close()
        self._listener.protocol_error(self._info, msg)


class _ObservedSSLProtocol(sslproto.SSLProtocol):
    """The loop's server-side TLS protocol, remembering the peer address for the failure record, and
    coalescing the writes of one loop iteration (uvicorn writes a response head and body separately) into
    one TLS record and one send: half the records, syscalls and client wake-ups per response."""

    def __init__(self, *args: Any, info: ConnectionInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._margo_info = info
        self._margo_flush_pending = False

    def _write_appdata(self, list_of_data: Any) -> None:
        if self._state != sslproto.SSLProtocolState.WRAPPED:
            super()._write_appdata(list_of_data)
            return
        for data in list_of_data:
            self._write_backlog.append(data)
            self._write_buffer_size += len(data)
        if not self._margo_flush_pending:
            self._margo_flush_pending = True
            self._loop.call_soon(self._margo_flush)

    def _margo_flush(self) -> None:
        self._margo_flush_pending = False
        if self._state != sslproto.SSLProtocolState.WRAPPED or not self._write_backlog:
            return
        if len(self._write_backlog) > 1:
            joined = b"".join(bytes(d) for d in self._write_backlog)
            self._write_backlog.clear()
            self._write_backlog.append(joined)
        try:
            self._do_write()
        except Exception as exc:  # what the base class does with a write failure
            self._fatal_error(exc, "Fatal error on SSL protocol")

    def _start_shutdown(self) -> None:
        if self._margo_flush_pending:  # a response written just before close() must go out first
            self._margo_flush()
        super()._start_shutdown()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # no Nagle: the response head and body are separate TLS records
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        if peer:
            self._margo_info.peer = f"{peer[0]}:{peer[1]}"
        super().connection_made(transport)


class Listener:
    """Owns the SSL context new connections get, and the registry of open connections."""

    def __init__(self, ssl_context: ssl.SSLContext, *,
                 on_handshake_failure: Callable[[ConnectionInfo, BaseException], None] | None = None,
                 on_protocol_error: Callable[[ConnectionInfo, str], None] | None = None) -> None:
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.connections: dict[int, ConnectionInfo] = {}
        self.on_handshake_failure = on_handshake_failure
        self.on_protocol_error = on_protocol_error
        #: Called with each connection whose handshake completed (its TLS facts and transport are set):
        #: the device-role MIAF WFM records the client leaf of every connection (issue 20).
        self.on_handshake: Callable[[ConnectionInfo], None] | None = None
        self.handshake_failures = 0

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self._ssl_context

    @ssl_context.setter
    def ssl_context(self, ctx: ssl.SSLContext) -> None:
        """Takes effect for the next accepted connection (open ones keep theirs)."""
        self._ssl_context = ctx

    def protocol_factory(self, config: Any, server_state: Any, app_state: dict[str, Any],
                         _loop: asyncio.AbstractEventLoop | None = None) -> asyncio.BaseProtocol:
        """What uvicorn calls for each accepted connection (it is passed as ``Config(http=...)``)."""
        loop = _loop or asyncio.get_running_loop()
        info = ConnectionInfo(id=next(self._ids))
        with self._lock:
            self.connections[info.id] = info
        app_protocol = MargoH11Protocol(config, server_state, app_state, info=info, listener=self)
        waiter = loop.create_future()
        waiter.add_done_callback(lambda fut: self._handshake_done(info, fut))
        return _ObservedSSLProtocol(loop, app_protocol, self._ssl_context, waiter, server_side=True,
                                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
                                    ssl_shutdown_timeout=SHUTDOWN_TIMEOUT_S, info=info)

    def _handshake_done(self, info: ConnectionInfo, fut: asyncio.Future[Any]) -> None:
        exc = None if fut.cancelled() else fut.exception()  # retrieving it keeps asyncio quiet
        if exc is None:
            if self.on_handshake is not None and not fut.cancelled():
                self.on_handshake(info)
            return
        self.handshake_failures += 1
        info.mark_closed()
        self.forget(info)
        if self.on_handshake_failure is not None:
            self.on_handshake_failure(info, exc)

    def protocol_error(self, info: ConnectionInfo, message: str) -> None:
        if self.on_protocol_error is not None:
            self.on_protocol_error(info, message)

    def forget(self, info: ConnectionInfo) -> None:
        with self._lock:
            self.connections.pop(info.id, None)

    def close_idle(self) -> int:
        """Close keep-alive connections that are not serving a request (e.g. after a TLS change, so the
        device's next request needs a new handshake). Must run on the server's loop."""
        with self._lock:
            infos = list(self.connections.values())
        closed = 0
        for info in infos:
            proto = info.protocol
            if proto is None or info.transport is None:
                continue
            if proto.cycle is None or proto.cycle.response_complete:
                info.transport.abort() if hasattr(info.transport, "abort") else info.transport.close()
                closed += 1
        return closed


def describe_handshake_error(exc: BaseException) -> str:
    """A one-line reason: the TLS alert or library reason when there is one."""
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        text = str(exc)
        return f"{reason}: {text}" if reason and reason not in text else text
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return f"connection closed before the TLS handshake completed ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return "TLS handshake timed out"
    return f"{type(exc).__name__}: {exc}"
