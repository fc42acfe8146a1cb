"""junit.xml as CI tools read it, and the console lines a person reads (report/junit.py, report/console.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from margo_conformance.report.console import progress_line, scenario_line
from margo_conformance.report.junit import rewrite_junit

PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="margo" errors="0" failures="2" skipped="1" tests="4">
<testcase classname="steps.wfm.test_wfm_suite" name="test_ok" time="0.1" />
<testcase classname="steps.wfm.test_wfm_suite" name="test_bad" time="0.1"><failure message="RequirementFailed">tb</failure></testcase>
<testcase classname="steps.wfm.test_wfm_suite" name="test_broken" time="0.1"><failure message="SutTimeout">tb</failure></testcase>
<testcase classname="steps.wfm.test_wfm_suite" name="test_hook" time="0.1"><skipped message="x" /></testcase>
</testsuite></testsuites>"""


def _record(name: str, outcome: str, message: str = "", cause: str | None = None) -> dict:
    verdicts = [{"passed": False, "what": "status", "requirements": ["SIG-10"], "expected": 401, "observed": 200,
                 "axis": "must", "kind": "check"}] if outcome == "failed" else []
    return {"feature": "Request signing", "feature_file": "features/wfm/request_signing.feature", "name": name,
            "requirements": ["SIG-10", "SIG-11"], "outcome": outcome, "message": message, "cause": cause,
            "verdicts": verdicts}


def test_broken_is_an_error_not_tested_is_skipped_and_names_carry_requirement_ids(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(PYTEST_JUNIT)
    node = "steps/wfm/test_wfm_suite.py::"
    rewrite_junit(path, {
        node + "test_ok": _record("A signed request passes", "passed"),
        node + "test_bad": _record("A tampered request is refused", "failed", "[SIG-10] status"),
        node + "test_broken": _record("The WFM answers", "broken", "SutTimeout: no answer", "unreachable"),
        node + "test_hook": _record("Revoked client", "not_tested", "NOT TESTED: needs wfm.operator.revoke"),
    })
    suite = ET.parse(path).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"SIG-10 SIG-11 A signed request passes", "SIG-10 SIG-11 A tampered request is refused",
                          "SIG-10 SIG-11 The WFM answers", "SIG-10 SIG-11 Revoked client"}
    assert {c.get("classname") for c in cases.values()} == {"Request signing"}
    failure = cases["SIG-10 SIG-11 A tampered request is refused"].find("failure")
    assert failure is not None and "expected 401, observed 200" in failure.text
    error = cases["SIG-10 SIG-11 The WFM answers"].find("error")
    assert error is not None and error.get("message") == "SutTimeout: no answer"
    assert cases["SIG-10 SIG-11 The WFM answers"].find("failure") is None
    skipped = cases["SIG-10 SIG-11 Revoked client"].find("skipped")
    assert skipped.get("message") == "NOT TESTED: needs wfm.operator.revoke"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped"), suite.get("tests")) == ("1", "1", "1", "4")


def test_a_scenario_line_shows_progress_requirements_verdict_and_why() -> None:
    line = scenario_line(_record("A tampered request is refused", "failed", "[SIG-10] status: expected 401"), 7, 138)
    assert line.startswith("[  7/138] FAIL") and "SIG-10 SIG-11  A tampered request is refused" in line
    assert line.endswith("[SIG-10] status: expected 401")
    assert scenario_line(_record("ok", "passed"), 1, 9).startswith("[1/9] PASS")


def test_the_progress_line_counts_failures_and_broken() -> None:
    assert progress_line(14, 138, {"failed": 1, "broken": 2}, "now") == \
        "scenario 14 of 138 (10%), failed 1, broken 2: now"
