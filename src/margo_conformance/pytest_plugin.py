"""The pytest plugin behind ``margo-conformance run``: tags become marks, outcomes become verdicts.

Loaded with ``-p margo_conformance.pytest_plugin`` by the run command (never auto-loaded, so the
project's own unit tests are not affected). It

- maps Gherkin tags to marks and Allure labels: ``@req:SIG-11`` (requirement, with a link to the
  catalog entry), ``@level:MUST`` (severity), ``@interpretation:Q-06`` (label), ``@profile:<name>``
  (the profile a feature or scenario belongs to);
- runs only the scenarios of the run's profile: one tagged ``@profile:<name>`` runs under that profile
  only, an untagged one under every profile (``profiles.applies_to``); the others are deselected before
  the run counts what it plans, and are not "deselected" requirements of a -k/--tags selection;
- gives every scenario a ``Judge`` that records each verdict and fails the scenario on a MUST;
- classifies each scenario as passed, failed (a requirement was violated), broken (the harness could
  not judge: SUT unreachable, timeout, harness error) or not tested (skipped with a reason);
- writes ``summary.json``, ``summary.md``, ``environment.properties`` and ``categories.json`` at the
  end of the session and prints the one-screen console summary.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .basis import Basis
from .errors import HarnessError, SutTimeout, SutUnreachable
from .patterns import QUESTION_ID, REQUIREMENT_ID
from .run_record import Cause, Outcome, RunRecord, ScenarioRecord, SutDescription
from .verdict import Judge, NotTested, RecordedVerdict, RequirementFailed

REQ_TAG = re.compile(rf"req:(?P<id>{REQUIREMENT_ID})")
LEVEL_TAG = re.compile(r"level:(?P<level>MUST|SHOULD|MAY)")
Q_TAG = re.compile(rf"interpretation:(?P<id>{QUESTION_ID})")
PROFILE_TAG = re.compile(r"profile:(?P<name>[a-z0-9][a-z0-9.-]*)")
#: ``@recording:<name>``: the scenario judges a recording it shares with the others of that name (observatory.py).
RECORDING_TAG = re.compile(r"recording:(?P<name>[a-z0-9][a-z0-9.-]*)")
#: ``@rule:<name>``: a shared scenario (no profile tag) whose rows come from the run profile's binding of that rule
#: (``profile.rule(name)``, its case for an Examples row with a ``case`` column): see ``bind_rules``.
RULE_TAG = re.compile(r"rule:(?P<name>[a-z0-9][a-z0-9-]*)")

SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}

_RUN_KEY = pytest.StashKey["RunState"]()
_JUDGE_KEY = pytest.StashKey[Judge]()
#: Set when a phase of the scenario ended because the SUT gave no answer at all (the breaker counts these).
_SILENT_KEY = pytest.StashKey[bool]()
#: Set on a scenario left out because it belongs to another profile (not a -k/--tags deselection).
_OTHER_PROFILE_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("margo", "Margo conformance run")
    group.addoption("--margo-role", choices=("wfm", "device"), help="role of the system under test")
    group.addoption("--margo-sut", default="builtin", help="'builtin' or a SUT TOML file")
    group.addoption("--margo-defect", action="append", default=[], help="defect of the builtin reference")
    group.addoption("--margo-output", default=None, help="directory for summary.json and friends")
    group.addoption("--margo-strict", action="store_true", help="SHOULD failures fail the scenario")
    group.addoption("--margo-profile", default=None, help="spec profile (default: the SUT file's)")
    group.addoption("--margo-console", choices=("progress", "lines", "pytest"), default="pytest",
                    help="progress: one live progress line; lines: one line per scenario with its requirement "
                         "IDs and verdict; pytest: pytest's own output")
    group.addoption("--margo-lab", default=None, help="the lab that runs the certification (reports, record)")
    group.addoption("--margo-engineer", default=None, help="who runs it (reports, record)")
    group.addoption("--margo-signer", default=None,
                    help="subject of the certificate the record will be signed with (none: unsigned)")
    group.addoption("--margo-jobs", type=int, default=None,
                    help="SUT launches side by side (default: the cores); 1: one at a time")
    group.addoption("--margo-no-sharing", action="store_true",
                    help="launch the SUT for every scenario, even those tagged @recording:<name> (benchmarks)")


# --- tags -----------------------------------------------------------------------------------


def tag_marks(tag: str) -> list[pytest.MarkDecorator] | None:
    """The marks one Gherkin tag stands for, or None when the tag is not one of ours."""
    if m := REQ_TAG.fullmatch(tag):
        req_id = m["id"]
        return [
            pytest.mark.requirement(req_id),
            getattr(pytest.mark, "req_" + req_id.replace("-", "_")),
            pytest.mark.allure_link(f"../requirements.html#{req_id}", name=req_id, link_type="requirement"),
        ]
    if m := LEVEL_TAG.fullmatch(tag):
        level = m["level"]
        return [pytest.mark.level(level), getattr(pytest.mark, f"level_{level}"),
                pytest.mark.allure_label(SEVERITY[level], label_type="severity")]
    if m := Q_TAG.fullmatch(tag):
        return [pytest.mark.interpretation(m["id"]), getattr(pytest.mark, "q_" + m["id"].replace("-", "_")),
                pytest.mark.allure_label(m["id"], label_type="interpretation")]
    if m := PROFILE_TAG.fullmatch(tag):
        return [pytest.mark.profile(m["name"]), pytest.mark.allure_label(m["name"], label_type="profile")]
    if m := RECORDING_TAG.fullmatch(tag):
        return [pytest.mark.recording(m["name"]), pytest.mark.allure_label(m["name"], label_type="recording")]
    if m := RULE_TAG.fullmatch(tag):
        return [pytest.mark.rule(m["name"]), pytest.mark.allure_label(m["name"], label_type="rule")]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    marks = tag_marks(tag)
    if marks is None:
        return None  # pytest-bdd's default: the tag becomes a mark of its own name
    for mark in marks:
        mark(function)
    return True


# --- run state ------------------------------------------------------------------------------


class RunState:
    """Everything one conformance run collects; built once per session."""

    def __init__(self, config: pytest.Config) -> None:
        from .requirements import load_catalog
        from .sut import builtin_sut, load_sut

        self.config = config
        self.role: str = config.getoption("--margo-role") or "wfm"
        self.strict: bool = bool(config.getoption("--margo-strict"))
        sut_arg: str = config.getoption("--margo-sut")
        defects = tuple(config.getoption("--margo-defect") or ())
        if sut_arg == "builtin":
            self.sut = builtin_sut(self.role, defects=defects,
                                   **({"profile": p} if (p := config.getoption("--margo-profile")) else {}))
        else:
            self.sut = load_sut(sut_arg)
        self.profile: str = config.getoption("--margo-profile") or self.sut.profile
        from .profiles import UnknownProfile, check_profile_name

        try:
            check_profile_name(self.profile)
        except UnknownProfile as exc:  # the CLI checks first; a direct pytest call still gets one clear line
            raise pytest.UsageError(str(exc)) from None
        output = config.getoption("--margo-output")
        self.output: Path | None = Path(output) if output else None
        self.catalog = load_catalog()
        self.record = RunRecord(
            sut=SutDescription(name=self.sut.name, role=self.role, source=self.sut.source,
                               defects=list(self.sut.defects)),
            profile=self.profile, strict=self.strict, started_at=time.time(),
            output=str(self.output) if self.output else None)
        self.record.sut.vendor, self.record.sut.product, self.record.sut.version = \
            self.sut.vendor, self.sut.product, self.sut.version
        self.record.lab = config.getoption("--margo-lab")
        self.record.engineer = config.getoption("--margo-engineer")
        self.record.record_signer = config.getoption("--margo-signer")
        from .catalog_digest import catalog_digest

        self.record.catalog_digest = catalog_digest(self.catalog)
        #: Every check call and the exchanges it judged, for the certification record (evidence/); only when
        #: the run writes its outputs.
        self.recorder: Any = None
        if self.output is not None:
            from . import verdict
            from .record.capture import CheckRecorder

            self.recorder = CheckRecorder()
            verdict.check_observer = self.recorder
        #: Facts the fixtures learn while running (base URL, TLS version, ...): environment.properties.
        self.facts: dict[str, str] = {}
        self.summary: dict[str, Any] | None = None
        self.console: str = config.getoption("--margo-console") or "pytest"
        self.breaker = TransportBreaker(enabled=self.role == "wfm")
        self.planned = 0  # scenarios selected to run
        self.done = 0
        from .observatory import default_jobs

        #: How many launches of the SUT may run side by side, and whether @recording scenarios share one.
        self.jobs: int = config.getoption("--margo-jobs") or default_jobs()
        self.share_recordings: bool = not config.getoption("--margo-no-sharing")
        #: Scenario -> where its SUT stopped by itself ("the device exited after the onboarding answer").
        self.stops: dict[str, str] = {}
        #: Scenario -> the Blocked it raised: resolved into "blocked by <requirement>" at the end of the run.
        self.blocked: dict[str, Any] = {}

    def selection(self) -> dict[str, Any] | None:
        keyword = self.config.getoption("keyword", default="") or ""
        tags = self.config.getoption("markexpr", default="") or ""
        if not keyword and not tags:
            return None
        return {"keyword": keyword, "tags": tags}


    @property
    def scenarios(self) -> dict[str, ScenarioRecord]:
        return self.record.scenarios

    def level_of(self, req_id: str) -> Any:
        """The catalog level of ``req_id`` for the role under test (a RoleLevel: ``.level``, ``.by``).

        KeyError for an ID the catalog does not hold: the judge turns it into a HarnessError (broken), never
        a guessed MUST that would fail the run without a row to show for it."""
        return self.catalog.get(req_id).level_for(self.role)


class TransportBreaker:
    """After ``LIMIT`` scenarios in a row broke because the WFM did not answer (refused, reset, timed out),
    the rest are marked broken at once instead of each waiting out its own timeout (issue 11)."""

    LIMIT = 3

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.in_a_row = 0
        self.last = ""
        self.tripped = False

    def saw(self, outcome: str, silent: bool, message: str) -> None:
        """Count one finished scenario: a SUT that gave no answer at all adds one (a TLS refusal is an answer),
        anything judged resets the count."""
        if not self.enabled or self.tripped or outcome == "not_tested":
            return
        if silent:
            self.in_a_row += 1
            self.last = message[:200]
            self.tripped = self.in_a_row >= self.LIMIT
        else:
            self.in_a_row = 0

    def reason(self) -> str:
        return (f"not run: the WFM stopped answering ({self.LIMIT} scenarios in a row failed to reach it; "
                f"last: {self.last})")


def run_state(config: pytest.Config) -> RunState:
    return config.stash[_RUN_KEY]


def pytest_configure(config: pytest.Config) -> None:
    from .step_lookup import install

    install()
    config.addinivalue_line("markers", "requirement(id): requirement ID verified by a scenario")
    config.addinivalue_line("markers", "level(level): MUST, SHOULD or MAY")
    config.addinivalue_line("markers", "interpretation(id): interpretation (Q-ID) a scenario rests on")
    config.addinivalue_line("markers", "profile(name): the spec profile a scenario belongs to (none: every profile)")
    config.addinivalue_line("markers", "recording(name): the shared recording a scenario judges (@recording:<name>)")
    config.addinivalue_line("markers", "rule(name): the shared rule a scenario judges, bound per profile (@rule:<name>)")
    if config.getoption("--margo-role", default=None) is None:
        return
    state = RunState(config)
    config.stash[_RUN_KEY] = state
    # The tag-derived marks (req_SIG_11, level_MUST, q_Q_06) exist so that --tags can select by them;
    # registering them keeps --strict-markers quiet.
    for req in state.catalog.all():
        config.addinivalue_line("markers", f"req_{req.id.replace('-', '_')}: scenarios verifying {req.id}")
    for level in SEVERITY:
        config.addinivalue_line("markers", f"level_{level}: scenarios of level {level}")
    for question in state.catalog.questions():
        config.addinivalue_line("markers", f"q_{question.id.replace('-', '_')}: scenarios resting on interpretation "
                                           f"{question.id}")
    _stop_on_sigterm(state)


def _stop_on_sigterm(state: RunState) -> None:
    """SIGTERM (what a CI timeout sends) stops the run like Ctrl-C: the fixtures stop the launched device's
    process group, and the summaries of what ran are still written. Either signal also arms a stack dump for a
    stop that hangs (``STOP_DUMP_S``)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, _frame: Any) -> None:
        _dump_stacks_if_slow()
        state.record.interrupted = state.record.interrupted or signal.Signals(signum).name
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    def ctrl_c(signum: int, frame: Any) -> None:  # Python's own KeyboardInterrupt, after arming the dump
        _dump_stacks_if_slow()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, ctrl_c)


