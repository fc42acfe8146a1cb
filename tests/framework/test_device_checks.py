"""Device-role checks on synthetic observations: each can fail, for the reason it states."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from margo_conformance.checks import device as checks
from margo_conformance.evidence import CapturedRequest, CapturedResponse, Exchange, TlsFacts
from margo_conformance.httpsig import content_digest, sign_request
from margo_conformance.payloads import get_sample
from margo_conformance.pki import CertDefect, TestCA
from margo_conformance.verdict import NotTested

CA = TestCA("checks test CA")
DEVICE = CA.issue_client_cert("dev-1")
BASE = "https://127.0.0.1:8443"


@dataclass
class Obs(Exchange):
    seq: int = 0
    kind: str = "http"
    route: str | None = None

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    def summary(self) -> str:
        return f"#{self.seq} {self.request.method} {self.request.target} -> {self.status}"


def obs(seq: int, method: str, path: str, body: bytes = b"", *, route: str, status: int = 201,
        headers: dict[str, str] | None = None, at: float = 1_700_000_000.0) -> Obs:
    request = CapturedRequest(method=method, url=BASE + path, target=path, body=body,
                              headers=list((headers or {}).items()))
    return Obs(request=request, response=CapturedResponse(status=status), started_at=at, seq=seq, route=route)


def signed(seq: int, method: str, path: str, body: bytes, *, route: str, status: int = 201, **kw: object) -> Obs:
    s = sign_request(method, BASE + path, body, DEVICE.key, created=1_700_000_000, **kw)
    headers = {**s.headers, **({"content-type": "application/json"} if body else {})}
    return obs(seq, method, path, s.body, route=route, status=status, headers=headers)


ONBOARD = json.dumps({"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
                      "certificate": DEVICE.b64_der()}).encode()
CAPS = b'{"apiVersion":"device.margo.org/v1alpha1","kind":"DeviceCapabilitiesManifest","properties":{}}'


def flow(**put_kw: object) -> list[Obs]:
    return [signed(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding"),
            signed(2, "PUT", "/api/v1/clients/c1/capabilities/dev-1", CAPS, route="capabilities", **put_kw)]


def test_correct_flow_passes_every_signing_check() -> None:
    o = flow()
    assert checks.onboarding_signed_by_submitted_key(o[0]).passed
    assert checks.onboarding_signed(o[0]).passed
    for verdict in (checks.every_request_signed(o), checks.required_components_covered(o),
                    checks.component_names_lower_case(o),
                    checks.created_and_keyid(o, DEVICE.cert), checks.signature_verifies(o, DEVICE.cert),
                    checks.digest_matches_body(o), checks.body_requests_carry_headers(o),
                    checks.allowed_algorithm(o, DEVICE.cert)):
        assert verdict.passed, verdict.message()


@pytest.mark.parametrize(("fault", "check_name"), [
    ("digest-wrong", "digest_matches_body"),
    ("component-missing", "required_components_covered"),
    ("uppercase-component", "component_names_lower_case"),
    ("ecdsa-der", "ecdsa_raw_encoding"),
    ("wrong-key", "signature_verifies"),
    ("created-stale", "created_and_keyid"),
    ("unsigned", "every_request_signed"),
    ("input-without-signature", "every_request_signed"),
])
def test_each_fault_fails_its_check(fault: str, check_name: str) -> None:
    o = flow(fault=fault)
    fn = getattr(checks, check_name)
    one_arg = ("digest_matches_body", "every_request_signed", "required_components_covered",
               "component_names_lower_case")
    verdict = fn(o) if check_name in one_arg else fn(o, DEVICE.cert)
    assert not verdict.passed, verdict.message()


def test_covered_components_read_structured_field_parameters() -> None:
    o = obs(1, "PUT", "/x", b"{}", route="capabilities",
            headers={"signature-input": 'sig1=("@method" "@query-param";name="x");created=1;keyid="k"'})
    assert checks._covered(o) == ["@method", "@query-param"]


def test_no_request_after_refusal_needs_no_http_and_names_what_came() -> None:
    failure = Obs(request=CapturedRequest("", ""), kind="tls-failure", tls=TlsFacts(error="alert bad certificate"))
    assert checks.no_application_request([failure], "x").passed
    v = checks.no_application_request([failure, *flow()], "x")
    assert not v.passed and "POST /api/v1/onboarding" in str(v.observed)


def test_retry_after_is_measured_from_the_answer() -> None:
    first = obs(2, "PUT", "/api/v1/clients/c1/capabilities/d", CAPS, route="capabilities", status=503, at=100.0)
    first.elapsed_s = 0.1
    quick = obs(3, "PUT", "/api/v1/clients/c1/capabilities/d", CAPS, route="capabilities", at=100.6)
    late = obs(3, "PUT", "/api/v1/clients/c1/capabilities/d", CAPS, route="capabilities", at=102.2)
    assert not checks.retry_waited([first, quick], 2).passed
    assert checks.retry_waited([first, late], 2).passed
    with pytest.raises(NotTested):
        checks.retry_waited([first], 2)


def test_client_id_and_order_checks() -> None:
    o = flow()
    assert checks.client_id_used_verbatim(o, "c1").passed
    assert not checks.client_id_used_verbatim(o, "c.9~f-_X").passed
    early = [obs(1, "PUT", "/api/v1/clients/own/capabilities/d", CAPS, route="capabilities"), *flow()]
    for item, seq in zip(early, (1, 2, 3)):
        item.seq = seq
    assert not checks.onboarding_before_capabilities(early).passed
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_upper_case_component_names_still_cover_the_components() -> None:
    """SIG-02 split: "Content-Digest" covers the digest (must axis passes); the case is Q-04's deviation."""
    o = flow(fault="uppercase-component")
    assert checks.required_components_covered(o).passed
    lower = checks.component_names_lower_case(o)
    assert not lower.passed and "Content-Digest" in str(lower.observed)
    assert checks.component_names_lower_case.requirements == ("SIG-02",)  # type: ignore[attr-defined]


