"""Fixtures of the WFM tests: one root CA and one clean, observing server for the whole session.

Starting a server costs about 20 ms, so tests that need their own configuration (defects, trust policies,
restarts) start one with ``make_wfm``, which stops it at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from margo_conformance.pki import TestCA
from margo_conformance.wfm import WfmConfig, WfmServer

from .helpers import Device, client_for, new_device


@pytest.fixture(scope="session")
def wfm_ca() -> TestCA:
    return TestCA("WFM test root", intermediate=True)


@pytest.fixture(scope="session")
def wfm(wfm_ca: TestCA) -> Iterator[WfmServer]:
    with WfmServer(WfmConfig(observe=True), ca=wfm_ca) as server:
        yield server


@pytest.fixture(scope="session")
def http(wfm: WfmServer) -> Iterator[httpx.Client]:
    with client_for(wfm) as client:
        yield client


@pytest.fixture
def device(wfm: WfmServer, http: httpx.Client, wfm_ca: TestCA, request: pytest.FixtureRequest) -> Device:
    """A device onboarded to the session server (fresh certificate per test)."""
    return new_device(wfm, http, wfm_ca, request.node.name[:40])


@pytest.fixture
def make_wfm(wfm_ca: TestCA) -> Iterator[Callable[..., WfmServer]]:
    started: list[WfmServer] = []

    def make(*defects: str, data_dir: Path | None = None, ca: TestCA | None = None, **config: Any) -> WfmServer:
        cfg = WfmConfig(observe=True, defects=frozenset(defects), **config)
        server = WfmServer(cfg, ca=ca or wfm_ca, data_dir=data_dir).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
