"""The device under test, as the device-role steps see it: how to start it, wait for it and stop it.

Launch mode runs the SUT file's command once per scenario, with the placeholders filled in
(``{wfm_url}``, ``{ca_file}``, ``{bootstrap_url}``, ``{bootstrap_ca_file}``, ``{state_dir}``, ``{host}``,
``{port}``), waits until the traffic the scenario needs has arrived, the process exits, or the timeout
passes, then stops it (terminate, then kill, the whole process group) and keeps its output as evidence.
Manual mode prints where the simulated WFM is and waits for the device's traffic. ``--sut builtin``
launches the reference device (``margo-conformance device run``) with the requested defects.

A device that cannot be started, exits before doing what a scenario needs, or never connects is
reported as *broken* (the harness could not judge), never as passed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, HarnessError
from ..evidence import redact
from . import DeviceTarget, SutConfig, command_words, redact_command

#: How long a device gets after SIGTERM before SIGKILL.
TERMINATE_GRACE_S = 3.0
#: After the awaited traffic arrived, how long the device may go on (trailing requests are evidence too).
SETTLE_S = 0.3
OUTPUT_LIMIT = 20_000

LaunchVariant = str  # "out-of-band" | "bootstrap" | "gateway"


@dataclass
class Endpoints:
    """What a device is told about the simulated WFM (the placeholder values)."""

    wfm_url: str
    ca_file: Path
    bootstrap_url: str = ""
    bootstrap_ca_file: Path | None = None

    def values(self, state_dir: Path) -> dict[str, str]:
        from urllib.parse import urlsplit

        parts = urlsplit(self.wfm_url)
        return {
            "wfm_url": self.wfm_url,
            "ca_file": str(self.ca_file),
            "bootstrap_url": self.bootstrap_url,
            "bootstrap_ca_file": str(self.bootstrap_ca_file or ""),
            "state_dir": str(state_dir),
            "host": parts.hostname or "",
            "port": str(parts.port or 443),
        }


@dataclass
class MiafEndpoints(Endpoints):
    """What a mutual-TLS (MIAF) device is told: its SVID files, its anchors (PEM and JWK Set), where the MIS
    serves discovery and the bundle, the MIS origin's initial trust (CA file or SPKI pin), the IDs, the labels
    file. ``ca_file`` is the PEM anchors too."""

    svid_cert: Path | None = None
    svid_key: Path | None = None
    svid_chain: Path | None = None
    bundle_jwks: Path | None = None
    discovery_url: str = ""
    bundle_url: str = ""
    mis_ca_file: Path | None = None
    mis_pin: str = ""
    wfm_spiffe_id: str = ""
    trust_domain: str = ""
    device_id: str = ""
    labels_file: Path | None = None

    def values(self, state_dir: Path) -> dict[str, str]:
        values = super().values(state_dir)
        values.update(
            svid_cert=str(self.svid_cert or ""), svid_key=str(self.svid_key or ""),
            svid_chain=str(self.svid_chain or ""), bundle_file=str(self.ca_file), bundle_jwks=str(self.bundle_jwks or ""),
            discovery_url=self.discovery_url, bundle_url=self.bundle_url, mis_ca_file=str(self.mis_ca_file or ""),
            mis_pin=self.mis_pin, wfm_spiffe_id=self.wfm_spiffe_id, trust_domain=self.trust_domain,
            device_id=self.device_id, labels_file=str(self.labels_file or ""))
        return values


#: What manual mode shows for a MIAF device, in this order (placeholder -> label).
MIAF_MANUAL_LINES = (("wfm_url", "WFM URL"), ("wfm_spiffe_id", "WFM SPIFFE ID"), ("trust_domain", "Trust domain"),
                     ("device_id", "Device ID"), ("svid_cert", "SVID certificate"), ("svid_key", "SVID key"),
                     ("svid_chain", "SVID chain"), ("bundle_file", "Bundle (PEM)"), ("bundle_jwks", "Bundle (JWK Set)"),
                     ("discovery_url", "Discovery URL"), ("bundle_url", "Bundle URL"), ("mis_ca_file", "MIS CA file"),
                     ("mis_pin", "MIS pin"), ("labels_file", "Labels file"), ("state_dir", "State dir"))


@dataclass
class DeviceRun:
    """What happened to one launch: evidence for the report, and the facts steps need."""

    command: str  # redacted
    variant: str
    started_at: float
    ended_at: float = 0.0
    exit_code: int | None = None
    #: "exit" (the device stopped by itself), "condition" (the awaited traffic arrived), "timeout", "stopped"
    #: (the run was stopping).
    stopped_by: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def duration_s(self) -> float:
        return round(self.ended_at - self.started_at, 3)

    def to_text(self) -> str:
        return redact(
            f"command: {self.command}\nvariant: {self.variant}\nexit code: {self.exit_code}\n"
            f"stopped by: {self.stopped_by}\nduration: {self.duration_s} s\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@dataclass
class DeviceUnderTest:
    """Launches (or waits for) the device; one instance per conformance run."""

    target: DeviceTarget
    #: argv templates per variant for the builtin device (``None`` for a vendor device: shell-split the
    #: SUT file's templates).
    builtin_argv: dict[str, list[str]] | None = None
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="margo-device-runs-")))
    #: Manual mode talks to the person at the terminal: past pytest's output capture, straight to stderr.
    announce: Callable[[str], None] = field(default=lambda text: print(text, file=sys.__stderr__, flush=True))
    _live: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: Set by ``close``: no new launch starts, and a launch in flight stops waiting (recordings made ahead on
    #: worker threads end with the run).
    _closing: bool = False

    def supports(self, variant: LaunchVariant) -> bool:
        if self.target.mode == "manual":
            return variant == "out-of-band"
        return self._template(variant) is not None

    def _template(self, variant: LaunchVariant) -> list[str] | None:
        if self.builtin_argv is not None:
            return self.builtin_argv.get(variant)
        text = {"out-of-band": self.target.launch, "bootstrap": self.target.launch_bootstrap,
                "gateway": self.target.launch_gateway}[variant]
        return command_words(text) if text else None

    def new_state_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="state-", dir=self.work_dir))

    def run(self, endpoints: Endpoints, *, variant: LaunchVariant = "out-of-band",
            until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> DeviceRun:
        """Start the device (or wait for it, in manual mode) and return once it is done with the scenario."""
        timeout = timeout_s if timeout_s is not None else self.target.timeout_s
        state_dir = self.new_state_dir()
        if self.target.mode == "manual":
            return self._manual(endpoints, state_dir, until, timeout)
        template = self._template(variant)
        if template is None:
            raise HarnessError(f"no launch command for the {variant} variant")
        if self._closing:
            raise HarnessError("the run is stopping: the device was not launched")
        values = endpoints.values(state_dir)
        try:
            argv = [word.format(**values) for word in template]
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"device.launch: cannot fill in the placeholders ({exc})") from None
        shown = redact_command(shlex.join(argv))
        run = DeviceRun(command=shown, variant=variant, started_at=time.time())
        out_path, err_path = state_dir / "device.stdout", state_dir / "device.stderr"
        env = {**os.environ, **self.target.env}
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                        start_new_session=True, cwd=state_dir)
        except FileNotFoundError:
            raise HarnessError(f"the device launch command was not found: {argv[0]!r} ({shown})") from None
        except PermissionError:
            raise HarnessError(f"the device launch command is not executable: {argv[0]!r} ({shown})") from None
        except OSError as exc:
            raise HarnessError(f"the device could not be started: {exc} ({shown})") from None
        self._live.append(proc)
        _note_launched(proc.pid)
        try:
            run.stopped_by = self._wait(proc, until, timeout)
        finally:
            self._stop(proc)
            run.ended_at = time.time()
            run.exit_code = proc.returncode
            run.stdout = _read_tail(out_path)
            run.stderr = _read_tail(err_path)
        return run

    def _wait(self, proc: subprocess.Popen[bytes], until: Callable[[], bool] | None, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                return "exit"
            if self._closing:
                return "stopped"
            if until is not None and until():
                settle = time.monotonic() + SETTLE_S
                while time.monotonic() < settle and proc.poll() is None:
                    time.sleep(0.02)
                return "condition" if proc.poll() is None else "exit"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(0.02)

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(TERMINATE_GRACE_S)
        else:
            _signal_group(proc, signal.SIGKILL)  # children it may have left behind
        if proc in self._live:
            self._live.remove(proc)
        _note_launched(proc.pid, stopped=True)

    def _manual(self, endpoints: Endpoints, state_dir: Path, until: Callable[[], bool] | None,
                timeout: float) -> DeviceRun:
        if isinstance(endpoints, MiafEndpoints):
            values = endpoints.values(state_dir)
            lines = "".join(f"  {label + ':':<18}{values[key]}\n" for key, label in MIAF_MANUAL_LINES if values[key])
            self.announce(f"\nStart the device now (manual mode):\n{lines}Waiting up to {timeout:g} s for its "
                          "traffic ...\n")
        else:
            self.announce(
                f"\nStart the device now (manual mode):\n  WFM URL:      {endpoints.wfm_url}\n"
                f"  WFM root CA:  {endpoints.ca_file}\n  State dir:    {state_dir}\n"
                f"Waiting up to {timeout:g} s for its traffic ...\n"
            )
        run = DeviceRun(command="(manual)", variant="out-of-band", started_at=time.time())
        deadline = time.monotonic() + timeout
        run.stopped_by = "timeout"
        while time.monotonic() < deadline:
            if until is not None and until():
                time.sleep(SETTLE_S)
                run.stopped_by = "condition"
                break
            time.sleep(0.1)
        run.ended_at = time.time()
        return run

    def hook(self, key: str, template: str, values: dict[str, str], *, timeout_s: float = 30.0) -> str:
        """Run one of the SUT file's hook commands (``rotate_svid``, ``change_capabilities``) with the placeholders
        filled in; a hook that fails is a fault of the lab, not of the device (HarnessError)."""
        try:
            argv = [word.format(**values) for word in command_words(template)]
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"device.{key}: cannot fill in the placeholders ({exc})") from None
        shown = redact_command(shlex.join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                                  env={**os.environ, **self.target.env}, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HarnessError(f"device.{key} could not be run: {exc} ({shown})") from None
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace")[-300:].strip()
            raise HarnessError(f"device.{key} exited with {done.returncode} ({shown}): {tail}")
        return shown

    def close(self) -> None:
        """Never leave a device process behind."""
        self._closing = True
        for proc in list(self._live):
            self._stop(proc)


#: Set by the runner (``runner.suite_env``): where each launched device's process group is noted while it runs, so
#: that the runner can stop what a suite that was killed outright (SIGKILL) left behind.
LAUNCHED_DIR_ENV = "MARGO_LAUNCHED_DIR"


def _note_launched(pid: int, *, stopped: bool = False) -> None:
    folder = os.environ.get(LAUNCHED_DIR_ENV)
    if not folder:
        return
    note = Path(folder) / str(pid)
    try:
        if stopped:
            note.unlink(missing_ok=True)
        else:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.touch()
    except OSError:
        pass


def stop_left_behind(folder: Path) -> int:
    """SIGKILL the process group of every launch still noted in ``folder``; returns how many were noted."""
    left = [p for p in folder.glob("*") if p.name.isdigit()] if folder.is_dir() else []
    for note in left:
        try:
            os.killpg(int(note.name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(left)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _read_tail(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    text = data[-OUTPUT_LIMIT:].decode("utf-8", errors="replace")
    return ("[... earlier output cut]\n" if len(data) > OUTPUT_LIMIT else "") + text


def builtin_device(defects: tuple[str, ...]) -> dict[str, list[str]]:
    """argv templates of the reference device per launch variant, with the run's defects."""
    base = [sys.executable, "-m", "margo_conformance.device", "run", "--wfm-url", "{wfm_url}",
            "--state-dir", "{state_dir}", "--timeout", "5", "--attempts", "3"]
    for defect in defects:
        base += ["--defect", defect]
    return {
        "out-of-band": base + ["--ca-file", "{ca_file}"],
        "bootstrap": base + ["--bootstrap-url", "{bootstrap_url}", "--bootstrap-ca-file", "{bootstrap_ca_file}"],
        "gateway": base + ["--ca-file", "{ca_file}", "--gateway-children", "2"],
    }


