"""The mutual-TLS client wire: a TLS refusal is recorded as an answer, silence raises, the chain is recorded.

Against a small stdlib TLS server that requires a client certificate from its own test root (certificates
made here with ``cryptography``, fresh per run), on loopback.
"""

from __future__ import annotations

import datetime
import http.server
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from margo_conformance.device.wire import WfmNotTrusted, WfmTimeout, WfmUnreachable
from margo_conformance.mtls import ClientIdentity, MtlsWire, tls_alert
from margo_conformance.mtls.wire import handshake

NOW = datetime.datetime.now(datetime.timezone.utc)


def _cert(name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None, *, ca: bool = False,
          uri: str | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(hours=1))
               .not_valid_after(NOW + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if uri:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(201)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # refused handshakes are the point of these tests


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("mtls-wire")
    root = _cert("R1", ca=True)
    inter = _cert("I1", root, ca=True)
    server = _cert("wfm", inter, uri="spiffe://harness.test/margo/wfm/wfm-h1")
    client = _cert("c1", inter, uri="spiffe://harness.test/margo/wfm/wfm-h1/client/c1")
    stranger = _cert("self", uri="spiffe://harness.test/margo/wfm/wfm-h1/client/c1")
    files: dict[str, object] = {"root": root[0], "bundle": _pem(root[0]), "dir": d}
    for name, (cert, key), chain in (("server", server, [inter[0]]), ("client", client, [inter[0]]),
                                     ("stranger", stranger, [])):
        (d / f"{name}.pem").write_bytes(_pem(cert) + b"".join(_pem(c) for c in chain))
        (d / f"{name}.key").write_bytes(_key_pem(key))
    return files


@pytest.fixture(scope="module")
def server_url(pki: dict[str, object]) -> Iterator[str]:
    d = Path(str(pki["dir"]))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=bytes(pki["bundle"]).decode())  # type: ignore[arg-type]
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _identity(pki: dict[str, object], name: str) -> ClientIdentity:
    d = Path(str(pki["dir"]))
    return ClientIdentity(name, d / f"{name}.pem", d / f"{name}.key")


def test_a_valid_client_is_served_and_the_whole_presented_chain_is_recorded(pki, server_url) -> None:
    with MtlsWire(server_url, _identity(pki, "client"), pki["bundle"], timeout=5) as wire:  # type: ignore[arg-type]
        exchange = wire.send("PUT", "/api/v1/capabilities/d1", b"{}")
    assert exchange.response is not None and exchange.response.status == 201
    assert exchange.refusal is None
    assert exchange.tls is not None and exchange.tls.version == "TLSv1.3"
    assert [c["subject"] for c in exchange.tls.peer_chain] == ["CN=wfm", "CN=I1"]


def test_no_client_certificate_is_a_refusal_on_the_first_read_not_an_error(pki, server_url) -> None:
    with MtlsWire(server_url, None, pki["bundle"], timeout=5) as wire:  # type: ignore[arg-type]
        exchange = wire.send("PUT", "/api/v1/capabilities/d1", b"{}")
    assert exchange.response is None
    assert exchange.refusal is not None and exchange.refusal.stage == "first-read"
    # The alert can be lost when the server closes with our request unread (a TCP reset overtakes it): then the
    # refusal is "connection closed". Either way it is an answer, never an exception.
    assert exchange.refusal.alert in ("certificate_required", None)
    assert "TLS refusal" in exchange.to_text()


def test_a_certificate_outside_the_bundle_is_refused_with_its_alert(pki, server_url) -> None:
    with MtlsWire(server_url, _identity(pki, "stranger"), pki["bundle"], timeout=5) as wire:  # type: ignore[arg-type]
        exchange = wire.send("PUT", "/api/v1/capabilities/d1", b"{}")
    assert exchange.refusal is not None and exchange.refusal.alert in ("unknown_ca", None)  # see above


def test_a_server_outside_the_bundle_is_our_refusal_and_raises(pki, server_url) -> None:
    other_root = _pem(_cert("R9", ca=True)[0])
    with MtlsWire(server_url, _identity(pki, "client"), other_root, timeout=5) as wire:
        with pytest.raises(WfmNotTrusted):
            wire.send("PUT", "/api/v1/capabilities/d1", b"{}")


def test_no_listener_is_silence() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = _pem(_cert("R1", ca=True)[0])
    with MtlsWire(f"https://127.0.0.1:{port}", None, root, timeout=2) as wire:
        with pytest.raises(WfmUnreachable) as caught:
            wire.send("GET", "/")
    assert caught.value.silent is True


def test_a_listener_that_never_speaks_is_a_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        root = _pem(_cert("R1", ca=True)[0])
        with MtlsWire(f"https://127.0.0.1:{listener.getsockname()[1]}", None, root, timeout=0.5) as wire:
            with pytest.raises(WfmTimeout):
                wire.send("GET", "/")


def test_handshake_records_version_chain_and_refusals(pki, server_url) -> None:
    facts = handshake(server_url, _identity(pki, "client"), pki["bundle"], verify=False, timeout=5)  # type: ignore[arg-type]
    assert facts.completed and facts.version == "TLSv1.3" and len(facts.chain_der) == 2
    assert facts.cert_requested is True
    refused = handshake(server_url, None, pki["bundle"], verify=False, timeout=5)  # type: ignore[arg-type]
    assert refused.refusal is not None and refused.refusal.alert == "certificate_required"
    legacy = handshake(server_url, _identity(pki, "client"), pki["bundle"], min_version="1.1", max_version="1.1",  # type: ignore[arg-type]
                       verify=False, first_read=False, timeout=5)
    assert legacy.version is None and (legacy.refusal is not None or legacy.local_limit is not None)


def test_alert_names_come_from_openssl_reasons() -> None:
    assert tls_alert("TLSV13_ALERT_CERTIFICATE_REQUIRED") == "certificate_required"
    assert tls_alert("SSLV3_ALERT_BAD_CERTIFICATE") == "bad_certificate"
    assert tls_alert("TLSV1_ALERT_ACCESS_DENIED") == "access_denied"
    assert tls_alert("CERTIFICATE_VERIFY_FAILED") is None
