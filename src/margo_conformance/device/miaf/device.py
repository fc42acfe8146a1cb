"""MiafDevice: the reference MIAF WFM client's flow (MIAF-DEVICE-CONTRACT section 1).

Start: read our SVID (the expected WFM ID comes from it, MID-04), the labels file, the trust bundle; then
report capabilities first (MCAP-01), each report retried only as its answer allows (``retry.py``). Without
``--watch`` that is all. With ``--watch`` it then polls every 0.2 s until stopped:

- SVID files changed → reload, close the connection, report again on a new one presenting the new SVID (MTLS-08);
- labels file changed → report the manifests whose body changed (MCAP-02);
- bundle refreshed with other anchors → close the connection and report again, so the WFM is authenticated
  under the new anchors at once (MTB-02: after {R1} → {R2}, a WFM still on R1 is refused).

Outcomes (the command maps them to exit codes): ``WfmIdentityRefused`` (3, even when watching), ``BundleUnusable``
(3), ``ReportFailed`` (1 for a non-retryable refusal, 3 when the WFM stayed unreachable or unavailable; when
watching, both are logged and the device keeps running).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ...errors import ConfigError
from ...evidence import Exchange
from ...profiles import Profile
from ...pki.spiffe import SpiffeId, SpiffeIdError
from ..api import problem_of
from .bundle import BundleOrigin, BundleSource, BundleUnusable
from .capabilities import Capabilities, Report, read_labels
from .defects import behaviour_for
from .identity import OwnSvid, SvidPaths, load_svid
from .mis import MisClient, MisTrust, load_ca_file
from .retry import Backoff, advise
from .tls import WfmIdentityRefused
from .wire import MiWire, TlsFailed, Unreachable

log = logging.getLogger("margo_conformance.device")

POLL_S = 0.2
#: Gaps between attempts when the WFM could not be reached at all (no answer to read advice from).
CONNECT_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
#: The longest Retry-After the device waits for; a longer one ends the attempt (the answer is reported).
MAX_WAIT_S = 300.0
#: When watching, reports that could not be delivered (unreachable, still unavailable) are tried again this often.
PENDING_RETRY_S = 5.0


class ReportFailed(Exception):
    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        #: True: the WFM refused (exit 1); False: unreachable / still unavailable after the attempts (exit 3).
        self.final = final


@dataclass(frozen=True)
class MiafDeviceConfig:
    profile: Profile
    wfm_url: str
    svid: SvidPaths
    bundle: BundleOrigin
    mis_ca_file: Path | None = None
    mis_pins: tuple[bytes, ...] = ()
    wfm_spiffe_id: str | None = None
    device_id: str = "dut1"
    gateway_children: int = 0
    labels_file: Path | None = None
    watch: bool = False
    attempts: int = 5
    timeout_s: float = 10.0
    defects: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        parts = urlsplit(self.wfm_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"--wfm-url must be an https:// URL, not {self.wfm_url!r}")
        if parts.query or parts.fragment:
            raise ConfigError("--wfm-url takes no query or fragment")
        if self.attempts < 1:
            raise ConfigError("--attempts must be at least 1")
        if self.timeout_s <= 0:
            raise ConfigError("--timeout must be positive")


class MiafDevice:
    def __init__(self, config: MiafDeviceConfig, *, stop: threading.Event | None = None) -> None:
        self.config = config
        self.behaviour = behaviour_for(config.defects)
        self.stop = stop or threading.Event()
        self.exchanges: list[Exchange] = []
        self.svid: OwnSvid = load_svid(config.svid)
        if config.wfm_spiffe_id is not None:
            try:
                given = str(SpiffeId.parse(config.wfm_spiffe_id))
            except SpiffeIdError as exc:
                raise ConfigError(f"--wfm-spiffe-id: {exc}") from None
            if given != self.svid.expected_wfm_id:
                raise ConfigError(f"--wfm-spiffe-id {given} is not the WFM this device's SVID belongs to "
                                  f"({self.svid.expected_wfm_id}, MID-04)")
        self.capabilities = Capabilities(config.profile, self.behaviour, config.device_id,
                                         children=config.gateway_children)
        self.labels: dict[str, Any] | None = read_labels(config.labels_file) if config.labels_file else None
        self._labels_text = self._read_labels_text()
        mis = None
        if config.bundle.remote:
            trust = MisTrust(load_ca_file(config.mis_ca_file) if config.mis_ca_file else (), config.mis_pins,
                             verify=self.behaviour.verify_mis)
            mis = MisClient(trust, timeout=config.timeout_s)
        elif config.mis_ca_file is not None or config.mis_pins:
            raise ConfigError("--mis-ca-file / --mis-pin authenticate a discovery or bundle URL; with --bundle-file "
                              "there is none")
        self.bundle = BundleSource(config.bundle, self.behaviour, trust_domain=self.svid.trust_domain, mis=mis)
        self._wire: MiWire | None = None
        self._sent: dict[str, bytes] = {}  # deviceId -> the body the WFM accepted last
        self._refused: dict[str, bytes] = {}  # deviceId -> a body the WFM refused as not retryable (never resent)
        self._retry_pending_at: float | None = None
        self._svid_fingerprint = self.svid.fingerprint

    # ------------------------------------------------------------------ the flow
    def start(self) -> list[str]:
        """Load the bundle and report; returns the deviceIds reported. Raises the outcomes named above."""
        self.bundle.load()
        return self.report(force=True)

    def watch(self) -> None:
        """Poll until ``stop`` is set. Raises only WfmIdentityRefused (exit 3)."""
        while not self.stop.wait(POLL_S):
            force = False
            if self.behaviour.follow_svid_rotation and self.config.svid.fingerprint() != self._svid_fingerprint:
                force |= self._reload_svid()
            if self.bundle.refresh():
                log.info("trust anchors replaced; reconnecting under them")
                force = True
            labels_changed = self.behaviour.watch_labels and self._labels_changed()
            pending = self._retry_pending_at is not None and time.monotonic() >= self._retry_pending_at
            if force:
                self._reconnect()
            if force or labels_changed or pending:
                self._report_logged(force=force)

    def _report_logged(self, *, force: bool) -> None:
        try:
            self.report(force=force)
        except ReportFailed as exc:
            log.warning("%s: %s", "refused" if exc.final else "unreachable", exc)

    def report(self, *, force: bool) -> list[str]:
        """Send every report whose body the WFM has not accepted yet (all of them with ``force``)."""
        labels = self.labels
        done: list[str] = []
        self._retry_pending_at = None
        for rep in self.capabilities.reports(labels, client_id=self.svid.client_id):
            if rep.body == self._refused.get(rep.device_id):
                continue  # refused as not retryable: never the same bytes again (MRTY-07, Q-46)
            if not force and rep.body == self._sent.get(rep.device_id):
                continue
            try:
                self._send_with_retries(rep)
            except ReportFailed as exc:
                if exc.final:
                    self._refused[rep.device_id] = rep.body
                else:
                    self._retry_pending_at = time.monotonic() + PENDING_RETRY_S
                raise
            self._sent[rep.device_id] = rep.body
            done.append(rep.device_id)
        return done

    def _send_with_retries(self, rep: Report) -> None:
        backoff = Backoff(self.behaviour)
        last, refused = "", False
        for attempt in range(1, self.config.attempts + 1):
            if self.stop.is_set():
                raise ReportFailed("stopped", final=False)
            try:
                exchange = self._exchange(rep)
            except Unreachable as exc:
                last, refused = str(exc), False
                if attempt < self.config.attempts:
                    gap = CONNECT_BACKOFF_S[min(attempt - 1, len(CONNECT_BACKOFF_S) - 1)]
                    log.info("unreachable (%s); retrying in %.1f s", exc, gap)
                    self.stop.wait(gap)
                continue
            except TlsFailed as exc:
                raise ReportFailed(str(exc), final=False) from None
            assert exchange.response is not None
            advice = advise(exchange.response, self.behaviour)
            if exchange.response.status >= 400:
                self._maybe_dereference(exchange)
            if 200 <= exchange.response.status < 300:
                log.info("%s %s -> %d", rep.method, rep.path, exchange.response.status)
                return
            problem = problem_of(exchange.response)
            last, refused = str(problem), 400 <= exchange.response.status < 500 and exchange.response.status != 429
            if not advice.retry:
                raise ReportFailed(f"{rep.method} {rep.path}: {problem}", final=True)
            gap = backoff.gap(advice)
            if gap > MAX_WAIT_S:
                raise ReportFailed(f"{rep.method} {rep.path}: {problem}; asked to wait {gap:.0f} s", final=False)
            if attempt < self.config.attempts:
                log.info("%s %s -> %s; retrying in %.2f s", rep.method, rep.path, problem, gap)
                self.stop.wait(gap)
        raise ReportFailed(f"{rep.method} {rep.path}: gave up after {self.config.attempts} attempts ({last})",
                           final=refused)

    def _exchange(self, rep: Report) -> Exchange:
        if self._wire is None:
            anchors = self.bundle.anchors
            assert anchors is not None
            self._wire = MiWire(self.config.wfm_url, self.svid, anchors, self.behaviour,
                                timeout=self.config.timeout_s)
        try:
            exchange = self._wire.send(rep)
        except (WfmIdentityRefused, Unreachable, TlsFailed) as exc:
            attempt = getattr(exc, "exchange", None)
            if attempt is not None:
                self.exchanges.append(attempt)
            raise
        self.exchanges.append(exchange)
        return exchange

    def _maybe_dereference(self, exchange: Exchange) -> None:
        """The dereferences-problem-type defect: GET the problem type URI (a conformant client never does, MERR-07)."""
        if not self.behaviour.dereference_problem_type or exchange.response is None:
            return
        body = exchange.response.json()
        ptype = body.get("type") if isinstance(body, dict) else None
        if isinstance(ptype, str) and ptype.startswith(("http://", "https://")):
            try:
                httpx.get(ptype, timeout=2.0, verify=False, trust_env=False)  # noqa: S501 - the defect
            except httpx.HTTPError:
                pass

    # ------------------------------------------------------------------ changes
    def _reconnect(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def _reload_svid(self) -> bool:
        try:
            svid = load_svid(self.config.svid)
        except ConfigError as exc:  # a rotation half written: try again at the next poll
            log.debug("SVID files changed but do not load yet: %s", exc)
            return False
        self._svid_fingerprint = svid.fingerprint
        if svid.leaf == self.svid.leaf:
            return False
        self.svid = svid
        log.info("SVID rotated (serial %x); reconnecting with it", svid.leaf.serial_number)
        return True

    def _read_labels_text(self) -> bytes | None:
        if self.config.labels_file is None:
            return None
        try:
            return self.config.labels_file.read_bytes()
        except OSError:
            return None

    def _labels_changed(self) -> bool:
        text = self._read_labels_text()
        if text is None or text == self._labels_text:
            return False
        self._labels_text = text
        assert self.config.labels_file is not None
        try:
            labels = read_labels(self.config.labels_file)
        except ConfigError as exc:
            log.warning("labels file changed but is unusable, keeping the labels reported: %s", exc)
            return False
        if labels == self.labels:
            return False
        self.labels = labels
        log.info("labels changed; reporting capabilities again")
        return True

    def close(self) -> None:
        self._reconnect()
        self.bundle.close()


__all__ = ["BundleUnusable", "MiafDevice", "MiafDeviceConfig", "ReportFailed", "WfmIdentityRefused"]
