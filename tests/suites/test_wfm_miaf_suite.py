"""Self-tests of the MIAF WFM-role suite: the reference MIAF WFM passes; every MIAF WFM defect is caught on its
requirement and nothing else (the kill matrix). Each run is `margo-conformance run --role wfm --sut builtin
--profile miaf-rc3` in a subprocess, as a user would start it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from margo_conformance.defects import defects_for, of_profile
from margo_conformance.requirements import load_catalog

from .killmatrix import run_suite

# The suite stands on the SPIFFE PKI (branch miaf-pki) and the reference MIAF WFM (branch miaf-refwfm).
pytest.importorskip("margo_conformance.pki.spiffe")
pytest.importorskip("margo_conformance.wfm.miaf")

PROFILE = "miaf-rc3"
MIAF = ("--profile", PROFILE)


def miaf_wfm_defects() -> tuple:
    """The reference MIAF WFM's defects (registered with profile miaf-rc3), load-only ones left to the load tests."""
    return tuple(d for d in of_profile(defects_for("wfm"), PROFILE) if not d.load_only)


MIAF_DEFECTS = miaf_wfm_defects()

#: Defects that make the WFM unusable for every client (its chain cannot be validated against the bundle alone),
#: so the scenarios that need a working connection cannot be judged (broken): still caught, on their own row.
UNUSABLE = {"miaf-leaf-without-intermediate"}


def strict_only(defect) -> bool:
    """A defect that breaks only a SHOULD or a question's position (the refwfm marks it): --strict fails it."""
    return bool(defect.strict_only)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory):
    started = time.monotonic()
    run = run_suite("wfm", tmp_path_factory.mktemp("wfm-miaf-clean"), extra=MIAF, cold=True)
    run.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return run


def test_reference_miaf_wfm_passes_every_scenario(clean_run) -> None:
    assert clean_run.exit_code == 0, clean_run.log
    counts = clean_run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == 0, counts
    assert counts["passed"] >= 50, counts
    # The one scenario a loopback reference cannot answer: port 443 (MGEN-03) is judged on vendor WFMs.
    not_tested = [s["requirements"] for s in clean_run.summary["scenarios"] if s["outcome"] == "not_tested"]
    assert not_tested == [["MGEN-03"]], not_tested
    assert clean_run.seconds < 60, f"a MIAF run against the builtin took {clean_run.seconds:.1f} s"  # type: ignore[attr-defined]


def test_the_run_is_stamped_with_the_profile_and_its_spec_commit(clean_run) -> None:
    profile = clean_run.summary["profile"]
    assert profile["id"] == PROFILE
    assert "5c690f36" in str(profile), profile
    assert PROFILE in (clean_run.output / "summary.md").read_text()
    # Only this profile's scenarios ran: no httpsig onboarding scenario, no httpsig requirement row.
    catalog = load_catalog()
    judged = {r["id"] for r in clean_run.summary["requirements"] if r["scenarios"]}
    assert all(PROFILE in catalog.get(r).profiles for r in judged), sorted(judged)


def test_every_wfm_binding_must_of_the_profile_has_a_scenario_or_a_not_tested_reason(clean_run) -> None:
    catalog = load_catalog()
    musts = {r.id: r for r in catalog.all() if r.verdict_level == "MUST" and r.binds in ("wfm", "both")
             and PROFILE in r.profiles}
    covered = {r["id"] for r in clean_run.summary["requirements"] if r["scenarios"]}
    unexplained = sorted(i for i in set(musts) - covered if musts[i].verified_by == "scenario")
    assert unexplained == [], f"WFM-binding MUST rows with no scenario and no NOT TESTED reason: {unexplained}"


def test_every_scenario_tag_names_a_catalog_requirement_of_the_profile(clean_run) -> None:
    catalog = load_catalog()
    tags = {r for s in clean_run.summary["scenarios"] for r in s["requirements"]}
    assert tags and all(r in catalog and PROFILE in catalog.get(r).profiles for r in tags), sorted(tags)


def test_a_refusal_in_the_handshake_is_an_answer_never_unreachable(clean_run) -> None:
    """The C-NOCERT scenario is judged (passed), with the TLS refusal in its verdict, not reported broken."""
    nocert = next(s for s in clean_run.summary["scenarios"] if "C-NOCERT" in s["name"])
    assert nocert["outcome"] == "passed"
    refusal = [v for v in nocert["verdicts"] if "without a valid client SVID" in v["what"]]
    assert refusal and refusal[0]["details"]["layer"] in ("tls", "http"), refusal


def test_kill_matrix_has_the_refwfm_defects() -> None:
    assert len(MIAF_DEFECTS) >= 8, [d.name for d in MIAF_DEFECTS]


@pytest.mark.parametrize("defect", [d for d in MIAF_DEFECTS if strict_only(d)],
                         ids=[d.name for d in MIAF_DEFECTS if strict_only(d)])
def test_strict_only_defect_passes_a_default_run_with_the_deviation_named(defect, tmp_path: Path) -> None:
    """The default-run half of a strict-only defect, on its requirement's scenarios (the kill matrix runs the
    --strict half on the whole suite)."""
    tags = ("--tags", "req_" + defect.requirement.replace("-", "_"))
    run = run_suite("wfm", tmp_path, defects=(defect.name,), extra=(*MIAF, *tags))
    assert run.exit_code == 0, f"{defect.name} failed a default run:\n{run.log}"
    row = run.requirement(defect.requirement)
    assert row["verdict"] in ("DEVIATION", "ADVISORY"), f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis"


@pytest.mark.parametrize("defect", MIAF_DEFECTS, ids=[d.name for d in MIAF_DEFECTS])
def test_kill_matrix(defect, tmp_path: Path) -> None:
    run = run_suite("wfm", tmp_path, defects=(defect.name,), strict=strict_only(defect), extra=MIAF)
    assert run.exit_code == 1, f"{defect.name} was not caught (exit {run.exit_code}):\n{run.log}"
    row = run.requirement(defect.requirement)
    # A must defect fails on the must axis; a strict-only one (run with --strict) on the axis of its question/SHOULD.
    axes = ("interpretation", "advisory") if strict_only(defect) else ("must",)
    assert row["verdict"] == "FAIL" and row["axis"] in axes, f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis"
    assert run.unrelated_failures(defect.requirement, *defect.related) == [], defect.name
    if defect.name not in UNUSABLE and not defect.whole_run:
        broken = [s["name"] for s in run.summary["scenarios"] if s["outcome"] == "broken"]
        assert broken == [], f"{defect.name} broke scenarios it should not affect: {broken}"


