"""The results of a load run: load-summary.json (validated), load-summary.md, an SVG plot, Locust's HTML report.

Per route: count, rate, p50/p95/p99 latency (Locust's statistics, merged from every worker), and the
harness's classification (expected / allowed / violation, by status and problem type, violation reasons).
The verdict fails when the violation rate is above ``--max-violation-rate`` or when nothing was measured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..resources import SCHEMAS_DIR
from .classify import ROUTES, Tally

LOAD_SUMMARY_SCHEMA = SCHEMAS_DIR / "report" / "load-summary.schema.json"
_METHOD = {"onboarding POST": "POST", "capabilities PUT": "PUT", "capabilities DELETE": "DELETE"}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def route_rows(env: Any, tally: Tally, duration_s: float) -> list[dict[str, Any]]:
    tallied = tally.to_dict()
    rows = []
    names = list(ROUTES) + sorted(n for n in tallied if n not in ROUTES)
    for name in names:
        method = _METHOD.get(name.split(" (")[0], "PUT")
        entry = env.stats.get(name, method)
        counts = tallied.get(name, {})
        classes = counts.get("class", {})
        rows.append({
            "route": name,
            "count": entry.num_requests,
            "rate_per_s": round(entry.num_requests / duration_s, 2) if duration_s > 0 else 0.0,
            "latency_ms": {f"p{p}": _percentile(entry, p / 100) for p in (50, 95, 99)},
            "expected": classes.get("expected", 0),
            "allowed": classes.get("allowed", 0),
            "violations": classes.get("violation", 0),
            "by_status": dict(sorted(counts.get("status", {}).items())),
            "by_problem_type": dict(sorted(counts.get("problem", {}).items())),
            "violation_reasons": dict(sorted(counts.get("violation", {}).items())),
        })
    return rows


def _percentile(entry: Any, fraction: float) -> float | None:
    return float(entry.get_response_time_percentile(fraction)) if entry.num_requests else None


def build_load_summary(*, env: Any, sut: Any, opts: Any, tally: Tally, samples: list[Any], started: float,
                       ended: float, finished_by: str, workers: int) -> dict[str, Any]:
    duration = max(ended - started, 1e-9)
    routes = route_rows(env, tally, duration)
    total = tally.total()
    violations = tally.total("violation")
    rate = violations / total if total else 0.0
    onboarded = next(r for r in routes if r["route"] == "onboarding POST")["expected"]
    # A signed-request fleet starts by onboarding; an SVID fleet (mutual TLS) has no onboarding and starts
    # with its first accepted PUT.
    svid_fleet = getattr(opts, "authenticator", "httpsig") == "mtls-svid"
    started_ok = next(r for r in routes if r["route"] == "capabilities PUT")["expected"] if svid_fleet else onboarded
    if total == 0 or started_ok == 0:
        verdict, exit_code, why = "FAIL", 1, ("no client was served: nothing was measured" if svid_fleet
                                              else "no device onboarded: nothing was measured")
    elif rate > opts.max_violation_rate:
        verdict, exit_code = "FAIL", 1
        why = (f"{violations} violation(s) in {total} answers ({rate:.2%}), above the allowed "
               f"{opts.max_violation_rate:.2%}")
    else:
        verdict, exit_code = "PASS", 0
        why = f"{violations} violation(s) in {total} answers, within the allowed {opts.max_violation_rate:.2%}"
    return {
        "schema_version": 1,
        "harness": {"name": "margo-conformance", "version": __version__},
        "sut": {"name": sut.name, "profile": sut.profile, **_spec_of(sut.profile),
                "base_url": sut.wfm.base_url if sut.wfm else "", "defects": list(opts.defects)},
        "run": {"started_at": _iso(started), "finished_at": _iso(ended), "duration_s": round(duration, 2),
                "finished_by": finished_by, "devices": opts.devices, "spawn_rate": opts.spawn_rate,
                "report_every_s": opts.report_every_s, "reports_per_device": opts.reports,
                "fault_share": opts.fault_share, "processes": max(1, workers), "max_violation_rate": opts.max_violation_rate},
        "result": {"verdict": verdict, "exit_code": exit_code, "headline": why, "answers": total,
                   "violations": violations, "violation_rate": round(rate, 6),
                   "allowed": tally.total("allowed")},
        "totals": {"requests": env.stats.total.num_requests, "failures": env.stats.total.num_failures,
                   "rate_per_s": round(env.stats.total.num_requests / duration, 2),
                   "onboardings_per_s": round(onboarded / duration, 2)},
        "routes": routes,
        "timeline": [{"t_s": s.t_s, "users": s.users,
                      "onboardings_per_s": round(s.rates["onboarding POST"], 2),
                      "puts_per_s": round(s.rates["capabilities PUT"], 2),
                      "p95_put_ms": s.p95_ms.get("capabilities PUT"),
                      "p95_onboarding_ms": s.p95_ms.get("onboarding POST")} for s in samples],
    }


def validate_load_summary(summary: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads(LOAD_SUMMARY_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(summary)]


def _spec_of(name: str | None) -> dict[str, str]:
    """``{"spec": "margo/specification@<commit>"}`` of the profile, so the JSON summary stamps the spec too."""
    if not name:
        return {}
    from ..profiles import load_profile

    return {"spec": load_profile(name).spec}


def _profile_line(name: str | None) -> list[str]:
    """The profile and the spec commit it stands for (reports stamp both wherever a verdict appears)."""
    if not name:
        return []
    from ..profiles import load_profile

    try:
        spec = load_profile(name).spec
    except Exception:  # noqa: BLE001 - a summary from another harness version: the name alone
        return [f"- **Profile:** {name}"]
    return [f"- **Profile:** {name} ({spec})"]


def render_markdown(summary: dict[str, Any]) -> str:
    r, run = summary["result"], summary["run"]
    out = [f"# Margo fleet load: {summary['sut']['name']}", "",
           f"- **Result:** {r['verdict']} (exit code {r['exit_code']}): {r['headline']}",
           *_profile_line(summary["sut"].get("profile")),
           f"- **Fleet:** {run['devices']} devices, spawn rate {run['spawn_rate']}/s, {run['reports_per_device']} "
           f"reports each every {run['report_every_s']} s, {run['fault_share']:.0%} extra PUTs that must be refused "
           f"(wrong-key signatures, or clients of another trust domain / without a certificate, as the profile "
           f"authenticates); {run['processes']} load process(es)",
           f"- **Duration:** {run['duration_s']} s (ended: {run['finished_by']})  **Date:** {run['started_at']}",
           f"- **Throughput:** {summary['totals']['rate_per_s']} requests/s, "
           f"{summary['totals']['onboardings_per_s']} onboardings/s", "",
           "Expected: the answer a conformant WFM gives. Allowed: 429/503 with Retry-After (the device waited and "
           "retried). Violation: a 5xx, 429/503 without Retry-After, a 2xx for a request that must fail, a 4xx for "
           "a correct one, an onboarding answer without a valid clientId, or no answer.", "",
           "| Route | Count | Rate/s | p50 ms | p95 ms | p99 ms | Expected | Allowed | Violations | By status |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary["routes"]:
        lat = row["latency_ms"]
        statuses = ", ".join(f"{k}: {v}" for k, v in row["by_status"].items())
        out.append(f"| {row['route']} | {row['count']} | {row['rate_per_s']} | {_ms(lat['p50'])} | {_ms(lat['p95'])} | "
                   f"{_ms(lat['p99'])} | {row['expected']} | {row['allowed']} | {row['violations']} | {statuses} |")
    reasons = [(row["route"], k, v) for row in summary["routes"] for k, v in row["violation_reasons"].items()]
    if reasons:
        out += ["", "## Violations", ""] + [f"- {route}: {reason} (x{n})" for route, reason, n in reasons]
    problems = [(row["route"], k, v) for row in summary["routes"] for k, v in row["by_problem_type"].items()]
    if problems:
        out += ["", "## Problem types answered", ""] + [f"- {route}: `{t}` (x{n})" for route, t, n in problems]
    out += ["", "Files: `load-summary.json` (schemas/report/load-summary.schema.json), `locust-report.html` "
            "(Locust's report with its charts), `load-timeline.svg` (onboardings/s, PUTs/s, p95 over time)."]
    return "\n".join(out) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def timeline_svg(timeline: list[dict[str, Any]], *, width: int = 900, height: int = 320) -> str:
    """Onboardings/s and PUTs/s (left axis) and p95 PUT latency (right axis) over time, as a small SVG."""
    pad = 50
    t_max = max([p["t_s"] for p in timeline] + [1.0])
    rate_max = max([max(p["onboardings_per_s"], p["puts_per_s"]) for p in timeline] + [1.0])
    lat_max = max([p["p95_put_ms"] or 0 for p in timeline] + [1.0])

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / t_max

    def y(v: float, top: float) -> float:
        return height - pad - (height - 2 * pad) * v / top

    def line(key: str, top: float, colour: str) -> str:
        pts = " ".join(f"{x(p['t_s']):.1f},{y(p[key] or 0, top):.1f}" for p in timeline)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>'

    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
        f'<line x1="{width - pad}" y1="{pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
        line("onboardings_per_s", rate_max, "#1f77b4"), line("puts_per_s", rate_max, "#2ca02c"),
        line("p95_put_ms", lat_max, "#d62728"),
        f'<text x="{pad}" y="{pad - 10}">req/s (max {rate_max:.0f})</text>',
        f'<text x="{width - pad - 110}" y="{pad - 10}" fill="#d62728">p95 PUT ms (max {lat_max:.0f})</text>',
        f'<text x="{width / 2 - 30}" y="{height - 15}">time (s, 0..{t_max:.0f})</text>',
        f'<text x="{pad + 10}" y="{pad + 15}" fill="#1f77b4">onboardings/s</text>',
        f'<text x="{pad + 10}" y="{pad + 30}" fill="#2ca02c">PUTs/s</text>',
        "</svg>"])


def write_outputs(output: Path, *, env: Any, sut: Any, opts: Any, tally: Tally, samples: list[Any], started: float,
                  ended: float, finished_by: str, workers: int) -> dict[str, Any]:
    output.mkdir(parents=True, exist_ok=True)
    summary = build_load_summary(env=env, sut=sut, opts=opts, tally=tally, samples=samples, started=started,
                                 ended=ended, finished_by=finished_by, workers=workers)
    errors = validate_load_summary(summary)
    if errors:  # our bug, but never lose the run's data: write it and say so
        summary["warnings"] = [f"load-summary schema: {e}" for e in errors]
    (output / "load-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (output / "load-summary.md").write_text(render_markdown(summary))
    (output / "load-timeline.svg").write_text(timeline_svg(summary["timeline"]))
    try:
        from locust.html import get_html_report

        (output / "locust-report.html").write_text(get_html_report(env, show_download_link=False))
    except Exception as exc:  # the report is a convenience; the summary is the verdict
        summary.setdefault("warnings", []).append(f"Locust HTML report not written: {exc}")
    r = summary["result"]
    summary["console"] = [
        "=" * 78,
        f"Margo fleet load: {summary['sut']['name']}",
        *[line.replace("- **Profile:** ", "Profile: ") for line in _profile_line(summary["sut"].get("profile"))],
        f"Result: {r['verdict']}  (exit code {r['exit_code']})",
        f"        {r['headline']}",
        *[f"{row['route']:<38} {row['count']:>7} req {row['rate_per_s']:>8}/s  p95 {_ms(row['latency_ms']['p95']):>5} ms"
          f"  violations {row['violations']}" for row in summary["routes"] if row["count"]],
        f"Report: {output}/load-summary.md",
        "=" * 78,
    ]
    return summary
