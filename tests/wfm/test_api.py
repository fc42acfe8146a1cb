"""Every route and every status code of DIGEST 2.7 against the running WFM, each with the check that answered.

The check name (``X-Margo-Check``) is part of the contract: the WFM-role suite asserts it against this
reference, so a test here fails when a request is refused for the right code but by the wrong check.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid

import httpx
import pytest

from margo_conformance import pki
from margo_conformance.httpsig import Fault, content_digest
from margo_conformance.pki import CertDefect, KeyType, TestCA, cached_key
from margo_conformance.wfm import WfmServer

from .helpers import (
    PROBLEM,
    Device,
    check_of,
    client_for,
    gateway_manifest,
    manifest,
    new_device,
    onboarding_body,
    problem_type,
    raw_exchange,
    raw_signed,
    verdict,
)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def fresh(wfm: WfmServer, http: httpx.Client, ca: TestCA, name: str = "fresh", **kw: object) -> Device:
    return new_device(wfm, http, ca, name, onboard=False, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ Certificate API
def test_certificate_api_serves_the_root_as_one_line_base64_der(wfm: WfmServer, http: httpx.Client,
                                                                   wfm_ca: TestCA) -> None:
    response = http.get(wfm.base_url + "/api/v1/onboarding/certificate")  # unsigned (CERT-02)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    value = response.json()["certificate"]
    decoded = pki.decode_certificate(value, strict=True)
    assert decoded.form is pki.CertEncoding.B64_DER
    assert decoded.certificate == wfm_ca.cert


def test_certificate_api_pem_form(make_wfm) -> None:
    server = make_wfm(cert_form="pem")
    with client_for(server) as http:
        value = http.get(server.base_url + "/api/v1/onboarding/certificate").json()["certificate"]
    assert pki.decode_certificate(value, strict=True).form is pki.CertEncoding.B64_PEM


def test_certificate_api_other_method_is_405(wfm: WfmServer, http: httpx.Client) -> None:
    response = http.post(wfm.base_url + "/api/v1/onboarding/certificate", content=b"")
    assert verdict(response) == (405, "route")
    assert "GET" in response.headers["allow"]
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_route_is_problem_404(wfm: WfmServer, http: httpx.Client) -> None:
    response = http.get(wfm.base_url + "/api/v2/whatever")
    assert verdict(response) == (404, "route")
    assert response.json()["type"] == "about:blank"


# ------------------------------------------------------------------------------------------ onboarding: success
def test_onboarding_returns_201_with_a_uuid4_client_id(wfm, http, wfm_ca) -> None:
    device = fresh(wfm, http, wfm_ca)
    response = device.onboard()
    assert response.status_code == 201
    assert check_of(response) is None
    client_id = response.json()["clientId"]
    assert UUID4.match(client_id) and URL_SAFE.match(client_id)
    record = wfm.store.client(client_id)
    assert record is not None and record.state == "approved"
    assert record.certificates[0].der == device.cert.cert_der()  # ONB-14: bound to the certificate


def test_two_certificates_get_two_client_ids(wfm, http, wfm_ca) -> None:
    a, b = fresh(wfm, http, wfm_ca, "a"), fresh(wfm, http, wfm_ca, "b")
    assert a.onboard().status_code == b.onboard().status_code == 201
    assert a.client_id != b.client_id


def test_reonboarding_the_same_certificate_returns_the_same_client_id(wfm, http, wfm_ca) -> None:
    """Q-13, our policy: a known certificate of an approved client gets 201 and its existing clientId."""
    device = fresh(wfm, http, wfm_ca)
    first = device.onboard().json()["clientId"]
    again = device.onboard()
    assert again.status_code == 201 and again.json()["clientId"] == first


def test_base64_pem_certificate_is_accepted(wfm, http, wfm_ca) -> None:
    device = fresh(wfm, http, wfm_ca)
    assert device.onboard(cert_value=device.cert.b64_pem()).status_code == 201


@pytest.mark.parametrize("key_type,algorithm", [
    (KeyType.P256, "ecdsa-p256-sha256"), (KeyType.P384, "ecdsa-p384-sha384"),
    (KeyType.RSA2048, "rsa-v1_5-sha256"), (KeyType.RSA2048, "rsa-pss-sha256"),
])
def test_all_four_margo_algorithms_verify(wfm, http, wfm_ca, key_type, algorithm) -> None:
    """SIG-07: the WFM supports all four algorithms, for onboarding and for capabilities."""
    device = fresh(wfm, http, wfm_ca, key=cached_key(key_type, slot="wfm-alg"))
    assert device.onboard(algorithm=algorithm).status_code == 201
    assert device.put(algorithm=algorithm).status_code in (200, 201)


def test_uppercase_component_name_is_accepted_with_a_warning(wfm, http, wfm_ca) -> None:
    """Q-04: verified with the name as sent; the strict judgement in the observation calls it an error."""
    device = fresh(wfm, http, wfm_ca)
    mark = wfm.observations.mark()
    assert device.onboard(fault=Fault.UPPERCASE_COMPONENT).status_code == 201
    seen = wfm.observations.wait_for_request("onboarding", 5, since=mark)
    lowercase = [f for f in seen.findings if f.code == "component-not-lowercase"]
    assert lowercase and lowercase[0].severity == "error"


# ------------------------------------------------------------------------------------------ onboarding: refusals
def test_onboarding_wrong_content_type_is_415(wfm, http, wfm_ca) -> None:
    response = fresh(wfm, http, wfm_ca).onboard(content_type="text/plain")
    assert verdict(response) == (415, "content-type")


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00garbage", b"", b"[" * 5000 + b"]" * 5000])
def test_onboarding_malformed_body_is_400_json(wfm, http, wfm_ca, raw) -> None:
    response = fresh(wfm, http, wfm_ca).onboard(body=raw)
    assert verdict(response) == (400, "json")
    assert problem_type(response) == PROBLEM + "invalid-request"


@pytest.mark.parametrize("mutation", ["no-apiVersion", "no-kind", "no-certificate", "wrong-kind",
                                      "certificate-number", "array"])
def test_onboarding_schema_violations_are_400_schema(wfm, http, wfm_ca, mutation) -> None:
    """ONB-02, ONB-03, Q-15 (400)."""
    device = fresh(wfm, http, wfm_ca)
    body: object = onboarding_body(device.cert.b64_der())
    if mutation.startswith("no-"):
        del body[mutation[3:]]  # type: ignore[attr-defined]
    elif mutation == "wrong-kind":
        body["kind"] = "Onboarding"  # type: ignore[index]
    elif mutation == "certificate-number":
        body["certificate"] = 42  # type: ignore[index]
    else:
        body = [body]
    response = device.onboard(body=json.dumps(body).encode())
    assert verdict(response) == (400, "schema")
    assert response.json()["errors"]


@pytest.mark.parametrize("name", sorted(pki.non_certificates()))
def test_onboarding_non_certificates_are_400_certificate(wfm, http, wfm_ca, name) -> None:
    """ONB-08: not base64, random bytes, truncated DER, a private key, a CSR, empty."""
    value = pki.non_certificates()[name]
    response = fresh(wfm, http, wfm_ca).onboard(cert_value=value) if value else \
        fresh(wfm, http, wfm_ca).onboard(body=onboarding_body(""))
    assert verdict(response) == (400, "certificate")
    assert problem_type(response) == PROBLEM + "invalid-certificate-format"


@pytest.mark.parametrize("form", ["pem", "wrapped", "urlsafe"])
def test_onboarding_certificate_must_be_one_line_standard_base64(wfm, http, wfm_ca, form) -> None:
    device = fresh(wfm, http, wfm_ca)
    encoding = {"pem": pki.CertEncoding.PEM, "wrapped": pki.CertEncoding.B64_DER_WRAPPED,
                "urlsafe": pki.CertEncoding.B64URL_DER_NOPAD}[form]
    value = pki.encode_certificate(device.cert.cert, encoding).decode()
    assert verdict(device.onboard(cert_value=value)) == (400, "certificate")


@pytest.mark.parametrize("defect", [CertDefect.EXPIRED, CertDefect.NOT_YET_VALID, CertDefect.NEGATIVE_SERIAL,
                                    CertDefect.V1_WITH_EXTENSIONS])
def test_onboarding_rfc5280_violations_are_400_certificate(wfm, http, wfm_ca, defect) -> None:
    """CERT-09, ONB-08, Q-16 (expired: 400)."""
    device = fresh(wfm, http, wfm_ca, defect=defect)
    assert verdict(device.onboard()) == (400, "certificate")


def test_onboarding_accepts_a_ca_flag_on_a_leaf(wfm, http, wfm_ca) -> None:
    """DIGEST 5.1: cA=TRUE on a client certificate is no RFC 5280 violation; a warning, never a refusal."""
    device = fresh(wfm, http, wfm_ca, defect=CertDefect.CA_TRUE_LEAF)
    assert verdict(device.onboard()) == (201, None)


@pytest.mark.parametrize("fault", [Fault.DIGEST_MISSING, Fault.DIGEST_WRONG, Fault.DIGEST_MALFORMED,
                                   Fault.DIGEST_OVER_BASE64, Fault.TAMPERED_BODY])
def test_onboarding_digest_faults_are_400_digest(wfm, http, wfm_ca, fault) -> None:
    response = fresh(wfm, http, wfm_ca).onboard(fault=fault)
    assert verdict(response) == (400, "digest")
    assert problem_type(response) == PROBLEM + "invalid-digest-header"


@pytest.mark.parametrize("fault", [Fault.UNSIGNED, Fault.WRONG_KEY, Fault.CREATED_STALE, Fault.CREATED_FUTURE,
                                   Fault.COMPONENT_MISSING, Fault.ECDSA_DER, Fault.ALG_MISMATCH,
                                   Fault.SIGNATURE_WITHOUT_INPUT, Fault.INPUT_WITHOUT_SIGNATURE])
def test_onboarding_signature_faults_are_401_signature(wfm, http, wfm_ca, fault) -> None:
    """ONB-06, Q-03 (strict: unsigned is 401), SIG-11 window."""
    response = fresh(wfm, http, wfm_ca).onboard(fault=fault)
    assert verdict(response) == (401, "signature")
    assert problem_type(response) == PROBLEM + "signature-verification-failed"


def test_onboarding_signed_by_another_key_than_the_certificate_is_401(wfm, http, wfm_ca) -> None:
    device = fresh(wfm, http, wfm_ca)
    other = wfm_ca.issue_client_cert("other")
    assert verdict(device.onboard(key=other.key)) == (401, "signature")


def test_onboarding_body_over_one_mib_is_413(wfm, http, wfm_ca) -> None:
    big = b'{"pad":"' + b"a" * (1024 * 1024) + b'"}'
    response = http.post(wfm.base_url + "/api/v1/onboarding", content=big,
                         headers={"content-type": "application/json"})
    assert verdict(response) == (413, "body-size")

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(20):
            yield b"x" * 65536

    response = http.post(wfm.base_url + "/api/v1/onboarding", content=chunks())
    assert verdict(response) == (413, "body-size")
    assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 200


# ------------------------------------------------------------------------------------------ trust policies
def test_allow_list_refuses_unknown_issuers_and_accepts_listed_or_preregistered(make_wfm, wfm_ca) -> None:
    server = make_wfm(trust="allow-list")
    other_ca = TestCA("another device CA")
    with client_for(server) as http:
        stranger = new_device(server, http, other_ca, "stranger", onboard=False)
        response = stranger.onboard()
        assert verdict(response) == (403, "trust")
        assert problem_type(response) == PROBLEM + "certificate-not-trusted"
        assert server.store.clients() == []  # nothing recorded for a refused stranger

        server.operator.preregister(stranger.cert.cert)
        assert stranger.onboard().status_code == 201

        listed = new_device(server, http, wfm_ca, "listed", onboard=False)
        assert listed.onboard().status_code == 403
        server.operator.trust_issuer(wfm_ca.cert)
        assert listed.onboard().status_code == 201


def test_manual_approval_waits_for_the_operator(make_wfm, wfm_ca) -> None:
    server = make_wfm(trust="manual", approval_timeout_s=10, approval_poll_s=0.05)
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "waiting", onboard=False)
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: result.setdefault("r", device.onboard()))
        thread.start()
        deadline = time.monotonic() + 5
        while not server.store.clients("pending") and time.monotonic() < deadline:
            time.sleep(0.02)
        pending = server.store.clients("pending")
        assert len(pending) == 1
        started = time.monotonic()
        server.operator.approve(pending[0].client_id)
        thread.join(10)
        assert result["r"].status_code == 201 and result["r"].json()["clientId"] == pending[0].client_id
        assert time.monotonic() - started < 2


def test_manual_rejection_and_timeout_are_403(make_wfm, wfm_ca) -> None:
    server = make_wfm(trust="manual", approval_timeout_s=0.3, approval_poll_s=0.05)
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "slow", onboard=False)
        response = device.onboard()
        assert verdict(response) == (403, "trust")
        assert "awaiting" in response.json()["detail"]
        (pending,) = server.store.clients("pending")
        server.operator.approve(pending.client_id)  # a later retry after approval succeeds, same id
        again = device.onboard()
        assert again.status_code == 201 and again.json()["clientId"] == pending.client_id

        refused = new_device(server, http, wfm_ca, "refused", onboard=False)
        assert refused.onboard().status_code == 403
        (waiting,) = server.store.clients("pending")
        server.operator.reject(waiting.client_id)
        response = refused.onboard()
        assert verdict(response) == (403, "trust") and "rejected" in response.json()["detail"]


# ------------------------------------------------------------------------------------------ capabilities: success
def test_put_creates_201_then_replaces_200(wfm, device) -> None:
    assert verdict(device.put()) == (201, None)
    changed = manifest(memory="32Gi")
    assert verdict(device.put(doc=changed)) == (200, None)
    stored = json.loads(wfm.store.capabilities(device.client_id, "line3-ipc-07"))
    assert stored == changed  # full replace (DIGEST 3.3)


def test_delete_is_204_then_404(device) -> None:
    device.put()
    assert verdict(device.delete()) == (204, None)
    response = device.delete()
    assert verdict(response) == (404, "device-lookup")
    assert response.json()["type"] == "about:blank"


def test_unknown_extensions_are_ignored(device) -> None:
    """CAP-17: x-<name>-extensions members are accepted (the base manifest carries one)."""
    doc = manifest()
    doc["x-vendor-two-extensions"] = {"anything": [1, 2, {"deep": True}]}
    assert device.put(doc=doc).status_code == 201


def test_gateway_child_order(wfm, device) -> None:
    """CAP-13: a child before its parent is 404; after the parent it is 201; deleting the parent removes it."""
    child = "gw-hall2/press-42"
    response = device.put(child)
    assert verdict(response) == (404, "parent-gateway")
    assert device.put("gw-hall2", doc=gateway_manifest("gw-hall2")).status_code == 201
    assert device.put(child).status_code == 201
    assert device.put("gw-hall2/press-42/sensor", doc=gateway_manifest("gw-hall2/press-42/sensor")).status_code == 201
    assert device.delete("gw-hall2").status_code == 204
    assert wfm.store.devices(device.client_id) == []


def test_percent_encoded_path_verifies_against_the_raw_target(device) -> None:
    """@target-uri uses the raw path: %41 stays %41 in the signature base, the device id decodes to 'Abc'."""
    response = device.send("PUT", device.caps_path("%41bc"), json.dumps(manifest("Abc")).encode())
    assert response.status_code == 201


def test_query_string_is_part_of_the_target_uri(device) -> None:
    path = device.caps_path("q-dev") + "?trace=1"
    assert device.send("PUT", path, json.dumps(manifest("q-dev")).encode()).status_code == 201


def test_host_name_of_the_request_is_used_when_no_base_url_is_configured(wfm, wfm_ca) -> None:
    """A device that signed https://localhost:PORT/... verifies as well as one that used 127.0.0.1."""
    with httpx.Client(verify=wfm.client_ssl_context(), timeout=10) as http:
        device = new_device(wfm, http, wfm_ca, "by-name", onboard=False)
        device.wfm = _Renamed(wfm, f"https://localhost:{wfm.port}")  # type: ignore[assignment]
        assert device.onboard().status_code == 201
        assert device.put().status_code == 201


