"""MiafWfmServer: the reference MIAF WFM on its own event loop in a background thread (in-process and ``serve``).

    authority = SpiffeAuthority()
    with MiafWfmServer(svid=authority.wfm_svid("wfm-h1"), bundle_pem=authority.bundle_pem(),
                       trust_domain="harness.test", wfm_id="wfm-h1") as wfm:
        wfm.operator.add_client(client_spiffe_id("harness.test", "wfm-h1", "c1"))
        wfm.base_url                                    # https://127.0.0.1:PORT

The machinery is the httpsig WFM's (``wfm/server.py``, ``wfm/transport.py``): uvicorn without ``ssl=``, our
protocol factory wrapping each connection in ``SSLProtocol`` with the *current* context (so a new trust bundle
applies to the next connection without a restart) and recording handshake failures. The listener re-reads the
bundle version from the store on every accepted connection, so ``wfm trust-bundle FILE --data-dir D`` from
another process takes effect too. ``observer`` sees every request (issue 20: the simulated WFM is this code).

The data directory holds ``miaf-wfm.sqlite3`` and, once the listener accepts, ``admin.json`` (base URL, SPIFFE
ID, bundle path; no secrets). Without ``data_dir`` a temporary directory is used and removed on ``stop()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, Literal

import uvicorn

from ...errors import ConfigError, HarnessError
from ...pki import IssuedCert
from ...pki.spiffe import SpiffeAuthority, SpiffeId, SpiffeIdError, wfm_spiffe_id
from ...profiles import load_profile
from ..observe import FaultPlan
from ..server import _bind, _PromptServer, _write_private
from ..transport import ConnectionInfo, Listener, describe_handshake_error
from . import defects as D
from .app import Exchange, MiafApp
from .store import MiafStore, PolicyEntry
from .tls import DEFAULT_TLS_VERSIONS, miaf_server_context

log = logging.getLogger("margo_conformance.wfm.miaf")

ADMIN_FILE = "admin.json"
BUNDLE_FILE = "bundle.pem"
DEFAULT_PROFILE_NAME = "miaf-rc3"
_START_TIMEOUT_S = 15.0


class MiafOperator:
    """The operator's hooks on one store: the accepted-client policy and the trust bundle."""

    def __init__(self, store: MiafStore, *, trust_domain: str | None = None, wfm_id: str | None = None,
                 on_bundle: Callable[[bytes], None] | None = None) -> None:
        self.store = store
        self.trust_domain = trust_domain
        self.wfm_id = wfm_id
        self._on_bundle = on_bundle

    def _checked(self, spiffe_id: str) -> str:
        try:
            sid = SpiffeId.parse(spiffe_id.strip())
        except SpiffeIdError as exc:
            raise ValueError(f"not a SPIFFE ID: {spiffe_id!r} ({exc})") from None
        seg = sid.segments
        if len(seg) != 5 or seg[:2] != ("margo", "wfm") or seg[3] != "client":
            raise ValueError(f"{spiffe_id!r} is not a WFM client ID spiffe://<td>/margo/wfm/<wfm-id>/client/<id>")
        if self.trust_domain is not None and sid.trust_domain != self.trust_domain:
            raise ValueError(f"{spiffe_id!r} is not of this WFM's trust domain {self.trust_domain}")
        if self.wfm_id is not None and seg[2] != self.wfm_id:
            raise ValueError(f"{spiffe_id!r} names wfm-id {seg[2]!r}, this WFM is {self.wfm_id!r}")
        return str(sid)

    def add_client(self, spiffe_id: str) -> PolicyEntry:
        """Put a client on the accepted-client policy (or re-activate a retired one)."""
        return self.store.set_policy(self._checked(spiffe_id), "active")

    def retire_client(self, spiffe_id: str) -> PolicyEntry:
        """Retire a client: its next request (even on an open connection) gets 403 not-authorized (MID-12)."""
        return self.store.set_policy(self._checked(spiffe_id), "retired")

    def set_trust_bundle(self, pem: bytes) -> int:
        """Replace the anchors (never merge, MTB-02); applies to new connections. Returns the bundle version."""
        check_bundle(pem)
        version = self.store.set_trust_bundle(pem)
        if self._on_bundle is not None:
            self._on_bundle(pem)
        return version

    def set_policy_mode(self, mode: str) -> None:
        self.store.set_policy_mode(mode)

    def set_maintenance(self, on: bool) -> None:
        """Maintenance mode: every MI request of an accepted client gets 503 with Retry-After (MRTY-02)."""
        self.store.set_maintenance(on)

    def set_rate_limit(self, per_second: int | None) -> None:
        """At most ``per_second`` requests per client in any one second; the excess gets 429 (MRTY-01)."""
        self.store.set_rate_limit(per_second)

    def clients(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.store.policy()]


