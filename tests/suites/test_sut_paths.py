"""The harness against SUTs described by a file, including the ones that misbehave.

A vendor WFM (the reference WFM started standalone) and a vendor device (the reference device launched by
command) are certified through SUT files; a SUT that is down, hangs, or cannot be launched gives a clear
exit code or a broken verdict, never a pass and never a hang.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.resources import FIXTURES_DIR, PROJECT_ROOT
from margo_conformance.sut import load_sut

from .conftest import free_port as _free_port
from .killmatrix import SuiteRun
from .killmatrix import run_suite as _run_suite


def run_suite(*args, **kwargs) -> SuiteRun:  # noqa: ANN002, ANN003
    """Cold, never on the warm runner: these tests are about the command as a user starts it (its paths, TMPDIR)."""
    return _run_suite(*args, cold=True, **kwargs)


BIN = Path(sys.executable).parent


def _wfm_toml(tmp_path: Path, base_url: str, data: Path | None, *, timeout: float = 10,
              hooks: tuple[str, ...] = ("trust_issuer", "revoke", "reject", "approve_pending",
                                        "reject_pending")) -> Path:
    mc = f"{sys.executable} -m margo_conformance"
    commands = {"trust_issuer": f"{mc} wfm trust-issuer {{ca_file}} --data-dir {data}",
                "revoke": f"{mc} wfm revoke {{client_id}} --data-dir {data}",
                "reject": f"{mc} wfm reject {{client_id}} --data-dir {data}",
                "approve_pending": f"{mc} wfm approve --sha256 {{fingerprint}} --data-dir {data}",
                "reject_pending": f"{mc} wfm reject --sha256 {{fingerprint}} --data-dir {data}"}
    operator = "" if data is None else "\n[wfm.operator]\n" + "".join(
        f'{name} = "{commands[name]}"\n' for name in hooks)
    path = tmp_path / "wfm.toml"
    path.write_text(f"""
[sut]
role = "wfm"
name = "Standalone reference WFM"

