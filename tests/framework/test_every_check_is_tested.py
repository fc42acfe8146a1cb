"""Every check in ``checks/wfm.py`` and ``checks/device.py`` has a unit test that names it.

A check that no test makes fail could be a check that cannot fail (STYLE: "proven able to fail"). The unit
tests live in ``test_wfm_checks.py`` and ``test_device_checks.py`` beside this file; this test only keeps
the list complete when a check is added.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from margo_conformance.checks import device, miaf_device, miaf_wfm, wfm

HERE = Path(__file__).parent


def _checks(module: object) -> list[str]:
    """Public functions of the module that return a Verdict (helpers that select or parse are not checks)."""
    names = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        target = inspect.unwrap(fn)
        if name.startswith("_") or target.__module__ != module.__name__:  # type: ignore[attr-defined]
            continue
        if str(inspect.signature(target).return_annotation) in ("Verdict", "'Verdict'"):
            names.append(name)
    return names


@pytest.mark.parametrize(("module", "test_file"), [(wfm, "test_wfm_checks.py"), (device, "test_device_checks.py"),
                                                  (miaf_wfm, "test_miaf_wfm_checks.py"),
                                                  (miaf_device, "test_miaf_device_checks.py")],
                         ids=["wfm", "device", "miaf_wfm", "miaf_device"])
def test_every_check_has_a_unit_test(module: object, test_file: str) -> None:
    source = (HERE / test_file).read_text() if (HERE / test_file).exists() else ""
    untested = [name for name in _checks(module) if name not in source]
    assert _checks(module), "no checks found: the return annotation convention changed?"
    assert not untested, f"checks without a unit test in {test_file}: {untested}"
