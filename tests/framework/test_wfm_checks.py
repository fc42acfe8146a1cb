"""WFM-role checks on synthetic evidence: each passes on a clean answer and fails on exactly its own fault."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization

from margo_conformance.checks import wfm as checks
from margo_conformance.evidence import CapturedRequest, CapturedResponse, Exchange, TlsFacts
from margo_conformance.pki import CertDefect, TestCA
from margo_conformance.tlsprobe import TlsProbeResult

CA = TestCA("wfm checks test CA")
PATH = "/api/v1/clients/c1/capabilities/d1"
PROBLEM = "https://docs.margo.org/specification/problems/"


def answer(status: int | None, body: object = None, *, content_type: str = "application/json",
           http_version: str = "HTTP/1.1") -> Exchange:
    request = CapturedRequest(method="PUT", url="https://wfm.test" + PATH, target=PATH)
    if status is None:
        return Exchange(request=request, error="connection reset")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    return Exchange(request=request, response=CapturedResponse(status=status, headers=[("content-type", content_type)],
                                                               body=raw, http_version=http_version))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- status ----------------------------------------------------------------------------------------------


def test_status_is_reads_the_status_and_the_problem_type() -> None:
    assert checks.status_is(answer(401), 401).passed
    failed = checks.status_is(answer(400, {"type": PROBLEM + "invalid-request"}), 401)
    assert not failed.passed and failed.observed == 400 and failed.details["problem_type"].endswith("invalid-request")
    assert not checks.status_is(answer(None), 401).passed


@pytest.mark.parametrize(("status", "passed"), [(200, True), (204, True), (301, False), (400, False), (None, False)])
def test_status_is_success(status: int | None, passed: bool) -> None:
    assert checks.status_is_success(answer(status)).passed is passed


@pytest.mark.parametrize(("status", "passed"), [(400, True), (401, True), (404, True), (200, False), (201, False),
                                                (500, False), (None, False)])
def test_refused_needs_a_4xx(status: int | None, passed: bool) -> None:
    """A 5xx is no refusal (the server broke), a 2xx accepted what it must refuse, no answer proves nothing."""
    verdict = checks.refused(answer(status))
    assert verdict.passed is passed and verdict.observed == status and not verdict.interpretations


def test_refused_with_preferred_code_names_the_choice() -> None:
    preferred = checks.refused_with_preferred_code(answer(401), "Q-14")
    assert preferred.passed and preferred.details["choice"] == "preferred" and preferred.interpretations == ("Q-14",)
    alternative = checks.refused_with_preferred_code(answer(400), "Q-14")
    assert not alternative.passed and alternative.details["choice"] == "alternative"
    assert 400 in alternative.details["alternatives"] and alternative.expected == "401"
    other = checks.refused_with_preferred_code(answer(418), "Q-14")
    assert not other.passed and other.details["choice"] not in ("preferred", "alternative")


def test_unknown_member_refused_is_advisory() -> None:
    assert checks.unknown_member_refused(answer(422)).passed
    accepted = checks.unknown_member_refused(answer(201))
    assert not accepted.passed and accepted.advisory and accepted.observed == 201


# --- bodies ------------------------------------------------------------------------------------------------


def test_json_matches_checks_media_type_and_schema() -> None:
    assert checks.json_matches(answer(201, {"clientId": "abc"}), "onboarding-response").passed
    wrong_type = checks.json_matches(answer(201, {"clientId": "abc"}, content_type="text/plain"), "onboarding-response")
    assert not wrong_type.passed and wrong_type.observed == "text/plain"
    invalid = checks.json_matches(answer(201, {"client": "abc"}), "onboarding-response")
    assert not invalid.passed and any("clientId" in e for e in invalid.observed)
    assert not checks.json_matches(answer(None), "onboarding-response").passed


def test_error_body_is_known_family() -> None:
    assert checks.error_body_is_known_family(answer(400, {"error": "bad"})).passed
    problem = answer(400, {"type": PROBLEM + "invalid-request", "title": "t", "status": 400},
                     content_type="application/problem+json")
    assert checks.error_body_is_known_family(problem).passed
    text = checks.error_body_is_known_family(answer(500, b"boom", content_type="text/plain"))
    assert not text.passed and text.observed == "not-json"


def test_problem_type_fits_the_status() -> None:
    good = answer(401, {"type": PROBLEM + "signature-verification-failed", "title": "t", "status": 401},
                  content_type="application/problem+json")
    assert checks.problem_type_fits(good).passed
    wrong = answer(401, {"type": PROBLEM + "invalid-client", "title": "t", "status": 401},
                   content_type="application/problem+json")
    verdict = checks.problem_type_fits(wrong)
    assert not verdict.passed and verdict.findings


# --- the root CA -------------------------------------------------------------------------------------------


def test_strict_base64_refuses_line_breaks() -> None:
    value = b64(CA.cert.public_bytes(serialization.Encoding.DER))
    assert checks.strict_base64(value).passed
    wrapped = checks.strict_base64("\n".join(value[i:i + 64] for i in range(0, len(value), 64)))
    assert not wrapped.passed and "'\\n'" in wrapped.observed
    assert not checks.strict_base64(None).passed


def test_decodes_to_one_certificate_and_not_a_bundle() -> None:
    one = CA.issue_client_cert("one")
    verdict = checks.decodes_to_one_certificate(one.b64_der())
    assert verdict.passed and verdict.details["form"] == "base64-der"
    bundle = b64(one.cert_pem() + CA.issue_client_cert("two").cert_pem())
    refused = checks.decodes_to_one_certificate(bundle)
    assert not refused.passed and "multiple-certificates" in refused.observed
    assert not checks.decodes_to_one_certificate(b64(b"not a certificate")).passed


def test_root_ca_shape_checks() -> None:
    assert checks.is_ca_certificate(CA.cert).passed and checks.is_self_signed(CA.cert).passed
    leaf = CA.issue_client_cert("leaf").cert
    not_ca = checks.is_ca_certificate(leaf)
    assert not not_ca.passed and not_ca.observed is False
    not_self = checks.is_self_signed(leaf)
    assert not not_self.passed and not_self.advisory and not_self.observed["issuer_equals_subject"] is False
    assert not checks.is_ca_certificate(None).passed


# --- TLS and transport ---------------------------------------------------------------------------------------


def probe(ok: bool, **facts: object) -> TlsProbeResult:
    return TlsProbeResult(ok=ok, facts=TlsFacts(**facts))  # type: ignore[arg-type]


def test_handshake_checks() -> None:
    assert checks.handshake_succeeded(probe(True, version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256"), "x").passed
    failed = checks.handshake_succeeded(probe(False, error="certificate verify failed"), "x")
    assert not failed.passed and failed.observed == "certificate verify failed"
    assert checks.handshake_refused(probe(False, error="protocol version"), "x").passed
    accepted = checks.handshake_refused(probe(True, version="TLSv1.2"), "x")
    assert not accepted.passed and "TLSv1.2" in accepted.observed


@pytest.mark.parametrize(("requested", "passed"), [(False, True), (True, False), (None, False)])
def test_no_client_certificate_requested(requested: bool | None, passed: bool) -> None:
    """None (not observable on this Python) is no pass: nothing was proven."""
    assert checks.no_client_certificate_requested(probe(True, client_cert_requested=requested)).passed is passed


def test_spoke_http11_and_port() -> None:
    assert checks.spoke_http11(answer(200)).passed
    assert not checks.spoke_http11(answer(200, http_version="HTTP/2")).passed
    assert checks.uses_port_443(443, "https://wfm.example").passed
    other = checks.uses_port_443(18443, "https://wfm.example:18443")
    assert not other.passed and other.observed == 18443


# --- clientId --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("client_id", "passed"), [("c.9~f-_X", True), ("a/b", False), ("a+b=", False), ("", False),
                                                   (None, False)])
def test_client_id_url_safe(client_id: str | None, passed: bool) -> None:
    assert checks.client_id_url_safe(client_id).passed is passed


def test_ids_differ() -> None:
    assert checks.ids_differ("a", "b").passed
    assert not checks.ids_differ("a", "a").passed and not checks.ids_differ("a", None).passed


def test_one_identity_per_certificate() -> None:
    first = answer(201, {"clientId": "c1"})
    assert checks.one_identity_per_certificate(first, answer(201, {"clientId": "c1"})).passed
    assert checks.one_identity_per_certificate(first, answer(409, {"error": "exists"})).passed
    second = checks.one_identity_per_certificate(first, answer(201, {"clientId": "c2"}))
    assert not second.passed and "duplicate identity" in second.observed and "Q-13" in second.interpretations
    assert not checks.one_identity_per_certificate(first, answer(500)).passed


def test_client_id_form_is_a_description_not_a_verdict() -> None:
    assert checks.client_id_form("3f2c1d9e-8a4b-4c6d-9e0f-1a2b3c4d5e6f") == "UUIDv4"
    assert checks.client_id_form("c.9~f-_X").startswith("not a UUIDv4")


def test_a_ca_flag_leaf_is_still_one_certificate() -> None:
    """DIGEST 5.1: cA=TRUE on a leaf does not stop the value from decoding to one certificate."""
    flagged = CA.issue_client_cert("flagged", defect=CertDefect.CA_TRUE_LEAF)
    assert checks.decodes_to_one_certificate(flagged.b64_der()).passed
