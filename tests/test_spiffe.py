"""pki.spiffe: SPIFFE ID syntax, the leaf classifiers, the authority's SVIDs, every C-*/W-* fixture parsed
back to prove it carries exactly its defect, and the bundle in PEM and JWK Set form (DIGEST miaf-rc3 section 2)."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from margo_conformance.pki import IssuedCert, KeyType, TestCA, describe_key, generate_key
from margo_conformance.pki.spiffe import (
    CLIENT_FIXTURES,
    DEFAULT_AIA_URL,
    DEFAULT_WFM_ID,
    TRUST_DOMAIN,
    WFM_FIXTURES,
    SHORT_LIFETIME,
    SVID_LIFETIME,
    FixtureUnavailable,
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


# ----- every fixture carries exactly its defect ------------------------------------------------------------------

def _validity_state(cert: x509.Certificate) -> str:
    now = datetime.now(timezone.utc)
    if cert.not_valid_after_utc <= now - timedelta(minutes=59):
        return "expired-1h"
    if cert.not_valid_before_utc >= now + timedelta(minutes=59):
        return "not-yet-valid-1h"
    return "valid" if cert.not_valid_before_utc <= now < cert.not_valid_after_utc else "edge"


def _verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """cert's signature verifies under issuer's key (SHA-1 checked by hand: cryptography will not)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        if cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA1:
            issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))
        else:
            cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


def _facts(svid: Svid, authority: SpiffeAuthority) -> dict:
    """Everything the catalogue can vary, read back from the certificates (never from the fixture's name)."""
    cert = svid.cert
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    bits = {b for b in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                        "key_agreement", "key_cert_sign", "crl_sign") if getattr(ku.value, b)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    try:
        aia = [d.access_location.value for d in
               cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value]
    except x509.ExtensionNotFound:
        aia = []
    roots = {"R1": authority.root, "R2": authority.rotation_root}
    signer = next((label for label, c in [("self", cert), *((c.subject.rfc4514_string(), c) for c in svid.chain)]
                   if _verifies(cert, c)), None)
    if signer is None and _verifies(cert, authority.intermediate.cert):
        signer = "I1 (not sent)"
    elif signer is not None and signer != "self":
        signer = "I1" if svid.chain[0] == authority.intermediate.cert else "other intermediate"
    # The anchor the first intermediate (or the unsent I1) chains to.
    top = svid.chain[0] if svid.chain else (authority.intermediate.cert if signer == "I1 (not sent)" else None)
    anchor = next((label for label, root in roots.items() if top is not None and _verifies(top, root)), None)
    return {
        "uris": uri_sans(cert),
        "dns": dns,
        "ca": cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca,
        "ku": bits,
        "ku_critical": ku.critical,
        "eku": set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value),
        "validity": _validity_state(cert),
        "lifetime": cert.not_valid_after_utc - cert.not_valid_before_utc,
        "key": describe_key(cert.public_key()),
        "signature": cert.signature_algorithm_oid._name,
        "signer": signer,
        "anchor": anchor,
        "intermediate_validity": _validity_state(top) if top is not None else None,
        "chain_sent": len(svid.chain),
        "aia": aia,
        "serial_positive": cert.serial_number > 0,
    }


def _clean(uri: str) -> dict:
    return {
        "uris": [uri], "dns": [], "ca": False, "ku": {"digital_signature"}, "ku_critical": True,
        "eku": {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}, "validity": "valid",
        "lifetime": SVID_LIFETIME, "key": "p256", "signature": "ecdsa-with-SHA256", "signer": "I1",
        "anchor": "R1", "intermediate_validity": "valid", "chain_sent": 1, "aia": [], "serial_positive": True,
    }


def _td(path: str, td: str = TRUST_DOMAIN) -> str:
    return f"spiffe://{td}{path}"


