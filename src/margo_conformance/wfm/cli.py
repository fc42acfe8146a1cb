"""``margo-conformance wfm``: run the reference WFM and act as its operator.

    margo-conformance wfm serve --host 127.0.0.1 --port 8443 --data-dir DIR [--defect NAME]...
        [--trust auto|allow-list|manual] [--cert-form der|pem] [--tls-min 1.2|1.3] [--base-url URL]
    margo-conformance wfm list --data-dir DIR [--state pending] [--json]
    margo-conformance wfm approve|reject|revoke CLIENT_ID --data-dir DIR
    margo-conformance wfm approve|reject --sha256 CERT_SHA256 --data-dir DIR   (a held onboarding request)
    margo-conformance wfm trust-issuer|preregister CERT.pem --data-dir DIR

``serve`` writes the root CA to DIR/ca.pem (deliver it to devices out of band) and the admin URL and token to
DIR/admin.json, prints both, and runs until interrupted (SIGINT or SIGTERM). Exit codes: 0 normal, 2 usage
or configuration error.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from .config import WfmConfig
from .operator import Operator
from .store import DB_NAME, Store

app = typer.Typer(help="The reference WFM server and its operator commands.", no_args_is_help=True,
                  add_completion=False)

_DATA_DIR = typer.Option(..., "--data-dir", help="The WFM's data directory (SQLite, CA, admin token).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8443, "--port", help="TLS port (0: any free port)."),
    data_dir: Path = _DATA_DIR,
    defect: list[str] = typer.Option([], "--defect", help="A named defect (repeatable); see 'defects --role wfm'."),
    trust: str = typer.Option("auto", "--trust", help="auto | allow-list | manual"),
    cert_form: str = typer.Option("der", "--cert-form", help="Root CA form on the Certificate API: der | pem"),
    tls_min: str = typer.Option("1.3", "--tls-min", help="Minimum TLS version: 1.3 | 1.2"),
    base_url: Optional[str] = typer.Option(None, "--base-url",  # noqa: UP007 - typer needs Optional
                                           help="Externally visible URL up to /api/v1 (may carry a prefix)."),
    approval_timeout: float = typer.Option(30.0, "--approval-timeout", help="Seconds a manual onboarding waits."),
    window: int = typer.Option(300, "--window", help="Replay window for 'created', seconds."),
    admin_port: int = typer.Option(0, "--admin-port", help="Loopback admin port (0: any free port)."),
    trust_issuer: list[Path] = typer.Option([], "--trust-issuer", help="PEM CA to allow-list (repeatable)."),
    profile: Optional[str] = typer.Option(None, "--profile",  # noqa: UP007 - typer needs Optional
                                          help="Spec profile the WFM speaks (default: the default profile)."),
    svid_cert: Optional[Path] = typer.Option(None, "--svid-cert", help="mtls-svid profiles: the WFM's X.509-SVID "  # noqa: UP007
                                             "(leaf + intermediates, PEM); without it a dev trust domain is made."),
    svid_key: Optional[Path] = typer.Option(None, "--svid-key", help="mtls-svid profiles: the SVID's key (PEM)."),  # noqa: UP007
    trust_bundle: Optional[Path] = typer.Option(None, "--trust-bundle", help="mtls-svid profiles: PEM anchors "  # noqa: UP007
                                                "client SVIDs must chain to."),
    wfm_id: Optional[str] = typer.Option(None, "--wfm-id", help="mtls-svid profiles: the WFM's <wfm-id> "  # noqa: UP007
                                         "(default wfm-h1 for a dev trust domain)."),
    policy_mode: str = typer.Option("allowlist", "--policy-mode", help="mtls-svid profiles: allowlist | namespace "
                                    "(Q-65)."),
    rate_limit: int = typer.Option(0, "--rate-limit", help="mtls-svid profiles: requests per second one client may "
                                   "make; the excess gets 429 + Retry-After (MRTY-01). 0: no limit."),
) -> None:
    """Run the reference WFM until interrupted."""
    from .. import DEFAULT_PROFILE
    from ..profiles import load_profile

    try:
        spoken = load_profile(profile or DEFAULT_PROFILE)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    # The server is picked by the profile's authenticator kind, never by its name.
    if spoken.authenticator == "mtls-svid":
        _serve_mtls_svid(spoken.name, host=host, port=port, data_dir=data_dir, defect=defect, svid_cert=svid_cert,
                         svid_key=svid_key, trust_bundle=trust_bundle, wfm_id=wfm_id, policy_mode=policy_mode,
                         rate_limit=rate_limit)
        return
    if spoken.authenticator != "httpsig":
        raise _fail(f"profile {spoken.name}: no reference WFM for authenticator {spoken.authenticator!r}")
    if any(v is not None for v in (svid_cert, svid_key, trust_bundle, wfm_id)):
        raise _fail(f"--svid-cert, --svid-key, --trust-bundle and --wfm-id are for mtls-svid profiles, not {spoken.name}")
    from .server import WfmServer  # uvicorn and friends only when serving

    try:
        config = WfmConfig(trust=trust, cert_form=cert_form, tls_min=tls_min, base_url=base_url,  # type: ignore[arg-type]
                           approval_timeout_s=approval_timeout, window_s=window, defects=frozenset(defect))
        hosts = ()
        if base_url:
            from urllib.parse import urlsplit

            hosts = (urlsplit(base_url).hostname or "",)
        server = WfmServer(config, data_dir=data_dir, host=host, port=port, admin_port=admin_port,
                           hosts=tuple(h for h in hosts if h), observe=False)
        for path in trust_issuer:
            server.operator.trust_issuer(path.read_bytes())
        server.start()
    except (ConfigError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    typer.echo(f"WFM listening on {server.base_url}")
    typer.echo(f"root CA:         {server.ca_file}")
    typer.echo(f"admin endpoint:  {server.admin_url} (token in {data_dir / 'admin.json'})")
    if config.defects:
        typer.echo(f"DEFECTS ACTIVE:  {', '.join(sorted(config.defects))}")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        typer.echo("WFM stopped")


def _wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):
        pass


def _serve_mtls_svid(profile: str, *, host: str, port: int, data_dir: Path, defect: list[str],
                     svid_cert: Path | None, svid_key: Path | None, trust_bundle: Path | None, wfm_id: str | None,
                     policy_mode: str, rate_limit: int = 0) -> None:
    """The reference WFM of an mtls-svid profile (wfm/miaf)."""
    from .miaf.serve import prepare
    from .miaf.server import MiafWfmServer

    if policy_mode not in ("allowlist", "namespace"):
        raise _fail(f"--policy-mode must be allowlist or namespace (Q-65), not {policy_mode!r}")
    if rate_limit < 0:
        raise _fail(f"--rate-limit must be 0 (none) or a positive number of requests per second, not {rate_limit}")
    try:
        setup = prepare(data_dir, svid_cert=svid_cert, svid_key=svid_key, trust_bundle=trust_bundle, wfm_id=wfm_id)
        server = MiafWfmServer(svid=setup.svid, bundle_pem=setup.bundle_pem, trust_domain=setup.trust_domain,
                               wfm_id=setup.wfm_id, data_dir=data_dir, host=host, port=port, defects=defect,
                               policy_mode=policy_mode, profile=profile,  # type: ignore[arg-type]
                               authority=setup.authority, rate_limit=rate_limit or None)
        if setup.dev_client is not None:
            server.operator.add_client(setup.dev_client)
        server.start()
    except (ConfigError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"MIAF WFM ({profile}) listening on {server.base_url}")
    typer.echo(f"WFM SPIFFE ID:   {server.spiffe_id}")
    if rate_limit:
        typer.echo(f"rate limit:      {rate_limit} requests per second per client (429 beyond)")
    typer.echo(f"policy:          {policy_mode}; clients: "
               + (", ".join(c["spiffeId"] + f" ({c['state']})" for c in server.operator.clients()) or "none"))
    for what, path in setup.made.items():
        typer.echo(f"{what + ':':<33}{path}")
    if setup.dev_client is not None and "client c1 SVID" in setup.made:
        typer.echo(f"try: curl --cert {setup.made['client c1 SVID']} --key {setup.made['client c1 key']} "
                   f"--cacert {setup.made['trust bundle (PEM)']} -X PUT -H 'content-type: application/json' "
                   f"-d '{{\"properties\":{{\"id\":\"d1\",\"vendor\":\"v\",\"modelNumber\":\"m\","
                   f"\"serialNumber\":\"s\"}}}}' https://localhost:{server.port}/api/v1/capabilities/d1")
    if defect:
        typer.echo(f"DEFECTS ACTIVE:  {', '.join(sorted(set(defect)))}")
    try:
        _wait_for_signal()
    finally:
        server.stop()
        typer.echo("WFM stopped")


def _miaf_operator(data_dir: Path):  # type: ignore[no-untyped-def]
    from .miaf.serve import open_operator

    try:
        return open_operator(data_dir)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _set_client(spiffe_id: str, data_dir: Path, state: str) -> None:
    operator = _miaf_operator(data_dir)
    try:
        entry = operator.add_client(spiffe_id) if state == "active" else operator.retire_client(spiffe_id)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    finally:
        operator.store.close()
    typer.echo(f"{entry.spiffe_id} {entry.state}")


@app.command("add-client")
def add_client(spiffe_id: str, data_dir: Path = _DATA_DIR) -> None:
    """mtls-svid profiles: put a client SPIFFE ID on the accepted-client policy (or re-activate it)."""
    _set_client(spiffe_id, data_dir, "active")


@app.command("retire-client")
def retire_client(spiffe_id: str, data_dir: Path = _DATA_DIR) -> None:
    """mtls-svid profiles: retire a client; its next request gets 403 not-authorized (MID-12)."""
    _set_client(spiffe_id, data_dir, "retired")


@app.command("maintenance")
def maintenance(state: str = typer.Argument(..., help="on | off"), data_dir: Path = _DATA_DIR) -> None:
    """mtls-svid profiles: maintenance mode on or off; while on, every MI request gets 503 + Retry-After (MRTY-02)."""
    if state not in ("on", "off"):
        raise _fail(f"maintenance: 'on' or 'off', not {state!r}")
    operator = _miaf_operator(data_dir)
    try:
        operator.set_maintenance(state == "on")
    finally:
        operator.store.close()
    typer.echo(f"maintenance {state}")


@app.command("trust-bundle")
def trust_bundle_cmd(bundle: Path, data_dir: Path = _DATA_DIR) -> None:
    """mtls-svid profiles: replace the trust anchors (PEM) for new connections."""
    operator = _miaf_operator(data_dir)
    try:
        version = operator.set_trust_bundle(bundle.read_bytes())
    except OSError as exc:
        raise _fail(f"cannot read {bundle}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    finally:
        operator.store.close()
    typer.echo(f"trust bundle replaced (version {version})")


def _operator(data_dir: Path) -> Operator:
    if not (data_dir / DB_NAME).exists():
        raise _fail(f"{data_dir} holds no WFM database ({DB_NAME})")
    return Operator(Store.in_dir(data_dir))


@app.command("list")
def list_clients(
    data_dir: Path = _DATA_DIR,
    state: Optional[str] = typer.Option(None, "--state", help="pending | approved | rejected | revoked"),  # noqa: UP007
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List onboarded clients."""
    operator = _operator(data_dir)
    try:
        records = operator.clients(state)
    finally:
        operator.store.close()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    for r in records:
        fp = r.certificates[0].sha256[:16] if r.certificates else "-"
        typer.echo(f"{r.client_id:<38} {r.state:<9} {fp}  {r.subject}")


