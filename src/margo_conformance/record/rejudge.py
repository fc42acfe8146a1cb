"""``margo-conformance rejudge DIR``: the current harness's checks on a record's evidence, without the SUT.

Every check call of the run is in ``evidence/checks.json`` with its arguments (exchanges by their HAR entry,
certificates, plain values). Re-judging calls the check *of this harness* (found again by module and name) on
those arguments read back from the record, binds it to the requirements the step bound it to in the run, and
judges it with this harness's catalog (levels, interpretations, the axis of a failure). The scenarios' verdicts
are then rolled up again exactly as a run does (``report.summary``), and the requirement verdicts compared.

What is re-judged, and what is not (docs/RECORD.md says the same):

- re-judged: every verdict a check function made from recorded arguments;
- kept as recorded, and listed: observations (``Judge.note``; they judge nothing); a check call whose arguments
  the record lacks (an argument type it does not keep, an exchange whose bytes held a private key and were
  removed, a check this harness no longer has): "cannot re-judge <check>: the record lacks <x>";
- not re-judged at all: what the steps did *around* the checks (which requests they sent, values they derived
  before calling a check, e.g. the clientId taken from a response), and steps that never ran because an earlier
  failure stopped their scenario. A scenario that failed in the run and passes now stopped at that failure, so
  it reads broken ("run again to judge the steps after it"), never passed.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..catalog_digest import catalog_digest
from ..errors import ConfigError
from ..verdict import Judge, NotTested, RecordedVerdict, RequirementFailed, Verdict
from . import har
from .capture import CHECKS_FILE, EVIDENCE_DIR, HAR_FILE, Decoder

#: The fields of a recorded verdict whose change is a change of verdict (a new wording of expected/observed with
#: the same outcome is not).
_COMPARED = ("passed", "axis", "level", "requirements")


@dataclass
class CheckChange:
    call: str
    check: str
    scenario: str
    old: dict[str, Any]
    new: dict[str, Any]

    def line(self) -> str:
        old, new = _verdict_word(self.old), _verdict_word(self.new)
        reqs = " ".join(self.new.get("requirements") or self.old.get("requirements") or []) or "-"
        why = f"expected {self.new.get('expected')!r}, observed {self.new.get('observed')!r}" \
            if "verdict" not in self.new else self.new.get("verdict")
        return f"check {reqs} {self.check} [{self.call}, {self.scenario}]: {old} -> {new}: {why}"


@dataclass
class Rejudgement:
    summary: dict[str, Any]
    old_summary: dict[str, Any]
    checks_rejudged: int = 0
    check_changes: list[CheckChange] = field(default_factory=list)
    requirement_changes: list[dict[str, Any]] = field(default_factory=list)
    cannot: list[str] = field(default_factory=list)
    observations_kept: int = 0
    stopped_scenarios: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.check_changes or self.requirement_changes)

    def to_dict(self) -> dict[str, Any]:
        return {"checks_rejudged": self.checks_rejudged,
                "check_changes": [c.__dict__ for c in self.check_changes],
                "requirement_changes": self.requirement_changes, "cannot_rejudge": self.cannot,
                "observations_kept": self.observations_kept, "stopped_scenarios": self.stopped_scenarios,
                "result": {"old": self.old_summary["result"]["verdict"], "new": self.summary["result"]["verdict"]}}


def _verdict_word(v: dict[str, Any]) -> str:
    if "verdict" in v and "passed" not in v:
        return str(v["verdict"])
    if v.get("passed"):
        return "passed"
    return f"failed ({v.get('axis') or '-'} axis)"


def load_check(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def rejudge(run_dir: Path) -> Rejudgement:
    run_dir = Path(run_dir)
    evidence = run_dir / EVIDENCE_DIR
    try:
        old_summary = json.loads((run_dir / "summary.json").read_text())
        checks = json.loads((evidence / CHECKS_FILE).read_text())
        har_doc = json.loads((evidence / HAR_FILE).read_text())
    except OSError as exc:
        raise ConfigError(f"{run_dir}: not a run directory with evidence ({exc.filename}: "
                          f"{exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"{run_dir}: a record file is not JSON ({exc})") from None
    missing = [f"{where}.{key}" for where, data, keys in (
        ("summary.json", old_summary, ("sut", "run", "scenarios", "requirements", "result")),
        (CHECKS_FILE, checks, ("calls", "verdict_calls"))) if isinstance(data, dict)
        for key in keys if key not in data]
    if missing or not isinstance(har_doc, dict) or "log" not in har_doc:
        raise ConfigError(f"{run_dir}: not a record this harness can read (missing {', '.join(missing) or 'log'})")
    from ..requirements import load_catalog

    catalog = load_catalog()
    role = old_summary["sut"]["role"]
    strict = bool(old_summary["run"]["strict"])
    level_of = lambda req_id: catalog.get(req_id).level_for(role)  # noqa: E731
    decoder = Decoder(evidence, har_doc["log"]["entries"])
    calls = {c["id"]: c for c in checks["calls"]}
    result = Rejudgement(summary={}, old_summary=old_summary)
    scenarios = []
    for scenario in old_summary["scenarios"]:
        origins = checks["verdict_calls"].get(scenario["id"], [])
        judge = Judge(level_of, strict=strict)
        new_verdicts: list[dict[str, Any]] = []
        stopped = ""
        for index, old in enumerate(scenario["verdicts"]):
            call = calls.get(origins[index]) if index < len(origins) and origins[index] else None
            if old.get("kind") == "observation" or call is None:
                if old.get("kind") == "observation":
                    result.observations_kept += 1
                else:
                    result.cannot.append(f"cannot re-judge {old['what']!r} ({scenario['name']}): the record lacks the "
                                         "check call that made it")
                new_verdicts.append(old)
                continue
            new = _rejudge_call(call, old, judge, decoder, result)
            if "now" in new:  # the check raised NOT TESTED or an error now: it records no verdict
                stopped = stopped or new["now"]
                result.check_changes.append(CheckChange(call["id"], call["check"], scenario["name"], old,
                                                        {"verdict": new["now"]}))
                continue
            new_verdicts.append(new)
            if any(new.get(k) != old.get(k) for k in _COMPARED):
                result.check_changes.append(CheckChange(call["id"], call["check"], scenario["name"], old, new))
        _unjudged_calls(scenario, checks["calls"], judge, decoder, result)
        scenarios.append(_settle(scenario, new_verdicts, strict, result, stopped))
    result.summary = _rolled_up(old_summary, scenarios, catalog, checks)
    old_rows = {r["id"]: r for r in old_summary["requirements"]}
    for row in result.summary["requirements"]:
        before = old_rows.get(row["id"])
        if before is None or (before["verdict"], before.get("axis")) != (row["verdict"], row.get("axis")):
            result.requirement_changes.append({"id": row["id"], "old": before["verdict"] if before else "(absent)",
                                               "new": row["verdict"], "why": row["reason"]})
    return result


def _unjudged_calls(scenario: dict[str, Any], calls: list[dict[str, Any]], judge: Judge, decoder: Decoder,
                    result: Rejudgement) -> None:
    """Calls of the scenario that made no verdict in the run (NOT TESTED, or an error): if one judges now, that
    is a change to report; the scenario stays as the run left it (the steps after that call never ran)."""
    for call in calls:
        outcome = call.get("outcome") or {}
        if call.get("scenario") != scenario["id"] or "verdict" in outcome:
            continue
        before = {"verdict": f"NOT TESTED: {outcome['not_tested']}" if "not_tested" in outcome
                  else f"ERROR: {outcome.get('error', 'no outcome recorded')}"}
        # The step never bound this verdict (the call made none), so it is bound to the scenario's requirements
        # for the report; the scenario itself stays as the run left it.
        new = _rejudge_call(call, {"requirements": list(scenario["requirements"]), "interpretations": []}, judge,
                            decoder, result)
        if "now" not in new and "passed" in new:
            new["note"] = "the scenario stopped here in the run; the steps after this call never ran"
            judge.recorded.pop()  # reported, not rolled up
            result.check_changes.append(CheckChange(call["id"], call["check"], scenario["name"], before, new))


def _rejudge_call(call: dict[str, Any], old: dict[str, Any], judge: Judge, decoder: Decoder,
                  result: Rejudgement) -> dict[str, Any]:
    name = call["check"].split(":")[-1]
    try:
        fn = load_check(call["check"])
    except (ImportError, AttributeError):
        result.cannot.append(f"cannot re-judge {name}: this harness has no check {call['check']} (kept as recorded)")
        return old
    try:
        args = [decoder.decode(a) for a in call["args"]]
        kwargs = {k: decoder.decode(v) for k, v in call["kwargs"].items()}
    except har.MissingEvidence as exc:
        result.cannot.append(f"cannot re-judge {name} [{call['id']}]: the record lacks {exc} (kept as recorded)")
        return old
    result.checks_rejudged += 1
    try:
        verdict: Verdict = fn(*args, **kwargs)
    except NotTested as exc:
        return {"now": f"NOT TESTED now: {getattr(exc, 'msg', exc)}"}
    except Exception as exc:  # a check that now crashes on recorded evidence: our bug, shown as such
        return {"now": f"ERROR now: {type(exc).__name__}: {exc}"}
    returned = (call.get("outcome") or {}).get("verdict") or {}
    step_reqs = [r for r in old["requirements"] if r not in returned.get("requirements", [])]
    step_qs = [q for q in old["interpretations"] if q not in returned.get("interpretations", [])]
    verdict = verdict.bound_to(*step_reqs, interpretations=step_qs)
    try:
        judge(replace(verdict, evidence=None))
    except RequirementFailed:
        pass
    except Exception as exc:  # an ID the current catalog does not hold
        return {"now": f"ERROR now: {type(exc).__name__}: {exc}"}
    recorded: RecordedVerdict = judge.recorded[-1]
    return recorded.to_dict()


def _settle(scenario: dict[str, Any], verdicts: list[dict[str, Any]], strict: bool,
            result: Rejudgement, stopped: str = "") -> dict[str, Any]:
    """The scenario's outcome from its re-judged verdicts; what the run could not judge stays as it was."""
    new = {**scenario, "verdicts": verdicts}
    if stopped and scenario["outcome"] in ("passed", "failed"):
        broken = stopped.startswith("ERROR")
        new.update(outcome="broken" if broken else "not_tested", cause="broken" if broken else "not_tested",
                   message=f"re-judged: {stopped}")
        return new
    fails = [v for v in verdicts if v.get("kind", "check") == "check" and not v.get("passed")
             and (v.get("axis") == "must" or (strict and v.get("axis")))]
    if scenario["outcome"] in ("broken", "not_tested"):
        return new
    if fails:
        first = fails[0]
        new.update(outcome="failed", cause="failed",
                   message=f"[{' '.join(first['requirements'])}] {first['what']}: expected {first['expected']!r}, "
                           f"observed {first['observed']!r} (re-judged)")
    elif scenario["outcome"] == "failed":
        result.stopped_scenarios.append(scenario["name"])
        new.update(outcome="broken", cause="broken",
                   message="re-judged: the check that stopped this scenario in the run passes now, but the steps after "
                           "it never ran; run the suite again to judge them")
    return new