_I1_UNSENT = {"signer": "I1 (not sent)", "chain_sent": 0}
#: What each client fixture changes against the clean C-OK, read back from the certificate.
CLIENT_DELTAS: dict[str, dict] = {
    "C-OK": {},
    "C-OK2": {"uris": [_td("/margo/wfm/wfm-h1/client/c2")]},
    "C-NOPOL": {"uris": [_td("/margo/wfm/wfm-h1/client/c3")]},
    "C-SELF": {"signer": "self", "anchor": None, "intermediate_validity": None, "chain_sent": 0},
    "C-R2": {"signer": "other intermediate", "anchor": "R2"},
    "C-FTD": {"uris": [_td("/margo/wfm/wfm-h1/client/c1", "other.test")]},
    "C-OTHWFM": {"uris": [_td("/margo/wfm/other-wfm/client/c1")]},
    "C-WFMSHAPE": {"uris": [_td("/margo/wfm/wfm-h1")]},
    "C-EXTRA": {"uris": [_td("/margo/wfm/wfm-h1/client/c1/extra")]},
    "C-EMPTY": {"uris": [_td("/margo/wfm/wfm-h1/client/")]},
    "C-NOMARGO": {"uris": [_td("/foo/c1")]},
    "C-CASE": {"uris": [_td("/margo/WFM/wfm-h1/client/c1")]},
    "C-2URI": {"uris": [C1, _td("/margo/wfm/wfm-h1/client/c2")]},
    "C-0URI": {"uris": [], "dns": ["c1.harness.test"]},
    "C-HTTP": {"uris": ["https://harness.test/margo/wfm/wfm-h1/client/c1"]},
    "C-ROOTPATH": {"uris": ["spiffe://harness.test"]},
    "C-QUERY": {"uris": [C1 + "?x=1"]},
    "C-CA": {"ca": True},
    "C-KCS": {"ku": {"digital_signature", "key_cert_sign"}},
    "C-CRL": {"ku": {"digital_signature", "crl_sign"}},
    "C-NODS": {"ku": {"key_agreement"}},
    "C-EKUCLIENT": {"eku": {ExtendedKeyUsageOID.CLIENT_AUTH}},
    "C-EXP": {"validity": "expired-1h"},
    "C-NYV": {"validity": "not-yet-valid-1h"},
    "C-IEXP": {"signer": "other intermediate", "intermediate_validity": "expired-1h"},
    "C-SHORT": {"lifetime": SHORT_LIFETIME},
    "C-LEAFONLY": _I1_UNSENT,
    "C-AIA": {**_I1_UNSENT, "aia": [DEFAULT_AIA_URL]},
    "C-P384": {"key": "p384"},
    "C-ED25519": {"key": "ed25519"},
    "C-RSA3072-PSS": {"key": "rsa3072", "signature": "rsassaPss", "signer": "other intermediate"},
    "C-RSA3072-V15": {"key": "rsa3072", "signature": "sha256WithRSAEncryption", "signer": "other intermediate"},
    "C-RSA2048": {"key": "rsa2048"},
    "C-P521": {"key": "ec-secp521r1"},
    "C-SHA1": {"signature": "ecdsa-with-SHA1"},
    "C-ROT": {"signer": "other intermediate", "anchor": "R2"},
}


def test_every_client_fixture_has_a_delta() -> None:
    assert set(CLIENT_DELTAS) | {"C-NOCERT"} == set(CLIENT_FIXTURES)


@pytest.mark.parametrize("name", list(CLIENT_DELTAS))
def test_client_fixture_has_exactly_its_defect(authority: SpiffeAuthority, name: str) -> None:
    svid = authority.client_fixture(name)
    assert svid is not None and svid.fixture == name
    assert _facts(svid, authority) == {**_clean(C1), **CLIENT_DELTAS[name]}
    sans = uri_sans(svid.cert)
    assert svid.spiffe_id == (sans[0] if len(sans) == 1 else None)