def check_bundle(pem: bytes) -> None:
    """PEM anchors only, at least one, each a CA certificate (ValueError otherwise)."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"the trust bundle is not PEM certificates ({exc})") from None
    for cert in certs:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ValueError(f"the trust bundle holds a non-CA certificate ({cert.subject.rfc4514_string()})")


class _BundleListener(Listener):
    """A Listener whose context follows the store's trust bundle (rebuilt when its version changes)."""

    def __init__(self, build: Callable[[bytes], ssl.SSLContext], store: MiafStore, **kwargs: Any) -> None:
        self._build = build
        self._store = store
        pem, self._version = store.trust_bundle()
        assert pem is not None
        super().__init__(build(pem), **kwargs)

    @property  # type: ignore[override]
    def ssl_context(self) -> ssl.SSLContext:
        try:
            pem, version = self._store.trust_bundle()
            if version != self._version and pem is not None:
                self._ssl_context, self._version = self._build(pem), version
        except Exception:  # a broken bundle from outside keeps the last good context
            log.exception("reloading the trust bundle failed; keeping the previous anchors")
        return self._ssl_context

    @ssl_context.setter
    def ssl_context(self, ctx: ssl.SSLContext) -> None:
        self._ssl_context = ctx

    def protocol_factory(self, config: Any, server_state: Any, app_state: dict[str, Any],
                         _loop: asyncio.AbstractEventLoop | None = None) -> asyncio.BaseProtocol:
        _ = self.ssl_context  # refresh before the base class reads the attribute
        return super().protocol_factory(config, server_state, app_state, _loop)


