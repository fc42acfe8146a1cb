"""The route x fault matrix: the generated feature is current, and every protected route faces its faults."""

from __future__ import annotations

import pytest

from margo_conformance import route_matrix as matrix
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
    assert matrix.expectation(matrix.PUT, "tampered-body").question == "Q-33"


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


def test_an_expectation_names_exactly_one_way_to_judge_the_code() -> None:
    with pytest.raises(ValueError):
        matrix.Expect(("SIG-12",))
    with pytest.raises(ValueError):
        matrix.Expect(("SIG-12",), status=401, question="Q-14")


def test_operator_states_are_refused_on_every_route() -> None:
    assert set(matrix.STATE_REFUSAL) == {r.name for r in matrix.ROUTES}
    assert {e.status for e in matrix.STATE_REFUSAL.values()} == {403}