W_OTHER = _td("/margo/wfm/other")
WFM_DELTAS: dict[str, dict] = {
    "W-OK": {},
    "W-OK-DNS": {"dns": ["localhost"]},
    "W-DNS-WRONGID": {"uris": [W_OTHER], "dns": ["localhost"]},
    "W-DNSONLY": {"uris": [], "dns": ["localhost"]},
    "W-OTHWFM": {"uris": [W_OTHER]},
    "W-CLIENT": {"uris": [_td("/margo/wfm/wfm-h1/client/x")]},
    "W-FTD": {"uris": [_td("/margo/wfm/wfm-h1", "other.test")]},
    "W-R2": {"signer": "other intermediate", "anchor": "R2"},
    "W-EXP": {"validity": "expired-1h"},
    "W-CA": {"ca": True},
    "W-KCS": {"ku": {"digital_signature", "key_cert_sign"}},
    "W-2URI": {"uris": [W, W_OTHER]},
    "W-LEAFONLY": _I1_UNSENT,
    "W-AIA": {**_I1_UNSENT, "aia": [DEFAULT_AIA_URL]},
}


@pytest.mark.parametrize("name", list(WFM_FIXTURES))
def test_wfm_fixture_has_exactly_its_defect(authority: SpiffeAuthority, name: str) -> None:
    svid = authority.wfm_fixture(name)
    assert svid.fixture == name
    assert _facts(svid, authority) == {**_clean(W), **WFM_DELTAS[name]}


#: The leaf checks' verdict per fixture; chain, validity and algorithm fixtures are the TLS layer's to refuse,
#: so the classifiers accept their leaves (and C-NODS / C-EKUCLIENT only carry SVID-07 notes).
CLIENT_REASONS = {
    "C-FTD": "SVID-10:trust-domain", "C-OTHWFM": "MID-01:wfm-id", "C-WFMSHAPE": "MID-01:wfm-svid",
    "C-EXTRA": "MID-01:shape", "C-EMPTY": "SVID-03:empty-segment", "C-NOMARGO": "MID-01:not-margo",
    "C-CASE": "MID-01:shape", "C-2URI": "SVID-02:several-uri-sans", "C-0URI": "SVID-02:no-uri-san",
    "C-HTTP": "SVID-03:scheme", "C-ROOTPATH": "SVID-03:root-path", "C-QUERY": "SVID-03:query",
    "C-CA": "SVID-04:ca", "C-KCS": "SVID-05:key-cert-sign", "C-CRL": "SVID-05:crl-sign",
}
WFM_REASONS = {
    "W-DNS-WRONGID": "MID-04:wfm-id", "W-DNSONLY": "SVID-02:no-uri-san", "W-OTHWFM": "MID-04:wfm-id",
    "W-CLIENT": "MID-04:client-svid", "W-FTD": "SVID-10:trust-domain", "W-CA": "SVID-04:ca",
    "W-KCS": "SVID-05:key-cert-sign", "W-2URI": "SVID-02:several-uri-sans",
}


def test_classifiers_name_the_rule_each_fixture_breaks(authority: SpiffeAuthority) -> None:
    for name in CLIENT_DELTAS:
        shape = _client(authority.client_fixture(name).cert)
        assert shape.reason == CLIENT_REASONS.get(name), name
        assert shape.kind == ("rejected" if name in CLIENT_REASONS else "client"), name
    notes = {n: _client(authority.client_fixture(n).cert).notes for n in ("C-NODS", "C-EKUCLIENT", "C-OK")}
    assert notes == {"C-NODS": ("SVID-07:no-digital-signature",),
                     "C-EKUCLIENT": ("SVID-07:eku-without-server-auth",), "C-OK": ()}
    for name in WFM_FIXTURES:
        shape = _wfm(authority.wfm_fixture(name).cert)
        assert shape.reason == WFM_REASONS.get(name), name
        assert shape.kind == ("rejected" if name in WFM_REASONS else "wfm"), name


def test_classifiers_use_the_verifiers_own_trust_domain_and_wfm_id(authority: SpiffeAuthority) -> None:
    leaf = authority.client_svid("c1").cert
    assert classify_client_svid(leaf, trust_domain="other.test", wfm_id=DEFAULT_WFM_ID).reason == "SVID-10:trust-domain"
    assert classify_client_svid(leaf, trust_domain=TRUST_DOMAIN, wfm_id="wfm-h2").reason == "MID-01:wfm-id"
    assert classify_wfm_svid(authority.wfm_svid("wfm-h2").cert, trust_domain=TRUST_DOMAIN,
                             wfm_id=DEFAULT_WFM_ID).reason == "MID-04:wfm-id"


