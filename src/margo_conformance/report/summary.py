"""The conformance summary: per-scenario outcomes rolled up per requirement, in JSON and Markdown.

Roll-up rules (one place, so JUnit, Allure and the summary always agree on the counts):

- a requirement FAILs when any recorded verdict that names it failed (MUST, SHOULD or MAY alike; the
  axis says how it counts);
- it PASSes when it has a passed verdict or a passed scenario tagged with it, and nothing failed;
- it is NOT TESTED (with the reason) when every scenario behind it was skipped or broken, or when
  the suite has no scenario for it (e.g. attestation-only requirements);
- it is NOT APPLICABLE when it binds the other role.

Exit code: 0 every MUST scenario passed (NOT TESTED allowed); 1 a scenario failed or broke;
3 nothing could be judged because the SUT was unreachable. (2 is decided before a run starts.)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import SPEC_BASELINE, __version__
from ..evidence import redact
from ..resources import SCHEMAS_DIR

if TYPE_CHECKING:
    from ..pytest_plugin import RunState

SUMMARY_SCHEMA = SCHEMAS_DIR / "report" / "summary.schema.json"
SCENARIO_OUTCOMES = ("passed", "failed", "broken", "not_tested")
REQUIREMENT_VERDICTS = ("PASS", "FAIL", "NOT TESTED", "NOT APPLICABLE")


def _applies(binds: str, role: str) -> bool:
    return binds in ("both", role)


def rollup_requirements(catalog: Any, profile: str, role: str, scenarios: list[dict[str, Any]], *,
                        strict: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for req in sorted(catalog.all(), key=lambda r: _id_key(r.id)):
        if profile not in req.profiles:
            continue
        tagged = [s for s in scenarios if req.id in s["requirements"]]
        named = [(s, v) for s in scenarios for v in s["verdicts"] if req.id in v["requirements"]]
        failed_any = [(s, v) for s, v in named if not v["passed"]]
        # A failed advisory sub-check (e.g. "prefer 400") does not fail a MUST requirement; it is noted.
        failed = [(s, v) for s, v in failed_any
                  if v["axis"] in ("must", "interpretation") or req.verdict_level != "MUST" or strict]
        notes = [(s, v) for s, v in failed_any if (s, v) not in failed]
        row: dict[str, Any] = {
            "id": req.id,
            "level": req.level,
            "verdict_level": req.verdict_level,
            "binds": req.binds,
            "text": req.text,
            "interpretations": list(req.interpretations),
            "scenarios": list(dict.fromkeys([s["id"] for s in tagged] + [s["id"] for s, _ in named])),
            "reason": "",
            "axis": None,
        }
        if not _applies(req.binds, role):
            row["verdict"], row["reason"] = "NOT APPLICABLE", f"binds the {req.binds} side, this run certifies a {role}"
        elif failed:
            row["verdict"] = "FAIL"
            row["axis"] = _strongest_axis([v["axis"] for _, v in failed])
            first_s, first_v = failed[0]
            row["reason"] = f"{first_s['name']}: {first_v['what']} (expected {first_v['expected']!r}, observed {first_v['observed']!r})"
            row["scenarios"] = list(dict.fromkeys(row["scenarios"] + [s["id"] for s, _ in failed]))
        elif any(v["passed"] for _, v in named) or any(s["outcome"] == "passed" for s in tagged):
            row["verdict"] = "PASS"
            if notes:
                s0, v0 = notes[0]
                row["reason"] = f"advisory: {v0['what']} (expected {v0['expected']!r}, observed {v0['observed']!r})"
        elif tagged:
            row["verdict"] = "NOT TESTED"
            reasons = [f"{s['outcome'].replace('_', ' ')}: {s['message']}" for s in tagged if s["message"]]
            row["reason"] = reasons[0] if reasons else "no scenario reached a verdict"
        elif getattr(req, "verified_by", "scenario") == "attestation":
            row["verdict"], row["reason"] = "NOT TESTED", "verified by the vendor's attestation, not by a scenario"
        else:
            row["verdict"], row["reason"] = "NOT TESTED", "no scenario of this suite verifies it"
        rows.append(row)
    return rows


def _id_key(req_id: str) -> tuple[str, int, str]:
    prefix, _, rest = req_id.partition("-")
    digits = "".join(ch for ch in rest if ch.isdigit())
    return (prefix, int(digits) if digits else 0, rest)


def _strongest_axis(axes: list[str | None]) -> str | None:
    for axis in ("must", "interpretation", "advisory"):
        if axis in axes:
            return axis
    return None


def build_summary(state: RunState) -> dict[str, Any]:
    scenarios = [dict(s, outcome=s["outcome"] or "broken") for s in state.scenarios.values()]
    requirements = rollup_requirements(state.catalog, state.profile, state.role, scenarios, strict=state.strict)
    outcome_counts = Counter(s["outcome"] for s in scenarios)
    verdict_counts = Counter(r["verdict"] for r in requirements)
    axes = Counter(v["axis"] for s in scenarios for v in s["verdicts"] if v["axis"])
    failed_musts = sorted(
        {r["id"] for r in requirements
         if r["verdict"] == "FAIL" and (r["axis"] in ("must", "interpretation") or state.strict)},
        key=_id_key,
    )
    unreachable = bool(scenarios) and all(
        s["outcome"] == "broken" and ("SutUnreachable" in s["message"]) for s in scenarios
    )
    if unreachable:
        verdict, exit_code = "UNREACHABLE", 3
    elif outcome_counts["failed"]:
        verdict, exit_code = "FAIL", 1
    elif outcome_counts["broken"]:
        verdict, exit_code = "INCOMPLETE", 1
    elif not scenarios:
        verdict, exit_code = "NO SCENARIOS", 1
    else:
        verdict, exit_code = "PASS", 0
    q_ids = sorted({q for s in scenarios for q in s["interpretations"]}
                   | {q for s in scenarios for v in s["verdicts"] for q in v["interpretations"]},
                   key=lambda q: int(q.split("-")[1]))
    interpretations = []
    for qid in q_ids:
        try:
            q = state.catalog.question(qid)
            interpretations.append({"id": qid, "question": q.get("question", ""), "position": q.get("position", "")})
        except (KeyError, AttributeError):
            interpretations.append({"id": qid, "question": "", "position": ""})
    finished = time.time()
    return {
        "schema_version": 1,
        "harness": {"name": "margo-conformance", "version": __version__},
        "profile": {"id": state.profile, "baseline": SPEC_BASELINE},
        "sut": {
            "name": state.sut.name,
            "role": state.role,
            "source": state.sut.source,
            "defects": list(state.sut.defects),
            "facts": dict(sorted({**state.sut.describe(), **state.facts}.items())),
        },
        "run": {
            "started_at": _iso(state.started_at),
            "finished_at": _iso(finished),
            "duration_s": round(finished - state.started_at, 3),
            "strict": state.strict,
        },
        "result": {"verdict": verdict, "exit_code": exit_code, "failed_musts": failed_musts},
        "counts": {
            "scenarios": {k: outcome_counts.get(k, 0) for k in SCENARIO_OUTCOMES},
            "requirements": {k: verdict_counts.get(k, 0) for k in REQUIREMENT_VERDICTS},
            "axes": {k: axes.get(k, 0) for k in ("must", "interpretation", "advisory")},
        },
        "scenarios": scenarios,
        "requirements": requirements,
        "interpretations": interpretations,
        "paths": {"output": str(state.output) if state.output else None},
    }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# --- writing --------------------------------------------------------------------------------


def validate_summary(summary: dict[str, Any]) -> list[str]:
    """Errors of ``summary`` against the shipped summary schema (empty when valid)."""
    import jsonschema

    schema = json.loads(SUMMARY_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(summary)]


def write_outputs(summary: dict[str, Any], output: Path, state: RunState) -> None:
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

    write_requirements_page(output / "requirements.html", state.catalog, state.profile, summary)
