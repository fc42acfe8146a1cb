"""The device-role simulated MIAF WFM, driven by a few lines of ssl/http.client standing in for a device."""

from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest

from margo_conformance.device.miaf_manifest import manifest
from margo_conformance.wfm.miaf.simulated import SimulatedMiafWfm


@pytest.fixture(scope="module")
def slot():
    s = SimulatedMiafWfm()
    try:
        yield s
    finally:
        s.stop()


def _context(slot: SimulatedMiafWfm, *, with_chain: bool = True, max_version=None) -> ssl.SSLContext:
    files = slot.files
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(files.bundle_file))
    if with_chain:
        ctx.load_cert_chain(str(files.svid_cert), str(files.svid_key))
    else:
        leaf_only = files.svid_cert.with_name("leaf-only.pem")
        leaf_only.write_bytes(slot.device_svid.cert_pem())
        ctx.load_cert_chain(str(leaf_only), str(files.svid_key))
    ctx.set_alpn_protocols(["http/1.1"])
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def _put(slot: SimulatedMiafWfm, ctx: ssl.SSLContext) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", slot.server.port, context=ctx, timeout=5)
    try:
        conn.request("PUT", "/api/v1/capabilities/dut1", body=json.dumps(manifest("dut1")),
                     headers={"content-type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def _wait(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_device_with_its_chain_is_served_and_every_connection_and_request_is_recorded(slot) -> None:
    slot.reset()
    slot.start()
    assert _put(slot, _context(slot)) == 201
    assert _wait(lambda: any(o.kind == "http" for o in slot.observations.all()))
    kinds = [o.kind for o in slot.observations.all()]
    assert kinds == ["tls-handshake", "http"], kinds
    hs, req = slot.observations.all()
    assert hs.tls.version == "TLSv1.3" and hs.tls.alpn == "http/1.1"
    assert hs.tls.peer_chain[0]["der_b64"] and slot.leaf_of(hs.connection_id) == slot.issued_leaves[0]
    assert req.route == "capabilities" and req.device_id == "dut1" and req.status == 201
    assert req.request.http_version == "HTTP/1.1" and req.connection_id == hs.connection_id


def test_a_leaf_without_its_intermediate_fails_the_handshake_with_the_server_side_reason(slot) -> None:
    slot.reset()
    slot.start()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _put(slot, _context(slot, with_chain=False))
    assert _wait(lambda: any(o.kind == "tls-failure" for o in slot.observations.all()))
    failure = next(o for o in slot.observations.all() if o.kind == "tls-failure")
    assert "unable to get local issuer certificate" in failure.tls.error
    assert not [o for o in slot.observations.all() if o.kind == "http"]


def test_a_wfm_capped_at_tls_1_1_refuses_a_modern_client(slot) -> None:
    slot.reset()
    slot.setup.tls = "1.1"
    slot.start()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _put(slot, _context(slot))
    assert _wait(lambda: any(o.kind == "tls-failure" for o in slot.observations.all()))


def test_faults_answer_with_the_canned_problem_and_the_answer_is_kept(slot) -> None:
    slot.reset()
    slot.setup.faults.append(lambda s: s.server.faults.respond(
        503, {"type": "about:blank", "status": 503, "retryable": True}, headers={"retry-after": "1"},
        route="capabilities"))
    slot.start()
    assert _put(slot, _context(slot)) == 503
    assert _put(slot, _context(slot)) == 201
    assert _wait(lambda: len([o for o in slot.observations.all() if o.kind == "http"]) == 2)
    first = [o for o in slot.observations.all() if o.kind == "http"][0]
    assert first.response.header("retry-after") == "1" and first.fault == "respond"


def test_svid_rotation_rewrites_the_files_and_the_next_connection_shows_the_new_leaf(slot) -> None:
    slot.reset()
    slot.start()
    assert _put(slot, _context(slot)) == 201
    new_leaf = slot.rotate_device_svid()
    assert _put(slot, _context(slot)) == 200  # the same device again: its record replaced
    assert _wait(lambda: len([o for o in slot.observations.all() if o.kind == "tls-handshake"]) == 2)
    second = [o for o in slot.observations.all() if o.kind == "tls-handshake"][1]
    assert slot.leaf_of(second.connection_id) == new_leaf != slot.issued_leaves[0]


def test_the_mis_serves_discovery_and_bundle_with_etag_304_and_404_problems(slot) -> None:
    slot.reset()
    slot.start()
    svc = slot.bundle_service
    ctx = ssl.create_default_context(cafile=str(slot.files.mis_ca_file))
    conn = http.client.HTTPSConnection("localhost", svc.port, context=ctx, timeout=5)
    conn.request("GET", "/.well-known/margo")
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    assert resp.status == 200 and doc["trustBundleUri"] == svc.bundle_url and doc["trustDomain"] == "harness.test"
    conn.request("GET", "/bundle.json")
    resp = conn.getresponse()
    bundle = json.loads(resp.read())
    etag = resp.getheader("etag")
    assert resp.status == 200 and etag and bundle["keys"][0]["use"] == "x509-svid"
    conn.request("GET", "/bundle.json", headers={"if-none-match": etag})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 304
    svc.missing.add("bundle")
    conn.request("GET", "/bundle.json")
    resp = conn.getresponse()
    problem = json.loads(resp.read())
    assert resp.status == 404 and resp.getheader("content-type") == "application/problem+json"
    assert problem["type"].endswith("#spiffe-bundle-not-found")
    conn.close()
    assert [o.status for o in svc.observations.all()] == [200, 200, 304, 404]
    svc.untrusted = True
    with pytest.raises(ssl.SSLError):
        c2 = http.client.HTTPSConnection("localhost", svc.port, context=ctx, timeout=5)
        c2.request("GET", "/.well-known/margo")
    assert _wait(lambda: any(o.kind == "tls-failure" for o in svc.observations.all()))
