"""``margo-conformance device run``: the reference device client as a program (argparse, no typer).

The device-role suite launches the reference device once per recording, a thousand times in a test run:
typer and the pydantic it now imports cost about 140 ms of every launch, so the program parses its arguments
with the standard library. ``margo-conformance device run`` (typer, ``cli.py``) forwards its arguments here.

Exit codes: 0 onboarding and capability report succeeded; 1 the WFM refused (the reason names the
problem type); 2 bad usage (unknown defect, missing file, both or neither CA options); 3 the WFM could not
be reached or its certificate was not trusted. Expected failures print one line, never a traceback.

``--profile`` picks the device: a profile whose authenticator is ``mtls-svid`` runs the reference MIAF device
(``device/miaf/``, its own options: ``--svid-cert`` ...); every other runs the httpsig device, unchanged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError, HarnessError, SutTimeout, SutUnreachable
from ..evidence import Exchange

PROG = "margo-conformance device run"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Onboard to a WFM and report capabilities, as a conformant device client (or a named "
                    "defective one). Options marked [miaf] belong to a mutual-TLS profile (--profile miaf-rc3).")
    add = p.add_argument
    add("--profile", help="spec profile (default httpsig-2026h1); a mutual-TLS profile (miaf-rc3) runs the MIAF device")
    add("--wfm-url", required=True, help="WFM base URL: https://host:port, optionally with a path prefix before /api/v1")
    add("--ca-file", type=Path, help="WFM root CA, PEM or DER (out of band)")
    add("--bootstrap-ca-file", type=Path, help="CA that verifies the channel the WFM root CA is downloaded over")
    add("--bootstrap-url", help="where to download the root CA from (default: the WFM URL)")
    add("--state-dir", type=Path, help="key, certificate, clientId, WFM URL (required for httpsig)")
    add("--capabilities", type=Path, help="manifest JSON (default: from the host)")
    add("--gateway-children", help="see-thru gateway mode: a child count, or a JSON file of child manifests")
    add("--key-type", default="p256", help="p256 | p384 | rsa2048 | rsa3072")
    add("--alg", help="signature algorithm (default: the key's natural one)")
    add("--cert-form", default="der", help="onboarding certificate as base64 of: der | pem")
    add("--cert-file", type=Path, help="client certificate (instead of generating)")
    add("--key-file", type=Path, help="its private key, unencrypted PEM")
    add("--device-id", help="deviceId (default: derived from the key)")
    add("--defect", action="append", default=[], help="named defect (repeatable); see 'defects --role device'")
    add("--timeout", type=float, default=10.0, help="seconds per network call")
    add("--attempts", type=int, default=5, help="attempts per request (429/5xx/connection errors)")
    add("--quiet", action="store_true", help="only warnings and the result line")
    add("--evidence", type=Path,
        help="write every exchange (requests, answers, TLS facts, signature bases) as JSON")
    add("--svid-cert", type=Path, help="[miaf] the device's X.509-SVID leaf PEM, optionally followed by intermediates")
    add("--svid-key", type=Path, help="[miaf] its private key, unencrypted PEM")
    add("--svid-chain", type=Path, help="[miaf] intermediates PEM (may be empty), sent after the leaf")
    add("--bundle-file", type=Path, help="[miaf] trust anchors: PEM certificates or a SPIFFE bundle (JWK Set)")
    add("--discovery-url", help="[miaf] https://HOST:PORT/.well-known/margo (trust bundle discovery)")
    add("--bundle-url", help="[miaf] the SPIFFE bundle's https URL")
    add("--mis-ca-file", type=Path,
        help="[miaf] CA certificates (with host-name check) for the discovery/bundle origin")
    add("--mis-pin", action="append", default=[],
        help="[miaf] base64 SHA-256 of a DER SubjectPublicKeyInfo of the origin's chain (repeatable)")
    add("--wfm-spiffe-id", help="[miaf] must equal the WFM ID derived from the device's own SVID")
    add("--labels-file", type=Path, help="[miaf] JSON object of labels; watched: a change is reported again")
    add("--watch", action="store_true",
        help="[miaf] keep running: watch labels, SVID files and the bundle until SIGTERM")
    return p


#: Options only the mutual-TLS (SVID) device reads, and only the httpsig device reads: given under the other
#: profile kind they are a usage error, never silently ignored.
_MIAF_ONLY = ("--svid-cert", "--svid-key", "--svid-chain", "--bundle-file", "--discovery-url", "--bundle-url",
              "--mis-ca-file", "--mis-pin", "--wfm-spiffe-id", "--labels-file", "--watch")
_HTTPSIG_ONLY = ("--ca-file", "--bootstrap-ca-file", "--bootstrap-url", "--capabilities", "--key-type", "--alg",
                 "--cert-form", "--cert-file", "--key-file")
#: Options whose default is a value, not "not given".
_DEFAULTS = {"--key-type": "p256", "--cert-form": "der"}


def _given(options: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    def value(name: str) -> object:
        v = getattr(options, name.removeprefix("--").replace("-", "_"))
        return None if _DEFAULTS.get(name) == v else v
    return [n for n in names if value(n) not in (None, False, [], ())]


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


def _error(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _write_evidence(path: Path, exchanges: list[Exchange]) -> None:
    """The exchanges as JSON (``Exchange.to_dict``: bodies as redacted text, never a private key)."""
    try:
        path.write_text(json.dumps([e.to_dict() for e in exchanges], indent=2, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        _error(f"warning: could not write the evidence file {path}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reference device with ``argv`` (without the ``device run`` words); returns the exit code."""
    try:
        options = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:  # argparse printed the usage error (2) or the help (0)
        return int(stop.code or 0)
    _setup_logging(options.quiet)
    if options.profile is not None:
        from ..profiles import load_profile

        try:
            chosen = load_profile(options.profile)
        except ConfigError as exc:
            _error(f"error: {exc}")
            return 2
        if chosen.authenticator == "mtls-svid":
            return _run_miaf(chosen, options)
    stray = _given(options, _MIAF_ONLY)
    if stray:
        _error(f"error: {', '.join(stray)} belong to a mutual-TLS profile's device (--profile miaf-rc3)")
        return 2
    if options.state_dir is None:
        _error("error: Missing option '--state-dir'")
        return 2
    return _run_httpsig(options)