#: An orderly stop takes about a second; one still running after this long prints every thread's stack (the
#: runner ends it hard at STOP_GRACE_S, 30 s), so that a stop that hangs says where.
STOP_DUMP_S = 20.0


def _dump_stacks_if_slow() -> None:
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(STOP_DUMP_S, file=sys.__stderr__)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remember what a -k / --tags selection left out: its requirements read "deselected", not "no scenario"."""
    if not items or _RUN_KEY not in items[0].config.stash:
        return
    state = run_state(items[0].config)
    for item in items:
        if item.stash.get(_OTHER_PROFILE_KEY, False):
            continue  # another profile's scenario: its rows are not this run's, nothing was left out by choice
        state.record.deselected.extend(r for r in _marks(item, "requirement") if r not in state.record.deselected)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    state = run_state(session.config)
    state.planned = len(session.items)
    state.record.selection = state.selection()
    if state.console != "pytest":
        from .report.console import run_header

        session.config.get_terminal_writer().line(run_header(state.record, state.planned))


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """Our console writes its own lines (progress, or one per scenario); pytest's dots and words are silenced."""
    if _RUN_KEY not in config.stash or run_state(config).console == "pytest":
        return None
    if report.when == "call" or (report.when == "setup" and not report.passed):
        category = "passed" if report.passed else ("skipped" if report.skipped else
                                                     ("failed" if report.when == "call" else "error"))
        return category, "", ""
    return "", "", ""




