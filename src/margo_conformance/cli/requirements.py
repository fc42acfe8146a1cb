"""``margo-conformance requirements``: list the requirement catalog, filtered, as text or JSON.

Why a command: a certification engineer needs to see which requirements a profile holds and how a
failure of each counts before a run, and a vendor's CI may want them as JSON to map its own tests.
``app`` is a plain function: ``cli._register`` turns it into a single command.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import DEFAULT_PROFILE
from ..errors import ConfigError
from ..profiles import check_profile_name
from ..requirements import BINDS, LEVELS, VERDICT_LEVELS, Requirement, load_catalog

__all__ = ["app", "format_table"]


def format_table(requirements: list[Requirement], *, width: int = 0) -> str:
    """Plain aligned text: stable for grep and for tests, readable in a terminal."""
    header = ("ID", "LEVEL", "COUNTS", "BINDS", "READINGS", "REQUIREMENT")
    rows = [
        (r.id, r.level, r.verdict_level, r.binds, ",".join(r.interpretations) or "-", r.text)
        for r in requirements
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[i]).ljust(widths[i]) for i in range(5)]
        line = "  ".join(cells) + "  " + row[5]
        lines.append(line[:width] if width and len(line) > width else line)
    return "\n".join(lines)


def app(
    profile: str | None = typer.Option(None, "--profile", "-p", help="The profile whose rows to list (default: "
                                       f"{DEFAULT_PROFILE}; see 'margo-conformance requirements --profiles')."),
    all_profiles: bool = typer.Option(False, "--all-profiles", help="Every profile's rows (the whole catalog)."),
    list_profiles: bool = typer.Option(False, "--profiles", help="List the known profiles and their spec commits."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    binds: str | None = typer.Option(
        None, "--binds", help="wfm or device: what applies to a SUT of that role (includes 'both'); or both."
    ),
    level: str | None = typer.Option(None, "--level", help=f"Spec level: {', '.join(LEVELS)}."),
    verdict: str | None = typer.Option(
        None, "--counts-as", "--verdict", help=f"How a failure counts: {', '.join(VERDICT_LEVELS)} (IMPL counts as MUST)."
    ),
    questions: bool = typer.Option(False, "--questions", help="List the interpretations (Q-IDs) instead."),
    catalog_file: Path | None = typer.Option(None, "--catalog", help="Another catalog file (default: the built-in one)."),
) -> None:
    """List the requirement catalog (IDs, level, how a failure counts, which side it binds)."""
    try:
        if level is not None:
            level = level.upper()
        if verdict is not None:
            verdict = verdict.upper()
        if binds is not None:
            binds = binds.lower()
            if binds not in BINDS:
                raise ConfigError(f"--binds must be one of {', '.join(BINDS)}, not {binds!r}")
        catalog = load_catalog(catalog_file)
        if list_profiles:
            for p in catalog.profiles():
                typer.echo(f"{p.name:<18} {p.baseline}  {p.title}")
            return
        if all_profiles:
            if profile is not None:
                raise ConfigError("--profile and --all-profiles exclude each other")
        elif profile is None:
            profile = DEFAULT_PROFILE if DEFAULT_PROFILE in {p.name for p in catalog.profiles()} else None
        elif catalog_file is None:
            check_profile_name(profile)  # exit 2 naming the known profiles
        if questions:
            items = catalog.questions(profile=profile)
            if as_json:
                typer.echo(json.dumps([q.to_dict() for q in items], indent=2))
            else:
                for q in items:
                    typer.echo(f"{q.id}  {q.summary}\n      position: {q.position}")
            return
        selected = catalog.select(level=level, profile=profile, binds=binds, verdict_level=verdict)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in selected], indent=2, ensure_ascii=False))
        return
    if not selected:
        typer.echo("no requirement matches these filters")
        return
    typer.echo(format_table(selected))
    filters = ", ".join(
        f"{k} {v}"
        for k, v in (("profile", profile), ("binds", binds), ("level", level), ("counts as", verdict))
        if v is not None
    )
    typer.echo(f"\n{len(selected)} requirement{'s' if len(selected) != 1 else ''}" + (f" ({filters})" if filters else ""))
