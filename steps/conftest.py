"""Fixtures shared by both roles' steps: the run's state, the catalog, the judge (from the plugin)."""

from __future__ import annotations

import pytest

from margo_conformance.pytest_plugin import RunState, run_state


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> RunState:
    return run_state(request.config)
