"""The simulated-WFM side: what the observation log shows, and that each fault does what it says."""

from __future__ import annotations

import json
import json
import socket
import ssl
import time

import httpx
import pytest

from margo_conformance.errors import SutTimeout
from margo_conformance.httpsig import Fault
from margo_conformance.pki import TestCA
from margo_conformance.wfm import WfmServer
from margo_conformance.wfm.tls import client_context

from .helpers import client_for, new_device, raw_exchange, verdict


def handshake(server: WfmServer, ctx: ssl.SSLContext, host: str = "127.0.0.1") -> str:
    """Complete (or fail) one TLS handshake and one request; returns the negotiated version."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as tcp:
        with ctx.wrap_socket(tcp, server_hostname=host) as tls:
            tls.sendall(f"GET /api/v1/onboarding/certificate HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert tls.recv(12).startswith(b"HTTP/1.1 200")
            return tls.version() or ""


# ------------------------------------------------------------------------------------------ exchanges
def test_exchanges_are_recorded_in_order_with_raw_headers_tls_and_signature_base(make_wfm, wfm_ca) -> None:
    server = make_wfm()
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "observed")
        response = device.put(headers={"X-Mixed-CASE-Header": "kept"})
        assert response.status_code == 201
    log = server.observations
    onboarding, put = log.http("onboarding")[0], log.http("capabilities")[0]
    assert onboarding.seq < put.seq
    assert [o.route for o in log.all()] == ["onboarding", "capabilities"]
    assert ("X-Mixed-CASE-Header", "kept") in put.request.headers  # the name as sent, not lower-cased
    assert put.request.target == device.caps_path("line3-ipc-07")
    assert put.request.url == server.base_url + put.request.target
    assert json.loads(put.request.body)["properties"]["id"] == "line3-ipc-07"
    assert put.status == 201 and put.check is None and put.client_id == device.client_id
    assert put.tls is not None and put.tls.version == "TLSv1.3" and put.tls.alpn == "http/1.1"
    assert put.tls.client_cert_requested is False
    assert put.signature_base_rebuilt and put.signature_base_rebuilt.startswith('"@method": PUT')
    assert not [f for f in put.findings if f.severity == "error"]
    assert onboarding.certificate is not None and "observed" in onboarding.certificate["subject"]
    assert "BEGIN" not in put.to_text() or "PRIVATE KEY" not in put.to_text()


def test_rejected_requests_are_judged_too(wfm, device) -> None:
    mark = wfm.observations.mark()
    device.put(fault=Fault.CREATED_STALE)
    seen = wfm.observations.wait_for_request("capabilities", 5, since=mark)
    assert seen.status == 401 and seen.check == "signature"
    assert "created-too-old" in seen.finding_codes()
    # judged even where the answer came from an earlier check
    device.put(fault=Fault.DIGEST_WRONG)
    seen = wfm.observations.wait_for(lambda o: o.check == "digest", 5, since=mark)
    assert "digest-mismatch" in seen.finding_codes() and seen.signature_base_rebuilt


def test_onboarding_certificate_findings_are_recorded(wfm, http, wfm_ca) -> None:
    device = new_device(wfm, http, wfm_ca, "lint-me", onboard=False, defect="expired")
    mark = wfm.observations.mark()
    device.onboard()
    seen = wfm.observations.wait_for_request("onboarding", 5, since=mark)
    assert seen.check == "certificate" and "expired" in [f.code for f in seen.certificate_findings]


def test_wait_for_times_out_with_what_was_seen(wfm) -> None:
    mark = wfm.observations.mark()
    with pytest.raises(SutTimeout, match="waited 0.2 s"):
        wfm.observations.wait_for(lambda o: False, 0.2, since=mark)


def test_wait_for_wakes_up_on_arrival(wfm, http) -> None:
    import threading

    mark = wfm.observations.mark()
    timer = threading.Timer(0.2, lambda: http.get(wfm.base_url + "/api/v1/onboarding/certificate"))
    timer.start()
    started = time.monotonic()
    seen = wfm.observations.wait_for_request("certificate", 5, since=mark)
    assert seen.status == 200 and time.monotonic() - started < 2
    timer.join()


def test_bytes_that_are_not_http_are_a_protocol_error(wfm) -> None:
    mark = wfm.observations.mark()
    response = raw_exchange(wfm, b"HELLO THERE\r\n\r\n")
    assert (response.status, response.headers["x-margo-check"]) == (400, "http-syntax")
    assert response.headers["content-type"] == "application/problem+json"
    seen = wfm.observations.wait_for(lambda o: o.kind == "protocol-error", 5, since=mark)
    assert seen.error and "HTTP" in seen.error


# ------------------------------------------------------------------------------------------ TLS
def test_handshake_refused_by_the_client_is_recorded(wfm) -> None:
    """A device trusting another root aborts the handshake: a tls-failure observation, not an error."""
    mark = wfm.observations.mark()
    with pytest.raises(ssl.SSLError):
        handshake(wfm, client_context(TestCA("some other root")))
    seen = wfm.observations.wait_for(lambda o: o.kind == "tls-failure", 5, since=mark)
    assert seen.tls is not None and seen.tls.error
    assert "unknown ca" in seen.tls.error.lower() or "alert" in seen.tls.error.lower(), seen.tls.error
    assert seen.peer and seen.peer.startswith("127.0.0.1:")
    assert http_still_serves(wfm)


def http_still_serves(server: WfmServer) -> bool:
    return handshake(server, server.client_ssl_context()) == "TLSv1.3"


def test_tls_1_2_client_is_refused_by_default(wfm) -> None:
    mark = wfm.observations.mark()
    with pytest.raises(ssl.SSLError):
        handshake(wfm, wfm.client_ssl_context(max_version="1.2"))
    seen = wfm.observations.wait_for(lambda o: o.kind == "tls-failure", 5, since=mark)
    assert "version" in seen.tls.error.lower() or "protocol" in seen.tls.error.lower(), seen.tls.error


def test_tls_1_2_selectable(make_wfm) -> None:
    server = make_wfm(tls_min="1.2")
    assert handshake(server, server.client_ssl_context(max_version="1.2")) == "TLSv1.2"
    assert handshake(server, server.client_ssl_context()) == "TLSv1.3"


@pytest.mark.parametrize("choice,expect", [
    ("expired", "expired"), ("not-yet-valid", "not yet valid"), ("wrong-host", "mismatch"),
    ("untrusted-ca", "unable to get local issuer"), ("missing-intermediate", "unable to get local issuer"),
])
def test_reconfigure_tls_presents_bad_chains(make_wfm, choice, expect) -> None:
    server = make_wfm()
    assert http_still_serves(server)
    server.reconfigure_tls(choice)
    mark = server.observations.mark()
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        handshake(server, server.client_ssl_context())
    assert expect in str(info.value).lower()
    seen = server.observations.wait_for(lambda o: o.kind == "tls-failure", 5, since=mark)
    assert choice in seen.note
    server.reset_tls()
    assert http_still_serves(server)


def test_reconfigure_tls_to_1_2_only_closes_idle_connections(make_wfm) -> None:
    server = make_wfm(tls_min="1.2")
    with client_for(server) as http:
        assert http.get(server.base_url + "/api/v1/onboarding/certificate").status_code == 200
        server.reconfigure_tls(min_version="1.2", max_version="1.2")
        mark = server.observations.mark()
        assert http.get(server.base_url + "/api/v1/onboarding/certificate").status_code == 200
        seen = server.observations.wait_for_request("certificate", 5, since=mark)
        assert seen.tls.version == "TLSv1.2"


# ------------------------------------------------------------------------------------------ faults
def test_unavailable_answers_503_with_retry_after_to_the_next_k_requests(wfm, device) -> None:
    wfm.faults.unavailable(retry_after=7, count=2, route="capabilities")
    first, second, third = device.put(), device.put(), device.put()
    assert verdict(first) == verdict(second) == (503, "fault:unavailable")
    assert first.headers["retry-after"] == "7" and first.json()["status"] == 503
    assert third.status_code == 201  # the first two were not processed
    assert wfm.faults.rules == []


def test_reject_and_fail_onboarding(wfm, http, wfm_ca) -> None:
    device = new_device(wfm, http, wfm_ca, "faulted", onboard=False)
    wfm.faults.reject_onboarding()
    assert verdict(device.onboard()) == (403, "fault:reject-onboarding")
    wfm.faults.fail_onboarding()
    assert verdict(device.onboard()) == (400, "fault:fail-onboarding")
    assert device.onboard().status_code == 201


def test_assigned_client_id_is_used_and_routes(make_wfm, wfm_ca) -> None:
    """ONB-13: an unusual but legal clientId; later requests on it work."""
    server = make_wfm()
    server.faults.assign_client_id("c.9~f-_X")
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "odd-id")
        assert device.client_id == "c.9~f-_X"
        assert device.put().status_code == 201
        other = new_device(server, http, wfm_ca, "normal-id")
        assert other.client_id != "c.9~f-_X"
    seen = server.observations.wait_for(lambda o: o.route == "capabilities", 5)
    assert seen.request.target.startswith("/api/v1/clients/c.9~f-_X/")


def test_delay(wfm, http) -> None:
    wfm.faults.delay(0.4, route="certificate")
    started = time.monotonic()
    assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_drop_closes_without_answer_after_processing(wfm, http, wfm_ca) -> None:
    device = new_device(wfm, http, wfm_ca, "dropped", onboard=False)
    wfm.faults.drop(route="onboarding")
    mark = wfm.observations.mark()
    with pytest.raises(httpx.TransportError):
        device.onboard()
    seen = wfm.observations.wait_for_request("onboarding", 5, since=mark)
    assert seen.response is None and seen.fault == "drop" and "dropped" in seen.error
    client_id = seen.client_id
    again = device.onboard()  # the WFM processed it: the retry gets the same clientId
    assert again.status_code == 201 and again.json()["clientId"] == client_id


def test_close_mid_response(wfm, http) -> None:
    wfm.faults.close_mid_response(route="certificate")
    mark = wfm.observations.mark()
    with pytest.raises(httpx.TransportError):
        http.get(wfm.base_url + "/api/v1/onboarding/certificate")
    seen = wfm.observations.wait_for_request("certificate", 5, since=mark)
    assert seen.fault == "close-mid-response" and seen.response is not None and seen.response.status == 200
    assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 200


def test_fault_counts_and_clear(wfm, http) -> None:
    wfm.faults.unavailable(count=None, route="certificate")
    for _ in range(3):
        assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 503
    wfm.faults.clear()
    assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 200
    with pytest.raises(ValueError):
        wfm.faults.drop(count=0)


def test_respond_sends_a_canned_answer(wfm, http) -> None:
    """ERR-05 material: a problem type the device cannot know."""
    wfm.faults.respond(418, {"type": "https://vendor.example/problems/teapot", "title": "Teapot", "status": 418},
                       headers={"Retry-After": "3"}, route="certificate")
    response = http.get(wfm.base_url + "/api/v1/onboarding/certificate")
    assert verdict(response) == (418, "fault:respond")
    assert response.json()["type"].endswith("/teapot") and response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/problem+json"
    with pytest.raises(ValueError):
        wfm.faults.respond(99)


def test_reset_gives_a_fresh_simulated_wfm(make_wfm, wfm_ca) -> None:
    server = make_wfm()
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "before-reset")
        server.faults.unavailable(count=None)
        server.reconfigure_tls("expired")
        server.reset()
        assert server.faults.rules == [] and len(server.observations) == 0
        assert server.store.clients() == []
        assert http_still_serves(server)
        assert device.put().status_code == 404  # the client is gone
        assert device.onboard().status_code == 201
    seen = server.observations.all()
    assert [o.route for o in seen if o.kind == "http"] == ["certificate", "capabilities", "onboarding"]
    assert json.loads(json.dumps(seen[-1].to_dict()))["route"] == "onboarding"


def test_accept_faulty_records_what_a_strict_wfm_would_answer(make_wfm, wfm_ca) -> None:
    """The device-role simulated WFM carries on after a device's mistake and records the refusal it waived."""
    server = make_wfm(accept_faulty=True)
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "sloppy", onboard=False)
        assert device.onboard(fault=Fault.UNSIGNED).status_code == 201
        assert device.put(fault=Fault.DIGEST_WRONG).status_code == 201
        assert device.put(content_type="text/plain").status_code == 415  # nothing to go on with: still refused
    onboarding, put = server.observations.http("onboarding")[0], server.observations.http("capabilities")[0]
    assert "signature -> 401" in onboarding.note and "missing-signature" in onboarding.finding_codes()
    assert "digest -> 400" in put.note and "digest-mismatch" in put.finding_codes()
    assert (put.waived[0]["check"], put.waived[0]["status"]) == ("digest", 400)
    assert put.check is None and put.status == 201
