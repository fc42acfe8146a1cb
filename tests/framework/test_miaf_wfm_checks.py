"""Unit tests of the MIAF WFM checks (checks/miaf_wfm.py): each one passes on conformant evidence and fails on
the defect it targets, so no check is one that cannot fail."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from margo_conformance.checks import miaf_wfm as checks
from margo_conformance.evidence import CapturedRequest, CapturedResponse, Exchange, TlsRefusal
from margo_conformance.mtls.tls import HandshakeFacts
from margo_conformance.profiles import load_profile

PROFILE = load_profile("miaf-rc3")
BASE = "https://docs.margo.org/specification/problem-types#"


def answer(status: int | None, body: object = None, *, media: str = "application/problem+json",
           refusal: TlsRefusal | None = None, headers: list[tuple[str, str]] | None = None) -> Exchange:
    exchange = Exchange(request=CapturedRequest("PUT", "https://wfm/api/v1/capabilities/d1",
                                                target="/api/v1/capabilities/d1"))
    if refusal is not None:
        exchange.refusal = refusal
    elif status is not None:
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        exchange.response = CapturedResponse(status, [("content-type", media), *(headers or [])], raw)
    return exchange


def problem(name: str, status: int, **extra: object) -> dict[str, object]:
    return {"type": BASE + name, "title": name, "status": status, **extra}


ALERT = TlsRefusal(stage="first-read", alert="certificate_required", detail="TLSV13_ALERT_CERTIFICATE_REQUIRED")


def test_status_is_and_served_show_a_refusal_as_the_answer() -> None:
    assert checks.status_is(answer(201), 201).passed
    refused = checks.status_is(answer(None, refusal=ALERT), 201)
    assert not refused.passed and "certificate_required" in str(refused.observed)
    assert checks.served(answer(200)).passed
    assert not checks.served(answer(None, refusal=ALERT)).passed
    assert not checks.served(answer(403, problem("not-authorized", 403))).passed


@pytest.mark.parametrize(("exchange", "must", "layer_ok"), [
    (answer(None, refusal=ALERT), True, True),
    (answer(403, problem("not-authorized", 403)), True, True),
    (answer(401, {"title": "x"}), True, False),
    (answer(400, problem("invalid-request", 400)), True, False),
    (answer(201), False, False),
    (answer(404, problem("device-not-found", 404)), False, False),
    (answer(500, {"type": "about:blank", "title": "x", "status": 500}), False, False),
])
def test_refused_without_valid_svid_and_the_layer_q41(exchange: Exchange, must: bool, layer_ok: bool) -> None:
    assert checks.refused_without_valid_svid(exchange).passed is must
    layer = checks.refused_at_a_layer_the_contract_knows(exchange)
    assert layer.passed is layer_ok and layer.interpretations == ("Q-41",)


def test_not_served_fails_only_on_2xx() -> None:
    assert checks.not_served(answer(404, problem("device-not-found", 404))).passed
    assert checks.not_served(answer(None, refusal=ALERT)).passed
    assert not checks.not_served(answer(201)).passed


def test_denied_by_policy_and_as_not_authorized() -> None:
    ok = answer(403, problem("not-authorized", 403))
    assert checks.denied_by_policy(ok).passed and checks.denied_as_not_authorized(ok, PROFILE).passed
    tls = answer(None, refusal=TlsRefusal("handshake", "access_denied", "TLSV1_ALERT_ACCESS_DENIED"))
    assert checks.denied_by_policy(tls).passed
    preferred = checks.denied_as_not_authorized(tls, PROFILE)
    assert not preferred.passed and preferred.interpretations == ("Q-41",)
    assert not checks.denied_by_policy(answer(201)).passed
    assert not checks.denied_by_policy(answer(404, problem("device-not-found", 404))).passed
    slash = answer(403, {**problem("not-authorized", 403), "type": "https://docs.margo.org/specification/problem-types/not-authorized"})
    assert not checks.denied_as_not_authorized(slash, PROFILE).passed


def _failed(verdicts: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for v in verdicts:
        if not v.passed:
            for r in v.requirements:
                out.setdefault(r, []).append(v)
    return out


def test_problem_verdicts_pass_a_conformant_problem() -> None:
    verdicts = checks.problem_verdicts(answer(404, problem("device-not-found", 404, retryable=False,
                                                          backoffStrategy="none")), PROFILE, "device-not-found")
    assert verdicts and all(v.passed for v in verdicts), [v.message() for v in verdicts if not v.passed]
    assert checks.problem_verdicts(answer(201), PROFILE, None) == []


@pytest.mark.parametrize(("exchange", "expected_name", "failing", "interpretation"), [
    (answer(404, b"not found", media="text/plain"), "device-not-found", "MERR-01", None),
    (answer(404, problem("device-not-found", 404), media="application/json"), "device-not-found", "MERR-01", "Q-42"),
    (answer(404, {"type": BASE + "device-not-found", "status": 404}), "device-not-found", "MERR-02", "Q-42"),
    (answer(404, problem("device-not-found", 400)), "device-not-found", "MERR-03", None),
    (answer(404, problem("gateway-not-found", 404)), "device-not-found", "MERR-04", None),
    (answer(404, {**problem("device-not-found", 404), "type": "https://docs.margo.org/specification/problem-types/device-not-found"}),
     "device-not-found", "MERR-04", "Q-43"),
    (answer(404, problem("no-such-thing", 404)), None, "MERR-06", None),
    (answer(404, problem("device-not-found", 404, retryable=True)), "device-not-found", "MRTY-04", None),
    (answer(422, problem("semantic-error", 422, backoffStrategy="exponential")), "semantic-error", "MRTY-04", None),
    (answer(422, problem("semantic-error", 422, retryAfterSeconds=1.5)), "semantic-error", "MRTY-05", None),
    (answer(503, {"type": "about:blank", "title": "x", "status": 503}), None, "MRTY-02", None),
    (answer(400, problem("semantic-error", 400)), None, "MERR-04", None),
])
def test_problem_verdicts_fail_on_the_defect_they_target(exchange: Exchange, expected_name: str | None, failing: str,
                                                         interpretation: str | None) -> None:
    failed = _failed(checks.problem_verdicts(exchange, PROFILE, expected_name))
    assert failing in failed, failed
    if interpretation is not None:
        assert all(interpretation in v.interpretations for v in failed[failing])


def test_a_503_with_retry_after_and_the_transient_members_passes() -> None:
    ok = answer(503, {"type": "about:blank", "title": "Service Unavailable", "status": 503, "retryable": True,
                      "backoffStrategy": "exponential"}, headers=[("retry-after", "10")])
    assert all(v.passed for v in checks.problem_verdicts(ok, PROFILE, None))


def test_errors_listed_empty_body_and_root_member() -> None:
    assert checks.problem_errors_listed(answer(422, problem("semantic-error", 422, errors=[{"field": "a", "message": "b"}]))).passed
    assert not checks.problem_errors_listed(answer(422, problem("semantic-error", 422))).passed
    assert checks.empty_body(answer(204, b"", media="")).passed
    assert not checks.empty_body(answer(204, b"{}")).passed
    assert checks.unknown_root_member_refused(answer(422, problem("semantic-error", 422))).passed
    accepted = checks.unknown_root_member_refused(answer(201))
    assert not accepted.passed and accepted.advisory


def test_body_refused_and_its_code_q52() -> None:
    assert checks.body_refused(answer(400, problem("invalid-request", 400)), 400).passed
    assert not checks.body_refused(answer(201), 400).passed
    assert not checks.body_refused(answer(500, {}), 400).passed
    assert checks.body_refused_with(answer(422, {}), 422).passed
    other = checks.body_refused_with(answer(400, {}), 422)
    assert not other.passed and other.interpretations == ("Q-52",)


def test_tls_checks() -> None:
    assert checks.negotiated_tls13(HandshakeFacts(version="TLSv1.3")).passed
    assert not checks.negotiated_tls13(HandshakeFacts(version="TLSv1.2")).passed
    assert checks.handshake_refused(HandshakeFacts(refusal=TlsRefusal("handshake", "protocol_version", "x")), "w").passed
    assert not checks.handshake_refused(HandshakeFacts(version="TLSv1"), "w").passed
    assert not checks.handshake_refused(HandshakeFacts(silence="no answer"), "w").passed
    assert checks.rfc9325_cipher(HandshakeFacts(version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-GCM-SHA256")).passed
    weak = checks.rfc9325_cipher(HandshakeFacts(version="TLSv1.2", cipher="AES128-SHA"))
    assert not weak.passed and weak.interpretations == ("Q-59",)
    h11 = answer(200, b"", media="")
    assert checks.spoke_http11(h11).passed
    h11.response.http_version = "HTTP/2"  # type: ignore[union-attr]
    assert not checks.spoke_http11(h11).passed


# --- the WFM's own SVID ---------------------------------------------------------------------------------------

NOW = datetime.datetime.now(datetime.timezone.utc)


def _cert(name: str, issuer=None, *, ca: bool = False, uris: tuple[str, ...] = (), kcs: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer[0].subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(hours=1)).not_valid_after(NOW + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca or kcs,
                                            crl_sign=ca, encipher_only=False, decipher_only=False), critical=True))
    if uris:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]),
                                        critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _der(*certs) -> list[bytes]:
    return [c[0].public_bytes(serialization.Encoding.DER) for c in certs]


@pytest.fixture(scope="module")
def domain():
    root = _cert("R1", ca=True)
    inter = _cert("I1", root, ca=True)
    return root, inter, root[0].public_bytes(serialization.Encoding.PEM)


def _wfm_failures(chain: list[bytes], bundle: bytes) -> set[str]:
    verdicts = checks.wfm_svid_verdicts(chain, bundle, trust_domain="harness.test", wfm_id="wfm-h1")
    return {r for v in verdicts if not v.passed for r in v.requirements}


def test_wfm_svid_verdicts(domain) -> None:
    pytest.importorskip("margo_conformance.pki.spiffe")  # the SPIFFE helpers come with branch miaf-pki
    root, inter, bundle = domain
    good = _cert("wfm", inter, uris=("spiffe://harness.test/margo/wfm/wfm-h1",))
    assert _wfm_failures(_der(good, inter), bundle) == set()
    assert "SVID-08" in _wfm_failures(_der(good), bundle)  # leaf only: I1 is no anchor
    other = _cert("wfm", inter, uris=("spiffe://harness.test/margo/wfm/other",))
    assert {"MTLS-11", "MID-03"} <= _wfm_failures(_der(other, inter), bundle)
    two = _cert("wfm", inter, uris=("spiffe://harness.test/margo/wfm/wfm-h1", "spiffe://harness.test/x"))
    assert "SVID-02" in _wfm_failures(_der(two, inter), bundle)
    ca_leaf = _cert("wfm", inter, ca=True, uris=("spiffe://harness.test/margo/wfm/wfm-h1",))
    assert {"SVID-04", "SVID-05"} <= _wfm_failures(_der(ca_leaf, inter), bundle)
    foreign_root = _cert("R9", ca=True)
    assert "SVID-08" in _wfm_failures(_der(good, inter), foreign_root[0].public_bytes(serialization.Encoding.PEM))
    assert "MTLS-11" in _wfm_failures([], bundle)
    tilde = _cert("wfm", inter, uris=("spiffe://harness.test/margo/wfm/wfm~h1",))
    assert "MID-06" in _wfm_failures(_der(tilde, inter), bundle)


def test_about_blank_where_no_margo_type_applies_and_device_id_refused() -> None:
    blank = answer(405, {"type": "about:blank", "title": "Method Not Allowed", "status": 405})
    assert checks.about_blank_where_no_margo_type_applies(blank, PROFILE).passed
    vendor = answer(405, {"type": "https://acme.example/problems/method", "title": "x", "status": 405})
    assert checks.about_blank_where_no_margo_type_applies(vendor, PROFILE).passed
    claimed = answer(404, problem("device-not-found", 404))
    assert not checks.about_blank_where_no_margo_type_applies(claimed, PROFILE).passed
    assert checks.device_id_refused(answer(400, problem("invalid-request", 400))).passed
    assert checks.device_id_refused(answer(404, {"type": "about:blank", "title": "x", "status": 404})).passed
    assert not checks.device_id_refused(answer(201)).passed


def test_unknown_deployment_type_answer_q50() -> None:
    assert checks.unknown_deployment_type_answer(answer(201)).passed
    assert checks.unknown_deployment_type_answer(answer(422, problem("semantic-error", 422))).passed
    deviation = checks.unknown_deployment_type_answer(answer(400, problem("invalid-request", 400)))
    assert not deviation.passed and deviation.interpretations == ("Q-50",)
    crash = checks.unknown_deployment_type_answer(answer(500, {"type": "about:blank", "title": "x", "status": 500}))
    assert not crash.passed and crash.interpretations == ()


def test_rsa_signatures_alike_and_port_443() -> None:
    refused = answer(None, refusal=TlsRefusal("first-read", "bad_certificate", "x"))
    assert checks.rsa_signatures_alike(answer(201), answer(201)).passed
    assert checks.rsa_signatures_alike(refused, refused).passed
    assert not checks.rsa_signatures_alike(answer(201), refused).passed
    assert checks.uses_port_443("https://wfm.example").passed
    other = checks.uses_port_443("https://wfm.example:8443")
    assert not other.passed and other.advisory


def test_no_intermediate_fetched_fails_on_any_fetch_of_the_aia_url() -> None:
    url = "http://127.0.0.1:9/margo-harness/i1.der"
    assert checks.no_intermediate_fetched([], url).passed
    failed = checks.no_intermediate_fetched(["GET /margo-harness/i1.der"], url)
    assert not failed.passed and failed.requirements == ("SVID-09",) and failed.observed == ["GET /margo-harness/i1.der"]
