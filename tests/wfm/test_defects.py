"""One test per defect: it changes exactly the behaviour it names, and the clean server does not.

Each probe returns a comparable observation of one behaviour; it is run against the clean session server and
against a server with the defect, and the two answers must be the expected pair. ``test_defect_leaves_the_rest``
then runs the ordinary flow (certificate, onboarding, report, replace, delete) under every defect, so a defect
that breaks more than its one requirement fails here, not later in the kill matrix.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from margo_conformance import pki
from margo_conformance.httpsig import Fault
from margo_conformance.pki import TestCA
from margo_conformance.wfm import WfmServer
from margo_conformance.wfm import defects as D
from margo_conformance.wfm.tls import client_context

from .helpers import Device, client_for, gateway_manifest, manifest, new_device, verdict

Probe = Callable[[WfmServer, httpx.Client, TestCA], Any]
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def onboarded(server: WfmServer, http: httpx.Client, ca: TestCA, name: str = "probe") -> Device:
    return new_device(server, http, ca, name)


def status_of(response: httpx.Response) -> int:
    return response.status_code


def try_handshake(server: WfmServer, ctx: ssl.SSLContext) -> str:
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as tcp:
            with ctx.wrap_socket(tcp, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /api/v1/onboarding/certificate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if not tls.recv(12).startswith(b"HTTP/1.1 200"):
                    return "refused"  # TLS 1.3: the server's alert arrives after the client's Finished
                return tls.version() or "?"
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"


# ---------------------------------------------------------------------------------------------- probes
def p_unsigned_put(s, h, ca):
    return verdict(onboarded(s, h, ca).put(fault=Fault.UNSIGNED))


def p_unsigned_onboarding(s, h, ca):
    return verdict(new_device(s, h, ca, "unsigned", onboard=False).onboard(fault=Fault.UNSIGNED))


def p_wrong_digest(s, h, ca):
    return verdict(onboarded(s, h, ca).put(fault=Fault.DIGEST_WRONG))


def p_stale_created(s, h, ca):
    return verdict(onboarded(s, h, ca).put(fault=Fault.CREATED_STALE))


def p_unknown_key(s, h, ca):
    return verdict(onboarded(s, h, ca).put(fault=Fault.WRONG_KEY))


def p_a_on_b(s, h, ca):
    a, b = onboarded(s, h, ca, "a"), onboarded(s, h, ca, "b")
    return status_of(a.put(client_id=b.client_id))


def p_onboarding_status(s, h, ca):
    return new_device(s, h, ca, "status", onboard=False).onboard().status_code


def p_first_put_status(s, h, ca):
    device = onboarded(s, h, ca)
    return device.put().status_code, device.put().status_code


def p_bad_certificate(s, h, ca):
    device = new_device(s, h, ca, "bad-cert", onboard=False)
    return verdict(device.onboard(cert_value=pki.non_certificates()["base64-random-bytes"]))


def p_client_id_url_safe(s, h, ca):
    device = onboarded(s, h, ca)
    return bool(URL_SAFE.match(device.client_id)), device.put().status_code


def p_two_certificates_two_ids(s, h, ca):
    a, b = onboarded(s, h, ca, "twin"), onboarded(s, h, ca, "twin")  # two certificates, one subject
    return a.client_id != b.client_id, a.put("dev-a").status_code, b.put("dev-b").status_code


def p_bad_enum(s, h, ca):
    doc = manifest()
    doc["properties"]["cpus"][0]["architecture"] = "x86_64"
    return verdict(onboarded(s, h, ca).put(doc=doc))


def p_root_ca_form(s, h, ca):
    value = h.get(s.base_url + "/api/v1/onboarding/certificate").json()["certificate"]
    try:
        pki.decode_certificate(value, strict=True)
    except pki.CertificateDecodeError as exc:
        return exc.reason
    return "one-line"


def p_handshake_without_client_cert(s, h, ca):
    return try_handshake(s, s.client_ssl_context())


def p_chain_against_handed_out_root(s, h, ca):
    insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    with httpx.Client(verify=insecure, timeout=10) as raw:
        value = raw.get(s.base_url + "/api/v1/onboarding/certificate").json()["certificate"]
    root = pki.decode_certificate(value).certificate
    return try_handshake(s, client_context(root))


def p_malformed_json(s, h, ca):
    response = onboarded(s, h, ca).put(raw=b"{")
    return response.status_code, response.headers["content-type"].split(";")[0]


def p_tls12(s, h, ca):
    return try_handshake(s, s.client_ssl_context(max_version="1.2"))


def p_revoked(s, h, ca):
    device = onboarded(s, h, ca)
    s.operator.revoke(device.client_id)
    return verdict(device.put())


def p_revoked_onboards_again(s, h, ca):
    """The revoked certificate onboards again: (onboarding status, same clientId?, then a signed PUT with the
    clientId it now holds)."""
    device = onboarded(s, h, ca)
    revoked_id = device.client_id
    s.operator.revoke(revoked_id)
    again = device.onboard()
    return again.status_code, device.client_id == revoked_id, verdict(device.put())


def p_unsigned_delete(s, h, ca):
    device = onboarded(s, h, ca)
    device.put()
    return verdict(device.delete(fault=Fault.UNSIGNED)), verdict(device.put(fault=Fault.UNSIGNED))


def p_incomplete_signature(s, h, ca):
    return (verdict(onboarded(s, h, ca).put(fault=Fault.SIGNATURE_WITHOUT_INPUT)),
            verdict(new_device(s, h, ca, "unsigned-400", onboard=False).onboard(fault=Fault.UNSIGNED)))


def p_unknown_client(s, h, ca):
    return verdict(onboarded(s, h, ca).put(client_id="00000000-0000-4000-8000-000000000000"))


def p_child_first(s, h, ca):
    return verdict(onboarded(s, h, ca).put("gw-new/child"))


def p_extension(s, h, ca):
    return verdict(onboarded(s, h, ca).put())  # the base manifest carries x-acme-extensions


def p_id_mismatch(s, h, ca):
    return verdict(onboarded(s, h, ca).put("dev-a", doc=manifest("dev-b")))


# defect -> (probe, clean answer, defective answer)
CASES: dict[str, tuple[Probe, Any, Any]] = {
    D.UNSIGNED_ACCEPTED: (p_unsigned_put, (401, "signature"), (201, None)),
    D.ONBOARDING_UNSIGNED_ACCEPTED: (p_unsigned_onboarding, (401, "signature"), (201, None)),
    D.DIGEST_UNCHECKED: (p_wrong_digest, (400, "digest"), (201, None)),
    D.CREATED_WINDOW_IGNORED: (p_stale_created, (401, "signature"), (201, None)),
    D.SIG_ANY_KEY: (p_unknown_key, (401, "signature"), (201, None)),
    D.SIG_CROSS_CLIENT: (p_a_on_b, 401, 201),
    D.ONBOARDING_200: (p_onboarding_status, 201, 200),
    D.CAPABILITIES_CREATE_200: (p_first_put_status, (201, 200), (200, 200)),
    D.BAD_CERT_ACCEPTED: (p_bad_certificate, (400, "certificate"), (201, None)),
    D.CLIENT_ID_NOT_URL_SAFE: (p_client_id_url_safe, (True, 201), (False, 201)),
    D.CLIENT_ID_SHARED: (p_two_certificates_two_ids, (True, 201, 201), (False, 201, 201)),
    D.CAPABILITY_ENUMS_UNCHECKED: (p_bad_enum, (422, "schema"), (201, None)),
    D.ROOT_CA_LINE_BREAKS: (p_root_ca_form, "one-line", "base64-whitespace"),
    D.TLS_CLIENT_CERT_REQUIRED: (p_handshake_without_client_cert, "TLSv1.3", "refused"),
    D.SERVER_CHAIN_FOREIGN: (p_chain_against_handed_out_root, "TLSv1.3", "refused"),
    D.MALFORMED_JSON_500: (p_malformed_json, (400, "application/problem+json"), (500, "text/plain")),
    D.TLS12_ACCEPTED: (p_tls12, "refused", "TLSv1.2"),
    D.REVOKED_ACCEPTED: (p_revoked, (403, "client-state"), (201, None)),
    # The hole: revocation undone by onboarding again (a fresh, working clientId).
    D.REVOKED_REONBOARD_FRESH_CLIENT: (p_revoked_onboards_again, (403, True, (403, "client-state")),
                                       (201, False, (201, None))),
    # Q-33's deviation: 201 with the same clientId, which stays revoked.
    D.REVOKED_REONBOARD_201: (p_revoked_onboards_again, (403, True, (403, "client-state")),
                              (201, True, (403, "client-state"))),
    D.UNKNOWN_CLIENT_401: (p_unknown_client, (404, "client-lookup"), (401, "client-lookup")),
    D.CHILD_BEFORE_PARENT_ACCEPTED: (p_child_first, (404, "parent-gateway"), (201, None)),
    D.EXTENSIONS_REJECTED: (p_extension, (201, None), (422, "schema")),
    D.DEVICE_ID_MISMATCH_ACCEPTED: (p_id_mismatch, (422, "device-id-match"), (201, None)),
    # DELETE only: the PUT of the same client is still refused.
    D.SIG_UNCHECKED_ON_DELETE: (p_unsigned_delete, ((401, "signature"), (401, "signature")),
                                ((204, None), (401, "signature"))),
    D.UNSIGNED_400: (p_incomplete_signature, ((401, "signature"), (401, "signature")),
                     ((400, "signature"), (400, "signature"))),
}


def test_every_defect_has_a_probe() -> None:
    assert set(CASES) == {d.name for d in D.DEFECTS if not d.load_only}
    assert len(D.DEFECTS) >= 15 and all(d.role == "wfm" and d.requirement for d in D.DEFECTS)


def _client(server: WfmServer, defect: str) -> httpx.Client:
    if defect in (D.TLS_CLIENT_CERT_REQUIRED, D.SERVER_CHAIN_FOREIGN):
        insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # the probe does its own TLS; HTTP may not connect
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        return httpx.Client(verify=insecure, timeout=10)
    return client_for(server)


@pytest.mark.parametrize("defect", sorted(CASES))
def test_defect_changes_exactly_its_behaviour(defect: str, wfm: WfmServer, http: httpx.Client, make_wfm,
                                              wfm_ca: TestCA) -> None:
    probe, clean_answer, defective_answer = CASES[defect]
    assert probe(wfm, http, wfm_ca) == clean_answer, "the clean server must behave"
    server = make_wfm(defect)
    with _client(server, defect) as dhttp:
        assert probe(server, dhttp, wfm_ca) == defective_answer


# the behaviours a defect is allowed to change in the ordinary flow
_FLOW_CHANGES: dict[str, dict[str, Any]] = {
    D.ONBOARDING_200: {"onboard": 200},
    D.CAPABILITIES_CREATE_200: {"put1": 200, "gw": 200, "child": 200},
}


def _flow_client(server: WfmServer, defect: str, ca: TestCA, tmp_path: Any) -> httpx.Client:
    """A client the defect lets through: with a client certificate (tls-client-cert-required), or without
    chain validation (server-chain-foreign); those two change the handshake and nothing above it."""
    if defect == D.TLS_CLIENT_CERT_REQUIRED:
        ctx = server.client_ssl_context()
        chain, key = ca.issue_client_cert("tls-client").write_files(tmp_path, "tls-client")
        ctx.load_cert_chain(chain, key)
        return httpx.Client(verify=ctx, timeout=10)
    if defect == D.SERVER_CHAIN_FOREIGN:
        return _client(server, defect)
    return client_for(server)


@pytest.mark.parametrize("defect", sorted(CASES))
def test_defect_leaves_the_rest(defect: str, make_wfm, wfm_ca: TestCA, tmp_path) -> None:
    """The ordinary flow under each defect: only the defect's own answer differs."""
    server = make_wfm(defect)
    expected = {"cert": 200, "onboard": 201, "put1": 201, "put2": 200, "gw": 201, "child": 201, "del": 204,
                "del2": 404, "unsigned": 401, "stale": 401, "digest": 400, "enum_missing": 422}
    expected.update(_FLOW_CHANGES.get(defect, {}))
    if defect == D.UNSIGNED_ACCEPTED:
        expected["unsigned"] = 200
    if defect == D.UNSIGNED_400:
        expected["unsigned"] = 400
    if defect == D.CREATED_WINDOW_IGNORED:
        expected["stale"] = 200
    with _flow_client(server, defect, wfm_ca, tmp_path) as http:
        got: dict[str, Any] = {"cert": http.get(server.base_url + "/api/v1/onboarding/certificate").status_code}
        device = new_device(server, http, wfm_ca, "flow", onboard=False)
        plain = manifest()
        del plain["x-acme-extensions"]  # extensions have their own probe (extensions-rejected)
        got["onboard"] = device.onboard().status_code
        got["put1"] = device.put(doc=plain).status_code
        got["put2"] = device.put(doc=plain).status_code
        got["gw"] = device.put("gw", doc=gateway_manifest("gw")).status_code
        child = manifest("gw/child")
        del child["x-acme-extensions"]
        got["child"] = device.put("gw/child", doc=child).status_code
        got["del"] = device.delete("gw").status_code
        got["del2"] = device.delete("gw").status_code
        got["unsigned"] = device.put(doc=plain, fault=Fault.UNSIGNED).status_code
        got["stale"] = device.put(doc=plain, fault=Fault.CREATED_STALE).status_code
        got["digest"] = device.put(doc=plain, fault=Fault.DIGEST_MISSING).status_code
        doc = manifest()
        del doc["x-acme-extensions"]
        del doc["properties"]["vendor"]
        got["enum_missing"] = device.put(doc=doc).status_code
    assert got == expected


