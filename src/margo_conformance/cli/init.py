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


def template_text(role: str) -> str:
    return (TEMPLATES / f"{role}.toml").read_text()


def app(
    role: str = typer.Option(..., "--role", help="wfm: a WFM to certify; device: a device client to certify"),
    path: Optional[Path] = typer.Argument(None, help="where to write it (default ./<role>-sut.toml)"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing file"),
) -> None:
    """Write a commented SUT file for a WFM or a device client, to fill in."""
    if role not in ("wfm", "device"):
        typer.echo(f"error: --role must be 'wfm' or 'device', not {role!r}", err=True)
        raise typer.Exit(2)
    target = path or Path(f"{role}-sut.toml")
    if target.exists() and not force:
        typer.echo(f"error: {target} exists; use --force to overwrite it", err=True)
        raise typer.Exit(2)
    try:
        target.write_text(template_text(role))
    except OSError as exc:
        typer.echo(f"error: cannot write {target}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {target}: fill it in, then run: margo-conformance run --role {role} --sut {target}")
