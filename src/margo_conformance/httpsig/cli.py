"""The signature doctor: ``margo-conformance httpsig verify`` judges one raw request and names every problem.

For a vendor whose request the WFM rejected: paste the request and the certificate, read the findings and
the signature base we rebuilt, compare it with the base the device signed. Exit 0 valid, 1 invalid,
2 unusable input (one line on stderr, no traceback).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from enum import Enum
from pathlib import Path

import typer

from .keyfile import load_verification_key
from .rawhttp import parse_raw_request
from .verify import MARGO_POLICY, RFC9421_POLICY, Verification, VerifyPolicy, verify_captured

app = typer.Typer(help="RFC 9421 signature doctor.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)


class PolicyName(str, Enum):
    margo = "margo"
    rfc9421 = "rfc9421"


@app.callback()
def _group() -> None:
    """RFC 9421 / RFC 9530 tools: verify and diagnose signed requests."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from None


@app.command("verify")
def verify_command(
    request: Path = typer.Option(..., "--request", help="raw HTTP/1.1 request: request line, headers, blank line, body"),
    cert: Path | None = typer.Option(None, "--cert", help="certificate or public key of the signer (PEM or DER)"),
    policy: PolicyName = typer.Option(PolicyName.margo, "--policy",
                                      help="margo: strict WFM of the default profile; rfc9421: plain RFC validity"),
    scheme: str = typer.Option("https", "--scheme", help="scheme of @target-uri for an origin-form request line"),
    now: float | None = typer.Option(None, "--now", help="judge as if the clock read this Unix time"),
    window: int | None = typer.Option(None, "--window", help="created window in seconds (rfc9421: only when given)"),
    label: str | None = typer.Option(None, "--label", help="signature label to judge (default: the only / first)"),
    shared_secret: str | None = typer.Option(None, "--shared-secret",
                                             help="base64 HMAC secret instead of --cert (RFC 9421 B.2.5)"),
    as_json: bool = typer.Option(False, "--json", help="print the verdict as JSON"),
) -> None:
    """Verify one signed request and print the verdict, every finding and the rebuilt signature base."""
    if (cert is None) == (shared_secret is None):
        raise _fail("give exactly one of --cert FILE or --shared-secret B64")
    key: object
    if shared_secret is not None:
        try:
            key = base64.b64decode(shared_secret, validate=True)
        except (binascii.Error, ValueError):
            raise _fail("--shared-secret is not valid base64") from None
    else:
        try:
            key = load_verification_key(_read(cert, "certificate"))  # type: ignore[arg-type]
        except ValueError as exc:
            raise _fail(f"{cert}: {exc}") from None
    try:
        captured = parse_raw_request(_read(request, "request"), scheme=scheme)
    except ValueError as exc:
        raise _fail(f"{request}: {exc}") from None

    chosen: VerifyPolicy = MARGO_POLICY if policy is PolicyName.margo else RFC9421_POLICY
    if window is not None:
        chosen = dataclasses.replace(chosen, window_s=window)
    result = verify_captured(captured, key, policy=chosen, now=now, label=label)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "policy": chosen.name}, indent=2))
    else:
        _print_human(result, chosen, captured.url)
    raise typer.Exit(0 if result.valid else 1)


def _print_human(result: Verification, policy: VerifyPolicy, url: str) -> None:
    verdict = "VALID" if result.valid else "INVALID"
    typer.echo(f"{verdict}  policy={policy.name} label={result.label or '-'} algorithm={result.algorithm or '-'}")
    typer.echo(f"@target-uri source: {url}")
    if result.findings:
        typer.echo("findings:")
        for finding in result.findings:
            req = f" ({finding.requirement})" if finding.requirement else ""
            typer.echo(f"  [{finding.severity}] {finding.code}{req}: {finding.detail}")
    else:
        typer.echo("findings: none")
    if result.signature_base is not None:
        typer.echo("signature base (rebuilt from the request):")
        for line in result.signature_base.split("\n"):
            typer.echo(f"  {line}")
