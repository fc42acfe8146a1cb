"""Self-tests of the device-role suite: the reference device passes; every device defect is caught.

Each test runs `margo-conformance run --role device --sut builtin` in a subprocess, as a user would; the
suite launches the reference device once per scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.defects import defects_for
from margo_conformance.requirements import load_catalog

from .killmatrix import assert_default_run_names_the_deviation, run_suite

DEVICE_DEFECTS = defects_for("device")

#: Defects that break only our reading of an open question (interpretation axis) or a SHOULD (advisory axis),
#: so a default run passes with the deviation named and only --strict fails: accepting TLS 1.2 (Q-08),
#: ignoring Retry-After (ERR-04 SHOULD), properties.id != deviceId (Q-18), an unsigned onboarding (Q-03:
#: issue 135's diagram), an upper-case "Content-Digest" component name (Q-04).
STRICT_ONLY = {"tls12-allowed", "retry-ignores-retry-after", "properties-id-mismatch", "onboarding-unsigned",
               "uppercase-component"}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory):
    return run_suite("device", tmp_path_factory.mktemp("device-clean"))


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
def test_kill_matrix(defect, tmp_path: Path) -> None:
    run = run_suite("device", tmp_path, defects=(defect.name,), strict=defect.name in STRICT_ONLY)
    assert run.exit_code == 1, f"{defect.name} was not caught (exit {run.exit_code}):\n{run.log}"
    row = run.requirement(defect.requirement)
    assert row["verdict"] in ("FAIL", "DEVIATION", "ADVISORY") and row["axis"], f"{defect.name}: {defect.requirement} is {row['verdict']}: {row['reason']}"
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
