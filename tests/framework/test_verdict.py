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


def test_interpretation_axis_and_level_override() -> None:
    judge = Judge(LEVELS.__getitem__)
    with pytest.raises(RequirementFailed):
        judge(status_is_401(400).bound_to(interpretations=["Q-14"]))
    assert judge.recorded[-1].axis == "interpretation"
    judge(status_is_401(400).bound_to(level="MAY"))  # an informational probe never fails the scenario
    assert judge.recorded[-1].axis == "advisory"


def test_passed_verdict_records_no_axis() -> None:
    judge = Judge(LEVELS.__getitem__)
    judge(status_is_401(401))
    assert judge.recorded[0].axis is None


def test_not_tested_is_a_pytest_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match="NOT TESTED: needs a hook"):
        raise NotTested("needs a hook")
