"""The route x fault matrix: the generated feature is current, and every protected route faces its faults."""

from __future__ import annotations

import pytest

from margo_conformance import route_matrix as matrix
from margo_conformance.basis import Basis
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import FEATURES_DIR

FEATURE = FEATURES_DIR / "wfm" / "protected_routes.feature"


def test_the_generated_feature_is_current() -> None:
    assert FEATURE.read_text() == matrix.render_feature(), (
        "features/wfm/protected_routes.feature is stale: "
        "python -m margo_conformance.route_matrix > features/wfm/protected_routes.feature")


@pytest.mark.parametrize("route", matrix.ROUTES, ids=lambda r: r.name)
def test_every_route_faces_every_signing_fault(route: matrix.Route) -> None:
    """The false pass of issue 10: a route that skips signature checks must meet the same faults as the others."""
    faced = {f.name for r, f, _ in matrix.rows() if r is route}
    signing = {"unsigned", "signature-without-input", "input-without-signature", "wrong-key", "component-missing",
               "tampered-target-uri", "created-stale", "created-future"}
    assert signing <= faced
    assert ("other-client-key" in faced) == route.names_client
    assert ("digest-wrong" in faced) == route.has_body


def test_a_fault_that_needs_a_body_does_not_apply_to_delete() -> None:
    with pytest.raises(KeyError, match="does not apply"):
        matrix.expectation(matrix.DELETE, "tampered-body")
    assert matrix.expectation(matrix.PUT, "tampered-body").question == "Q-H01"


def test_the_code_is_stated_or_a_question_with_a_preferred_answer() -> None:
    catalog = load_catalog()
    for _, f, expect in matrix.rows():
        for req in expect.requirements:
            assert req in catalog, (f.name, req)
        if expect.question is not None:
            assert catalog.question(expect.question).preferred, (f.name, expect.question)


def test_unsigned_onboarding_rests_on_q03_but_a_bad_signature_does_not() -> None:
    """DIGEST 6.1: accepting unsigned onboarding is the lenient reading (interpretation axis); accepting a
    signature that does not verify is a must failure."""
    assert matrix.expectation(matrix.ONBOARDING, "unsigned").refusal_by == "Q-03"
    assert matrix.expectation(matrix.ONBOARDING, "wrong-key").refusal_by is None
    assert matrix.expectation(matrix.PUT, "unsigned").refusal_by is None


_NAMED = Basis.text("a test row the text names")


def test_an_expectation_names_exactly_one_way_to_judge_the_code() -> None:
    with pytest.raises(ValueError):
        matrix.Expect(("SIG-12",), _NAMED)
    with pytest.raises(ValueError):
        matrix.Expect(("SIG-12",), _NAMED, status=401, question="Q-14")


def test_every_row_declares_its_basis() -> None:
    """A new route, fault or state cannot be added without saying where its level comes from (issue 18)."""
    with pytest.raises(TypeError):
        matrix.Expect(("SIG-12",), status=401)  # type: ignore[call-arg]
    rows = [e for _, _, e in matrix.rows()] + list(matrix.STATE_REFUSAL.values())
    assert all(isinstance(e.basis, Basis) for e in rows)


def test_a_row_by_analogy_is_judged_under_its_question_refusal_included() -> None:
    """DIGEST 6.1 rule 3: both the refusal and its code of a row by analogy are interpretations."""
    analogy = Basis.analogy("Q-33", "a rule carried to a route the text does not name for it")
    with pytest.raises(ValueError, match="rule 3"):
        matrix.Expect(("SIG-13",), analogy, status=403)
    row = matrix.Expect.by_analogy(("SIG-13",), analogy)
    assert (row.refusal_by, row.question, row.status) == ("Q-33", "Q-33", None)
    with pytest.raises(ValueError, match="guard"):
        matrix.Expect(("SIG-13",), _NAMED, status=403, guard=matrix.REVOCATION_HOLDS)


def test_revoked_onboarding_is_q33_with_the_sig13_guard_and_every_other_state_row_is_named() -> None:
    """Issue 18: the text gives 403 on onboarding for an untrusted or rejected certificate only; SIG-13's 403 for
    a revoked one is stated for signed requests. Revocation surviving onboarding again stays a MUST (the guard)."""
    revoked = matrix.state_refusal(matrix.ONBOARDING, "revoked")
    assert revoked.basis.by_analogy and revoked.basis.question == "Q-33"
    assert revoked.requirements == ("SIG-13",) and revoked.refusal_by == "Q-33"
    assert revoked.guard == matrix.REVOCATION_HOLDS and revoked.guard.requirement == "SIG-13"
    others = {k: e for k, e in matrix.STATE_REFUSAL.items() if k != (matrix.ONBOARDING, "revoked")}
    assert {k for k, e in others.items() if e.basis.by_analogy or e.guard} == set()
    assert {e.status for e in others.values()} == {403}
    assert matrix.state_refusal(matrix.ONBOARDING, "rejected").requirements == ("ONB-09",)


def test_operator_states_are_judged_on_every_route() -> None:
    assert {(r.name, s.name) for r in matrix.ROUTES for s in matrix.OPERATOR_STATES} == set(matrix.STATE_REFUSAL)
    with pytest.raises(KeyError, match="no operator-state row"):
        matrix.state_refusal(matrix.PUT, "pending")


def test_a_digest_fault_on_onboarding_is_refused_but_its_code_is_q_h03() -> None:
    """The 400 of DIG-03 is stated for the capability routes; onboarding lists 400 for an invalid certificate."""
    onboarding = matrix.expectation(matrix.ONBOARDING, "digest-wrong")
    assert (onboarding.refusal_by, onboarding.status, onboarding.question) == (None, None, "Q-H03")
    assert matrix.expectation(matrix.PUT, "digest-wrong").status == 400


def test_the_generated_feature_carries_each_rows_basis() -> None:
    text = matrix.render_feature()
    for _, _, expect in matrix.rows():
        assert expect.basis.line() in text
    assert "analogy Q-33: " in text and "(SIG-13)" in text
