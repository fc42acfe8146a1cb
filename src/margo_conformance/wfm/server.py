"""WfmServer: the WFM on its own event loop in a background thread; the in-process fixture and ``serve``.

    with WfmServer(ca=ca) as wfm:                # 127.0.0.1, ephemeral port, TLS 1.3, observing
        wfm.base_url                             # https://127.0.0.1:PORT (plus the configured prefix)
        wfm.observations.wait_for_request("onboarding", timeout=10)
        wfm.faults.unavailable(retry_after=5)
        wfm.reconfigure_tls("expired")           # next connection presents an expired certificate

One uvicorn server serves the API over TLS through our protocol factory (``transport.py``); a second one
serves the admin endpoint on 127.0.0.1 over plain HTTP. Both share one event loop in one thread, so a test
process pays one thread per server. ``start()`` returns when both listen; ``stop()`` closes idle keep-alive
connections, lets running requests finish (up to 3 s) and closes the store.

The data directory holds ``wfm.sqlite3``, ``ca.pem`` (the root CA, for out-of-band delivery), ``tls/`` (the
server chain and key, mode 0600) and ``admin.json`` (admin URL and token, mode 0600). Without ``data_dir``
the server uses a temporary directory and deletes it on ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

import uvicorn

from ..errors import ConfigError, HarnessError
from ..evidence import CapturedRequest, TlsFacts
from ..pki import CertDefect, IssuedCert, TestCA
from . import defects as D
from .app import build_app
from .config import WfmConfig
from .observe import FaultPlan, Observation, ObservationLog
from .operator import Operator, build_admin_app
from .service import WfmService
from .store import AuditEntry, Store
from .tls import ServerIdentity, TlsVersionName, client_context, server_context
from .transport import ConnectionInfo, Listener, describe_handshake_error

log = logging.getLogger("margo_conformance.wfm")

ServerCertChoice = Literal["valid", "untrusted-ca", "expired", "not-yet-valid", "wrong-host", "missing-intermediate"]
SERVER_CERT_CHOICES: tuple[str, ...] = ("valid", "untrusted-ca", "expired", "not-yet-valid", "wrong-host",
                                        "missing-intermediate")
CA_FILE = "ca.pem"
ADMIN_FILE = "admin.json"
_START_TIMEOUT_S = 15.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the proto says TCP
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.setblocking(False)
    return sock


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


class _PromptServer(uvicorn.Server):
    """uvicorn's main loop looks at ``should_exit`` every 0.1 s; this one also wakes at once when ``stop`` asks,
    so starting and stopping a server per test (hundreds of times in the unit tests) costs no idle wait."""

    _wake_event: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake_event = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            try:
                await asyncio.wait_for(self._wake_event.wait(), 0.1)
            except asyncio.TimeoutError:
                pass
            should_exit = await self.on_tick(counter)

    def wake(self) -> None:
        """Called on the server's loop: end the main loop now."""
        self.should_exit = True
        if self._wake_event is not None:
            self._wake_event.set()


