"""Where a generalised row's level comes from (DIGEST 6.1 rule 3): the basis line, and every feature's use of it."""

from __future__ import annotations

import re

import pytest

from margo_conformance import basis
from margo_conformance.basis import Basis
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import FEATURES_DIR


def test_a_basis_line_round_trips() -> None:
    for b in (Basis.text('SIG-12 "an unsigned request to a protected endpoint must fail"'),
              Basis.analogy("Q-33", "SIG-13's 403 carried to the onboarding route"),
              Basis.analogy("Q-H04", "ERR-04 is stated for MIAF")):
        assert basis.parse(b.line()) == b
    assert basis.parse("analogy Q-33: x").describe().startswith("By analogy, judged on the interpretation axis (Q-33)")
    assert basis.parse("text: x").describe().startswith("Named by the text")


@pytest.mark.parametrize("line", ["", "text:", "analogy: no question", "analogy Q-7: short id", "named: x",
                                  "text x"])
def test_a_malformed_basis_line_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="not a basis line"):
        basis.parse(line)


def test_an_analogy_names_its_question_and_text_names_none() -> None:
    with pytest.raises(ValueError):
        Basis("analogy", "a rule carried over")
    with pytest.raises(ValueError):
        Basis("text", "named", "Q-03")
    with pytest.raises(ValueError):
        Basis.text("a | breaks a table row")


def test_the_basis_of_a_description_is_its_basis_line() -> None:
    assert basis.from_description("Some prose.\nBasis: analogy Q-33: carried over\nMore prose.") == \
        Basis.analogy("Q-33", "carried over")
    assert basis.from_description("No basis here.") is None
    with pytest.raises(ValueError):
        basis.from_description("Basis: whatever")


def _scenarios_with_basis() -> list[tuple[str, str, list[str], Basis]]:
    """(feature file, scenario title, tags above it, basis) for each hand-written ``Basis:`` line."""
    found = []
    for feature in sorted(FEATURES_DIR.rglob("*.feature")):
        lines = feature.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith(basis.DESCRIPTION_PREFIX):
                title = lines[i - 1].strip()
                tags = lines[i - 2].split() if lines[i - 2].strip().startswith("@") else []
                found.append((feature.name, title, tags, basis.from_description(line)))
    return found


def test_every_hand_written_basis_parses_and_an_analogy_carries_its_question_tag() -> None:
    catalog = load_catalog()
    found = _scenarios_with_basis()
    assert len(found) >= 5, found
    for feature, title, tags, b in found:
        assert title.startswith(("Scenario:", "Scenario Outline:")), (feature, title)
        if b.by_analogy:
            assert f"@interpretation:{b.question}" in tags, (feature, title, tags)
        for req in re.findall(r"\b[A-Z]{2,5}-\d{2}\b", b.cites):
            assert req in catalog, (feature, title, req)
        if b.question:
            assert catalog.question(b.question).position
    assert {b.question for *_, b in found if b.by_analogy} == {"Q-H04", "Q-57"}  # MIAF weak client keys
