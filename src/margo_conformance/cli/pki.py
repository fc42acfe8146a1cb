"""``margo-conformance pki``: the harness as the MIS of a test trust domain, on disk (issue 19, Q-40).

``pki trust-domain OUTDIR`` writes what an operator needs to wire a WFM and its clients together by hand:
the bundle (PEM and SPIFFE JWK Set), the WFM's SVID and client SVIDs (keys mode 0600). Nothing outlives
the directory: the CA keys are never written, so the trust domain cannot be extended later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="The harness's test PKI (SPIFFE trust domains for MIAF).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


#: A DNS host name as a SAN carries it (RFC 1123 labels, no wildcard, no trailing dot).
_DNS_NAME = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command("trust-domain")
def trust_domain(
    outdir: Optional[Path] = typer.Argument(None, help="directory to write into (created if missing)"),
    trust_domain: str = typer.Option("harness.test", "--trust-domain", help="the trust domain (lower case)"),
    wfm_id: str = typer.Option("wfm-h1", "--wfm-id", help="the WFM's <wfm-id>"),
    clients: Optional[list[str]] = typer.Option(None, "--client", help="a client id; repeat for more (default c1)"),
    key_type: str = typer.Option("p256", "--key-type", help="key type of the SVIDs: p256, p384, ed25519, rsa3072"),
    force: bool = typer.Option(False, "--force", help="replace a trust domain already in OUTDIR"),
    wfm_dns: Optional[list[str]] = typer.Option(None, "--wfm-dns", help="a DNS SAN for the WFM SVID beside its "
                                                "SPIFFE ID (repeat for more), for clients that check host names "
                                                "such as curl"),
) -> None:
    """Mint a fresh trust domain (R1 -> I1) and write bundle.pem, bundle.jwks.json, wfm-svid.{pem,key},
    wfm-svid-chain.pem and client-<id>.{pem,key} (+ -chain.pem); the CA keys are not kept."""
    from ..pki.keys import KeyType
    from ..pki.spiffe import SpiffeAuthority

    if outdir is None:
        raise _usage("missing OUTDIR: margo-conformance pki trust-domain OUTDIR [--client ID ...]")
    if outdir.exists() and not outdir.is_dir():
        raise _usage(f"{outdir} exists and is not a directory")
    if (outdir / "bundle.pem").exists() and not force:
        raise _usage(f"{outdir} already holds a trust domain (bundle.pem); pass --force to replace it")
    for name in wfm_dns or ():
        if not _DNS_NAME.fullmatch(name):
            raise _usage(f"--wfm-dns {name!r} is not a DNS host name (letters, digits, '-', dot-separated labels)")
    wanted = list(clients or ["c1"])
    if len(set(wanted)) != len(wanted):
        raise _usage("each --client id may be given once")
    try:
        kt = KeyType.coerce(key_type)
        if kt is KeyType.RSA1024 or kt is KeyType.RSA2048:
            raise ValueError(f"key type {kt.value} is below the MIAF minimum (RSA >= 3072, SVID-15)")
        authority = SpiffeAuthority(trust_domain)
        wfm = authority.wfm_svid(wfm_id, key_type=kt, dns_names=tuple(wfm_dns or ()))
        minted = [(client, authority.client_svid(client, wfm_id=wfm_id, key_type=kt)) for client in wanted]
    except ValueError as exc:
        raise _usage(str(exc)) from None
    try:
        bundle = authority.write_bundle(outdir)
        wfm_files = wfm.write(outdir, "wfm-svid")
        written = [(f"client {c}", s.spiffe_id, s.write(outdir, f"client-{c}")) for c, s in minted]
    except OSError as exc:
        raise _usage(f"cannot write to {outdir}: {exc.strerror or exc}") from None
    typer.echo(f"trust domain {trust_domain}: bundle {bundle.pem} and {bundle.jwks} (anchor R1 only)")
    for who, spiffe_id, files in [("wfm", wfm.spiffe_id, wfm_files), *written]:
        typer.echo(f"{who:<12} {spiffe_id}  cert {files.cert.name}  key {files.key.name} (0600)  "
                   f"chain {files.chain.name}")
