"""The MIAF device SUT file: placeholders, [device] bundle / svid_rotation / rotate_svid / change_capabilities,
clear config errors (exit 2), and manual mode printing every placeholder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app
from margo_conformance.errors import ConfigError
from margo_conformance.resources import FIXTURES_DIR
from margo_conformance.sut import DeviceTarget, load_sut
from margo_conformance.sut.device import DeviceUnderTest, MiafEndpoints

GOOD = 'launch = "agent --wfm-url {wfm_url} --cert {svid_cert} --key {svid_key} --bundle {bundle_file}"'


def _write(tmp_path: Path, device: str, profile: str = "miaf-rc3") -> Path:
    path = tmp_path / "sut.toml"
    path.write_text(f'[sut]\nrole = "device"\nname = "x"\nprofile = "{profile}"\n[device]\n' + textwrap.dedent(device))
    return path


def test_the_template_loads_with_the_contract_keys() -> None:
    sut = load_sut(FIXTURES_DIR / "sut" / "templates" / "device-miaf-rc3.toml")
    assert sut.profile == "miaf-rc3" and sut.device.bundle == "file" and sut.device.svid_rotation == "none"


@pytest.mark.parametrize(("device", "message"), [
    (GOOD + '\nbundle = "carrier-pigeon"', "device.bundle: must be one of file, discovery, url"),
    ('launch = "agent {wfm_url} {svid_cert} {svid_key}"\nbundle = "file"', "must use {bundle_file} or {bundle_jwks}"),
    ('launch = "agent {wfm_url} {svid_cert} {svid_key} {discovery_url}"\nbundle = "discovery"',
     "{mis_ca_file} or {mis_pin}"),
    ('launch = "agent {wfm_url} {bundle_file}"', "use {svid_cert} and {svid_key}"),
    (GOOD + '\nsvid_rotation = "hook"', "device.rotate_svid: required when device.svid_rotation = 'hook'"),
    (GOOD + '\nrotate_svid = "x {svid_cert}"', "device.rotate_svid: only with device.svid_rotation = 'hook'"),
    (GOOD + '\nchange_capabilities = "x {nope}"', "unknown placeholder {nope}"),
    ('launch = "agent {svid_cert} {svid_key} {bundle_file} {ca_file}"', "unknown placeholder {ca_file}"),
    (GOOD + '\nlaunch_bootstrap = "agent {bootstrap_url}"', "no bootstrap channel"),
])
def test_a_bad_miaf_device_sut_file_is_a_config_error_naming_the_key(tmp_path: Path, device: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_sut(_write(tmp_path, device))
    assert message in str(err.value)


def test_miaf_keys_in_an_httpsig_device_file_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'launch = "agent {wfm_url} {ca_file}"\nbundle = "file"', profile="httpsig-2026h1")
    with pytest.raises(ConfigError, match="device.bundle: only for a mutual-TLS profile"):
        load_sut(path)


def test_run_exits_2_on_a_bad_miaf_device_sut_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--role", "device", "--sut",
                                      str(_write(tmp_path, GOOD + '\nbundle = "ftp"')), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "device.bundle" in result.output and "Traceback" not in result.output


def test_manual_mode_prints_every_miaf_placeholder(tmp_path: Path) -> None:
    shown: list[str] = []
    device = DeviceUnderTest(DeviceTarget(mode="manual", timeout_s=1), announce=shown.append, work_dir=tmp_path)
    endpoints = MiafEndpoints(wfm_url="https://localhost:9443", ca_file=tmp_path / "bundle.pem",
                              svid_cert=tmp_path / "svid.pem", svid_key=tmp_path / "svid.key",
                              svid_chain=tmp_path / "svid-chain.pem", bundle_jwks=tmp_path / "bundle.jwks.json",
                              discovery_url="https://localhost:9444/.well-known/margo",
                              bundle_url="https://localhost:9444/bundle.json", mis_ca_file=tmp_path / "mis.pem",
                              mis_pin="abc=", wfm_spiffe_id="spiffe://harness.test/margo/wfm/wfm-h1",
                              trust_domain="harness.test", device_id="dut1", labels_file=tmp_path / "labels.json")
    device.run(endpoints, until=lambda: True)
    text = shown[0]
    for value in ("https://localhost:9443", "svid.pem", "svid.key", "svid-chain.pem", "bundle.pem", "bundle.jwks.json",
                  "/.well-known/margo", "/bundle.json", "mis.pem", "abc=", "spiffe://harness.test/margo/wfm/wfm-h1",
                  "harness.test", "dut1", "labels.json"):
        assert value in text, value
    assert set(endpoints.values(tmp_path)) >= {"svid_cert", "svid_key", "svid_chain", "bundle_file", "bundle_jwks",
                                               "discovery_url", "bundle_url", "mis_ca_file", "mis_pin", "wfm_spiffe_id",
                                               "trust_domain", "device_id", "labels_file", "wfm_url", "host", "port",
                                               "state_dir"}
