"""SUT files of a WFM certified over mutual TLS with SVIDs (MIAF): every mistake is a ConfigError (exit 2)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from margo_conformance.errors import ConfigError
from margo_conformance.sut import load_sut

HEAD = """
[sut]
role = "wfm"
name = "Acme WFM 3.0"
profile = "miaf-rc3"
"""
WFM = """
[wfm]
base_url = "https://127.0.0.1:8443"
wfm_id = "wfm-h1"
trust_domain = "harness.test"
"""
HOOKS = """
[wfm.operator]
trust_bundle = "wfmctl trust {bundle_file}"
add_client = "wfmctl allow {spiffe_id}"
retire_client = "wfmctl retire {spiffe_id}"
install_wfm_svid = "wfmctl svid {svid_cert} {svid_key} {svid_chain}"
"""
IDENTITY = """
[identity]
ca_cert = "ca.pem"
ca_key = "ca.key"
"""


def _ca(directory: Path, *, ca: bool = True, other_key: bool = False) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendor CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True).sign(key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    written = ec.generate_private_key(ec.SECP256R1()) if other_key else key
    (directory / "ca.key").write_bytes(written.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))


def _load(tmp_path: Path, text: str):
    path = tmp_path / "sut.toml"
    path.write_text(text)
    return load_sut(path)


def test_hooks_mode_loads(tmp_path: Path) -> None:
    sut = _load(tmp_path, HEAD + WFM + HOOKS)
    assert (sut.wfm.wfm_id, sut.wfm.trust_domain, sut.wfm.policy_mode, sut.identity) == \
        ("wfm-h1", "harness.test", "allowlist", None)
    assert sut.describe()["wfm.identity"] == "harness as MIS (hooks)"
    assert sut.wfm.rate_limit is None and not sut.wfm.operator.has("maintenance_on")


def test_a_declared_rate_limit_and_the_maintenance_hooks_load(tmp_path: Path) -> None:
    sut = _load(tmp_path, HEAD + WFM + "rate_limit = 20\n" + HOOKS
                + 'maintenance_on = "wfmctl maintenance on"\nmaintenance_off = "wfmctl maintenance off"\n')
    assert sut.wfm.rate_limit == 20
    assert sut.wfm.operator.has("maintenance_on") and sut.wfm.operator.has("maintenance_off")


def test_signing_ca_mode_loads_and_the_contract_spelling_of_the_hooks_table_works(tmp_path: Path) -> None:
    _ca(tmp_path)
    sut = _load(tmp_path, HEAD + WFM + IDENTITY + "\n[operator]\nretire_client = \"wfmctl retire {spiffe_id}\"\n")
    assert sut.identity is not None and sut.identity.ca_cert == (tmp_path / "ca.pem").resolve()
    assert sut.wfm.operator.has("retire_client")


@pytest.mark.parametrize(("text", "message"), [
    (HEAD + WFM, "either [identity] ca_cert + ca_key"),
    (HEAD + WFM.replace('wfm_id = "wfm-h1"\n', "") + HOOKS, "wfm.wfm_id: required key is missing"),
    (HEAD + WFM.replace("wfm-h1", "wfm~1") + HOOKS, "wfm.wfm_id: letters, digits"),
    (HEAD + WFM.replace("harness.test", "Harness.Test") + HOOKS, "wfm.trust_domain: a lower-case"),
    (HEAD + WFM + 'ca = "download"\n' + HOOKS, "wfm.ca: not used under a mutual-TLS profile"),
    (HEAD + WFM + 'policy_mode = "open"\n' + HOOKS, "wfm.policy_mode"),
    (HEAD + WFM + "rate_limit = 0\n" + HOOKS, "wfm.rate_limit: a positive number"),
    (HEAD + WFM + 'rate_limit = "fast"\n' + HOOKS, "wfm.rate_limit"),
    (HEAD + WFM + HOOKS.replace("{spiffe_id}", "{client}"), "unknown placeholder {client}"),
    (HEAD + WFM + IDENTITY.replace("ca.key", "missing.key"), "identity.ca_key: file not found"),
    (HEAD.replace("miaf-rc3", "httpsig-2026h1") + '[wfm]\nbase_url = "https://h"\n' + IDENTITY,
     "[identity]: only for a mutual-TLS profile"),
    (HEAD.replace("miaf-rc3", "httpsig-2026h1") + '[wfm]\nbase_url = "https://h"\nwfm_id = "w"\n',
     "wfm.wfm_id: only for a mutual-TLS profile"),
    (HEAD + WFM + HOOKS + "\n[operator]\nadd_client = \"x {spiffe_id}\"\n", "give the operator hooks in one of them"),
])
def test_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    _ca(tmp_path)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)


@pytest.mark.parametrize(("ca", "other_key", "message"), [
    (False, False, "is not a CA certificate"),
    (True, True, "the key does not belong to identity.ca_cert"),
])
def test_a_signing_ca_that_cannot_sign_is_refused_without_echoing_the_key(tmp_path: Path, ca: bool, other_key: bool,
                                                                         message: str) -> None:
    _ca(tmp_path, ca=ca, other_key=other_key)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, HEAD + WFM + IDENTITY)
    assert message in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