# ----- key types, CSR, a vendor's CA -------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type,name", [(KeyType.P384, "p384"), (KeyType.ED25519, "ed25519"),
                                           (KeyType.RSA3072, "rsa3072")])
def test_client_svid_key_types(authority: SpiffeAuthority, key_type: KeyType, name: str) -> None:
    svid = authority.client_svid("c9", key_type=key_type)
    assert describe_key(svid.cert.public_key()) == name
    assert _client(svid.cert).client_id == "c9"
    svid.cert.verify_directly_issued_by(authority.intermediate.cert)


def test_wfm_svid_from_csr_certifies_the_csr_key_and_has_no_key(authority: SpiffeAuthority, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    svid = authority.wfm_svid_from_csr(csr, "wfm-h1")
    assert svid.key is None and svid.cert.public_key() == key.public_key()
    _assert_clean_svid(svid, authority, W)
    files = svid.write(tmp_path, "wfm")
    assert files.cert.exists() and files.chain.exists() and not files.key.exists()


def test_from_ca_signs_leaves_directly_and_refuses_i1_fixtures() -> None:
    vendor = TestCA("vendor signing CA")
    authority = SpiffeAuthority.from_ca(vendor.cert_pem(), IssuedCert(vendor.cert, vendor.key).key_pem(), "vendor.test")
    svid = authority.client_svid("c1")
    assert svid.chain == () and authority.intermediate is None
    svid.cert.verify_directly_issued_by(vendor.cert)
    assert authority.bundle_pem() == vendor.cert_pem()
    assert classify_client_svid(svid.cert, trust_domain="vendor.test", wfm_id=DEFAULT_WFM_ID).client_id == "c1"
    with pytest.raises(FixtureUnavailable):
        authority.client_fixture("C-LEAFONLY")
    with pytest.raises(ValueError, match="does not belong"):
        SpiffeAuthority.from_ca(vendor.cert_pem(), IssuedCert(vendor.cert, generate_key()).key_pem(), "vendor.test")


def test_from_ca_makes_intermediate_fixtures_under_a_vendor_ca_that_allows_them() -> None:
    vendor = TestCA("vendor root", intermediate=True)  # pathLenConstraint 1
    authority = SpiffeAuthority.from_ca(vendor.cert_pem(), IssuedCert(vendor.cert, vendor.key).key_pem(), "vendor.test")
    iexp = authority.client_fixture("C-IEXP")
    [inter] = iexp.chain
    iexp.cert.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(vendor.cert)
    assert _validity_state(inter) == "expired-1h" and _validity_state(iexp.cert) == "valid"
    leafonly = authority.client_fixture("C-LEAFONLY")
    assert leafonly.chain == () and leafonly.issuer != vendor.cert
    leafonly.issuer.verify_directly_issued_by(vendor.cert)
    pss = authority.client_fixture("C-RSA3072-PSS")
    assert pss.cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSASSA_PSS
    pss.chain[0].verify_directly_issued_by(vendor.cert)


def test_bad_ids_and_names_are_refused_with_clear_errors(authority: SpiffeAuthority) -> None:
    with pytest.raises(ValueError, match="client id"):
        authority.client_svid("c~1")
    with pytest.raises(ValueError, match="trust domain"):
        SpiffeAuthority("Harness.test")
    with pytest.raises(KeyError, match="C-OK"):
        authority.client_fixture("C-NOPE")


# ----- cross-checked by OpenSSL -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def openssl_dir(authority: SpiffeAuthority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    directory = tmp_path_factory.mktemp("openssl")
    authority.write_bundle(directory)
    return directory


def _openssl_verify(directory: Path, svid: Svid, stem: str) -> subprocess.CompletedProcess:
    files = svid.write(directory, stem)
    args = ["openssl", "verify", "-CAfile", str(directory / "bundle.pem")]
    if svid.chain:
        args += ["-untrusted", str(files.chain)]
    return subprocess.run([*args, str(files.cert)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "name,error",
    [("C-OK", None), ("C-2URI", None), ("C-FTD", None), ("C-IEXP", "certificate has expired"),
     ("C-LEAFONLY", "unable to get local issuer certificate"), ("C-R2", "unable to get local issuer certificate"),
     ("C-EXP", "certificate has expired"), ("C-NYV", "certificate is not yet valid")],
)
def test_openssl_verify_agrees(authority: SpiffeAuthority, openssl_dir: Path, name: str, error: str | None) -> None:
    result = _openssl_verify(openssl_dir, authority.client_fixture(name), name)
    if error is None:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode != 0 and error in result.stdout + result.stderr


def test_openssl_reads_the_fixture_extensions(authority: SpiffeAuthority, openssl_dir: Path) -> None:
    def text(name: str) -> str:
        files = authority.client_fixture(name).write(openssl_dir, name + "-text")
        return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(files.cert)],
                              capture_output=True, text=True, timeout=30, check=True).stdout
    ok = text("C-OK")
    assert "URI:" + C1 in ok and "X509v3 Key Usage: critical" in ok and "Digital Signature" in ok
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in ok and "CA:FALSE" in ok
    assert "rsassaPss" in text("C-RSA3072-PSS")
    assert "ecdsa-with-SHA1" in text("C-SHA1")
    assert "CA Issuers - URI:" + DEFAULT_AIA_URL in text("C-AIA")


