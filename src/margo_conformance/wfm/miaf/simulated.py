"""The simulated MIAF WFM of the device role: the harness plays the WFM, the MIS and a sink against one device.

One ``SimulatedMiafWfm`` is one worker's *slot* (``observatory.Observatory``): its own SPIFFE authority (the harness
is the MIS of ``harness.test``, Q-40), trust-bundle service (``bundle_service``) and HTTP sink (``wfm.sink``) for
the whole run, and for each recording a fresh ``MiafWfmServer`` (the reference MIAF WFM, with ``observer=`` and
``faults``) presenting the recording's W-* fixture, with the device's SPIFFE ID on its accepted-client policy.

What it records, as ``wfm.observe.Observation`` (so Allure and ``evidence/exchanges.har`` take them as they are):

- per connection: ``kind="tls-handshake"`` with the negotiated version, cipher, ALPN and the client leaf (DER,
  base64, in ``tls.peer_chain[0]``; Python 3.11 cannot read the rest of a client chain, so SVID-08 is judged from
  the handshake outcome) or ``kind="tls-failure"`` with the server-side reason ("unable to get local issuer
  certificate" for a leaf sent without its intermediate);
- per request: method, raw target, headers, body, HTTP version, the answer (status, headers, body) and when it was
  sent (``started_at + elapsed_s``: the retry timing of MRTY-06/08 is measured from there).

The MIS origin's requests are in ``bundle_service.observations``; the sink's fetches in ``sink.hits()``.
"""

from __future__ import annotations

import base64
from datetime import timedelta
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509

from ...errors import ConfigError, HarnessError
from ...evidence import CapturedRequest, CapturedResponse, TlsFacts
from ...pki.lint import describe_certificate
from ...pki.spiffe import DEFAULT_WFM_ID, TRUST_DOMAIN, SpiffeAuthority, Svid, client_spiffe_id, wfm_spiffe_id
from ..observe import Observation, ObservationLog
from ..sink import HttpSink
from ..transport import ConnectionInfo, describe_handshake_error
from .app import Exchange
from .bundle_service import TrustBundleService
from .server import MiafWfmServer

DEVICE_ID = "dut1"
CAPABILITIES_PREFIX = "/api/v1/capabilities/"
#: Labels the harness writes to ``{labels_file}``: the first, and the changed set (MCAP-02).
INITIAL_LABELS = {"org.margo-conformance/site": "lab-1"}
CHANGED_LABELS = {"org.margo-conformance/site": "lab-2"}


@dataclass
class MiafSetup:
    """How one recording's world is set up; the Given steps change it before the launch."""

    wfm_fixture: str = "W-OK"
    #: "default" (TLS 1.2 and 1.3), "1.2" (a TLS-1.2-only WFM, MTLS-05), "1.1" (capped at TLS 1.1, MTLS-06).
    tls: str = "default"
    #: The WFM's port: 0 (any free one) or 443 (MGEN-03: the device is given a URL without a port).
    port: int = 0
    #: The anchors the device starts with ({bundle_file}, {bundle_jwks}, the MIS bundle).
    rotation: str = "R1"
    #: The SPIFFE bundle the MIS serves first (None: the anchors of ``rotation``).
    bundle: dict[str, Any] | None = None
    refresh_hint: int | None = None
    #: Changes to the discovery document and the MIS origin (http trustBundleUri, impostor certificate).
    mis: list[Callable[[TrustBundleService], None]] = field(default_factory=list)
    #: Faults put on the WFM before the launch.
    faults: list[Callable[[SimulatedMiafWfm], None]] = field(default_factory=list)
    #: The recording's plan, set by the device-role steps (``steps/device/miaf_recordings.py``): actions taken
    #: while the device runs, when the recording is complete, and how long to wait for either.
    stages: list[Any] = field(default_factory=list)
    done: Any = None
    window_s: float = 6.0
    #: Seconds the device's first SVID stays valid (None: the usual 24 h); the renewal scenario lets it expire.
    device_svid_lifetime_s: float | None = None


