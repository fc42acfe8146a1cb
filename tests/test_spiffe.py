"""pki.spiffe: SPIFFE ID syntax, the leaf classifiers, the authority's SVIDs, every C-*/W-* fixture parsed
back to prove it carries exactly its defect, and the bundle in PEM and JWK Set form (DIGEST miaf-rc3 section 2)."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from margo_conformance.pki.spiffe import (
    CLIENT_FIXTURES,
    DEFAULT_WFM_ID,
    TRUST_DOMAIN,
    WFM_FIXTURES,
    SVID_LIFETIME,
    SpiffeAuthority,
    SpiffeId,
    SpiffeIdError,
    Svid,
    classify_client_svid,
    classify_wfm_svid,
    client_spiffe_id,
    uri_sans,
    wfm_spiffe_id,
)

C1 = client_spiffe_id(TRUST_DOMAIN, DEFAULT_WFM_ID, "c1")
W = wfm_spiffe_id(TRUST_DOMAIN, DEFAULT_WFM_ID)


@pytest.fixture(scope="module")
def authority() -> SpiffeAuthority:
    return SpiffeAuthority()


def _client(cert: x509.Certificate):
    return classify_client_svid(cert, trust_domain=TRUST_DOMAIN, wfm_id=DEFAULT_WFM_ID)


def _wfm(cert: x509.Certificate):
    return classify_wfm_svid(cert, trust_domain=TRUST_DOMAIN, wfm_id=DEFAULT_WFM_ID)


# ----- SPIFFE ID syntax ---------------------------------------------------------------------------------------

def test_ids_are_built_in_the_miaf_shape() -> None:
    assert W == "spiffe://harness.test/margo/wfm/wfm-h1"
    assert C1 == "spiffe://harness.test/margo/wfm/wfm-h1/client/c1"
    parsed = SpiffeId.parse(C1)
    assert (parsed.trust_domain, parsed.path, str(parsed)) == ("harness.test", "/margo/wfm/wfm-h1/client/c1", C1)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://harness.test/margo", "scheme"),
        ("SPIFFE://harness.test/margo", "scheme"),
        ("spiffe://harness.test", "root-path"),
        ("spiffe://harness.test/", "root-path"),
        ("spiffe://harness.test/margo?x=1", "query"),
        ("spiffe://harness.test/margo#f", "fragment"),
        ("spiffe://harness.test:443/margo", "port"),
        ("spiffe://user@harness.test/margo", "userinfo"),
        ("spiffe://harness.test/mar%67o", "percent-encoding"),
        ("spiffe:///margo", "trust-domain-missing"),
        ("spiffe://Harness.test/margo", "trust-domain-case"),
        ("spiffe://harness!.test/margo", "trust-domain-char"),
        ("spiffe://harness.test/margo//c1", "empty-segment"),
        ("spiffe://harness.test/margo/", "empty-segment"),
        ("spiffe://harness.test/margo/./c1", "dot-segment"),
        ("spiffe://harness.test/margo/../c1", "dot-segment"),
        ("spiffe://harness.test/margo/c~1", "path-char"),
        ("", "empty"),
        ("spiffe://harness.test/" + "a" * 2048, "too-long"),
    ],
)
def test_spiffe_id_syntax_violations_name_their_reason(uri: str, reason: str) -> None:
    with pytest.raises(SpiffeIdError) as info:
        SpiffeId.parse(uri)
    assert info.value.reason == reason


def test_segment_charset_allows_letters_digits_dot_dash_underscore() -> None:
    assert SpiffeId.parse("spiffe://h-1.test/Margo_1/a.b-c").segments == ("Margo_1", "a.b-c")


# ----- the authority's ordinary SVIDs -----------------------------------------------------------------------------

def _assert_clean_svid(svid: Svid, authority: SpiffeAuthority, uri: str) -> None:
    cert = svid.cert
    assert uri_sans(cert) == [uri] and svid.spiffe_id == uri
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    assert not ku.value.key_cert_sign and not ku.value.crl_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == SVID_LIFETIME
    assert cert.serial_number > 0
    assert svid.chain == (authority.intermediate.cert,)
    cert.verify_directly_issued_by(authority.intermediate.cert)
    authority.intermediate.cert.verify_directly_issued_by(authority.root)


def test_wfm_svid_is_the_clean_profile_with_a_uri_san_only(authority: SpiffeAuthority) -> None:
    svid = authority.wfm_svid()
    _assert_clean_svid(svid, authority, W)
    san = svid.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == []
    assert isinstance(svid.key, ec.EllipticCurvePrivateKey) and svid.key.curve.name == "secp256r1"
    assert _wfm(svid.cert).kind == "wfm" and _wfm(svid.cert).reason is None


@pytest.mark.parametrize("fixture,client_id", [("C-OK", "c1"), ("C-OK2", "c2"), ("C-NOPOL", "c3")])
def test_valid_client_fixtures_are_clean_svids(authority: SpiffeAuthority, fixture: str, client_id: str) -> None:
    svid = authority.client_fixture(fixture)
    assert svid is not None and svid.fixture == fixture
    _assert_clean_svid(svid, authority, client_spiffe_id(TRUST_DOMAIN, DEFAULT_WFM_ID, client_id))
    shape = _client(svid.cert)
    assert (shape.kind, shape.client_id, shape.reason, shape.notes) == ("client", client_id, None, ())
    assert _wfm(svid.cert).reason == "MID-04:client-svid"


def test_c_nocert_is_no_certificate(authority: SpiffeAuthority) -> None:
    assert authority.client_fixture("C-NOCERT") is None


def test_each_svid_has_its_own_key_and_each_authority_its_own_root() -> None:
    one, two = SpiffeAuthority(), SpiffeAuthority()
    assert one.root.public_key() != two.root.public_key()
    a, b = one.client_svid("c1"), one.client_svid("c1")
    assert a.cert.public_key() != b.cert.public_key()
    with pytest.raises(Exception):
        a.cert.verify_directly_issued_by(two.intermediate.cert)


def test_write_puts_the_key_at_mode_0600_and_the_chain_beside(authority: SpiffeAuthority, tmp_path: Path) -> None:
    svid = authority.client_svid("c1")
    files = svid.write(tmp_path, "client-c1")
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    certs = x509.load_pem_x509_certificates(files.cert.read_bytes())
    assert certs == [svid.cert, authority.intermediate.cert]
    assert x509.load_pem_x509_certificates(files.chain.read_bytes()) == [authority.intermediate.cert]
    key = serialization.load_pem_private_key(files.key.read_bytes(), None)
    assert key.public_key() == svid.cert.public_key()


def test_bundle_holds_anchors_only_in_pem_and_jwk_form(authority: SpiffeAuthority, tmp_path: Path) -> None:
    assert x509.load_pem_x509_certificates(authority.bundle_pem()) == [authority.root]
    assert x509.load_pem_x509_certificates(authority.bundle_pem(rotation="R1+R2")) == [
        authority.root, authority.rotation_root]
    bundle = authority.spiffe_bundle(refresh_hint=300, sequence=7)
    assert (bundle["spiffe_refresh_hint"], bundle["spiffe_sequence"]) == (300, 7)
    [jwk] = bundle["keys"]
    assert jwk["use"] == "x509-svid" and jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    [x5c] = jwk["x5c"]
    assert x509.load_der_x509_certificate(base64.b64decode(x5c)) == authority.root
    numbers = authority.root.public_key().public_numbers()
    def unb64(v: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")
    assert (unb64(jwk["x"]), unb64(jwk["y"])) == (numbers.x, numbers.y)
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    files = authority.write_bundle(tmp_path)
    assert json.loads(files.jwks.read_text()) == authority.spiffe_bundle()
    assert files.pem.read_bytes() == authority.bundle_pem()
    assert "spiffe_sequence" not in authority.spiffe_bundle()


def test_catalogue_lists_every_digest_fixture_in_order() -> None:
    assert len(CLIENT_FIXTURES) == 37 and len(WFM_FIXTURES) == 14
    assert list(CLIENT_FIXTURES)[:4] == ["C-OK", "C-OK2", "C-NOPOL", "C-NOCERT"]
    assert list(WFM_FIXTURES)[0] == "W-OK"