def _decide(data_dir: Path, client_id: str | None, decision: str, sha256: str | None = None) -> None:
    operator = _operator(data_dir)
    try:
        if sha256:  # a held onboarding request: the device has no clientId yet, the operator knows its certificate
            held = operator.store.client_for_certificate(sha256.strip().lower())
            if held is None or held.state != "pending":
                raise _fail(f"no onboarding request is held for the certificate sha256 {sha256}")
            client_id = held.client_id
        if not client_id:
            raise _fail("name the client: CLIENT_ID, or --sha256 of a held request's certificate")
        record = operator.decide(client_id, decision)  # type: ignore[arg-type]
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    finally:
        operator.store.close()
    typer.echo(f"{record.client_id} {record.state}")


_SHA256 = typer.Option(None, "--sha256", help="Decide the onboarding request held for this certificate "
                       "(hex SHA-256 of its DER) instead of naming a CLIENT_ID.")


@app.command()
def approve(client_id: Optional[str] = typer.Argument(None), data_dir: Path = _DATA_DIR,  # noqa: UP007
            sha256: Optional[str] = _SHA256) -> None:  # noqa: UP007
    """Approve a pending (or re-enable a rejected or revoked) client."""
    _decide(data_dir, client_id, "approve", sha256)


@app.command()
def reject(client_id: Optional[str] = typer.Argument(None), data_dir: Path = _DATA_DIR,  # noqa: UP007
           sha256: Optional[str] = _SHA256) -> None:  # noqa: UP007
    """Reject a client (or a held onboarding request): its onboarding and requests get 403."""
    _decide(data_dir, client_id, "reject", sha256)


@app.command()
def revoke(client_id: str, data_dir: Path = _DATA_DIR) -> None:
    """Revoke a client: its signed requests get 403 (SIG-13)."""
    _decide(data_dir, client_id, "revoke")


@app.command("trust-issuer")
def trust_issuer_cmd(cert: Path, data_dir: Path = _DATA_DIR) -> None:
    """Allow-list a CA (PEM or DER file): certificates it issued onboard without a decision."""
    operator = _operator(data_dir)
    try:
        typer.echo(operator.trust_issuer(cert.read_bytes()))
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        operator.store.close()


@app.command()
def preregister(cert: Path, data_dir: Path = _DATA_DIR) -> None:
    """Pre-register one client certificate (PEM or DER file) so it onboards without a decision."""
    operator = _operator(data_dir)
    try:
        typer.echo(operator.preregister(cert.read_bytes()))
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        operator.store.close()