class _Renamed:
    def __init__(self, wfm: WfmServer, base_url: str) -> None:
        self._wfm, self.base_url = wfm, base_url


def test_path_prefix(make_wfm, wfm_ca) -> None:
    """Q-23: the API may hang under a prefix; the signed @target-uri carries it."""
    server = make_wfm(path_prefix="/v1alpha2/margo")
    assert server.base_url.endswith("/v1alpha2/margo")
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "prefixed")
        assert device.put().status_code == 201
        bare = http.get(f"https://127.0.0.1:{server.port}/api/v1/onboarding/certificate")
        assert verdict(bare) == (404, "route")


def test_configured_base_url_is_used_for_the_target_uri(make_wfm, wfm_ca) -> None:
    """Behind a proxy the WFM verifies against its externally visible URL, not the Host it receives."""
    server = make_wfm(base_url="https://wfm.example.com/margo")
    with client_for(server) as http:
        device = new_device(server, http, wfm_ca, "proxied", onboard=False)
        signed_external = Device(server, http, device.cert)
        signed_external.url = lambda p: f"https://127.0.0.1:{server.port}/margo{p}"  # type: ignore[method-assign]
        # signed for 127.0.0.1, but the WFM's public URL is wfm.example.com: the signature does not verify
        assert verdict(signed_external.onboard()) == (401, "signature")
        from margo_conformance.httpsig import sign_request

        body = json.dumps(onboarding_body(device.cert.b64_der())).encode()
        signed = sign_request("POST", "https://wfm.example.com/margo/api/v1/onboarding", body, device.key)
        response = http.post(f"https://127.0.0.1:{server.port}/margo/api/v1/onboarding", content=body,
                             headers={**signed.headers, "content-type": "application/json"})
        assert response.status_code == 201


