"""Device-role fixtures: one simulated WFM and one device driver per run, a clean slate per scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from margo_conformance.pytest_plugin import RunState, announce
from margo_conformance.sut.device import DeviceUnderTest, open_device_under_test

from .context import DeviceScenario
from .device_steps import *  # noqa: F401,F403
from margo_conformance.wfm.simulated import SimulatedWfm


@pytest.fixture(scope="session")
def simulated_wfm(run: RunState) -> Iterator[SimulatedWfm]:
    wfm = SimulatedWfm()
    run.facts.update({"simulated_wfm.base_url": wfm.main.base_url, "simulated_wfm.root_ca": str(wfm.main.ca_file)})
    try:
        yield wfm
    finally:
        wfm.stop()


@pytest.fixture(scope="session")
def device_under_test(run: RunState, request: pytest.FixtureRequest) -> Iterator[DeviceUnderTest]:
    device = open_device_under_test(run.sut)
    device.announce = lambda text: announce(request.config, text)  # manual mode: shown before it waits
    try:
        yield device
    finally:
        device.close()


@pytest.fixture
def scenario(simulated_wfm: SimulatedWfm, device_under_test: DeviceUnderTest) -> DeviceScenario:
    simulated_wfm.reset()
    return DeviceScenario(wfm=simulated_wfm, device=device_under_test)
