"""summary.md: the conformance summary a person pastes into a ticket."""

from __future__ import annotations

from typing import Any


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict[str, Any]) -> str:
    sut, result, counts = summary["sut"], summary["result"], summary["counts"]
    out = [
        f"# Margo conformance summary: {sut['name']}",
        "",
        f"- **Result:** {result['verdict']} (exit code {result['exit_code']})",
        f"- **Role:** {sut['role']}  **Profile:** {summary['profile']['id']} (spec {summary['profile']['baseline']})",
        f"- **Date:** {summary['run']['started_at']}  **Duration:** {summary['run']['duration_s']} s",
        f"- **Harness:** margo-conformance {summary['harness']['version']}",
        f"- **SUT source:** {sut['source']}" + (f"  **Defects:** {', '.join(sut['defects'])}" if sut["defects"] else ""),
        "",
        "## Verdict axes",
        "",
        f"- MUST violations: {counts['axes']['must']}",
        f"- Differences from our interpretation of ambiguous text: {counts['axes']['interpretation']}",
        f"- Advisories (SHOULD / MAY, interop notes): {counts['axes']['advisory']}",
        "",
        "Scenarios: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts["scenarios"].items()),
        "",
        "Requirements: " + ", ".join(f"{k} {v}" for k, v in counts["requirements"].items()),
        "",
    ]
    if result["failed_musts"]:
        out += ["**Failed requirements:** " + ", ".join(result["failed_musts"]), ""]
    out += ["Requirement verdicts: PASS (a check bound to it ran and passed, none failed); FAIL (fails the run);",
            "DEVIATION (differs from our reading of ambiguous text, named by Q-ID; fails only with --strict);",
            "ADVISORY (a SHOULD/MAY or interop note failed; fails only with --strict); NOT TESTED (with the reason);",
            "NOT APPLICABLE (binds the other side).", ""]
    out += ["## Requirements", "", "| ID | Level | Verdict | Scenarios | Reason |", "|---|---|---|---|---|"]
    names = {s["id"]: s["name"] for s in summary["scenarios"]}
    for r in summary["requirements"]:
        scen = "; ".join(names.get(sid, sid) for sid in r["scenarios"][:4])
        if len(r["scenarios"]) > 4:
            scen += f"; +{len(r['scenarios']) - 4} more"
        verdict = r["verdict"] + (f" ({r['axis']})" if r["axis"] else "")
        out.append(f"| {r['id']} | {r['level']} | {verdict} | {_cell(scen)} | {_cell(r['reason'])} |")
    problems = [s for s in summary["scenarios"] if s["outcome"] in ("failed", "broken")]
    if problems:
        out += ["", "## Failed and broken scenarios", ""]
        for s in problems:
            out.append(f"- **{s['outcome'].upper()}** {_cell(s['name'])} ({s['feature']}): {_cell(s['message'])}")
    advisories = [(s, v) for s in summary["scenarios"] for v in s["verdicts"] if v["axis"] == "advisory"]
    if advisories:
        out += ["", "## Advisories", ""]
        for s, v in advisories:
            out.append(f"- {' '.join(v['requirements'])} {_cell(v['what'])}: expected {_cell(v['expected'])}, "
                       f"observed {_cell(v['observed'])} ({_cell(s['name'])})")
    if summary.get("deviations"):
        out += ["", "## Deviations from our interpretation (by Q-ID)", ""]
        for d in summary["deviations"]:
            out.append(f"- **{' '.join(d['interpretations'])}** ({' '.join(d['requirements'])}) {_cell(d['what'])}: "
                       f"expected {_cell(d['expected'])}, observed {_cell(d['observed'])}, "
                       f"{d['choice']} answer ({_cell(d['scenario'])})")
    if summary["interpretations"]:
        out += ["", "## Interpretations these verdicts rest on", ""]
        for q in summary["interpretations"]:
            line = f"- **{q['id']}** {_cell(q['question'])} Position: {_cell(q['position'])}"
            if q.get("observed"):
                line += " SUT answered: " + "; ".join(f"{_cell(o['answer'])} (x{o['count']})" for o in q["observed"])
            out.append(line)
    return "\n".join(out) + "\n"
