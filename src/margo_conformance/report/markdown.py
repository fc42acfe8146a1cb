"""summary.md: the conformance summary a person pastes into a ticket."""

from __future__ import annotations

from typing import Any

#: What the "Level" column shows: the level the spec text gives (catalog ``level``).
LEVEL_LEGEND = (
    "Level (what the spec text gives): MUST / SHOULD / MAY as written; IMPL implied by routes, schemas, examples "
    "or diagrams (judged as MUST); EX only an example, not normative; SILENT the text says nothing and the verdict "
    "rests on our stated position (a Q-ID); CONTRADICTION two spec texts disagree and the verdict rests on a Q-ID; "
    "INFORMATIVE descriptive text. How a failure counts is the catalog's verdict level for this role (MUST fails "
    "the run; SHOULD and MAY are advisories)."
)


def _failed_requirement_lines(summary: dict[str, Any]) -> list[str]:
    """Each failed requirement first: what was expected, what the SUT did, where the evidence is."""
    out: list[str] = []
    by_id = {s["id"]: s for s in summary["scenarios"]}
    for r in [r for r in summary["requirements"] if r["verdict"] == "FAIL"]:
        out += [f"### {r['id']} ({r['level']}, {r['verdict_level']} for this role): {_cell(r['text'])}", ""]
        shown = 0
        for sid in r["scenarios"]:
            scenario = by_id.get(sid)
            if scenario is None:
                continue
            for v in scenario["verdicts"]:
                if v["passed"] or r["id"] not in v["requirements"] or v.get("kind") == "observation":
                    continue
                out += [f"- **{_cell(scenario['name'])}**: {_cell(v['what'])}",
                        f"  - expected: `{_cell(v['expected'])}`",
                        f"  - observed: `{_cell(v['observed'])}`"]
                if v.get("findings"):
                    out.append("  - findings: " + ", ".join(f"`{f['code']}`" for f in v["findings"]))
                if scenario.get("basis"):
                    out.append(f"  - basis: {_basis_text(scenario['basis'])}")
                out.append(f"  - evidence: Allure test \"{' '.join(scenario['requirements'])} "
                           f"{_cell(scenario['name'])}\", failing step (request, response, TLS facts, signature "
                           f"base); summary.json scenario `{sid}`")
                shown += 1
                if shown >= 3:
                    break
            if shown >= 3:
                break
        out.append("")
    return out


def _basis_text(basis: dict[str, Any]) -> str:
    if basis["kind"] == "analogy":
        return f"by analogy ({basis['question']}, interpretation axis): {_cell(basis['cites'])}"
    return f"named by the text (the requirement's level): {_cell(basis['cites'])}"


def _basis_table(summary: dict[str, Any]) -> list[str]:
    """Every scenario made by rule with where its level comes from (DIGEST 6.1 rule 3), analogies first."""
    ruled = [s for s in summary["scenarios"] if s.get("basis")]
    if not ruled:
        return []
    analogies = [s for s in ruled if s["basis"]["kind"] == "analogy"]
    out = ["", "## Rows made by rule, and where each gets its level", "",
           f"{len(ruled)} scenarios apply a requirement by rule (a route x fault row, an operator state, a held "
           f"request, a device-side analogue). {len(ruled) - len(analogies)} cover a case the spec text names and "
           f"are judged at the requirement's own level; {len(analogies)} carry a rule to a case the text does not "
           "name and are judged on the interpretation axis under their question, with a check of their own for any "
           "MUST they could still break (DIGEST 6.1 rule 3).", "",
           "| Scenario | Outcome | Requirements | Basis |", "|---|---|---|---|"]
    for s in analogies + [s for s in ruled if s["basis"]["kind"] != "analogy"]:
        out.append(f"| {_cell(s['name'])} | {s['outcome'].replace('_', ' ')} | {' '.join(s['requirements'])} | "
                   f"{_basis_text(s['basis'])} |")
    return out


