"""Our side of the handshake (MTLS-01/04/06, SVID-08) and what is reported, on which route (MCAP-*)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import warnings
from pathlib import Path

import pytest

from .conftest import WFM_ID, run_device, wfm


def _evidence(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def test_clean_device_negotiates_tls13_http11_and_sends_json(authority, files, tmp_path: Path) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--evidence", str(tmp_path / "e.json"))
    assert code == 0, out
    (exchange,) = _evidence(tmp_path / "e.json")
    assert exchange["tls"]["version"] == "TLSv1.3" and exchange["tls"]["alpn"] == "http/1.1"
    (seen,) = peer.seen
    assert dict((k.lower(), v) for k, v in seen.headers)["content-type"] == "application/json"
    assert json.loads(seen.body)["properties"]["id"] == "dut1"


def test_tls12_only_negotiates_tls12(authority, files, tmp_path: Path) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", "tls12-only", "--evidence", str(tmp_path / "e.json"))
    assert code == 0, out
    assert _evidence(tmp_path / "e.json")[0]["tls"]["version"] == "TLSv1.2"


@pytest.mark.parametrize("defect", ["leaf-only", "no-client-cert"])
def test_a_client_chain_the_wfm_cannot_validate_gets_no_request_served(authority, files, defect: str) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", defect, "--attempts", "1")
        failures = _refused_handshakes(peer)
    assert code == 3, out
    assert peer.requests() == [] and "Traceback" not in out
    assert failures, "the WFM recorded no refused handshake"


def _refused_handshakes(peer, timeout_s: float = 5.0) -> list[dict]:
    """The WFM's audit rows of refused handshakes, once there is one: the WFM writes the row after it sent its
    alert, so a device that reads the alert and exits can be done a moment before the row is."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = [a for a in peer.server.store.audit_rows() if a.get("check") == "tls-handshake"]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def _tls11_only_server(svid) -> tuple[socket.socket, list[str]]:
    """One-shot TLS 1.1-only listener presenting the WFM's SVID: records the version of a completed handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    svid.configure_cert(ctx)
    sock = socket.create_server(("127.0.0.1", 0))
    done: list[str] = []

    def serve() -> None:
        sock.settimeout(10)
        try:
            raw, _ = sock.accept()
            with ctx.wrap_socket(raw, server_side=True) as tls:
                done.append(str(tls.version()))
        except (OSError, ssl.SSLError):
            pass

    threading.Thread(target=serve, daemon=True).start()
    return sock, done


def _tls11_possible() -> bool:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        return True
    except (ValueError, ssl.SSLError):
        return False


@pytest.mark.skipif(not _tls11_possible(), reason="this OpenSSL cannot speak TLS 1.1 at all")
@pytest.mark.parametrize(("defect", "completes"), [(None, False), ("tls11-allowed", True)])
def test_a_tls11_only_wfm_never_completes_a_handshake(authority, files, defect: str | None, completes: bool) -> None:
    sock, done = _tls11_only_server(authority.wfm_svid(WFM_ID))
    with sock:
        code, out = run_device(f"https://localhost:{sock.getsockname()[1]}", *files.args(), "--attempts", "1",
                               *(["--defect", defect] if defect else []))
    assert code == 3 and "Traceback" not in out
    assert bool(done) is completes, (done, out)


# --- routes and bodies ------------------------------------------------------------------------------------------

def test_gateway_first_then_children(authority, files) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--device-id", "gw", "--gateway-children", "2")
    assert code == 0, out
    assert peer.requests() == [("PUT", "/api/v1/capabilities/gw", 201), ("PUT", "/api/v1/capabilities/gw/child-1", 201),
                               ("PUT", "/api/v1/capabilities/gw/child-2", 201)]
    assert set(json.loads(peer.seen[0].body)["properties"]) == {"id", "vendor", "modelNumber", "serialNumber"}
    assert json.loads(peer.seen[1].body)["properties"]["id"] == "gw/child-1"


def test_child_before_gateway_reports_a_child_first(authority, files) -> None:
    with wfm(authority) as peer:
        code, _ = run_device(peer.url, *files.args(), "--device-id", "gw", "--gateway-children", "1",
                             "--defect", "child-before-gateway")
    assert peer.requests()[0] == ("PUT", "/api/v1/capabilities/gw/child-1", 404) and code == 1


@pytest.mark.parametrize(("defect", "method", "target"), [
    ("old-routes", "PUT", "/api/v1/clients/dut1/capabilities/dut1"),
    ("post-capabilities", "POST", "/api/v1/capabilities/dut1"),
])
def test_route_defects_use_another_route_and_are_not_resent(authority, files, defect, method, target) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", defect)
    assert code == 1 and "refused: " in out
    assert [(m, t) for m, t, _ in peer.requests()] == [(method, target)]


@pytest.mark.parametrize(("defect", "broken"), [
    ("api-version-kind", lambda doc: doc.get("apiVersion") and doc.get("kind")),
    ("otel-false", lambda doc: doc["properties"]["otelCollector"] is False),
    ("custom-without-labels", lambda doc: "custom" in doc["properties"]["supportedRuntimes"] and "labels" not in doc),
])
def test_body_defects_change_exactly_their_member(authority, files, defect, broken) -> None:
    with wfm(authority) as peer:
        run_device(peer.url, *files.args())
        run_device(peer.url, *files.args(), "--defect", defect)
    clean, bad = (json.loads(e.body) for e in peer.seen[:2])
    assert not broken(clean) and broken(bad)
    assert peer.seen[0].status == 201


def test_labels_file_sets_the_labels(authority, files, tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text('{"example.com/zone": "a", "example.com/racks": [1, 2]}')
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--labels-file", str(labels))
    assert code == 0, out
    assert json.loads(peer.seen[0].body)["labels"] == {"example.com/zone": "a", "example.com/racks": [1, 2]}


def test_intermediates_given_twice_are_sent_once(authority, tmp_path: Path) -> None:
    from margo_conformance.device.miaf.identity import SvidPaths, load_svid

    written = authority.client_svid("dut1", wfm_id=WFM_ID).write(tmp_path, "dut1")  # cert = leaf + I1, chain = I1
    svid = load_svid(SvidPaths(written.cert, written.key, written.chain))
    assert svid.intermediates == (authority.intermediate.cert,)
    assert svid.expected_wfm_id == "spiffe://harness.test/margo/wfm/wfm-h1" and svid.client_id == "dut1"
