"""Self-tests of the WFM-role suite: the reference WFM passes; every WFM defect is caught, for its reason.

Each test runs `margo-conformance run --role wfm --sut builtin` in a subprocess, as a user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.defects import defects_for, of_profile
from margo_conformance.requirements import load_catalog

from .killmatrix import assert_default_run_names_the_deviation, run_suite

#: The load-only defects (a race under parallel requests) are caught by the fleet load mode (tests/load/).
WFM_DEFECTS = tuple(d for d in of_profile(defects_for("wfm"), "httpsig-2026h1") if not d.load_only)

#: Defects that break only a SHOULD or our reading of an open question (``Defect.strict_only``): a default run
#: passes with the deviation named, only --strict fails.
STRICT_ONLY = {d.name for d in WFM_DEFECTS if d.strict_only}

#: Defects that make the WFM unusable for every device, so that the scenarios which need a working TLS
#: connection cannot be judged (broken, not failed): they are still caught, on their own requirement.
UNUSABLE = {"tls-client-cert-required", "server-chain-foreign"}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory):
    return run_suite("wfm", tmp_path_factory.mktemp("wfm-clean"), cold=True)


def test_reference_wfm_passes_every_scenario(clean_run) -> None:
    assert clean_run.exit_code == 0, clean_run.log
    counts = clean_run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == 0, counts
    assert counts["passed"] >= 100
    # The one scenario a loopback reference cannot answer: port 443 (GEN-03) is judged on vendor WFMs.
    not_tested = [s for s in clean_run.summary["scenarios"] if s["outcome"] == "not_tested"]
    assert [s["requirements"] for s in not_tested] == [["GEN-03"]], not_tested


def test_every_wfm_binding_must_has_a_scenario(clean_run) -> None:
    catalog = load_catalog()
    musts = {r.id for r in catalog.all() if r.verdict_level == "MUST" and r.binds in ("wfm", "both")
             and clean_run.summary["profile"]["id"] in r.profiles}
    covered = {r["id"] for r in clean_run.summary["requirements"] if r["scenarios"]}
    assert musts - covered == set(), f"WFM-binding MUST requirements with no scenario: {sorted(musts - covered)}"


def test_every_scenario_tag_names_a_catalog_requirement(clean_run) -> None:
    catalog = load_catalog()
    unknown = {r for s in clean_run.summary["scenarios"] for r in s["requirements"] if r not in catalog}
    assert not unknown


@pytest.mark.parametrize("defect", [d for d in WFM_DEFECTS if d.name in STRICT_ONLY],
                         ids=[d.name for d in WFM_DEFECTS if d.name in STRICT_ONLY])
def test_strict_only_defect_passes_a_default_run_with_the_deviation_named(defect, tmp_path: Path) -> None:
    assert_default_run_names_the_deviation("wfm", defect, tmp_path)


@pytest.mark.parametrize("defect", WFM_DEFECTS, ids=[d.name for d in WFM_DEFECTS])
def test_kill_matrix(defect, tmp_path: Path) -> None:
    run = run_suite("wfm", tmp_path, defects=(defect.name,), strict=defect.name in STRICT_ONLY)
    assert run.exit_code == 1, f"{defect.name} was not caught (exit {run.exit_code}):\n{run.log}"
    row = run.requirement(defect.requirement)
    # A must defect fails on the must axis; a strict-only one (run with --strict) on the axis of its question/SHOULD.
    axes = ("interpretation", "advisory") if defect.name in STRICT_ONLY else ("must",)
    assert row["verdict"] == "FAIL" and row["axis"] in axes, f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis"
    assert run.unrelated_failures(defect.requirement, *defect.related) == [], defect.name
    if defect.name not in UNUSABLE:
        broken = [s["name"] for s in run.summary["scenarios"] if s["outcome"] == "broken"]
        assert broken == [], f"{defect.name} broke scenarios it should not affect: {broken}"
