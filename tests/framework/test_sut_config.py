"""SUT files: every mistake is a ConfigError that names the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.errors import ConfigError
from margo_conformance.sut import builtin_sut, load_sut, redact_command

WFM_OK = """
[sut]
role = "wfm"
name = "Acme WFM 2.3"
profile = "httpsig-2026h1"

[wfm]
base_url = "https://127.0.0.1:8443/prefix"
ca = "download"
server_name = "localhost"
request_timeout_s = 10

[wfm.operator]
approve = "acme approve {client_id}"
revoke = "acme revoke {client_id}"
"""

DEVICE_OK = """
[sut]
role = "device"
name = "Acme Edge Agent 1.4"

[device]
mode = "launch"
launch = "acme-agent --wfm-url {wfm_url} --ca-file {ca_file} --state-dir {state_dir}"
timeout_s = 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sut.toml"
    path.write_text(text)
    return path


def test_wfm_file_loads(tmp_path: Path) -> None:
    sut = load_sut(write(tmp_path, WFM_OK))
    assert (sut.role, sut.name, sut.profile) == ("wfm", "Acme WFM 2.3", "httpsig-2026h1")
    assert sut.wfm is not None and sut.wfm.base_url == "https://127.0.0.1:8443/prefix"
    assert sut.wfm.operator.has("approve") and not sut.wfm.operator.has("reject")


def test_device_file_loads(tmp_path: Path) -> None:
    sut = load_sut(write(tmp_path, DEVICE_OK))
    assert sut.device is not None and sut.device.mode == "launch" and sut.device.timeout_s == 30
    assert sut.device.parallel  # launches may run side by side unless the file says otherwise


def test_a_device_that_cannot_run_twice_says_so(tmp_path: Path) -> None:
    sut = load_sut(write(tmp_path, DEVICE_OK + "parallel = false\n"))
    assert sut.device is not None and sut.device.parallel is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (WFM_OK.replace('request_timeout_s = 10', 'request_timeout_s = "ten"'),
         "wfm.request_timeout_s: expected an integer or a number, got str"),
        (WFM_OK.replace('server_name = "localhost"', 'server_name = "localhost"\ncolour = "red"'),
         "[wfm]: unknown key 'colour'"),
        (WFM_OK.replace('role = "wfm"', 'role = "printer"'), "sut.role: must be 'wfm' or 'device'"),
        (WFM_OK.replace('base_url = "https://127.0.0.1:8443/prefix"', 'base_url = "http://x"'),
         "wfm.base_url: must be an https:// URL"),
        (WFM_OK.replace('ca = "download"', 'ca = "missing.pem"'), "wfm.ca: file not found"),
        (WFM_OK.replace('{client_id}"\nrevoke', '{clientid}"\nrevoke'), "wfm.operator.approve: unknown placeholder {clientid}"),
        (WFM_OK.replace('profile = "httpsig-2026h1"', 'profile = "miaf"'), "sut.profile: unknown profile 'miaf'"),
        (WFM_OK.replace('name = "Acme WFM 2.3"\n', ''), "sut.name: required key is missing"),
        (DEVICE_OK.replace('mode = "launch"', 'mode = "auto"'), "device.mode: must be 'launch' or 'manual'"),
        (DEVICE_OK.replace('timeout_s = 30', 'timeout_s = 0'), "device.timeout_s: must be greater than 0"),
        (DEVICE_OK.replace('{state_dir}"', '{state}"'), "device.launch: unknown placeholder {state}"),
        (DEVICE_OK.replace('timeout_s = 30', 'timeout_s = true'), "device.timeout_s: expected an integer or a number, got a boolean"),
        (DEVICE_OK + 'parallel = "no"\n', "device.parallel: expected a boolean, got str"),
        ("[sut\nrole=1", "not valid TOML"),
        (WFM_OK.replace("[wfm]", "[device]"), "[device]: not allowed for sut.role = 'wfm'"),
        (WFM_OK.split("[wfm]")[0], "[wfm]: required table is missing"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_sut(write(tmp_path, text))
    assert message in str(err.value)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_sut(tmp_path / "absent.toml")


def test_ca_path_is_resolved_relative_to_the_sut_file(tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_text("x")
    sut = load_sut(write(tmp_path, WFM_OK.replace('ca = "download"', 'ca = "root.pem"')))
    assert sut.wfm is not None and sut.wfm.ca_file == tmp_path / "root.pem"


def test_builtin_and_redaction() -> None:
    assert builtin_sut("device", defects=("x",)).defects == ("x",)
    with pytest.raises(ConfigError):
        builtin_sut("printer")
    shown = redact_command("agent --token abc123 --api-key=zzz --state-dir /tmp/x")
    assert "abc123" not in shown and "zzz" not in shown and "/tmp/x" in shown


# --- commands: words like a shell splits them, {harness}, pre-flight of the programs (issue 11) -------------


def test_harness_placeholder_stands_for_this_interpreter_and_package() -> None:
    import sys

    from margo_conformance.sut import fill_command

    argv = fill_command("{harness} wfm revoke {client_id} --note 'two words'", {"client_id": "c 1"})
    assert argv == [sys.executable, "-m", "margo_conformance", "wfm", "revoke", "c 1", "--note", "two words"]


def test_harness_placeholder_must_be_a_word_of_its_own(tmp_path) -> None:
    import pytest

    from margo_conformance.errors import ConfigError
    from margo_conformance.sut import load_sut

    path = tmp_path / "d.toml"
    path.write_text('[sut]\nrole = "device"\nname = "x"\n[device]\nlaunch = "x{harness} {wfm_url}"\n')
    with pytest.raises(ConfigError, match="word of its own"):
        load_sut(path)


def test_preflight_names_the_key_of_a_command_that_does_not_exist(tmp_path) -> None:
    from margo_conformance import preflight
    from margo_conformance.sut import load_sut

    path = tmp_path / "d.toml"
    path.write_text('[sut]\nrole = "device"\nname = "x"\n[device]\nlaunch = "{harness} device run"\n'
                    'launch_gateway = "/opt/acme/missing-agent --gateway"\n')
    problem = preflight.check(load_sut(path))
    assert problem is not None and problem.exit_code == 2
    assert problem.message.startswith("device.launch_gateway: command not found: '/opt/acme/missing-agent'")


def test_preflight_refuses_a_relative_program_path(tmp_path) -> None:
    """A launched device runs in its scenario's state directory, so ./agent would not be the file checked."""
    from margo_conformance import preflight
    from margo_conformance.sut import load_sut

    (tmp_path / "agent").write_text("#!/bin/sh\n")
    (tmp_path / "agent").chmod(0o755)
    path = tmp_path / "d.toml"
    path.write_text('[sut]\nrole = "device"\nname = "x"\n[device]\nlaunch = "./agent {wfm_url}"\n')
    problem = preflight.check(load_sut(path))
    assert problem is not None and problem.exit_code == 2 and "relative path" in problem.message