def test_narrow_defects_keep_their_neighbours(make_wfm, wfm_ca: TestCA) -> None:
    """Where a defect could spill over, it does not: the split named in wfm/defects.py."""
    any_key = make_wfm(D.SIG_ANY_KEY)
    with client_for(any_key) as http:
        assert p_a_on_b(any_key, http, wfm_ca) == 401  # another client's key: still refused (ONB-14 holds)
    cross = make_wfm(D.SIG_CROSS_CLIENT)
    with client_for(cross) as http:
        assert p_unknown_key(cross, http, wfm_ca) == (401, "signature")  # SIG-09 holds
    put_only = make_wfm(D.UNSIGNED_ACCEPTED)
    with client_for(put_only) as http:
        assert p_unsigned_onboarding(put_only, http, wfm_ca) == (401, "signature")
    onboarding_only = make_wfm(D.ONBOARDING_UNSIGNED_ACCEPTED)
    with client_for(onboarding_only) as http:
        assert p_unsigned_put(onboarding_only, http, wfm_ca) == (401, "signature")
    enums = make_wfm(D.CAPABILITY_ENUMS_UNCHECKED)
    with client_for(enums) as http:
        device = onboarded(enums, http, wfm_ca)
        doc = manifest()
        doc["kind"] = "DeviceCapabilities"  # a root enum (CAP-08) is still checked
        assert verdict(device.put(doc=doc)) == (422, "schema")
    digest = make_wfm(D.DIGEST_UNCHECKED)
    with client_for(digest) as http:
        device = onboarded(digest, http, wfm_ca)
        assert verdict(device.put(fault=Fault.DIGEST_MALFORMED)) == (400, "digest")
    revoked = make_wfm(D.REVOKED_ACCEPTED)
    with client_for(revoked) as http:
        device = onboarded(revoked, http, wfm_ca)
        revoked.operator.reject(device.client_id)
        assert verdict(device.put()) == (403, "client-state")  # only revocation is ignored


def test_the_race_defect_fails_only_overlapping_onboardings(make_wfm, wfm_ca: TestCA) -> None:
    """onboarding-race-500: one device at a time onboards as usual; two at once, one of them gets a 500."""
    import concurrent.futures

    from margo_conformance.device.simulated import SimulatedDevice

    server = make_wfm(D.ONBOARDING_RACE_500)

    def onboard(n: int) -> int:
        device = SimulatedDevice(server.base_url, server.client_ssl_context(), device_ca=wfm_ca, device_id=f"race-{n}")
        try:
            return device.onboard().response.status
        finally:
            device.close()

    assert onboard(0) == 201
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(onboard, range(1, 9)))
    assert 500 in statuses and 201 in statuses, statuses