def announce(config: pytest.Config, text: str) -> None:
    """Talk to the person at the terminal now, past pytest's output capture (manual device mode)."""
    import sys

    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(text, file=sys.stderr, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(text, file=sys.stderr, flush=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tags on an Examples block reach pytest as raw marks ("req:SIG-12"), not through
    ``pytest_bdd_apply_tag``; translate them here so a row's requirements count like a scenario's.
    Then leave out the scenarios of other profiles (a run judges one profile)."""
    for item in items:
        for raw in [m.name for m in item.iter_markers() if ":" in m.name]:
            for mark in tag_marks(raw) or ():
                item.add_marker(mark)
    if _RUN_KEY in config.stash:
        select_profile(config, items, run_state(config).profile)
        bind_rules(items, run_state(config).profile)


def bind_rules(items: list[pytest.Item], profile_name: str) -> None:
    """A shared scenario names no requirement of its own: its ``@rule:<name>`` tag takes the rows (and the question)
    the run's profile binds to that rule, those of the row's case for an Examples row with a ``case`` column. So
    its requirements count like a tagged scenario's (roll-up, --tags, reports), under each profile its own."""
    from .profiles import load_profile

    profile = None
    for item in items:
        rules = _marks(item, "rule")
        if not rules:
            continue
        profile = profile or load_profile(profile_name)
        callspec = getattr(item, "callspec", None)
        example = (callspec.params.get("_pytest_bdd_example") if callspec is not None else None) or {}
        case = example.get("case") if isinstance(example, dict) else None
        for name in rules:
            try:
                binding = profile.rule(name)
                binding = binding.case(str(case)) if case and binding.cases else binding
            except KeyError as exc:
                raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
            tags = [f"req:{r}" for r in binding.requirements]
            tags += [f"interpretation:{binding.question}"] if binding.question else []
            for tag in tags:
                for mark in tag_marks(tag) or ():
                    item.add_marker(mark)


def select_profile(config: pytest.Config, items: list[pytest.Item], profile: str) -> None:
    """Keep the scenarios that apply to ``profile`` (``profiles.applies_to`` on their profile marks)."""
    from .profiles import applies_to

    other = [item for item in items if not applies_to(profile, [f"profile:{n}" for n in _marks(item, "profile")])]
    if not other:
        return
    for item in other:
        item.stash[_OTHER_PROFILE_KEY] = True
    items[:] = [item for item in items if not item.stash.get(_OTHER_PROFILE_KEY, False)]
    config.hook.pytest_deselected(items=other)


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Allure after allure opened the test: the title starts with the requirement IDs; the "by requirement"
    view is epic = requirement family, feature = feature file, story = requirement; each requirement links to
    its catalog entry and to its source in the spec."""
    if _RUN_KEY not in request.config.stash:
        return
    import allure

    from .report.allure_helpers import family_of, start_scenario

    start_scenario()
    state = run_state(request.config)
    record = _new_record(request.node)
    allure.dynamic.title(f"{' '.join(record.requirements)} {record.name}".strip())
    if record.basis is not None:
        allure.dynamic.description(scenario_basis(request.node).describe())
    allure.dynamic.feature(feature.name)
    for family in dict.fromkeys(family_of(r) for r in record.requirements):
        allure.dynamic.epic(family)
    for req_id in record.requirements:
        allure.dynamic.story(req_id)
        for source in _sources(state, req_id):
            allure.dynamic.link(spec_link(source), name=f"{req_id} spec: {source}")


#: Where a catalog source ("file@commit") can be read: the spec repository, searched for the file.
SPEC_REPOSITORY = "margo/specification"


def spec_link(source: str) -> str:
    from urllib.parse import quote

    file, _, _commit = source.partition("@")
    return f"https://github.com/search?type=code&q={quote(f'repo:{SPEC_REPOSITORY} path:{file}')}"


def _sources(state: RunState, req_id: str) -> tuple[str, ...]:
    try:
        req = state.catalog.get(req_id)
    except KeyError:
        return ()
    return tuple(req.sources or (req.source,))[:2]


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: dict[str, Any], exception: BaseException) -> None:
    """A failed requirement is a verdict, not a crash: the report's failing step shows the expected/observed
    block and the judged exchange, without a traceback of the harness (``--debug`` keeps it)."""
    if _RUN_KEY in request.config.stash and isinstance(exception, RequirementFailed) \
            and run_state(request.config).console != "pytest":
        exception.with_traceback(None)


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_step_call(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                                step_func: Any, step_func_args: dict[str, Any]) -> None:
    """Step parameters in Allure: only the values the Gherkin text gave (short), never fixture reprs."""
    if _RUN_KEY not in request.config.stash:
        return
    from .report.allure_helpers import keep_readable_step_parameters

    keep_readable_step_parameters(request.config, step, step_func_args)


# --- per-scenario judging -------------------------------------------------------------------


def _marks(item: pytest.Item, name: str) -> list[str]:
    return list(dict.fromkeys(str(m.args[0]) for m in item.iter_markers(name=name) if m.args))


@pytest.fixture
def judge(request: pytest.FixtureRequest) -> Judge:
    """The scenario's judge: record every verdict, fail on a MUST (or on anything with --margo-strict)."""
    state = run_state(request.config)

    def attach(record: RecordedVerdict) -> None:
        from .report.allure_helpers import attach_verdict

        attach_verdict(record)

    j = Judge(state.level_of, strict=state.strict, on_verdict=attach)
    request.node.stash[_JUDGE_KEY] = j
    return j


def _classify(excinfo: pytest.ExceptionInfo[BaseException] | None, role: str = "wfm") -> tuple[Outcome, Cause | None, str]:
    """(outcome, cause, message) of one pytest phase, from the exception type alone (never its text).

    A WFM that accepts no connection or gives no answer in time is "unreachable"; on the device side a
    timeout is what the device under test did (it never sent the request), so it is plain "broken"."""
    if excinfo is None:
        return "passed", None, ""
    exc = excinfo.value
    if isinstance(exc, NotTested):
        return "not_tested", "not_tested", str(getattr(exc, "msg", exc))
    if isinstance(exc, pytest.skip.Exception):  # NOT TESTED says why through NotTested; any other skip is unexplained
        return "broken", "broken", f"skipped without a NOT TESTED reason: {getattr(exc, 'msg', exc)}"
    if isinstance(exc, RequirementFailed):
        return "failed", "failed", str(exc)
    if isinstance(exc, SutUnreachable) or (role == "wfm" and isinstance(exc, SutTimeout)):
        return "broken", "unreachable", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (SutTimeout, HarnessError)):
        return "broken", "broken", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AssertionError):
        # A bare assert in a step is a harness bug, not a verdict: checks go through the judge.
        return "broken", "broken", f"harness assertion: {exc}"
    return "broken", "broken", f"{type(exc).__name__}: {exc}"


