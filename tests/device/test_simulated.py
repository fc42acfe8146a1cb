"""The simulated device (role wfm): correct requests verify, and each fault reaches the WFM as exactly that fault.

Every assertion is about what the reference WFM received (its observation log and diagnosis).
"""

from __future__ import annotations

import json

import pytest

from margo_conformance.device import BodyForm, SimulatedDevice, WfmNotTrusted
from margo_conformance.device.trust import client_context
from margo_conformance.errors import HarnessError
from margo_conformance.httpsig import Fault, diagnose, keyid_for
from margo_conformance.payloads import load_samples
from margo_conformance.pki import (SERVER_ONLY_DEFECTS, CertDefect, CertEncoding, KeyType, encode_certificate,
                                   lint_code_for, non_certificates)

from .conftest import settled


def _observe(wfm, sim: SimulatedDevice, action):
    """Run one device action; return (the device's Exchange, the WFM's observation of it)."""
    mark = wfm.observations.mark()
    exchange = action()
    (observed,) = [o for o in settled(wfm, mark, 1) if o.kind == "http"]
    return exchange, observed


def _codes(o, key) -> set[str]:
    """The WFM's strict diagnosis; where it refused before verifying, the same diagnosis of the bytes it got."""
    v = o.verification if o.verification is not None else diagnose(
        o.request.method, o.request.url, o.request.headers, o.request.body, key.public_key())
    return {f.code for f in v.findings if f.severity == "error"}


@pytest.fixture
def onboarded(wfm, sim) -> SimulatedDevice:
    assert sim.onboard().response.status == 201
    settled(wfm, 0, 1)
    return sim


def test_correct_requests_verify_and_carry_their_evidence(wfm, sim) -> None:
    exchange, observed = _observe(wfm, sim, sim.onboard)
    assert observed.status == 201 and observed.verification.valid
    assert sim.client_id == json.loads(observed.response.body)["clientId"]
    assert exchange.request.body == observed.request.body
    assert exchange.signature_base_sent == observed.verification.signature_base
    assert exchange.tls.version == "TLSv1.3" and exchange.tls.alpn == "http/1.1" and exchange.tls.peer_chain
    exchange, observed = _observe(wfm, sim, sim.put_capabilities)
    assert observed.status == 201 and observed.verification.valid and observed.client_id == sim.client_id
    assert json.loads(observed.request.body)["properties"]["id"] == observed.device_id == sim.device_id
    exchange, observed = _observe(wfm, sim, sim.delete_capabilities)
    assert observed.status == 204 and observed.request.header("content-digest") is None
    assert observed.verification.covered_components == ['"@method"', '"@target-uri"']


def test_root_ca_download_is_unsigned_and_decodes(wfm, sim) -> None:
    exchange, observed = _observe(wfm, sim, sim.get_root_ca)
    assert observed.status == 200 and not observed.signed
    assert sim.root_ca_of(exchange) == wfm.identity.root


FAULT_CODES = {
    Fault.UNSIGNED: {"missing-signature", "missing-signature-input"},
    Fault.TAMPERED_BODY: {"digest-mismatch"},
    Fault.DIGEST_MISSING: {"digest-missing", "missing-component:content-digest"},
    Fault.DIGEST_WRONG: {"digest-mismatch"},
    Fault.DIGEST_MALFORMED: {"digest-malformed"},
    Fault.DIGEST_OVER_BASE64: {"digest-over-base64"},
    Fault.COMPONENT_MISSING: {"missing-component:@target-uri"},
    Fault.UPPERCASE_COMPONENT: {"component-not-lowercase"},
    Fault.ECDSA_DER: {"ecdsa-der-encoding"},
    Fault.CREATED_STALE: {"created-too-old"},
    Fault.CREATED_FUTURE: {"created-in-future"},
    Fault.WRONG_KEY: {"signature-invalid"},
    Fault.ALG_MISMATCH: {"alg-key-mismatch"},
    Fault.SIGNATURE_WITHOUT_INPUT: {"missing-signature-input"},
    Fault.INPUT_WITHOUT_SIGNATURE: {"missing-signature"},
    Fault.TAMPERED_TARGET_URI: {"signature-invalid"},
}


def test_every_core_fault_is_covered() -> None:
    assert set(FAULT_CODES) == set(Fault)


@pytest.mark.parametrize("fault", list(Fault), ids=lambda f: f.value)
def test_each_forge_fault_reaches_the_wfm_as_that_fault(wfm, onboarded, fault: Fault) -> None:
    sim = onboarded
    exchange, observed = _observe(wfm, sim, lambda: sim.put_capabilities(fault=fault))
    found = _codes(observed, sim.identity.key)
    assert FAULT_CODES[fault] <= found, found
    # exactly that fault: nothing else wrong (digest-over-base64 also fails the digest comparison)
    assert found - FAULT_CODES[fault] <= ({"digest-mismatch"} if fault is Fault.DIGEST_OVER_BASE64 else set())
    assert observed.status in (400, 401) or fault is Fault.UPPERCASE_COMPONENT
    assert f"fault={fault.value}" in exchange.note
    assert (exchange.signature_base_sent is None) == (fault is Fault.UNSIGNED)