# ------------------------------------------------------------------------------------------ capabilities: refusals
@pytest.mark.parametrize("device_id", ["bad%20id", "a/../b", "gw%2Fchild", "./x", "caf%C3%A9", "x@y", "a//b",
                                       "%00", "x/"])
def test_bad_device_ids_are_400_device_id_syntax(device, device_id) -> None:
    """CAP-10; sent as raw bytes, since HTTP clients normalise dot segments away."""
    raw = raw_signed(device, "PUT", device.caps_path(device_id), json.dumps(manifest("x")).encode())
    response = raw_exchange(device.wfm, raw)
    assert (response.status, response.headers.get("x-margo-check")) == (400, "device-id-syntax")
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("fault", [Fault.DIGEST_MISSING, Fault.DIGEST_WRONG, Fault.DIGEST_MALFORMED,
                                   Fault.DIGEST_OVER_BASE64, Fault.TAMPERED_BODY])
def test_capability_digest_faults_are_400_digest(device, fault) -> None:
    response = device.put(fault=fault)
    assert verdict(response) == (400, "digest")
    assert problem_type(response) == PROBLEM + "invalid-digest-header"


def test_delete_with_wrong_digest_of_empty_body_is_400(device) -> None:
    response = device.delete(headers={"Content-Digest": content_digest(b"not empty")})
    assert verdict(response) == (400, "digest")