def pytest_exception_interact(node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any],
                              report: pytest.CollectReport | pytest.TestReport) -> None:
    """An error while collecting the suite (a step module that does not import, a feature that does not
    parse) is recorded with its file and line: the run's result is then a harness error."""
    if not isinstance(report, pytest.CollectReport) or _RUN_KEY not in node.config.stash or call.excinfo is None:
        return
    run_state(node.config).record.collection_errors.append(collection_error(node, call.excinfo.value))


def collection_error(node: pytest.Collector, exc: BaseException) -> str:
    """ "file:line: Type: message" of a collection error, the place taken from the error itself (pytest wraps
    an import failure in a CollectError whose cause is the original)."""
    import traceback

    original = exc.__cause__ if isinstance(exc, pytest.Collector.CollectError) and exc.__cause__ else exc
    where = str(getattr(node, "path", "") or node.nodeid)
    line: int | None = None
    if isinstance(original, SyntaxError) and original.filename:
        where, line = original.filename, original.lineno
    elif getattr(original, "filename", None) and isinstance(getattr(original, "line", None), int):
        where, line = str(original.filename), original.line  # pytest-bdd's GherkinParseError
    elif original.__traceback__ is not None:
        frames = traceback.extract_tb(original.__traceback__)
        ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(node.config.rootpath)
                and "site-packages" not in f.filename]  # the suite's own line, not a library's
        if frames:
            where, line = (ours or frames)[-1].filename, (ours or frames)[-1].lineno
    try:
        where = str(Path(where).resolve().relative_to(node.config.rootpath))
    except ValueError:
        pass
    text = original.msg if isinstance(original, SyntaxError) else str(original).strip()
    text = text.splitlines()[0] if text else ""
    return f"{where}{f':{line}' if line else ''}: {type(original).__name__}" + (f": {text}" if text else "")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _RUN_KEY in item.config.stash and run_state(item.config).recorder is not None:
        run_state(item.config).recorder.scenario = item.nodeid
    if _RUN_KEY in item.config.stash and run_state(item.config).breaker.tripped:
        raise SutUnreachable(run_state(item.config).breaker.reason())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if _RUN_KEY not in item.config.stash:
        return report
    state = run_state(item.config)
    record = state.scenarios.setdefault(item.nodeid, _new_record(item))
    outcome, cause, message = _classify(call.excinfo, state.role)
    if cause == "unreachable" and call.excinfo is not None:
        item.stash[_SILENT_KEY] = bool(getattr(call.excinfo.value, "silent", True))
    if call.when == "setup" and call.excinfo is not None:
        record.finish(outcome, cause, message)
    elif call.when == "call":
        if record.outcome in (None, "passed"):
            record.finish(outcome, cause, message)
        from .verdict import Blocked

        if call.excinfo is not None and isinstance(call.excinfo.value, Blocked):
            state.blocked[item.nodeid] = call.excinfo.value
        record.duration_s = round(call.duration, 3)
    elif call.when == "teardown":
        record.settle()  # no call phase reported: broken, never passed (run_record.ScenarioRecord.settled)
        state.breaker.saw(record.outcome, item.stash.get(_SILENT_KEY, False), record.message)
        if call.excinfo is not None and record.outcome == "passed":
            record.finish("broken", "broken", f"teardown: {message}")
        judge_obj = item.stash.get(_JUDGE_KEY, None)
        if judge_obj is not None:
            record.verdicts = [r.to_dict() for r in judge_obj.recorded]
            if state.recorder is not None:
                state.recorder.scenario_finished(item.nodeid, judge_obj.recorded)
        state.done += 1
        _console_after(item.config, state, record)
    return report


