"""The fleet load mode end to end (issue 13): real Locust runs against the reference WFM on loopback.

Each run is a subprocess (Locust runs on gevent, which must never be loaded into the test process): a
10-second 2-process run against the clean reference WFM passes with zero violations; the same run against
the race defect fails with the violations named; a master and two workers started as separate processes
produce one merged summary; an unreachable WFM is exit 3 within the timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from margo_conformance.load.report import validate_load_summary
from margo_conformance.resources import PROJECT_ROOT



def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

pytestmark = pytest.mark.timeout(300)
FLEET = ("--devices", "40", "--spawn-rate", "40", "--report-every", "0.5", "--reports", "200")


def _load(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "margo_conformance", "load", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=PROJECT_ROOT)


def _summary(output: Path) -> dict:
    summary = json.loads((output / "load-summary.json").read_text())
    assert validate_load_summary(summary) == []
    return summary


def _route(summary: dict, name: str) -> dict:
    return next(r for r in summary["routes"] if r["route"] == name)


def test_a_two_process_run_against_the_reference_wfm_passes(tmp_path: Path) -> None:
    done = _load("--processes", "2", "--duration", "10", *FLEET, "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    assert summary["result"]["violations"] == 0 and summary["run"]["processes"] == 2
    onboarding, put = _route(summary, "onboarding POST"), _route(summary, "capabilities PUT")
    assert onboarding["expected"] == 40 and onboarding["rate_per_s"] > 0  # every device onboarded once
    assert put["count"] > 40 and put["rate_per_s"] > 0 and put["latency_ms"]["p95"] is not None
    refused = _route(summary, "capabilities PUT (wrong key)")
    assert refused["violations"] == 0 and set(refused["by_status"]) <= {"401", "403"}
    assert summary["timeline"] and any(p["puts_per_s"] > 0 for p in summary["timeline"])
    for name in ("load-summary.md", "locust-report.html", "load-timeline.svg"):
        assert (tmp_path / name).stat().st_size > 0
    assert "t=" in done.stderr  # the live progress line


def test_a_wfm_that_breaks_under_parallel_onboarding_fails_the_run(tmp_path: Path) -> None:
    done = _load("--processes", "2", "--duration", "10", *FLEET, "--defect", "onboarding-race-500",
                 "--output", str(tmp_path))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    onboarding = _route(summary, "onboarding POST")
    assert onboarding["violations"] > 0 and onboarding["violation_reasons"].get("server error 500")
    assert summary["result"]["verdict"] == "FAIL" and "violation" in summary["result"]["headline"]


@pytest.fixture
def standalone_wfm(tmp_path: Path):
    data, port = tmp_path / "wfm", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "margo_conformance", "wfm", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(data), "--trust", "auto"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (data / "admin.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "wfm serve did not start"
        time.sleep(0.1)
    sut = tmp_path / "wfm.toml"
    sut.write_text(f'[sut]\nrole = "wfm"\nname = "standalone"\n[wfm]\nbase_url = "https://127.0.0.1:{port}"\n'
                   f'ca = "{data / "ca.pem"}"\nserver_name = "localhost"\nrequest_timeout_s = 5\n')
    yield sut
    proc.terminate()
    proc.wait(10)


def test_a_master_and_two_workers_merge_into_one_summary(tmp_path: Path, standalone_wfm: Path) -> None:
    port = str(free_port())
    master = subprocess.Popen([sys.executable, "-m", "margo_conformance", "load", "--master", "--master-port", port,
                               "--expect-workers", "2", "--sut", str(standalone_wfm), "--duration", "8", *FLEET,
                               "--output", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=PROJECT_ROOT)
    workers = [subprocess.Popen([sys.executable, "-m", "margo_conformance", "load", "--worker", "--master-host",
                                 "127.0.0.1", "--master-port", port, "--sut", str(standalone_wfm), *FLEET],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    out, err = master.communicate(timeout=120)
    for worker in workers:
        assert worker.wait(30) == 0
    assert master.returncode == 0, out[-3000:] + err[-3000:]
    summary = _summary(tmp_path / "out")
    assert summary["run"]["processes"] == 2
    onboarding = _route(summary, "onboarding POST")
    # the 40 devices were spread over both workers and every one of them is counted once, in one summary
    assert onboarding["count"] == onboarding["expected"] == 40
    assert summary["result"]["answers"] == summary["totals"]["requests"]


def test_help_and_an_unreachable_wfm(tmp_path: Path) -> None:
    shown = _load("--help").stdout
    for option in ("--devices", "--spawn-rate", "--duration", "--report-every", "--processes", "--master",
                   "--worker", "--master-host", "--output", "--max-violation-rate"):
        assert option in shown
    sut = tmp_path / "down.toml"
    sut.write_text(f'[sut]\nrole = "wfm"\nname = "down"\n[wfm]\nbase_url = "https://127.0.0.1:{free_port()}"\n'
                   'request_timeout_s = 2\n')
    started = time.monotonic()
    done = _load("--sut", str(sut), "--duration", "5")
    assert done.returncode == 3 and done.stderr.startswith("SUT unreachable: cannot connect")
    assert time.monotonic() - started < 2 * 2 + 10
