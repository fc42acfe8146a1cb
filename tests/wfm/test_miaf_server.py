"""The reference MIAF WFM over real mutual TLS: routes and codes, scoping, policy, refusals, TLS, robustness."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from margo_conformance.pki.spiffe import SpiffeAuthority, classify_wfm_svid
from margo_conformance.wfm.miaf import MiafWfmServer

from .miaf_helpers import BASE, TD, WFM_ID, Identities, attempt, hosting, manifest, problem, raw_tls, spiffe

TYPE = "https://docs.margo.org/specification/problem-types#"


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    return Identities(SpiffeAuthority(TD), tmp_path_factory.mktemp("svids"), {})


@pytest.fixture(scope="module")
def wfm(ids: Identities) -> Iterator[MiafWfmServer]:
    a = ids.authority
    with MiafWfmServer(svid=a.wfm_svid(WFM_ID), bundle_pem=a.bundle_pem(), trust_domain=TD, wfm_id=WFM_ID) as server:
        for client_id in ("c1", "c2"):
            server.operator.add_client(spiffe(client_id))
        yield server


def records(wfm: MiafWfmServer, device: str) -> list[str]:
    return [caller for caller, dev, _ in wfm.store.capabilities() if dev == device]


# ---------------------------------------------------------------------------------------------- routes and codes
def test_put_creates_then_replaces_and_delete_removes_once(wfm: MiafWfmServer, ids: Identities) -> None:
    with ids.client(wfm.base_url, "C-OK") as c:
        first = c.put(BASE + "cap", json=manifest("cap"))
        again = c.put(BASE + "cap", json=manifest("cap"))
        changed = c.put(BASE + "cap", json=hosting("cap"))
        assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 200)
        assert wfm.store.capabilities(spiffe("c1"))[0][1] == "cap"
        assert '"cpus"' in dict((d, doc) for _, d, doc in wfm.store.capabilities(spiffe("c1")))["cap"]
        gone = c.delete(BASE + "cap")
        assert gone.status_code == 204 and gone.content == b""
        missing = c.delete(BASE + "cap")
        doc = problem(missing)
        assert missing.status_code == 404 and doc["type"] == TYPE + "device-not-found"
        assert doc["retryable"] is False and doc["backoffStrategy"] == "none" and "retry-after" not in missing.headers


def test_child_needs_its_gateway_reported_by_the_same_client(wfm: MiafWfmServer, ids: Identities) -> None:
    with ids.client(wfm.base_url, "C-OK") as c1, ids.client(wfm.base_url, "C-OK2") as c2:
        early = c1.put(BASE + "gw/child", json=manifest("gw/child"))
        assert early.status_code == 404 and problem(early)["type"] == TYPE + "gateway-not-found"
        assert c1.put(BASE + "gw", json=manifest("gw")).status_code == 201
        assert c1.put(BASE + "gw/child", json=manifest("gw/child")).status_code == 201  # raw '/' routes
        assert c1.put(BASE + "gw%2Fchild2", json=manifest("gw/child2")).status_code == 201  # %2F too
        other = c2.put(BASE + "gw/child", json=manifest("gw/child"))  # C-OK2 never reported gw (MID-08)
        assert other.status_code == 404 and problem(other)["type"] == TYPE + "gateway-not-found"


@pytest.mark.parametrize(("body", "status", "kind"), [
    (b"", 400, "invalid-request"),
    (b"{", 400, "invalid-request"),
    (b"[]", 422, "semantic-error"),
    (b'{"properties":{"id":"bad","vendor":"v","modelNumber":"m"}}', 422, "semantic-error"),
    (b'{"properties":{"id":"bad","vendor":"v","modelNumber":"m","serialNumber":"s","cpus":[{"cores":1,'
     b'"architecture":"x86_64"}]}}', 422, "semantic-error"),
    (b'{"apiVersion":"x","properties":{"id":"bad","vendor":"v","modelNumber":"m","serialNumber":"s"}}', 422,
     "semantic-error"),
    (b'{"properties":{"id":"other","vendor":"v","modelNumber":"m","serialNumber":"s"}}', 422, "semantic-error"),
    (b'{"properties":{"id":"bad","vendor":"v","modelNumber":"m","serialNumber":"s","memory":"1Gi"}}', 422,
     "semantic-error"),
])
def test_bodies_the_wfm_must_not_accept(wfm: MiafWfmServer, ids: Identities, body: bytes, status: int,
                                        kind: str) -> None:
    with ids.client(wfm.base_url, "C-OK") as c:
        r = c.put(BASE + "bad", content=body, headers={"content-type": "application/json"})
    doc = problem(r)
    assert (r.status_code, doc["type"]) == (status, TYPE + kind), r.text
    if status == 422:
        assert doc["errors"] and all({"field", "message"} <= set(e) for e in doc["errors"])
    assert records(wfm, "bad") == []


def test_extensions_are_ignored_and_ids_outside_the_pattern_refused(wfm: MiafWfmServer, ids: Identities) -> None:
    with ids.client(wfm.base_url, "C-OK") as c:
        assert c.put(BASE + "ext", json=manifest("ext", **{"x-acme-extensions": {"a": 1}})).status_code == 201
        bad = c.put(BASE + "dev%20x", json=manifest("dev x"))
        assert bad.status_code == 400 and problem(bad)["type"] == TYPE + "invalid-request"


@pytest.mark.parametrize("method", ["POST", "GET", "PATCH"])
def test_no_other_method_and_no_other_route(wfm: MiafWfmServer, ids: Identities, method: str) -> None:
    with ids.client(wfm.base_url, "C-OK") as c:
        r = c.request(method, BASE + "m")
        assert r.status_code == 405 and r.headers["allow"] == "DELETE, PUT"
        assert problem(r)["type"] == "about:blank"
        legacy = c.post("/api/v1/onboarding", json={})
        assert legacy.status_code == 404 and problem(legacy)["type"] == "about:blank"


# ---------------------------------------------------------------------------------------------- identity, scoping
def test_two_clients_with_one_device_id_hold_two_records(wfm: MiafWfmServer, ids: Identities) -> None:
    with ids.client(wfm.base_url, "C-OK") as c1, ids.client(wfm.base_url, "C-OK2") as c2:
        assert c1.put(BASE + "d2", json=manifest("d2")).status_code == 201
        assert c2.put(BASE + "d2", json=manifest("d2")).status_code == 201
        assert c2.delete(BASE + "never-c2").status_code == 404
        assert c1.delete(BASE + "d2").status_code == 204
        assert c2.put(BASE + "d2", json=manifest("d2")).status_code == 200
        assert c1.put(BASE + "d3", json=manifest("d3")).status_code == 201
        cross = c2.delete(BASE + "d3")
        assert cross.status_code == 404 and problem(cross)["type"] == TYPE + "device-not-found"
        assert records(wfm, "d3") == [spiffe("c1")]


def test_the_caller_is_the_certificate_not_a_decoy(wfm: MiafWfmServer, ids: Identities) -> None:
    with ids.client(wfm.base_url, "C-OK") as c1:
        decoy = manifest("d7", **{"x-harness-extensions": {"clientId": "c2"}})
        r = c1.put(BASE + "d7?clientId=c2", json=decoy, headers={"X-Client-Id": "c2", "Client-Cert": ":AAAA:"})
        assert r.status_code == 201
    assert records(wfm, "d7") == [spiffe("c1")]


# ---------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(("fixture", "rule"), [
    ("C-FTD", "SVID-10"), ("C-2URI", "SVID-02"), ("C-0URI", "SVID-02"), ("C-HTTP", "SVID-03"),
    ("C-ROOTPATH", "SVID-03"), ("C-QUERY", "SVID-03"), ("C-CA", "SVID-04"),
    ("C-CRL", "SVID-05"), ("C-OTHWFM", "MID-01"), ("C-WFMSHAPE", "MID-01"), ("C-EXTRA", "MID-01"),
    ("C-NOMARGO", "MID-01"), ("C-CASE", "MID-01"), ("C-EMPTY", "SVID-03"), ("C-RSA2048", "SVID-15"),
    ("C-P521", "SVID-13"),
])
def test_a_chain_valid_leaf_of_the_wrong_shape_gets_403_and_a_closed_connection(
        wfm: MiafWfmServer, ids: Identities, fixture: str, rule: str) -> None:
    device = "probe-" + fixture.lower()
    r = attempt(ids, wfm.base_url, fixture, "PUT", device, manifest(device))
    assert not isinstance(r, str), r
    doc = problem(r)
    assert (r.status_code, doc["type"]) == (403, TYPE + "not-authorized")
    assert r.headers["x-margo-check"].startswith(f"svid:{rule}:"), r.headers["x-margo-check"]
    assert r.headers["connection"] == "close"
    assert records(wfm, device) == []


@pytest.mark.parametrize("fixture", ["C-NOCERT", "C-SELF", "C-R2", "C-EXP", "C-NYV", "C-IEXP", "C-LEAFONLY", "C-AIA",
                                     "C-KCS"])  # C-KCS: OpenSSL's VERIFY_X509_STRICT refuses keyCertSign on a leaf
def test_a_client_without_a_valid_chain_is_refused_in_the_handshake(wfm: MiafWfmServer, ids: Identities,
                                                                    fixture: str) -> None:
    device = "probe-" + fixture.lower()
    r = attempt(ids, wfm.base_url, fixture, "PUT", device, manifest(device))
    assert isinstance(r, str) and r.startswith("tls:"), r
    assert records(wfm, device) == []
    # The server writes its audit row after the client has seen the refusal: wait for it (a loaded machine).
    deadline = time.monotonic() + 5
    while not any(row["method"] == "TLS" and row["check"] == "tls-handshake" for row in wfm.store.audit_rows()):
        assert time.monotonic() < deadline, "no audit row of the refused handshake"
        time.sleep(0.02)


@pytest.mark.parametrize("fixture", ["C-P384", "C-ED25519", "C-RSA3072-PSS", "C-RSA3072-V15", "C-NODS"])
def test_permitted_algorithm_variants_are_served(wfm: MiafWfmServer, ids: Identities, fixture: str) -> None:
    r = attempt(ids, wfm.base_url, fixture, "PUT", "alg-" + fixture.lower(), manifest("alg-" + fixture.lower()))
    assert not isinstance(r, str) and r.status_code in (200, 201), r


def test_policy_allowlist_retire_and_namespace_mode(wfm: MiafWfmServer, ids: Identities) -> None:
    nopol = attempt(ids, wfm.base_url, "C-NOPOL", "PUT", "nopol", manifest("nopol"))
    assert not isinstance(nopol, str) and nopol.status_code == 403
    assert problem(nopol)["type"] == TYPE + "not-authorized" and nopol.headers["x-margo-check"] == "policy:not-listed"
    wfm.operator.add_client(spiffe("c4"))
    with ids.client(wfm.base_url, "c4") as c4:
        assert c4.put(BASE + "ret", json=manifest("ret")).status_code == 201
        wfm.operator.retire_client(spiffe("c4"))
        denied = c4.put(BASE + "ret", json=manifest("ret"))  # same kept-alive connection (MTLS-08)
        assert denied.status_code == 403 and denied.headers["x-margo-check"] == "policy:retired"
        assert c4.delete(BASE + "ret").status_code == 403
        wfm.operator.add_client(spiffe("c4"))
        assert c4.delete(BASE + "ret").status_code == 204
    wfm.operator.set_policy_mode("namespace")
    try:
        served = attempt(ids, wfm.base_url, "C-NOPOL", "PUT", "nopol", manifest("nopol"))
        assert not isinstance(served, str) and served.status_code == 201
    finally:
        wfm.operator.set_policy_mode("allowlist")
    assert {c["spiffeId"]: c["state"] for c in wfm.operator.clients()}[spiffe("c4")] == "active"


def test_operator_rejects_ids_that_are_not_its_clients(wfm: MiafWfmServer) -> None:
    for bad in ("nope", "spiffe://other.test/margo/wfm/wfm-h1/client/c1", "spiffe://harness.test/margo/wfm/x/client/c",
                "spiffe://harness.test/margo/wfm/wfm-h1"):
        with pytest.raises(ValueError):
            wfm.operator.add_client(bad)


# ---------------------------------------------------------------------------------------------- TLS
def test_tls_versions_and_the_presented_chain(wfm: MiafWfmServer, ids: Identities) -> None:
    for maximum, expected in ((None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
        ctx = ids.context("C-OK", verify=True, max_version=maximum)  # verifies against R1 alone (SVID-08)
        with socket.create_connection(("127.0.0.1", wfm.port), timeout=3) as sock, ctx.wrap_socket(sock) as tls:
            assert tls.version() == expected
            assert tls.selected_alpn_protocol() in (None, "http/1.1")
            leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    assert classify_wfm_svid(leaf, trust_domain=TD, wfm_id=WFM_ID).kind == "wfm"  # MTLS-11
    old = ids.context("C-OK", seclevel0=True, min_version=ssl.TLSVersion.TLSv1_1, max_version=ssl.TLSVersion.TLSv1_1)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with socket.create_connection(("127.0.0.1", wfm.port), timeout=3) as sock, old.wrap_socket(sock):
            pass


def test_trust_bundle_rotation_replaces_anchors(ids: Identities, tmp_path: Path) -> None:
    a = ids.authority
    with MiafWfmServer(svid=a.wfm_svid(WFM_ID), bundle_pem=a.bundle_pem(), trust_domain=TD, wfm_id=WFM_ID,
                       data_dir=tmp_path) as wfm:
        wfm.operator.add_client(spiffe("c1"))
        assert attempt(ids, wfm.base_url, "C-ROT", "PUT", "r", manifest("r")).startswith("tls:")  # type: ignore[union-attr]
        wfm.operator.set_trust_bundle(a.bundle_pem(rotation="R1+R2"))
        for name in ("C-OK", "C-ROT"):
            r = attempt(ids, wfm.base_url, name, "PUT", "r", manifest("r"))
            assert not isinstance(r, str) and r.status_code in (200, 201)
        wfm.operator.set_trust_bundle(a.bundle_pem(rotation="R2"))
        assert isinstance(attempt(ids, wfm.base_url, "C-OK", "PUT", "r", manifest("r")), str)
        with pytest.raises(ValueError):
            wfm.operator.set_trust_bundle(b"not pem")
        assert (tmp_path / "admin.json").exists()


# ---------------------------------------------------------------------------------------------- robustness
def test_garbage_resets_and_certificate_less_clients_never_kill_the_server(wfm: MiafWfmServer,
                                                                           ids: Identities) -> None:
    for payload in (b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 4096):
        with socket.create_connection(("127.0.0.1", wfm.port), timeout=2) as sock:
            sock.sendall(payload)
            sock.settimeout(2)
            try:
                sock.recv(100)
            except (TimeoutError, ConnectionError):
                pass
    for _ in range(3):  # reset in the middle of a handshake
        sock = socket.create_connection(("127.0.0.1", wfm.port), timeout=2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    for _ in range(5):
        assert isinstance(attempt(ids, wfm.base_url, "C-NOCERT", "PUT", "x", manifest("x")), str)
    answer = raw_tls(wfm.port, ids.context("C-OK"), b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    huge = raw_tls(wfm.port, ids.context("C-OK"), b"PUT " + BASE.encode() + b"big HTTP/1.1\r\nhost: x\r\n"
                   b"content-length: 5000000\r\n\r\n" + b"x" * 70000)
    assert huge.startswith(b"HTTP/1.1 413")
    with ids.client(wfm.base_url, "C-OK") as c:
        assert c.put(BASE + "alive", json=manifest("alive")).status_code in (200, 201)


def test_injected_faults_for_device_role_runs(wfm: MiafWfmServer, ids: Identities) -> None:
    """The simulated-WFM hooks (issue 20): 503 with Retry-After and the MRTY-02 members, a canned answer, a drop;
    the observer sees every exchange."""
    seen = []
    wfm.app.observer = seen.append
    try:
        wfm.faults.unavailable(retry_after=7)
        with ids.client(wfm.base_url, "C-OK") as c:
            r = c.put(BASE + "f1", json=manifest("f1"))
            doc = problem(r)
            assert (r.status_code, r.headers["retry-after"], doc["type"]) == (503, "7", "about:blank")
            assert (doc["retryable"], doc["backoffStrategy"]) == (True, "exponential")
            assert c.put(BASE + "f1", json=manifest("f1")).status_code == 201  # consumed once
            wfm.faults.respond(429, {"type": "about:blank", "title": "Too Many Requests", "status": 429},
                               headers={"retry-after": "3"})
            assert c.put(BASE + "f1", json=manifest("f1")).status_code == 429
        wfm.faults.drop()
        dropped = attempt(ids, wfm.base_url, "C-OK", "PUT", "f2", manifest("f2"))
        assert isinstance(dropped, str)
        assert records(wfm, "f2") == []
    finally:
        wfm.app.observer = None
        wfm.faults.clear()
    assert [(e.status, e.fault) for e in seen] == [(503, "unavailable"), (201, None), (429, "respond"), (None, "drop")]
    assert seen[1].caller == spiffe("c1") and seen[1].body.startswith(b"{")
