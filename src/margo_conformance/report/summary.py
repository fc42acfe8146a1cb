"""The conformance summary: per-scenario outcomes rolled up per requirement, in JSON and Markdown.

``build_summary`` is a pure function of the typed run record (``run_record.RunRecord``) and the catalog.
Roll-up rules (one place, so JUnit, Allure and the summary always agree), DIGEST 6.1:

- only *checks* count: a verdict of kind "check" that names the requirement. A scenario tag proves
  nothing, and an observation (``Judge.note``) is reported but never makes a requirement PASS;
- any bound check failed: FAIL when the strongest failed axis is "must" (or any axis with ``--strict``),
  DEVIATION when it is "interpretation" (a named difference from our reading, by Q-ID), ADVISORY when it is
  "advisory". DEVIATION and ADVISORY do not fail a default run, and never read PASS. A failure always shows:
  it wins over NOT APPLICABLE (a requirement of the other side that a check of this run judged), and a failed
  check counts whatever became of its scenario;
- at least one bound check passed in a scenario that did not break, none failed: PASS. A pass in a scenario
  that broke (or was stopped) proves nothing: with no other pass the requirement is NOT TESTED, naming it;
- scenarios tagged with it ran but no check bound it, or every one of them was skipped or broken:
  NOT TESTED, with the reason; attestation-only and uncovered requirements are NOT TESTED too;
- it binds the other role and no check of it failed: NOT APPLICABLE.

Result and exit code (``decide_result``), first match wins:

- HARNESS ERROR, 1: pytest could not collect the suite (the headline names file and line), or a scenario
  failed on a check that names no requirement row of the profile (a run never reads FAIL with no failed row);
- UNREACHABLE, 3: the SUT could not be reached (every scenario broke on it, or the run stopped early
  because it stopped answering); INTERRUPTED, 1: a signal stopped the run;
- FAIL, 1: a scenario failed (a must-axis check, or any with --strict); INCOMPLETE, 1: a scenario broke;
- NO SCENARIOS, 2: no scenario matched the selection, or none of the suite applies to the run's profile;
- INCOMPLETE, 1: scenarios ran but no check judged any requirement row of the profile (every row NOT TESTED or
  NOT APPLICABLE, or a profile the catalog holds no row of): whatever the cause, such a run is never a PASS;
- exit 0 otherwise, and the wording never claims more than the rows: PARTIAL for a -k/--tags selection
  (saying how many requirements passed, or that none was judged); PASS WITH GAPS when MUST rows went
  untested or when no requirement passed (only deviations or advisories); PASS only when at least one
  requirement passed and no MUST is a gap.

``profile.baseline`` is the spec commit of the run's own profile, read from the catalog.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .. import __version__
from ..evidence import redact
from ..resources import SCHEMAS_DIR
from ..patterns import question_sort_key
from ..run_record import OUTCOMES, RunRecord

SUMMARY_SCHEMA = SCHEMAS_DIR / "report" / "summary.schema.json"
SCENARIO_OUTCOMES = OUTCOMES
REQUIREMENT_VERDICTS = ("PASS", "FAIL", "DEVIATION", "ADVISORY", "NOT TESTED", "NOT APPLICABLE")
AXES = ("must", "interpretation", "advisory")
_VERDICT_OF_AXIS = {"must": "FAIL", "interpretation": "DEVIATION", "advisory": "ADVISORY"}


def _applies(binds: str, role: str) -> bool:
    return binds in ("both", role)


def _is_check(v: dict[str, Any]) -> bool:
    return v.get("kind", "check") == "check"


def _describe(scenario: dict[str, Any], v: dict[str, Any]) -> str:
    text = f"{scenario['name']}: {v['what']} (expected {v['expected']!r}, observed {v['observed']!r})"
    choice = (v.get("details") or {}).get("choice")
    if v.get("interpretations"):
        text += f" [{' '.join(v['interpretations'])}" + (f": {choice} answer" if choice else "") + "]"
    return text


def rollup_requirements(catalog: Any, profile: str, role: str, scenarios: list[dict[str, Any]], *,
                        strict: bool = False, deselected: tuple[str, ...] | list[str] = (),
                        selection_text: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for req in sorted(catalog.all(), key=lambda r: requirement_sort_key(r.id)):
        if profile not in req.profiles:
            continue
        tagged = [s for s in scenarios if req.id in s["requirements"]]
        named = [(s, v) for s in scenarios for v in s["verdicts"] if req.id in v["requirements"]]
        checks = [(s, v) for s, v in named if _is_check(v)]
        observations = [(s, v) for s, v in named if not _is_check(v)]
        failed = [(s, v) for s, v in checks if not v["passed"]]
        # A pass counts only from a scenario that did not break: one that broke (or was stopped) after a
        # check passed says nothing reliable about the rest; its failures still count, a failure always shows.
        passed_in_broken = [(s, v) for s, v in checks if v["passed"] and s["outcome"] == "broken"]
        passed = [(s, v) for s, v in checks if v["passed"] and s["outcome"] != "broken"]
        row: dict[str, Any] = {
            "id": req.id,
            "level": req.level,
            "verdict_level": str(req.level_for(role).level),
            "binds": req.binds,
            "text": req.text,
            "interpretations": list(req.interpretations),
            "scenarios": list(dict.fromkeys([s["id"] for s in tagged] + [s["id"] for s, _ in named])),
            "checks": {"passed": len(passed), "failed": len(failed), "observations": len(observations)},
            "reason": "",
            "axis": None,
        }
        if failed:  # before NOT APPLICABLE: a failed check shows, whichever side the requirement binds
            axis = _strongest_axis([v["axis"] for _, v in failed]) or "must"
            first_s, first_v = next((s, v) for s, v in failed if v["axis"] == axis)
            row["axis"] = axis
            row["verdict"] = "FAIL" if strict else _VERDICT_OF_AXIS[axis]
            row["reason"] = _describe(first_s, first_v)
            if not _applies(req.binds, role):
                row["reason"] += f" (it binds the {req.binds} side, but a check of this {role} run judged it)"
        elif not _applies(req.binds, role):
            row["verdict"], row["reason"] = "NOT APPLICABLE", f"binds the {req.binds} side, this run certifies a {role}"
        elif passed_in_broken and not passed:
            broken = passed_in_broken[0][0]
            row["verdict"] = "NOT TESTED"
            row["reason"] = (f"its only passed checks are in scenarios that broke: {broken['name']}"
                             + (f" ({broken['message']})" if broken["message"] else ""))
        elif passed:
            row["verdict"] = "PASS"
            unjudged = [s for s in tagged if s["outcome"] in ("broken", "not_tested")]
            if unjudged:
                row["reason"] = f"{len(unjudged)} of its scenarios could not be judged ({unjudged[0]['outcome'].replace('_', ' ')})"
        elif tagged:
            row["verdict"] = "NOT TESTED"
            unjudged = [s for s in tagged if s["outcome"] in ("broken", "not_tested")]
            if len(unjudged) == len(tagged):
                reasons = [f"{s['outcome'].replace('_', ' ')}: {s['message']}" for s in unjudged if s["message"]]
                row["reason"] = reasons[0] if reasons else "no scenario reached a verdict"
            else:
                row["reason"] = "its scenarios ran, but no check bound to it ran" + (
                    f" (only {len(observations)} observation(s), which judge nothing)" if observations else "")
        elif req.id in deselected:
            row["verdict"] = "NOT TESTED"
            row["reason"] = f"deselected: its scenarios were left out by the selection ({selection_text})"
        elif getattr(req, "verified_by", "scenario") == "attestation":
            row["verdict"], row["reason"] = "NOT TESTED", "verified by the vendor's attestation, not by a scenario"
        elif getattr(req, "verified_by", "scenario") == "lab-precondition":
            row["verdict"], row["reason"] = "NOT TESTED", ("a lab precondition the operator sets up, not a behaviour "
                                                           "of the SUT a scenario can judge")
        elif observations:
            row["verdict"], row["reason"] = "NOT TESTED", "only observed (reported, not judged)"
        else:
            row["verdict"], row["reason"] = "NOT TESTED", "no scenario of this suite verifies it"
        rows.append(row)
    return rows


def requirement_sort_key(req_id: str) -> tuple[str, int, str]:
    prefix, _, rest = req_id.partition("-")
    digits = "".join(ch for ch in rest if ch.isdigit())
    return (prefix, int(digits) if digits else 0, rest)


def _strongest_axis(axes: list[str | None]) -> str | None:
    for axis in AXES:
        if axis in axes:
            return axis
    return None


def deviations(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every interpretation-axis finding, with the answer the SUT chose (summary.md lists them by Q-ID)."""
    out = []
    for s in scenarios:
        for v in s["verdicts"]:
            if v.get("axis") == "interpretation":
                details = v.get("details") or {}
                out.append({"interpretations": list(v["interpretations"]), "requirements": list(v["requirements"]),
                            "scenario": s["name"], "what": v["what"], "expected": v["expected"],
                            "observed": v["observed"], "choice": details.get("choice", "other")})
    return out