def test_a_fault_on_the_onboarding_request(wfm, sim) -> None:
    _, observed = _observe(wfm, sim, lambda: sim.onboard(fault=Fault.WRONG_KEY))
    assert observed.status == 401 and sim.client_id is None
    assert _codes(observed, sim.identity.key) == {"signature-invalid"}


def test_unknown_client_id(wfm, onboarded) -> None:
    unknown = onboarded.unknown_client_id()
    _, observed = _observe(wfm, onboarded, lambda: onboarded.put_capabilities(client_id=unknown))
    assert observed.client_id == unknown and observed.status == 404
    assert observed.request.target.startswith(f"/api/v1/clients/{unknown}/")


def test_another_clients_key_on_this_clients_url(wfm, onboarded) -> None:
    other = SimulatedDevice(wfm.base_url, client_context(wfm.identity.root), device_id="sim-device-2")
    try:
        assert other.onboard().response.status == 201
        _, observed = _observe(wfm, onboarded, lambda: onboarded.put_capabilities(key=other.identity.key))
    finally:
        other.close()
    assert observed.client_id == onboarded.client_id and observed.status == 401
    assert observed.verification.params["keyid"] == keyid_for(other.identity.key)
    assert "signature-invalid" in {f.code for f in observed.findings}
    # correctly signed with the other key: it verifies with that key
    assert diagnose(observed.request.method, observed.request.url, observed.request.headers,
                    observed.request.body, other.identity.key.public_key()).valid


def test_replay_is_byte_identical(wfm, onboarded) -> None:
    first, seen_first = _observe(wfm, onboarded, onboarded.put_capabilities)
    again, seen_again = _observe(wfm, onboarded, lambda: onboarded.replay(first))
    assert seen_again.request.headers == seen_first.request.headers
    assert seen_again.request.body == seen_first.request.body
    assert seen_again.request.target == seen_first.request.target
    assert seen_again.response is not None  # reported, whatever it is


def test_reonboarding_with_the_same_certificate(wfm, onboarded) -> None:
    first_id = onboarded.client_id
    _, observed = _observe(wfm, onboarded, onboarded.onboard)
    sent = json.loads(observed.request.body)["certificate"]
    assert sent == onboarded.identity.b64_der() and observed.verification.valid
    assert observed.status in (201, 400, 403, 409) and first_id


@pytest.mark.parametrize("defect", [d for d in CertDefect if d not in SERVER_ONLY_DEFECTS], ids=lambda d: d.value)
def test_each_certificate_variant_as_onboarding_certificate(wfm, sim, defect: CertDefect) -> None:
    cert = sim.issue_certificate(defect=defect)
    _, observed = _observe(wfm, sim, lambda: sim.onboard(cert=cert))
    assert json.loads(observed.request.body)["certificate"] == cert.b64_der()
    assert observed.certificate is not None and observed.certificate["sha256_fingerprint"] == cert.fingerprint_sha256()
    code = lint_code_for(defect)
    if code is not None:
        assert code in {f.code for f in observed.certificate_findings}
    if defect is CertDefect.UNRELATED_CA:
        assert observed.certificate["issuer"] != sim.identity.cert.issuer.rfc4514_string()
    assert sim.client_id is None  # only the device's own identity sets its clientId


@pytest.mark.parametrize("form", list(CertEncoding), ids=lambda f: f.value)
def test_each_certificate_encoding(wfm, sim, form: CertEncoding) -> None:
    _, observed = _observe(wfm, sim, lambda: sim.onboard(cert_form=form))
    expected = encode_certificate(sim.identity.cert, form).decode("latin-1")
    assert json.loads(observed.request.body)["certificate"] == expected


@pytest.mark.parametrize("name", list(non_certificates()))
def test_each_non_certificate(wfm, sim, name: str) -> None:
    value = non_certificates()[name]
    _, observed = _observe(wfm, sim, lambda: sim.onboard(certificate=value))
    assert json.loads(observed.request.body)["certificate"] == value
    assert observed.status == 400


SENDABLE = [s for s in load_samples(valid=False) if s.schema in ("device-capabilities-manifest", "onboarding-request")]


