"""Where a scenario's level comes from: the spec text names the case, or a rule is carried over by analogy.

A scenario made by rule (a route x fault row, an operator-state row, a held request, a device-side analogue)
applies a requirement to a case the text may or may not name. DIGEST 6.1 rule (3): when the text names that
route, state or fault for the requirement, the requirement's own level applies; when the row extends a rule
to a case the text does not name, it is judged on the interpretation axis under a Q-ID, unless a named MUST
still breaks (then that MUST is judged by a check of its own).

A basis is written once, where the row is made, in one line of text that a reader and a parser share:

    text: SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects PUT and DELETE
    analogy Q-33: SIG-13's 403 for a revoked certificate is stated for signed requests, not for onboarding

The route matrix (``route_matrix.py``) puts it in a ``basis`` column of each generated Examples row; a
hand-written scenario puts it on a description line ``Basis: ...`` under its title. The plugin reads it
from either place, shows it in the Allure description and keeps it in the run record for ``summary.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .patterns import QUESTION_ID

Kind = Literal["text", "analogy"]

_LINE = re.compile(rf"^(?P<kind>text|analogy (?P<question>{QUESTION_ID})):\s*(?P<cites>\S.*)$")
#: The description line of a hand-written scenario that carries its basis.
DESCRIPTION_PREFIX = "Basis:"


@dataclass(frozen=True)
class Basis:
    kind: Kind
    #: What the text says that names the case, or which rule is carried over from where.
    cites: str
    #: The interpretation an analogy rests on (required for an analogy, absent for text).
    question: str | None = None

    def __post_init__(self) -> None:
        if (self.kind == "analogy") != (self.question is not None):
            raise ValueError("a basis by analogy names its question (Q-ID); a basis in the text names none")
        if not self.cites.strip() or "|" in self.cites:
            raise ValueError(f"a basis cites something, in one line without '|': {self.cites!r}")

    @classmethod
    def text(cls, cites: str) -> Basis:
        return cls("text", cites)

    @classmethod
    def analogy(cls, question: str, cites: str) -> Basis:
        return cls("analogy", cites, question)

    @property
    def by_analogy(self) -> bool:
        return self.kind == "analogy"

    def line(self) -> str:
        """The one-line form written into features and parsed back by ``parse``."""
        return f"{self.kind}{' ' + self.question if self.question else ''}: {self.cites}"

    def describe(self) -> str:
        """For a reader (Allure description, summary.md)."""
        if self.by_analogy:
            return (f"By analogy, judged on the interpretation axis ({self.question}) unless a named MUST still "
                    f"breaks: {self.cites}")
        return f"Named by the text, so the requirement's own level applies: {self.cites}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "question": self.question, "cites": self.cites}


def parse(line: str) -> Basis:
    """The inverse of ``Basis.line``; ValueError names what is wrong."""
    match = _LINE.match(line.strip())
    if match is None:
        raise ValueError(f"not a basis line (expected 'text: ...' or 'analogy Q-NN: ...'): {line!r}")
    return Basis("analogy" if match["question"] else "text", match["cites"].strip(), match["question"])


def from_description(description: str) -> Basis | None:
    """The ``Basis: ...`` line of a scenario description, if it has one."""
    for raw in (description or "").splitlines():
        stripped = raw.strip()
        if stripped.startswith(DESCRIPTION_PREFIX):
            return parse(stripped[len(DESCRIPTION_PREFIX):])
    return None
