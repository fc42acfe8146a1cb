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
from margo_conformance.pki import KeyType, TestCA, cached_key

from .conftest import settled

runner = CliRunner()


def _run(wfm, tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["device", "run", "--wfm-url", wfm.base_url, "--ca-file", str(wfm.ca_file),
                                 "--state-dir", str(tmp_path / "state"), "--timeout", "5", *extra])
    return result.exit_code, result.output


def test_exit_0_logs_each_step(wfm, tmp_path: Path) -> None:
    code, out = _run(wfm, tmp_path)
    assert code == 0, out
    steps = [line.split(":")[0] for line in out.splitlines()
             if line.split(":")[0] in ("trust", "onboarding", "report", "ok")]
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

CLI = [sys.executable, "-m", "margo_conformance"]


@pytest.fixture(scope="module")
def vendor_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, Path]:
    """A device vendor's CA, allow-listed at the standalone WFM."""
    ca = TestCA("Device vendor CA (allow-listed)")
    return ca, ca.write_cert_pem(tmp_path_factory.mktemp("vendor") / "vendor-ca.pem")


@pytest.fixture(scope="module")
def standalone_wfm(tmp_path_factory: pytest.TempPathFactory, vendor_ca):
    """`margo-conformance wfm serve` on 127.0.0.1 with a free port, trusting the vendor CA only
    (allow-list); yields (base_url, ca_file, data_dir) once it listens, and terminates it afterwards."""
    data = tmp_path_factory.mktemp("wfm")
    proc = subprocess.Popen([*CLI, "wfm", "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data),
                             "--trust", "allow-list", "--trust-issuer", str(vendor_ca[1])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        admin = data / "admin.json"
        while not admin.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
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


def _device(base_url: str, ca_file: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "device", "run", "--wfm-url", base_url, "--ca-file", str(ca_file),
                           "--state-dir", str(state), "--timeout", "5", *extra],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow
@pytest.mark.parametrize("algorithm, key_type", [
    ("ecdsa-p256-sha256", KeyType.P256), ("ecdsa-p384-sha384", KeyType.P384),
    ("rsa-v1_5-sha256", KeyType.RSA2048), ("rsa-pss-sha256", KeyType.RSA2048)])
def test_standalone_each_margo_algorithm(standalone_wfm, vendor_ca, tmp_path: Path, algorithm: str,
                                         key_type: KeyType) -> None:
    base_url, ca_file, _ = standalone_wfm
    issued = vendor_ca[0].issue_client_cert(f"dev-{key_type.value}", key=cached_key(key_type, "standalone"))
    cert_file, key_file = issued.write_files(tmp_path, "device")
    done = _device(base_url, ca_file, tmp_path / "state", "--cert-file", str(cert_file), "--key-file",
                   str(key_file), "--alg", algorithm)
    assert done.returncode == 0, done.stderr
    assert f"signed {algorithm})" in done.stderr and "report: capability report for" in done.stderr
    again = _device(base_url, ca_file, tmp_path / "state", "--alg", algorithm)  # restart: the state is enough
    assert again.returncode == 0, again.stderr
    assert "onboarding: skipped" in again.stderr and "accepted with 200" in again.stderr


@pytest.mark.slow
def test_standalone_refusal_then_success_after_the_operator_trusts_the_issuer(standalone_wfm, tmp_path: Path) -> None:
    base_url, ca_file, data = standalone_wfm
    state = tmp_path / "device"
    refused = _device(base_url, ca_file, state)  # allow-list: the device's own manufacturer CA is unknown
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


def test_evidence_file_holds_every_exchange_without_keys(wfm, tmp_path: Path) -> None:
    path = tmp_path / "evidence.json"
    code, out = _run(wfm, tmp_path, "--evidence", str(path))
    assert code == 0, out
    exchanges = json.loads(path.read_text())
    assert [(e["request"]["method"], e["response"]["status"]) for e in exchanges] == [("POST", 201), ("PUT", 201)]
    assert all(e["signature_base_sent"].startswith('"@method": ') and e["tls"]["version"] == "TLSv1.3"
               for e in exchanges)
    assert "PRIVATE KEY" not in path.read_text()
