"""``margo-conformance rejudge DIR``: this harness's checks on a record's evidence, without the SUT."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError


def app(
    directory: Path = typer.Argument(..., help="a run directory with its evidence/ (a certification record)"),
    write: bool = typer.Option(False, "--write", help="write a new record of the re-judged verdicts (see --output)"),
    output: Optional[Path] = typer.Option(None, "--output", help="with --write: the new record's directory "
                                          "(default: DIR-rejudged-<UTC time>, beside DIR; never inside it, which "
                                          "would change the record being re-judged)"),
    sign_key: Optional[Path] = typer.Option(None, "--sign-key", help="with --write: the lab's PEM key"),
    sign_cert: Optional[Path] = typer.Option(None, "--sign-cert", help="with --write: the lab's certificate"),
) -> None:
    """Re-judge a record's evidence with this harness and print the verdicts that changed.

    Exit codes: 0 no verdict changed · 1 a verdict changed · 2 usage (no such directory, no evidence, a bad key).
    """
    import time

    from ..record.rejudge import render, rejudge, write_rejudged

    try:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: no such directory")
        signing = None
        if (sign_key is None) != (sign_cert is None):
            raise ConfigError("--sign-key and --sign-cert go together")
        if sign_key is not None and sign_cert is not None:
            from ..record.manifest import load_signing_identity

            signing = load_signing_identity(sign_key, sign_cert)
        from ..record.verify import verify_record

        integrity = verify_record(directory) if (directory / "record.dsse.json").exists() else None
        for finding in integrity.findings if integrity else ["no record.dsse.json: the evidence's integrity is unchecked"]:
            if not finding.startswith("signature: the record is UNSIGNED"):
                typer.echo(f"warning: {finding}")
        result = rejudge(directory)
        for line in render(result, directory):
            typer.echo(line)
        if write:
            target = output or directory.resolve().parent / (
                f"{directory.resolve().name}-rejudged-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
            write_rejudged(directory, result, target, signing)
            typer.echo(f"Wrote the re-judged record: {target}")
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(1 if result.changed else 0)