def test_fixture_requirements_agree_with_the_profile_data() -> None:
    """The expectations are compared in tests/test_profiles.py; requirements and questions are compared here."""
    from margo_conformance.profiles import load_profile

    data = load_profile("miaf-rc3").fixtures
    for group, minted in (("client", CLIENT_FIXTURES), ("wfm", WFM_FIXTURES)):
        assert {n: (list(s.requirements), s.question) for n, s in minted.items()} == {
            n: (b["requirements"], b.get("question")) for n, b in data[group].items()}, group
    assert (data["trust_domain"], data["foreign_trust_domain"], data["wfm_id"]) == (
        TRUST_DOMAIN, "other.test", DEFAULT_WFM_ID)


@pytest.mark.parametrize("key_type", [KeyType.P384, KeyType.ED25519, KeyType.RSA3072])
def test_bundle_jwk_members_match_the_anchor_key_of_each_type(key_type: KeyType) -> None:
    """The JWK members (joserfc) carry the anchor's own public key: EC x/y, OKP x, RSA n/e; x5c is its DER."""
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from margo_conformance.pki.keys import cached_key
    from margo_conformance.pki.spiffe import jwk_for_certificate

    key = cached_key(key_type, "spiffe-jwk-anchor") if key_type is KeyType.RSA3072 else generate_key(key_type)
    ca = TestCA(f"jwk anchor {key_type.value}", key=key)
    jwk = jwk_for_certificate(ca.cert)
    assert jwk["use"] == "x509-svid" and jwk["x5c"] == [base64.b64encode(ca.cert_der()).decode()]

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    public = ca.cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        nums = public.public_numbers()
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-384")
        assert (int.from_bytes(unb64(jwk["x"]), "big"), int.from_bytes(unb64(jwk["y"]), "big")) == (nums.x, nums.y)
        assert len(unb64(jwk["x"])) == 48  # fixed length, leading zeros kept (RFC 7518 6.2.1.2)
    elif isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert (jwk["kty"], jwk["crv"], unb64(jwk["x"])) == ("OKP", "Ed25519", raw)
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        nums = public.public_numbers()
        assert jwk["kty"] == "RSA"
        assert (int.from_bytes(unb64(jwk["n"]), "big"), int.from_bytes(unb64(jwk["e"]), "big")) == (nums.n, nums.e)
    assert not {"d", "p", "q"} & set(jwk)  # public members only