@dataclass
class MiafEndpointFiles:
    """The per-recording files a device is given (the MIAF launch placeholders)."""

    svid_cert: Path
    svid_key: Path
    svid_chain: Path
    bundle_file: Path
    bundle_jwks: Path
    mis_ca_file: Path
    labels_file: Path


class PortUnavailable(Exception):
    """The WFM could not listen where the recording asked (port 443 without the privilege)."""


class _ObservedMiafWfmServer(MiafWfmServer):
    """The reference MIAF WFM, but able to cap TLS at 1.1 (MTLS-06: the device must not complete that handshake),
    which the reference itself never offers."""

    tls_cap: str | None = None

    def _context(self, bundle_pem: bytes) -> ssl.SSLContext:
        ctx = super()._context(bundle_pem)
        if self.tls_cap == "1.1":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ECDHE+AESGCM:ECDHE+AES:@SECLEVEL=0")
        return ctx


class SimulatedMiafWfm:
    """One slot: see the module docstring. ``reset()`` then change ``setup`` then ``start()`` per recording."""

    def __init__(self, *, trust_domain: str = TRUST_DOMAIN, wfm_id: str = DEFAULT_WFM_ID,
                 device_id: str = DEVICE_ID) -> None:
        self.trust_domain, self.wfm_id, self.device_id = trust_domain, wfm_id, device_id
        self.authority = SpiffeAuthority(trust_domain)
        self.wfm_spiffe_id = wfm_spiffe_id(trust_domain, wfm_id)
        self.device_spiffe_id = client_spiffe_id(trust_domain, wfm_id, device_id)
        self.sink = HttpSink().start()
        self.bundle_service = TrustBundleService(trust_domain).start()
        self.observations = ObservationLog()
        self.setup = MiafSetup()
        self.server: _ObservedMiafWfmServer | None = None
        self.files: MiafEndpointFiles | None = None
        self.device_svid: Svid | None = None
        #: Client leaves (DER) of every device SVID the harness issued in this recording, oldest first.
        self.issued_leaves: list[bytes] = []
        self._work = Path(tempfile.mkdtemp(prefix="margo-miaf-device-"))
        self._recording_dir: Path | None = None
        self._lock = threading.Lock()
        self._connections: dict[int, ConnectionInfo] = {}
        self._leaves: dict[int, bytes] = {}

    # ------------------------------------------------------------------ per recording
    def reset(self) -> None:
        self._stop_server()
        self.observations = ObservationLog()
        self.setup = MiafSetup()
        self.sink.clear()
        self.issued_leaves = []
        with self._lock:
            self._connections.clear()
            self._leaves.clear()
        if self._recording_dir is not None:
            shutil.rmtree(self._recording_dir, ignore_errors=True)
        self._recording_dir = Path(tempfile.mkdtemp(prefix="rec-", dir=self._work))

    def start(self) -> MiafEndpointFiles:
        """Mint the device's SVID, write its files, start the WFM and set the MIS up as ``setup`` says."""
        if self._recording_dir is None:
            self.reset()
        assert self._recording_dir is not None
        d = self._recording_dir
        lifetime = self.setup.device_svid_lifetime_s
        self.device_svid = self.authority.client_svid(
            self.device_id, wfm_id=self.wfm_id, lifetime=None if lifetime is None else timedelta(seconds=lifetime))
        self.issued_leaves.append(self.device_svid.cert_der())
        svid_files = self.device_svid.write(d, "svid")
        rotation: Any = self.setup.rotation
        bundle_files = self.authority.write_bundle(d, rotation=rotation)
        mis_ca = self.bundle_service.write_ca(d / "mis-ca.pem")
        labels = d / "labels.json"
        labels.write_text(json.dumps(INITIAL_LABELS), encoding="utf-8")
        self.files = MiafEndpointFiles(svid_cert=svid_files.cert, svid_key=svid_files.key, svid_chain=svid_files.chain,
                                       bundle_file=bundle_files.pem, bundle_jwks=bundle_files.jwks,
                                       mis_ca_file=mis_ca, labels_file=labels)
        bundle = self.setup.bundle or self.authority.spiffe_bundle(rotation=rotation,
                                                                   refresh_hint=self.setup.refresh_hint)
        self.bundle_service.reset(bundle)
        for change in self.setup.mis:
            change(self.bundle_service)
        self._start_server(self.wfm_svid(self.setup.wfm_fixture))
        for fault in self.setup.faults:
            fault(self)
        return self.files

    def wfm_svid(self, fixture: str) -> Svid:
        if fixture == "W-OK":
            return self.authority.wfm_svid(self.wfm_id)
        return self.authority.wfm_fixture(fixture, wfm_id=self.wfm_id, aia_url=self.sink.url("i1.der"))

    def _start_server(self, svid: Svid) -> None:
        versions = ("1.2",) if self.setup.tls in ("1.2", "1.1") else ("1.2", "1.3")
        server = _ObservedMiafWfmServer(svid=svid, bundle_pem=self.authority.bundle_pem(), trust_domain=self.trust_domain,
                                        wfm_id=self.wfm_id, tls_versions=versions, observer=self._observe,
                                        port=self.setup.port)
        server.tls_cap = "1.1" if self.setup.tls == "1.1" else None
        if server.tls_cap:  # the context was built in the constructor: build it again with the cap
            server.listener.ssl_context = server._context(self.authority.bundle_pem())
        audit_failure = server.listener.on_handshake_failure

        def failed(info: ConnectionInfo, exc: BaseException) -> None:
            self._handshake_failed(info, exc)
            if audit_failure is not None:
                audit_failure(info, exc)

        server.listener.on_handshake_failure = failed
        server.listener.on_handshake = self._handshake_done
        server.operator.add_client(self.device_spiffe_id)
        try:
            server.start()
        except (OSError, HarnessError, ConfigError) as exc:
            server.stop()
            raise PortUnavailable(f"the harness cannot listen on 127.0.0.1:{self.setup.port or 'any port'} here "
                                  f"({exc})") from None
        self.server = server

    @property
    def wfm_url(self) -> str:
        """The URL the device is given: https://localhost:PORT, or https://localhost on port 443 (MGEN-03)."""
        assert self.server is not None
        return "https://localhost" if self.server.port == 443 else f"https://localhost:{self.server.port}"

    def present(self, fixture: str) -> None:
        """From the next connection on, the WFM presents ``fixture`` (an open connection keeps its own)."""
        assert self.server is not None
        self.server.svid = self.wfm_svid(fixture)
        self.server.operator.set_trust_bundle(self.authority.bundle_pem())  # a new version: the context is rebuilt
        self.close_idle_connections()

    def close_idle_connections(self) -> None:
        """Close the device's kept-alive connections, so that its next request needs a new handshake."""
        import asyncio

        server = self.server
        if server is not None and server._loop is not None:
            asyncio.run_coroutine_threadsafe(server._close_idle(), server._loop).result(timeout=5)

    def rotate_device_svid(self) -> bytes:
        """Issue the device a new SVID and rewrite ``{svid_cert}``/``{svid_key}``/``{svid_chain}`` in place (each
        replaced atomically, the key first so a reader never pairs a new certificate with an old key for long)."""
        assert self.files is not None
        svid = self.authority.client_svid(self.device_id, wfm_id=self.wfm_id)
        staged = svid.write(self._recording_dir / "rotated", "svid")  # type: ignore[operator]
        for src, dst in ((staged.key, self.files.svid_key), (staged.chain, self.files.svid_chain),
                         (staged.cert, self.files.svid_cert)):
            tmp = dst.with_suffix(dst.suffix + ".new")
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o600 if dst == self.files.svid_key else 0o644)
            os.replace(tmp, dst)
        self.device_svid = svid
        self.issued_leaves.append(svid.cert_der())
        return svid.cert_der()

    def change_labels(self, labels: dict[str, Any] | None = None) -> dict[str, Any]:
        """Rewrite ``{labels_file}`` (atomically) with ``labels`` (default: ``CHANGED_LABELS``); returns them."""
        assert self.files is not None
        labels = CHANGED_LABELS if labels is None else labels
        tmp = self.files.labels_file.with_suffix(".new")
        tmp.write_text(json.dumps(labels), encoding="utf-8")
        os.replace(tmp, self.files.labels_file)
        return labels

    # ------------------------------------------------------------------ what the device did
    def leaf_of(self, connection_id: int | None) -> bytes | None:
        with self._lock:
            return self._leaves.get(connection_id) if connection_id is not None else None

    def connection(self, connection_id: int | None) -> ConnectionInfo | None:
        with self._lock:
            return self._connections.get(connection_id) if connection_id is not None else None

    def _handshake_done(self, info: ConnectionInfo) -> None:
        sslobj = info.transport.get_extra_info("ssl_object") if info.transport is not None else None
        der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        with self._lock:
            self._connections[info.id] = info
            if der:
                self._leaves[info.id] = der
        chain: list[dict[str, Any]] = []
        if der:
            entry: dict[str, Any] = {"der_b64": base64.b64encode(der).decode("ascii")}
            try:
                entry.update(describe_certificate(x509.load_der_x509_certificate(der)))
            except ValueError as exc:
                entry["decode_error"] = str(exc)
            chain.append(entry)
        tls = info.tls or TlsFacts()
        self.observations.record(Observation(
            request=CapturedRequest(method="", url=""), kind="tls-handshake",  # type: ignore[arg-type]
            tls=TlsFacts(version=tls.version, cipher=tls.cipher, alpn=tls.alpn, peer_chain=chain,
                         client_cert_requested=True),
            connection_id=info.id, peer=info.peer, started_at=info.opened_at,
            note=f"handshake completed; client leaf {'presented' if der else 'absent'}"))

    def _handshake_failed(self, info: ConnectionInfo, exc: BaseException) -> None:
        reason = describe_handshake_error(exc)
        self.observations.record(Observation(
            request=CapturedRequest(method="", url=""), kind="tls-failure",
            tls=TlsFacts(error=reason, client_cert_requested=True), error=f"TLS handshake failed: {reason}",
            connection_id=info.id, peer=info.peer, started_at=info.opened_at,
            note=f"WFM presented {self.setup.wfm_fixture}, TLS {self.setup.tls}"))

    def _observe(self, ex: Exchange) -> None:
        now = time.time()
        info = self.connection(ex.connection_id)
        path = ex.target.split("?", 1)[0]
        route = "capabilities" if path.startswith(CAPABILITIES_PREFIX) else None
        device_id = unquote(path[len(CAPABILITIES_PREFIX):]) if route else None
        base = self.server.base_url if self.server is not None else ""
        version = f"HTTP/{info.http_version}" if info is not None else "HTTP/1.1"
        response = None if ex.status is None else CapturedResponse(
            status=ex.status, headers=list(getattr(ex, "response_headers", []) or []),
            body=getattr(ex, "response_body", b"") or b"")
        self.observations.record(Observation(
            request=CapturedRequest(method=ex.method, url=base + ex.target, headers=list(ex.headers), body=ex.body,
                                    target=ex.target, http_version=version),
            response=response, tls=info.tls if info is not None else None, started_at=ex.started_at,
            elapsed_s=round(now - ex.started_at, 4), route=route, check=ex.check, device_id=device_id,
            client_id=ex.caller, connection_id=ex.connection_id, peer=ex.peer, fault=ex.fault))

    # ------------------------------------------------------------------ lifecycle
    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def stop(self) -> None:
        self._stop_server()
        for part in (self.bundle_service, self.sink):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                pass
        shutil.rmtree(self._work, ignore_errors=True)


__all__ = ["SimulatedMiafWfm", "PortUnavailable", "MiafSetup", "MiafEndpointFiles", "DEVICE_ID", "INITIAL_LABELS", "CHANGED_LABELS"]
