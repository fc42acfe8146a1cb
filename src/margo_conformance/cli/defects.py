"""``margo-conformance defects``: list the named defects of a reference implementation (data in ``defects.py``)."""

from __future__ import annotations

import json
from typing import Optional

import typer

from ..defects import _MODULES, defects_for, of_profile, profile_of
from ..errors import ConfigError
from ..profiles import check_profile_name


def app(
    role: str = typer.Option(..., "--role", help="wfm or device"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    profile: Optional[str] = typer.Option(None, "--profile", help="only the defects of this profile's reference "
                                          "implementation (default: every profile's)"),
) -> None:
    """List the named defects of a reference implementation and the requirement each one breaks."""
    if role not in _MODULES:
        typer.echo(f"error: --role must be 'wfm' or 'device', not {role!r}", err=True)
        raise typer.Exit(2)
    try:
        if profile is not None:
            check_profile_name(profile)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    found = of_profile(defects_for(role), profile)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps([{**d.to_dict(), "profile": profile_of(d)} for d in found], indent=2))
        return
    for d in found:
        # strict only: breaks a SHOULD or a position of ours; a default run names the deviation, --strict fails
        note = " [strict only]" if d.strict_only else ""
        typer.echo(f"{d.name:<36} {d.requirement:<8} {d.description}{note}")