@pytest.mark.parametrize("sample", SENDABLE, ids=lambda s: s.name)
def test_each_invalid_sample_payload(wfm, onboarded, sample) -> None:
    _, observed = _observe(wfm, onboarded, lambda: onboarded.send_sample(sample))
    got = json.loads(observed.request.body)
    if sample.schema == "onboarding-request" and isinstance(sample.document, dict) \
            and isinstance(sample.document.get("certificate"), str):
        got = {**got, "certificate": sample.document["certificate"]}  # the fresh certificate stood in
    assert got == sample.document
    assert observed.verification is None or observed.verification.valid  # only the payload is wrong
    assert 400 <= observed.status < 500


@pytest.mark.parametrize("form, content_type", [
    (BodyForm.JSON_UTF16, "application/json"),
    (BodyForm.JSON_UTF16_LABELLED, "application/json; charset=utf-16"),
    (BodyForm.TEXT_PLAIN, "text/plain"),
    (BodyForm.FORM_URLENCODED, "application/x-www-form-urlencoded"),
])
def test_body_in_another_encoding_or_content_type(wfm, onboarded, form: BodyForm, content_type: str) -> None:
    _, observed = _observe(wfm, onboarded, lambda: onboarded.put_capabilities(body_form=form))
    assert observed.request.header("content-type") == content_type
    assert observed.request.body != json.dumps(onboarded.manifest()).encode()
    assert observed.verification.valid  # correctly signed over those bytes: only the encoding differs
    assert 400 <= observed.status < 500


def test_signature_variations(wfm, onboarded) -> None:
    _, o = _observe(wfm, onboarded, lambda: onboarded.put_capabilities(keyid="device-key", label="margo"))
    assert o.request.header("signature-input").startswith("margo=") and o.verification.params["keyid"] == "device-key"
    assert o.verification.valid
    _, o = _observe(wfm, onboarded, lambda: onboarded.put_capabilities(created_offset_s=-30))
    assert o.verification.valid and o.status == 200
    with pytest.raises(TypeError, match="unknown signing options"):
        onboarded.put_capabilities(nonce="x")


@pytest.mark.parametrize("algorithm", ["rsa-v1_5-sha256", "rsa-pss-sha256"])
def test_rsa_algorithms(wfm, algorithm: str) -> None:
    with SimulatedDevice(wfm.base_url, client_context(wfm.identity.root), key_type=KeyType.RSA2048,
                         algorithm=algorithm) as sim:
        _, onboarding = _observe(wfm, sim, sim.onboard)
        _, report = _observe(wfm, sim, sim.put_capabilities)
    assert (onboarding.status, report.status) == (201, 201)
    assert onboarding.verification.algorithm == report.verification.algorithm == algorithm


def test_a_fault_that_does_not_apply_is_a_harness_error(onboarded) -> None:
    with pytest.raises(HarnessError, match="needs a non-empty body"):
        onboarded.delete_capabilities(fault=Fault.DIGEST_WRONG)
    with pytest.raises(HarnessError, match="needs an onboarded"):
        SimulatedDevice("https://127.0.0.1:1", client_context(None, _no_verify())).put_capabilities()


def _no_verify():
    from margo_conformance.device.defects import behaviour_for
    return behaviour_for(["tls-no-verify"])


def test_untrusted_server_raises_with_the_exchange(wfm, sim) -> None:
    wfm.reconfigure_tls("untrusted-ca")
    mark = wfm.observations.mark()
    with pytest.raises(WfmNotTrusted) as info:
        sim.get_root_ca()
    assert info.value.exchange.tls.error.startswith("certificate verify failed")
    assert [o.kind for o in settled(wfm, mark, 1)] == ["tls-failure"]


def test_gateway_then_child_and_delete(wfm, onboarded) -> None:
    gateway = onboarded.manifest("gw1", identity_only=True)
    _, gw = _observe(wfm, onboarded, lambda: onboarded.put_capabilities("gw1", gateway))
    assert gw.status == 201 and set(json.loads(gw.request.body)["properties"]) == {"id", "vendor", "modelNumber",
                                                                                  "serialNumber"}
    _, child = _observe(wfm, onboarded, lambda: onboarded.put_capabilities("gw1/a"))
    assert child.status == 201 and child.request.target.endswith("/capabilities/gw1/a")
    _, orphan = _observe(wfm, onboarded, lambda: onboarded.put_capabilities("gw9/a"))
    assert orphan.status == 404  # CAP-13: the parent was never reported
    _, gone = _observe(wfm, onboarded, lambda: onboarded.delete_capabilities("gw1/a"))
    assert gone.status == 204


def test_ed25519_extra_algorithm(wfm) -> None:
    with SimulatedDevice(wfm.base_url, client_context(wfm.identity.root), key_type=KeyType.ED25519) as sim:
        _, onboarding = _observe(wfm, sim, sim.onboard)
        _, report = _observe(wfm, sim, sim.put_capabilities)
    assert onboarding.verification.algorithm == "ed25519"
    assert (onboarding.status, report.status) == (201, 201)
