"""``margo-conformance defects``: list the named defects of a reference implementation (data in ``defects.py``)."""

from __future__ import annotations

import json

import typer

from ..defects import _MODULES, defects_for


def app(
    role: str = typer.Option(..., "--role", help="wfm or device"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the named defects of a reference implementation and the requirement each one breaks."""
    if role not in _MODULES:
        typer.echo(f"error: --role must be 'wfm' or 'device', not {role!r}", err=True)
        raise typer.Exit(2)
    found = defects_for(role)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in found], indent=2))
        return
    for d in found:
        typer.echo(f"{d.name:<36} {d.requirement:<8} {d.description}")