def _rolled_up(old: dict[str, Any], scenarios: list[dict[str, Any]], catalog: Any,
               checks: dict[str, Any]) -> dict[str, Any]:
    """A summary of the re-judged scenarios, built by the same roll-up as a run's."""
    from ..report.summary import build_summary
    from ..run_record import RunRecord, ScenarioRecord, SutDescription

    sut = old["sut"]
    record = RunRecord(
        sut=SutDescription(name=sut["name"], role=sut["role"], source=sut["source"], defects=list(sut["defects"]),
                           facts=dict(sut["facts"]), vendor=sut.get("vendor"), product=sut.get("product"),
                           version=sut.get("version")),
        profile=old["profile"]["id"], strict=bool(old["run"]["strict"]), started_at=_ts(old["run"]["started_at"]),
        output=(old.get("paths") or {}).get("output"), selection=old["run"].get("selection"),
        deselected=list(checks.get("deselected") or []), interrupted=old["run"].get("interrupted"),
        collection_errors=list(old["run"].get("collection_errors") or []),
        lab=old["run"].get("lab"), engineer=old["run"].get("engineer"), catalog_digest=catalog_digest(catalog))
    record.aborted = checks.get("aborted")
    fields = set(ScenarioRecord.__dataclass_fields__)
    for s in scenarios:
        record.scenarios[s["id"]] = ScenarioRecord(**{k: v for k, v in s.items() if k in fields})
    return build_summary(record, catalog, finished_at=_ts(old["run"]["finished_at"]))


