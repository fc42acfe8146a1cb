"""``margo-conformance device run``: the reference device client as a program.

Exit codes: 0 onboarding and capability report succeeded; 1 the WFM refused (the reason names the
problem type); 2 bad usage (unknown defect, missing file, both or neither CA options); 3 the WFM could not
be reached or its certificate was not trusted. Expected failures print one line, never a traceback.

``--profile`` picks the device: a profile whose authenticator is ``mtls-svid`` runs the reference MIAF device
(``device/miaf/``, its own options: ``--svid-cert`` ...); every other runs the httpsig device below, unchanged.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError, HarnessError, SutTimeout, SutUnreachable
from ..evidence import Exchange

app = typer.Typer(help="The reference device client (WFM client of a Margo device).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


def _gateway_children(value: str | None) -> int | Path | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else Path(value)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it between invocations)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _setup_logging(quiet: bool) -> None:
    logger = logging.getLogger("margo_conformance.device")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _write_evidence(path: Path, exchanges: list[Exchange]) -> None:
    """The exchanges as JSON (``Exchange.to_dict``: bodies as redacted text, never a private key)."""
    try:
        path.write_text(json.dumps([e.to_dict() for e in exchanges], indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        typer.echo(f"warning: could not write the evidence file {path}: {exc}", err=True)


#: Options only the mutual-TLS (SVID) device reads, and only the httpsig device reads: given under the other
#: profile kind they are a usage error, never silently ignored.
_MIAF_ONLY = ("--svid-cert", "--svid-key", "--svid-chain", "--bundle-file", "--discovery-url", "--bundle-url",
              "--mis-ca-file", "--mis-pin", "--wfm-spiffe-id", "--labels-file", "--watch")
_HTTPSIG_ONLY = ("--ca-file", "--bootstrap-ca-file", "--bootstrap-url", "--capabilities", "--key-type", "--alg",
                 "--cert-form", "--cert-file", "--key-file")


def _given(names: tuple[str, ...], values: dict[str, object]) -> list[str]:
    return [n for n in names if values.get(n) not in (None, False, [], ())]


@app.command("run")
def run(
    profile: Optional[str] = typer.Option(
        None, "--profile", help="spec profile (default httpsig-2026h1); a mutual-TLS profile (miaf-rc3) runs the "
        "MIAF device"),
    wfm_url: str = typer.Option(
        ..., "--wfm-url", help="WFM base URL: https://host:port, optionally with a path prefix before /api/v1"),
    ca_file: Optional[Path] = typer.Option(None, "--ca-file", help="WFM root CA, PEM or DER (out of band)"),
    bootstrap_ca_file: Optional[Path] = typer.Option(
        None, "--bootstrap-ca-file", help="CA that verifies the channel the WFM root CA is downloaded over"),
    bootstrap_url: Optional[str] = typer.Option(
        None, "--bootstrap-url", help="where to download the root CA from (default: the WFM URL)"),
    state_dir: Optional[Path] = typer.Option(
        None, "--state-dir", help="key, certificate, clientId, WFM URL (required for httpsig)"),
    capabilities: Optional[Path] = typer.Option(None, "--capabilities", help="manifest JSON (default: from the host)"),
    gateway_children: Optional[str] = typer.Option(
        None, "--gateway-children", help="see-thru gateway mode: a child count, or a JSON file of child manifests"),
    key_type: str = typer.Option("p256", "--key-type", help="p256 | p384 | rsa2048 | rsa3072"),
    alg: Optional[str] = typer.Option(None, "--alg", help="signature algorithm (default: the key's natural one)"),
    cert_form: str = typer.Option("der", "--cert-form", help="onboarding certificate as base64 of: der | pem"),
    cert_file: Optional[Path] = typer.Option(None, "--cert-file", help="client certificate (instead of generating)"),
    key_file: Optional[Path] = typer.Option(None, "--key-file", help="its private key, unencrypted PEM"),
    device_id: Optional[str] = typer.Option(None, "--device-id", help="deviceId (default: derived from the key)"),
    defect: list[str] = typer.Option([], "--defect", help="named defect (repeatable); see 'defects --role device'"),
    timeout: float = typer.Option(10.0, "--timeout", help="seconds per network call"),
    retries: int = typer.Option(5, "--attempts", help="attempts per request (429/5xx/connection errors)"),
    quiet: bool = typer.Option(False, "--quiet", help="only warnings and the result line"),
    evidence: Optional[Path] = typer.Option(
        None, "--evidence", help="write every exchange (requests, answers, TLS facts, signature bases) as JSON"),
    svid_cert: Optional[Path] = typer.Option(
        None, "--svid-cert", help="[miaf] the device's X.509-SVID leaf PEM, optionally followed by intermediates"),
    svid_key: Optional[Path] = typer.Option(None, "--svid-key", help="[miaf] its private key, unencrypted PEM"),
    svid_chain: Optional[Path] = typer.Option(
        None, "--svid-chain", help="[miaf] intermediates PEM (may be empty), sent after the leaf"),
    bundle_file: Optional[Path] = typer.Option(
        None, "--bundle-file", help="[miaf] trust anchors: PEM certificates or a SPIFFE bundle (JWK Set)"),
    discovery_url: Optional[str] = typer.Option(
        None, "--discovery-url", help="[miaf] https://HOST:PORT/.well-known/margo (trust bundle discovery)"),
    bundle_url: Optional[str] = typer.Option(None, "--bundle-url", help="[miaf] the SPIFFE bundle's https URL"),
    mis_ca_file: Optional[Path] = typer.Option(
        None, "--mis-ca-file", help="[miaf] CA certificates (with host-name check) for the discovery/bundle origin"),
    mis_pin: list[str] = typer.Option(
        [], "--mis-pin", help="[miaf] base64 SHA-256 of a DER SubjectPublicKeyInfo of the origin's chain (repeatable)"),
    wfm_spiffe_id: Optional[str] = typer.Option(
        None, "--wfm-spiffe-id", help="[miaf] must equal the WFM ID derived from the device's own SVID"),
    labels_file: Optional[Path] = typer.Option(
        None, "--labels-file", help="[miaf] JSON object of labels; watched: a change is reported again"),
    watch: bool = typer.Option(
        False, "--watch", help="[miaf] keep running: watch labels, SVID files and the bundle until SIGTERM"),
) -> None:
    """Onboard to a WFM and report capabilities, as a conformant device client (or a named defective one)."""
    _setup_logging(quiet)
    given = {"--svid-cert": svid_cert, "--svid-key": svid_key, "--svid-chain": svid_chain,
             "--bundle-file": bundle_file, "--discovery-url": discovery_url, "--bundle-url": bundle_url,
             "--mis-ca-file": mis_ca_file, "--mis-pin": mis_pin, "--wfm-spiffe-id": wfm_spiffe_id,
             "--labels-file": labels_file, "--watch": watch, "--ca-file": ca_file,
             "--bootstrap-ca-file": bootstrap_ca_file, "--bootstrap-url": bootstrap_url,
             "--capabilities": capabilities, "--key-type": None if key_type == "p256" else key_type, "--alg": alg,
             "--cert-form": None if cert_form == "der" else cert_form, "--cert-file": cert_file,
             "--key-file": key_file}
    if profile is not None:
        from ..profiles import load_profile

        try:
            chosen = load_profile(profile)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if chosen.authenticator == "mtls-svid":
            stray = _given(_HTTPSIG_ONLY, given)
            if stray:
                typer.echo(f"error: {', '.join(stray)} belong to the httpsig device; profile {chosen.name} takes "
                           "--svid-cert/--svid-key and a bundle option", err=True)
                raise typer.Exit(2)
            from .miaf.command import MiafOptions, run_miaf

            raise typer.Exit(run_miaf(chosen, MiafOptions(
                wfm_url=wfm_url, svid_cert=svid_cert, svid_key=svid_key, svid_chain=svid_chain,
                bundle_file=bundle_file, discovery_url=discovery_url, bundle_url=bundle_url, mis_ca_file=mis_ca_file,
                mis_pins=list(mis_pin), wfm_spiffe_id=wfm_spiffe_id, device_id=device_id,
                gateway_children=gateway_children, labels_file=labels_file, watch=watch, attempts=retries,
                timeout=timeout, state_dir=state_dir, defects=list(defect)), evidence=evidence))
    stray = _given(_MIAF_ONLY, given)
    if stray:
        typer.echo(f"error: {', '.join(stray)} belong to a mutual-TLS profile's device (--profile miaf-rc3)", err=True)
        raise typer.Exit(2)
    if state_dir is None:
        typer.echo("error: Missing option '--state-dir'", err=True)
        raise typer.Exit(2)
    from .client import DeviceClient, DeviceConfig, RetryPolicy, WfmRefused

    try:
        config = DeviceConfig(
            wfm_url=wfm_url, state_dir=state_dir, ca_file=ca_file, bootstrap_ca_file=bootstrap_ca_file,
            bootstrap_url=bootstrap_url,
            capabilities_file=capabilities, gateway_children=_gateway_children(gateway_children),
            key_type=key_type, algorithm=alg, cert_form=cert_form, cert_file=cert_file, key_file=key_file,
            device_id=device_id, defects=tuple(defect), timeout_s=timeout,
            retry=RetryPolicy(attempts=max(1, retries)),
        )
        client = DeviceClient(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        result = client.run()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except WfmRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SutUnreachable, SutTimeout) as exc:
        typer.echo(f"unreachable: {exc}", err=True)
        raise typer.Exit(3) from None
    except HarnessError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    finally:
        if evidence is not None:
            _write_evidence(evidence, client.exchanges)
    done = "onboarded" if result.onboarded_now else "already onboarded"
    typer.echo(f"ok: {done} as clientId {result.client_id}; capabilities reported for {', '.join(result.reported)}")
