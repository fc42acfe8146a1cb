"""``margo-conformance record verify DIR``: check a certification record offline (docs/RECORD.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError

app = typer.Typer(help="Certification records: verify one offline (docs/RECORD.md).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.command("verify")
def verify(
    directory: Path = typer.Argument(..., help="the run directory (holds record.json and record.dsse.json)"),
    cert: Optional[Path] = typer.Option(None, "--cert", help="the lab's certificate the record must be signed with"),
    trust_anchor: Optional[Path] = typer.Option(None, "--trust-anchor", help="a CA certificate the record's signer "
                                                "certificate must chain to"),
) -> None:
    """Check the DSSE signature, every file's SHA-256, and that no file was added or removed.

    One line per finding. Exit codes: 0 the record verifies · 1 a finding · 2 usage (no such directory, no
    readable record, an unreadable certificate).
    """
    from ..record.verify import verify_record

    if cert is not None and trust_anchor is not None:
        typer.echo("error: give --cert or --trust-anchor, not both", err=True)
        raise typer.Exit(2)
    try:
        result = verify_record(directory, cert=cert, trust_anchor=trust_anchor)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for line in result.findings:
        typer.echo(line)
    for line in result.notes:
        typer.echo(line)
    files = len((result.statement or {}).get("subject") or [])
    if result.ok:
        typer.echo(f"OK: {directory}: signature and all {files} files verify")
        raise typer.Exit(0)
    typer.echo(f"FAILED: {directory}: {len(result.findings)} finding(s)")
    raise typer.Exit(1)
