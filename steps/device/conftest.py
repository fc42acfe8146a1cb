"""Device-role fixtures: the device driver, the run's recordings (made ahead, side by side), a scenario state.

The profile's authenticator picks the simulated peer of every recording (never the profile's name): the httpsig
``SimulatedWfm``, or for ``mtls-svid`` the ``SimulatedMiafWfm`` (WFM, MIS origin and sink) with the MIAF recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from margo_conformance.observatory import Observatory
from margo_conformance.profiles import load_profile
from margo_conformance.pytest_plugin import RunState, announce, scenario_template
from margo_conformance.sut.device import DeviceUnderTest, open_device_under_test
from margo_conformance.wfm.miaf.simulated import SimulatedMiafWfm
from margo_conformance.wfm.simulated import SimulatedWfm

from . import miaf_recordings
from .context import DeviceScenario
from .device_steps import *  # noqa: F401,F403
from .miaf_steps import *  # noqa: F401,F403
from .recordings import Recordings, record, schedule_all


def _mutual_tls(run: RunState) -> bool:
    return load_profile(run.profile).authenticator == "mtls-svid"


class _InlineWfm:
    """The WFM of recordings made in the scenario's own thread (manual mode, or one nothing planned), started on
    first use: a launch run made ahead on the worker pool never needs it, and it costs a start and a stop."""

    def __init__(self, run: RunState, make: Callable[[], Any]) -> None:
        self._run = run
        self._make = make
        self._wfm: Any = None

    def __call__(self) -> Any:
        if self._wfm is None:
            self._wfm = self._make()
            if isinstance(self._wfm, SimulatedWfm):
                self._run.facts.update({"simulated_wfm.base_url": self._wfm.main.base_url,
                                        "simulated_wfm.root_ca": str(self._wfm.main.ca_file)})
            else:
                self._run.facts.update({"simulated_wfm.spiffe_id": self._wfm.wfm_spiffe_id,
                                        "simulated_wfm.device_spiffe_id": self._wfm.device_spiffe_id,
                                        "simulated_mis.origin": self._wfm.bundle_service.origin})
        return self._wfm

    def stop(self) -> None:
        if self._wfm is not None:
            self._wfm.stop()


@pytest.fixture(scope="session")
def inline_wfm(run: RunState) -> Iterator[_InlineWfm]:
    holder = _InlineWfm(run, SimulatedMiafWfm if _mutual_tls(run) else SimulatedWfm)
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
    mtls = _mutual_tls(run)
    observatory: Observatory[Any, object] = Observatory(
        jobs=jobs, make_slot=SimulatedMiafWfm if mtls else SimulatedWfm, close_slot=lambda wfm: wfm.stop(),
        inline_slot=inline_wfm, prelaunch=not manual)
    run.facts["device.jobs"] = str(jobs)
    result = Recordings(observatory, sharing=run.share_recordings)
    try:  # a stop signal while scheduling (devices already launching) closes the observatory too
        result.until = schedule_all(request.session.items, observatory, device_under_test, scenario_template,
                                    sharing=result.sharing, recorder=miaf_recordings.record if mtls else record)
        yield result
    finally:
        observatory.close(stop_running=device_under_test.close)  # a stopped run ends the launches in flight


@pytest.fixture
def scenario(device_under_test: DeviceUnderTest) -> DeviceScenario:
    return DeviceScenario(wfm=None, device=device_under_test)