[wfm]
base_url = "{base_url}"
ca = "download"
server_name = "localhost"
request_timeout_s = {timeout}
{operator}""")
    return path


def test_example_sut_files_are_valid() -> None:
    assert load_sut(FIXTURES_DIR / "sut" / "wfm.example.toml").role == "wfm"
    assert load_sut(FIXTURES_DIR / "sut" / "device.example.toml").device.launch_gateway


def test_operator_scenarios_are_not_tested_without_hooks(standalone_wfm, tmp_path: Path) -> None:
    base_url, data = standalone_wfm
    toml = _wfm_toml(tmp_path, base_url, data, hooks=("trust_issuer",))  # no revoke command
    run = run_suite("wfm", tmp_path / "out", sut=str(toml), extra=("--tags", "req_SIG_13"))
    assert run.exit_code == 0
    row = run.requirement("SIG-13")
    assert row["verdict"] == "NOT TESTED" and "wfm.operator.revoke" in row["reason"]


def test_a_wfm_that_is_down_gives_exit_3_with_one_line(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "margo_conformance", "run", "--role", "wfm", "--sut",
                           str(_wfm_toml(tmp_path, f"https://127.0.0.1:{port}", None)), "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 3
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("SUT unreachable:") and str(port) in lines[0]


class _SwitchingProxy:
    """A TCP proxy to the WFM that, after ``healthy_connections``, accepts connections and never answers:
    a WFM that stops answering in the middle of a run."""

    def __init__(self, upstream_port: int, healthy_connections: int) -> None:
        self.upstream_port = upstream_port
        self.healthy = healthy_connections
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.stop = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.held.append(conn)
            if self.healthy > 0:
                self.healthy -= 1
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                self.held.append(upstream)
                for a, b in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.listener.close()


def test_a_wfm_that_stops_answering_mid_run_ends_it_early_with_exit_3(standalone_wfm, tmp_path: Path) -> None:
    base_url, data = standalone_wfm
    proxy = _SwitchingProxy(int(base_url.rsplit(":", 1)[1]), healthy_connections=40)
    try:
        started = time.monotonic()
        run = run_suite("wfm", tmp_path / "out", sut=str(_wfm_toml(tmp_path, f"https://127.0.0.1:{proxy.port}", data,
                                                                   timeout=1)), timeout_s=200)
        took = time.monotonic() - started
    finally:
        proxy.close()
    assert run.exit_code == 3, run.log
    result = run.summary["result"]
    assert result["verdict"] == "UNREACHABLE" and "stopped answering" in result["headline"]
    outcomes = [s["outcome"] for s in run.summary["scenarios"]]
    assert outcomes.count("passed") > 0  # it ran normally until the WFM went silent
    not_run = [s for s in run.summary["scenarios"] if s["message"].startswith("SutUnreachable: not run")]
    assert len(not_run) > 50, "the remaining scenarios were not cut short"
    assert took < 90, f"took {took:.0f} s: the remaining scenarios waited for their timeouts"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_signal_stops_the_launched_device_and_writes_the_summaries(tmp_path: Path, stop) -> None:
    pid_file = tmp_path / "device.pid"
    agent = tmp_path / "agent.py"
    agent.write_text("import os, sys, time\n"
                     f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                     "time.sleep(600)\n")
    sut = _device_toml(tmp_path, f"{sys.executable} {agent} {{wfm_url}}", timeout=120)
    harness = subprocess.Popen([sys.executable, "-m", "margo_conformance", "run", "--role", "device", "--sut",
                                str(sut), "--output", str(tmp_path / "out")], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline and harness.poll() is None, "the device was never launched"
        time.sleep(0.1)
    device_pid = int(pid_file.read_text())
    harness.send_signal(stop)
    output, _ = harness.communicate(timeout=40)
    assert harness.returncode == 1, output
    time.sleep(0.5)
    assert not _alive(device_pid), f"the launched device outlived the harness: {_describe(device_pid)}\n{output}"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["result"]["verdict"] == "INTERRUPTED" and summary["run"]["interrupted"] == stop.name
    assert "INTERRUPTED" in output and "Traceback" not in output


def _describe(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().strip()
    except OSError as exc:
        return f"no /proc entry ({exc})"


def _alive(pid: int) -> bool:
    """Running, or stopped: a zombie (dead, its exit status not yet collected by whoever adopted it) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def test_a_run_leaves_nothing_in_the_temp_folder(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    run = run_suite("device", tmp_path / "out", extra=("-k", "onboards"), env={**os.environ, "TMPDIR": str(temp)})
    assert run.exit_code == 0, run.log
    assert list(temp.iterdir()) == []


def test_a_malformed_sut_file_gives_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sut]\nrole = "wfm"\nname = "x"\n[wfm]\nbase_url = "https://127.0.0.1:1"\nrequest_timeout_s = "soon"\n')
    done = subprocess.run([sys.executable, "-m", "margo_conformance", "run", "--role", "wfm", "--sut", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 2
    assert "wfm.request_timeout_s" in done.stderr and "Traceback" not in done.stderr


def _device_toml(tmp_path: Path, launch: str, *, timeout: float = 20) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(f'[sut]\nrole = "device"\nname = "x"\n[device]\nmode = "launch"\nlaunch = "{launch}"\n'
                    f"timeout_s = {timeout}\n")
    return path


def test_a_device_described_by_a_sut_file_is_certified(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # the example works without the virtualenv on PATH ({harness})
    run = run_suite("device", tmp_path / "out", sut=str(FIXTURES_DIR / "sut" / "device.example.toml"), env=env,
                    extra=("-k", "onboarding or gateway or bootstrap"))
    assert run.exit_code == 0, run.log
    counts = run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == counts["not_tested"] == 0, counts
    # the optional launch variants of the SUT file were used: gateway (CAP-13) and bootstrap (CERT-07)
    assert run.requirement("CAP-13")["verdict"] == run.requirement("CERT-07")["verdict"] == "PASS"


@pytest.mark.parametrize(
    ("launch", "expected"),
    [
        ("false {wfm_url}", "stopped by exit (exit code 1)"),
        ("sleep 37", "stopped by timeout"),
    ],
    ids=["exits-at-once", "never-connects"],
)
def test_a_device_that_cannot_be_judged_is_broken_not_hung(tmp_path: Path, launch: str, expected: str) -> None:
    started = time.monotonic()
    run = run_suite("device", tmp_path / "out", sut=str(_device_toml(tmp_path, launch, timeout=2)),
                    extra=("-k", "onboarding_request_body or expired"), timeout_s=120)
    assert time.monotonic() - started < 60
    assert run.exit_code == 1, run.log
    outcomes = {s["name"]: (s["outcome"], s["message"]) for s in run.summary["scenarios"]}
    assert outcomes and all(o == "broken" for o, _ in outcomes.values()), outcomes
    assert all(expected in m or "no connection attempt" in m for _, m in outcomes.values()), outcomes
    leftover = subprocess.run(["pgrep", "-xf", "sleep 37"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "a launched device process was left running"