def _interpretations(catalog: Any, scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The interpretations the run's verdicts rest on, each with the answers the SUT gave."""
    q_ids = sorted({q for s in scenarios for q in s["interpretations"]}
                   | {q for s in scenarios for v in s["verdicts"] for q in v["interpretations"]},
                   key=question_sort_key)
    out = []
    for qid in q_ids:
        chosen = Counter(
            f"{(v.get('details') or {}).get('choice', 'preferred' if v['passed'] else 'other')}: {v['observed']}"
            for s in scenarios for v in s["verdicts"] if qid in v["interpretations"] and _is_check(v))
        try:
            q = catalog.question(qid)
            entry = {"id": qid, "question": q.question, "position": q.position,
                     "preferred": list(q.preferred), "alternatives": list(q.alternatives)}
        except KeyError:
            entry = {"id": qid, "question": "", "position": "", "preferred": [], "alternatives": []}
        entry["observed"] = [{"answer": k, "count": n} for k, n in sorted(chosen.items())]
        out.append(entry)
    return out


def selection_text(selection: dict[str, str] | None) -> str:
    if not selection:
        return ""
    parts = [f"-k {selection['keyword']!r}" if selection.get("keyword") else "",
             f"--tags {selection['tags']!r}" if selection.get("tags") else ""]
    return " ".join(p for p in parts if p)


def untested_musts(requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MUST rows of this role that no check judged, for a reason other than a -k/--tags selection."""
    return [r for r in requirements if r["verdict"] == "NOT TESTED" and r["verdict_level"] == "MUST"
            and not r["reason"].startswith("deselected")]


#: Row verdicts that mean a check judged the requirement (NOT TESTED and NOT APPLICABLE judged nothing).
JUDGED = ("PASS", "FAIL", "DEVIATION", "ADVISORY")


def _unjudged_failures(scenarios: list[dict[str, Any]], requirements: list[dict[str, Any]]) -> list[str]:
    """Failed scenarios none of whose failed checks has a FAIL row (an ID outside the profile): the run failed
    on something it cannot show, which is our bug, never a verdict on the SUT."""
    fail_rows = {r["id"] for r in requirements if r["verdict"] == "FAIL"}
    return [s["name"] for s in scenarios if s["outcome"] == "failed"
            and not any(set(v["requirements"]) & fail_rows for v in s["verdicts"] if not v["passed"])]


def _what_passed(requirements: list[dict[str, Any]], gaps: list[dict[str, Any]], profile: str) -> str:
    """The claim a run without failures may make: how many requirements passed, never more than the rows."""
    passed = sum(1 for r in requirements if r["verdict"] == "PASS")
    if passed:
        return f"{passed} requirement(s) passed" + (f", {len(gaps)} MUST not tested" if gaps else "")
    judged = sum(1 for r in requirements if r["verdict"] in JUDGED)
    text = "no requirement passed" if judged else "no requirement was judged"
    if not requirements:
        return f"{text} (the catalog holds no requirement of profile {profile!r})"
    return f"{text} ({len(gaps)} MUST not tested)"


def _named_differences(requirements: list[dict[str, Any]]) -> str:
    """What a passing run still reports: the deviations and advisories, by requirement (they fail only --strict)."""
    parts = [f"{len(ids)} {label}: {', '.join(ids)}" for label, verdict in
             (("deviation(s) from our reading", "DEVIATION"), ("advisory(ies)", "ADVISORY"))
             if (ids := [r["id"] for r in requirements if r["verdict"] == verdict])]
    return ("; " + "; ".join(parts) + " (reported; they fail only --strict)") if parts else ""


def decide_result(record: RunRecord, scenarios: list[dict[str, Any]],
                  requirements: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's verdict, exit code and one-line headline (DESIGN.md section 5, issue 11)."""
    outcome_counts = Counter(s["outcome"] for s in scenarios)
    failed_musts = [r["id"] for r in requirements if r["verdict"] == "FAIL"]
    gaps = untested_musts(requirements)
    passed_rows = [r for r in requirements if r["verdict"] == "PASS"]
    unreachable = bool(scenarios) and all(s["outcome"] == "broken" and s["cause"] == "unreachable" for s in scenarios)
    unjudged_failures = _unjudged_failures(scenarios, requirements)
    chosen = selection_text(record.selection)
    if record.collection_errors:
        verdict, exit_code = "HARNESS ERROR", 1
        headline = (f"harness error: the suite could not be collected: {record.collection_errors[0]}"
                    + (f" (and {len(record.collection_errors) - 1} more)" if len(record.collection_errors) > 1 else ""))
    elif unreachable or record.aborted:
        verdict, exit_code = "UNREACHABLE", 3
        headline = record.aborted or "the SUT could not be reached in any scenario"
        if failed_musts:  # what failed before the WFM went silent is still a failure; say so
            headline += f"; before that, {len(failed_musts)} requirement(s) failed: {', '.join(failed_musts)}"
    elif record.interrupted:
        verdict, exit_code = "INTERRUPTED", 1
        headline = f"stopped by {record.interrupted} after {len(scenarios)} scenario(s); the summaries cover what ran"
    elif outcome_counts["failed"] and not failed_musts:
        verdict, exit_code = "HARNESS ERROR", 1
        headline = (f"harness error: {len(unjudged_failures)} scenario(s) failed on a check that names no requirement "
                    f"of profile {record.profile}: {', '.join(unjudged_failures[:3])}")
    elif outcome_counts["failed"]:
        verdict, exit_code = "FAIL", 1
        headline = f"{len(failed_musts)} requirement(s) failed: {', '.join(failed_musts)}"
        if unjudged_failures:
            headline += (f"; harness error: {len(unjudged_failures)} more scenario(s) failed on a check that names "
                         f"no requirement of profile {record.profile}: {', '.join(unjudged_failures[:3])}")
    elif outcome_counts["broken"]:
        verdict, exit_code = "INCOMPLETE", 1
        headline = f"{outcome_counts['broken']} scenario(s) could not be judged (broken)"
    elif not scenarios:
        verdict, exit_code = "NO SCENARIOS", 2
        headline = (f"no scenario matched the selection {chosen}" if chosen else
                    f"no scenario of the {record.role} suite applies to profile {record.profile}")
    elif record.selection:
        verdict, exit_code = "PARTIAL", 0
        headline = (f"{len(scenarios)} scenario(s) selected by {chosen}; "
                    f"{_what_passed(requirements, gaps, record.profile)}{_named_differences(requirements)} "
                    "(not a certification)")
    elif not any(r["verdict"] in JUDGED for r in requirements):  # judged nothing: never a pass, whatever the cause
        verdict, exit_code = "INCOMPLETE", 1
        headline = _what_passed(requirements, gaps, record.profile) + "; a run that judged no requirement certifies nothing"
    elif gaps or not passed_rows:  # a run that passed nothing never reads PASS
        verdict, exit_code = "PASS WITH GAPS", 0
        if passed_rows:
            headline = (f"PASS, {len(gaps)} MUST not tested: {', '.join(r['id'] for r in gaps)} "
                        "(summary.md ends with the checklist for the vendor to attest)")
        else:
            headline = _what_passed(requirements, gaps, record.profile)
        headline += _named_differences(requirements)
    elif differences := _named_differences(requirements):
        verdict, exit_code = "PASS", 0
        headline = f"no MUST failed{differences}"
    else:
        verdict, exit_code = "PASS", 0
        headline = "every requirement this suite judges passed"
    return {"verdict": verdict, "exit_code": exit_code, "failed_musts": failed_musts, "headline": headline,
            "untested_musts": [r["id"] for r in gaps], "blocked": blocked_groups(scenarios)}


BLOCKED_PREFIX = "blocked by "


def blocked_groups(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """NOT TESTED scenarios blocked by a failure the run already judged (the SUT stopped there), one entry per
    reason: what the summaries say once instead of once per scenario."""
    reasons = Counter(s["message"] for s in scenarios
                      if s["outcome"] == "not_tested" and s["message"].startswith(BLOCKED_PREFIX))
    return [{"reason": reason, "scenarios": count} for reason, count in reasons.items()]


def blocked_lines(summary: dict[str, Any]) -> list[str]:
    """``18 scenario(s) NOT TESTED, blocked by GEN-06 (the device exited after the onboarding answer)``."""
    return [f"{group['scenarios']} scenario(s) NOT TESTED, {group['reason']}"
            for group in summary["result"].get("blocked") or ()]


def build_summary(record: RunRecord, catalog: Any, *, finished_at: float | None = None) -> dict[str, Any]:
    """The summary of one run, from its record alone (pure: no pytest, no files)."""
    scenarios = record.scenario_dicts()
    requirements = rollup_requirements(catalog, record.profile, record.role, scenarios, strict=record.strict,
                                       deselected=record.deselected, selection_text=selection_text(record.selection))
    outcome_counts = Counter(s["outcome"] for s in scenarios)
    verdict_counts = Counter(r["verdict"] for r in requirements)
    axes = Counter(v["axis"] for s in scenarios for v in s["verdicts"] if v.get("axis"))
    finished = finished_at if finished_at is not None else time.time()
    return {
        "schema_version": 1,
        "harness": {"name": "margo-conformance", "version": __version__},
        "profile": {"id": record.profile, "baseline": profile_baseline(catalog, record.profile)},
        "sut": {
            "name": record.sut.name,
            "role": record.role,
            "source": record.sut.source,
            "defects": list(record.sut.defects),
            "facts": dict(sorted(record.sut.facts.items())),
            "vendor": record.sut.vendor,
            "product": record.sut.product,
            "version": record.sut.version,
        },
        "catalog": {"digest": record.catalog_digest or _catalog_digest(catalog)},
        "record": {"signed": record.record_signer is not None, "signer": record.record_signer},
        "run": {
            "started_at": _iso(record.started_at),
            "finished_at": _iso(finished),
            "duration_s": round(finished - record.started_at, 3),
            "strict": record.strict,
            "selection": record.selection,
            "interrupted": record.interrupted,
            "collection_errors": list(record.collection_errors),
            "lab": record.lab,
            "engineer": record.engineer,
        },
        "result": decide_result(record, scenarios, requirements),
        "counts": {
            "scenarios": {k: outcome_counts.get(k, 0) for k in SCENARIO_OUTCOMES},
            "requirements": {k: verdict_counts.get(k, 0) for k in REQUIREMENT_VERDICTS},
            "axes": {k: axes.get(k, 0) for k in AXES},
        },
        "scenarios": scenarios,
        "requirements": requirements,
        "deviations": deviations(scenarios),
        "interpretations": _interpretations(catalog, scenarios),
        "paths": {"output": record.output},
    }


def _catalog_digest(catalog: Any) -> str | None:
    from ..catalog_digest import catalog_digest

    try:
        return catalog_digest(catalog)
    except (AttributeError, TypeError):  # a stand-in catalog of a unit test
        return None


def profile_baseline(catalog: Any, profile: str) -> str:
    """The spec commit of the run's own profile, from the catalog (never another profile's constant)."""
    try:
        return str(catalog.profile(profile).baseline)
    except KeyError:
        return f"unknown: profile {profile!r} is not in the requirement catalog"


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# --- writing --------------------------------------------------------------------------------


def validate_summary(summary: dict[str, Any]) -> list[str]:
    """Errors of ``summary`` against the shipped summary schema (empty when valid)."""
    import jsonschema

    schema = json.loads(SUMMARY_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(summary)]


def write_outputs(summary: dict[str, Any], output: Path, catalog: Any, profile: str) -> None:
    from .allure_env import write_categories, write_environment
    from .markdown import render_markdown

    output.mkdir(parents=True, exist_ok=True)
    errors = validate_summary(summary)
    if errors:  # our bug, but never lose the run's data: write it and say so
        summary.setdefault("warnings", []).extend(f"summary schema: {e}" for e in errors)
    (output / "summary.json").write_text(redact(json.dumps(summary, indent=2, default=str)) + "\n")
    (output / "summary.md").write_text(redact(render_markdown(summary)))
    allure_dir = output / "allure-results"
    allure_dir.mkdir(parents=True, exist_ok=True)
    write_environment(allure_dir, summary)
    write_categories(allure_dir)
    from .requirements_page import write_requirements_page

    write_requirements_page(output / "requirements.html", catalog, profile, summary)
