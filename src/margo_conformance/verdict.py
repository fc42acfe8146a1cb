"""Verdicts: one stated fact about the SUT, bound to requirement IDs, with expected and observed values.

A check is a small function that returns a ``Verdict`` and never raises for a SUT fault (STYLE.md 1).
The ``Judge`` decides what a failed verdict means (DIGEST section 6.1), from the requirement catalog and the
interpretation the check rests on, never from the step that called it:

- the level is the strongest catalog level of the verdict's requirements *for the role under test*;
- a failed verdict of a MUST level that rests on no interpretation is on the **must** axis: it raises
  ``RequirementFailed`` (the scenario *fails*);
- a failed verdict of a MUST level that rests on an interpretation (Q-ID) is on the **interpretation**
  axis, and a failed SHOULD/MAY verdict on the **advisory** axis: both are recorded, the scenario goes on,
  and only ``strict`` makes them fail it;
- every verdict, passed or not, is recorded for ``summary.json`` and attached to the report;
- ``Judge.note`` records an observation that is reported but judges nothing (Q-25: "probe and report
  only"): it never makes a requirement PASS.

A verdict bound to an ID the catalog does not hold raises ``HarnessError`` (the scenario is *broken*).

``NotTested`` is raised when a scenario cannot be judged for a reason that is not the SUT's fault and not
ours (an operator hook that is not configured): the scenario is reported NOT TESTED, never passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, ParamSpec

import pytest

from .errors import HarnessError
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
    #: Set by a check in ``checks/`` (never by a step) whose fact is an interop note or hardening beyond the
    #: text (DIGEST 6.1 "advisory"), e.g. "the root CA is self-signed", "cA=TRUE on a CA-issued client leaf":
    #: its failure never goes above the advisory axis, whatever the requirement's level.
    advisory: bool = False
    #: What the check judged (an ``evidence.Exchange``, or a list of them), for the report's failing step; never
    #: serialised into summary.json (the report attaches it as text, redacted).
    evidence: Any = field(default=None, compare=False, repr=False)
    #: Which recorded check call made this verdict (``record.capture``: the certification record's evidence, for
    #: ``rejudge``); None when no run is being recorded. Never serialised into summary.json.
    origin: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, passed: bool, what: str, *, expected: Any = None, observed: Any = None, advisory: bool = False,
           **details: Any) -> Verdict:
        return cls(passed=bool(passed), what=what, expected=expected, observed=observed, details=details,
                   advisory=advisory)

    def bound_to(self, *requirement_ids: str, interpretations: Iterable[str] = ()) -> Verdict:
        """The same verdict, stamped with the requirement (and interpretation) IDs of the caller."""
        reqs = tuple(dict.fromkeys(self.requirements + tuple(r for r in requirement_ids if r)))
        qs = tuple(dict.fromkeys(self.interpretations + tuple(interpretations)))
        return replace(self, requirements=reqs, interpretations=qs)

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
            "advisory": self.advisory,
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
            def run() -> Verdict:
                verdict = fn(*args, **kwargs).bound_to(*requirement_ids, interpretations=qs)
                if verdict.evidence is None:
                    verdict = replace(verdict, evidence=_judged_evidence([*args, *kwargs.values()]))
                return verdict

            return _observed(wrapper, args, kwargs, run)

        wrapper.requirements = requirement_ids  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _judged_evidence(arguments: list[Any]) -> Any:
    """The first argument of a check that is an exchange (has ``to_text``), or a list of them."""
    for arg in arguments:
        if callable(getattr(arg, "to_text", None)):
            return arg
        if isinstance(arg, (list, tuple)) and arg and all(callable(getattr(a, "to_text", None)) for a in arg):
            return list(arg)
    return None


def judges(fn: Callable[P, Verdict]) -> Callable[P, Verdict]:
    """Keep what a check judged (its exchange argument) on the verdict, for the report's failing step."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Verdict:
        def run() -> Verdict:
            verdict = fn(*args, **kwargs)
            if verdict.evidence is None:
                verdict = replace(verdict, evidence=_judged_evidence([*args, *kwargs.values()]))
            return verdict

        return _observed(wrapper, args, kwargs, run)

    return wrapper


#: Called around every check while a run records its evidence (``record.capture.CheckRecorder``): it gets the
#: public check function, its arguments and a callable that runs it, and returns the verdict. None: not recorded.
check_observer: Callable[[Callable[..., Verdict], tuple[Any, ...], dict[str, Any], Callable[[], Verdict]], Verdict] | None = None


