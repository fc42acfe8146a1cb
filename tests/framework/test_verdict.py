"""The judge: MUST failures fail the scenario, SHOULD/MAY failures are advisories, levels from the catalog."""

from __future__ import annotations

import pytest

from margo_conformance.verdict import Judge, NotTested, RequirementFailed, Verdict, check

LEVELS = {"SIG-10": "MUST", "ERR-02": "SHOULD", "ONB-12": "MAY"}


@check("SIG-10")
def status_is_401(status: int) -> Verdict:
    return Verdict.of(status == 401, "status after a tampered signature", expected=401, observed=status)


def test_check_stamps_requirement_ids() -> None:
    assert status_is_401(401).requirements == ("SIG-10",)


def test_failed_must_raises_with_expected_and_observed() -> None:
    judge = Judge(LEVELS.__getitem__)
    with pytest.raises(RequirementFailed) as err:
        judge(status_is_401(400))
    assert str(err.value) == "[SIG-10] status after a tampered signature: expected 401, observed 400"
    assert judge.recorded[0].axis == "must"


def test_failed_should_is_an_advisory_unless_strict() -> None:
    v = Verdict.of(False, "problem type", expected="x", observed="y").bound_to("ERR-02")
    judge = Judge(LEVELS.__getitem__)
    judge(v)
    assert judge.recorded[0].axis == "advisory" and judge.recorded[0].level == "SHOULD"
    with pytest.raises(RequirementFailed):
        Judge(LEVELS.__getitem__, strict=True)(v)


def test_interpretation_axis_is_recorded_and_fails_only_when_strict() -> None:
    judge = Judge(LEVELS.__getitem__)
    judge(status_is_401(400).bound_to(interpretations=["Q-14"]))  # a named deviation: the scenario goes on
    assert judge.recorded[-1].axis == "interpretation"
    with pytest.raises(RequirementFailed):
        Judge(LEVELS.__getitem__, strict=True)(status_is_401(400).bound_to(interpretations=["Q-14"]))


def test_an_advisory_check_never_goes_above_the_advisory_axis() -> None:
    judge = Judge(LEVELS.__getitem__)
    judge(Verdict.of(False, "root is self-signed", advisory=True).bound_to("SIG-10"))
    assert judge.recorded[-1].axis == "advisory"


def test_a_level_raised_by_a_position_lands_on_the_interpretation_axis() -> None:
    from margo_conformance.requirements import load_catalog

    catalog = load_catalog()
    judge = Judge(lambda r: catalog.get(r).level_for("device"))
    judge(Verdict.of(False, "properties.id equals the path deviceId").bound_to("CAP-20"))
    assert (judge.recorded[-1].axis, judge.recorded[-1].verdict.interpretations) == ("interpretation", ("Q-18",))
    wfm_judge = Judge(lambda r: catalog.get(r).level_for("wfm"))
    wfm_judge(Verdict.of(False, "port 443").bound_to("GEN-03"))
    assert wfm_judge.recorded[-1].axis == "advisory"


def test_a_verdict_without_a_requirement_is_a_harness_bug() -> None:
    with pytest.raises(ValueError):
        Judge(LEVELS.__getitem__)(Verdict.of(True, "unbound"))


def test_an_observation_judges_nothing() -> None:
    judge = Judge(LEVELS.__getitem__)
    judge.note("answer to a replay", 201, requirements=["SIG-10"], interpretations=["Q-25"])
    assert (judge.recorded[-1].kind, judge.recorded[-1].axis) == ("observation", None)


def test_passed_verdict_records_no_axis() -> None:
    judge = Judge(LEVELS.__getitem__)
    judge(status_is_401(401))
    assert judge.recorded[0].axis is None


def test_not_tested_is_a_pytest_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match="NOT TESTED: needs a hook"):
        raise NotTested("needs a hook")


def test_a_verdict_bound_to_an_id_the_catalog_does_not_hold_is_a_harness_error() -> None:
    """Not judged as a guessed MUST: the scenario breaks, naming the ID, and nothing is recorded."""
    from margo_conformance.errors import HarnessError
    from margo_conformance.requirements import load_catalog

    catalog = load_catalog()
    judge = Judge(lambda r: catalog.get(r).level_for("wfm"))
    with pytest.raises(HarnessError, match="SIG-99.*catalog does not hold"):
        judge(Verdict.of(False, "status after a tampered signature").bound_to("SIG-10", "SIG-99"))
    with pytest.raises(HarnessError, match="SIG-99"):
        judge.note("answer to a replay", 201, requirements=["SIG-99"])
    assert judge.recorded == []
    judge(status_is_401(401))  # a catalog ID still judges
    assert judge.recorded[-1].level == "MUST"
