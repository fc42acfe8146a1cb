"""Recordings of a MIAF device (authenticator ``mtls-svid``): one launch against one ``SimulatedMiafWfm`` slot.

The planner and the observatory are ``recordings.py``'s; this module supplies the MIAF recorder (``record``) and
the *plan* a scenario's Given steps put on ``slot.setup``:

- ``stages``: actions taken while the device runs, each when it comes due (after the first accepted report:
  rotate the device's SVID, change its labels, switch the MIS bundle, present another WFM SVID); the until-callback
  of ``DeviceUnderTest.run`` (polled every 20 ms) drives them, so nothing sleeps on a guess;
- ``done``: when the recording is complete once every stage ran (else the scenario's When step decides:
  ``connected``, ``reported``, or, for a device that must refuse, the first HTTP request or a quiet second
  after its last connection);
- ``window_s``: how long to wait for a stage to come due or for ``done`` before judging what was recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from margo_conformance.checks import miaf_device as checks
from margo_conformance.errors import HarnessError
from margo_conformance.sut.device import MiafEndpoints
from margo_conformance.verdict import NotTested
from margo_conformance.wfm.miaf.simulated import PortUnavailable, SimulatedMiafWfm

from .context import DeviceRecording, DeviceScenario
from .recordings import _REACH, UNTIL

#: When step text -> how far the device must get (MIAF scenarios).
MIAF_UNTIL = {
    "the device runs until it has connected over mutual TLS": "connected",
    "the device runs until it has reported its capabilities over mutual TLS": "reported",
    "the device runs against the simulated MIAF WFM": "plan",
}
UNTIL.update(MIAF_UNTIL)
_REACH.update({"connected": 1, "plan": 3})
NEEDS = {"connected": "a TLS connection to the WFM", "reported": "an accepted capabilities report"}
#: A device that refuses is done once its connections went quiet for this long.
QUIET_S = 1.0
#: A device that did nothing for this long while a stage waited for it has stalled (refused, or stopped trying).
STALL_S = 2.5


@dataclass
class Stage:
    """One action taken while the device runs, when ``due`` says so."""

    label: str
    due: Callable[[Progress], bool]
    act: Callable[[Progress], None]


@dataclass
class MiafRecording(DeviceRecording):
    """A device recording plus what only the MIAF world shows: the MIS origin's log, the sink's hits, when each
    stage ran, the device SVIDs the harness issued, the host name of the WFM URL."""

    mis_observations: list[Any] = field(default_factory=list)
    sink_hits: list[Any] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    issued_leaves: list[bytes] = field(default_factory=list)
    url_host: str = "localhost"
    fixture: str = "W-OK"
    labels: dict[str, Any] = field(default_factory=dict)
    trust_domain: str = ""
    wfm_id: str = ""
    launched_at: float = 0.0


class Progress:
    """The until-callback of one launch: runs the due stages, then says whether the recording is complete."""

    def __init__(self, slot: SimulatedMiafWfm, scenario: DeviceScenario, endpoints: MiafEndpoints,
                 until: str | None) -> None:
        self.slot, self.scenario, self.endpoints, self.until = slot, scenario, endpoints, until
        self.started = self.last_mark = time.time()
        self.marks: dict[str, float] = {}
        self.labels: dict[str, Any] = {}
        self.error: BaseException | None = None
        self._next = 0

    # -- what happened so far
    def wfm(self) -> list[Any]:
        return self.slot.observations.all()

    def mis(self) -> list[Any]:
        return self.slot.bundle_service.observations.all()

    def since(self, label: str) -> float:
        return self.marks.get(label, float("inf"))

    def bundle_fetches_since(self, label: str) -> list[Any]:
        return [o for o in self.mis() if o.kind == "http" and o.route == "bundle" and o.started_at >= self.since(label)]

    # -- the hook values (rotate_svid, change_capabilities)
    def hook(self, key: str, template: str | None) -> None:
        if template:
            self.scenario.device.hook(key, template, self.endpoints.values(self.slot.files.labels_file.parent))

    def __call__(self) -> bool:
        try:
            return self._step()
        except BaseException as exc:  # noqa: BLE001 - raised again by record(), after the device stopped
            self.error = exc
            return True

    def _step(self) -> bool:
        stages: list[Stage] = self.slot.setup.stages
        while self._next < len(stages) and stages[self._next].due(self):
            stage = stages[self._next]
            stage.act(self)
            self.marks[stage.label] = self.last_mark = time.time()
            self._next += 1
        waited = time.time() - self.last_mark
        if self._next < len(stages):  # a device that stalled before a stage came due will not get there
            obs = self.wfm()
            stalled = (checks.http(obs) or checks.failures(obs)) and self.quiet_for() > STALL_S
            return waited > self.slot.setup.window_s or bool(stalled)
        return self.complete() or (self.until == "plan" and waited > self.slot.setup.window_s)

    def quiet_for(self) -> float:
        """Seconds since the last thing the device did (to the WFM or the MIS); 0 before it did anything."""
        seen = self.wfm() + self.mis()
        return time.time() - max(o.started_at + (o.elapsed_s or 0.0) for o in seen) if seen else 0.0

    def complete(self) -> bool:
        obs = self.wfm()
        if self.until == "connected":
            return bool(checks.handshakes(obs) or checks.failures(obs))
        if self.until == "reported":
            if self.scenario.variant == "gateway":
                done = len([o for o in checks.reported(obs) if "/" in (o.device_id or "")]) >= 2
            else:
                done = bool(checks.reported(obs))
            # A report the WFM refused, or a device that never got a handshake through, goes no further: judge it
            # once it went quiet instead of waiting out the timeout.
            return done or (bool(checks.http(obs)) and self.quiet_for() > QUIET_S) or \
                (bool(checks.failures(obs)) and self.quiet_for() > 2 * QUIET_S)
        done = self.slot.setup.done
        if done is not None:
            return bool(done(self))
        return self.refused_or_sent()

    def refused_or_sent(self, *, wfm_attempt: bool = True) -> bool:
        """A device that must refuse: done at its first HTTP request (the defect shows), or once its connections
        went quiet, all closed: after at least one attempt on the WFM (``wfm_attempt``), or on the MIS origin
        (the bundle scenarios, where a conformant device never gets as far as the WFM)."""
        obs = self.wfm()
        if checks.http(obs):
            return True
        attempts = checks.handshakes(obs) + checks.failures(obs)
        if wfm_attempt and not attempts:
            return False
        seen = attempts + self.mis()
        if not seen:
            return False
        open_conns = [o for o in checks.handshakes(obs)
                      if (info := self.slot.connection(o.connection_id)) is not None and not info.closed]
        return not open_conns and time.time() - max(o.started_at for o in seen) > QUIET_S


def satisfied(recording: MiafRecording, until: str | None) -> bool:
    """Whether a finished recording got as far as a scenario needs: ``reported`` counts any request, refused or
    not (the checks then judge what the device sent)."""
    obs = recording.observations
    if until == "connected":
        return bool(checks.handshakes(obs) or checks.failures(obs))
    if until == "reported":
        return bool(checks.http(obs))
    return True


def stop_point(recording: MiafRecording) -> str:
    """Where the device stopped or stalled, the same text for every scenario that judges the recording (a
    Blocked scenario is then "blocked by" what failed there)."""
    if recording.run.stopped_by == "exit":
        return recording.stop_point()
    last = next((o for o in reversed(recording.observations) if o.kind != "tls-handshake"), None)
    if last is None:
        return "the device went no further than its TLS handshakes with the WFM"
    if last.kind == "http":
        return f"the device went no further than the WFM's {last.status} answer"
    return f"the device went no further than a {last.kind}"


def record(scenario: DeviceScenario, slot: SimulatedMiafWfm, until: str | None, key: str) -> MiafRecording:
    """Set ``slot`` up as the scenario's Given steps said, launch the device, keep what the MIAF world observed."""
    slot.reset()
    for action in scenario.setup:
        action(slot)
    try:
        files = slot.start()
    except PortUnavailable as exc:
        raise NotTested(str(exc)) from None
    assert slot.server is not None
    service = slot.bundle_service
    endpoints = MiafEndpoints(
        wfm_url=slot.wfm_url, ca_file=files.bundle_file, svid_cert=files.svid_cert,
        svid_key=files.svid_key, svid_chain=files.svid_chain, bundle_jwks=files.bundle_jwks,
        discovery_url=service.discovery_url, bundle_url=service.bundle_url, mis_ca_file=files.mis_ca_file,
        mis_pin=service.pin, wfm_spiffe_id=slot.wfm_spiffe_id, trust_domain=slot.trust_domain,
        device_id=slot.device_id, labels_file=files.labels_file)
    progress = Progress(slot, scenario, endpoints, until)
    launched = time.time()
    run = scenario.device.run(endpoints, variant=scenario.variant, until=progress)
    if progress.error is not None:
        if isinstance(progress.error, HarnessError):
            raise progress.error
        raise HarnessError(f"the recording's plan failed: {type(progress.error).__name__}: {progress.error}")
    return MiafRecording(key=key, run=run, observations=slot.observations.all(), bootstrap_observations=[],
                         mis_observations=service.observations.all(), sink_hits=slot.sink.hits(),
                         marks=dict(progress.marks), issued_leaves=list(slot.issued_leaves),
                         fixture=slot.setup.wfm_fixture, labels=progress.labels, trust_domain=slot.trust_domain,
                         wfm_id=slot.wfm_id, launched_at=launched)