def test_digest_is_checked_before_the_client_lookup(device) -> None:
    response = device.put(client_id=str(uuid.uuid4()), fault=Fault.DIGEST_WRONG)
    assert verdict(response) == (400, "digest")


def test_unknown_client_is_404_even_when_signed(device) -> None:
    """SIG-14, Q-17: 404 invalid-client, before any signature check."""
    response = device.put(client_id=str(uuid.uuid4()))
    assert verdict(response) == (404, "client-lookup")
    assert problem_type(response) == PROBLEM + "invalid-client"
    assert verdict(device.delete(client_id="no-such-client", fault=Fault.UNSIGNED)) == (404, "client-lookup")


@pytest.mark.parametrize("fault", [Fault.UNSIGNED, Fault.WRONG_KEY, Fault.CREATED_STALE, Fault.CREATED_FUTURE,
                                   Fault.COMPONENT_MISSING, Fault.ECDSA_DER, Fault.SIGNATURE_WITHOUT_INPUT,
                                   Fault.INPUT_WITHOUT_SIGNATURE, Fault.ALG_MISMATCH])
def test_capability_signature_faults_are_401_signature(device, fault) -> None:
    response = device.put(fault=fault)
    assert verdict(response) == (401, "signature")
    assert problem_type(response) == PROBLEM + "signature-verification-failed"


