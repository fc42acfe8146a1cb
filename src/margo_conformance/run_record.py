"""The typed record of one conformance run: what the pytest plugin saw, in a form the summary can read.

The plugin fills it while pytest runs (one ``ScenarioRecord`` per scenario, the verdicts the judge recorded,
the cause of every outcome that is not a pass); ``report.summary.build_summary`` reads it and nothing else.
Keeping the two apart means the roll-up is a pure function that unit tests can feed by hand, and that the
report never has to guess a cause from an exception's text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: How a scenario ended. ``broken``: the harness could not judge (SUT unreachable, timeout, harness error).
Outcome = Literal["passed", "failed", "broken", "not_tested"]
#: Why a scenario did not pass: a requirement failed, the harness could not judge, the scenario could not
#: be judged here (no operator hook, not applicable), or the SUT could not be reached at all.
Cause = Literal["failed", "broken", "not_tested", "unreachable"]
OUTCOMES: tuple[str, ...] = ("passed", "failed", "broken", "not_tested")
#: Why a scenario that reported no outcome of its own is broken: it never reached (or never finished) its call
#: phase (``--setup-only``, a stop between phases), so nothing about it passed.
NO_CALL_PHASE = "the scenario never reached its call phase, so nothing was judged"


@dataclass
class ScenarioRecord:
    id: str
    feature: str
    feature_file: str
    name: str
    requirements: list[str]
    level: str
    interpretations: list[str]
    #: Where a scenario made by rule gets its level (``basis.Basis.to_dict``), None for one copied from the text.
    basis: dict[str, Any] | None = None
    outcome: Outcome | None = None
    cause: Cause | None = None
    message: str = ""
    duration_s: float = 0.0
    #: RecordedVerdict.to_dict() of every verdict and observation, in the order the judge saw them.
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def finish(self, outcome: Outcome, cause: Cause | None, message: str) -> None:
        self.outcome, self.cause, self.message = outcome, cause, message

    def settled(self) -> tuple[Outcome, Cause | None, str]:
        """(outcome, cause, message) as reported: the one default for a scenario that reported no outcome is
        *broken* (it never ran its call phase, so it did not pass). The plugin and the summary both read this."""
        if self.outcome is None:
            return "broken", "broken", NO_CALL_PHASE
        cause = self.cause
        if self.outcome != "passed" and cause is None:
            cause = "broken" if self.outcome == "broken" else self.outcome
        return self.outcome, cause, self.message

    def settle(self) -> None:
        """Fix the outcome at the end of the scenario (see ``settled``)."""
        self.finish(*self.settled())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"], data["cause"], data["message"] = self.settled()
        return data


@dataclass
class SutDescription:
    name: str
    role: str
    source: str
    defects: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    #: [sut] vendor / product / version of the SUT file (None when not given).
    vendor: str | None = None
    product: str | None = None
    version: str | None = None


@dataclass
class RunRecord:
    sut: SutDescription
    profile: str
    strict: bool
    started_at: float
    output: str | None = None
    scenarios: dict[str, ScenarioRecord] = field(default_factory=dict)
    #: The -k / --tags selection of a partial run ({"keyword": ..., "tags": ...}); None: the whole suite.
    selection: dict[str, str] | None = None
    #: Requirements of scenarios the selection left out.
    deselected: list[str] = field(default_factory=list)
    #: The signal that stopped the run early ("SIGTERM", "SIGINT"), if any.
    interrupted: str | None = None
    #: Why the remaining scenarios were not run (the WFM stopped answering), if they were not.
    aborted: str | None = None
    #: pytest's errors while collecting the suite ("steps/wfm/x.py:12: SyntaxError: ..."): a harness error,
    #: never an interruption (pytest itself reports them as "Interrupted").
    collection_errors: list[str] = field(default_factory=list)
    #: Who ran it (``run --lab``, ``--engineer``), for the reports and the certification record.
    lab: str | None = None
    engineer: str | None = None
    #: The catalog's digest (``catalog_digest.catalog_digest``) the verdicts were judged against.
    catalog_digest: str | None = None
    #: The subject of the certificate the record will be signed with; None: the record is written unsigned.
    record_signer: str | None = None

    @property
    def role(self) -> str:
        return self.sut.role

    def scenario_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.scenarios.values()]
