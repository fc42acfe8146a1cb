"""``margo-conformance wfm serve --profile miaf-rc3`` and the MIAF operator commands (add-client, retire-client,
trust-bundle): a dev trust domain a person can curl at once, operator changes seen by the running server, and
bad input answered with exit 2 and one clear line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app as main_app
from margo_conformance.pki.spiffe import SpiffeAuthority
from margo_conformance.wfm.miaf import MiafWfmServer
from margo_conformance.wfm.miaf.serve import prepare

from .miaf_helpers import BASE, manifest

runner = CliRunner()
C1 = "spiffe://harness.test/margo/wfm/wfm-h1/client/c1"


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(main_app, list(args))
    return result.exit_code, result.output


def dev_client(data_dir: Path, base_url: str) -> httpx.Client:
    import ssl

    ctx = ssl.create_default_context(cafile=str(data_dir / "bundle.pem"))
    ctx.load_cert_chain(str(data_dir / "client-c1.pem"), str(data_dir / "client-c1.key"))
    return httpx.Client(base_url=base_url.replace("127.0.0.1", "localhost"), verify=ctx, timeout=5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, MiafWfmServer]]:
    """What ``serve`` does without an SVID, in-process: a dev trust domain in the data dir, c1 on the policy."""
    setup = prepare(tmp_path, svid_cert=None, svid_key=None, trust_bundle=None, wfm_id=None)
    with MiafWfmServer(svid=setup.svid, bundle_pem=setup.bundle_pem, trust_domain=setup.trust_domain,
                       wfm_id=setup.wfm_id, data_dir=tmp_path) as server:
        assert setup.dev_client == C1
        server.operator.add_client(C1)
        yield tmp_path, server


def test_dev_trust_domain_files_and_the_operator_commands_on_a_running_server(served) -> None:
    data_dir, server = served
    for name in ("bundle.pem", "bundle.jwks.json", "wfm-svid.pem", "wfm-svid.key", "client-c1.pem", "client-c1.key",
                 "admin.json"):
        assert (data_dir / name).is_file(), name
    for key in ("wfm-svid.key", "client-c1.key", "admin.json"):
        assert (data_dir / key).stat().st_mode & 0o077 == 0, key
    jwks = json.loads((data_dir / "bundle.jwks.json").read_text())
    assert [k["use"] for k in jwks["keys"]] == ["x509-svid"]
    assert json.loads((data_dir / "admin.json").read_text())["base_url"] == server.base_url
    with dev_client(data_dir, server.base_url) as http:
        assert http.put(BASE + "d1", json=manifest("d1")).status_code == 201
        assert cli("wfm", "retire-client", C1, "--data-dir", str(data_dir)) == (0, f"{C1} retired\n")
        assert http.put(BASE + "d1", json=manifest("d1")).status_code == 403
        assert cli("wfm", "add-client", C1, "--data-dir", str(data_dir)) == (0, f"{C1} active\n")
        assert http.put(BASE + "d1", json=manifest("d1")).status_code == 200
    foreign = tmp_bundle = data_dir / "foreign.pem"
    tmp_bundle.write_bytes(SpiffeAuthority().bundle_pem())
    code, out = cli("wfm", "trust-bundle", str(foreign), "--data-dir", str(data_dir))
    assert code == 0 and "replaced" in out
    with pytest.raises(httpx.TransportError), dev_client(data_dir, server.base_url) as http:  # c1 chains to R1 only
        http.put(BASE + "d1", json=manifest("d1"))


def test_restart_reuses_the_dev_trust_domain(tmp_path: Path) -> None:
    first = prepare(tmp_path, svid_cert=None, svid_key=None, trust_bundle=None, wfm_id=None)
    again = prepare(tmp_path, svid_cert=None, svid_key=None, trust_bundle=None, wfm_id=None)
    assert again.svid.cert == first.svid.cert and again.bundle_pem == first.bundle_pem
    with pytest.raises(Exception, match="already holds a dev trust domain"):
        prepare(tmp_path, svid_cert=None, svid_key=None, trust_bundle=None, wfm_id="other")


def test_maintenance_from_the_command_line_answers_503_then_serves_again(served) -> None:
    """MRTY-02: maintenance is a state in the data dir, so the operator command works on a running server."""
    data_dir, _server = served
    with dev_client(data_dir, _server.base_url) as http:
        assert cli("wfm", "maintenance", "on", "--data-dir", str(data_dir)) == (0, "maintenance on\n")
        busy = http.put(BASE + "m1", json=manifest("m1"))
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.headers["content-type"] == "application/problem+json"
        doc = busy.json()
        assert (doc["type"], doc["retryable"], doc["backoffStrategy"], doc["retryAfterSeconds"]) == \
            ("about:blank", True, "exponential", 1)
        assert busy.headers["x-margo-check"] == "maintenance"
        assert cli("wfm", "maintenance", "off", "--data-dir", str(data_dir)) == (0, "maintenance off\n")
        assert http.put(BASE + "m1", json=manifest("m1")).status_code == 201


def test_a_client_over_the_rate_limit_gets_429_and_others_are_not_counted(tmp_path: Path) -> None:
    """MRTY-01: the limit counts one client's requests in the last second; the excess gets a retryable 429."""
    setup = prepare(tmp_path, svid_cert=None, svid_key=None, trust_bundle=None, wfm_id=None)
    with MiafWfmServer(svid=setup.svid, bundle_pem=setup.bundle_pem, trust_domain=setup.trust_domain,
                       wfm_id=setup.wfm_id, data_dir=tmp_path, rate_limit=3) as server:
        server.operator.add_client(C1)
        with dev_client(tmp_path, server.base_url) as http:
            codes = [http.put(BASE + "r1", json=manifest("r1")).status_code for _ in range(4)]
            assert codes == [201, 200, 200, 429], codes
            limited = http.put(BASE + "r1", json=manifest("r1"))
            assert limited.headers["retry-after"] == "1" and limited.headers["x-margo-check"] == "rate-limit"
            assert (limited.json()["retryable"], limited.json()["backoffStrategy"]) == (True, "exponential")