def _ts(iso: str) -> float:
    import calendar
    import time

    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def render(result: Rejudgement, run_dir: Path) -> list[str]:
    lines = [f"Re-judged {run_dir}: {result.checks_rejudged} check call(s) with margo-conformance "
             f"{result.summary['harness']['version']}, catalog sha256 {result.summary['catalog']['digest']}"]
    before = (result.old_summary.get("catalog") or {}).get("digest")
    if before != result.summary["catalog"]["digest"]:
        lines.append(f"The run was judged against catalog sha256 {before or '(not recorded)'}; this harness's differs")
    if result.old_summary["harness"]["version"] != result.summary["harness"]["version"]:
        lines.append(f"The run was judged by margo-conformance {result.old_summary['harness']['version']}")
    for change in result.requirement_changes:
        lines.append(f"{change['id']}: {change['old']} -> {change['new']}: {change['why']}")
    for change in result.check_changes:
        lines.append(change.line())
    for name in result.stopped_scenarios:
        lines.append(f"scenario {name!r}: failed in the run, its failing check passes now; the steps after it never "
                     "ran (reads broken: run the suite again)")
    for line in result.cannot:
        lines.append(line)
    if result.observations_kept:
        lines.append(f"{result.observations_kept} observation(s) kept as recorded (reported, never judged)")
    lines.append("Not re-judgeable from evidence: what the steps did around the checks (the requests they sent, values "
                 "they derived before a check) and steps an earlier failure stopped (docs/RECORD.md)")
    old, new = result.old_summary["result"]["verdict"], result.summary["result"]["verdict"]
    lines.append(f"Result: {old} -> {new}" if old != new else f"Result: {new} (unchanged)")
    lines.append("No verdict changed." if not result.changed else
                 f"{len(result.requirement_changes)} requirement verdict(s) and {len(result.check_changes)} check "
                 "verdict(s) changed.")
    return lines


