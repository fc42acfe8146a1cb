"""The ``report`` command: build the offline HTML report of a finished run."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from ..errors import ConfigError, HarnessError
from ..report.html import build_html


def app(
    run_dir: Path = typer.Argument(..., help="a run's output directory (holds allure-results/ and summary.json)"),
    open_it: bool = typer.Option(False, "--open", help="open the report in the default browser"),
) -> None:
    """Build <run_dir>/allure-report/index.html, a single file that opens from disk."""
    try:
        index = build_html(run_dir)
    except (ConfigError, HarnessError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"HTML report: {index}")
    if open_it:
        webbrowser.open(index.resolve().as_uri())