def _observed(check_fn: Callable[..., Verdict], args: tuple[Any, ...], kwargs: dict[str, Any],
              run: Callable[[], Verdict]) -> Verdict:
    observer = check_observer
    return run() if observer is None else observer(check_fn, args, kwargs, run)


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


class Blocked(NotTested):
    """The SUT stopped on its own before it did what this scenario judges (a device that exited after an answer
    it could not use): NOT TESTED, "blocked by" the requirement a check of the run failed at that point. The
    plugin names the blocker at the end of the run; when no failed check explains the stop, the scenario is
    broken with ``fallback`` (the harness could not judge, and nothing judged says why)."""

    def __init__(self, stop: str, fallback: str) -> None:
        super().__init__(f"blocked: {stop}")
        self.stop = stop
        self.fallback = fallback


Kind = Literal["check", "observation"]


@dataclass
class RecordedVerdict:
    verdict: Verdict
    #: MUST / SHOULD / MAY as the catalog says for the strongest requirement of the verdict (role-specific).
    level: str
    axis: Axis | None  # None when the verdict passed (and always for an observation)
    #: "check" judges; "observation" is reported only and never makes a requirement PASS.
    kind: Kind = "check"

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "level": self.level, "axis": self.axis, "kind": self.kind}


_LEVEL_ORDER = {"MUST": 0, "SHOULD": 1, "MAY": 2}


def axis_of(passed: bool, level: str, interpretations: Iterable[str], *, advisory: bool = False) -> Axis | None:
    """DIGEST 6.1: which axis a verdict lands on (None when it passed)."""
    if passed:
        return None
    if level != "MUST" or advisory:
        return "advisory"
    return "interpretation" if tuple(interpretations) else "must"


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

    def _catalog_level(self, req_id: str, verdict: Verdict) -> Any:
        """The catalog's level of one requirement; an ID the catalog does not hold is our bug (HarnessError:
        the scenario is broken), never a guessed MUST that fails the run with no requirement row to show."""
        try:
            return self._level_of(req_id)
        except KeyError:
            raise HarnessError(f"{verdict.what!r} is bound to {req_id}, which the requirement catalog does not "
                               "hold (a harness bug: fix the check's or the step's requirement ID)") from None

    def level(self, verdict: Verdict) -> str:
        levels = [str(self._catalog_level(r, verdict)) for r in verdict.requirements] or ["MUST"]
        return min(levels, key=lambda lv: _LEVEL_ORDER.get(lv, 0))

    def _positions(self, verdict: Verdict) -> tuple[str, ...]:
        """Interpretations a catalog level rests on (``role_levels ... by: Q-18``): a failure then counts on
        the interpretation axis even when the check itself names none."""
        found = (getattr(self._catalog_level(r, verdict), "by", None) for r in verdict.requirements)
        return tuple(q for q in found if q)

    def all(self, *verdicts: Verdict) -> None:
        """Judge several facts about one exchange: every verdict is recorded before the first failure is
        raised, so the report shows all of them (a 500 with a text body fails both the status check and the
        error-body check, not just whichever came first)."""
        first: RequirementFailed | None = None
        for verdict in verdicts:
            try:
                self(verdict)
            except RequirementFailed as exc:
                first = first or exc
        if first is not None:
            raise first

    def __call__(self, verdict: Verdict) -> Verdict:
        if not verdict.requirements:
            raise ValueError(f"a verdict must name the requirement it judges: {verdict.what!r}")
        level = self.level(verdict)
        positions = self._positions(verdict)
        if positions:
            verdict = verdict.bound_to(interpretations=positions)
        axis = axis_of(verdict.passed, level, verdict.interpretations, advisory=verdict.advisory)
        self._record(RecordedVerdict(verdict, level, axis))
        if axis == "must" or (axis is not None and self.strict):
            raise RequirementFailed(verdict)
        return verdict

    def note(self, what: str, observed: Any, *, expected: Any = "any (reported, not judged)",
             requirements: Iterable[str] = (), interpretations: Iterable[str] = (), **details: Any) -> Verdict:
        """Record what the SUT did where the profile judges nothing (an informational probe)."""
        verdict = Verdict(passed=True, what=what, requirements=tuple(requirements), expected=expected,
                          observed=observed, interpretations=tuple(interpretations), details=details)
        for req_id in verdict.requirements:
            self._catalog_level(req_id, verdict)  # an unknown ID is a harness error here too
        self._record(RecordedVerdict(verdict, "MAY", None, kind="observation"))
        return verdict

    def _record(self, record: RecordedVerdict) -> None:
        self.recorded.append(record)
        if self._on_verdict is not None:
            self._on_verdict(record)