def _run_miaf(profile: object, o: argparse.Namespace) -> int:
    stray = _given(o, _HTTPSIG_ONLY)
    if stray:
        _error(f"error: {', '.join(stray)} belong to the httpsig device; profile {profile.name} takes "  # type: ignore[attr-defined]
               "--svid-cert/--svid-key and a bundle option")
        return 2
    from .miaf.command import MiafOptions, run_miaf

    return run_miaf(profile, MiafOptions(  # type: ignore[arg-type]
        wfm_url=o.wfm_url, svid_cert=o.svid_cert, svid_key=o.svid_key, svid_chain=o.svid_chain,
        bundle_file=o.bundle_file, discovery_url=o.discovery_url, bundle_url=o.bundle_url, mis_ca_file=o.mis_ca_file,
        mis_pins=list(o.mis_pin), wfm_spiffe_id=o.wfm_spiffe_id, device_id=o.device_id,
        gateway_children=o.gateway_children, labels_file=o.labels_file, watch=o.watch, attempts=o.attempts,
        timeout=o.timeout, state_dir=o.state_dir, defects=list(o.defect)), evidence=o.evidence)


def _run_httpsig(o: argparse.Namespace) -> int:
    from .client import DeviceClient, DeviceConfig, RetryPolicy, WfmRefused

    try:
        config = DeviceConfig(
            wfm_url=o.wfm_url, state_dir=o.state_dir, ca_file=o.ca_file, bootstrap_ca_file=o.bootstrap_ca_file,
            bootstrap_url=o.bootstrap_url, capabilities_file=o.capabilities,
            gateway_children=_gateway_children(o.gateway_children), key_type=o.key_type, algorithm=o.alg,
            cert_form=o.cert_form, cert_file=o.cert_file, key_file=o.key_file, device_id=o.device_id,
            defects=tuple(o.defect), timeout_s=o.timeout, retry=RetryPolicy(attempts=max(1, o.attempts)),
        )
        client = DeviceClient(config)
    except ConfigError as exc:
        _error(f"error: {exc}")
        return 2
    try:
        result = client.run()
    except ConfigError as exc:
        _error(f"error: {exc}")
        return 2
    except WfmRefused as exc:
        _error(f"refused: {exc}")
        return 1
    except (SutUnreachable, SutTimeout) as exc:
        _error(f"unreachable: {exc}")
        return 3
    except HarnessError as exc:
        _error(f"error: {exc}")
        return 3
    finally:
        if o.evidence is not None:
            _write_evidence(o.evidence, client.exchanges)
    done = "onboarded" if result.onboarded_now else "already onboarded"
    print(f"ok: {done} as clientId {result.client_id}; capabilities reported for {', '.join(result.reported)}",
          flush=True)
    return 0
