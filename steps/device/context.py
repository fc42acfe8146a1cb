"""Per-scenario state of a device-role scenario: how the simulated WFM is set up, and the recording it judges.

Given steps do not touch a live WFM: they add *setup* actions (``setup``) and pick the launch variant, so that
the same steps describe a recording made ahead of the scenario on a worker's own simulated WFM
(``recordings.py``) or made here, when the scenario asks for it. The When step takes the recording; the Then
steps judge its observations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from margo_conformance.errors import HarnessError
from margo_conformance.report.allure_helpers import attach_exchange, attach_text
from margo_conformance.sut.device import DeviceRun, DeviceUnderTest

from margo_conformance.wfm.simulated import SimulatedWfm

#: One change a Given step makes to the simulated WFM before the device is launched.
Setup = Callable[[SimulatedWfm], None]


@dataclass
class DeviceRecording:
    """One launch of the device and everything the simulated WFM observed (shared by the scenarios that
    judge the same recording)."""

    key: str
    run: DeviceRun
    observations: list[Any]
    bootstrap_observations: list[Any]
    #: The path prefix of the WFM the device was pointed at (GEN-04).
    prefix: str = ""

    def stop_point(self) -> str:
        """Where a device that exited by itself stopped: "the device exited after the onboarding answer"."""
        http = [o for o in self.observations if getattr(o, "kind", "http") == "http"]
        if http:
            last = http[-1]
            return f"the device exited after the {last.route or 'unrouted request'} answer"
        if self.observations:
            return f"the device exited after a {self.observations[-1].kind}"
        return "the device exited before it sent anything"


@dataclass
class DeviceScenario:
    wfm: SimulatedWfm | None
    device: DeviceUnderTest
    variant: str = "out-of-band"
    setup: list[Setup] = field(default_factory=list)
    retry_after_s: float | None = None
    #: How long the recording lasts at least, whatever the device does (a Retry-After it must wait out, an SVID
    #: that must expire, an observation window): the scheduler starts the longest first (recordings.expected_wait_s).
    min_duration_s: float = 0.0
    recording: DeviceRecording | None = None

    @property
    def run(self) -> DeviceRun | None:
        return self.recording.run if self.recording else None

    @property
    def observations(self) -> list[Any]:
        return self.recording.observations if self.recording else []

    @property
    def bootstrap_observations(self) -> list[Any]:
        return self.recording.bootstrap_observations if self.recording else []

    @property
    def prefix(self) -> str:
        return self.recording.prefix if self.recording else ""

    def use(self, recording: DeviceRecording, shared: bool) -> None:
        """Judge ``recording``: attach it as this scenario's evidence."""
        self.recording = recording
        run = recording.run
        where = f"; shared recording {recording.key.removeprefix('recording:')!r}" if shared else ""
        attach_text(run.to_text(), f"device run ({run.variant}, stopped by {run.stopped_by}{where})")
        for o in recording.bootstrap_observations:
            attach_exchange(o, f"bootstrap channel: {o.summary()}")
        for o in recording.observations:
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