def write_rejudged(run_dir: Path, result: Rejudgement, out_dir: Path, signing: Any = None) -> Path:
    """A new record in ``out_dir``: the re-judged summary, the original evidence, and the digest of the record it
    re-judged (SHA-256 of its record.dsse.json)."""
    import shutil

    from ..report.summary import write_outputs
    from .manifest import ENVELOPE_FILE, sha256_file, write_record

    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"--output {out_dir}: exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run_dir / EVIDENCE_DIR, out_dir / EVIDENCE_DIR)
    from ..requirements import load_catalog

    summary = result.summary
    summary["paths"] = {"output": str(out_dir)}
    summary["record"] = {"signed": signing is not None, "signer": signing.describe() if signing else None}
    write_outputs(summary, out_dir, load_catalog(), summary["profile"]["id"])
    (out_dir / "rejudge.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    source_envelope = run_dir / ENVELOPE_FILE
    rejudged = {"record": str(run_dir.resolve()),
                "record_digest": {"sha256": sha256_file(source_envelope)} if source_envelope.exists() else None,
                "old_result": result.old_summary["result"]["verdict"], "new_result": summary["result"]["verdict"],
                "changed_requirements": [c["id"] for c in result.requirement_changes]}
    write_record(out_dir, signing, rejudged=rejudged)
    return out_dir