def test_unsigned_delete_is_401(device) -> None:
    device.put()
    assert verdict(device.delete(fault=Fault.UNSIGNED)) == (401, "signature")


def test_client_a_signature_on_client_b_url_is_401(wfm, http, wfm_ca, device) -> None:
    """ONB-14: verified with B's certificate only."""
    other = new_device(wfm, http, wfm_ca, "client-b")
    assert verdict(device.put(client_id=other.client_id)) == (401, "signature")


def test_signature_over_another_method_is_401(device) -> None:
    from margo_conformance.httpsig import sign_request

    body = json.dumps(manifest()).encode()
    url = device.url(device.caps_path("line3-ipc-07"))
    signed = sign_request("POST", url, body, device.key)
    response = device.http.put(url, content=body, headers={**signed.headers, "content-type": "application/json"})
    assert verdict(response) == (401, "signature")


@pytest.mark.parametrize("decision", ["revoke", "reject"])
def test_revoked_or_rejected_client_is_403(wfm, device, decision) -> None:
    assert device.put().status_code == 201
    wfm.operator.decide(device.client_id, decision)
    response = device.put()
    assert verdict(response) == (403, "client-state")
    assert problem_type(response) == PROBLEM + "certificate-not-trusted"
    assert verdict(device.onboard()) == (403, "trust")  # re-onboarding the revoked certificate
    wfm.operator.approve(device.client_id)
    assert device.put().status_code == 200


