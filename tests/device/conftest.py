"""Fixtures for the device tests: one in-process reference WFM per session (observing), reset per test.

Assertions about what the device sent are made on the WFM's observation log (the bytes it received, its
diagnosis), never on the device's own record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from margo_conformance.device import DeviceClient, DeviceConfig, RetryPolicy, RunResult, SimulatedDevice
from margo_conformance.device.trust import client_context
from margo_conformance.wfm import WfmServer
from margo_conformance.wfm.observe import Observation

#: Fast retries for tests: the Retry-After tests set their own expectations on real time.
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.2)


@pytest.fixture(scope="session")
def wfm_server() -> Iterator[WfmServer]:
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    with WfmServer() as server:
        yield server


@pytest.fixture
def wfm(wfm_server: WfmServer) -> Iterator[WfmServer]:
    """The session WFM with an empty observation log, no faults, and the valid TLS chain."""
    wfm_server.reset_tls()
    wfm_server.faults.clear()
    assert wfm_server.observations is not None
    wfm_server.observations.clear()
    yield wfm_server
    wfm_server.faults.clear()
    wfm_server.reset_tls()


@dataclass
class Outcome:
    """A device run and what the WFM saw of it."""

    result: RunResult | None
    error: BaseException | None
    observed: list[Observation]

    @property
    def http(self) -> list[Observation]:
        return [o for o in self.observed if o.kind == "http"]

    @property
    def handshake_failures(self) -> list[Observation]:
        return [o for o in self.observed if o.kind == "tls-failure"]

    def route(self, route: str) -> list[Observation]:
        return [o for o in self.http if o.route == route]


def settled(wfm: WfmServer, mark: int, count: int, timeout: float = 5.0) -> list[Observation]:
    """The observations since ``mark`` once there are ``count`` of them: the WFM records an exchange
    just after it answers, so the device can be done a moment before the log is."""
    if count:
        wfm.observations.wait_for(lambda o: o.seq >= mark + count, timeout, since=mark,
                                  what=f"{count} observations")
    return wfm.observations.since(mark)


def error_codes(o: Observation) -> set[str]:
    """The error-severity finding codes of the WFM's diagnosis of one request."""
    return {f.code for f in o.findings if f.severity == "error"}


@pytest.fixture
def run_device(wfm: WfmServer, tmp_path: Path):
    """Run the reference device against the WFM; returns an Outcome (the error, not raised)."""

    def run(*defects: str, state: str = "state", **config: object) -> Outcome:
        config.setdefault("ca_file", wfm.ca_file)
        config.setdefault("retry", FAST_RETRY)
        config.setdefault("timeout_s", 5.0)
        cfg = DeviceConfig(wfm_url=wfm.base_url, state_dir=tmp_path / state, defects=tuple(defects),
                           **config)  # type: ignore[arg-type]
        mark = wfm.observations.mark()
        result: RunResult | None = None
        error: BaseException | None = None
        client: DeviceClient | None = None
        try:
            client = DeviceClient(cfg)
            result = client.run()
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted by the test
            error = exc
        sent = len(client.exchanges) if client is not None else 0
        return Outcome(result, error, settled(wfm, mark, sent))

    return run


@pytest.fixture
def sim(wfm: WfmServer) -> Iterator[SimulatedDevice]:
    """A simulated device that trusts the WFM root CA alone (as the WFM-role steps build it)."""
    device = SimulatedDevice(wfm.base_url, client_context(wfm.identity.root), timeout=5.0)
    yield device
    device.close()
