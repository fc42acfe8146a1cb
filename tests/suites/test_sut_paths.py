"""The harness against SUTs described by a file, including the ones that misbehave.

A vendor WFM (the reference WFM started standalone) and a vendor device (the reference device launched by
command) are certified through SUT files; a SUT that is down, hangs, or cannot be launched gives a clear
exit code or a broken verdict, never a pass and never a hang.
"""

from __future__ import annotations

import json
import os
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

from .killmatrix import run_suite

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standalone_wfm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("wfm-data")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "margo_conformance.cli", "wfm", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(data), "--trust", "manual",
                             "--approval-timeout", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 30
    while not (data / "admin.json").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the standalone WFM did not start")
        time.sleep(0.1)
    try:
        yield f"https://127.0.0.1:{port}", data
    finally:
        proc.terminate()
        proc.wait(10)


def _wfm_toml(tmp_path: Path, base_url: str, data: Path | None, *, timeout: float = 10,
              hooks: tuple[str, ...] = ("trust_issuer", "revoke", "reject", "approve_pending",
                                        "reject_pending")) -> Path:
    mc = f"{sys.executable} -m margo_conformance.cli"
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


def test_a_wfm_described_by_a_sut_file_is_certified(standalone_wfm, tmp_path: Path) -> None:
    base_url, data = standalone_wfm
    run = run_suite("wfm", tmp_path / "out", sut=str(_wfm_toml(tmp_path, base_url, data)))
    assert run.exit_code == 0, run.log
    counts = run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == counts["not_tested"] == 0, counts
    # the operator hooks ran: the scenarios that need them were judged, not skipped
    assert run.requirement("SIG-13")["verdict"] == run.requirement("ONB-09")["verdict"] == "PASS"
    assert run.requirement("ONB-10")["verdict"] == "PASS"  # a held request, decided through --sha256
    # the ephemeral port is an advisory (GEN-03 is SHOULD on the WFM side): not a failure, and not a PASS
    gen03 = run.requirement("GEN-03")
    assert (gen03["verdict"], gen03["axis"]) == ("ADVISORY", "advisory") and "port" in gen03["reason"]


def test_operator_scenarios_are_not_tested_without_hooks(standalone_wfm, tmp_path: Path) -> None:
    base_url, data = standalone_wfm
    toml = _wfm_toml(tmp_path, base_url, data, hooks=("trust_issuer",))  # no revoke command
    run = run_suite("wfm", tmp_path / "out", sut=str(toml), extra=("--tags", "req_SIG_13"))
    assert run.exit_code == 0
    row = run.requirement("SIG-13")
    assert row["verdict"] == "NOT TESTED" and "wfm.operator.revoke" in row["reason"]


def test_a_wfm_that_is_down_gives_exit_3_with_one_line(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "margo_conformance.cli", "run", "--role", "wfm", "--sut",
                           str(_wfm_toml(tmp_path, f"https://127.0.0.1:{port}", None)), "--output", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 3
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("SUT unreachable:") and str(port) in lines[0]


def test_a_wfm_that_hangs_is_cut_by_the_timeout_and_broken(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        started = time.monotonic()
        run = run_suite("wfm", tmp_path / "out", sut=str(_wfm_toml(tmp_path, f"https://127.0.0.1:{port}", None, timeout=1)),
                        extra=("-k", "Certificate or onboarding"), timeout_s=120)
        assert time.monotonic() - started < 100
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()
    assert run.exit_code == 1, run.log
    counts = run.summary["counts"]["scenarios"]
    assert counts["passed"] == 0 and counts["broken"] > 0
    assert all("timeout" in s["message"].lower() or "no answer" in s["message"].lower() or "handshake" in s["message"].lower()
               for s in run.summary["scenarios"] if s["outcome"] == "broken")


def test_a_malformed_sut_file_gives_exit_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[sut]\nrole = "wfm"\nname = "x"\n[wfm]\nbase_url = "https://127.0.0.1:1"\nrequest_timeout_s = "soon"\n')
    done = subprocess.run([sys.executable, "-m", "margo_conformance.cli", "run", "--role", "wfm", "--sut", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert done.returncode == 2
    assert "wfm.request_timeout_s" in done.stderr and "Traceback" not in done.stderr


def _device_toml(tmp_path: Path, launch: str, *, timeout: float = 20) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(f'[sut]\nrole = "device"\nname = "x"\n[device]\nmode = "launch"\nlaunch = "{launch}"\n'
                    f"timeout_s = {timeout}\n")
    return path


def test_a_device_described_by_a_sut_file_is_certified(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
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
        ("no-such-agent-xyz --wfm-url {wfm_url}", "launch command was not found"),
        ("false {wfm_url}", "stopped by exit (exit code 1)"),
        ("sleep 37", "stopped by timeout"),
    ],
    ids=["missing-command", "exits-at-once", "never-connects"],
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
