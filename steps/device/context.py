"""Per-scenario state of a device-role scenario: the simulated WFM's behaviour and what the device did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from margo_conformance.errors import HarnessError
from margo_conformance.report.allure_helpers import attach_exchange, attach_text
from margo_conformance.sut.device import DeviceRun, DeviceUnderTest, Endpoints

from margo_conformance.wfm.simulated import SimulatedWfm


@dataclass
class DeviceScenario:
    wfm: SimulatedWfm
    device: DeviceUnderTest
    variant: str = "out-of-band"
    run: DeviceRun | None = None
    #: What the device sent to the WFM and to the bootstrap channel, in arrival order.
    observations: list[Any] = field(default_factory=list)
    bootstrap_observations: list[Any] = field(default_factory=list)
    retry_after_s: float | None = None

    @property
    def endpoints(self) -> Endpoints:
        return self.wfm.endpoints()

    def record_run(self, run: DeviceRun) -> None:
        self.run = run
        self.observations = self.wfm.active.observations.all()
        self.bootstrap_observations = self.wfm.bootstrap.observations.all() if self.wfm.bootstrap_used else []
        attach_text(run.to_text(), f"device run ({run.variant}, stopped by {run.stopped_by})")
        for o in self.bootstrap_observations:
            attach_exchange(o, f"bootstrap channel: {o.summary()}")
        for o in self.observations:
            attach_exchange(o, f"WFM: {o.summary()}")

    def require_run(self) -> DeviceRun:
        if self.run is None:
            raise HarnessError("needs a device run: add 'When the device runs ...'")
        return self.run

    def explain(self) -> str:
        """Why the device did not do what the scenario waited for (for a broken verdict)."""
        run = self.require_run()
        tail = (run.stderr or run.stdout)[-600:].strip()
        seen = "; ".join(o.summary() for o in self.observations[-6:]) or "nothing"
        return (f"the device stopped by {run.stopped_by} (exit code {run.exit_code}) after {run.duration_s} s; "
                f"the WFM saw: {seen}; device output: {tail or '(none)'}")
