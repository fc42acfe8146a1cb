"""A small MIAF rc.3 WFM on another stack, so the MIAF suite is run against something it did not build.

Python's ``http.server`` (ThreadingHTTPServer, HTTP/1.1) behind the ``ssl`` module: TLS 1.3 only (1.2 is a MAY),
ALPN ``http/1.1``, ``CERT_REQUIRED`` against the bundle file, loopback only. The SPIFFE check of the client's
leaf is written here by hand with ``cryptography`` (not with ``margo_conformance.pki``): exactly one URI SAN,
SPIFFE ID syntax, the WFM's own trust domain, the exact shape ``/margo/wfm/<wfm-id>/client/<id>`` (MID-01),
cA=false and no keyCertSign/cRLSign (SVID-04/05), keys P-256/P-384/Ed25519/RSA >= 3072 and no SHA-1 (Q-57),
then the accepted-client policy (MID-11), read again on every request (MTLS-08). Routes: PUT/DELETE
``/api/v1/capabilities/{deviceId}``, records keyed by (client SPIFFE ID, deviceId) (MID-08/09), the top-level
gateway before a child (MCAP-08), RFC 9457 problems with the registered ``#<name>`` types. Bodies are checked
with the project's ``schemas/miaf-rc3`` data (the JSON Schema of the rc.3 yaml) through ``jsonschema``.

Operator interface (what a vendor's ``wfmctl`` would be): ``python stdlib_mtls_wfm.py ctl --data-dir D
allow|retire SPIFFE_ID`` and ``trust-bundle FILE``; new bundles apply to new connections.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import ssl
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import referencing
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

HOST = "127.0.0.1"
PROBLEM_BASE = "https://docs.margo.org/specification/problem-types#"
PROBLEMS = {"invalid-request": (400, "Invalid request"), "semantic-error": (422, "Semantic error"),
            "not-authorized": (403, "Not authorized"), "gateway-not-found": (404, "Gateway not found"),
            "device-not-found": (404, "Device not found")}
ROUTE = "/api/v1/capabilities/"
SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
DEVICE_ID = re.compile(r"[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*")
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "miaf-rc3"


def _validator() -> jsonschema.Draft202012Validator:
    docs = {p.name: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.schema.json")}
    registry = referencing.Registry().with_resources(
        (doc["$id"], referencing.Resource.from_contents(doc)) for doc in docs.values())
    return jsonschema.Draft202012Validator(docs["device-capabilities-manifest.schema.json"], registry=registry)


def client_identity(der: bytes, trust_domain: str, wfm_id: str, *, lax_leaf: bool = False) -> tuple[str | None, str]:
    """(SPIFFE ID, "") for an acceptable client leaf, else (None, why). ``lax_leaf`` is a deliberate defect:
    the leaf constraints cA=false and no keyCertSign/cRLSign go unchecked (SVID-04/05 broken, and SVID-06: the
    CA enforces them at issuance only), so a test can prove the suite notices."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if len(uris) != 1:
        return None, f"{len(uris)} URI SANs; an SVID has exactly one"
    uri = uris[0]
    prefix = f"spiffe://{trust_domain}/"
    if not uri.startswith(prefix) or any(c in uri for c in "?#%@"):
        return None, "not a SPIFFE ID of this trust domain"
    segments = uri[len(prefix):].split("/")
    if not all(SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments):
        return None, "SPIFFE ID path syntax"
    if len(segments) != 5 or segments[:3] != ["margo", "wfm", wfm_id] or segments[3] != "client":
        return None, "not a client of this WFM"
    try:
        if not lax_leaf and cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return None, "cA=true on a leaf"
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not lax_leaf and (usage.key_cert_sign or usage.crl_sign):
            return None, "leaf may sign certificates or CRLs"
    except x509.ExtensionNotFound:
        pass
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in ("secp256r1", "secp384r1"):
        return None, f"curve {key.curve.name} is not P-256 or P-384"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 3072:
        return None, f"RSA-{key.key_size} is below 3072 bits"
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return None, "key type not allowed"
    if isinstance(cert.signature_hash_algorithm, hashes.SHA1):
        return None, "SHA-1 signature"
    return uri, ""