def builtin_miaf_device(defects: tuple[str, ...], profile: str) -> dict[str, list[str]]:
    """argv templates of the reference MIAF device (``device run --profile <p>``): SVID files, bundle discovery over
    the MIS origin it authenticates with the MIS CA, the labels file, ``--watch`` (it stays up: the harness
    rotates its SVID, changes its labels and refreshes its bundle while it runs)."""
    base = [sys.executable, "-m", "margo_conformance.device", "run", "--profile", profile, "--wfm-url", "{wfm_url}",
            "--svid-cert", "{svid_cert}", "--svid-key", "{svid_key}", "--svid-chain", "{svid_chain}",
            "--discovery-url", "{discovery_url}", "--mis-ca-file", "{mis_ca_file}", "--device-id", "{device_id}",
            "--labels-file", "{labels_file}", "--state-dir", "{state_dir}", "--watch", "--timeout", "5",
            "--attempts", "5"]
    for defect in defects:
        base += ["--defect", defect]
    return {"out-of-band": base, "gateway": base + ["--gateway-children", "2"]}


#: The builtin MIAF device's declared modes (what a vendor says in [device] bundle / svid_rotation).
BUILTIN_MIAF_TARGET = dict(bundle="discovery", svid_rotation="file", change_capabilities=None)


def open_device_under_test(sut: SutConfig) -> DeviceUnderTest:
    from . import is_mtls_profile

    if sut.builtin and is_mtls_profile(sut.profile):
        return DeviceUnderTest(DeviceTarget(mode="launch", timeout_s=30.0, **BUILTIN_MIAF_TARGET),  # type: ignore[arg-type]
                               builtin_argv=builtin_miaf_device(sut.defects, sut.profile))
    if sut.builtin:
        return DeviceUnderTest(DeviceTarget(mode="launch", timeout_s=30.0), builtin_argv=builtin_device(sut.defects))
    assert sut.device is not None
    return DeviceUnderTest(sut.device)
