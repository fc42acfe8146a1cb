"""The pytest plugin behind ``margo-conformance run``: tags become marks, outcomes become verdicts.

Loaded with ``-p margo_conformance.pytest_plugin`` by the run command (never auto-loaded, so the
project's own unit tests are not affected). It

- maps Gherkin tags to marks and Allure labels: ``@req:SIG-11`` (requirement, with a link to the
  catalog entry), ``@level:MUST`` (severity), ``@interpretation:Q-06`` (label);
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

from .errors import HarnessError, SutTimeout, SutUnreachable
from .run_record import Cause, Outcome, RunRecord, ScenarioRecord, SutDescription
from .verdict import Judge, RecordedVerdict, RequirementFailed

REQ_TAG = re.compile(r"req:(?P<id>[A-Z]+-[A-Z]?\d+)")
LEVEL_TAG = re.compile(r"level:(?P<level>MUST|SHOULD|MAY)")
Q_TAG = re.compile(r"interpretation:(?P<id>Q-\d+)")

SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}

_RUN_KEY = pytest.StashKey["RunState"]()
_JUDGE_KEY = pytest.StashKey[Judge]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("margo", "Margo conformance run")
    group.addoption("--margo-role", choices=("wfm", "device"), help="role of the system under test")
    group.addoption("--margo-sut", default="builtin", help="'builtin' or a SUT TOML file")
    group.addoption("--margo-defect", action="append", default=[], help="defect of the builtin reference")
    group.addoption("--margo-output", default=None, help="directory for summary.json and friends")
    group.addoption("--margo-strict", action="store_true", help="SHOULD failures fail the scenario")
    group.addoption("--margo-profile", default=None, help="spec profile (default: the SUT file's)")


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
            self.sut = builtin_sut(self.role, defects=defects)
        else:
            self.sut = load_sut(sut_arg)
        self.profile: str = config.getoption("--margo-profile") or self.sut.profile
        output = config.getoption("--margo-output")
        self.output: Path | None = Path(output) if output else None
        self.catalog = load_catalog()
        self.record = RunRecord(
            sut=SutDescription(name=self.sut.name, role=self.role, source=self.sut.source,
                               defects=list(self.sut.defects)),
            profile=self.profile, strict=self.strict, started_at=time.time(),
            output=str(self.output) if self.output else None)
        #: Facts the fixtures learn while running (base URL, TLS version, ...): environment.properties.
        self.facts: dict[str, str] = {}
        self.summary: dict[str, Any] | None = None

    @property
    def scenarios(self) -> dict[str, ScenarioRecord]:
        return self.record.scenarios

    def level_of(self, req_id: str) -> Any:
        """The catalog level of ``req_id`` for the role under test (a RoleLevel: ``.level``, ``.by``)."""
        try:
            return self.catalog.get(req_id).level_for(self.role)
        except KeyError:
            return "MUST"


def run_state(config: pytest.Config) -> RunState:
    return config.stash[_RUN_KEY]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id): requirement ID verified by a scenario")
    config.addinivalue_line("markers", "level(level): MUST, SHOULD or MAY")
    config.addinivalue_line("markers", "interpretation(id): interpretation (Q-ID) a scenario rests on")
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
    for n in range(1, 100):
        config.addinivalue_line("markers", f"q_Q_{n:02d}: scenarios resting on interpretation Q-{n:02d}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tags on an Examples block reach pytest as raw marks ("req:SIG-12"), not through
    ``pytest_bdd_apply_tag``; translate them here so a row's requirements count like a scenario's."""
    for item in items:
        for raw in [m.name for m in item.iter_markers() if ":" in m.name]:
            for mark in tag_marks(raw) or ():
                item.add_marker(mark)


@pytest.hookimpl(trylast=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Allure's grouping: epic = role, feature = feature file, story = scenario (after allure opened the test)."""
    if _RUN_KEY not in request.config.stash:
        return
    import allure

    allure.dynamic.epic(f"{run_state(request.config).role.upper()} conformance")
    allure.dynamic.feature(feature.name)
    allure.dynamic.story(scenario.name)


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


def _classify(excinfo: pytest.ExceptionInfo[BaseException] | None) -> tuple[Outcome, Cause | None, str]:
    """(outcome, cause, message) of one pytest phase, from the exception type alone (never its text)."""
    if excinfo is None:
        return "passed", None, ""
    exc = excinfo.value
    if isinstance(exc, pytest.skip.Exception):
        return "not_tested", "not_tested", str(getattr(exc, "msg", exc))
    if isinstance(exc, RequirementFailed):
        return "failed", "failed", str(exc)
    if isinstance(exc, SutUnreachable):
        return "broken", "unreachable", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (SutTimeout, HarnessError)):
        return "broken", "broken", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AssertionError):
        # A bare assert in a step is a harness bug, not a verdict: checks go through the judge.
        return "broken", "broken", f"harness assertion: {exc}"
    return "broken", "broken", f"{type(exc).__name__}: {exc}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if _RUN_KEY not in item.config.stash:
        return report
    state = run_state(item.config)
    record = state.scenarios.setdefault(item.nodeid, _new_record(item))
    outcome, cause, message = _classify(call.excinfo)
    if call.when == "setup" and call.excinfo is not None:
        record.finish(outcome, cause, message)
    elif call.when == "call":
        if record.outcome in (None, "passed"):
            record.finish(outcome, cause, message)
        record.duration_s = round(call.duration, 3)
    elif call.when == "teardown":
        if record.outcome is None:
            record.outcome = "passed"
        if call.excinfo is not None and record.outcome == "passed":
            record.finish("broken", "broken", f"teardown: {message}")
        judge_obj = item.stash.get(_JUDGE_KEY, None)
        if judge_obj is not None:
            record.verdicts = [r.to_dict() for r in judge_obj.recorded]
    return report


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
    return ScenarioRecord(id=item.nodeid, feature=feature, feature_file=feature_file, name=scenario_name,
                          requirements=_marks(item, "requirement"), level=levels[0] if levels else "MUST",
                          interpretations=_marks(item, "interpretation"))


# --- end of session -------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RUN_KEY not in session.config.stash:
        return
    state = run_state(session.config)
    from .report.summary import build_summary, write_outputs

    state.record.sut.facts = {**state.sut.describe(), **state.facts}
    summary = build_summary(state.record, state.catalog)
    state.summary = summary
    if state.output is not None:
        write_outputs(summary, state.output, state.catalog, state.profile)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the requirement IDs into the JUnit test names (CI dashboards show names, not properties)."""
    if _RUN_KEY not in config.stash:
        return
    xml_path = getattr(config.option, "xmlpath", None)
    if not xml_path:
        return
    from .report.junit import add_requirements_to_junit

    add_requirements_to_junit(Path(xml_path), {k: v.to_dict() for k, v in run_state(config).scenarios.items()})


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
