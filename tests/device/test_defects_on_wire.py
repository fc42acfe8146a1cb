"""Every device defect changes exactly the behaviour it names, as seen by the WFM on the wire.

Each test runs the reference device with one defect against the reference WFM and asserts on the WFM's
observation log: the request line, headers and body it received and its own diagnosis (MARGO_POLICY). Where a
signature defect applies, the diagnosis must show that one fault and nothing else. (TLS defects: test_trust.py.)
"""

from __future__ import annotations

import json
import time

import pytest

from margo_conformance.device import WfmRefused

from .conftest import error_codes


def _body(o) -> dict:
    return json.loads(o.request.body)


def _params(o) -> str:
    return o.request.header("signature-input") or ""


# -- signature defects: the diagnosis of every signed request shows exactly the one fault --------------------

def diagnosis(o):
    """The WFM's strict diagnosis of a received request; for an onboarding request it refused before
    verifying (a digest failure), the same diagnosis made here from the bytes it received, with the key of
    the certificate in the received body (Q-03)."""
    if o.verification is not None:
        return o.verification
    from margo_conformance.httpsig import diagnose
    from margo_conformance.pki import decode_certificate

    key = decode_certificate(_body(o)["certificate"]).certificate.public_key()
    return diagnose(o.request.method, o.request.url, o.request.headers, o.request.body, key)


def codes_of(o) -> set[str]:
    return {f.code for f in diagnosis(o).findings if f.severity == "error"}


@pytest.mark.parametrize("defect, codes", [
    ("digest-missing", {"missing-component:content-digest", "digest-missing"}),
    ("digest-wrong", {"digest-mismatch"}),
    ("no-target-uri", {"missing-component:@target-uri"}),
    ("uppercase-component", {"component-not-lowercase"}),
    ("ecdsa-der", {"ecdsa-der-encoding"}),
    ("created-stale", {"created-too-old"}),
])
def test_signature_defect_shows_exactly_its_finding(run_device, defect: str, codes: set[str]) -> None:
    out = run_device(defect)
    assert out.http, out.error
    assert out.http[0].route == "onboarding"
    for o in out.http:  # the onboarding POST, and the capability PUT when the WFM let the device go on
        found = codes_of(o)
        assert found and found <= codes, (o.summary(), found)
    clean = run_device(state="clean")
    assert all(codes_of(o) == set() for o in clean.http)
    # the device stops exactly when the WFM refuses, and says why
    refused = [o for o in out.http if o.status >= 400]
    assert (out.error is None) == (not refused)
    if refused:
        assert isinstance(out.error, WfmRefused) and str(refused[0].status) in str(out.error)


def test_digest_missing_leaves_the_header_out(run_device) -> None:
    (onboarding,) = run_device("digest-missing").http
    assert onboarding.request.header("content-digest") is None
    assert onboarding.request.header("signature") and '"content-digest"' not in _params(onboarding)


def test_digest_wrong_is_signed_but_not_over_the_body(run_device) -> None:
    from margo_conformance.httpsig import content_digest

    (onboarding,) = run_device("digest-wrong").http
    sent = onboarding.request.header("content-digest")
    assert sent and sent != content_digest(onboarding.request.body)
    assert '"content-digest"' in _params(onboarding)


def test_uppercase_component_writes_content_digest(run_device) -> None:
    onboarding = run_device("uppercase-component").http[0]
    assert '"Content-Digest"' in _params(onboarding) and '"content-digest"' not in _params(onboarding)


def test_created_stale_is_one_hour_old(run_device) -> None:
    before = int(time.time())
    (onboarding,) = run_device("created-stale").http
    created = onboarding.verification.params["created"]
    assert before - 3600 - 5 <= created <= before - 3600 + 5


def test_ecdsa_der_signature_is_der(run_device) -> None:
    (onboarding,) = run_device("ecdsa-der").http
    sig = onboarding.request.header("signature")
    import base64
    raw = base64.b64decode(sig.split("=:", 1)[1].rstrip(":"))
    assert raw[0] == 0x30 and len(raw) != 64  # a DER SEQUENCE, not 64 bytes of r||s


def test_unsigned_defect_signs_onboarding_but_not_later_requests(run_device) -> None:
    out = run_device("unsigned")
    onboarding, report = out.http
    assert onboarding.status == 201 and onboarding.signed and error_codes(onboarding) == set()
    assert not report.signed and report.request.header("signature-input") is None
    assert report.status == 401 and "missing-signature" in error_codes(report)


def test_onboarding_unsigned_defect(run_device) -> None:
    out = run_device("onboarding-unsigned")
    (onboarding,) = out.http
    assert not onboarding.signed and onboarding.request.header("signature-input") is None
    assert onboarding.request.header("content-digest")  # only the signature is missing
    assert {"missing-signature", "missing-signature-input"} == codes_of(onboarding)
    assert onboarding.status == 401 and isinstance(out.error, WfmRefused)


