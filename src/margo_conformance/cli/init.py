"""``margo-conformance init``: write a commented SUT file to fill in, for a first run without a checkout.

The templates (``fixtures/sut/templates/``) hold exactly the keys ``load_sut`` accepts; a unit test loads
each one, and each one with every optional key uncommented, to keep it that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..resources import FIXTURES_DIR

TEMPLATES = FIXTURES_DIR / "sut" / "templates"


def template_path(role: str, profile: str | None = None) -> Path:
    """``<role>.toml``, or ``<role>-<profile>.toml`` for a profile with a template of its own (miaf-rc3)."""
    if profile:
        specific = TEMPLATES / f"{role}-{profile}.toml"
        if specific.is_file():
            return specific
    return TEMPLATES / f"{role}.toml"


def template_text(role: str, profile: str | None = None) -> str:
    return template_path(role, profile).read_text()


def app(
    role: str = typer.Option(..., "--role", help="wfm: a WFM to certify; device: a device client to certify"),
    path: Optional[Path] = typer.Argument(None, help="where to write it (default ./<role>-sut.toml)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
    profile: Optional[str] = typer.Option(None, "--profile",
                                          help="spec profile of the SUT (miaf-rc3: a WFM over mutual TLS with SVIDs)"),
) -> None:
    """Write a commented SUT file for a WFM or a device client, to fill in."""
    if role not in ("wfm", "device"):
        typer.echo(f"error: --role must be 'wfm' or 'device', not {role!r}", err=True)
        raise typer.Exit(2)
    from ..sut import known_profiles

    if profile is not None and profile not in known_profiles():
        typer.echo(f"error: --profile: unknown profile {profile!r}; known: {', '.join(known_profiles())}", err=True)
        raise typer.Exit(2)
    target = path or Path(f"{role}-sut.toml")
    if target.exists() and not force:
        typer.echo(f"error: {target} exists; use --force to overwrite it", err=True)
        raise typer.Exit(2)
    try:
        target.write_text(template_text(role, profile))
    except OSError as exc:
        typer.echo(f"error: cannot write {target}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {target}: fill it in, then run: margo-conformance run --role {role} --sut {target}")