def _console_after(config: pytest.Config, state: RunState, record: ScenarioRecord) -> None:
    """After each scenario: its own line (-v), or the progress line."""
    if state.console == "pytest":
        return
    from .report.console import progress_line, scenario_line

    writer = config.get_terminal_writer()
    if state.console == "lines":
        writer.line(scenario_line(record.to_dict(), state.done, state.planned))
        return
    counts = {o: sum(1 for r in state.scenarios.values() if r.outcome == o) for o in ("failed", "broken")}
    line = progress_line(state.done, state.planned, counts, record.name)
    if writer.hasmarkup:  # a terminal: one line, rewritten in place
        writer.write("\r" + line[: writer.fullwidth - 1].ljust(writer.fullwidth - 1), flush=True)
        if state.done >= state.planned:
            writer.line()
    elif state.done == state.planned or state.done % max(1, state.planned // 10) == 0:
        writer.line(line)


def note_stop(config: pytest.Config, nodeid: str, stop: str) -> None:
    """The SUT of this scenario's recording stopped by itself at ``stop``: a Blocked scenario that stopped at the
    same point is blocked by what failed here (``resolve_blocked``)."""
    if _RUN_KEY in config.stash:
        run_state(config).stops[nodeid] = stop


def resolve_blocked(state: RunState) -> None:
    """Each Blocked scenario: NOT TESTED "blocked by <IDs> (<stop>)" when a check failed in a scenario whose SUT
    stopped at the same point; else broken with its own message (nothing judged explains the stop)."""
    for nodeid, blocked in state.blocked.items():
        record = state.scenarios.get(nodeid)
        if record is None or record.outcome != "not_tested":
            continue
        from .report.summary import requirement_sort_key

        blockers = {req for other, stop in state.stops.items() if stop == blocked.stop and other != nodeid
                    and other in state.scenarios
                    for v in state.scenarios[other].verdicts
                    if not v["passed"] and v.get("kind", "check") == "check" for req in v["requirements"]}
        if blockers:
            record.finish("not_tested", "not_tested",
                          f"blocked by {', '.join(sorted(blockers, key=requirement_sort_key))} ({blocked.stop})")
        else:
            record.finish("broken", "broken", blocked.fallback)


def scenario_template(item: pytest.Item) -> Any:
    """pytest-bdd's ScenarioTemplate behind a test item (its feature, steps and tags), if any."""
    return _scenario_template(item)


def _scenario_template(item: pytest.Item) -> Any:
    """pytest-bdd's ScenarioTemplate behind a test item (feature and scenario names), if any."""
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry
    except ImportError:  # pragma: no cover - other pytest-bdd versions
        return None
    func = getattr(item, "function", None)
    try:
        return scenario_wrapper_template_registry.get(func) if func is not None else None
    except TypeError:
        return None


def scenario_basis(item: pytest.Item) -> Basis | None:
    """Where a scenario made by rule gets its level: the ``basis`` column of its Examples row (the route matrix),
    else the ``Basis:`` line of its description (a hand-written scenario); None when it declares none."""
    from .basis import from_description, parse

    callspec = getattr(item, "callspec", None)
    example = (callspec.params.get("_pytest_bdd_example") if callspec is not None else None) or {}
    if isinstance(example, dict) and example.get("basis"):
        return parse(str(example["basis"]))
    template = _scenario_template(item)
    return from_description(getattr(template, "description", "") or "") if template is not None else None


def _new_record(item: pytest.Item) -> ScenarioRecord:
    feature, feature_file, scenario_name = "", "", item.name
    template = _scenario_template(item)
    if template is not None:
        feature = getattr(template.feature, "name", "") or ""
        feature_file = getattr(template.feature, "rel_filename", "") or ""
        scenario_name = getattr(template, "name", "") or scenario_name
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        example = callspec.params.get("_pytest_bdd_example") or {}
        values = {k: v for k, v in callspec.params.items() if not k.startswith("_")}
        values.update(example if isinstance(example, dict) else {})
        for key, value in values.items():  # a Scenario Outline's name carries its <placeholders>
            scenario_name = scenario_name.replace(f"<{key}>", str(value))
        variant = ", ".join(f"{k}={v}" for k, v in values.items())
        if variant and not any(f"<{k}>" in (getattr(template, "name", "") or "") for k in values):
            scenario_name = f"{scenario_name} [{variant}]"
    levels = _marks(item, "level")
    # Gherkin tags reach pytest as a set: sort, so titles and JUnit names are the same in every run.
    from .report.summary import requirement_sort_key

    requirements = sorted(_marks(item, "requirement"), key=requirement_sort_key)
    return ScenarioRecord(id=item.nodeid, feature=feature, feature_file=feature_file, name=scenario_name,
                          requirements=requirements, level=levels[0] if levels else "MUST",
                          interpretations=_marks(item, "interpretation"),
                          basis=basis.to_dict() if (basis := scenario_basis(item)) is not None else None)


# --- end of session -------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    state = run_state(session.config)
    from .report.summary import build_summary, write_outputs

    # pytest reports errors during collection as "Interrupted" too: those are a harness error, not a signal.
    if exitstatus == pytest.ExitCode.INTERRUPTED and not state.record.interrupted \
            and not state.record.collection_errors:
        state.record.interrupted = "SIGINT"
    if state.breaker.tripped:
        state.record.aborted = state.breaker.reason().replace("not run: ", "stopped early: ")

    state.record.sut.facts = {**state.sut.describe(), **state.facts}
    resolve_blocked(state)
    summary = build_summary(state.record, state.catalog)
    state.summary = summary
    if state.output is not None:
        write_outputs(summary, state.output, state.catalog, state.profile)
    if state.recorder is not None and state.output is not None:
        from . import __version__, verdict

        verdict.check_observer = None
        state.recorder.deselected = list(state.record.deselected)
        state.recorder.aborted = state.record.aborted
        state.recorder.write(state.output, harness_version=__version__, role=state.role, profile=state.profile)


def pytest_unconfigure(config: pytest.Config) -> None:
    """junit.xml from the run record: broken is <error>, NOT TESTED <skipped>, names start with requirement IDs."""
    if _RUN_KEY not in config.stash:
        return
    xml_path = getattr(config.option, "xmlpath", None)
    if not xml_path:
        return
    from .report.junit import rewrite_junit

    state = run_state(config)
    profile = (state.summary or {}).get("profile") or {"id": state.profile, "baseline": ""}
    rewrite_junit(Path(xml_path), {k: v.to_dict() for k, v in state.scenarios.items()},
                  {"margo.profile": str(profile["id"]), "margo.spec": str(profile["baseline"])})


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _RUN_KEY not in config.stash:
        return
    summary = run_state(config).summary
    if summary is None:
        return
    from .report.console import render_console_summary

    terminalreporter.write_line("")
    for line in render_console_summary(summary):
        terminalreporter.write_line(line)
