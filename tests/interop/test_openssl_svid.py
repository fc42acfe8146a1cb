"""X.509-SVIDs as the world makes them: a trust domain built with the openssl CLI alone, from a config this
test writes (R1 -> I1 -> leaf, URI SAN, critical KU digitalSignature, EKU serverAuth+clientAuth). The harness's
classifiers must accept them (MID-01/04, SVID-02..05) and Python ``ssl`` mTLS between the two must work with
the chain sent inline and the bundle holding R1 only (SVID-08). Keys live in tmp_path only."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from margo_conformance.pki.spiffe import (
    classify_client_svid,
    classify_wfm_svid,
    client_spiffe_id,
    uri_sans,
    wfm_spiffe_id,
)

from .openssl_svid_td import OPENSSL, make_trust_domain

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

TD, WFM_ID = "interop.test", "wfm-o1"
WFM_URI = wfm_spiffe_id(TD, WFM_ID)
CLIENT_URI = client_spiffe_id(TD, WFM_ID, "c1")

@pytest.fixture(scope="module")
def trust_domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trust_domain(tmp_path_factory.mktemp("openssl-td"), WFM_URI, {"client": CLIENT_URI})


def _leaf_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def test_classifiers_accept_openssl_made_svids(trust_domain: Path) -> None:
    wfm, client = _leaf_cert(trust_domain / "wfm.pem"), _leaf_cert(trust_domain / "client.pem")
    assert uri_sans(wfm) == [WFM_URI] and uri_sans(client) == [CLIENT_URI]
    wfm_shape = classify_wfm_svid(wfm, trust_domain=TD, wfm_id=WFM_ID)
    client_shape = classify_client_svid(client, trust_domain=TD, wfm_id=WFM_ID)
    assert (wfm_shape.kind, wfm_shape.spiffe_id, wfm_shape.notes) == ("wfm", WFM_URI, ())
    assert (client_shape.kind, client_shape.client_id, client_shape.notes) == ("client", "c1", ())
    # and each is refused in the other's role
    assert classify_client_svid(wfm, trust_domain=TD, wfm_id=WFM_ID).reason == "MID-01:wfm-svid"
    assert classify_wfm_svid(client, trust_domain=TD, wfm_id=WFM_ID).reason == "MID-04:client-svid"


def _serve_once(server_ctx: ssl.SSLContext, listener: socket.socket, seen: dict) -> None:
    conn, _ = listener.accept()
    conn.settimeout(10)
    try:
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            seen["client_der"] = tls.getpeercert(binary_form=True)
            seen["version"] = tls.version()
            tls.sendall(tls.recv(64).upper())
    except (ssl.SSLError, OSError) as exc:
        seen["error"] = exc


def _mtls(tmp: Path, client_cert: bool) -> tuple[dict, bytes | None, bytes]:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(tmp / "r1.pem"))
    server_ctx.load_cert_chain(str(tmp / "wfm.pem"), str(tmp / "wfm.key"))
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False  # MIAF authenticates the WFM by SPIFFE ID, not hostname
    client_ctx.load_verify_locations(cafile=str(tmp / "r1.pem"))
    if client_cert:
        client_ctx.load_cert_chain(str(tmp / "client.pem"), str(tmp / "client.key"))
    seen: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        thread = threading.Thread(target=_serve_once, args=(server_ctx, listener, seen), daemon=True)
        thread.start()
        reply: bytes | None = None
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with client_ctx.wrap_socket(raw) as tls:
                server_der = tls.getpeercert(binary_form=True)
                try:
                    tls.sendall(b"ping")
                    reply = tls.recv(64)
                except (ssl.SSLError, OSError) as exc:
                    seen["client_error"] = exc
        thread.join(10)
    return seen, reply, server_der


def test_python_ssl_mtls_between_openssl_svids(trust_domain: Path) -> None:
    seen, reply, server_der = _mtls(trust_domain, client_cert=True)
    assert reply == b"PING" and seen["version"] == "TLSv1.3"
    client_leaf = x509.load_der_x509_certificate(seen["client_der"])
    assert classify_client_svid(client_leaf, trust_domain=TD, wfm_id=WFM_ID).client_id == "c1"
    server_leaf = x509.load_der_x509_certificate(server_der)
    assert classify_wfm_svid(server_leaf, trust_domain=TD, wfm_id=WFM_ID).spiffe_id == WFM_URI


def test_a_client_without_svid_is_refused_in_the_handshake(trust_domain: Path) -> None:
    seen, reply, _ = _mtls(trust_domain, client_cert=False)
    assert reply in (None, b"")
    assert isinstance(seen.get("error"), ssl.SSLError) and "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(seen["error"])