class State:
    """Policy, bundle and records; the policy file is the operator's, read on every request."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.records: dict[tuple[str, str], dict] = {}
        self.lock = threading.Lock()

    def policy(self) -> set[str]:
        path = self.directory / "policy.json"
        return set(json.loads(path.read_text())) if path.exists() else set()


def _set_policy(directory: Path, ids: set[str]) -> None:
    tmp = directory / "policy.json.tmp"
    tmp.write_text(json.dumps(sorted(ids)))
    os.replace(tmp, directory / "policy.json")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MiafServer

    def setup(self) -> None:
        self.handshake_failed = False
        self.request.settimeout(10)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.handshake_failed = True
        super().setup()

    def handle(self) -> None:
        if not self.handshake_failed:
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return

    def _problem(self, name: str, detail: str, status: int | None = None, errors: list | None = None) -> None:
        code, title = PROBLEMS.get(name, (status or 500, HTTPStatus(status or 500).phrase))
        body: dict[str, Any] = {"type": PROBLEM_BASE + name if name in PROBLEMS else "about:blank", "title": title,
                                "status": status or code, "detail": detail}
        if errors:
            body["errors"] = errors  # MERR-08: {field, message} per failed rule
        self._send(status or code, json.dumps(body).encode(), "application/problem+json")

    def _send(self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _caller(self) -> str | None:
        cfg = self.server
        spiffe_id, why = client_identity(self.connection.getpeercert(binary_form=True), cfg.trust_domain, cfg.wfm_id,
                                         lax_leaf=cfg.lax_leaf)
        if spiffe_id is None:
            self._problem("not-authorized", why)
            return None
        if spiffe_id not in cfg.state.policy():
            self._problem("not-authorized", "not on the accepted-client policy")
            return None
        return spiffe_id

    def _route(self, method: str) -> None:
        body = self._body()
        caller = self._caller()
        if caller is None:
            return
        path = urlsplit(self.path).path
        if not path.startswith(ROUTE):
            self._problem("about:blank", "no such route", 404)
            return
        if method not in ("PUT", "DELETE"):
            self._problem("about:blank", "method not allowed", 405)
            return
        device_id = unquote(path[len(ROUTE):])
        if not DEVICE_ID.fullmatch(device_id):
            self._problem("invalid-request", "deviceId does not match the DeviceId pattern")
            return
        state = self.server.state
        with state.lock:
            if method == "DELETE":
                if state.records.pop((caller, device_id), None) is None:
                    self._problem("device-not-found", f"{device_id} was not reported by this client")
                else:
                    self._send(204)
                return
            self._put(caller, device_id, body)

    def _put(self, caller: str, device_id: str, body: bytes) -> None:
        state = self.server.state
        try:
            doc = json.loads(body)
        except ValueError:
            self._problem("invalid-request", "the body is not JSON")
            return
        errors = [{"field": ".".join(str(p) for p in e.absolute_path) or "(root)", "message": e.message[:200]}
                  for e in self.server.validator.iter_errors(doc)]
        if errors:
            self._problem("semantic-error", "the body breaks the capabilities schema", errors=errors)
            return
        if doc["properties"]["id"] != device_id:
            self._problem("semantic-error", "properties.id differs from the deviceId in the path",
                          errors=[{"field": "properties.id", "message": "must equal the deviceId of the path"}])
            return
        if "/" in device_id and (caller, device_id.split("/")[0]) not in state.records:
            self._problem("gateway-not-found", "report the gateway before its children")
            return
        created = (caller, device_id) not in state.records
        state.records[(caller, device_id)] = doc
        self._send(201 if created else 200)

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        self._route("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._route("GET")


class MiafServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path, trust_domain: str, wfm_id: str, *, lax_leaf: bool = False) -> None:
        self.directory, self.trust_domain, self.wfm_id = directory, trust_domain, wfm_id
        self.lax_leaf = lax_leaf
        self.state = State(directory)
        self.validator = _validator()
        self._context: tuple[tuple[float, ...], ssl.SSLContext] | None = None
        super().__init__((HOST, 0), Handler)

    def context(self) -> ssl.SSLContext:
        """The TLS context for a new connection, rebuilt when the operator replaced the bundle or the SVID."""
        files = [self.directory / n for n in ("bundle.pem", "wfm.pem", "wfm.key")]
        stamp = tuple(f.stat().st_mtime_ns for f in files)
        if self._context is None or self._context[0] != stamp:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(files[0]))
            ctx.load_cert_chain(str(files[1]), str(files[2]))
            ctx.set_alpn_protocols(["http/1.1"])
            self._context = (stamp, ctx)
        return self._context[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        return self.context().wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hangs up mid-request is not the server's error


class StdlibMtlsWfm:
    """Start/stop wrapper for tests: ``directory`` holds wfm.pem (leaf + intermediates), wfm.key, bundle.pem."""

    def __init__(self, directory: Path, *, trust_domain: str, wfm_id: str, lax_leaf: bool = False) -> None:
        self.directory = Path(directory)
        self.server = MiafServer(self.directory, trust_domain, wfm_id, lax_leaf=lax_leaf)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.server.server_address[1]}"

    def start(self) -> StdlibMtlsWfm:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def ctl(self, *words: str) -> list[str]:
        """The operator command line a SUT file's hooks run (absolute interpreter and script paths)."""
        return [sys.executable, str(Path(__file__).resolve()), "ctl", "--data-dir", str(self.directory), *words]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stdlib_mtls_wfm.py")
    sub = parser.add_subparsers(dest="command", required=True)
    ctl = sub.add_parser("ctl")
    ctl.add_argument("--data-dir", type=Path, required=True)
    ctl.add_argument("action", choices=("allow", "retire", "trust-bundle"))
    ctl.add_argument("value")
    args = parser.parse_args(argv)
    directory: Path = args.data_dir
    if args.action == "trust-bundle":
        pem = Path(args.value).read_bytes()
        if b"BEGIN CERTIFICATE" not in pem:
            print("error: not a PEM bundle", file=sys.stderr)
            return 2
        tmp = directory / "bundle.pem.tmp"
        tmp.write_bytes(pem)
        os.replace(tmp, directory / "bundle.pem")
        return 0
    ids = State(directory).policy()
    (ids.add if args.action == "allow" else ids.discard)(args.value)
    _set_policy(directory, ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
