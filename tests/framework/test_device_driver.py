"""The device launcher: placeholders filled in, waits end on traffic, exit or timeout, nothing left running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from margo_conformance.errors import ConfigError, HarnessError
from margo_conformance.sut import DeviceTarget
from margo_conformance.sut.device import DeviceUnderTest, Endpoints


def _endpoints(tmp_path: Path) -> Endpoints:
    return Endpoints(wfm_url="https://127.0.0.1:8443/pre", ca_file=tmp_path / "ca.pem",
                     bootstrap_url="https://127.0.0.1:9443", bootstrap_ca_file=tmp_path / "boot.pem")


def _driver(tmp_path: Path, launch: str, timeout: float = 5, **kw: str) -> DeviceUnderTest:
    return DeviceUnderTest(DeviceTarget(mode="launch", launch=launch, timeout_s=timeout, **kw), work_dir=tmp_path)


def test_placeholders_are_filled_and_output_kept(tmp_path: Path) -> None:
    script = "import sys; print(' '.join(sys.argv[1:]))"
    d = _driver(tmp_path, f'{sys.executable} -c "{script}" {{wfm_url}} {{ca_file}} {{host}} {{port}} {{state_dir}}')
    run = d.run(_endpoints(tmp_path))
    assert run.stopped_by == "exit" and run.exit_code == 0
    words = run.stdout.split()
    assert words[:4] == ["https://127.0.0.1:8443/pre", str(tmp_path / "ca.pem"), "127.0.0.1", "8443"]
    assert Path(words[4]).is_dir() and Path(words[4]).parent == tmp_path  # a fresh state dir per run


def test_the_awaited_traffic_ends_the_wait_and_the_process_is_stopped(tmp_path: Path) -> None:
    d = _driver(tmp_path, "sleep 41", timeout=20)
    started = time.monotonic()
    run = d.run(_endpoints(tmp_path), until=lambda: time.monotonic() - started > 0.5)
    assert run.stopped_by == "condition" and time.monotonic() - started < 5
    assert subprocess.run(["pgrep", "-xf", "sleep 41"], capture_output=True).returncode == 1


def test_timeout_stops_a_silent_device(tmp_path: Path) -> None:
    run = _driver(tmp_path, "sleep 42", timeout=0.5).run(_endpoints(tmp_path))
    assert run.stopped_by == "timeout" and run.exit_code is not None
    assert subprocess.run(["pgrep", "-xf", "sleep 42"], capture_output=True).returncode == 1


def test_missing_command_and_variants(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="was not found"):
        _driver(tmp_path, "no-such-binary-zz {wfm_url}").run(_endpoints(tmp_path))
    d = _driver(tmp_path, "true", launch_gateway="true --gw")
    assert d.supports("gateway") and not d.supports("bootstrap")
    with pytest.raises(HarnessError, match="no launch command for the bootstrap variant"):
        d.run(_endpoints(tmp_path), variant="bootstrap")


def test_bad_placeholder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="placeholders"):
        _driver(tmp_path, "agent {unknown}").run(_endpoints(tmp_path))


def test_manual_mode_announces_and_waits(tmp_path: Path) -> None:
    said: list[str] = []
    d = DeviceUnderTest(DeviceTarget(mode="manual", timeout_s=5), work_dir=tmp_path, announce=said.append)
    started = time.monotonic()
    run = d.run(_endpoints(tmp_path), until=lambda: time.monotonic() - started > 0.3)
    assert run.stopped_by == "condition"
    assert "https://127.0.0.1:8443/pre" in said[0] and str(tmp_path / "ca.pem") in said[0]


def test_the_runner_stops_the_devices_a_killed_suite_left_behind(tmp_path, monkeypatch) -> None:
    """A suite killed outright cannot stop its devices: each launch is noted under the run's temp folder while it
    runs, and the runner SIGKILLs the process group of every note still there."""
    import signal
    import subprocess
    import time

    from margo_conformance.sut.device import LAUNCHED_DIR_ENV, _note_launched, stop_left_behind

    folder = tmp_path / "launched"
    monkeypatch.setenv(LAUNCHED_DIR_ENV, str(folder))
    left = subprocess.Popen(["sleep", "60"], start_new_session=True)
    stopped = subprocess.Popen(["sleep", "60"], start_new_session=True)
    _note_launched(left.pid)
    _note_launched(stopped.pid)
    _note_launched(stopped.pid, stopped=True)  # the suite stopped this one itself
    try:
        assert stop_left_behind(folder) == 1
        assert left.wait(5) == -signal.SIGKILL
        time.sleep(0.1)
        assert stopped.poll() is None
    finally:
        stopped.kill()
        left.kill()
        stopped.wait(5)
