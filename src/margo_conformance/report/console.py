"""The one-screen console summary printed at the end of every run (counts, failed MUSTs, report path)."""

from __future__ import annotations

from typing import Any


def render_console_summary(summary: dict[str, Any]) -> list[str]:
    counts = summary["counts"]
    sc, rq, ax = counts["scenarios"], counts["requirements"], counts["axes"]
    sut = summary["sut"]
    lines = [
        "=" * 78,
        f"Margo conformance: {sut['name']} (role {sut['role']}, profile {summary['profile']['id']})",
        f"Result: {summary['result']['verdict']}  (exit code {summary['result']['exit_code']})",
        "Scenarios:    " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sc.items()),
        "Requirements: " + ", ".join(f"{k} {v}" for k, v in rq.items()),
        f"Axes:         MUST violations {ax['must']}, interpretation differences {ax['interpretation']}, "
        f"advisories {ax['advisory']}",
    ]
    failed = summary["result"]["failed_musts"]
    if failed:
        lines.append("Failed MUSTs: " + ", ".join(failed))
    broken = [s for s in summary["scenarios"] if s["outcome"] == "broken"]
    for s in broken[:5]:
        lines.append(f"Broken: {s['name']}: {s['message'][:150]}")
    if len(broken) > 5:
        lines.append(f"Broken: ... and {len(broken) - 5} more")
    if summary.get("paths", {}).get("output"):
        lines.append(f"Report: {summary['paths']['output']}")
    lines.append("=" * 78)
    return lines
