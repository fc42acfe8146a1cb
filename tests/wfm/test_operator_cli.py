"""Operator interface: the admin endpoint (token, loopback) and the ``wfm`` commands, including ``serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app as main_app
from margo_conformance.pki import TestCA
from margo_conformance.wfm import WfmConfig, WfmServer

from .helpers import Device, client_for

runner = CliRunner()


def admin(server: WfmServer, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token if token is not None else server.admin_token}"}
    return httpx.Client(base_url=server.admin_url, headers=headers, timeout=10)


def test_admin_endpoint_requires_the_token_and_listens_on_loopback(make_wfm) -> None:
    server = make_wfm()
    assert server.admin_url.startswith("http://127.0.0.1:")
    with admin(server, token="wrong") as http:
        response = http.get("/admin/clients")
        assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    with httpx.Client(base_url=server.admin_url, timeout=10) as http:
        assert http.get("/admin/health").status_code == 401
    with admin(server) as http:
        assert http.get("/admin/health").json() == {"status": "ok"}


def test_admin_endpoint_decides_like_the_operator(make_wfm, wfm_ca: TestCA) -> None:
    """ONB-09/ONB-10/SIG-13 hooks: manual approval, revocation, re-enabling, over HTTP."""
    server = make_wfm(trust="manual", approval_timeout_s=0.2, approval_poll_s=0.05)
    with client_for(server) as http, admin(server) as ops:
        device = Device(server, http, wfm_ca.issue_client_cert("via-admin"))
        assert device.onboard().status_code == 403  # nobody decided in time
        (pending,) = ops.get("/admin/clients", params={"state": "pending"}).json()
        assert ops.post(f"/admin/clients/{pending['clientId']}/approve").json()["state"] == "approved"
        assert device.onboard().status_code == 201
        assert device.put().status_code == 201
        assert ops.post(f"/admin/clients/{device.client_id}/revoke").json()["state"] == "revoked"
        assert device.put().status_code == 403
        assert ops.post("/admin/clients/nobody/approve").status_code == 404
        assert ops.post(f"/admin/clients/{device.client_id}/explode").status_code == 400
        other = TestCA("other issuing CA")
        stranger = Device(server, http, other.issue_client_cert("stranger"))
        assert ops.post("/admin/trust/issuers", content=other.cert_pem()).status_code == 200
        assert stranger.onboard().status_code == 201  # issued by an allow-listed CA: no decision needed
        assert ops.post("/admin/trust/certificates", content=b"not a certificate").status_code == 400


def test_cli_list_approve_reject_revoke(tmp_path: Path, wfm_ca: TestCA) -> None:
    with WfmServer(WfmConfig(trust="manual", approval_timeout_s=0.1, approval_poll_s=0.05), ca=wfm_ca,
                   data_dir=tmp_path) as server, client_for(server) as http:
        device = Device(server, http, wfm_ca.issue_client_cert("cli-managed"))
        assert device.onboard().status_code == 403
        result = runner.invoke(main_app, ["wfm", "list", "--data-dir", str(tmp_path), "--json"])
        assert result.exit_code == 0, result.output
        (record,) = json.loads(result.output)
        assert record["state"] == "pending"
        # the decision comes from "another process" while the server runs
        result = runner.invoke(main_app, ["wfm", "approve", record["clientId"], "--data-dir", str(tmp_path)])
        assert result.exit_code == 0 and "approved" in result.output
        assert device.onboard().status_code == 201
        assert runner.invoke(main_app, ["wfm", "revoke", record["clientId"], "--data-dir", str(tmp_path)]).exit_code == 0
        assert device.put().status_code == 403
        assert runner.invoke(main_app, ["wfm", "reject", record["clientId"], "--data-dir", str(tmp_path)]).exit_code == 0
        listed = runner.invoke(main_app, ["wfm", "list", "--data-dir", str(tmp_path)])
        assert record["clientId"] in listed.output and "rejected" in listed.output
    result = runner.invoke(main_app, ["wfm", "approve", "nobody", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    result = runner.invoke(main_app, ["wfm", "list", "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2


def test_cli_serve_usage_errors_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(main_app, ["wfm", "serve", "--data-dir", str(tmp_path), "--defect", "no-such-defect"])
    assert result.exit_code == 2 and "unknown WFM defect" in result.output
    result = runner.invoke(main_app, ["wfm", "serve", "--data-dir", str(tmp_path), "--trust", "sometimes"])
    assert result.exit_code == 2


def test_defects_command_lists_the_wfm_defects() -> None:
    result = runner.invoke(main_app, ["defects", "--role", "wfm", "--json"])
    assert result.exit_code == 0
    names = {d["name"]: d["requirement"] for d in json.loads(result.output)}
    assert names["sig-any-key"] == "SIG-09" and len(names) >= 15


@pytest.mark.slow
def test_serve_runs_standalone_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The real command in a subprocess: prints where it listens, serves, writes ca.pem and admin.json."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--cert-form", "pem"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("WFM listening on https://127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        base_url = line.split()[-1]
        info = json.loads((tmp_path / "admin.json").read_text())
        assert info["base_url"] == base_url
        from cryptography import x509

        root = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
        from margo_conformance.wfm.tls import client_context

        with httpx.Client(verify=client_context(root), timeout=10) as http:
            body = http.get(base_url + "/api/v1/onboarding/certificate").json()
        assert body["certificate"].startswith("LS0tLS1CRUdJTi")  # base64 of "-----BEGIN"
        with httpx.Client(timeout=10) as http:
            health = http.get(info["admin_url"] + "/admin/health",
                              headers={"authorization": f"Bearer {info['token']}"})
        assert health.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    time.sleep(0)
