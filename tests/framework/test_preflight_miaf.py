"""Pre-flight of a WFM certified over mutual TLS: a dead WFM and one that refuses the harness's clean client SVID
(its trust is not set up) each end the run before any scenario, with one line that says which (exit 3).

The WFM is a small stdlib mTLS server on loopback that trusts one vendor CA; the SUT file hands the harness
either that CA (trust set up) or another one (the WFM refuses every client the harness mints).
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

from margo_conformance import preflight
from margo_conformance.sut import load_sut

NOW = datetime.datetime.now(datetime.timezone.utc)


def _ca(directory: Path, stem: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(hours=1))
            .not_valid_after(NOW + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{stem}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    return cert, key


def _wfm_leaf(directory: Path, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(ca[0].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(hours=1)).not_valid_after(NOW + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(
                "spiffe://vendor.test/margo/wfm/wfm-v")]), critical=False)
            .sign(ca[1], hashes.SHA256()))
    (directory / "wfm.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "wfm.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_DELETE(self) -> None:
        body = b'{"type":"https://docs.margo.org/specification/problem-types#device-not-found","title":"Not Found","status":404}'
        self.send_response(404)
        self.send_header("content-type", "application/problem+json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    d = tmp_path_factory.mktemp("vendor-wfm")
    ca = _ca(d, "vendor-ca")
    _ca(d, "stranger-ca")
    _wfm_leaf(d, ca)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "wfm.pem", d / "wfm.key")
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(d / "vendor-ca.pem"))
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", d
    finally:
        httpd.shutdown()
        httpd.server_close()


def _sut(directory: Path, base_url: str, ca_stem: str) -> Path:
    path = directory / f"sut-{ca_stem}.toml"
    path.write_text(f"""[sut]
role = "wfm"
name = "stdlib mTLS WFM"
profile = "miaf-rc3"
[wfm]
base_url = "{base_url}"
wfm_id = "wfm-v"
trust_domain = "vendor.test"
request_timeout_s = 5
policy_mode = "namespace"
[identity]
ca_cert = "{ca_stem}.pem"
ca_key = "{ca_stem}.key"
bundle = "vendor-ca.pem"
""")
    return path


def test_a_wfm_whose_trust_is_set_up_passes_the_preflight(vendor) -> None:
    pytest.importorskip("margo_conformance.pki.spiffe")  # minting from a signing CA comes with branch miaf-pki
    url, d = vendor
    assert preflight.check(load_sut(_sut(d, url, "vendor-ca"))) is None


def test_a_wfm_that_refuses_the_clean_client_svid_is_named_in_one_line(vendor) -> None:
    pytest.importorskip("margo_conformance.pki.spiffe")
    url, d = vendor
    problem = preflight.check(load_sut(_sut(d, url, "stranger-ca")))
    assert problem is not None and problem.exit_code == 3
    assert problem.message.startswith("SUT unusable: the WFM refuses the harness's clean client SVID C-OK")
    assert "unknown_ca" in problem.message and "\n" not in problem.message


def test_a_dead_wfm_is_unreachable_in_one_line(vendor) -> None:
    _, d = vendor
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    problem = preflight.check(load_sut(_sut(d, f"https://127.0.0.1:{port}", "vendor-ca")))
    assert problem is not None and problem.exit_code == 3
    assert problem.message.startswith("SUT unreachable: cannot connect to 127.0.0.1") and "\n" not in problem.message
