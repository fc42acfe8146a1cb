"""Test tiers: ``make unit`` runs everything but the whole-suite runs (``tests/suites/``, the kill matrices,
the wheel test, the fleet load runs) and the tests marked slow; ``make test`` runs everything."""

from __future__ import annotations

from pathlib import Path

import pytest

_WHOLE_SUITE_DIRS = ("suites", "install", "load")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        try:
            first = Path(str(item.path)).relative_to(here).parts[0]
        except ValueError:
            continue
        if first in _WHOLE_SUITE_DIRS:
            item.add_marker(pytest.mark.suite)
