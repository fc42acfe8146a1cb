"""Self-tests of the device-role suite: the reference device passes; every device defect is caught.

Each test runs `margo-conformance run --role device --sut builtin` in a subprocess, as a user would; the
suite launches the reference device once per recording: once for every scenario tagged @recording:nominal
together, once for each other scenario, two side by side (--jobs 2).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest

from margo_conformance.defects import defects_for, of_profile
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import FEATURES_DIR

from .killmatrix import assert_default_run_names_the_deviation, run_suite

DEVICE_DEFECTS = of_profile(defects_for("device"), "httpsig-2026h1")  # the MIAF ones: test_device_miaf_suite.py

#: Defects that break only a SHOULD or our reading of an open question (``Defect.strict_only``): a default run
#: passes with the deviation named, only --strict fails.
STRICT_ONLY = {d.name for d in DEVICE_DEFECTS if d.strict_only}


JOBS = ("--jobs", "2")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory):
    return run_suite("device", tmp_path_factory.mktemp("device-clean"), extra=JOBS, cold=True)


_RUNS: dict[str, object] = {}


def defect_run(name: str, tmp_path_factory: pytest.TempPathFactory):
    """One run per defect in this worker, shared by the kill matrix and the tests that read it more closely."""
    if name not in _RUNS:
        _RUNS[name] = run_suite("device", tmp_path_factory.mktemp(f"device-{name}"), defects=(name,),
                                strict=name in STRICT_ONLY, extra=JOBS)
    return _RUNS[name]


@lru_cache(maxsize=1)
def shared_scenarios() -> frozenset[str]:
    """Names of the scenarios that judge the shared nominal recording (@recording:nominal on them or their feature)."""
    names = set()
    for feature in sorted((FEATURES_DIR / "device").glob("*.feature")):
        text = feature.read_text()
        feature_tagged = bool(re.search(r"^@[^\n]*@recording:nominal[^\n]*\nFeature:", text, re.M))
        for tags, name in re.findall(r"^  (@[^\n]*)\n  Scenario: ([^\n]+)$", text, re.M):
            if feature_tagged or "@recording:nominal" in tags:
                names.add(name.strip())
    return frozenset(names)


def test_reference_device_passes_every_scenario(clean_run) -> None:
    assert clean_run.exit_code == 0, clean_run.log
    counts = clean_run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == 0, counts
    assert counts["passed"] >= 25


def test_every_device_binding_must_has_a_scenario(clean_run) -> None:
    catalog = load_catalog()
    profile = clean_run.summary["profile"]["id"]
    musts = {r.id for r in catalog.all() if r.verdict_level == "MUST" and r.binds in ("device", "both")
             and profile in r.profiles and r.verified_by == "scenario"}
    covered = {r["id"] for r in clean_run.summary["requirements"] if r["scenarios"]}
    assert musts - covered == set(), f"device-binding MUST requirements with no scenario: {sorted(musts - covered)}"


@pytest.mark.parametrize("defect", [d for d in DEVICE_DEFECTS if d.name in STRICT_ONLY],
                         ids=[d.name for d in DEVICE_DEFECTS if d.name in STRICT_ONLY])
def test_strict_only_defect_passes_a_default_run_with_the_deviation_named(defect, tmp_path: Path) -> None:
    assert_default_run_names_the_deviation("device", defect, tmp_path)


@pytest.mark.parametrize("defect", DEVICE_DEFECTS, ids=[d.name for d in DEVICE_DEFECTS])
def test_kill_matrix(defect, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = defect_run(defect.name, tmp_path_factory)
    assert run.exit_code == 1, f"{defect.name} was not caught (exit {run.exit_code}):\n{run.log}"
    row = run.requirement(defect.requirement)
    # A must defect fails on the must axis; a strict-only one (run with --strict) on the axis of its question/SHOULD.
    axes = ("interpretation", "advisory") if defect.name in STRICT_ONLY else ("must",)
    assert row["verdict"] == "FAIL" and row["axis"] in axes, f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis: {row['reason']}"
    assert run.unrelated_failures(defect.requirement, *defect.related) == [], defect.name
    broken = [f"{s['name']}: {s['message'][:200]}" for s in run.summary["scenarios"] if s["outcome"] == "broken"]
    assert broken == [], f"{defect.name} broke scenarios: {broken}"


def test_device_record_verifies_and_rejudges_unchanged(clean_run) -> None:
    """Issue 21 on the device role, on the clean run above (no run of its own): the unsigned record's hashes
    verify, its HAR is valid HAR 1.2, and re-judging the evidence (arrival times included) changes nothing."""
    import json

    from typer.testing import CliRunner

    from margo_conformance.cli import app
    from record.har_schema import har_errors

    verify = CliRunner().invoke(app, ["record", "verify", str(clean_run.output)])
    assert verify.exit_code == 1 and verify.output.startswith("signature: the record is UNSIGNED"), verify.output
    assert not [line for line in verify.output.splitlines() if line.startswith(("changed", "added", "removed"))]
    har = json.loads((clean_run.output / "evidence" / "exchanges.har").read_text())
    assert har_errors(har) == [] and har["log"]["entries"]
    assert all(e["_observation"]["seq"] for e in har["log"]["entries"])
    rejudged = CliRunner().invoke(app, ["rejudge", str(clean_run.output)])
    assert rejudged.exit_code == 0, rejudged.output
    assert "No verdict changed." in rejudged.output and "cannot re-judge" not in rejudged.output


def _attachment_names(node: dict) -> list[str]:
    names = [a["name"] for a in node.get("attachments", [])]
    for step in node.get("steps", []):
        names += _attachment_names(step)
    return names


def test_the_nominal_recording_is_shared_by_the_scenarios_tagged_for_it(clean_run) -> None:
    """Each scenario that judges the shared recording carries it as its own evidence; no other scenario does."""
    import json

    names = {s["name"] for s in clean_run.summary["scenarios"]}
    assert len(shared_scenarios()) >= 10 and shared_scenarios() <= names
    assert clean_run.summary["sut"]["facts"]["device.jobs"] == "2"
    carrying = set()
    for result in (clean_run.output / "allure-results").glob("*-result.json"):
        data = json.loads(result.read_text())
        if any("shared recording 'nominal'" in n for n in _attachment_names(data)):
            carrying.add(data["name"])
    titles = {f"{' '.join(s['requirements'])} {s['name']}" for s in clean_run.summary["scenarios"]
              if s["name"] in shared_scenarios()}
    assert carrying == titles


#: What ecdsa-der (a DER-encoded ECDSA signature on every request) fails in the nominal run: SIG-05's encoding
#: check, and ONB-06's proof of possession (the onboarding signature does not verify either).
ECDSA_DER_FAILS = {"ECDSA signatures are encoded as raw r||s",
                   "The onboarding request is signed by the key of the submitted certificate"}


def test_a_defect_of_the_nominal_run_fails_every_scenario_judging_it_there_and_nothing_else(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """ecdsa-der shows in every signature of the nominal run: each scenario that judges it from the shared
    recording fails on its own requirement, with its own verdict; no scenario with a launch of its own fails."""
    run = defect_run("ecdsa-der", tmp_path_factory)
    failed = {s["name"]: {r for v in s["verdicts"] if not v["passed"] for r in v["requirements"]}
              for s in run.failed_scenarios}
    assert set(failed) == ECDSA_DER_FAILS and ECDSA_DER_FAILS <= shared_scenarios()
    assert failed == {"ECDSA signatures are encoded as raw r||s": {"SIG-05"},
                      "The onboarding request is signed by the key of the submitted certificate": {"ONB-06"}}


def test_a_device_that_stops_on_its_own_defect_blocks_the_rest(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A device that labels its bodies text/plain: the WFM refuses its onboarding and it exits. GEN-06 fails once;
    every scenario that needed it to go further is NOT TESTED, blocked by GEN-06, said once; JUnit skips them."""
    import xml.etree.ElementTree as ET

    run = defect_run("body-text-plain", tmp_path_factory)
    counts = run.summary["counts"]["scenarios"]
    assert (counts["failed"], counts["broken"]) == (1, 0), counts
    assert run.requirement("GEN-06")["verdict"] == "FAIL"
    reason = "blocked by GEN-06 (the device exited after the onboarding answer)"
    untested = [s for s in run.summary["scenarios"] if s["outcome"] == "not_tested"]
    blocked = [s for s in untested if s["message"] == reason]
    port_443 = [s for s in untested if s["message"] != reason]  # a machine where the harness cannot listen on 443
    assert len(blocked) >= 17 and all("443" in s["message"] for s in port_443), [s["message"] for s in port_443]
    assert run.summary["result"]["blocked"] == [{"reason": reason, "scenarios": len(blocked)}]
    assert run.log.count(f"Blocked:      {len(blocked)} scenario(s) NOT TESTED, {reason}") == 1
    assert (run.output / "summary.md").read_text().count(f"**Blocked:** {len(blocked)} scenario(s) NOT TESTED, {reason}") == 1
    suite = ET.parse(run.output / "junit.xml").getroot().find("testsuite")
    assert (suite.get("errors"), suite.get("skipped")) == ("0", str(len(untested)))
