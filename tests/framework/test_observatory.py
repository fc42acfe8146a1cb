"""The observatory: recordings made once per key, ahead of the scenarios, on a bounded pool of slots."""

from __future__ import annotations

import threading
import time

import pytest

from margo_conformance.observatory import Observatory


def _observatory(jobs: int, **kwargs):
    made: list[int] = []
    closed: list[int] = []

    def make() -> int:
        made.append(len(made))
        return made[-1]

    return Observatory(jobs=jobs, make_slot=make, close_slot=closed.append, **kwargs), made, closed


def test_a_key_is_recorded_once_and_every_taker_gets_the_same_recording() -> None:
    obs, _, closed = _observatory(2)
    calls: list[str] = []
    obs.schedule("nominal", lambda slot: calls.append("nominal") or object())
    obs.schedule("nominal", lambda slot: calls.append("again") or object())  # the first job is kept
    first, second = obs.take("nominal"), obs.take("nominal")
    obs.close()
    assert first is second and calls == ["nominal"]
    assert closed  # the worker's slot was closed


def test_jobs_bound_how_many_run_at_once_and_each_worker_keeps_its_slot() -> None:
    obs, made, _ = _observatory(2)
    running, peak, lock = [0], [0], threading.Lock()

    def job(slot: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return slot

    for key in range(6):
        obs.schedule(key, job)
    slots = {obs.take(key) for key in range(6)}
    obs.close()
    assert peak[0] == 2 and len(made) == 2 and slots <= {0, 1}


def test_an_error_reaches_every_scenario_that_shares_the_recording() -> None:
    obs, _, _ = _observatory(1)

    def fails(slot: int) -> None:
        raise RuntimeError("the device could not be started")

    obs.schedule("nominal", fails)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="could not be started"):
            obs.take("nominal")
    obs.close()


def test_without_prelaunch_a_recording_is_made_when_first_taken_with_the_inline_slot() -> None:
    obs, made, _ = _observatory(1, prelaunch=False, inline_slot=lambda: "inline")
    seen: list[object] = []
    obs.schedule("a", lambda slot: seen.append(slot) or "recording")
    assert seen == []  # nothing ran ahead (a person starts a device in manual mode)
    assert obs.take("a") == "recording" and seen == ["inline"] and made == []
    assert obs.take("b", lambda slot: "unplanned") == "unplanned"
    obs.close()


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Observatory(jobs=0, make_slot=lambda: None, close_slot=lambda s: None)


def test_run_refuses_jobs_below_one() -> None:
    from margo_conformance.errors import ConfigError
    from margo_conformance.runner import RunOptions, resolve_sut

    with pytest.raises(ConfigError, match="--jobs must be 1 or more"):
        resolve_sut(RunOptions(role="device", jobs=0))
