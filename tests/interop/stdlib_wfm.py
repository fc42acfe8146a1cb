"""A small, strict WFM on a different stack, so the harness is run against something it did not build.

Python's ``http.server`` (ThreadingHTTPServer, HTTP/1.1) behind the ``ssl`` module (TLS 1.3 minimum),
loopback only. RFC 9421 and RFC 9530 are verified here by hand with ``cryptography``: our ``httpsig``
package is built on the PyPI ``http-message-signatures``, so using either would share code with what is
being checked. The TLS certificates are made with ``cryptography`` too, not with our ``pki`` module.

Checks in this order, with the codes of DIGEST 2.7: Content-Digest (400), unknown clientId (404), signature
with the key of the stored certificate (401), request shape (400), manifest schema and semantics (422). Operator decisions are not modelled:
every well-formed client certificate is accepted, so scenarios needing operator hooks are not run.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"  # never anything but loopback
SOCKET_TIMEOUT_S = 10
WINDOW_S, FUTURE_SKEW_S = 300, 60
MAX_BODY = 1 << 20
PROBLEMS = "https://docs.margo.org/specification/problems/"
TITLES = {400: "Bad Request", 401: "Signature Verification Failed", 404: "Not Found", 413: "Content Too Large",
          422: "Semantic Error"}
CLIENT_ROUTE = re.compile(r"/api/v1/clients/([^/]+)/capabilities/(.+)")
DEVICE_ID = r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$"

_KEY = r"[a-z*][a-z0-9_\-.*]*"
_SF_STRING = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
# One signature in canonical form (what a serializer emits): label=("c1" "c2");p=1;q="v"
_INNER_LIST = rf"\(((?:{_SF_STRING}(?: {_SF_STRING})*)?)\)"
_PARAMS = rf"(?:;{_KEY}=(?:-?[0-9]+|{_SF_STRING}))*"
_SIGNATURE_INPUT = re.compile(rf"({_KEY})=({_INNER_LIST}({_PARAMS}))")  # label, value, components, params
_SIGNATURE = re.compile(rf"({_KEY})=:([A-Za-z0-9+/]*={{0,2}}):")
_PARAM = re.compile(rf";({_KEY})=(-?[0-9]+|{_SF_STRING})")
_DIGEST_MEMBER = re.compile(r"([a-z][a-z0-9-]*)=:([A-Za-z0-9+/]*={0,2}):")

_NAMED_OBJECT = {"type": "object", "required": ["type"]}
MANIFEST_SCHEMA: dict[str, Any] = {  # DIGEST 3.1, newest HTTPSIG text
    "type": "object",
    "required": ["apiVersion", "kind", "properties"],
    "additionalProperties": False,
    "patternProperties": {"^x-[a-z][a-z0-9-]*-extensions$": {"type": "object"}},
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"const": "DeviceCapabilitiesManifest"},
        "properties": {
            "type": "object",
            "required": ["id", "vendor", "modelNumber", "serialNumber"],
            "properties": {
                "id": {"type": "string", "pattern": DEVICE_ID},
                "vendor": {"type": "string"}, "modelNumber": {"type": "string"}, "serialNumber": {"type": "string"},
                "cpus": {"type": "array", "items": {
                    "type": "object", "required": ["cores"],
                    "properties": {"cores": {"type": "number"}, "architecture": {"enum": ["amd64", "arm64", "arm"]}}}},
                "memory": {"type": "string"}, "storage": {"type": "string"},
                "peripherals": {"type": "array", "items": {**_NAMED_OBJECT, "properties": {
                    "type": {"enum": ["gpu", "display", "camera", "microphone", "speaker"]},
                    "manufacturer": {"type": "string"}, "model": {"type": "string"}}}},
                "interfaces": {"type": "array", "items": {**_NAMED_OBJECT, "properties": {
                    "type": {"enum": ["ethernet", "wifi", "cellular", "bluetooth", "usb", "canbus", "rs232"]}}}},
                "otelCollector": {"type": "boolean"},
                "supportedRuntimes": {"type": "array", "minItems": 1, "items": {"enum": ["oci"]}},
                "supportedDeploymentTypes": {"type": "array", "minItems": 1, "items": {"enum": ["helm", "compose"]}},
            },
        },
    },
}
MANIFEST_VALIDATOR = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
#: A hosting device reports all of these, a non-hosting gateway none (CAP-11, CAP-12).
HOSTING_FIELDS = ("cpus", "memory", "storage", "peripherals", "interfaces", "otelCollector", "supportedRuntimes",
                  "supportedDeploymentTypes")


class Refusal(Exception):
    """An error answer: status, Margo problem type name (None: about:blank) and a detail for the body."""

    def __init__(self, status: int, problem: str | None, detail: str) -> None:
        super().__init__(detail)
        self.status, self.problem, self.detail = status, problem, detail


# --- TLS ---------------------------------------------------------------------------------------------


def _cert(subject: str, key: Any, issuer: x509.Name | None, issuer_key: Any, *, ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = (builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls(directory: Path) -> tuple[x509.Certificate, ssl.SSLContext]:
    """A fresh self-signed root and a server certificate for localhost / 127.0.0.1; the server context."""
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = _cert("stdlib-wfm test root CA", root_key, None, root_key, ca=True)
    leaf = _cert("localhost", leaf_key, root.subject, root_key, ca=False)
    chain, key_file = directory / "server-chain.pem", directory / "server-key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM))
    key_file.touch(mode=0o600)
    key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(chain, key_file)
    return root, ctx


# --- RFC 9530 and RFC 9421, by hand ---------------------------------------------------------------------


def check_digest(header: str | None, body: bytes) -> None:
    """Content-Digest must carry a sha-256 member equal to SHA-256 of the body bytes (DIG-01, DIG-03)."""
    if header is None:
        if body:
            raise Refusal(400, "invalid-digest-header", "Content-Digest is missing")
        return
    members: dict[str, bytes] = {}
    for part in header.split(","):
        match = _DIGEST_MEMBER.fullmatch(part.strip())
        if match is None:
            raise Refusal(400, "invalid-digest-header", "Content-Digest is not a dictionary of byte sequences")
        try:
            members[match[1]] = base64.b64decode(match[2], validate=True)
        except binascii.Error:
            raise Refusal(400, "invalid-digest-header", "Content-Digest holds invalid base64") from None
    if members.get("sha-256") != hashlib.sha256(body).digest():
        raise Refusal(400, "invalid-digest-header", "no sha-256 member matching the body")


def field_value(headers: Any, name: str) -> str | None:
    """All field lines of one name, combined as HTTP does (RFC 9110 5.3); None when absent."""
    values = headers.get_all(name)
    return ", ".join(v.strip() for v in values) if values else None


def _component(name: str, method: str, target_uri: str, headers: Any) -> str:
    if name == "@method":
        return method
    if name == "@target-uri":
        return target_uri
    value = field_value(headers, name) if name == name.lower() and not name.startswith("@") else None
    if value is None:
        raise Refusal(401, "signature-verification-failed", f"cannot resolve the covered component {name!r}")
    return value


def _verifies(key: Any, alg: object, signature: bytes, base: bytes) -> bool:
    """ECDSA as raw r||s only (RFC 9421 3.3.4); RSA: v1.5-SHA256 or PSS-SHA256 (salt 32), or as alg says;
    Ed25519 (an extra the spec allows)."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if alg not in (None, "ed25519"):
                return False
            key.verify(signature, base)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            size, digest, name = {"secp256r1": (32, hashes.SHA256, "ecdsa-p256-sha256"),
                                  "secp384r1": (48, hashes.SHA384, "ecdsa-p384-sha384")}[key.curve.name]
            if alg not in (None, name) or len(signature) != 2 * size:
                return False
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), base, ec.ECDSA(digest()))
            return True
        schemes = {"rsa-v1_5-sha256": padding.PKCS1v15(),
                   "rsa-pss-sha256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)}
        for name in ([alg] if alg is not None else list(schemes)):
            if name in schemes:
                try:
                    key.verify(signature, base, schemes[name], hashes.SHA256())
                    return True
                except InvalidSignature:
                    continue
        return False
    except InvalidSignature:
        return False


def verify_signature(method: str, target_uri: str, headers: Any, body: bytes, key: Any) -> None:
    """One signature over at least @method, @target-uri (and content-digest with a body), created in the window."""
    fail = "signature-verification-failed"
    signature_input, signature = field_value(headers, "Signature-Input"), field_value(headers, "Signature")
    if signature_input is None or signature is None:
        raise Refusal(401, fail, "Signature and Signature-Input are both required")
    sig_in, sig = _SIGNATURE_INPUT.fullmatch(signature_input), _SIGNATURE.fullmatch(signature)
    if sig_in is None or sig is None or sig_in[1] != sig[1]:
        raise Refusal(401, fail, "expected one signature in canonical form, with the same label in both fields")
    covered = re.findall(r'"([^"]*)"', sig_in[3])
    required = ["@method", "@target-uri"] + (["content-digest"] if body else [])
    if len(set(covered)) != len(covered) or not set(required) <= set(covered):
        raise Refusal(401, fail, f"the signature must cover {required} once each, covers {covered}")
    params = {k: int(v) if v[0] != '"' else v[1:-1] for k, v in _PARAM.findall(sig_in[4])}
    created, now = params.get("created"), time.time()
    if not isinstance(created, int) or not now - WINDOW_S <= created <= now + FUTURE_SKEW_S:
        raise Refusal(401, fail, f"created {created!r} is missing or outside the accepted window")
    if isinstance(params.get("expires"), int) and params["expires"] < now:
        raise Refusal(401, fail, "the signature has expired")
    lines = [f'"{name}": {_component(name, method, target_uri, headers)}' for name in covered]
    lines.append(f'"@signature-params": {sig_in[2]}')
    try:
        base, raw = "\n".join(lines).encode("ascii"), base64.b64decode(sig[2], validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise Refusal(401, fail, "the signature base is not ASCII or the signature is not base64") from None
    if not _verifies(key, params.get("alg"), raw, base):
        raise Refusal(401, fail, "the signature does not verify with the client's certificate key")


def parse_client_certificate(value: object) -> x509.Certificate:
    """base64 of DER (or of PEM), RFC 5280 v3 with a positive serial, valid now, a key of a known algorithm."""
    bad = "invalid-certificate-format"
    if not isinstance(value, str) or not value:
        raise Refusal(400, bad, "certificate must be a non-empty base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
        pem = raw.startswith(b"-----BEGIN CERTIFICATE-----")
        cert = x509.load_pem_x509_certificate(raw) if pem else x509.load_der_x509_certificate(raw)
        serial, version, extensions, key = cert.serial_number, cert.version, cert.extensions, cert.public_key()
    except (binascii.Error, ValueError) as exc:
        raise Refusal(400, bad, f"not an X.509 certificate: {exc}") from None
    if not 0 < serial < 1 << 159 or (version is not x509.Version.v3 and len(extensions)):
        raise Refusal(400, bad, "the certificate breaks RFC 5280 (serial or version)")
    now = dt.datetime.now(dt.timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Refusal(400, bad, "the certificate is not valid now")
    ec_ok = isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in ("secp256r1", "secp384r1")
    rsa_ok = isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048
    if not (ec_ok or rsa_ok or isinstance(key, ed25519.Ed25519PublicKey)):
        raise Refusal(400, bad, "the certificate key is not EC P-256/P-384, RSA >= 2048 or Ed25519")
    return cert


# --- the WFM -----------------------------------------------------------------------------------------------


@dataclass
class Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    certs: dict[str, x509.Certificate] = field(default_factory=dict)  # clientId -> certificate
    by_fingerprint: dict[bytes, str] = field(default_factory=dict)
    devices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (clientId, deviceId)


class Operator:
    """The operator's decisions as files, so the harness's hook commands can be plain ``touch``:
    ``<dir>/revoked/<clientId>`` and ``<dir>/rejected/<clientId>`` (hooks in ``sut_file``)."""

    STATES = ("revoked", "rejected")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for state in self.STATES:
            (directory / state).mkdir(parents=True, exist_ok=True)

    def state(self, client_id: str) -> str | None:
        return next((s for s in self.STATES if (self.directory / s / client_id).exists()), None)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S
    server: StdlibWfm

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        if self.path != "/api/v1/onboarding/certificate":
            return self._answer(Refusal(404, None, "no such resource"))
        der = self.server.root.public_bytes(serialization.Encoding.DER)
        self._send(200, {"certificate": base64.b64encode(der).decode()})

    def do_POST(self) -> None:
        self._dispatch(self._onboard if self.path == "/api/v1/onboarding" else None)

    def do_PUT(self) -> None:
        self._dispatch(self._put_capabilities)

    def do_DELETE(self) -> None:
        self._dispatch(self._delete_capabilities)

    def _dispatch(self, action: Any) -> None:
        try:
            body = self._read_body()
            if action is None:
                raise Refusal(404, None, "no such resource")
            action(body)
        except Refusal as refusal:
            self._answer(refusal)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") is not None:
            raise Refusal(400, "invalid-request", "chunked request bodies are not accepted")
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit():
            raise Refusal(400, "invalid-request", "Content-Length is not a number")
        length = int(declared)
        if length > MAX_BODY:
            self.close_connection = True
            raise Refusal(413, None, "request body too large")
        return self.rfile.read(length)

    def _target_uri(self) -> str:
        return self.server.origin + self.path

    def _onboard(self, body: bytes) -> None:
        check_digest(field_value(self.headers, "Content-Digest"), body)
        doc = _json(body)
        if not (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str)
                and doc.get("kind") == "OnboardingRequest" and "certificate" in doc):
            raise Refusal(400, "invalid-request", "expected apiVersion, kind OnboardingRequest and certificate")
        cert = parse_client_certificate(doc["certificate"])
        # Proof of possession: the onboarding request is signed by the key of the certificate it carries.
        verify_signature(self.command, self._target_uri(), self.headers, body, cert.public_key())
        fingerprint = cert.fingerprint(hashes.SHA256())
        store = self.server.store
        with store.lock:
            known = store.by_fingerprint.get(fingerprint)
            client_id = known or str(uuid.uuid4())
            store.by_fingerprint[fingerprint], store.certs[client_id] = client_id, cert
        decided = self.server.operator.state(client_id) if known else None
        if decided == "rejected" or (decided == "revoked" and not self.server.revoked_onboarding_201):
            raise Refusal(403, "certificate-not-trusted", f"the operator {decided} this client")
        # revoked_onboarding_201: the same, still revoked clientId (Q-33 lets a WFM answer 2xx while revocation holds)
        self._send(200 if known and not decided else 201, {"clientId": client_id})

    def _authenticate(self, body: bytes) -> tuple[str, str]:
        route = CLIENT_ROUTE.fullmatch(self.path)
        if route is None:
            raise Refusal(404, None, "no such resource")
        check_digest(field_value(self.headers, "Content-Digest"), body)
        client_id, device_id = route[1], route[2]
        with self.server.store.lock:
            cert = self.server.store.certs.get(client_id)
        if cert is None:
            raise Refusal(404, "invalid-client", f"no client {client_id!r}")
        if self.command not in self.server.unchecked_methods:
            verify_signature(self.command, self._target_uri(), self.headers, body, cert.public_key())
        if (decided := self.server.operator.state(client_id)) is not None:
            raise Refusal(403, "certificate-not-trusted", f"the operator {decided} this client")
        if re.fullmatch(DEVICE_ID, device_id) is None:
            raise Refusal(400, "invalid-request", f"deviceId {device_id!r} is not a hierarchy of unreserved names")
        return client_id, device_id

    def _put_capabilities(self, body: bytes) -> None:
        client_id, device_id = self._authenticate(body)
        doc = _json(body)
        error = jsonschema.exceptions.best_match(MANIFEST_VALIDATOR.iter_errors(doc))
        if error is not None:
            raise Refusal(422, "semantic-error", f"{error.json_path}: {error.message}")
        props = doc["properties"]
        present = [name for name in HOSTING_FIELDS if name in props]
        if present and (len(present) != len(HOSTING_FIELDS) or props["otelCollector"] is not True):
            raise Refusal(422, "semantic-error", "a hosting device reports every hosting field, otelCollector true")
        if props["id"] != device_id:
            raise Refusal(422, "semantic-error", "properties.id differs from the deviceId in the path")
        store = self.server.store
        with store.lock:
            parent = device_id.rpartition("/")[0]
            if parent and (client_id, parent) not in store.devices:
                raise Refusal(404, None, f"the gateway {parent!r} has not been reported")
            created = (client_id, device_id) not in store.devices
            store.devices[(client_id, device_id)] = doc
        self._send(201 if created else 200, None)

    def _delete_capabilities(self, body: bytes) -> None:
        client_id, device_id = self._authenticate(body)
        with self.server.store.lock:
            if self.server.store.devices.pop((client_id, device_id), None) is None:
                raise Refusal(404, None, f"no device {device_id!r} for this client")
        self._send(204, None)

    def _answer(self, refusal: Refusal) -> None:
        kind = PROBLEMS + refusal.problem if refusal.problem else "about:blank"
        self._send(refusal.status, {"type": kind, "title": TITLES.get(refusal.status, "Error"),
                                    "status": refusal.status, "detail": refusal.detail},
                   "application/problem+json")

    def _send(self, status: int, doc: object, content_type: str = "application/json") -> None:
        self.send_response(status)
        if status == 204:
            self.end_headers()
            return
        payload = b"" if doc is None else json.dumps(doc).encode()
        if doc is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise Refusal(400, "invalid-request", "the body is not JSON") from None


class StdlibWfm(ThreadingHTTPServer):
    """The server: TLS is wrapped per connection in the worker thread, so a stuck handshake blocks no one."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, directory: Path, *, unchecked_methods: frozenset[str] = frozenset(),
                 revoked_onboarding_201: bool = False) -> None:
        self.root, self.tls = make_tls(directory)
        self.store = Store()
        self.operator = Operator(directory / "operator")
        #: A deliberate defect (issue 10's "verifies on PUT but not on DELETE"): proves a harness run can fail.
        self.unchecked_methods = unchecked_methods
        #: Issue 18's reading of the text: a revoked certificate that onboards again gets 201 and its same,
        #: still revoked clientId (every signed request of it keeps getting 403). Clean by the text (Q-33).
        self.revoked_onboarding_201 = revoked_onboarding_201
        super().__init__((HOST, 0), Handler)
        self.origin = f"https://{HOST}:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(SOCKET_TIMEOUT_S)
        try:
            tls = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):  # e.g. the harness probing TLS 1.2: refused, as intended
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()

    def start(self) -> StdlibWfm:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
