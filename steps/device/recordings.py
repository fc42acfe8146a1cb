"""Device recordings: which launch a scenario judges, made ahead of it (``observatory``) or when it asks.

A scenario's recording is described by its own Gherkin steps: the Given steps registered with ``setup_step``
set up the simulated WFM (as ``Setup`` actions) and the launch variant, the When step says how far the device
must get (``UNTIL``). The planner reads those steps from the collected scenarios at the start of the run and
schedules one recording per key:

- ``recording:<name>`` for scenarios tagged ``@recording:<name>``: they judge one shared nominal run, made once
  and run until the furthest point any of them needs;
- the scenario's node id for every other one: a launch of its own, side by side with the others.

The When step then takes the finished recording. A Given step that raises NotTested while planning schedules
nothing: the scenario raises it itself when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd import given, parsers

from margo_conformance.checks import device as checks
from margo_conformance.errors import HarnessError
from margo_conformance.verdict import NotTested
from margo_conformance.wfm.simulated import SimulatedWfm

from .context import DeviceRecording, DeviceScenario

#: When step text -> how far the device must get (None: until it exits or times out).
UNTIL: dict[str, str | None] = {
    "the device runs": None,
    "the device runs until it has onboarded": "onboarded",
    "the device runs until it has reported its capabilities": "reported",
}
#: A shared recording runs until the furthest point of the scenarios that judge it (the MIAF steps add theirs:
#: ``miaf_recordings.py``).
_REACH: dict[str | None, int] = {None: 0, "onboarded": 1, "reported": 2}
NEEDS = {"onboarded": "an onboarding request", "reported": "a capabilities report"}

#: (parser, function) of every Given step that sets up a recording.
SETUP_STEPS: list[tuple[Any, Callable[..., None]]] = []


def setup_step(text: str | Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A Given step that sets up the recording: bound for pytest-bdd and known to the planner."""
    parser = parsers.string(text) if isinstance(text, str) else text

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        SETUP_STEPS.append((parser, fn))
        given(parser, stacklevel=2)(fn)
        return fn

    return decorate


@dataclass
class Recordings:
    """The run's recordings: the observatory that makes them, how far each key runs, whether keys are shared."""

    observatory: Any
    until: dict[str, str | None] = field(default_factory=dict)
    sharing: bool = True


def recording_key(item: pytest.Item, *, sharing: bool = True) -> str:
    names = [str(m.args[0]) for m in item.iter_markers(name="recording") if m.args]
    return f"recording:{names[0]}" if names and sharing else item.nodeid


def is_shared(key: str) -> bool:
    return key.startswith("recording:")


# --- what the device must do ---------------------------------------------------------------------


def _onboarded(observations: list) -> bool:
    return bool(checks.http(observations, checks.ONBOARDING_ROUTE))


def _reported(observations: list) -> bool:
    """Any capabilities write counts, a legacy POST too: CAP-04 then names it instead of the run breaking."""
    return bool(checks.capability_attempts(observations))


def satisfied(scenario: DeviceScenario, until: str | None, observations: list) -> bool:
    if until is None:
        return True
    if until == "onboarded":
        return _onboarded(observations)
    if scenario.variant == "gateway":
        return any("/" in checks._device_id(o) for o in checks.http(observations, checks.CAPABILITIES_ROUTE))
    if scenario.retry_after_s is not None:
        return len([o for o in checks.http(observations, checks.CAPABILITIES_ROUTE) if o.request.method == "PUT"]) >= 2
    return _reported(observations)


def needs(scenario: DeviceScenario, until: str) -> str:
    if until == "reported" and scenario.variant == "gateway":
        return "a capabilities report of a gateway child"
    if until == "reported" and scenario.retry_after_s is not None:
        return "a retry of the capabilities report after the 503"
    return NEEDS[until]


# --- making a recording ----------------------------------------------------------------------------


def record(scenario: DeviceScenario, wfm: SimulatedWfm, until: str | None, key: str) -> DeviceRecording:
    """Set ``wfm`` up as the scenario's Given steps said, launch the device, keep what the WFM observed."""
    wfm.reset()
    for action in scenario.setup:
        action(wfm)
    log = wfm.active.observations
    condition = None if until is None else (lambda: satisfied(scenario, until, log.all()))
    run = scenario.device.run(wfm.endpoints(), variant=scenario.variant, until=condition)
    return DeviceRecording(key=key, run=run, observations=log.all(),
                           bootstrap_observations=wfm.bootstrap.observations.all() if wfm.bootstrap_used else [],
                           prefix=wfm.active.config.prefix)


def plan(item: pytest.Item, device: Any, template: Any) -> tuple[DeviceScenario, str | None] | None:
    """(the scenario's setup, how far it needs the device) read from its steps; None when it launches nothing
    or cannot be planned (a Given step raised NotTested: the scenario says so itself)."""
    if template is None:
        return None
    scenario = DeviceScenario(wfm=None, device=device)
    until: str | None = None
    launches = False
    for step in template.steps:
        if step.type == "given":
            for parser, fn in SETUP_STEPS:
                if parser.is_matching(step.name):
                    try:
                        fn(scenario, **(parser.parse_arguments(step.name) or {}))
                    except NotTested:
                        return None
                    break
        elif step.type == "when":
            if step.name not in UNTIL:
                return None
            launches, until = True, UNTIL[step.name]
    return (scenario, until) if launches else None


def _rendered(item: pytest.Item, template: Any) -> Any:
    """A Scenario Outline's steps with the item's Examples row filled in (a plain scenario as it is)."""
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    return template.render(example) if template is not None and example else template


def expected_wait_s(scenario: DeviceScenario) -> float:
    """How long the scenario's setup makes the recording last at least (a Retry-After the device must honour, a
    window the harness must watch)."""
    return max(scenario.retry_after_s or 0.0, scenario.min_duration_s)


def schedule_all(items: list[pytest.Item], observatory: Any, device: Any, template_of: Callable[[pytest.Item], Any],
                 *, sharing: bool, recorder: Callable[..., Any] | None = None) -> dict[str, str | None]:
    """Schedule the recording of every collected device scenario, longest wait first and otherwise in their order;
    returns key -> until. ``recorder`` makes one recording (``record`` by default; the MIAF profile's is
    ``miaf_recordings.record``)."""
    recorder = recorder or record
    planned: dict[str, tuple[DeviceScenario, str | None]] = {}
    for item in items:
        found = plan(item, device, _rendered(item, template_of(item)))
        if found is None:
            continue
        key = recording_key(item, sharing=sharing)
        scenario, until = found
        if key in planned:
            first, reach = planned[key]
            if _REACH[until] > _REACH[reach]:
                planned[key] = (first, until)
        else:
            planned[key] = (scenario, until)
    # The longest launches first (a stable sort keeps scenario order otherwise): a recording that must wait out a
    # Retry-After then overlaps the short ones instead of holding up the end of the run.
    for key, (scenario, until) in sorted(planned.items(), key=lambda kv: -expected_wait_s(kv[1][0])):
        observatory.schedule(key, lambda wfm, s=scenario, u=until, k=key: recorder(s, wfm, u, k))
    return {key: until for key, (_, until) in planned.items()}


def check_shared(scenario: DeviceScenario, key: str) -> None:
    """A scenario that judges a shared recording sets nothing up: what it judges is the nominal run."""
    if is_shared(key) and (scenario.setup or scenario.variant != "out-of-band" or scenario.retry_after_s is not None):
        raise HarnessError(f"a scenario tagged @{key} judges the shared nominal run, so it cannot set up the WFM or "
                           "the launch variant: tag it off or remove its Given steps")