def test_wrong_key_defect_signs_later_requests_with_another_key(run_device) -> None:
    out = run_device("wrong-key")
    onboarding, report = out.http
    assert onboarding.status == 201 and error_codes(onboarding) == set()
    assert error_codes(report) == {"signature-invalid"} and report.status == 401
    assert report.verification.params["keyid"] == onboarding.verification.params["keyid"]  # same keyid, other key


# -- onboarding defects ---------------------------------------------------------------------------------------

def test_cert_raw_pem_defect(run_device) -> None:
    out = run_device("cert-raw-pem")
    onboarding = out.http[0]
    assert _body(onboarding)["certificate"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert "certificate-not-base64" in {f.code for f in onboarding.certificate_findings}
    assert codes_of(onboarding) == set()  # signed correctly: only the certificate's form is wrong
    assert onboarding.status == 400 and isinstance(out.error, WfmRefused)
    assert "invalid-certificate-format" in str(out.error)


def test_body_text_plain_defect_labels_the_onboarding_body_and_stops_at_the_refusal(run_device) -> None:
    out = run_device("body-text-plain")
    onboarding = out.http[0]
    assert onboarding.request.header("content-type") == "text/plain"
    assert onboarding.status == 415 and isinstance(out.error, WfmRefused) and len(out.http) == 1


def test_ignore_client_id_defect_uses_its_own_id_in_paths(run_device, wfm) -> None:
    wfm.faults.assign_client_id("c.9~f-_X")
    out = run_device("ignore-client-id")
    onboarding, report = out.http
    device_id = _body(report)["properties"]["id"]
    assert json.loads(onboarding.response.body)["clientId"] == "c.9~f-_X"
    assert report.request.target == f"/api/v1/clients/{device_id}/capabilities/{device_id}"
    assert report.status == 404 and report.client_id == device_id


def test_report_before_onboarding_defect(run_device) -> None:
    out = run_device("report-before-onboarding")
    assert out.error is None, out.error
    assert [(o.route, o.status) for o in out.http] == [("capabilities", 404), ("onboarding", 201),
                                                       ("capabilities", 201)]
    assert all(error_codes(o) == set() for o in out.http)


def test_continue_after_403_defect(run_device, wfm) -> None:
    wfm.faults.reject_onboarding()
    out = run_device("continue-after-403")
    assert [(o.route, o.status) for o in out.http][:2] == [("onboarding", 403), ("capabilities", 404)]
    clean = run_device(state="clean")
    assert [o.route for o in clean.http] == ["onboarding", "capabilities"]  # fault consumed: clean run goes on
    wfm.faults.reject_onboarding()
    refused = run_device(state="clean2")
    assert [o.route for o in refused.http] == ["onboarding"]


# -- capability defects ---------------------------------------------------------------------------------------

def test_manifest_invalid_enum_defect(run_device) -> None:
    out = run_device("manifest-invalid-enum")
    report = out.route("capabilities")[0]
    assert {c.get("architecture") for c in _body(report)["properties"]["cpus"]} == {"x86_64"}
    assert report.status == 422 and error_codes(report) == set()
    assert isinstance(out.error, WfmRefused) and "422" in str(out.error)


def test_properties_id_mismatch_defect(run_device) -> None:
    out = run_device("properties-id-mismatch")
    report = out.route("capabilities")[0]
    assert _body(report)["properties"]["id"] == f"{report.device_id}-other"
    assert error_codes(report) == set()
    assert report.status == 422 and report.check == "device-id-match"


def test_gateway_children_first_defect(run_device) -> None:
    out = run_device("gateway-children-first", gateway_children=1, device_id="gw")
    reports = out.route("capabilities")
    assert [_body(o)["properties"]["id"] for o in reports][:1] == ["gw/child-1"]
    assert reports[0].status == 404  # CAP-13: the WFM has not seen the parent


def test_gateway_hosting_fields_defect(run_device) -> None:
    out = run_device("gateway-hosting-fields", gateway_children=1, device_id="gw")
    gateway = out.route("capabilities")[0]
    props = _body(gateway)["properties"]
    assert props["id"] == "gw" and "cpus" in props and "otelCollector" in props


# -- retries --------------------------------------------------------------------------------------------------

def test_retry_ignores_retry_after_defect(run_device, wfm) -> None:
    wfm.faults.unavailable(retry_after=2, route="capabilities")
    out = run_device("retry-ignores-retry-after")
    first, second = out.route("capabilities")
    assert (first.status, first.response.header("retry-after")) == (503, "2")
    assert second.started_at - first.started_at < 1.0
