"""``margo-conformance init`` writes SUT files with exactly the keys ``load_sut`` accepts (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app
from margo_conformance.cli.init import template_text
from margo_conformance.sut import load_sut

#: Every key path the SUT-file parser accepts, per role (sut.py); the templates must show each one.
ACCEPTED = {
    "wfm": {"sut.role", "sut.name", "sut.profile", "sut.vendor", "sut.product", "sut.version", "wfm.base_url", "wfm.ca", "wfm.server_name",
            "wfm.request_timeout_s", "wfm.operator.trust_issuer", "wfm.operator.approve", "wfm.operator.reject",
            "wfm.operator.revoke", "wfm.operator.approve_pending", "wfm.operator.reject_pending",
            "wfm.operator.timeout_s"},
    "device": {"sut.role", "sut.name", "sut.profile", "sut.vendor", "sut.product", "sut.version", "device.mode", "device.launch", "device.launch_bootstrap",
               "device.launch_gateway", "device.timeout_s", "device.parallel", "device.env.ACME_LOG_LEVEL"},
}


def _uncommented(text: str) -> str:
    """The template with every optional table and key switched on."""
    return re.sub(r"^# (\[[\w.]+\]|[A-Za-z_]+ = )", r"\1", text, flags=re.M)


def _keys(text: str) -> set[str]:
    import tomllib

    def walk(prefix: str, table: dict) -> set[str]:
        out = set()
        for key, value in table.items():
            path = f"{prefix}{key}"
            out |= walk(path + ".", value) if isinstance(value, dict) else {path}
        return out

    return walk("", tomllib.loads(text))


@pytest.mark.parametrize("role", ["wfm", "device"])
def test_the_template_loads_as_written_and_with_every_option(role: str, tmp_path: Path) -> None:
    plain, full = tmp_path / "plain.toml", tmp_path / "full.toml"
    plain.write_text(template_text(role))
    full.write_text(_uncommented(template_text(role)))
    assert load_sut(plain).role == role
    if role == "wfm":
        assert load_sut(full).wfm.operator.has("reject_pending")
    else:
        assert load_sut(full).device.launch_gateway
    assert _keys(full.read_text()) == ACCEPTED[role]


def test_init_writes_the_file_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--role", "device"])
    assert first.exit_code == 0 and (tmp_path / "device-sut.toml").read_text() == template_text("device")
    again = runner.invoke(app, ["init", "--role", "device"])
    assert again.exit_code == 2 and "exists" in again.output
    assert runner.invoke(app, ["init", "--role", "toaster"]).exit_code == 2


def test_version_flag() -> None:
    from margo_conformance import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"margo-conformance {__version__}"


#: The MIAF WFM template: the keys of a WFM certified over mutual TLS with SVIDs (identity or hooks).
MIAF_ACCEPTED = {"sut.role", "sut.name", "sut.profile", "wfm.base_url", "wfm.wfm_id", "wfm.trust_domain",
                 "wfm.request_timeout_s", "wfm.policy_mode", "wfm.rate_limit", "wfm.svid_csr", "identity.ca_cert", "identity.ca_key",
                 "identity.bundle", "wfm.operator.trust_bundle", "wfm.operator.add_client",
                 "wfm.operator.retire_client", "wfm.operator.install_wfm_svid", "wfm.operator.maintenance_on",
                 "wfm.operator.maintenance_off", "wfm.operator.timeout_s"}


def _signing_ca(directory: Path) -> None:
    """The files the MIAF template names, so that its [identity] table loads when switched on."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendor CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "vendor-signing-ca.pem").write_bytes(pem)
    (directory / "vendor-bundle.pem").write_bytes(pem)
    (directory / "vendor-signing-ca.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "wfm.csr").write_text("a CSR file; only its presence is validated when the SUT file loads\n")


def test_the_miaf_template_loads_in_hooks_mode_and_with_a_signing_ca(tmp_path: Path) -> None:
    plain, full = tmp_path / "plain.toml", tmp_path / "full.toml"
    plain.write_text(template_text("wfm", "miaf-rc3"))
    full.write_text(_uncommented(template_text("wfm", "miaf-rc3")))
    _signing_ca(tmp_path)
    hooks = load_sut(plain)
    assert (hooks.profile, hooks.identity, hooks.wfm.wfm_id) == ("miaf-rc3", None, "wfm-h1")
    assert hooks.wfm.operator.has("install_wfm_svid")
    with_ca = load_sut(full)
    assert with_ca.identity is not None and with_ca.identity.ca_key.name == "vendor-signing-ca.key"
    assert _keys(full.read_text()) == MIAF_ACCEPTED
    assert "vendor-signing-ca.key" not in str(with_ca.describe()), "the key file is never named in a report fact"


def test_init_offers_the_miaf_template_and_refuses_an_unknown_profile(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["init", "--role", "wfm", "--profile", "miaf-rc3", "miaf.toml"])
    assert done.exit_code == 0, done.output
    assert 'profile = "miaf-rc3"' in (tmp_path / "miaf.toml").read_text()
    unknown = runner.invoke(app, ["init", "--role", "wfm", "--profile", "nope", "x.toml"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
