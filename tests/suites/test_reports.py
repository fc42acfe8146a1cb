"""The artifacts of a run tell a reviewer everything without re-running (issue: reports a reviewer can trust).

One WFM-role run with a WFM defect and one device-role run with a device defect; the tests read what
they wrote: summary.json (against its schema), summary.md, junit.xml, allure-results/, the HTML report.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from margo_conformance.report.html import ALLURE_BIN, build_html
from margo_conformance.report.summary import validate_summary

from .killmatrix import SuiteRun, run_suite

#: (role, defect, the requirement it breaks, the scenario that must fail, a finding/evidence text)
CASES = {
    "wfm": ("digest-unchecked", "DIG-03", "The capabilities PUT refuses digest-wrong", "digest-mismatch"),
    "device": ("digest-wrong", "DIG-01", "The Content-Digest is the SHA-256 of the exact body", "digest-mismatch"),
}

KEY_MATERIAL = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|PRIVATE KEY-----")


@pytest.fixture(scope="module", params=sorted(CASES))
def defect_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SuiteRun]:
    role = request.param
    defect = CASES[role][0]
    return role, run_suite(role, tmp_path_factory.mktemp(f"{role}-{defect}"), defects=(defect,))


def _allure_results(run: SuiteRun) -> list[dict]:
    return [json.loads(p.read_text()) for p in (run.output / "allure-results").glob("*-result.json")]


def _attachments_text(run: SuiteRun, result: dict) -> str:
    texts = []

    def walk(node: dict) -> None:
        for att in node.get("attachments", []):
            path = run.output / "allure-results" / att["source"]
            texts.append(path.read_text(errors="replace"))
        for step in node.get("steps", []):
            walk(step)

    walk(result)
    return "\n".join(texts)


def test_summary_is_valid_and_names_the_failed_requirement(defect_run) -> None:
    role, run = defect_run
    _, req, scenario, _ = CASES[role]
    assert validate_summary(run.summary) == []
    assert run.exit_code == 1 and req in run.summary["result"]["failed_musts"]
    row = run.requirement(req)
    assert row["verdict"] == "FAIL" and row["axis"] == "must"
    failed = [s for s in run.summary["scenarios"] if s["outcome"] == "failed"]
    assert any(s["name"].startswith(scenario) for s in failed), [s["name"] for s in failed]
    md = (run.output / "summary.md").read_text()
    assert f"**Failed requirements:** {req}" in md or req in md.split("**Failed requirements:**")[1]
    assert f"| {req} |" in md and "FAIL (must)" in md


def test_allure_result_carries_the_exchange_and_the_finding(defect_run) -> None:
    role, run = defect_run
    _, req, scenario, finding = CASES[role]
    failed = [r for r in _allure_results(run) if r["status"] == "failed" and scenario in r["name"]]
    assert failed, "no failed Allure result for the scenario"
    result = failed[0]
    assert req in result["statusDetails"]["message"]
    labels = {(lbl["name"], lbl["value"]) for lbl in result["labels"]}
    assert ("severity", "critical") in labels
    assert any(link["name"] == req for link in result["links"])
    evidence = _attachments_text(run, result)
    assert "--- request ---" in evidence and "--- response ---" in evidence  # the exchange, both ways
    assert "content-digest" in evidence.lower()
    assert finding in evidence  # the finding that explains the verdict


def test_a_failing_run_prints_no_harness_traceback(defect_run) -> None:
    _, run = defect_run
    assert run.exit_code == 1
    assert "Traceback" not in run.log and "steps/" not in run.log and ".py:" not in run.log, run.log[-2000:]
    assert "Result: FAIL" in run.log and "FAIL DIG-0" in run.log  # the summary block names the failed requirement


def _failed_step(result: dict) -> dict:
    return next(step for step in result["steps"] if step["status"] == "failed")


def test_the_failing_allure_step_carries_the_judged_exchange_and_expected_observed(defect_run) -> None:
    role, run = defect_run
    _, req, scenario, _ = CASES[role]
    result = next(r for r in _allure_results(run) if r["status"] == "failed" and scenario in r["name"])
    assert result["name"].startswith(req)  # titles start with their requirement IDs
    labels = {(lbl["name"], lbl["value"]) for lbl in result["labels"]}
    assert ("story", req) in labels and any(name == "epic" and value.startswith(req.split("-")[0] + ":")
                                            for name, value in labels)
    assert any("spec:" in link["name"] and link["url"].startswith("https://github.com/") for link in result["links"])
    step = _failed_step(result)
    texts = {att["name"]: (run.output / "allure-results" / att["source"]).read_text() for att in step["attachments"]}
    block = next(text for name, text in texts.items() if name.startswith("expected / observed"))
    assert f"requirement: {req}" in block and "expected:" in block and "observed:" in block
    judged = [text for name, text in texts.items() if name.startswith("judged")]
    assert judged and "--- request ---" in judged[0] and "content-digest" in judged[0].lower()
    assert "trace" not in step.get("statusDetails", {}) or not step["statusDetails"]["trace"]


def test_step_parameters_are_short_and_never_object_reprs(defect_run) -> None:
    _, run = defect_run
    for result in _allure_results(run):
        for step in result.get("steps", []):
            for parameter in step.get("parameters", []):
                value = parameter["value"]
                assert len(value) <= 80 and " object at 0x" not in value and "Scenario(" not in value, parameter


def test_junit_tells_failed_from_broken_and_names_tests_by_requirement(defect_run) -> None:
    role, run = defect_run
    _, req, scenario, _ = CASES[role]
    root = ET.parse(run.output / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    features = {s["feature"] for s in run.summary["scenarios"]}
    assert {case.get("classname") for case in cases} <= features
    failed = [case for case in cases if case.find("failure") is not None]
    assert any(case.get("name").startswith(req) and scenario in case.get("name") for case in failed), \
        [c.get("name") for c in failed]
    assert all(case.find("error") is None for case in cases)  # nothing broke in this run


def test_counts_agree_between_summary_junit_and_allure(defect_run) -> None:
    _, run = defect_run
    counts = run.summary["counts"]["scenarios"]
    suite = ET.parse(run.output / "junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("tests")) == sum(counts.values())
    assert int(suite.get("failures")) + int(suite.get("errors")) == counts["failed"] + counts["broken"]
    assert int(suite.get("skipped")) == counts["not_tested"]
    allure = Counter(r["status"] for r in _allure_results(run))
    assert allure["passed"] == counts["passed"]
    assert allure["failed"] == counts["failed"]
    assert allure["broken"] == counts["broken"]
    assert allure["skipped"] == counts["not_tested"]


def test_environment_and_categories(defect_run) -> None:
    _, run = defect_run
    env = (run.output / "allure-results" / "environment.properties").read_text()
    assert "harness.version=" in env and "spec.baseline=" in env and "sut.name=" in env
    categories = json.loads((run.output / "allure-results" / "categories.json").read_text())
    assert {"TLS", "Signature", "Digest", "Schema", "Status code", "SUT unreachable"} <= {c["name"] for c in categories}


def test_no_private_key_in_any_artifact(defect_run) -> None:
    _, run = defect_run
    leaks = [str(p) for p in run.output.rglob("*") if p.is_file() and KEY_MATERIAL.search(p.read_bytes())]
    assert leaks == []


@pytest.mark.skipif(not ALLURE_BIN.exists(), reason="npm package allure not installed (make setup-node)")
def test_html_report_builds_offline_and_holds_the_scenarios(defect_run) -> None:
    role, run = defect_run
    scenario = CASES[role][2]
    index = build_html(run.output)
    html = index.read_text(errors="replace")
    embedded = [base64.b64decode(v).decode("utf-8", "replace")
                for v in re.findall(r'd\("data/test-results/[^"]+",\s*"([^"]*)"\)', html)]
    assert embedded and any(scenario in text for text in embedded)
    assert not KEY_MATERIAL.search(index.read_bytes())


@pytest.mark.skipif(not ALLURE_BIN.exists(), reason="npm package allure not installed (make setup-node)")
def test_report_command_takes_a_relative_directory(defect_run, monkeypatch: pytest.MonkeyPatch) -> None:
    _, run = defect_run
    monkeypatch.chdir(run.output.parent)
    index = build_html(Path(run.output.name))
    assert index.is_absolute() and index.exists()


def test_a_row_made_by_rule_shows_its_basis_in_allure_and_summary(defect_run) -> None:
    """Issue 18: every generalised row says where its level comes from, in the Allure description of the test,
    in summary.json and in summary.md; a scenario copied from the text carries none."""
    role, run = defect_run
    with_basis = {s["name"]: s["basis"] for s in run.summary["scenarios"] if s.get("basis")}
    assert with_basis, "no scenario of the run declared a basis"
    descriptions = {r["name"]: r.get("description", "") for r in _allure_results(run)}
    for name, basis in with_basis.items():
        title = next(t for t in descriptions if t.endswith(name))
        assert basis["cites"] in descriptions[title], (name, descriptions[title])
        expected = "By analogy" if basis["kind"] == "analogy" else "Named by the text"
        assert descriptions[title].startswith(expected), descriptions[title]
    markdown = (run.output / "summary.md").read_text()
    assert "## Rows made by rule, and where each gets its level" in markdown
    if role == "wfm":
        q33 = next(b for n, b in with_basis.items() if "does not get a working client back" in n)
        assert (q33["kind"], q33["question"]) == ("analogy", "Q-33")
        assert "by analogy (Q-33, interpretation axis)" in markdown
    else:
        assert {b["question"] for b in with_basis.values()} == {"Q-H04"}
