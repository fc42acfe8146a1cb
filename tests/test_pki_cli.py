"""``margo-conformance pki trust-domain``: the files it writes verify as a trust domain; usage errors exit 2."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from margo_conformance.cli import app as cli_app
from margo_conformance.pki.spiffe import classify_client_svid, classify_wfm_svid

runner = CliRunner()


def test_trust_domain_writes_bundle_and_svids(tmp_path: Path) -> None:
    out = tmp_path / "td"
    result = runner.invoke(cli_app, ["pki", "trust-domain", str(out), "--trust-domain", "lab.test",
                                     "--wfm-id", "wfm-7", "--client", "c1", "--client", "gw.2"])
    assert result.exit_code == 0, result.output
    [root] = x509.load_pem_x509_certificates((out / "bundle.pem").read_bytes())
    jwks = json.loads((out / "bundle.jwks.json").read_text())
    assert [k["use"] for k in jwks["keys"]] == ["x509-svid"]
    for stem, classify, kind in [("wfm-svid", classify_wfm_svid, "wfm"), ("client-c1", classify_client_svid, "client"),
                                 ("client-gw.2", classify_client_svid, "client")]:
        leaf, inter = x509.load_pem_x509_certificates((out / f"{stem}.pem").read_bytes())
        assert x509.load_pem_x509_certificates((out / f"{stem}-chain.pem").read_bytes()) == [inter]
        leaf.verify_directly_issued_by(inter)
        inter.verify_directly_issued_by(root)
        assert classify(leaf, trust_domain="lab.test", wfm_id="wfm-7").kind == kind
        key_file = out / f"{stem}.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert serialization.load_pem_private_key(key_file.read_bytes(), None).public_key() == leaf.public_key()
    assert "PRIVATE KEY" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing OUTDIR"),
        (["{out}", "--trust-domain", "Lab.test"], "invalid trust domain"),
        (["{out}", "--wfm-id", "a/b"], "invalid wfm-id"),
        (["{out}", "--client", "c~1"], "invalid client id"),
        (["{out}", "--client", "c1", "--client", "c1"], "given once"),
        (["{out}", "--key-type", "rsa2048"], "below the MIAF minimum"),
        (["{file}"], "is not a directory"),
        (["{taken}"], "already holds a trust domain"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "bundle.pem").write_text("x")
    argv = [a.format(out=tmp_path / "out", file=tmp_path / "file", taken=tmp_path / "taken") for a in args]
    result = runner.invoke(cli_app, ["pki", "trust-domain", *argv])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
