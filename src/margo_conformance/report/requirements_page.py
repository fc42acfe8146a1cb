"""requirements.html: the catalog entries the Allure requirement links point to, with this run's verdicts."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


def write_requirements_page(path: Path, catalog: Any, profile: str, summary: dict[str, Any]) -> Path:
    verdicts = {r["id"]: r for r in summary["requirements"]}
    rows = []
    for req in catalog.all():
        if profile not in req.profiles:
            continue
        r = verdicts.get(req.id, {})
        rows.append(
            f'<tr id="{html.escape(req.id)}"><td>{html.escape(req.id)}</td><td>{html.escape(req.level)}</td>'
            f"<td>{html.escape(req.binds)}</td><td>{html.escape(req.text)}</td><td>{html.escape(req.source)}</td>"
            f"<td>{html.escape(' '.join(req.interpretations))}</td>"
            f"<td>{html.escape(r.get('verdict', ''))}</td><td>{html.escape(r.get('reason', ''))}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>Requirement catalog</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "table{border-collapse:collapse}tr:target{background:#ffd}</style>"
        f"<h1>Requirement catalog, profile {html.escape(profile)}</h1>"
        f"<p>Spec: {html.escape(str(summary['profile']['baseline']))}</p>"
        f"<p>SUT: {html.escape(summary['sut']['name'])}, run {html.escape(summary['run']['started_at'])}</p>"
        "<table><tr><th>ID</th><th>Level</th><th>Binds</th><th>Requirement</th><th>Source</th>"
        "<th>Interpretations</th><th>Verdict</th><th>Reason</th></tr>" + "".join(rows) + "</table>"
    )
    path.write_text(page)
    return path
