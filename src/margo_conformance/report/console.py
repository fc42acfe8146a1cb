"""What a person sees in the terminal: a header, progress or one line per scenario, and the summary block."""

from __future__ import annotations

from typing import Any

#: How each scenario outcome reads on a console line.
OUTCOME_WORD = {"passed": "PASS", "failed": "FAIL", "broken": "BROKEN", "not_tested": "NOT TESTED"}


def run_header(record: Any, planned: int) -> str:
    """``Certifying <name> (role wfm, profile ...): 138 scenarios`` plus the selection, if any."""
    from .summary import selection_text

    chosen = selection_text(record.selection)
    return (f"Certifying {record.sut.name} (role {record.role}, profile {record.profile}): {planned} scenario(s)"
            + (f" selected by {chosen}" if chosen else ""))


def scenario_line(scenario: dict[str, Any], done: int, planned: int) -> str:
    """``[ 12/138] FAIL       SIG-11 SIG-12  The capabilities PUT refuses ...: why`` (``run -v``)."""
    width = len(str(planned))
    ids = " ".join(scenario["requirements"]) or "-"
    line = f"[{done:>{width}}/{planned}] {OUTCOME_WORD.get(scenario['outcome'], '?'):<10} {ids}  {scenario['name']}"
    if scenario["outcome"] != "passed" and scenario.get("message"):
        line += f": {scenario['message'].splitlines()[0][:160]}"
    return line


def progress_line(done: int, planned: int, counts: dict[str, int], current: str) -> str:
    percent = 100 * done // max(1, planned)
    return (f"scenario {done} of {planned} ({percent}%), failed {counts.get('failed', 0)}, "
            f"broken {counts.get('broken', 0)}: {current}")


def render_console_summary(summary: dict[str, Any]) -> list[str]:
    counts = summary["counts"]
    sc, rq, ax = counts["scenarios"], counts["requirements"], counts["axes"]
    sut, result = summary["sut"], summary["result"]
    lines = [
        "=" * 78,
        f"Margo conformance: {sut['name']} (role {sut['role']}, profile {summary['profile']['id']}, "
        f"spec {summary['profile']['baseline']})",
        f"Result: {result['verdict']}  (exit code {result['exit_code']})",
        f"        {result['headline']}",
        *_identity_lines(summary),
    ]
    from .summary import selection_text

    if summary["run"].get("selection"):
        lines.append(f"Selection:    {selection_text(summary['run']['selection'])} (a partial run, not a certification)")
    lines += [
        "Scenarios:    " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sc.items()),
        "Requirements: " + ", ".join(f"{k} {v}" for k, v in rq.items()),
        f"Axes:         MUST violations {ax['must']}, interpretation differences {ax['interpretation']}, "
        f"advisories {ax['advisory']}",
    ]
    for row in [r for r in summary["requirements"] if r["verdict"] == "FAIL"][:8]:
        lines.append(f"FAIL {row['id']}: {row['reason'][:200]}")
    from .summary import blocked_lines

    lines += [f"Blocked:      {line}" for line in blocked_lines(summary)]
    broken = [s for s in summary["scenarios"] if s["outcome"] == "broken"]
    for s in broken[:5]:
        lines.append(f"Broken: {s['name']}: {s['message'][:150]}")
    if len(broken) > 5:
        lines.append(f"Broken: ... and {len(broken) - 5} more")
    if summary.get("paths", {}).get("output"):
        lines.append(f"Report: {summary['paths']['output']}/summary.md")
    lines.append("=" * 78)
    return lines


def _identity_lines(summary: dict[str, Any]) -> list[str]:
    """Who and what was certified, with which harness and catalog (issue 21); the record line comes from the run."""
    sut, run = summary["sut"], summary["run"]
    product = " ".join(str(sut[k]) for k in ("vendor", "product", "version") if sut.get(k))
    lines = [f"Certified:    {product}"] if product else []
    if run.get("lab") or run.get("engineer"):
        lines.append(f"Lab:          {run.get('lab') or '-'}, engineer {run.get('engineer') or '-'}")
    digest = (summary.get("catalog") or {}).get("digest")
    lines.append(f"Harness:      margo-conformance {summary['harness']['version']}, spec {summary['profile']['baseline']}"
                 + (f", catalog sha256 {digest[:16]}..." if digest else ""))
    return lines
