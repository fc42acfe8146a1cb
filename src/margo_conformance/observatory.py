"""Observe once, judge many: recordings of a SUT's behaviour made ahead of the scenarios that judge them.

A *recording* is one launch of the system under test against a simulated peer set up for it (its faults, its
TLS chain) and everything that peer observed. Launching is what costs time (a device that boots in seconds);
judging a recording costs nothing. So a suite names each recording by a key, and

- scenarios that judge the same nominal behaviour share one key: the SUT is launched once for all of them
  (``@recording:<name>`` on the scenario), each keeps its own verdicts;
- every other key is launched on its own, and independent keys run side by side on a pool of ``jobs`` worker
  threads, each holding its own simulated peer (a *slot*), started in the order the scenarios will judge them;
- the scenarios themselves still run one after the other in pytest's order and only *take* the finished
  recording, so the run record, the console and the Allure results stay complete and in a stable order.

``jobs = 1`` launches one SUT at a time (a device that cannot run twice on one machine). ``prelaunch=False``
(manual mode: a person starts the device) makes each recording when a scenario first asks for it, in the
calling thread with the caller's slot. Nothing here knows what a device or a WFM is: the suite supplies the
jobs (``Callable[[slot], result]``) and how to make and close a slot.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

S = TypeVar("S")  # a slot: the simulated peer one worker launches against
R = TypeVar("R")  # a recording

Job = Callable[[S], R]


def default_jobs() -> int:
    """Worker count when none is given: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Observatory(Generic[S, R]):
    """Recordings by key, made on a worker pool ahead of the scenarios (see the module docstring)."""

    def __init__(self, *, jobs: int, make_slot: Callable[[], S], close_slot: Callable[[S], None],
                 inline_slot: Callable[[], S] | None = None, prelaunch: bool = True) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.prelaunch = prelaunch
        self._make_slot, self._close_slot, self._inline_slot = make_slot, close_slot, inline_slot
        self._futures: dict[Hashable, Future[R]] = {}
        self._jobs: dict[Hashable, Job[S, R]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._slots: list[S] = []
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False

    # -- scheduling --------------------------------------------------------------------------------
    def schedule(self, key: Hashable, job: Job[S, R]) -> None:
        """Make the recording ``key`` with ``job`` (once: a key already scheduled keeps its first job)."""
        with self._lock:
            if key in self._jobs or self._closed:
                return
            self._jobs[key] = job
            if self.prelaunch:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="recording")
                self._futures[key] = self._pool.submit(self._in_worker, job)

    def _in_worker(self, job: Job[S, R]) -> R:
        slot = getattr(self._local, "slot", None)
        if slot is None:
            slot = self._keep(self._make_slot())
            self._local.slot = slot
        return job(slot)

    def _keep(self, slot: S) -> S:
        """Track a new slot for ``close``; one made while the observatory closed is closed here (close has already
        gone through the list) and the job does not run."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._slots.append(slot)
        if closed:
            self._close_slot(slot)
            raise RuntimeError("the observatory is closed: the run is stopping")
        return slot

    def take(self, key: Hashable, job: Job[S, R] | None = None) -> R:
        """The recording ``key``: waits for it when it is being made, makes it here (inline) when it was never
        scheduled. Re-raises what its job raised (every scenario sharing it sees the same error)."""
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                job = self._jobs.get(key, job)
                if job is None:
                    raise KeyError(f"no recording {key!r} was scheduled")
                future = Future()
                self._futures[key] = future
                owner = True
            else:
                owner = False
        if owner:
            try:
                slot = self._inline_slot() if self._inline_slot is not None else self._in_worker_slot()
                future.set_result(job(slot))
            except BaseException as exc:  # noqa: BLE001 - handed to every taker
                future.set_exception(exc)
        return future.result()

    def _in_worker_slot(self) -> S:
        return self._keep(self._make_slot())

    def scheduled(self) -> list[Hashable]:
        with self._lock:
            return list(self._jobs)

    def close(self, stop_running: Callable[[], None] | None = None) -> None:
        """Stop scheduling, cancel what has not started, ``stop_running`` (end the launches in flight: a stopped
        run does not wait out a device's timeout), wait for the jobs, close every slot."""
        with self._lock:
            self._closed = True
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if stop_running is not None:
            stop_running()
        if pool is not None:
            pool.shutdown(wait=True)
        for slot in self._slots:
            try:
                self._close_slot(slot)
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass
        self._slots.clear()


__all__ = ["Observatory", "default_jobs"]
