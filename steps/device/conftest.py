"""Device-role fixtures: the device driver, the run's recordings (made ahead, side by side), a scenario state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from margo_conformance.observatory import Observatory
from margo_conformance.pytest_plugin import RunState, announce, scenario_template
from margo_conformance.sut.device import DeviceUnderTest, open_device_under_test

from .context import DeviceScenario
from .device_steps import *  # noqa: F401,F403
from .miaf_steps import *  # noqa: F401,F403
from . import miaf_recordings
from .recordings import Recordings, record, schedule_all
from margo_conformance.profiles import load_profile
from margo_conformance.wfm.miaf.simulated import SimulatedMiafWfm
from margo_conformance.wfm.simulated import SimulatedWfm


def _mutual_tls(run: RunState) -> bool:
    """The profile's authenticator decides which simulated WFM a recording runs against (never its name)."""
    return load_profile(run.profile).authenticator == "mtls-svid"


@pytest.fixture(scope="session")
def simulated_wfm(run: RunState) -> Iterator[SimulatedWfm]:
    """The WFM of recordings made in the scenario's own thread (manual mode, or one nothing planned)."""
    if _mutual_tls(run):
        miaf = SimulatedMiafWfm()
        run.facts.update({"simulated_wfm.spiffe_id": miaf.wfm_spiffe_id, "simulated_wfm.device_spiffe_id":
                          miaf.device_spiffe_id, "simulated_mis.origin": miaf.bundle_service.origin})
        try:
            yield miaf  # type: ignore[misc]
        finally:
            miaf.stop()
        return
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


@pytest.fixture(scope="session")
def recordings(run: RunState, request: pytest.FixtureRequest, simulated_wfm: SimulatedWfm,
               device_under_test: DeviceUnderTest) -> Iterator[Recordings]:
    """Every selected scenario's recording scheduled at once, in scenario order, on ``run.jobs`` workers (each
    with its own simulated WFM); a device in manual mode, or one that cannot run twice, gets one at a time."""
    target = device_under_test.target
    manual = target.mode == "manual"
    jobs = 1 if manual or not target.parallel else run.jobs
    mtls = _mutual_tls(run)
    observatory: Observatory[object, object] = Observatory(
        jobs=jobs, make_slot=SimulatedMiafWfm if mtls else SimulatedWfm, close_slot=lambda wfm: wfm.stop(),
        inline_slot=lambda: simulated_wfm, prelaunch=not manual)
    run.facts["device.jobs"] = str(jobs)
    result = Recordings(observatory, sharing=run.share_recordings)
    result.until = schedule_all(request.session.items, observatory, device_under_test, scenario_template,
                                sharing=result.sharing, recorder=miaf_recordings.record if mtls else record)
    try:
        yield result
    finally:
        observatory.close(stop_running=device_under_test.close)  # a stopped run ends the launches in flight


@pytest.fixture
def scenario(device_under_test: DeviceUnderTest) -> DeviceScenario:
    return DeviceScenario(wfm=None, device=device_under_test)