def test_unsigned_onboarding_is_q03_and_a_bad_signature_is_must() -> None:
    unsigned = signed(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding", fault="unsigned")
    verdict = checks.onboarding_signed(unsigned)
    assert not verdict.passed and verdict.observed == "unsigned" and "Q-03" in verdict.interpretations
    with pytest.raises(NotTested):
        checks.onboarding_signed_by_submitted_key(unsigned)
    forged = signed(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding", fault="wrong-key")
    assert checks.onboarding_signed(forged).passed
    proof = checks.onboarding_signed_by_submitted_key(forged)
    assert not proof.passed and proof.observed == ["signature-invalid"] and not proof.interpretations


def _onboarding_with(cert) -> Obs:  # type: ignore[no-untyped-def]
    body = json.dumps({"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
                       "certificate": cert.b64_der()}).encode()
    return obs(1, "POST", "/api/v1/onboarding", body, route="onboarding")


def test_ca_flag_is_advisory_on_a_ca_issued_leaf_and_info_when_self_signed() -> None:
    flagged = checks.certificate_ca_flag(_onboarding_with(CA.issue_client_cert("leaf", defect="ca-true-leaf")))
    assert not flagged.passed and flagged.advisory and flagged.observed == ["ca-flag-on-leaf"]
    assert checks.certificate_ca_flag(_onboarding_with(DEVICE)).passed


def test_capabilities_method_names_the_legacy_post() -> None:
    legacy = [signed(2, "POST", "/api/v1/clients/c1/capabilities", CAPS, route="capabilities")]
    verdict = checks.capabilities_written_with_put(legacy)
    assert not verdict.passed and "POST /api/v1/clients/c1/capabilities" in str(verdict.observed)
    assert checks.capabilities_written_with_put(flow()).passed


def test_talking_tls12_is_a_q08_deviation() -> None:
    verdict = checks.tls12_refused(flow())
    assert not verdict.passed and "Q-08" in verdict.interpretations
    refused = Obs(request=CapturedRequest("", ""), kind="tls-failure", tls=TlsFacts(error="protocol version"))
    assert checks.tls12_refused([refused]).passed


# --- one test per remaining check: passes on the reference shape, fails on its own fault ------------------


def onboarding(body: object, *, method: str = "POST", path: str = "/api/v1/onboarding") -> Obs:
    return obs(1, method, path, json.dumps(body).encode(), route="onboarding",
               headers={"content-type": "application/json"})


GOOD_ONBOARDING = {"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
                   "certificate": DEVICE.b64_der()}


def test_onboarding_body_checks() -> None:
    good = onboarding(GOOD_ONBOARDING)
    for check in (checks.onboarding_posted, checks.onboarding_body_schema, checks.onboarding_kind_exact,
                  checks.onboarding_api_version, checks.certificate_is_base64, checks.certificate_rfc5280,
                  checks.certificate_key_allowed):
        assert check(good).passed, check.__name__
    assert not checks.onboarding_posted(onboarding(GOOD_ONBOARDING, method="PUT")).passed
    missing = checks.onboarding_body_schema(onboarding({**GOOD_ONBOARDING, "certificate": 42}))
    assert not missing.passed and any("/certificate" in e for e in missing.observed)
    assert checks.onboarding_kind_exact(onboarding({**GOOD_ONBOARDING, "kind": "Onboarding"})).observed == "Onboarding"
    assert not checks.onboarding_kind_exact(onboarding({**GOOD_ONBOARDING, "kind": "Onboarding"})).passed
    other = checks.onboarding_api_version(onboarding({**GOOD_ONBOARDING, "apiVersion": "margo.org/v1"}))
    assert not other.passed and "Q-21" in other.interpretations


def test_certificate_checks_fail_on_their_own_fault() -> None:
    raw_pem = onboarding({**GOOD_ONBOARDING, "certificate": DEVICE.cert_pem().decode()})
    assert not checks.certificate_is_base64(raw_pem).passed
    serial = onboarding({**GOOD_ONBOARDING, "certificate": CA.issue_client_cert("neg", defect=CertDefect.NEGATIVE_SERIAL).b64_der()})
    verdict = checks.certificate_rfc5280(serial)
    assert not verdict.passed and verdict.observed == ["serial-not-positive"]
    ca_flag = onboarding({**GOOD_ONBOARDING, "certificate": CA.issue_client_cert("flag", defect=CertDefect.CA_TRUE_LEAF).b64_der()})
    assert checks.certificate_rfc5280(ca_flag).passed  # a warning (DIGEST 5.1), never an RFC 5280 error
    weak = onboarding({**GOOD_ONBOARDING, "certificate": CA.issue_client_cert("ed", key_type="ed25519").b64_der()})
    assert not checks.certificate_key_allowed(weak).passed


def report(seq: int, device_id: str, doc: object, *, status: int = 201) -> Obs:
    return obs(seq, "PUT", f"/api/v1/clients/c1/capabilities/{device_id}", json.dumps(doc).encode(),
               route="capabilities", status=status, headers={"content-type": "application/json"})


def hosting(device_id: str = "dev-1", **props: object) -> dict:
    doc = json.loads(json.dumps(get_sample("manifest-hosting-device").document))
    doc["properties"].update({"id": device_id, **props})
    return doc


def onboarded_then(*reports: Obs) -> list[Obs]:
    return [signed(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding"), *reports]


def test_manifest_checks() -> None:
    good = onboarded_then(report(2, "dev-1", hosting()))
    for verdict in (checks.manifest_schema(good), checks.manifest_id_matches_path(good),
                    checks.hosting_fields_complete(good), checks.unit_format(good), checks.json_content_type(good)):
        assert verdict.passed, verdict.message()
    enum = onboarded_then(report(2, "dev-1", hosting(supportedRuntimes=["docker"])))
    assert not checks.manifest_schema(enum, "CAP-14").passed
    assert checks.manifest_schema(enum, "CAP-09").passed  # the enum breaks CAP-14's rule, not CAP-09's
    mismatch = checks.manifest_id_matches_path(onboarded_then(report(2, "dev-1", hosting("dev-2"))))
    assert not mismatch.passed and "dev-2" in mismatch.observed[0]
    no_otel = checks.hosting_fields_complete(onboarded_then(report(2, "dev-1", hosting(otelCollector=False))))
    assert not no_otel.passed
    spaced = checks.unit_format(onboarded_then(report(2, "dev-1", hosting(memory="16 Gi"))))
    assert not spaced.passed
    text = obs(2, "PUT", "/api/v1/clients/c1/capabilities/dev-1", b"{}", route="capabilities",
               headers={"content-type": "text/plain"})
    assert not checks.json_content_type([text]).passed


def test_gateway_checks() -> None:
    gateway = {"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
               "properties": {"id": "gw", "vendor": "A", "modelNumber": "M", "serialNumber": "S"}}
    ordered = onboarded_then(report(2, "gw", gateway), report(3, "gw/child", hosting("gw/child")))
    assert checks.parents_before_children(ordered).passed and checks.gateway_identity_only(ordered).passed
    reversed_ = onboarded_then(report(2, "gw/child", hosting("gw/child")), report(3, "gw", gateway))
    assert not checks.parents_before_children(reversed_).passed
    fat = onboarded_then(report(2, "gw", hosting("gw")), report(3, "gw/child", hosting("gw/child")))
    verdict = checks.gateway_identity_only(fat)
    assert not verdict.passed and "cpus" in str(verdict.observed)


def test_flow_checks() -> None:
    refused = [obs(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding", status=403)]
    assert checks.no_capabilities_after_refusal(refused).passed
    assert not checks.no_capabilities_after_refusal([*refused, report(2, "dev-1", hosting())]).passed
    once = [obs(1, "POST", "/api/v1/onboarding", ONBOARD, route="onboarding", status=400)]
    assert checks.refused_request_not_repeated(once).passed
    again = checks.refused_request_not_repeated([*once, obs(2, "POST", "/api/v1/onboarding", ONBOARD,
                                                              route="onboarding", status=400)])
    assert not again.passed and again.observed == 1
    assert checks.http11_only(flow()).passed
    h2 = flow()
    h2[1].request.http_version = "HTTP/2"
    assert not checks.http11_only(h2).passed


def test_base_url_and_bootstrap_checks() -> None:
    assert checks.requests_under_base_url(flow(), "").passed
    stray = obs(3, "GET", "/v1/whatever", route=None)
    outside = checks.requests_under_base_url([*flow(), stray], "")
    assert not outside.passed and "/v1/whatever" in str(outside.observed)
    fetched = [obs(1, "GET", "/api/v1/onboarding/certificate", route="certificate", status=200)]
    assert checks.root_ca_fetched(fetched).passed
    assert not checks.root_ca_fetched([]).passed
    assert checks.onboarded_over_downloaded_root(flow()).passed
    assert not checks.onboarded_over_downloaded_root([]).passed
