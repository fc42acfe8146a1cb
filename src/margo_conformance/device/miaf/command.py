"""``margo-conformance device run`` under a mutual-TLS (SVID) profile: options in, one line and an exit code out.

Exit codes (MIAF-DEVICE-CONTRACT section 1): 0 reported (or stopped by SIGTERM with ``--watch``); 1 the WFM
refused a report with a non-retryable problem (without ``--watch``); 2 usage or configuration; 3 the WFM was
refused (chain or SPIFFE ID: "refused the WFM: <reason>", also with ``--watch``), unreachable or still
unavailable, or no usable trust bundle. Expected failures print one line, never a traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ...errors import ConfigError
from ...profiles import Profile
from .bundle import BundleOrigin, BundleUnusable
from .device import MiafDevice, MiafDeviceConfig, ReportFailed
from .identity import SvidPaths
from .mis import parse_pin
from .tls import WfmIdentityRefused

log = logging.getLogger("margo_conformance.device")


@dataclass
class MiafOptions:
    """The command line as given (None: not given)."""

    wfm_url: str
    svid_cert: Path | None = None
    svid_key: Path | None = None
    svid_chain: Path | None = None
    bundle_file: Path | None = None
    discovery_url: str | None = None
    bundle_url: str | None = None
    mis_ca_file: Path | None = None
    mis_pins: list[str] = field(default_factory=list)
    wfm_spiffe_id: str | None = None
    device_id: str | None = None
    gateway_children: str | None = None
    labels_file: Path | None = None
    watch: bool = False
    attempts: int = 5
    timeout: float = 10.0
    state_dir: Path | None = None
    defects: list[str] = field(default_factory=list)


def _say(text: str, *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _children(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--gateway-children takes a positive count under a mutual-TLS profile, not {value!r}")
    return int(value)


def config_of(profile: Profile, opts: MiafOptions) -> MiafDeviceConfig:
    if opts.svid_cert is None or opts.svid_key is None:
        raise ConfigError(f"profile {profile.name} needs the device's SVID: --svid-cert and --svid-key")
    if opts.state_dir is not None:
        try:
            opts.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create --state-dir {opts.state_dir}: {exc.strerror or exc}") from None
    return MiafDeviceConfig(
        profile=profile, wfm_url=opts.wfm_url,
        svid=SvidPaths(opts.svid_cert, opts.svid_key, opts.svid_chain),
        bundle=BundleOrigin(opts.bundle_file, opts.discovery_url, opts.bundle_url),
        mis_ca_file=opts.mis_ca_file, mis_pins=tuple(parse_pin(p) for p in opts.mis_pins),
        wfm_spiffe_id=opts.wfm_spiffe_id, device_id=opts.device_id or "dut1",
        gateway_children=_children(opts.gateway_children), labels_file=opts.labels_file, watch=opts.watch,
        attempts=opts.attempts, timeout_s=opts.timeout, defects=tuple(opts.defects))


def run_miaf(profile: Profile, opts: MiafOptions, *, evidence: Path | None = None) -> int:
    """Run the reference MIAF device; returns the exit code (lines already printed)."""
    stop = threading.Event()
    device: MiafDevice | None = None
    previous = None
    try:
        device = MiafDevice(config_of(profile, opts), stop=stop)
        if opts.watch:
            previous = _on_sigterm(stop)
        code = _run(device, opts.watch)
    except ConfigError as exc:
        _say(f"error: {exc}", err=True)
        code = 2
    except Exception as exc:  # never a traceback: our bug, named in one line (details in the debug log)
        log.debug("unexpected failure", exc_info=exc)
        _say(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        code = 3
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if device is not None:
            device.close()
            if evidence is not None:
                from ..program import _write_evidence

                _write_evidence(evidence, device.exchanges)
    return code


def _on_sigterm(stop: threading.Event):  # noqa: ANN202 - the previous handler, whatever it was
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding caller stops us through the event)
        return None


def _run(device: MiafDevice, watch: bool) -> int:
    try:
        try:
            reported = device.start()
            _say(f"ok: capabilities reported for {', '.join(reported)} to {device.svid.expected_wfm_id}")
        except ReportFailed as exc:
            if not watch:
                _say(f"{'refused' if exc.final else 'unreachable'}: {exc}", err=True)
                return 1 if exc.final else 3
            log.warning("%s: %s (still watching)", "refused" if exc.final else "unreachable", exc)
        if watch:
            device.watch()
        return 0
    except WfmIdentityRefused as exc:
        _say(f"refused the WFM: {exc}", err=True)
        return 3
    except BundleUnusable as exc:
        _say(f"no usable trust bundle: {exc}", err=True)
        return 3
