"""Tests of margo_conformance.pki: every certificate is parsed back and checked for what it claims to be.

A deliberately bad certificate is useful only if it has exactly its one defect: the defect tests compare
the facts of each bad certificate with those of a clean one and require that exactly the claimed fact
differs. Facts are read from the DER itself (our DER reader is checked against ``cryptography`` and OpenSSL
below), because ``cryptography`` warns on negative serials and its builder cannot write v1.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import socket
import ssl
import stat
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from margo_conformance.pki import (
    DECODE_REASONS,
    MAX_DECODE_INPUT,
    NON_CERTIFICATE_REASONS,
    WRONG_HOST_NAME,
    CertDefect,
    CertEncoding,
    CertificateDecodeError,
    IssuedCert,
    KeyType,
    RawCertificate,
    TestCA,
    cached_key,
    decode_certificate,
    describe_certificate,
    describe_key,
    encode_certificate,
    generate_key,
    key_type_of,
    lint_code_for,
    lint_rfc5280,
    non_certificates,
)
from margo_conformance.pki import der as derlib
from margo_conformance.pki.keys import sign_for_certificate

LEAF_KEY_TYPES = [KeyType.P256, KeyType.P384, KeyType.RSA2048, KeyType.RSA3072, KeyType.ED25519]
CLIENT_DEFECTS = [d for d in CertDefect if d is not CertDefect.WRONG_HOST]
SOCKET_TIMEOUT = 5.0

#: The PKCS#8 PEM header, split so that no tracked file carries a private-key marker line.
PKCS8_PEM_HEADER = b"-----BEGIN " + b"PRIVATE KEY-----"


# ----- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki_ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def pki_ca_with_intermediate() -> TestCA:
    return TestCA("Margo Test Root With Intermediate", intermediate=True)


# ----- reading certificates back, independently of the factory --------------------------------------------


def _stand_in(der_bytes: bytes) -> x509.Certificate:
    """A ``cryptography`` view of the certificate's fields; for a serial <= 0 the same DER with serial 1
    (the fields other than the serial are then still the certificate's own)."""
    parts = derlib.split_certificate(der_bytes)
    if derlib.parse_tbs(parts.tbs).serial > 0:
        return x509.load_der_x509_certificate(der_bytes)
    tbs = derlib.rebuild_tbs(parts.tbs, serial=1)
    return x509.load_der_x509_certificate(
        derlib.assemble_certificate(tbs, parts.signature_algorithm.encoded, parts.signature)
    )


def _signature_verifies(public_key: Any, der_bytes: bytes, view: x509.Certificate) -> bool:
    """Does the signature over the *real* TBS bytes verify with ``public_key``?"""
    parts = derlib.split_certificate(der_bytes)
    tbs, sig = parts.tbs.encoded, parts.signature
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(sig, tbs, ec.ECDSA(view.signature_hash_algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(sig, tbs, padding.PKCS1v15(), view.signature_hash_algorithm)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(sig, tbs)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _san_set(view: x509.Certificate) -> frozenset[str]:
    try:
        sans = view.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    out = set()
    for name in sans:
        kind = "IP" if isinstance(name, x509.IPAddress) else "DNS" if isinstance(name, x509.DNSName) else "?"
        out.add(f"{kind}:{name.value}")
    return frozenset(out)


def _facts(issued: IssuedCert, expected_issuer: x509.Certificate, now: datetime | None = None) -> dict[str, Any]:
    """Every property a defect could change, read from the certificate bytes."""
    der_bytes = issued.cert_der()
    tbs = derlib.parse_tbs(derlib.split_certificate(der_bytes).tbs)
    view = _stand_in(der_bytes)
    now = now or datetime.now(timezone.utc)
    bc = view.extensions.get_extension_for_class(x509.BasicConstraints)
    ku = view.extensions.get_extension_for_class(x509.KeyUsage).value
    usages = frozenset(
        name
        for name in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                     "key_agreement", "key_cert_sign", "crl_sign")
        if getattr(ku, name)
    )
    eku = frozenset(view.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    if view.issuer == expected_issuer.subject and _signature_verifies(expected_issuer.public_key(), der_bytes, view):
        issuer = "ca"
    elif view.issuer == view.subject and _signature_verifies(view.public_key(), der_bytes, view):
        issuer = "self"
    else:
        issuer = "other"
    if now > view.not_valid_after_utc:
        validity = "expired"
    elif now < view.not_valid_before_utc:
        validity = "not-yet-valid"
    else:
        validity = "current"
    return {
        "version": tbs.version_number,
        "serial_positive": tbs.serial > 0,
        "serial_octets_ok": len(derlib.encode_integer(tbs.serial)) - 2 <= 20,
        "validity": validity,
        "ca_flag": bc.value.ca,
        "bc_critical": bc.critical,
        "key_usage": usages,
        "eku": eku,
        "key": describe_key(view.public_key()),
        "key_matches": view.public_key() == issued.key.public_key(),
        "issuer": issuer,
        "sans": _san_set(view),
        "extensions": frozenset(ext.oid.dotted_string for ext in view.extensions),
        "subject": view.subject.rfc4514_string(),
    }


def _diff(facts: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if baseline[k] != v}


def _error_and_warning_codes(findings: list) -> set[str]:
    return {f.code for f in findings if f.severity in ("error", "warning")}


# ----- keys --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", list(KeyType))
def test_generate_key_gives_the_requested_type(key_type: KeyType) -> None:
    key = generate_key(key_type)
    assert key_type_of(key) is key_type
    assert key_type_of(key.public_key()) is key_type
    assert describe_key(key.public_key()) == key_type.value


def test_generate_key_is_fresh_every_call() -> None:
    assert generate_key("p256").private_numbers() != generate_key("p256").private_numbers()


def test_key_type_spellings() -> None:
    assert KeyType.coerce("P256") is KeyType.P256
    assert KeyType.coerce(" rsa2048 ") is KeyType.RSA2048
    with pytest.raises(ValueError, match="p256, p384"):
        KeyType.coerce("p521")


def test_key_types_the_harness_does_not_issue() -> None:
    p521 = ec.generate_private_key(ec.SECP521R1())
    with pytest.raises(ValueError, match="secp521r1"):
        key_type_of(p521)
    assert describe_key(p521.public_key()) == "ec-secp521r1"
    assert describe_key(object()) == "object"


def test_cached_key_is_one_object_per_type_and_slot() -> None:
    slot = f"pki-test-{uuid.uuid4().hex}"
    first = cached_key(KeyType.P256, slot)
    assert cached_key("p256", slot) is first
    assert cached_key(KeyType.P256, f"{slot}-other") is not first
    assert cached_key(KeyType.P384, slot) is not first
    assert cached_key(KeyType.P256, f"{slot}-other").private_numbers() != first.private_numbers()
    assert cached_key(KeyType.RSA2048, 0) is cached_key(KeyType.RSA2048, "0")


def test_cached_key_generates_once_under_concurrency() -> None:
    slot = f"pki-race-{uuid.uuid4().hex}"
    barrier = threading.Barrier(8)
    seen: list[object] = []

    def worker() -> None:
        barrier.wait(timeout=SOCKET_TIMEOUT)
        seen.append(cached_key(KeyType.RSA2048, slot))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(seen) == 8 and all(k is seen[0] for k in seen)


# ----- DER reader / writer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "encoded"),
    [(0, "020100"), (127, "02017f"), (128, "02020080"), (256, "02020100"), (-1, "0201ff"),
     (-128, "020180"), (-129, "0202ff7f"), (-256, "0202ff00"), (2**127, "021100" + "80" + "00" * 15)],
)
def test_der_integer_is_minimal_twos_complement(number: int, encoded: str) -> None:  # X.690 8.3
    assert derlib.encode_integer(number).hex() == encoded
    tlv = derlib.read_single(bytes.fromhex(encoded))
    assert derlib.decode_integer(tlv.value) == number


@given(st.integers(min_value=-(2**300), max_value=2**300))
def test_der_integer_round_trips(number: int) -> None:
    tlv = derlib.read_single(derlib.encode_integer(number))
    assert tlv.tag == derlib.TAG_INTEGER and derlib.decode_integer(tlv.value) == number
    # minimal: the first 9 bits are never all zero or all one
    if len(tlv.value) > 1:
        top = (tlv.value[0] << 1) | (tlv.value[1] >> 7)
        assert top not in (0, 0x1FF)


@pytest.mark.parametrize(("length", "encoded"), [(0, "00"), (127, "7f"), (128, "8180"), (256, "820100")])
def test_der_length_encoding(length: int, encoded: str) -> None:
    assert derlib.encode_length(length).hex() == encoded


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("3005020101", derlib.DerTruncated),  # declares 5 octets, 3 present
        ("30", derlib.DerTruncated),  # no length
        ("3080020101", derlib.DerError),  # indefinite length is BER, not DER
        ("30810302 0101", derlib.DerError),  # long form for a short length
        ("1f0100", derlib.DerError),  # multi-octet tag
        ("02010100", derlib.DerError),  # trailing octet
    ],
)
def test_der_reader_rejects_what_is_not_der(data: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        derlib.read_single(bytes.fromhex(data.replace(" ", "")))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_der_reader_raises_only_der_error(data: bytes) -> None:
    for parse in (derlib.read_single, derlib.split_certificate, derlib.parse_tbs):
        try:
            parse(data)
        except derlib.DerError:
            pass


def test_der_reader_agrees_with_cryptography(pki_ca: TestCA) -> None:
    cert = pki_ca.issue_client_cert("der-check").cert
    der_bytes = cert.public_bytes(serialization.Encoding.DER)
    parts = derlib.split_certificate(der_bytes)
    tbs = derlib.parse_tbs(parts.tbs)
    assert parts.tbs.encoded == cert.tbs_certificate_bytes
    assert parts.signature == cert.signature
    assert (tbs.version_number, tbs.serial, tbs.has_extensions) == (3, cert.serial_number, True)
    assert derlib.rebuild_tbs(parts.tbs) == cert.tbs_certificate_bytes  # no change, byte for byte
    assert derlib.assemble_certificate(parts.tbs.encoded, parts.signature_algorithm.encoded, parts.signature) == der_bytes


# ----- clean certificates ------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", LEAF_KEY_TYPES)
def test_clean_client_cert_per_key_type(pki_ca: TestCA, key_type: KeyType) -> None:
    issued = pki_ca.issue_client_cert("device-42", key_type=key_type)
    facts = _facts(issued, pki_ca.cert)
    assert facts["version"] == 3 and facts["serial_positive"] and facts["serial_octets_ok"]
    assert facts["validity"] == "current" and facts["issuer"] == "ca" and facts["key_matches"]
    assert (facts["ca_flag"], facts["bc_critical"]) == (False, True)
    assert facts["key_usage"] == {"digital_signature"}
    assert facts["eku"] == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert facts["key"] == key_type.value
    assert issued.key_type is key_type and issued.defect is None and issued.chain == ()
    assert len(derlib.encode_integer(issued.cert.serial_number)) - 2 == 16  # positive 16-octet serial
    issued.cert.verify_directly_issued_by(pki_ca.cert)
    assert issued.issuer == pki_ca.cert
    assert "CN=device-42" in issued.cert.subject.rfc4514_string()
    assert not [f for f in lint_rfc5280(issued.cert, role="client") if f.severity == "error"]


def test_clean_client_cert_lint_says_nothing_for_the_margo_key_types(pki_ca: TestCA) -> None:
    for key_type in (KeyType.P256, KeyType.P384, KeyType.RSA2048, KeyType.RSA3072):
        findings = lint_rfc5280(pki_ca.issue_client_cert("d", key_type=key_type).cert)
        assert findings == [], (key_type, findings)


def test_ed25519_client_cert_is_an_extra_not_an_error(pki_ca: TestCA) -> None:
    findings = lint_rfc5280(pki_ca.issue_client_cert("d", key_type=KeyType.ED25519).cert)
    assert [(f.code, f.severity, f.requirement) for f in findings] == [("key-type-not-allowed", "warning", "CERT-11")]


def test_client_cert_with_a_given_key(pki_ca: TestCA) -> None:
    key = cached_key(KeyType.P384, "pki-given")
    issued = pki_ca.issue_client_cert("d", key=key)
    assert issued.key is key and issued.cert.public_key() == key.public_key()


def test_default_server_cert_names_loopback_with_ip_sans(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_server_cert()
    sans = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    facts = _facts(issued, pki_ca.cert)
    assert facts["eku"] == {ExtendedKeyUsageOID.SERVER_AUTH} and facts["issuer"] == "ca"
    assert lint_rfc5280(issued.cert, role="server") == []


def test_server_cert_for_given_names(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_server_cert("wfm.example.test", "10.1.2.3", "[fd00::7]", "bücher.example")
    assert _san_set(issued.cert) == {
        "DNS:wfm.example.test", "IP:10.1.2.3", "IP:fd00::7", "DNS:xn--bcher-kva.example"
    }


@pytest.mark.parametrize("key_type", LEAF_KEY_TYPES)
def test_server_cert_per_key_type(pki_ca: TestCA, key_type: KeyType) -> None:
    issued = pki_ca.issue_server_cert(key_type=key_type)
    assert key_type_of(issued.cert.public_key()) is key_type
    issued.cert.verify_directly_issued_by(pki_ca.cert)


def test_root_and_intermediate_are_clean_cas(pki_ca_with_intermediate: TestCA) -> None:
    ca = pki_ca_with_intermediate
    assert ca.intermediate is not None
    root_bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    inter_bc = ca.intermediate.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert (root_bc.value.ca, root_bc.value.path_length, root_bc.critical) == (True, 1, True)
    assert (inter_bc.value.ca, inter_bc.value.path_length) == (True, 0)
    assert ca.cert.issuer == ca.cert.subject
    ca.cert.verify_directly_issued_by(ca.cert)
    ca.intermediate.cert.verify_directly_issued_by(ca.cert)
    assert lint_rfc5280(ca.cert, role="ca") == []
    assert lint_rfc5280(ca.intermediate.cert, role="ca") == []


def test_server_cert_under_an_intermediate_carries_the_chain(pki_ca_with_intermediate: TestCA) -> None:
    ca = pki_ca_with_intermediate
    assert ca.intermediate is not None
    server = ca.issue_server_cert()
    assert server.chain == (ca.intermediate.cert,)
    server.cert.verify_directly_issued_by(ca.intermediate.cert)
    pem = x509.load_pem_x509_certificates(server.chain_pem())
    assert pem == [server.cert, ca.intermediate.cert]
    # the onboarding request carries one certificate, so client certs come straight from the root
    client = ca.issue_client_cert("d")
    assert client.chain == () and client.cert.issuer == ca.cert.subject


def test_every_test_ca_is_its_own_authority() -> None:
    first, second = TestCA(), TestCA()
    assert first.cert.subject != second.cert.subject
    assert first.key.public_key() != second.key.public_key()
    leaf = first.issue_client_cert("d")
    assert not _signature_verifies(second.key.public_key(), leaf.cert_der(), leaf.cert)
    assert TestCA(key_type="rsa2048").key.public_key() != TestCA(key_type="rsa2048").key.public_key()


def test_issuing_a_p256_client_cert_is_fast(pki_ca: TestCA) -> None:
    pki_ca.issue_client_cert("warm-up")
    rounds = 50
    start = time.perf_counter()
    for i in range(rounds):
        pki_ca.issue_client_cert(f"d{i}")
    per_cert_ms = (time.perf_counter() - start) * 1000 / rounds
    assert per_cert_ms < 5, f"{per_cert_ms:.2f} ms per certificate"


# ----- deliberately bad certificates -------------------------------------------------------------------

EXPECTED_DIFF: dict[CertDefect, dict[str, Any]] = {
    CertDefect.EXPIRED: {"validity": "expired"},
    CertDefect.NOT_YET_VALID: {"validity": "not-yet-valid"},
    CertDefect.SELF_SIGNED: {"issuer": "self"},
    CertDefect.CA_TRUE_LEAF: {"ca_flag": True},
    CertDefect.WRONG_KEY_USAGE: {"key_usage": frozenset({"content_commitment"})},
    CertDefect.RSA_1024: {"key": "rsa1024"},
    CertDefect.NEGATIVE_SERIAL: {"serial_positive": False},
    CertDefect.V1_WITH_EXTENSIONS: {"version": 1},
    CertDefect.UNRELATED_CA: {"issuer": "other"},
}


@pytest.mark.parametrize("defect", CLIENT_DEFECTS, ids=lambda d: d.value)
def test_bad_client_cert_has_exactly_its_defect(pki_ca: TestCA, defect: CertDefect) -> None:
    baseline = _facts(pki_ca.issue_client_cert("device-42"), pki_ca.cert)
    bad = pki_ca.issue_client_cert("device-42", defect=defect)
    expected = EXPECTED_DIFF.get(defect, {"eku": frozenset({ExtendedKeyUsageOID.SERVER_AUTH})})
    assert _diff(_facts(bad, pki_ca.cert), baseline) == expected
    assert bad.defect is defect


@pytest.mark.parametrize("defect", list(CertDefect), ids=lambda d: d.value)
def test_bad_server_cert_has_exactly_its_defect(pki_ca: TestCA, defect: CertDefect) -> None:
    baseline = _facts(pki_ca.issue_server_cert(), pki_ca.cert)
    bad = pki_ca.issue_server_cert(defect=defect)
    if defect is CertDefect.WRONG_HOST:
        expected: dict[str, Any] = {"sans": frozenset({f"DNS:{WRONG_HOST_NAME}"})}
    elif defect is CertDefect.WRONG_EKU:
        expected = {"eku": frozenset({ExtendedKeyUsageOID.CLIENT_AUTH})}
    else:
        expected = EXPECTED_DIFF[defect]
    assert _diff(_facts(bad, pki_ca.cert), baseline) == expected


def test_bad_certs_are_issued_by_whom_they_claim(pki_ca: TestCA) -> None:
    unrelated = pki_ca.issue_client_cert("d", defect=CertDefect.UNRELATED_CA)
    assert unrelated.issuer is not None and unrelated.issuer.subject != pki_ca.cert.subject
    assert unrelated.issuer.public_key() != pki_ca.key.public_key()
    unrelated.cert.verify_directly_issued_by(unrelated.issuer)
    with pytest.raises(ValueError):
        unrelated.cert.verify_directly_issued_by(pki_ca.cert)
    self_signed = pki_ca.issue_client_cert("d", defect=CertDefect.SELF_SIGNED)
    assert self_signed.issuer == self_signed.cert
    self_signed.cert.verify_directly_issued_by(self_signed.cert)


def test_expired_and_not_yet_valid_windows_nest_inside_the_ca(pki_ca: TestCA) -> None:
    now = datetime.now(timezone.utc)
    for defect in (CertDefect.EXPIRED, CertDefect.NOT_YET_VALID):
        cert = pki_ca.issue_client_cert("d", defect=defect).cert
        assert pki_ca.cert.not_valid_before_utc <= cert.not_valid_before_utc
        assert cert.not_valid_after_utc <= pki_ca.cert.not_valid_after_utc
    expired = pki_ca.issue_client_cert("d", defect=CertDefect.EXPIRED).cert
    assert expired.not_valid_after_utc < now
    early = pki_ca.issue_client_cert("d", defect=CertDefect.NOT_YET_VALID).cert
    assert early.not_valid_before_utc > now


def test_explicit_dates_are_used(pki_ca: TestCA) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    cert = pki_ca.issue_client_cert("d", not_before=start, not_after=start + timedelta(days=2)).cert
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, start + timedelta(days=2))


def test_negative_serial_really_is_negative_in_the_der(pki_ca: TestCA) -> None:
    bad = pki_ca.issue_client_cert("d", defect=CertDefect.NEGATIVE_SERIAL)
    tbs = derlib.parse_tbs(derlib.split_certificate(bad.cert_der()).tbs)
    serial_tlv = tbs.fields[1]  # after the [0] version
    assert serial_tlv.tag == derlib.TAG_INTEGER and serial_tlv.value[0] & 0x80  # sign bit set
    assert tbs.serial < 0 and bad.cert.serial_number == tbs.serial
    assert isinstance(bad.cert, RawCertificate)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no CryptographyDeprecationWarning from anything we touch
        bad.cert.verify_directly_issued_by(pki_ca.cert)
        assert bad.cert.fingerprint(hashes.SHA256()).hex() == bad.fingerprint_sha256()
        assert bad.cert.public_bytes(serialization.Encoding.PEM) == bad.cert_pem()
        pem_lines = bad.cert_pem().decode().splitlines()
        assert pem_lines[0] == "-----BEGIN CERTIFICATE-----" and pem_lines[-1] == "-----END CERTIFICATE-----"
        assert base64.b64decode("".join(pem_lines[1:-1])) == bad.cert_der()
        assert lint_rfc5280(bad.cert)[0].code == "serial-not-positive"


def test_v1_certificate_really_has_no_version_field_but_extensions(pki_ca: TestCA) -> None:
    bad = pki_ca.issue_client_cert("d", defect=CertDefect.V1_WITH_EXTENSIONS)
    tbs = derlib.parse_tbs(derlib.split_certificate(bad.cert_der()).tbs)
    assert not tbs.has_version_field and tbs.has_extensions
    assert bad.cert.version is x509.Version.v1
    assert len(bad.cert.extensions) == 5
    bad.cert.verify_directly_issued_by(pki_ca.cert)


@pytest.mark.skipif(not hasattr(ssl._ssl, "_test_decode_cert"), reason="CPython's OpenSSL test decoder is absent")
def test_openssl_reads_the_patched_fields_the_same_way(pki_ca: TestCA, tmp_path: Path) -> None:
    """A second, independent parser (OpenSSL) agrees on the serial and the version we wrote."""
    for defect, version in ((CertDefect.NEGATIVE_SERIAL, 3), (CertDefect.V1_WITH_EXTENSIONS, 1)):
        bad = pki_ca.issue_client_cert("d", defect=defect)
        path = tmp_path / f"{defect.value}.pem"
        path.write_bytes(bad.cert_pem())
        decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
        assert decoded["version"] == version
        assert int(decoded["serialNumber"], 16) == bad.cert.serial_number


def test_defect_knobs_are_checked(pki_ca: TestCA) -> None:
    with pytest.raises(ValueError, match="server certificates only"):
        pki_ca.issue_client_cert("d", defect=CertDefect.WRONG_HOST)
    with pytest.raises(ValueError, match="RSA-1024"):
        pki_ca.issue_client_cert("d", key=generate_key(), defect=CertDefect.RSA_1024)
    with pytest.raises(ValueError, match="unknown certificate defect"):
        pki_ca.issue_client_cert("d", defect="bogus")
    assert pki_ca.issue_client_cert("d", defect="rsa-1024").key_type is KeyType.RSA1024


# ----- lint ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("defect", list(CertDefect), ids=lambda d: d.value)
def test_lint_flags_each_defect_with_its_code_and_nothing_else(pki_ca: TestCA, defect: CertDefect) -> None:
    role = "server" if defect is CertDefect.WRONG_HOST else "client"
    issue = pki_ca.issue_server_cert if role == "server" else pki_ca.issue_client_cert
    bad = issue("localhost", defect=defect) if role == "server" else issue("d", defect=defect)
    code = lint_code_for(defect, role)
    findings = lint_rfc5280(bad.cert, role=role)  # type: ignore[arg-type]
    assert _error_and_warning_codes(findings) == ({code} if code else set())


def test_lint_flags_wrong_eku_on_a_server_cert(pki_ca: TestCA) -> None:
    bad = pki_ca.issue_server_cert(defect=CertDefect.WRONG_EKU)
    findings = lint_rfc5280(bad.cert, role="server")
    assert [(f.code, f.severity) for f in findings] == [("eku-missing-server-auth", "warning")]


def test_lint_severities_follow_the_digest(pki_ca: TestCA) -> None:
    severity = {
        d: {f.code: f.severity for f in lint_rfc5280(pki_ca.issue_client_cert("d", defect=d).cert)}
        for d in (CertDefect.CA_TRUE_LEAF, CertDefect.SELF_SIGNED, CertDefect.RSA_1024, CertDefect.NEGATIVE_SERIAL)
    }
    assert severity[CertDefect.CA_TRUE_LEAF] == {"ca-flag-on-leaf": "warning"}  # DIGEST 5.1: never an error
    assert severity[CertDefect.SELF_SIGNED] == {"self-signed-leaf": "warning"}
    assert severity[CertDefect.RSA_1024] == {"rsa-key-too-small": "warning"}  # DIGEST 5.1: warn below 2048
    assert severity[CertDefect.NEGATIVE_SERIAL] == {"serial-not-positive": "error"}


def test_lint_uses_the_given_clock(pki_ca: TestCA) -> None:
    cert = pki_ca.issue_client_cert("d").cert
    assert [f.code for f in lint_rfc5280(cert, now=cert.not_valid_after_utc + timedelta(seconds=1))] == ["expired"]
    naive_before = (cert.not_valid_before_utc - timedelta(seconds=1)).replace(tzinfo=None)
    assert [f.code for f in lint_rfc5280(cert, now=naive_before)] == ["not-yet-valid"]


def _resigned(cert: x509.Certificate, signer: Any, **changes: int) -> x509.Certificate:
    parts = derlib.split_certificate(cert.public_bytes(serialization.Encoding.DER))
    tbs = derlib.rebuild_tbs(parts.tbs, **changes)
    return x509.load_der_x509_certificate(
        derlib.assemble_certificate(tbs, parts.signature_algorithm.encoded, sign_for_certificate(signer, tbs))
    )


def test_lint_flags_a_serial_longer_than_20_octets(pki_ca: TestCA) -> None:
    cert = _resigned(pki_ca.issue_client_cert("d").cert, pki_ca.key, serial=2**167 + 5)
    assert [f.code for f in lint_rfc5280(cert)] == ["serial-too-long"]
    cert = _resigned(pki_ca.issue_client_cert("d").cert, pki_ca.key, serial=2**158)
    assert lint_rfc5280(cert) == []  # 20 octets is the limit, not a violation


def test_lint_flags_disallowed_key_types(pki_ca: TestCA) -> None:
    p521_key = ec.generate_private_key(ec.SECP521R1())
    findings = lint_rfc5280(pki_ca.issue_client_cert("d", key=p521_key).cert)
    assert [(f.code, f.severity) for f in findings] == [("key-type-not-allowed", "error")]
    server = pki_ca.issue_server_cert(key=p521_key)
    assert lint_rfc5280(server.cert, role="server") == []  # CERT-11 binds client certificates


def _bare_leaf(ca: TestCA, *extensions: x509.ExtensionType) -> x509.Certificate:
    key = generate_key()
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bare")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]


def test_lint_reports_absent_optional_extensions_as_info_only(pki_ca: TestCA) -> None:
    findings = lint_rfc5280(_bare_leaf(pki_ca))
    assert {(f.code, f.severity) for f in findings} == {("key-usage-absent", "info"), ("eku-absent", "info")}
    server = {f.code: f.severity for f in lint_rfc5280(_bare_leaf(pki_ca), role="server")}
    assert server == {"key-usage-absent": "info", "eku-absent": "info", "san-missing": "warning"}


def test_lint_of_a_leaf_as_a_ca(pki_ca: TestCA) -> None:
    findings = lint_rfc5280(pki_ca.issue_client_cert("d").cert, role="ca")
    assert {f.code for f in findings} == {"ca-flag-not-set", "key-usage-missing-key-cert-sign"}
    bare = {f.code for f in lint_rfc5280(_bare_leaf(pki_ca), role="ca")}
    assert bare == {"missing-basic-constraints", "key-usage-missing-key-cert-sign"}


def test_lint_flags_key_cert_sign_on_a_leaf(pki_ca: TestCA) -> None:
    usage = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    findings = lint_rfc5280(_bare_leaf(pki_ca, usage, x509.BasicConstraints(ca=False, path_length=None)))
    assert "key-cert-sign-without-ca" in {f.code for f in findings}


def test_lint_codes_cite_the_requirement(pki_ca: TestCA) -> None:
    findings = lint_rfc5280(pki_ca.issue_client_cert("d", defect=CertDefect.V1_WITH_EXTENSIONS).cert)
    assert [(f.code, f.requirement) for f in findings] == [("not-v3", "CERT-09")]
    assert "extensions" in findings[0].detail


# ----- describe ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", LEAF_KEY_TYPES)
def test_describe_certificate_is_evidence_without_key_material(pki_ca: TestCA, key_type: KeyType) -> None:
    issued = pki_ca.issue_server_cert(key_type=key_type)
    info = describe_certificate(issued.cert)
    assert set(info) >= {"subject", "issuer", "serial", "not_before", "not_after", "key_type",
                         "sha256_fingerprint", "is_ca", "san"}
    assert all(isinstance(v, str) for v in info.values())
    assert info["key_type"] == key_type.value and info["is_ca"] == "false"
    assert info["sha256_fingerprint"] == issued.fingerprint_sha256()
    assert info["san"] == "DNS:localhost, IP:127.0.0.1, IP:::1"
    assert int(info["serial"], 16) == issued.cert.serial_number
    text = json.dumps(info)
    key_body = b"".join(issued.key_pem().splitlines()[1:-1]).decode()
    assert key_body[:40] not in text and "PRIVATE" not in text
    raw = issued.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    assert raw.hex()[-40:] not in text and base64.b64encode(raw).decode()[-40:] not in text


def test_describe_certificate_of_a_ca_and_of_a_negative_serial(pki_ca: TestCA) -> None:
    assert describe_certificate(pki_ca.cert)["is_ca"] == "true"
    bad = pki_ca.issue_client_cert("d", defect=CertDefect.NEGATIVE_SERIAL)
    assert describe_certificate(bad.cert)["serial"].startswith("-0x")


# ----- IssuedCert forms and files ------------------------------------------------------------------------


def test_issued_cert_forms(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_client_cert("d")
    der_bytes = issued.cert.public_bytes(serialization.Encoding.DER)
    assert issued.cert_der() == der_bytes
    assert base64.b64decode(issued.b64_der(), validate=True) == der_bytes
    assert base64.b64decode(issued.b64_pem(), validate=True) == issued.cert_pem()
    assert "\n" not in issued.b64_der() + issued.b64_pem()
    spki = issued.key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    assert issued.spki_sha256_hex() == hashlib.sha256(spki).hexdigest()
    assert issued.fingerprint_sha256() == hashlib.sha256(der_bytes).hexdigest()
    loaded = serialization.load_pem_private_key(issued.key_pem(), password=None)
    assert loaded.public_key() == issued.key.public_key()
    assert issued.key_pem().startswith(PKCS8_PEM_HEADER)
    assert base64.b64decode(pki_ca.b64_der()) == pki_ca.cert_der()
    assert base64.b64decode(pki_ca.b64_pem()) == pki_ca.cert_pem()


def test_write_files_keeps_the_key_private(pki_ca_with_intermediate: TestCA, tmp_path: Path) -> None:
    issued = pki_ca_with_intermediate.issue_server_cert()
    stale = tmp_path / "wfm.key"
    stale.write_bytes(b"old")
    stale.chmod(0o644)
    chain_path, key_path = issued.write_files(tmp_path, "wfm")
    assert key_path == stale and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == issued.key_pem()
    assert x509.load_pem_x509_certificates(chain_path.read_bytes()) == [issued.cert, *issued.chain]
    root_path = pki_ca_with_intermediate.write_cert_pem(tmp_path / "sub" / "root.pem")
    assert x509.load_pem_x509_certificate(root_path.read_bytes()) == pki_ca_with_intermediate.cert


def test_configure_cert_leaves_no_files_behind(pki_ca: TestCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki_ca.issue_server_cert().configure_cert(ctx)
    assert list(tmp_path.iterdir()) == []


def test_test_ca_is_not_collected_as_a_test_class() -> None:
    assert TestCA.__test__ is False


# ----- TLS on loopback -----------------------------------------------------------------------------------


@contextmanager
def _tls_server(issued: IssuedCert) -> Iterator[tuple[int, list[BaseException]]]:
    """One-connection TLS server on 127.0.0.1 in a thread; yields its port and the errors it saw."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    issued.configure_cert(ctx)
    errors: list[BaseException] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(SOCKET_TIMEOUT)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(SOCKET_TIMEOUT)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], errors
    finally:
        thread.join(SOCKET_TIMEOUT)
        listener.close()


def _client_hello(port: int, ca: TestCA, server_hostname: str) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    assert ctx.check_hostname and ctx.verify_mode is ssl.CERT_REQUIRED
    ca.configure_trust(ctx)
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.recv(5)


@pytest.mark.parametrize("intermediate", [False, True], ids=["root-only", "with-intermediate"])
@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_tls_handshake_with_a_test_ca(intermediate: bool, hostname: str) -> None:
    ca = TestCA(intermediate=intermediate)
    with _tls_server(ca.issue_server_cert()) as (port, server_errors):
        assert _client_hello(port, ca, hostname) == b"hello"
    assert server_errors == []


@pytest.mark.parametrize("key_type", [KeyType.P384, KeyType.RSA2048, KeyType.ED25519])
def test_tls_handshake_per_server_key_type(pki_ca: TestCA, key_type: KeyType) -> None:
    with _tls_server(pki_ca.issue_server_cert(key_type=key_type)) as (port, _):
        assert _client_hello(port, pki_ca, "localhost") == b"hello"


def test_tls_handshake_for_a_given_name(pki_ca: TestCA) -> None:
    with _tls_server(pki_ca.issue_server_cert("wfm.example.test")) as (port, _):
        assert _client_hello(port, pki_ca, "wfm.example.test") == b"hello"


@pytest.mark.parametrize(
    ("defect", "message"),
    [
        (CertDefect.WRONG_HOST, "Hostname mismatch"),
        (CertDefect.UNRELATED_CA, "unable to get local issuer certificate"),
        (CertDefect.EXPIRED, "certificate has expired"),
    ],
    ids=lambda v: v.value if isinstance(v, CertDefect) else None,
)
def test_tls_handshake_fails_for_a_bad_server_cert(pki_ca: TestCA, defect: CertDefect, message: str) -> None:
    with _tls_server(pki_ca.issue_server_cert(defect=defect)) as (port, _):
        with pytest.raises(ssl.SSLCertVerificationError) as excinfo:
            _client_hello(port, pki_ca, "localhost")
    assert message in str(excinfo.value)


def test_tls_without_the_intermediate_fails(pki_ca_with_intermediate: TestCA) -> None:
    """Proves the success case above really depends on the chain being sent (TLS-06)."""
    server = pki_ca_with_intermediate.issue_server_cert()
    leaf_only = IssuedCert(server.cert, server.key)
    with _tls_server(leaf_only) as (port, _):
        with pytest.raises(ssl.SSLCertVerificationError):
            _client_hello(port, pki_ca_with_intermediate, "localhost")


# ----- encodings and the decoder -------------------------------------------------------------------------

STRICT_FORMS = [CertEncoding.PEM, CertEncoding.DER, CertEncoding.B64_DER, CertEncoding.B64_PEM]
LENIENT_ONLY_FORMS = [CertEncoding.B64_DER_WRAPPED, CertEncoding.B64URL_DER_NOPAD]


@pytest.mark.parametrize("form", list(CertEncoding), ids=lambda f: f.value)
def test_every_encoding_round_trips_with_its_form(pki_ca: TestCA, form: CertEncoding) -> None:
    cert = pki_ca.issue_client_cert("d").cert
    wire = encode_certificate(cert, form)
    inputs: list[str | bytes] = [wire] if form is CertEncoding.DER else [wire, wire.decode("ascii")]
    for value in inputs:
        lenient = decode_certificate(value, strict=False)
        assert (lenient.certificate, lenient.form) == (cert, form)
        if form in STRICT_FORMS:
            strict = decode_certificate(value)
            assert (strict.certificate, strict.form, strict.notes) == (cert, form, ())
        else:
            assert lenient.notes


def test_wire_forms_look_as_named(pki_ca: TestCA) -> None:
    cert = pki_ca.issue_client_cert("d").cert
    assert encode_certificate(cert, CertEncoding.B64_DER).startswith(b"MII")
    assert encode_certificate(cert, CertEncoding.B64_PEM).startswith(b"LS0tLS1CRUdJTi")
    wrapped = encode_certificate(cert, CertEncoding.B64_DER_WRAPPED).split(b"\n")
    assert len(wrapped) > 1 and all(len(line) == 64 for line in wrapped[:-1])
    url = encode_certificate(cert, CertEncoding.B64URL_DER_NOPAD)
    assert b"=" not in url and b"+" not in url and b"/" not in url
    assert base64.urlsafe_b64decode(url + b"=" * (-len(url) % 4)) == cert.public_bytes(serialization.Encoding.DER)


def test_issued_wire_values_decode_strictly(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_client_cert("d")
    assert decode_certificate(issued.b64_der()).form is CertEncoding.B64_DER
    assert decode_certificate(issued.b64_pem()).form is CertEncoding.B64_PEM
    assert decode_certificate(pki_ca.b64_der()).certificate == pki_ca.cert


def _url_safe_with_markers(ca: TestCA) -> bytes:
    """A URL-safe encoding that really contains '-' or '_' (almost always; retried to be certain)."""
    for _ in range(20):
        url = encode_certificate(ca.issue_client_cert("d").cert, CertEncoding.B64URL_DER_NOPAD)
        if b"-" in url or b"_" in url:
            return url
    raise AssertionError("no URL-safe character in 20 certificates")


def test_strict_mode_rejections_name_the_rule(pki_ca: TestCA) -> None:
    cert = pki_ca.issue_client_cert("d").cert
    flat = encode_certificate(cert, CertEncoding.B64_DER).decode()
    cases = {
        "base64-whitespace": [encode_certificate(cert, CertEncoding.B64_DER_WRAPPED), flat + "\n", " " + flat],
        "base64url-alphabet": [_url_safe_with_markers(pki_ca)],
        "base64-padding": ["MAMCAQ", "MAMCAQ="],  # base64(30 03 02 01) is "MAMCAQ=="
        "not-base64": [flat.replace("A", "-", 1).replace("B", "+", 1) + "-+", "MIIé" + flat, "===="],
    }
    for reason, values in cases.items():
        for value in values:
            with pytest.raises(CertificateDecodeError) as excinfo:
                decode_certificate(value)
            assert excinfo.value.reason == reason, (value, excinfo.value)
            assert str(excinfo.value)


def test_lenient_mode_says_what_it_forgave(pki_ca: TestCA) -> None:
    cert = pki_ca.issue_client_cert("d").cert
    wrapped = decode_certificate(encode_certificate(cert, CertEncoding.B64_DER_WRAPPED), strict=False)
    assert any("line breaks" in n for n in wrapped.notes)
    url = decode_certificate(_url_safe_with_markers(pki_ca), strict=False)
    assert url.form is CertEncoding.B64URL_DER_NOPAD and any("URL-safe" in n for n in url.notes)


def test_non_certificates_are_rejected_with_their_reasons() -> None:
    values = non_certificates()
    assert set(values) == {"not-base64", "base64-random-bytes", "truncated-der", "pem-private-key", "csr", "empty"}
    assert set(values) == set(NON_CERTIFICATE_REASONS)
    for name, value in values.items():
        assert isinstance(value, str) and "\n" not in value
        for strict in (True, False):
            with pytest.raises(CertificateDecodeError) as excinfo:
                decode_certificate(value, strict=strict)
            assert excinfo.value.reason == NON_CERTIFICATE_REASONS[name], (name, strict, excinfo.value)


def test_non_certificates_really_are_what_they_say() -> None:
    values = non_certificates()
    key_pem = base64.b64decode(values["pem-private-key"])
    assert key_pem.startswith(PKCS8_PEM_HEADER)
    serialization.load_pem_private_key(key_pem, password=None)
    x509.load_der_x509_csr(base64.b64decode(values["csr"]))
    truncated = base64.b64decode(values["truncated-der"])
    with pytest.raises(derlib.DerTruncated):
        derlib.read_tlv(truncated)
    assert len(base64.b64decode(values["base64-random-bytes"])) == 256
    assert values["empty"] == ""


def test_decoder_recognises_keys_csrs_and_bundles(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_client_cert("d")
    other = pki_ca.issue_client_cert("e")
    key_der = issued.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    encrypted = issued.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"pw"))
    rsa_pem = cached_key(KeyType.RSA2048, "pki-test").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    csr = x509.CertificateSigningRequestBuilder().subject_name(issued.cert.subject).sign(issued.key, hashes.SHA256())
    cases: dict[str, list[str | bytes]] = {
        "private-key-not-certificate": [issued.key_pem(), key_der, encrypted, rsa_pem,
                                        base64.b64encode(key_der).decode(),
                                        issued.cert_pem() + issued.key_pem()],
        "csr-not-certificate": [csr.public_bytes(serialization.Encoding.PEM),
                                csr.public_bytes(serialization.Encoding.DER)],
        "multiple-certificates": [issued.cert_pem() + other.cert_pem(),
                                  base64.b64encode(issued.cert_pem() + other.cert_pem()).decode(),
                                  issued.cert_der() + other.cert_der()],
        "truncated-der": [issued.cert_der()[:-10], issued.cert_der()[:3]],
        "not-a-certificate": [issued.cert_der() + b"\x00\x01", b"\x00\x01\x02\x03\xff",
                              b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                              b"-----BEGIN CERTIFICATE-----\nMIIB",
                              "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"],
        "empty": ["", b"", "   ", b"\n"],
        "too-large": ["A" * (MAX_DECODE_INPUT + 4)],
    }
    for reason, values in cases.items():
        for value in values:
            with pytest.raises(CertificateDecodeError) as excinfo:
                decode_certificate(value)
            assert excinfo.value.reason == reason, (reason, value[:60], excinfo.value)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("wrap", ["pem", "base64-pem", "base64-der-concatenated"])
def test_a_bundle_is_refused_in_both_modes(pki_ca: TestCA, strict: bool, wrap: str) -> None:
    """Exactly one certificate means exactly one (issue 10): lenient mode forgives encodings, never a bundle."""
    first, second = pki_ca.issue_client_cert("a"), pki_ca.issue_client_cert("b")
    bundle = first.cert_pem() + second.cert_pem()
    value = {"pem": bundle.decode(),
             "base64-pem": base64.b64encode(bundle).decode(),
             "base64-der-concatenated": base64.b64encode(first.cert_der() + second.cert_der()).decode()}[wrap]
    with pytest.raises(CertificateDecodeError) as excinfo:
        decode_certificate(value, strict=strict)
    assert excinfo.value.reason == "multiple-certificates"


def _self_signed_ca_flag_cert() -> x509.Certificate:
    """What `openssl req -x509` makes with its default configuration: self-signed, basicConstraints cA=TRUE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev")])
    now = datetime.now(timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def test_lint_reports_the_ca_flag_of_a_self_signed_certificate_as_info() -> None:
    findings = {f.code: f.severity for f in lint_rfc5280(_self_signed_ca_flag_cert())}
    assert findings["ca-flag-self-signed"] == "info"
    assert "ca-flag-on-leaf" not in findings
    assert not [code for code, severity in findings.items() if severity == "error"]


def test_pem_with_explanatory_text(pki_ca: TestCA) -> None:
    issued = pki_ca.issue_client_cert("d")
    decoded = decode_certificate(b"subject=CN=d\n" + issued.cert_pem())
    assert decoded.certificate == issued.cert and decoded.form is CertEncoding.PEM and decoded.notes


def test_decoder_keeps_rfc5280_violations_for_the_lint(pki_ca: TestCA) -> None:
    """Bad-but-parseable certificates decode; judging them is lint's job (same for every defect)."""
    for defect in (CertDefect.NEGATIVE_SERIAL, CertDefect.V1_WITH_EXTENSIONS):
        bad = pki_ca.issue_client_cert("d", defect=defect)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            decoded = decode_certificate(bad.b64_der())
            assert decoded.form is CertEncoding.B64_DER
            assert decoded.certificate.serial_number == bad.cert.serial_number
            assert decoded.certificate.public_bytes(serialization.Encoding.DER) == bad.cert_der()
            assert lint_code_for(defect) in {f.code for f in lint_rfc5280(decoded.certificate)}
            decoded.certificate.verify_directly_issued_by(pki_ca.cert)


def _assert_decode_fails_cleanly(value: str | bytes, strict: bool) -> None:
    """Decoding fails with a named reason, or succeeds and lint and describe can judge the result."""
    try:
        decoded = decode_certificate(value, strict=strict)
    except CertificateDecodeError as exc:
        assert exc.reason in DECODE_REASONS, exc.reason
        assert str(exc)
        # a named reason, not the catch-all guard in decode_certificate (which chains the original error)
        assert exc.__cause__ is None, repr(exc.__cause__)
    else:
        for role in ("client", "server", "ca"):
            assert all(f.code for f in lint_rfc5280(decoded.certificate, role=role))  # type: ignore[arg-type]
        assert all(isinstance(v, str) for v in describe_certificate(decoded.certificate).values())


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=400), strict=st.booleans())
def test_decoder_never_raises_anything_else_on_text(value: str, strict: bool) -> None:
    _assert_decode_fails_cleanly(value, strict)


@settings(max_examples=300, deadline=None)
@given(value=st.binary(max_size=400), strict=st.booleans())
def test_decoder_never_raises_anything_else_on_bytes(value: bytes, strict: bool) -> None:
    _assert_decode_fails_cleanly(value, strict)


_MUTATION_SOURCE = TestCA().issue_client_cert("fuzz")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), form=st.sampled_from(list(CertEncoding)), strict=st.booleans())
def test_decoder_never_raises_anything_else_on_damaged_certificates(data: st.DataObject, form: CertEncoding,
                                                                    strict: bool) -> None:
    wire = bytearray(encode_certificate(_MUTATION_SOURCE.cert, form))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(wire) - 1)))
        if action == "flip" and wire:
            wire[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del wire[pos:]
        else:
            wire[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    _assert_decode_fails_cleanly(bytes(wire), strict)
    try:
        text = bytes(wire).decode("utf-8")
    except UnicodeDecodeError:
        return
    _assert_decode_fails_cleanly(text, strict)


def test_decoder_survives_odd_inputs() -> None:
    for value in ["\x00" * 100, "A" * MAX_DECODE_INPUT, "-----BEGIN CERTIFICATE-----" * 1000,
                  "-----END CERTIFICATE-----", "\u202e\ufeffMII", "=" * 3, "A=A=", "AAAAA"]:
        _assert_decode_fails_cleanly(value, True)
        _assert_decode_fails_cleanly(value, False)
    with pytest.raises(CertificateDecodeError) as excinfo:
        decode_certificate(12345)  # type: ignore[arg-type]
    assert excinfo.value.reason == "not-a-certificate"
