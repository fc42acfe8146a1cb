"""``load --profile miaf-rc3``: a fleet of SVID clients (each its own TLS identity) against the reference MIAF WFM.

Real Locust runs in subprocesses (gevent must never be loaded into the test process). The builtin MIAF WFM is
set up like a vendor's with ``[identity]`` (a signing CA made by the load command) and its policy accepts the
client namespace (Q-65). The fleet is chosen by the profile's authenticator kind ("mtls-svid").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from margo_conformance.load.report import validate_load_summary
from margo_conformance.resources import PROJECT_ROOT

pytestmark = pytest.mark.timeout(300)  # tests/load runs in the suite tier (tests/conftest.py)
CLIENTS = 8
FLEET = ("--profile", "miaf-rc3", "--devices", str(CLIENTS), "--spawn-rate", str(CLIENTS), "--report-every", "0.3",
         "--reports", "4", "--duration", "20")
#: How a must-be-refused PUT may legitimately be answered: a 4xx, or a refusal in TLS (handshake alert or a
#: closed connection), as the digest allows for a client without a certificate (MTLS-02) or of another trust
#: domain (SVID-10).
REFUSED_ROUTES = ("capabilities PUT (other trust domain)", "capabilities PUT (no certificate)")


def _load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "margo_conformance", "load", *args], capture_output=True, text=True,
                          timeout=150, cwd=PROJECT_ROOT)


def _summary(output: Path) -> dict:
    summary = json.loads((output / "load-summary.json").read_text())
    assert validate_load_summary(summary) == []
    return summary


def _route(summary: dict, name: str) -> dict:
    return next(r for r in summary["routes"] if r["route"] == name)


def test_an_svid_fleet_in_two_processes_against_the_reference_miaf_wfm_passes(tmp_path: Path) -> None:
    done = _load("--processes", "2", "--fault-share", "0.5", *FLEET, "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    assert summary["sut"]["profile"] == "miaf-rc3" and summary["run"]["processes"] == 2
    assert summary["sut"]["spec"].startswith("margo/specification@")
    assert summary["result"]["violations"] == 0 and summary["run"]["finished_by"] == "every device done"
    put, delete = _route(summary, "capabilities PUT"), _route(summary, "capabilities DELETE")
    # each client's first report creates its record (201), the next ones replace it (200): MCAP-05 per caller
    assert put["by_status"] == {"201": CLIENTS, "200": CLIENTS * 3} and put["expected"] == CLIENTS * 4
    assert delete["by_status"] == {"204": CLIENTS} and delete["expected"] == CLIENTS
    assert _route(summary, "onboarding POST")["count"] == 0  # MIAF has no onboarding: nothing signed, no POST
    refused = [_route(summary, name) for name in REFUSED_ROUTES]
    assert sum(r["count"] for r in refused) > 0
    for row in refused:
        assert row["violations"] == 0 and row["expected"] == row["count"]
        assert all(status.startswith("TLS refusal") or status.startswith("4") for status in row["by_status"])
    # the reference WFM refuses a foreign trust domain with 403 not-authorized (SVID-10, MID-11)
    ftd = _route(summary, "capabilities PUT (other trust domain)")
    if ftd["count"]:
        assert set(ftd["by_status"]) == {"403"}
        assert set(ftd["by_problem_type"]) == {"https://docs.margo.org/specification/problem-types#not-authorized"}
    markdown = (tmp_path / "load-summary.md").read_text()
    assert "**Profile:** miaf-rc3 (margo/specification@" in markdown
    assert "Profile: miaf-rc3" in done.stdout


def test_a_miaf_wfm_that_serves_a_foreign_trust_domain_fails_the_run(tmp_path: Path) -> None:
    done = _load("--processes", "1", "--fault-share", "1", *FLEET, "--defect", "miaf-foreign-trust-domain-accepted",
                 "--output", str(tmp_path))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    ftd = _route(summary, "capabilities PUT (other trust domain)")
    assert ftd["violations"] == ftd["count"] > 0
    assert set(ftd["violation_reasons"]) <= {"accepted a request that must fail (201)",
                                             "accepted a request that must fail (200)"}
    # exactly the defect's route: the clean clients and the certificate-less ones are judged as before
    assert _route(summary, "capabilities PUT")["violations"] == 0
    assert _route(summary, "capabilities PUT (no certificate)")["violations"] == 0
    assert summary["result"]["verdict"] == "FAIL"


def test_an_httpsig_defect_name_under_the_miaf_profile_is_a_usage_error(tmp_path: Path) -> None:
    done = _load("--profile", "miaf-rc3", "--defect", "onboarding-race-500", "--output", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --defect: unknown miaf-rc3 wfm defect onboarding-race-500; see 'margo-conformance defects --role "
        "wfm --profile miaf-rc3'"]


def test_several_load_processes_under_operator_hooks_are_a_usage_error(tmp_path: Path) -> None:
    """Each process would install its own trust domain through the hooks; only [identity] is shared."""
    sut = tmp_path / "hooks.toml"
    sut.write_text('[sut]\nrole = "wfm"\nname = "hooks WFM"\nprofile = "miaf-rc3"\n\n[wfm]\n'
                   'base_url = "https://127.0.0.1:9"\nwfm_id = "wfm-h1"\ntrust_domain = "harness.test"\n\n'
                   '[wfm.operator]\ntrust_bundle = "true {bundle_file}"\nadd_client = "true {spiffe_id}"\n'
                   'retire_client = "true {spiffe_id}"\ninstall_wfm_svid = "true {svid_cert} {svid_key} {svid_chain}"\n')
    done = _load("--sut", str(sut), "--processes", "2", "--output", str(tmp_path / "out"))
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "error: a load spread over several processes needs [identity] ca_cert/ca_key in the SUT file (one signing "
        "CA for every process); with operator hooks, run one process (--processes 1)"]