def test_signature_is_checked_before_the_client_state(wfm, device) -> None:
    wfm.operator.revoke(device.client_id)
    assert verdict(device.put(fault=Fault.WRONG_KEY)) == (401, "signature")


def test_capability_wrong_content_type_is_415(device) -> None:
    assert verdict(device.put(content_type="text/plain")) == (415, "content-type")


@pytest.mark.parametrize("raw", [b"{", b"\xc3\x28", b"null garbage"])
def test_capability_malformed_json_is_400_json(device, raw) -> None:
    assert verdict(device.put(raw=raw)) == (400, "json")


@pytest.mark.parametrize("change,pointer", [
    (lambda d: d["properties"]["cpus"][0].update(architecture="x86_64"), "/properties/cpus/0/architecture"),
    (lambda d: d["properties"]["peripherals"][0].update(type="GPU"), "/properties/peripherals/0/type"),
    (lambda d: d["properties"].pop("vendor"), "/properties"),
    (lambda d: d.update(foo=1), ""),
    (lambda d: d.update(kind="DeviceCapabilities"), "/kind"),
])
def test_capability_schema_violations_are_422_with_errors(device, change, pointer) -> None:
    """CAP-08, CAP-09, CAP-14; ERR-07: errors[] names the field."""
    doc = manifest()
    change(doc)
    response = device.put(doc=doc)
    assert verdict(response) == (422, "schema")
    body = response.json()
    assert body["type"] == PROBLEM + "semantic-error" and body["status"] == 422
    assert any(e["field"] == (pointer or "/") for e in body["errors"]), body["errors"]


@pytest.mark.parametrize("change", [
    lambda d: d["properties"].pop("memory"),
    lambda d: d["properties"].update(otelCollector=False),
])
def test_capability_semantic_violations_are_422_semantics(device, change) -> None:
    """CAP-11: all hosting fields or none; otelCollector true."""
    doc = manifest()
    change(doc)
    response = device.put(doc=doc)
    assert verdict(response) == (422, "semantics")
    assert response.json()["errors"]


def test_properties_id_must_equal_the_path(device) -> None:
    """CAP-20, Q-18."""
    assert verdict(device.put("dev-a", doc=manifest("dev-b"))) == (422, "device-id-match")


def test_other_methods_on_capabilities_are_405(device) -> None:
    response = device.send("GET", device.caps_path("line3-ipc-07"), None)
    assert verdict(response) == (405, "route")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"PUT", "DELETE"}


def test_every_error_is_a_problem_document(wfm, device) -> None:
    """RFC 9457 members on each kind of refusal (type, title, status, detail, instance)."""
    for response in (device.put(fault=Fault.UNSIGNED), device.put(client_id="nobody"),
                     device.put(raw=b"{"), device.put(fault=Fault.DIGEST_WRONG)):
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert set(body) >= {"type", "title", "status", "detail", "instance"}
        assert body["status"] == response.status_code
        assert body["instance"].startswith("/api/v1/clients/")


def test_audit_log_records_each_request_with_its_check(wfm, device) -> None:
    device.put(fault=Fault.UNSIGNED)
    entries = wfm.store.audit_entries(50)
    last = [e for e in entries if e.client_id == device.client_id][-1]
    assert (last.method, last.status, last.check) == ("PUT", 401, "signature")
    assert last.problem_type == PROBLEM + "signature-verification-failed"


def test_keyid_plays_no_part_in_verification(device) -> None:
    """DIGEST 2.4: keyid is recorded, never used for the lookup."""
    assert device.put(keyid="anything-at-all").status_code == 201
    assert device.put(keyid=base64.b64encode(b"\x00").decode()).status_code == 200