@pytest.mark.parametrize("args", [
    ("wfm", "add-client", C1),  # no database in the data dir
    ("wfm", "maintenance", "sometimes"),
    ("wfm", "serve", "--profile", "miaf-rc3", "--port", "0", "--rate-limit", "-1"),
    ("wfm", "serve", "--profile", "nope", "--port", "0"),
    ("wfm", "serve", "--profile", "miaf-rc3", "--port", "0", "--svid-cert", "x.pem"),
    ("wfm", "serve", "--profile", "miaf-rc3", "--port", "0", "--policy-mode", "everyone"),
    ("wfm", "serve", "--profile", "miaf-rc3", "--port", "0", "--defect", "nope"),
    ("wfm", "serve", "--profile", "httpsig-2026h1", "--port", "0", "--wfm-id", "x"),
])
def test_bad_input_is_exit_2_with_one_clear_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out = cli(*args, "--data-dir", str(tmp_path / "d"))
    assert code == 2, out
    assert out.startswith("error: ") and "Traceback" not in out, out


def test_operator_commands_refuse_bad_ids_and_bundles(served) -> None:
    data_dir, _ = served
    bad = data_dir / "bad.pem"
    bad.write_text("not a certificate")
    for args in (("wfm", "add-client", "nope"), ("wfm", "retire-client", "spiffe://other.test/margo/wfm/wfm-h1/client/c1"),
                 ("wfm", "trust-bundle", str(bad)), ("wfm", "trust-bundle", str(data_dir / "missing.pem")),
                 ("wfm", "trust-bundle", str(data_dir / "client-c1.pem"))):
        code, out = cli(*args, "--data-dir", str(data_dir))
        assert code == 2 and out.startswith("error: "), (args, out)


@pytest.mark.slow
def test_serve_in_a_subprocess_is_reachable_by_curl_and_refuses_openssl_without_a_certificate(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--profile", "miaf-rc3", "--port", "0",
         "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("MIAF WFM (miaf-rc3) listening on https://127.0.0.1:"), lines
        port = lines[0].rsplit(":", 1)[1].strip()
        hint = next(line for line in iter(proc.stdout.readline, "") if line.startswith("try: curl"))
        if shutil.which("curl"):
            out = subprocess.run(hint[len("try: "):].strip() + " -s -o /dev/null -w '%{http_code}' --max-time 5",
                                 shell=True, capture_output=True, text=True, timeout=10)  # noqa: S602 - our own hint
            assert out.stdout == "201", out
        if shutil.which("openssl"):
            nocert = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                                     str(tmp_path / "bundle.pem"), "-quiet"], input="GET / HTTP/1.1\r\n\r\n",
                                    capture_output=True, text=True, timeout=10)
            assert "HTTP/1.1" not in nocert.stdout and nocert.returncode != 0, nocert
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


def test_serve_with_the_operators_own_svid_and_bundle(tmp_path: Path) -> None:
    authority = SpiffeAuthority()
    files = authority.wfm_svid("wfm-x").write(tmp_path, "vendor-wfm")
    bundle = authority.write_bundle(tmp_path / "b").pem
    setup = prepare(tmp_path / "d", svid_cert=files.cert, svid_key=files.key, trust_bundle=bundle, wfm_id=None)
    assert (setup.trust_domain, setup.wfm_id, setup.made, setup.dev_client) == ("harness.test", "wfm-x", {}, None)
    assert setup.svid.chain and setup.bundle_pem == bundle.read_bytes()  # the intermediate travels with the leaf
    with pytest.raises(Exception, match="differs from the SVID's wfm-id"):
        prepare(tmp_path / "d", svid_cert=files.cert, svid_key=files.key, trust_bundle=bundle, wfm_id="wfm-y")
    client = authority.client_svid("c1", wfm_id="wfm-x").write(tmp_path, "c1")
    with pytest.raises(Exception, match="not a WFM SPIFFE ID"):
        prepare(tmp_path / "d", svid_cert=client.cert, svid_key=client.key, trust_bundle=bundle, wfm_id=None)
    with pytest.raises(Exception, match="needs --trust-bundle"):
        prepare(tmp_path / "d", svid_cert=files.cert, svid_key=files.key, trust_bundle=None, wfm_id=None)
