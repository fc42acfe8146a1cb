"""The state directory: a private key file mode 0600, an identity that survives a restart, state round trip."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from margo_conformance.device.identity import DeviceState, StateDir
from margo_conformance.errors import ConfigError
from margo_conformance.pki import KeyType, TestCA


def test_generated_identity_is_private_and_reloads(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    issued = sd.create_identity(KeyType.P256, "dev-1")
    key_file = tmp_path / "state" / "key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not sd.key_mode_too_open()
    again = sd.load_identity()
    assert again.fingerprint_sha256() == issued.fingerprint_sha256()
    assert again.spki_sha256_hex() == issued.spki_sha256_hex()
    assert (tmp_path / "state" / "issuer-ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in (tmp_path / "state" / "cert.pem").read_bytes()


def test_imported_identity_must_match_its_key(tmp_path: Path) -> None:
    ca = TestCA()
    a, b = ca.issue_client_cert("a"), ca.issue_client_cert("b")
    cert_a, _ = a.write_files(tmp_path, "a")
    _, key_b = b.write_files(tmp_path, "b")
    with pytest.raises(ConfigError, match="does not belong"):
        StateDir(tmp_path / "s").import_identity(cert_a, key_b)


def test_state_round_trip(tmp_path: Path) -> None:
    sd = StateDir(tmp_path)
    assert sd.load_state() == DeviceState()
    st = sd.record_onboarding(DeviceState(device_id="d"), wfm_url="https://w", client_id="c1", cert_sha256="ab")
    loaded = sd.load_state()
    assert (loaded.client_id, loaded.wfm_url, loaded.device_id) == ("c1", "https://w", "d")
    assert loaded.onboarded_at == st.onboarded_at
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ConfigError, match="state file"):
        sd.load_state()


def test_device_id_comes_from_a_usable_common_name_else_from_the_key() -> None:
    from margo_conformance.device.client import _device_id_from

    ca = TestCA()
    assert _device_id_from(ca.issue_client_cert("line3-ipc-07")) == "line3-ipc-07"
    odd = ca.issue_client_cert("Line 3 IPC #7")
    assert _device_id_from(odd) == f"margo-ref-{odd.spki_sha256_hex()[:12]}"