# --- stage and completion helpers used by the Given steps ---------------------------------------------------------


def after_first_report(p: Progress) -> bool:
    return bool(checks.reported(p.wfm()))


def after_refresh(label: str) -> Callable[[Progress], bool]:
    """Due once the device fetched the bundle again after stage ``label`` (it now holds what the MIS serves)."""
    return lambda p: bool(p.bundle_fetches_since(label))


def after_report_since(label: str) -> Callable[[Progress], bool]:
    return lambda p: any(o.started_at >= p.since(label) for o in checks.reported(p.wfm()))


def change_labels(labels: dict[str, Any] | None = None) -> Callable[[Progress], None]:
    def act(p: Progress) -> None:
        p.labels = p.slot.change_labels(labels)
        p.hook("change_capabilities", p.scenario.device.target.change_capabilities)
    return act


def puts_at_least(n: int) -> Callable[[Progress], bool]:
    return lambda p: len(checks.puts(p.wfm())) >= n


def quiet_after(status: int, seconds: float) -> Callable[[Progress], bool]:
    """Complete ``seconds`` after the WFM's first answer with ``status`` (an observation window)."""
    def done(p: Progress) -> bool:
        first = next((o for o in checks.puts(p.wfm()) if o.status == status), None)
        return first is not None and time.time() - checks.answered_at(first) >= seconds
    return done
