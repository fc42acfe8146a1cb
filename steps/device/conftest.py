"""Device-role fixtures: the device driver, the run's recordings (made ahead, side by side), a scenario state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from margo_conformance.observatory import Observatory
from margo_conformance.pytest_plugin import RunState, announce, scenario_template
from margo_conformance.sut.device import DeviceUnderTest, open_device_under_test

from .context import DeviceScenario
from .device_steps import *  # noqa: F401,F403
from .recordings import Recordings, schedule_all
from margo_conformance.wfm.simulated import SimulatedWfm


class _InlineWfm:
    """The WFM of recordings made in the scenario's own thread (manual mode, or one nothing planned), started on
    first use: a launch run made ahead on the worker pool never needs it, and it costs a start and a stop."""

    def __init__(self, run: RunState) -> None:
        self._run = run
        self._wfm: SimulatedWfm | None = None

    def __call__(self) -> SimulatedWfm:
        if self._wfm is None:
            self._wfm = SimulatedWfm()
            self._run.facts.update({"simulated_wfm.base_url": self._wfm.main.base_url,
                                    "simulated_wfm.root_ca": str(self._wfm.main.ca_file)})
        return self._wfm

    def stop(self) -> None:
        if self._wfm is not None:
            self._wfm.stop()


@pytest.fixture(scope="session")
def inline_wfm(run: RunState) -> Iterator[_InlineWfm]:
    holder = _InlineWfm(run)
    try:
        yield holder
    finally:
        holder.stop()


@pytest.fixture(scope="session")
def device_under_test(run: RunState, request: pytest.FixtureRequest) -> Iterator[DeviceUnderTest]:
    device = open_device_under_test(run.sut)
    device.announce = lambda text: announce(request.config, text)  # manual mode: shown before it waits
    try:
        yield device
    finally:
        device.close()


@pytest.fixture(scope="session")
def recordings(run: RunState, request: pytest.FixtureRequest, inline_wfm: _InlineWfm,
               device_under_test: DeviceUnderTest) -> Iterator[Recordings]:
    """Every selected scenario's recording scheduled at once, in scenario order, on ``run.jobs`` workers (each
    with its own simulated WFM); a device in manual mode, or one that cannot run twice, gets one at a time."""
    target = device_under_test.target
    manual = target.mode == "manual"
    jobs = 1 if manual or not target.parallel else run.jobs
    observatory: Observatory[SimulatedWfm, object] = Observatory(
        jobs=jobs, make_slot=SimulatedWfm, close_slot=lambda wfm: wfm.stop(), inline_slot=inline_wfm,
        prelaunch=not manual)
    run.facts["device.jobs"] = str(jobs)
    result = Recordings(observatory, sharing=run.share_recordings)
    result.until = schedule_all(request.session.items, observatory, device_under_test, scenario_template,
                                sharing=result.sharing)
    try:
        yield result
    finally:
        observatory.close(stop_running=device_under_test.close)  # a stopped run ends the launches in flight


@pytest.fixture
def scenario(device_under_test: DeviceUnderTest) -> DeviceScenario:
    return DeviceScenario(wfm=None, device=device_under_test)