class WfmServer:
    """The WFM server (simulated or reference); a context manager. See the module docstring."""

    def __init__(self, config: WfmConfig | None = None, *, ca: TestCA | None = None,
                 data_dir: Path | str | None = None, host: str = "127.0.0.1", port: int = 0,
                 admin_port: int = 0, hosts: tuple[str, ...] = (), observe: bool | None = None) -> None:
        config = config or WfmConfig(observe=True)
        if observe is not None:
            config = config.with_(observe=observe)
        self.config = config
        self.host, self._requested_port, self._admin_port = host, port, admin_port
        self._extra_hosts = tuple(h for h in (host, *hosts) if h not in ("0.0.0.0", "::", ""))
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="margo-wfm-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ca: TestCA | None = ca
        self.identity = self._identity(ca)
        self.ca_file = self.data_dir / CA_FILE
        self.ca_file.write_bytes(self.identity.root_pem())
        self.store = Store.in_dir(self.data_dir)
        self.operator = Operator(self.store)
        self.observations: ObservationLog | None = ObservationLog() if config.observe else None
        self.faults = FaultPlan()
        self.service = WfmService(config, self.store, self.identity.root, observations=self.observations,
                                  faults=self.faults)
        self.admin_token = secrets.token_urlsafe(32)
        self._variants: dict[str, IssuedCert] = {}
        self._foreign_ca: TestCA | None = None
        self._tls_choice = "valid"
        self.listener = Listener(self._context_for(self._presented_chain("valid")),
                                 on_handshake_failure=self._on_handshake_failure,
                                 on_protocol_error=self._on_protocol_error)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[uvicorn.Server] = []
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.port = 0
        self.admin_url = ""

    # ------------------------------------------------------------------ identity and TLS
    def _identity(self, ca: TestCA | None) -> ServerIdentity:
        if ca is None and not self._own_data_dir:
            loaded = ServerIdentity.load(self.data_dir)
            if loaded is not None:
                missing = [h for h in self._extra_hosts if not loaded.covers(h)]
                if missing:
                    log.warning("the saved server certificate does not cover %s; start with a fresh data dir "
                                "to issue a new one", ", ".join(missing))
                return loaded
        if ca is None:
            ca = TestCA("Margo Conformance WFM Root CA", intermediate=True)
            self.ca = ca
        identity = ServerIdentity.issue(ca, self._extra_hosts)
        if not self._own_data_dir:
            identity.save(self.data_dir)
        return identity

    def _presented_chain(self, choice: str) -> IssuedCert:
        """The chain the TLS server presents for a named behaviour (see ``reconfigure_tls``)."""
        if self.config.has(D.SERVER_CHAIN_FOREIGN) and choice == "valid":
            choice = "untrusted-ca"
        if choice == "valid":
            return self.identity.chain
        if choice not in SERVER_CERT_CHOICES:
            raise ConfigError(f"server certificate choice must be one of {SERVER_CERT_CHOICES}, not {choice!r}")
        if choice not in self._variants:
            self._variants[choice] = self._issue_variant(choice)
        return self._variants[choice]

    def _issue_variant(self, choice: str) -> IssuedCert:
        hosts = tuple(dict.fromkeys(("localhost", "127.0.0.1", "::1", *self._extra_hosts)))
        if choice == "untrusted-ca":
            if self._foreign_ca is None:
                self._foreign_ca = TestCA("Unrelated CA (not the WFM root)")
            return self._foreign_ca.issue_server_cert(*hosts)
        if choice == "missing-intermediate":
            chain = self.identity.chain
            if not chain.chain:
                raise HarnessError("missing-intermediate needs a CA with an intermediate (TestCA(intermediate=True))")
            return IssuedCert(chain.cert, chain.key, ())
        if self.ca is None:
            raise HarnessError(f"server certificate {choice!r} needs the TestCA; this server loaded its identity "
                               "from disk")
        defect = {"expired": CertDefect.EXPIRED, "not-yet-valid": CertDefect.NOT_YET_VALID,
                  "wrong-host": CertDefect.WRONG_HOST}[choice]
        return self.ca.issue_server_cert(*hosts, defect=defect)

    def _context_for(self, chain: IssuedCert, *, min_version: TlsVersionName | None = None,
                     max_version: TlsVersionName | None = None) -> ssl.SSLContext:
        minimum = min_version or ("1.2" if self.config.has(D.TLS12_ACCEPTED) else self.config.tls_min)
        require = self.identity.root if self.config.has(D.TLS_CLIENT_CERT_REQUIRED) else None
        return server_context(chain, min_version=minimum, max_version=max_version, require_client_cert_from=require)

    def reconfigure_tls(self, server_cert: ServerCertChoice | IssuedCert = "valid", *,
                        min_version: TlsVersionName | None = None, max_version: TlsVersionName | None = None,
                        close_connections: bool = True) -> None:
        """Change what the next TLS handshakes see: the presented chain ("valid", "untrusted-ca", "expired",
        "not-yet-valid", "wrong-host", "missing-intermediate", or any IssuedCert) and the version range
        (TLS 1.2 only: ``min_version="1.2", max_version="1.2"``). Variants are issued once and cached.
        ``close_connections`` closes idle keep-alive connections so the device must handshake again."""
        chain = server_cert if isinstance(server_cert, IssuedCert) else self._presented_chain(server_cert)
        self.listener.ssl_context = self._context_for(chain, min_version=min_version, max_version=max_version)
        self._tls_choice = server_cert if isinstance(server_cert, str) else "custom"
        if close_connections and self._loop is not None and self._started.is_set():
            future = asyncio.run_coroutine_threadsafe(self._close_idle(), self._loop)
            future.result(timeout=5)

    def reset_tls(self) -> None:
        self.reconfigure_tls("valid")

    async def _close_idle(self) -> int:
        return self.listener.close_idle()

    def client_ssl_context(self, *, min_version: TlsVersionName | None = None,
                           max_version: TlsVersionName | None = None) -> ssl.SSLContext:
        """A client context that trusts only this server's root CA (for tests and tools)."""
        return client_context(self.identity.root, min_version=min_version, max_version=max_version)

    def reset(self, *, store: bool = True) -> None:
        """Back to a fresh simulated WFM between scenarios: no faults, the valid chain, an empty observation
        log, and (``store``) no clients, capabilities or trust entries."""
        self.faults.clear()
        self.reset_tls()
        if self.observations is not None:
            self.observations.clear()
        if store:
            self.store.clear()

    # ------------------------------------------------------------------ observation hooks
    def _on_handshake_failure(self, info: ConnectionInfo, exc: BaseException) -> None:
        reason = describe_handshake_error(exc)
        self.store.audit(AuditEntry(ts=time.time(), method="TLS", path="", status=None, check="tls-handshake",
                                    remote=info.peer, note=reason[:500]))
        if self.observations is not None:
            self.observations.record(Observation(
                request=CapturedRequest(method="", url=""), kind="tls-failure",
                tls=TlsFacts(error=reason, client_cert_requested=self.config.has(D.TLS_CLIENT_CERT_REQUIRED)),
                error=f"TLS handshake failed: {reason}", connection_id=info.id, peer=info.peer,
                started_at=info.opened_at, note=f"server certificate: {self._tls_choice}"))

    def _on_protocol_error(self, info: ConnectionInfo, message: str) -> None:
        self.store.audit(AuditEntry(ts=time.time(), method="?", path="", status=400, check="http-syntax",
                                    remote=info.peer, note=message[:500]))
        if self.observations is not None:
            self.observations.record(Observation(
                request=CapturedRequest(method="", url=""), kind="protocol-error", tls=info.tls,
                error=f"not a valid HTTP/1.1 request: {message}", connection_id=info.id, peer=info.peer,
                check="http-syntax"))

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """What a device is given: the configured external base URL, or https://HOST:PORT + prefix."""
        if self.config.base_url is not None:
            return self.config.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "localhost"
        return f"https://{host}:{self.port}{self.config.prefix}"

    def start(self) -> WfmServer:
        if self._thread is not None:
            raise HarnessError("WFM server already started")
        (self.data_dir / ADMIN_FILE).unlink(missing_ok=True)  # a previous server's file would say "ready" too soon
        sock = _bind(self.host, self._requested_port)
        admin_sock = _bind("127.0.0.1", self._admin_port)
        self.port = sock.getsockname()[1]
        self.admin_url = f"http://127.0.0.1:{admin_sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, args=(sock, admin_sock), name=f"wfm-{self.port}",
                                        daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise HarnessError(f"the WFM server did not start: {self._error!r}")
        # Written once both listeners accept: other processes (the load mode's builtin WFM, scripts) wait for
        # this file, and a file written at bind time sent them a "connection refused" under load.
        _write_private(self.data_dir / ADMIN_FILE, json.dumps(
            {"admin_url": self.admin_url, "token": self.admin_token, "base_url": self.base_url,
             "ca_file": str(self.ca_file)}, indent=2).encode())
        return self

    def _run(self, sock: socket.socket, admin_sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock, admin_sock))
        except BaseException as exc:  # noqa: BLE001 - reported to start()/stop()
            self._error = exc
            log.exception("WFM server thread failed")
        finally:
            self._started.set()
            sock.close()
            admin_sock.close()
            loop.close()

    async def _serve(self, sock: socket.socket, admin_sock: socket.socket) -> None:
        common: dict[str, Any] = dict(lifespan="off", log_config=None, access_log=False, server_header=False,
                                      proxy_headers=False,
                                      date_header=True, timeout_graceful_shutdown=3, timeout_keep_alive=30)
        main = _PromptServer(uvicorn.Config(build_app(self.service), http=self.listener.protocol_factory, **common))
        admin = _PromptServer(uvicorn.Config(build_admin_app(self.operator, self.admin_token), http="h11", **common))
        self._servers = [main, admin]
        tasks = [asyncio.create_task(main.serve(sockets=[sock])), asyncio.create_task(admin.serve(sockets=[admin_sock]))]
        while not all(s.started for s in self._servers):
            done = [t for t in tasks if t.done()]
            if done:
                for t in done:
                    t.result()  # raises the startup error
                raise HarnessError("a WFM listener stopped during startup")
            await asyncio.sleep(0.005)
        self._started.set()
        await asyncio.gather(*tasks)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if thread is not None and loop is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._close_idle(), loop).result(timeout=5)
            except Exception:  # the loop may already be closing
                pass
            for server in self._servers:
                server.should_exit = True
                loop.call_soon_threadsafe(server.wake)
            thread.join(timeout=10)
        self._thread = None
        try:
            self.store.close()
        except Exception:
            log.exception("closing the WFM store failed")
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> WfmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<WfmServer {self.base_url} data_dir={self.data_dir}>"
