"""`device run` exit codes against a real WFM: 0 done, 1 refused (with the problem type), 3 not trusted.

In process through typer's runner, and once standalone: `wfm serve` and `device run` as two processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app

from .conftest import settled

runner = CliRunner()


def _run(wfm, tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["device", "run", "--wfm-url", wfm.base_url, "--ca-file", str(wfm.ca_file),
                                 "--state-dir", str(tmp_path / "state"), "--timeout", "5", *extra])
    return result.exit_code, result.output


def test_exit_0_logs_each_step(wfm, tmp_path: Path) -> None:
    code, out = _run(wfm, tmp_path)
    assert code == 0, out
    steps = [line.split(":")[0] for line in out.splitlines() if line.split(":")[0] in ("trust", "onboarding", "report", "ok")]
    assert steps == ["trust", "onboarding", "report", "ok"]  # one line per step, in order
    assert "onboarding: 201, clientId" in out and "ok: onboarded as clientId" in out
    assert [o.route for o in settled(wfm, 0, 2)] == ["onboarding", "capabilities"]
    code, out = _run(wfm, tmp_path)  # restart: state kept
    assert code == 0 and "onboarding: skipped, already onboarded" in out and "ok: already onboarded" in out


def test_exit_1_names_the_problem_type(wfm, tmp_path: Path) -> None:
    wfm.faults.reject_onboarding()
    code, out = _run(wfm, tmp_path)
    assert code == 1, out
    assert "refused: onboarding: the WFM refused with 403 certificate-not-trusted" in out
    assert "Traceback" not in out


def test_exit_3_when_the_certificate_is_not_trusted(wfm, tmp_path: Path) -> None:
    wfm.reconfigure_tls("expired")
    code, out = _run(wfm, tmp_path)
    assert code == 3, out
    assert "unreachable:" in out and "certificate has expired" in out and "Traceback" not in out
    assert [o.kind for o in settled(wfm, 0, 1)] == ["tls-failure"]


def test_exit_2_for_an_invalid_capabilities_file(wfm, tmp_path: Path) -> None:
    f = tmp_path / "caps.json"
    f.write_text(json.dumps({"apiVersion": "v", "kind": "DeviceCapabilitiesManifest",
                             "properties": {"id": "d", "vendor": "v", "modelNumber": "m", "serialNumber": "s",
                                            "cpus": [{"cores": 1, "architecture": "x86_64"}]}}))
    code, out = _run(wfm, tmp_path, "--capabilities", str(f))
    assert code == 2 and "not a valid manifest" in out and "/properties/cpus/0/architecture" in out
    assert wfm.observations.all() == []  # nothing sent


# -- standalone: two processes -------------------------------------------------------------------------------

CLI = [sys.executable, "-m", "margo_conformance.cli"]


@pytest.fixture
def standalone_wfm(tmp_path: Path):
    """`margo-conformance wfm serve` on 127.0.0.1 with a free port; yields (base_url, ca_file, data_dir)."""
    data = tmp_path / "wfm"
    proc = subprocess.Popen([*CLI, "wfm", "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data),
                             "--trust", "allow-list"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        admin = data / "admin.json"
        while not admin.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"wfm serve did not start: {proc.communicate(timeout=5)[0]}")
            time.sleep(0.05)
        info = json.loads(admin.read_text())
        yield info["base_url"], Path(info["ca_file"]), data
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _device(base_url: str, ca_file: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "device", "run", "--wfm-url", base_url, "--ca-file", str(ca_file),
                           "--state-dir", str(state), "--timeout", "5"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow
def test_standalone_refusal_then_success_after_the_operator_trusts_the_issuer(standalone_wfm, tmp_path: Path) -> None:
    base_url, ca_file, data = standalone_wfm
    state = tmp_path / "device"
    refused = _device(base_url, ca_file, state)  # allow-list: the device's manufacturer CA is unknown
    assert refused.returncode == 1, refused.stderr
    assert "403 certificate-not-trusted" in refused.stderr and "Traceback" not in refused.stderr
    trust = subprocess.run([*CLI, "wfm", "trust-issuer", str(state / "issuer-ca.pem"), "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=30)
    assert trust.returncode == 0, trust.stderr
    done = _device(base_url, ca_file, state)  # same identity (state dir), now trusted
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: onboarded as clientId ")
    listed = subprocess.run([*CLI, "wfm", "list", "--data-dir", str(data), "--json"], capture_output=True,
                            text=True, timeout=30)
    client_id = done.stdout.split("clientId ")[1].split(";")[0]
    assert client_id in {c["clientId"] for c in json.loads(listed.stdout)}
