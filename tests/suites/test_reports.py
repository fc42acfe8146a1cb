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
    failed = [r for r in _allure_results(run) if r["status"] == "failed" and r["name"].startswith(scenario)]
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


def test_junit_names_carry_requirement_ids(defect_run) -> None:
    role, run = defect_run
    req = CASES[role][1]
    names = [case.get("name", "") for case in ET.parse(run.output / "junit.xml").getroot().iter("testcase")]
    assert any(req.replace("-", "_") in n or req in n for n in names), names[:5]


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
