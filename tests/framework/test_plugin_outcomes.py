"""The plugin's own outcomes, on tiny throwaway suites run in a subprocess (the plugin is the subject here):
a scenario that never ran its call phase is broken, never passed; a collection error is a harness error
naming file and line, never "stopped by SIGINT"."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.report.summary import validate_summary
from margo_conformance.run_record import NO_CALL_PHASE

pytestmark = pytest.mark.slow  # each test is one pytest subprocess with the plugin (about 4 s)


def _run(suite: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    (suite / "pytest.ini").write_text("[pytest]\n")
    out = suite / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-c", str(suite / "pytest.ini"), "--rootdir", str(suite),
         "-p", "no:cacheprovider", "-p", "no:locust", "-p", "margo_conformance.pytest_plugin",
         "--margo-role", "wfm", "--margo-output", str(out), "-q", *extra],
        capture_output=True, text=True, timeout=120)
    assert (out / "summary.json").is_file(), proc.stdout + proc.stderr
    return proc.returncode, json.loads((out / "summary.json").read_text())


def test_a_scenario_that_never_reached_its_call_phase_is_broken_not_passed(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(textwrap.dedent("""
        import pytest

        def test_set_up_only():
            pass

        @pytest.mark.skip(reason="skipped by a mark")
        def test_skipped_by_pytest():
            pass
    """))
    _, summary = _run(tmp_path, "--setup-only")
    outcomes = {s["name"]: (s["outcome"], s["message"]) for s in summary["scenarios"]}
    assert outcomes["test_set_up_only"] == ("broken", NO_CALL_PHASE)
    assert outcomes["test_skipped_by_pytest"][0] == "broken" and "skipped by a mark" in outcomes["test_skipped_by_pytest"][1]
    assert (summary["result"]["verdict"], summary["result"]["exit_code"]) == ("INCOMPLETE", 1)


def test_collection_errors_are_a_harness_error_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "test_syntax.py").write_text("import os\n\ndef broken(:\n    pass\n")
    (tmp_path / "test_feature.py").write_text('from pytest_bdd import scenarios\n\nscenarios("bad.feature")\n')
    (tmp_path / "bad.feature").write_text("Feature: x\n\n  Scenario: one\n    Given a thing\n  Not gherkin\n")
    (tmp_path / "test_raises.py").write_text('import os\n\nraise ValueError("bad step data")\n')
    returncode, summary = _run(tmp_path)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"]) == ("HARNESS ERROR", 1) and returncode != 0
    assert summary["run"]["interrupted"] is None and "SIGINT" not in result["headline"]
    errors = sorted(summary["run"]["collection_errors"])
    assert errors[0].startswith("bad.feature:5: ")
    assert errors[1:] == ["test_raises.py:3: ValueError: bad step data", "test_syntax.py:3: SyntaxError: invalid syntax"]
    assert result["headline"].startswith("harness error: the suite could not be collected: ")
    assert "(and 2 more)" in result["headline"]
    assert validate_summary(summary) == []
