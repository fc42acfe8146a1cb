"""Signing, verifying, diagnosing and forging with the Margo profile (DIGEST section 2).

Every check here is shown to fail: each forge fault must be caught by its own finding code, each policy
knob flips a verdict, and the verifier must stay calm on any input.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import http_sf
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from margo_conformance.evidence import CapturedRequest
from margo_conformance.httpsig import (
    EMPTY_BODY_DIGEST,
    EXTRA_ALGORITHMS,
    MARGO_ALGORITHMS,
    MARGO_POLICY,
    RFC9421_POLICY,
    Component,
    Fault,
    HttpSigAuth,
    Verification,
    build_signature_base,
    content_digest,
    default_algorithm,
    diagnose,
    keyid_for,
    sign_request,
    verify_captured,
    verify_request,
)
from margo_conformance.httpsig.algorithms import sign_bytes
from margo_conformance.pki import IssuedCert, KeyType, TestCA, cached_key

NOW = 1_767_225_600
URL = "https://wfm.example.com/api/v1/clients/6f1c2a0e-3b7d-4d5e-9a61-0c2f6d9b4e11/capabilities/line3-ipc-07"
BODY = b'{"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest"}'

KEY_TYPE_FOR = {
    "ecdsa-p256-sha256": KeyType.P256,
    "ecdsa-p384-sha384": KeyType.P384,
    "rsa-v1_5-sha256": KeyType.RSA2048,
    "rsa-pss-sha256": KeyType.RSA2048,
    "rsa-pss-sha512": KeyType.RSA2048,
    "ed25519": KeyType.ED25519,
}


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def device_certs(ca: TestCA) -> dict[str, IssuedCert]:
    """One client certificate per algorithm; RSA keys come from the run-wide cache (generated once)."""
    return {alg: ca.issue_client_cert(f"device-{alg}", key=cached_key(kt, slot="httpsig"))
            for alg, kt in KEY_TYPE_FOR.items()}


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def verify(signed: Any, key: Any, **kwargs: Any) -> Verification:
    kwargs.setdefault("now", NOW + 5)
    return verify_request(signed.method, signed.url, signed.headers, signed.body, key, **kwargs)


def sign_raw(key: Any, inner: str, *, method: str = "PUT", url: str = URL, body: bytes = BODY,
             headers: dict[str, str] | None = None, label: str = "sig1", alg: str | None = None) -> dict[str, str]:
    """Sign an arbitrary Signature-Input member (for inputs sign_request deliberately cannot make)."""
    hdrs = {"Content-Digest": content_digest(body)} if body else {}
    hdrs.update(headers or {})
    members, _ = http_sf.parse(f"{label}={inner}".encode(), tltype="dictionary")[label]  # type: ignore[index]
    components = [Component(name, tuple(p.items())) for name, p in members]
    base = build_signature_base(method, url, hdrs, components, inner)
    signature = sign_bytes(alg or default_algorithm(key), key, base.encode())
    hdrs["Signature-Input"] = f"{label}={inner}"
    hdrs["Signature"] = f"{label}=:{base64.b64encode(signature).decode()}:"
    return hdrs


# --- the Margo profile on the wire -------------------------------------------------------------------


def test_signed_request_has_the_margo_shape(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("put", URL, BODY, p256, created=NOW)
    keyid = keyid_for(p256)
    assert signed.method == "PUT" and signed.body == BODY and signed.label == "sig1"
    assert signed.headers == {
        "Content-Digest": content_digest(BODY),
        "Signature-Input": f'sig1=("@method" "@target-uri" "content-digest");created={NOW};keyid="{keyid}"',
        "Signature": signed.headers["Signature"],
    }
    assert signed.signature_base == (
        f'"@method": PUT\n"@target-uri": {URL}\n"content-digest": {content_digest(BODY)}\n'
        f'"@signature-params": ("@method" "@target-uri" "content-digest");created={NOW};keyid="{keyid}"')
    raw = base64.b64decode(signed.headers["Signature"].removeprefix("sig1=:").removesuffix(":"))
    assert raw == signed.signature and len(raw) == 64  # r||s, not DER (RFC 9421 3.3.4)


def test_bodyless_request_neither_sends_nor_covers_a_digest(p256: ec.EllipticCurvePrivateKey) -> None:
    """Q-10 / DIG-05: GET without a body: no Content-Digest, components @method @target-uri only."""
    signed = sign_request("GET", URL, None, p256, created=NOW)
    assert "Content-Digest" not in signed.headers
    assert signed.covered_components == ['"@method"', '"@target-uri"']
    result = verify(signed, p256.public_key())
    assert result.valid and result.findings == []


def test_keyid_default_is_the_spki_sha256_and_can_be_chosen(device_certs: dict[str, IssuedCert]) -> None:
    cert = device_certs["ecdsa-p256-sha256"]
    assert keyid_for(cert.key) == keyid_for(cert.cert.public_key()) == keyid_for(cert.cert) == cert.spki_sha256_hex()
    assert sign_request("PUT", URL, BODY, cert.key, created=NOW).keyid == cert.spki_sha256_hex()
    chosen = sign_request("PUT", URL, BODY, cert.key, created=NOW, keyid="client-42")
    assert chosen.keyid == "client-42" and 'keyid="client-42"' in chosen.headers["Signature-Input"]


def test_alg_is_left_out_unless_asked(p256: ec.EllipticCurvePrivateKey) -> None:
    assert ";alg=" not in sign_request("PUT", URL, BODY, p256, created=NOW).headers["Signature-Input"]
    with_alg = sign_request("PUT", URL, BODY, p256, created=NOW, include_alg=True)
    assert with_alg.headers["Signature-Input"].endswith(';alg="ecdsa-p256-sha256"')
    assert verify(with_alg, p256.public_key()).findings == []


def test_created_comes_from_the_clock_argument(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, now=lambda: NOW + 0.9)
    assert signed.created == NOW and f"created={NOW};" in signed.headers["Signature-Input"]


def test_signing_is_a_pure_function_for_deterministic_algorithms(device_certs: dict[str, IssuedCert]) -> None:
    key = device_certs["ed25519"].key
    assert sign_request("PUT", URL, BODY, key, created=NOW) == sign_request("PUT", URL, BODY, key, created=NOW)


@pytest.mark.parametrize("bad", [{"label": "Sig1"}, {"label": "1sig"}, {"algorithm": "rsa-v1_5-sha256"},
                                 {"algorithm": "ecdsa-p384-sha384"}, {"algorithm": "nope"}, {"keyid": "caf\u00e9"}])
def test_inputs_that_cannot_make_a_request_raise_valueerror(p256: ec.EllipticCurvePrivateKey, bad: dict) -> None:
    with pytest.raises(ValueError):
        sign_request("PUT", URL, BODY, p256, created=NOW, **bad)


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", MARGO_ALGORITHMS + EXTRA_ALGORITHMS)
@pytest.mark.parametrize("include_alg", [False, True], ids=["no-alg", "alg"])
def test_round_trip_with_a_certificate_from_pki(
    device_certs: dict[str, IssuedCert], algorithm: str, include_alg: bool
) -> None:
    cert = device_certs[algorithm]
    signed = sign_request("PUT", URL, BODY, cert.key, algorithm=algorithm, created=NOW, include_alg=include_alg)
    result = verify(signed, cert.cert.public_key())
    assert result.valid and result.findings == []
    assert result.algorithm == algorithm  # RSA without alg: the verifier found which padding it was
    assert result.signature_base == signed.signature_base
    assert result.label == "sig1" and result.params["keyid"] == cert.spki_sha256_hex()
    assert result.covered_components == ['"@method"', '"@target-uri"', '"content-digest"']


def test_default_algorithm_per_key_type(device_certs: dict[str, IssuedCert]) -> None:
    assert {alg: default_algorithm(c.key) for alg, c in device_certs.items()} == {
        "ecdsa-p256-sha256": "ecdsa-p256-sha256", "ecdsa-p384-sha384": "ecdsa-p384-sha384",
        "rsa-v1_5-sha256": "rsa-v1_5-sha256", "rsa-pss-sha256": "rsa-v1_5-sha256",
        "rsa-pss-sha512": "rsa-v1_5-sha256", "ed25519": "ed25519"}


def test_rsa_pss_sha256_is_pss_sha256_mgf1_sha256_salt_32(device_certs: dict[str, IssuedCert]) -> None:
    """Q-05: check the bytes with cryptography directly, not through our own verifier."""
    key = device_certs["rsa-pss-sha256"].key
    signed = sign_request("PUT", URL, BODY, key, algorithm="rsa-pss-sha256", created=NOW)
    base = signed.signature_base.encode()  # type: ignore[union-attr]
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    key.public_key().verify(signed.signature, base, pss32, hashes.SHA256())  # type: ignore[union-attr,arg-type]
    with pytest.raises(Exception):
        key.public_key().verify(signed.signature, base,  # type: ignore[union-attr,arg-type]
                                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=64), hashes.SHA256())


def test_a_pss_signature_with_another_salt_length_is_named(device_certs: dict[str, IssuedCert]) -> None:
    key = device_certs["rsa-pss-sha256"].key
    signed = sign_request("PUT", URL, BODY, key, algorithm="rsa-pss-sha256", created=NOW)
    max_salt = key.sign(signed.signature_base.encode(), padding.PSS(  # type: ignore[union-attr]
        mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    signed.headers["Signature"] = f"sig1=:{base64.b64encode(max_salt).decode()}:"
    assert verify(signed, key.public_key()).codes == ["rsa-pss-salt-length"]


def test_alg_present_and_fitting_is_the_only_algorithm_tried(device_certs: dict[str, IssuedCert]) -> None:
    """A v1.5 signature that claims alg=rsa-pss-sha256 must fail: alg is used, not guessed around."""
    key = device_certs["rsa-v1_5-sha256"].key
    inner = f'("@method" "@target-uri" "content-digest");created={NOW};keyid="k";alg="rsa-pss-sha256"'
    headers = sign_raw(key, inner, alg="rsa-v1_5-sha256")
    result = verify_request("PUT", URL, headers, BODY, key.public_key(), now=NOW)
    assert result.codes == ["signature-invalid"] and "rsa-pss-sha256" in result.findings[0].detail


def test_the_signed_base_equals_the_rebuilt_base_for_every_fault_that_signs(p256: ec.EllipticCurvePrivateKey) -> None:
    for fault in Fault:
        if fault in (Fault.UNSIGNED, Fault.SIGNATURE_WITHOUT_INPUT):  # nothing to rebuild from
            continue
        signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=fault)
        rebuilt = verify(signed, p256.public_key()).signature_base
        if fault is Fault.TAMPERED_TARGET_URI:  # signed for another URL: the bases differ in that line only
            assert rebuilt.replace(URL, URL + "-other") == signed.signature_base
            continue
        assert rebuilt == signed.signature_base, fault


# --- the forge: one fault, one finding code ------------------------------------------------------------

FAULT_CODES: dict[Fault, list[str]] = {
    Fault.UNSIGNED: ["missing-signature", "missing-signature-input"],
    Fault.TAMPERED_BODY: ["digest-mismatch"],
    Fault.DIGEST_MISSING: ["digest-missing", "missing-component:content-digest"],
    Fault.DIGEST_WRONG: ["digest-mismatch"],
    Fault.DIGEST_MALFORMED: ["digest-malformed"],
    Fault.DIGEST_OVER_BASE64: ["digest-over-base64"],
    Fault.COMPONENT_MISSING: ["missing-component:@target-uri"],
    Fault.UPPERCASE_COMPONENT: ["component-not-lowercase"],
    Fault.ECDSA_DER: ["ecdsa-der-encoding"],
    Fault.CREATED_STALE: ["created-too-old"],
    Fault.CREATED_FUTURE: ["created-in-future"],
    Fault.WRONG_KEY: ["signature-invalid"],
    Fault.ALG_MISMATCH: ["alg-key-mismatch"],
    Fault.SIGNATURE_WITHOUT_INPUT: ["missing-signature-input"],
    Fault.INPUT_WITHOUT_SIGNATURE: ["missing-signature"],
    Fault.TAMPERED_TARGET_URI: ["signature-invalid"],
}


def test_every_fault_has_an_expected_code() -> None:
    assert set(FAULT_CODES) == set(Fault)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_fault_is_caught_by_its_own_code(p256: ec.EllipticCurvePrivateKey, fault: Fault) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=fault)
    result = diagnose(signed.method, signed.url, signed.headers, signed.body, p256.public_key(), now=NOW + 5)
    assert not result.valid
    assert sorted(result.codes) == sorted(FAULT_CODES[fault])
    assert signed.fault is fault


@pytest.mark.parametrize("algorithm", ["ecdsa-p384-sha384", "rsa-pss-sha256", "ed25519"])
@pytest.mark.parametrize("fault", [f for f in Fault if f is not Fault.ECDSA_DER], ids=lambda f: f.value)
def test_faults_are_caught_with_other_key_types(
    device_certs: dict[str, IssuedCert], algorithm: str, fault: Fault
) -> None:
    cert = device_certs[algorithm]
    other = cached_key(KEY_TYPE_FOR[algorithm], slot="httpsig-other")
    signed = sign_request("PUT", URL, BODY, cert.key, algorithm=algorithm, created=NOW, fault=fault,
                          fault_key=other)
    result = verify(signed, cert.cert.public_key())
    assert sorted(result.codes) == sorted(FAULT_CODES[fault])


def test_the_correct_request_has_no_error_findings(p256: ec.EllipticCurvePrivateKey) -> None:
    result = verify(sign_request("PUT", URL, BODY, p256, created=NOW), p256.public_key())
    assert result.valid and result.errors == [] and result.codes == []


def test_tampered_body_is_sent_but_the_original_was_signed(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.TAMPERED_BODY)
    assert signed.body != BODY and len(signed.body) == len(BODY)
    assert signed.headers["Content-Digest"] == content_digest(BODY)


def test_digest_wrong_is_signed_over_the_wrong_value(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.DIGEST_WRONG)
    assert signed.headers["Content-Digest"] != content_digest(BODY)
    assert f'"content-digest": {signed.headers["Content-Digest"]}' in signed.signature_base  # type: ignore[operator]


def test_digest_over_base64_is_sha256_of_the_base64_text(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.DIGEST_OVER_BASE64)
    assert signed.headers["Content-Digest"] == content_digest(base64.b64encode(BODY))


def test_component_missing_can_name_the_component(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.COMPONENT_MISSING,
                          fault_arg="content-digest")
    assert verify(signed, p256.public_key()).codes == ["missing-component:content-digest"]
    with pytest.raises(ValueError):
        sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.COMPONENT_MISSING, fault_arg="date")


def test_uppercase_component_is_in_the_list_and_the_base(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.UPPERCASE_COMPONENT)
    assert '"Content-Digest");' in signed.headers["Signature-Input"]
    assert f'\n"Content-Digest": {content_digest(BODY)}\n' in signed.signature_base  # type: ignore[operator]
    # Q-04 lenient: the literal name verifies, and the case is a warning, not an error.
    lenient = verify(signed, p256.public_key(), policy=dataclasses.replace(MARGO_POLICY, lowercase_components_only=False))
    assert lenient.valid and [(f.code, f.severity) for f in lenient.findings] == [("component-not-lowercase", "warning")]


def test_uppercase_component_without_a_body_is_the_method(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("GET", URL, b"", p256, created=NOW, fault=Fault.UPPERCASE_COMPONENT)
    assert signed.covered_components == ['"@Method"', '"@target-uri"']
    assert verify(signed, p256.public_key()).codes == ["component-not-lowercase"]


def test_ecdsa_der_is_der_and_lenient_policy_accepts_it(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.ECDSA_DER)
    assert signed.signature is not None and signed.signature[0] == 0x30 and len(signed.signature) != 64
    lenient = verify(signed, p256.public_key(), policy=dataclasses.replace(MARGO_POLICY, accept_der_ecdsa=True))
    assert lenient.valid and [(f.code, f.severity) for f in lenient.findings] == [("ecdsa-der-encoding", "warning")]


def test_ecdsa_der_needs_an_ec_key(device_certs: dict[str, IssuedCert]) -> None:
    with pytest.raises(ValueError, match="EC keys only"):
        sign_request("PUT", URL, BODY, device_certs["ed25519"].key, created=NOW, fault=Fault.ECDSA_DER)


@pytest.mark.parametrize("fault", [Fault.TAMPERED_BODY, Fault.DIGEST_MISSING, Fault.DIGEST_WRONG,
                                   Fault.DIGEST_MALFORMED, Fault.DIGEST_OVER_BASE64], ids=lambda f: f.value)
def test_body_faults_need_a_body(p256: ec.EllipticCurvePrivateKey, fault: Fault) -> None:
    with pytest.raises(ValueError, match="non-empty body"):
        sign_request("GET", URL, b"", p256, created=NOW, fault=fault)


def test_created_faults_move_created_by_600_s(p256: ec.EllipticCurvePrivateKey) -> None:
    assert sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.CREATED_STALE).created == NOW - 600
    assert sign_request("PUT", URL, BODY, p256, now=lambda: NOW, fault="created-future").created == NOW + 600


def test_wrong_key_keeps_the_real_keyid(p256: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.WRONG_KEY, fault_key=other)
    assert signed.keyid == keyid_for(p256)
    assert verify(signed, other.public_key()).codes == []  # it really is the other key's signature
    fresh = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.WRONG_KEY)
    assert verify(fresh, p256.public_key()).codes == ["signature-invalid"]


def test_alg_mismatch_names_an_algorithm_of_another_family(device_certs: dict[str, IssuedCert]) -> None:
    ec_signed = sign_request("PUT", URL, BODY, device_certs["ecdsa-p256-sha256"].key, created=NOW,
                             fault=Fault.ALG_MISMATCH)
    rsa_signed = sign_request("PUT", URL, BODY, device_certs["rsa-v1_5-sha256"].key, created=NOW,
                              fault=Fault.ALG_MISMATCH)
    assert ec_signed.headers["Signature-Input"].endswith(';alg="rsa-v1_5-sha256"')
    assert rsa_signed.headers["Signature-Input"].endswith(';alg="ecdsa-p256-sha256"')


# --- the verifier's other findings ---------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "codes"), [(-300, []), (-301, ["created-too-old"]), (60, []),
                                               (61, ["created-in-future"])])
def test_created_window_boundaries(p256: ec.EllipticCurvePrivateKey, offset: int, codes: list[str]) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW + offset)
    assert verify(signed, p256.public_key(), now=NOW).codes == codes


def test_window_is_configurable_and_rfc_policy_has_none(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW - 1000)
    assert verify(signed, p256.public_key(), now=NOW).codes == ["created-too-old"]
    assert verify(signed, p256.public_key(), now=NOW, policy=dataclasses.replace(MARGO_POLICY, window_s=2000)).valid
    assert verify(signed, p256.public_key(), now=NOW, policy=RFC9421_POLICY).codes == []


@pytest.mark.parametrize(("inner", "codes"), [
    ('("@method" "@target-uri" "content-digest");created=NOW', ["missing-keyid"]),
    ('("@method" "@target-uri" "content-digest");keyid="k"', ["missing-created"]),
    ('("@method" "@target-uri" "content-digest");created="NOW";keyid="k"', ["created-not-integer"]),
    ('("@method" "@target-uri" "content-digest");created=NOW;keyid="k";expires=NOW', ["expired"]),
    ('("@method" "@target-uri" "content-digest");created=NOW;keyid="k";alg="hs2019"', ["alg-unsupported"]),
    ('("@method" "content-digest");created=NOW;keyid="k"', ["missing-component:@target-uri"]),
    ('("@target-uri" "content-digest");created=NOW;keyid="k"', ["missing-component:@method"]),
    ('("@method" "@target-uri");created=NOW;keyid="k"', ["missing-component:content-digest"]),
    ('("@method" "@target-uri" "content-digest" "x-trace");created=NOW;keyid="k"', []),
    ('("@method" "@target-uri" "content-digest" "@authority" "@path" "@query");created=NOW;keyid="k"', []),
    ('("@target-uri" "@method" "content-digest");created=NOW;keyid="k";nonce="n1"', []),
    ('("@method" "@target-uri" "content-digest";key="sha-256");created=NOW;keyid="k"', []),
    ('("@method" "@target-uri" "content-digest";sf);created=NOW;keyid="k"', []),
    ('("@method" "@target-uri" "x-trace";bs "content-digest");created=NOW;keyid="k"', []),
])
def test_parameter_and_component_findings(p256: ec.EllipticCurvePrivateKey, inner: str, codes: list[str]) -> None:
    inner = inner.replace("NOW", str(NOW))
    url = URL + "?a=1&b=%20"
    headers = sign_raw(p256, inner, url=url, headers={"X-Trace": "abc"})
    result = verify_request("PUT", url, headers, BODY, p256.public_key(), now=NOW + 5)
    assert result.codes == codes


def test_missing_keyid_is_a_warning_unless_required(p256: ec.EllipticCurvePrivateKey) -> None:
    headers = sign_raw(p256, f'("@method" "@target-uri" "content-digest");created={NOW}')
    lax = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW)
    strict = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW,
                            policy=dataclasses.replace(MARGO_POLICY, require_keyid=True))
    assert lax.valid and lax.findings[0].severity == "warning"
    assert not strict.valid and strict.codes == ["missing-keyid"]


def test_a_covered_header_that_is_absent_is_unresolvable(p256: ec.EllipticCurvePrivateKey) -> None:
    headers = sign_raw(p256, f'("@method" "@target-uri" "content-digest" "x-trace");created={NOW};keyid="k"',
                       headers={"X-Trace": "1"})
    del headers["X-Trace"]
    result = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW)
    assert result.codes == ["component-unresolvable:x-trace"] and result.signature_base is None


def test_a_signature_over_another_url_or_method_is_invalid(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW)
    assert verify_request("PUT", URL + "x", signed.headers, BODY, p256.public_key(), now=NOW).codes == [
        "signature-invalid"]
    assert verify_request("POST", URL, signed.headers, BODY, p256.public_key(), now=NOW).codes == [
        "signature-invalid"]


def test_multiple_signatures_warn_and_the_label_selects(p256: ec.EllipticCurvePrivateKey) -> None:
    first = sign_request("PUT", URL, BODY, p256, created=NOW, label="proxy")
    second = sign_request("PUT", URL, BODY, p256, created=NOW, label="sig1", fault=Fault.CREATED_STALE)
    headers = [("Content-Digest", first.headers["Content-Digest"]),
               ("Signature-Input", first.headers["Signature-Input"]),
               ("Signature-Input", second.headers["Signature-Input"]),  # two field lines: combined per RFC 9110
               ("Signature", f'{first.headers["Signature"]}, {second.headers["Signature"]}')]
    default = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW)
    assert default.valid and default.label == "proxy" and default.codes == ["multiple-signatures"]
    chosen = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW, label="sig1")
    assert chosen.label == "sig1" and chosen.codes == ["created-too-old"]
    absent = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW, label="nope")
    assert absent.codes == ["signature-label-mismatch"]


def test_labels_that_differ_between_the_two_fields(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW)
    signed.headers["Signature"] = signed.headers["Signature"].replace("sig1=", "sig2=", 1)
    assert verify(signed, p256.public_key()).codes == ["signature-label-mismatch"]


@pytest.mark.parametrize(("header", "value", "code"), [
    ("Signature-Input", 'sig1=("@method"', "malformed-signature-input"),
    ("Signature-Input", "sig1=:AAAA:", "malformed-signature-input"),
    ("Signature-Input", 'sig1=(@method);created=1', "malformed-signature-input"),
    ("Signature-Input", "sig1=(1 2);created=1", "malformed-signature-input"),
    ("Signature-Input", "", "malformed-signature-input"),
    ("Signature-Input", "sig1=(), sig1=()", "malformed-signature-input"),
    ("Signature-Input", 'sig1=("@method" "@target-uri" "content-digest" "@method");created=1;keyid="k"',
     "component-unresolvable:@method"),
    ("Signature", "sig1=abc", "malformed-signature"),
    ("Signature", "sig1=:not base64!:", "malformed-signature"),
    ("Signature", "sig1=::", "malformed-signature"),
    ("Signature", "sig1=:AAAA:", "signature-invalid"),
])
def test_broken_signature_fields(p256: ec.EllipticCurvePrivateKey, header: str, value: str, code: str) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW)
    signed.headers[header] = value
    assert code in verify(signed, p256.public_key()).codes


@pytest.mark.parametrize(("digest", "codes"), [
    (None, ["digest-missing"]),
    ("sha-256=:AAAA:", ["digest-malformed"]),
    ("sha-256=abc", ["digest-malformed"]),
    ("sha-512=:" + base64.b64encode(__import__("hashlib").sha512(BODY).digest()).decode() + ":",
     ["digest-algorithm-unsupported"]),
    (content_digest(BODY) + ", sha-512=:" + base64.b64encode(__import__("hashlib").sha512(BODY).digest()).decode()
     + ":", []),
    (content_digest(BODY) + ", sha-512=:" + base64.b64encode(bytes(64)).decode() + ":", ["digest-mismatch"]),
    (content_digest(BODY) + ", md5=:AAAA:", []),
])
def test_digest_findings_of_an_unsigned_digest(p256: ec.EllipticCurvePrivateKey, digest: str | None,
                                               codes: list[str]) -> None:
    """The digest is judged even when the signature does not cover it (DIG-03 recomputes from the body)."""
    headers = sign_raw(p256, f'("@method" "@target-uri");created={NOW};keyid="k"')
    headers.pop("Content-Digest")
    if digest is not None:
        headers["Content-Digest"] = digest
    result = verify_request("PUT", URL, headers, BODY, p256.public_key(), now=NOW, policy=dataclasses.replace(
        MARGO_POLICY, require_digest_component_with_body=False))
    assert result.codes == codes


def test_a_digest_on_an_empty_body_must_be_the_empty_digest(p256: ec.EllipticCurvePrivateKey) -> None:
    """DIG-05: a body-less request may carry Content-Digest; then it must be the digest of nothing."""
    good = sign_raw(p256, f'("@method" "@target-uri" "content-digest");created={NOW};keyid="k"', method="GET",
                    body=b"", headers={"Content-Digest": EMPTY_BODY_DIGEST})
    assert verify_request("GET", URL, good, b"", p256.public_key(), now=NOW).codes == []
    bad = sign_raw(p256, f'("@method" "@target-uri" "content-digest");created={NOW};keyid="k"', method="GET",
                   body=b"", headers={"Content-Digest": content_digest(b"x")})
    assert verify_request("GET", URL, bad, b"", p256.public_key(), now=NOW).codes == ["digest-mismatch"]


def test_unsupported_keys_are_named() -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    headers = {"Signature-Input": f'sig1=("@method" "@target-uri");created={NOW};keyid="k"',
               "Signature": "sig1=:AAAA:"}
    assert verify_request("GET", URL, headers, b"", key.public_key(), now=NOW).codes == ["key-unsupported"]
    with pytest.raises(Exception):
        sign_request("GET", URL, b"", key, created=NOW)


def test_a_private_key_given_to_the_verifier_still_verifies(p256: ec.EllipticCurvePrivateKey) -> None:
    assert verify(sign_request("PUT", URL, BODY, p256, created=NOW), p256).valid


def test_inputs_the_wfm_holds(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW)
    captured = CapturedRequest("PUT", URL, list(signed.headers.items()), BODY)
    assert verify_captured(captured, p256.public_key(), now=NOW).valid
    assert verify_request("PUT", URL, httpx.Headers(signed.headers), BODY, p256.public_key(), now=NOW).valid


def test_verification_to_dict_is_json(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, fault=Fault.CREATED_STALE)
    data = json.loads(json.dumps(verify(signed, p256.public_key()).to_dict()))
    assert data["valid"] is False and data["findings"][0]["code"] == "created-too-old"
    assert data["signature_base"] == signed.signature_base and data["params"]["created"] == NOW - 600


# --- robustness: never raise ---------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=200)
_sf_ish = st.text(alphabet='sig1=("@method" @target-uri content-digest);created=1keyid:AZaz09+/=,\t\\', max_size=120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sig_input=st.one_of(st.none(), _text, _sf_ish), sig=st.one_of(st.none(), _text, _sf_ish),
       digest=st.one_of(st.none(), _text, _sf_ish), body=st.binary(max_size=300),
       method=st.sampled_from(["GET", "PUT", "post", "", "P\u00fcT"]),
       url=st.one_of(st.just(URL), _text))
def test_verify_never_raises(p256: ec.EllipticCurvePrivateKey, sig_input: str | None, sig: str | None,
                             digest: str | None, body: bytes, method: str, url: str) -> None:
    headers = [(k, v) for k, v in (("Signature-Input", sig_input), ("Signature", sig), ("Content-Digest", digest))
               if v is not None]
    result = verify_request(method, url, headers, body, p256.public_key(), now=NOW)
    assert isinstance(result, Verification) and isinstance(result.valid, bool)
    assert "verifier-error" not in result.codes, result.findings  # handled, not caught by the safety net
    assert result.valid is not any(f.severity == "error" for f in result.findings)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verify_never_raises_on_mutated_valid_requests(p256: ec.EllipticCurvePrivateKey, data: st.DataObject) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW, include_alg=True)
    name = data.draw(st.sampled_from(sorted(signed.headers)))
    value = signed.headers[name]
    pos = data.draw(st.integers(0, len(value)))
    insert = data.draw(st.text(max_size=3))
    cut = data.draw(st.integers(0, 3))
    signed.headers[name] = value[:pos] + insert + value[pos + cut:]
    result = verify(signed, p256.public_key())
    assert "verifier-error" not in result.codes, result.findings
    assert result.valid is not any(f.severity == "error" for f in result.findings)


def test_huge_values_do_not_hurt(p256: ec.EllipticCurvePrivateKey) -> None:
    signed = sign_request("PUT", URL, BODY, p256, created=NOW)
    signed.headers["Signature-Input"] = 'sig1=("' + "a" * 1_000_000 + '");created=1'
    signed.headers["Content-Digest"] = "sha-256=:" + "A" * 1_000_000 + ":"
    result = verify(signed, p256.public_key())
    assert not result.valid and "verifier-error" not in result.codes


# --- HttpSigAuth -------------------------------------------------------------------------------------


def _wfm(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200)
    return httpx.MockTransport(handler)


def _verify_arrived(request: httpx.Request, key: Any) -> Verification:
    return verify_request(request.method, str(request.url), request.headers.multi_items(), request.content, key,
                          now=NOW)


def test_httpsigauth_request_arrives_verifiable(p256: ec.EllipticCurvePrivateKey) -> None:
    seen: list[httpx.Request] = []
    auth = HttpSigAuth(p256, now=lambda: NOW)
    base_url = "https://wfm.example.com:8443/v1alpha2/margo"  # a prefix before /api/v1
    with httpx.Client(auth=auth, transport=_wfm(seen), base_url=base_url) as client:
        client.put("/api/v1/clients/c.9~f-_X/capabilities/d1", json={"a": 1}, params={"q": "x y"})
        client.get("/api/v1/clients/c.9~f-_X/deployments")
    assert [r.method for r in seen] == ["PUT", "GET"]
    for request, signed in zip(seen, auth.history, strict=True):
        result = _verify_arrived(request, p256.public_key())
        assert result.valid and result.findings == []
        assert result.signature_base == signed.signature_base
        assert signed.url == str(request.url)
    assert auth.history[0].url == f"{base_url}/api/v1/clients/c.9~f-_X/capabilities/d1?q=x+y"
    assert "content-digest" not in seen[1].headers


def test_httpsigauth_with_a_fault_sends_the_defect(p256: ec.EllipticCurvePrivateKey) -> None:
    seen: list[httpx.Request] = []
    auth = HttpSigAuth(p256, now=lambda: NOW, fault=Fault.TAMPERED_BODY)
    with httpx.Client(auth=auth, transport=_wfm(seen)) as client:
        client.put(URL, content=BODY)
    assert seen[0].content != BODY and seen[0].headers["content-length"] == str(len(BODY))
    assert _verify_arrived(seen[0], p256.public_key()).codes == ["digest-mismatch"]
    assert auth.history[0].fault is Fault.TAMPERED_BODY


def test_httpsigauth_replaces_stale_signature_headers(p256: ec.EllipticCurvePrivateKey) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(auth=HttpSigAuth(p256, now=lambda: NOW, include_alg=True), transport=_wfm(seen)) as client:
        client.put(URL, content=BODY, headers={"Signature": "old=:AAAA:", "content-digest": "sha-256=:AAAA:"})
    assert seen[0].headers.get_list("signature") == [seen[0].headers["signature"]]
    assert _verify_arrived(seen[0], p256.public_key()).valid