def _attestation_checklist(summary: dict[str, Any]) -> list[str]:
    rows = [r for r in summary["requirements"] if r["verdict"] == "NOT TESTED" and r["verdict_level"] == "MUST"]
    if not rows:
        return []
    out = ["", "## Attestation checklist", "",
           "These MUST requirements were not judged by this run. The vendor attests each one (or configures what the "
           "run needs, e.g. an operator hook, and runs again):", ""]
    for r in rows:
        out.append(f"- [ ] **{r['id']}** {_cell(r['text'])} _(not tested: {_cell(r['reason'])})_")
    return out


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: dict[str, Any]) -> str:
    sut, result, counts = summary["sut"], summary["result"], summary["counts"]
    out = [
        f"# Margo conformance summary: {sut['name']}",
        "",
        f"- **Result:** {result['verdict']} (exit code {result['exit_code']}): {result['headline']}",
        f"- **Role:** {sut['role']}  **Profile:** {summary['profile']['id']} (spec {summary['profile']['baseline']})",
        *_identity_lines(summary),
        f"- **Date:** {summary['run']['started_at']} to {summary['run']['finished_at']}  "
        f"**Duration:** {summary['run']['duration_s']} s",
        f"- **Harness:** margo-conformance {summary['harness']['version']}",
        f"- **SUT source:** {sut['source']}" + (f"  **Defects:** {', '.join(sut['defects'])}" if sut["defects"] else ""),
        *([f"- **Selection:** {_selection(summary)}: a partial run, not a certification; requirements whose "
            "scenarios were left out read NOT TESTED (deselected)"] if summary["run"].get("selection") else []),
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
    from .summary import blocked_lines

    for line in blocked_lines(summary):  # once, not once per scenario
        out += [f"**Blocked:** {line}: the SUT stopped there, so these scenarios could not be judged.", ""]
    if result["failed_musts"]:
        out += ["**Failed requirements:** " + ", ".join(result["failed_musts"]), "", "## Failed requirements", ""]
        out += _failed_requirement_lines(summary)
    out += ["## Requirements", "",
            "Verdict: PASS (a check bound to it ran and passed, none failed); FAIL (fails the run); "
            "DEVIATION (differs from our reading of ambiguous text, named by Q-ID; fails only with --strict); "
            "ADVISORY (a SHOULD/MAY or interop note failed; fails only with --strict); NOT TESTED (with the reason); "
            "NOT APPLICABLE (binds the other side).", "", LEVEL_LEGEND, "",
            "| ID | Level | Verdict | Scenarios | Reason |", "|---|---|---|---|---|"]
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
    out += _basis_table(summary)
    out += _attestation_checklist(summary)
    return "\n".join(out) + "\n"


def _identity_lines(summary: dict[str, Any]) -> list[str]:
    """Who and what was certified, by whom, against which catalog, and whether the record is signed (issue 21)."""
    sut, run = summary["sut"], summary["run"]
    product = " ".join(str(sut[k]) for k in ("vendor", "product", "version") if sut.get(k))
    out = [f"- **Certified:** {_cell(product) if product else '(vendor, product and version not given in [sut])'}"]
    if run.get("lab") or run.get("engineer"):
        out.append(f"- **Lab:** {_cell(run.get('lab') or '-')}  **Engineer:** {_cell(run.get('engineer') or '-')}")
    catalog = (summary.get("catalog") or {}).get("digest")
    if catalog:
        out.append(f"- **Catalog:** sha256 {catalog}")
    record = summary.get("record")
    if record is not None:
        out.append(f"- **Record:** signed by {_cell(record['signer'])}" if record.get("signed") else
                   "- **Record:** UNSIGNED: record.json and record.dsse.json list every file with its SHA-256, but carry "
                   "no signature (run with --sign-key and --sign-cert to sign)")
    return out


def _selection(summary: dict[str, Any]) -> str:
    from .summary import selection_text

    return selection_text(summary["run"]["selection"])
