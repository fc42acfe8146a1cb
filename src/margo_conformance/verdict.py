"""Verdicts: one stated fact about the SUT, bound to requirement IDs, with expected and observed values.

A check is a small function that returns a ``Verdict`` and never raises for a SUT fault (STYLE.md 1).
The ``Judge`` decides what a failed verdict means, from the requirement catalog, never from the check:

- a failed MUST verdict raises ``RequirementFailed`` (the scenario *fails*);
- a failed SHOULD/MAY verdict is recorded as an advisory and the scenario goes on, unless ``strict``;
- every verdict, passed or not, is recorded for ``summary.json`` and attached to the report.

``NotTested`` is raised when a scenario cannot be judged for a reason that is not the SUT's fault and not
ours (an operator hook that is not configured): the scenario is reported NOT TESTED, never passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, ParamSpec

import pytest

from .findings import Finding

P = ParamSpec("P")

#: Which of the three verdict axes of DESIGN.md section 3 a failure belongs to.
Axis = Literal["must", "interpretation", "advisory"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    #: What was checked, as a phrase: "status after a tampered signature".
    what: str
    requirements: tuple[str, ...] = ()
    expected: Any = None
    observed: Any = None
    #: Interpretation IDs (Q-xx) this verdict rests on; a failure then counts as an interpretation difference.
    interpretations: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    #: Overrides the catalog level for this one check (e.g. a SHOULD-strength sub-check of a MUST row,
    #: or an informational probe): "MUST", "SHOULD" or "MAY".
    level: str | None = None

    @classmethod
    def of(cls, passed: bool, what: str, *, expected: Any = None, observed: Any = None, **details: Any) -> Verdict:
        return cls(passed=bool(passed), what=what, expected=expected, observed=observed, details=details)

    def bound_to(self, *requirement_ids: str, interpretations: Iterable[str] = (), level: str | None = None) -> Verdict:
        """The same verdict, stamped with the requirement (and interpretation) IDs of the caller."""
        reqs = tuple(dict.fromkeys(self.requirements + tuple(r for r in requirement_ids if r)))
        qs = tuple(dict.fromkeys(self.interpretations + tuple(interpretations)))
        return replace(self, requirements=reqs, interpretations=qs, level=level or self.level)

    def message(self) -> str:
        ids = " ".join(self.requirements) or "no requirement"
        text = f"[{ids}] {self.what}: expected {self.expected!r}, observed {self.observed!r}"
        if self.findings:
            text += "; findings: " + ", ".join(f.code for f in self.findings)
        if self.interpretations:
            text += f" (interpretation {' '.join(self.interpretations)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "what": self.what,
            "requirements": list(self.requirements),
            "expected": _jsonable(self.expected),
            "observed": _jsonable(self.observed),
            "interpretations": list(self.interpretations),
            "findings": [f.to_dict() for f in self.findings],
            "details": {k: _jsonable(v) for k, v in self.details.items()},
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def check(*requirement_ids: str, interpretations: Iterable[str] = ()) -> Callable[[Callable[P, Verdict]], Callable[P, Verdict]]:
    """Stamp the requirement IDs a check speaks to onto every verdict it returns."""
    qs = tuple(interpretations)

    def decorate(fn: Callable[P, Verdict]) -> Callable[P, Verdict]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Verdict:
            return fn(*args, **kwargs).bound_to(*requirement_ids, interpretations=qs)

        wrapper.requirements = requirement_ids  # type: ignore[attr-defined]
        return wrapper

    return decorate


class RequirementFailed(AssertionError):
    """The SUT did something a MUST forbids: the scenario fails (not broken)."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.message())


class NotTested(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """The scenario cannot be judged here (e.g. no operator hook configured): reported NOT TESTED.

    It is pytest's own skip outcome, so JUnit, Allure and summary.json all count it the same way.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"NOT TESTED: {reason}", pytrace=False)


@dataclass
class RecordedVerdict:
    verdict: Verdict
    #: MUST / SHOULD / MAY as the catalog says for the strongest requirement of the verdict.
    level: str
    axis: Axis | None  # None when the verdict passed

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "level": self.level, "axis": self.axis}


_LEVEL_ORDER = {"MUST": 0, "SHOULD": 1, "MAY": 2}


class Judge:
    """Turns verdicts into scenario outcomes using the catalog's levels; records every verdict."""

    def __init__(
        self,
        level_of: Callable[[str], str],
        *,
        strict: bool = False,
        on_verdict: Callable[[RecordedVerdict], None] | None = None,
    ) -> None:
        self._level_of = level_of
        self.strict = strict
        self._on_verdict = on_verdict
        self.recorded: list[RecordedVerdict] = []

    def level(self, verdict: Verdict) -> str:
        if verdict.level is not None:
            return verdict.level
        levels = [self._level_of(r) for r in verdict.requirements] or ["MUST"]
        return min(levels, key=lambda lv: _LEVEL_ORDER.get(lv, 0))

    def all(self, *verdicts: Verdict) -> None:
        """Judge several facts about one exchange: every verdict is recorded before the first MUST
        failure is raised, so the report shows all of them (a 500 with a text body fails both the status
        check and the error-body check, not just whichever came first)."""
        first: RequirementFailed | None = None
        for verdict in verdicts:
            try:
                self(verdict)
            except RequirementFailed as exc:
                first = first or exc
        if first is not None:
            raise first

    def __call__(self, verdict: Verdict) -> Verdict:
        level = self.level(verdict)
        axis: Axis | None = None
        if not verdict.passed:
            if level != "MUST":
                axis = "advisory"
            elif verdict.interpretations:
                axis = "interpretation"
            else:
                axis = "must"
        record = RecordedVerdict(verdict, level, axis)
        self.recorded.append(record)
        if self._on_verdict is not None:
            self._on_verdict(record)
        if not verdict.passed and (level == "MUST" or self.strict):
            raise RequirementFailed(verdict)
        return verdict