class MiafWfmServer:
    """The reference MIAF WFM (profile miaf-rc3 by default); a context manager. See the module docstring."""

    def __init__(self, *, svid: IssuedCert, bundle_pem: bytes, trust_domain: str, wfm_id: str,
                 data_dir: Path | str | None = None, host: str = "127.0.0.1", port: int = 0,
                 defects: Iterable[str] = (), policy_mode: Literal["allowlist", "namespace"] = "allowlist",
                 tls_versions: Collection[str] = DEFAULT_TLS_VERSIONS, profile: str = DEFAULT_PROFILE_NAME,
                 authority: SpiffeAuthority | None = None,
                 observer: Callable[[Exchange], None] | None = None, rate_limit: int | None = None) -> None:
        self.profile = load_profile(profile)
        if self.profile.authenticator != "mtls-svid":
            raise ConfigError(f"profile {profile} authenticates by {self.profile.authenticator!r}; "
                              "this server speaks mtls-svid")
        self.defects = frozenset(defects)
        unknown = sorted(self.defects - D.DEFECT_NAMES)
        if unknown:
            raise ConfigError(f"unknown MIAF WFM defect(s) {', '.join(unknown)}; known: {', '.join(sorted(D.DEFECT_NAMES))}")
        self.trust_domain, self.wfm_id = trust_domain, wfm_id
        self.spiffe_id = wfm_spiffe_id(trust_domain, wfm_id)
        self.host, self._requested_port = host, port
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="margo-miaf-wfm-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.svid = self._presented_svid(svid, authority)
        self.tls_versions = tuple(tls_versions)
        check_bundle(bundle_pem)
        self.store = MiafStore.in_dir(self.data_dir)
        self.store.set_policy_mode(policy_mode)
        self.store.set_identity(trust_domain, wfm_id)
        self.store.set_trust_bundle(bundle_pem)  # the bundle the server starts with is the truth until replaced
        self.store.set_rate_limit(rate_limit)
        self.store.set_maintenance(False)
        self.operator = MiafOperator(self.store, trust_domain=trust_domain, wfm_id=wfm_id)
        #: Injected behaviour for device-role runs (503 + Retry-After, canned answers, delays, drops): issue 20.
        self.faults = FaultPlan()
        self.app = MiafApp(profile=self.profile, store=self.store, trust_domain=trust_domain, wfm_id=wfm_id,
                           defects=self.defects, observer=observer, faults=self.faults)
        self.listener = _BundleListener(self._context, self.store, on_handshake_failure=self._on_handshake_failure)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.port = 0

    def _presented_svid(self, svid: IssuedCert, authority: SpiffeAuthority | None) -> IssuedCert:
        if D.SERVER_SVID_WRONG_WFM_ID not in self.defects:
            return svid
        if authority is None:
            raise ConfigError(f"defect {D.SERVER_SVID_WRONG_WFM_ID} needs the SpiffeAuthority (authority=...) to mint "
                              "an SVID of another wfm-id")
        return authority.wfm_svid("other-wfm" if self.wfm_id != "other-wfm" else "other-wfm-2")

    def _context(self, bundle_pem: bytes) -> ssl.SSLContext:
        return miaf_server_context(self.svid, bundle_pem, tls_versions=self.tls_versions, defects=self.defects)

    def _on_handshake_failure(self, info: ConnectionInfo, exc: BaseException) -> None:
        try:
            self.store.audit(method="TLS", path="", status=None, check="tls-handshake", caller=None,
                             remote=info.peer, note=describe_handshake_error(exc)[:500])
        except Exception:
            log.exception("audit of a handshake failure failed")

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> MiafWfmServer:
        if self._thread is not None:
            raise HarnessError("the MIAF WFM is already running")
        sock = _bind(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"miaf-wfm-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S) or self._error is not None:
            self.stop()
            raise HarnessError(f"the MIAF WFM did not start: {self._error or 'timeout'}")
        bundle = self.data_dir / BUNDLE_FILE
        if not bundle.exists():
            bundle.write_bytes(self.store.trust_bundle()[0] or b"")
        _write_private(self.data_dir / ADMIN_FILE, json.dumps(
            {"base_url": self.base_url, "spiffe_id": self.spiffe_id, "profile": self.profile.name,
             "policy_mode": self.store.policy_mode(), "bundle_file": str(bundle),
             "defects": sorted(self.defects)}, indent=2).encode())
        return self

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            log.exception("MIAF WFM server thread failed")
        finally:
            self._started.set()
            sock.close()
            loop.close()

    async def _serve(self, sock: socket.socket) -> None:
        config = uvicorn.Config(self.app, http=self.listener.protocol_factory, lifespan="off", log_config=None,
                                access_log=False, server_header=False, proxy_headers=False, date_header=True,
                                timeout_graceful_shutdown=3, timeout_keep_alive=30)
        server = self._server = _PromptServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                raise HarnessError("the MIAF WFM listener stopped during startup")
            await asyncio.sleep(0.005)
        self._started.set()
        await task

    async def _close_idle(self) -> int:
        return self.listener.close_idle()

    def stop(self) -> None:
        loop, thread, server = self._loop, self._thread, self._server
        if thread is not None and loop is not None and thread.is_alive() and server is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._close_idle(), loop).result(timeout=5)
            except Exception:
                pass
            server.should_exit = True
            loop.call_soon_threadsafe(server.wake)
            thread.join(timeout=10)
        self._thread = None
        try:
            self.store.close()
        except Exception:
            log.exception("closing the MIAF WFM store failed")
        if self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> MiafWfmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<MiafWfmServer {self.base_url} {self.spiffe_id} data_dir={self.data_dir}>"
