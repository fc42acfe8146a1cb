"""Certificate wire encodings, values that are not certificates, and a decoder that says what it found.

The spec leaves the ``certificate`` encoding ambiguous (CERT-04, ONB-05, Q-09): base64(DER) and
base64(PEM) are both in the field. A judge must accept both, report which it saw, and reject everything
else with a reason a vendor can act on. :func:`decode_certificate` runs on attacker input inside the
simulated WFM, so it raises :class:`CertificateDecodeError` and nothing else, whatever it is given.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from . import der
from .issued import certificate_der, nonpositive_serial_certificate

__all__ = [
    "CertEncoding",
    "CertificateDecodeError",
    "DecodedCertificate",
    "DECODE_REASONS",
    "MAX_DECODE_INPUT",
    "NON_CERTIFICATE_REASONS",
    "decode_certificate",
    "encode_certificate",
    "non_certificates",
]


class CertEncoding(str, Enum):
    PEM = "pem"
    DER = "der"
    B64_DER = "base64-der"
    B64_PEM = "base64-pem"
    B64_DER_WRAPPED = "base64-der-wrapped"  # base64 with line breaks every 64 characters
    B64URL_DER_NOPAD = "base64url-der-nopad"  # URL-safe alphabet, no padding


def encode_certificate(cert: x509.Certificate, form: CertEncoding | str) -> bytes:
    """The bytes of the wire value in ``form`` (ASCII for every form except DER)."""
    form = CertEncoding(form)
    der_bytes = certificate_der(cert)
    if form is CertEncoding.DER:
        return der_bytes
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if form is CertEncoding.PEM:
        return pem
    if form is CertEncoding.B64_PEM:
        return base64.b64encode(pem)
    if form is CertEncoding.B64_DER:
        return base64.b64encode(der_bytes)
    if form is CertEncoding.B64_DER_WRAPPED:
        flat = base64.b64encode(der_bytes)
        return b"\n".join(flat[i : i + 64] for i in range(0, len(flat), 64))
    return base64.urlsafe_b64encode(der_bytes).rstrip(b"=")


# ----- values that are not certificates ------------------------------------------------------------------

#: The reason :func:`decode_certificate` gives for each value of :func:`non_certificates`.
NON_CERTIFICATE_REASONS: dict[str, str] = {
    "not-base64": "not-base64",
    "base64-random-bytes": "not-a-certificate",
    "truncated-der": "truncated-der",
    "pem-private-key": "private-key-not-certificate",
    "csr": "csr-not-certificate",
    "empty": "empty",
}


def non_certificates() -> dict[str, str]:
    """Values for the onboarding ``certificate`` field that are not a certificate, each the string to put
    in the JSON field (base64 on one line, like a real certificate, unless the point is that it is not).

    The private key is a throwaway generated here; nothing belongs to a real identity.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-a-certificate")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_der = certificate_der(cert)
    # Random bytes that cannot start like DER (0x30) or PEM ("-"), so the expected reason is stable.
    noise = bytes([0x04]) + os.urandom(255)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return {
        "not-base64": "*** this is not base64 ***",
        "base64-random-bytes": b64(noise),
        "truncated-der": b64(cert_der[: len(cert_der) // 2]),
        "pem-private-key": b64(key_pem),
        "csr": b64(csr.public_bytes(serialization.Encoding.DER)),
        "empty": "",
    }


# ----- decoding ------------------------------------------------------------------------------------------

#: Every reason :class:`CertificateDecodeError` may carry (stable kebab-case codes).
DECODE_REASONS = frozenset(
    {
        "not-base64",
        "base64-whitespace",
        "base64url-alphabet",
        "base64-padding",  # standard alphabet but missing or misplaced '=' (strict only)
        "not-a-certificate",
        "private-key-not-certificate",
        "csr-not-certificate",
        "truncated-der",
        "multiple-certificates",
        "empty",
        "too-large",
    }
)

#: Inputs above this size are refused before any work: a certificate is a few kilobytes.
MAX_DECODE_INPUT = 256 * 1024


class CertificateDecodeError(ValueError):
    """Not one usable certificate; ``reason`` is a stable kebab-case code, ``str(e)`` a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DecodedCertificate:
    certificate: x509.Certificate
    form: CertEncoding  # what was found
    notes: tuple[str, ...] = ()  # what a lenient decode forgave, or other observations


def decode_certificate(data: str | bytes, *, strict: bool = True) -> DecodedCertificate:
    """Decode one certificate from a wire value and say which encoding it was in.

    strict (CERT-04): base64 must use the standard alphabet with padding and no whitespace; the decoded
    bytes are PEM when they start with ``-----BEGIN``, else DER. Raw PEM or DER (not base64) is recognised
    and reported as PEM/DER. Exactly one certificate. Lenient mode forgives whitespace, the URL-safe
    alphabet and missing padding, and says so in ``notes``; a bundle of several certificates is refused in both
    modes (DIGEST 5.1: "a single leaf certificate only").
    """
    try:
        return _decode(data, strict)
    except CertificateDecodeError:
        raise
    except Exception as exc:  # attacker input must never become a traceback in the WFM
        raise CertificateDecodeError(
            "not-a-certificate", f"could not be decoded as a certificate ({type(exc).__name__})"
        ) from exc


#: What cryptography's loaders raise on bytes that are not what they load.
_LOAD_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion)

_BASE64_STD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BASE64_URL_ONLY = frozenset("-_")
_WHITESPACE = frozenset(" \t\r\n\f\v")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def _decode(data: str | bytes, strict: bool) -> DecodedCertificate:
    if not isinstance(data, (str, bytes, bytearray, memoryview)):
        raise CertificateDecodeError("not-a-certificate", f"expected text or bytes, got {type(data).__name__}")
    if len(data) > MAX_DECODE_INPUT:
        raise CertificateDecodeError(
            "too-large", f"{len(data)} characters is far more than a certificate (limit {MAX_DECODE_INPUT})"
        )
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if not raw.strip():
            raise CertificateDecodeError("empty", "the value is empty")
        if not set(raw) <= _TEXT_BYTES:
            return _from_der(raw, CertEncoding.DER, [], strict)  # binary: raw DER or garbage
        text = raw.decode("ascii")
    else:
        text = data
    if not text.strip():
        raise CertificateDecodeError("empty", "the value is empty")
    if text.lstrip().startswith("-----BEGIN"):
        return _from_pem(text, CertEncoding.PEM, [], strict)
    if "-----BEGIN " in text:  # RFC 7468 allows explanatory text before the block
        return _from_pem(text, CertEncoding.PEM, ["text before the PEM block was ignored"], strict)
    return _from_base64(text, strict)


def _from_base64(text: str, strict: bool) -> DecodedCertificate:
    chars = set(text)
    allowed = _BASE64_STD | _BASE64_URL_ONLY | _WHITESPACE | {"="}
    if not chars <= allowed:
        bad = sorted(chars - allowed)[:5]
        raise CertificateDecodeError(
            "not-base64", f"characters outside the base64 alphabet: {', '.join(repr(c) for c in bad)}"
        )
    notes: list[str] = []
    wrapped = bool(chars & _WHITESPACE)
    if wrapped:
        if strict:
            what = "line breaks" if chars & {"\n", "\r"} else "whitespace"
            raise CertificateDecodeError(
                "base64-whitespace", f"base64 contains {what}; CERT-04 requires base64 without line breaks"
            )
        notes.append("base64 contained line breaks or whitespace")
        text = "".join(c for c in text if c not in _WHITESPACE)
        chars = set(text)
        if not text:
            raise CertificateDecodeError("empty", "the value is empty")
    url = bool(chars & _BASE64_URL_ONLY)
    if url:
        if chars & {"+", "/"}:
            raise CertificateDecodeError("not-base64", "base64 mixes the standard and the URL-safe alphabet")
        if strict:
            raise CertificateDecodeError(
                "base64url-alphabet", "base64 uses the URL-safe alphabet ('-', '_'); the standard one is required"
            )
        notes.append("base64 used the URL-safe alphabet")
        text = text.translate(str.maketrans("-_", "+/"))
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if "=" in body or padding > 2 or len(body) % 4 == 1:
        raise CertificateDecodeError("not-base64", "'=' padding is misplaced or the length is impossible")
    expected_padding = (-len(body)) % 4
    if padding != expected_padding:
        if strict:
            raise CertificateDecodeError(
                "base64-padding", f"base64 has {padding} padding characters, {expected_padding} expected"
            )
        if padding == 0 and not url:
            notes.append("base64 padding was missing")
        text = body + "=" * expected_padding
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CertificateDecodeError("not-base64", f"invalid base64: {exc}") from None
    if not decoded.strip():
        raise CertificateDecodeError("empty", "the base64 decodes to nothing")
    if decoded.lstrip().startswith(b"-----BEGIN"):
        if not set(decoded) <= _TEXT_BYTES:
            raise CertificateDecodeError("not-a-certificate", "the decoded PEM text contains binary bytes")
        return _from_pem(decoded.decode("ascii"), CertEncoding.B64_PEM, notes, strict)
    if url:
        form = CertEncoding.B64URL_DER_NOPAD
    elif wrapped:
        form = CertEncoding.B64_DER_WRAPPED
    else:
        form = CertEncoding.B64_DER
    return _from_der(decoded, form, notes, strict)


_PEM_BOUNDARY = re.compile(r"-----(BEGIN|END) ([A-Z0-9 ]{0,64})-----")


def _from_pem(text: str, form: CertEncoding, notes: list[str], strict: bool) -> DecodedCertificate:
    blocks: list[tuple[str, str]] = []
    open_label: str | None = None
    body_start = 0
    last_end = 0
    for match in _PEM_BOUNDARY.finditer(text):
        kind, label = match.group(1), match.group(2)
        if kind == "BEGIN":
            if open_label is not None:
                raise CertificateDecodeError("not-a-certificate", f"PEM block '{open_label}' is not terminated")
            open_label, body_start = label, match.end()
        else:
            if open_label != label:
                raise CertificateDecodeError("not-a-certificate", f"PEM END '{label}' does not match its BEGIN")
            blocks.append((label, text[body_start : match.start()]))
            open_label, last_end = None, match.end()
    if open_label is not None or not blocks:
        raise CertificateDecodeError("not-a-certificate", "PEM block is not terminated (truncated?)")
    labels = [label for label, _ in blocks]
    if any("PRIVATE KEY" in label for label in labels):
        raise CertificateDecodeError(
            "private-key-not-certificate", "the value is a PEM private key, not a certificate (the key must stay on the device)"
        )
    certs = [body for label, body in blocks if label == "CERTIFICATE"]
    if not certs:
        if any(label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST") for label in labels):
            raise CertificateDecodeError("csr-not-certificate", "the value is a certificate signing request (CSR)")
        raise CertificateDecodeError("not-a-certificate", f"PEM holds {', '.join(labels)}, not a CERTIFICATE")
    notes = list(notes)
    if len(certs) > 1:  # never forgiven: a value that names two certificates does not say which one is meant
        raise CertificateDecodeError(
            "multiple-certificates", f"PEM bundle with {len(certs)} certificates; exactly one is expected"
        )
    others = [label for label in labels if label != "CERTIFICATE"]
    if others:
        if strict:
            raise CertificateDecodeError("not-a-certificate", f"PEM holds other blocks too: {', '.join(others)}")
        notes.append(f"PEM blocks ignored: {', '.join(others)}")
    if text[last_end:].strip():
        notes.append("text after the PEM block was ignored")
    body = "".join(c for c in certs[0] if c not in _WHITESPACE)
    try:
        der_bytes = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateDecodeError("not-a-certificate", "the PEM CERTIFICATE body is not valid base64") from None
    return _from_der(der_bytes, form, notes, strict)


def _from_der(data: bytes, form: CertEncoding, notes: list[str], strict: bool) -> DecodedCertificate:
    if not data:
        raise CertificateDecodeError("empty", "the certificate bytes are empty")
    # Serial checked first: cryptography warns (and will one day refuse) on loading a serial <= 0.
    raw = nonpositive_serial_certificate(data)
    if raw is not None:
        return DecodedCertificate(raw, form, (*notes, "serial number is not positive"))
    try:
        cert = x509.load_der_x509_certificate(data)
    except _LOAD_ERRORS as exc:
        raise _explain_der_failure(data, exc) from None
    return DecodedCertificate(cert, form, tuple(notes))


def _explain_der_failure(data: bytes, exc: Exception) -> CertificateDecodeError:
    """Turn "cryptography could not parse it" into the most specific reason we can prove."""
    if data[0] != der.TAG_SEQUENCE:
        return CertificateDecodeError(
            "not-a-certificate", f"the bytes are not a DER certificate (first octet {data[0]:#04x}, not a SEQUENCE)"
        )
    try:
        _, end = der.read_tlv(data, 0)
    except der.DerTruncated as err:
        return CertificateDecodeError("truncated-der", f"the DER is cut short: {err}")
    except der.DerError:
        return CertificateDecodeError("not-a-certificate", "the bytes are not DER")
    if end != len(data):
        try:
            second = der.read_single(data[end:])
            x509.load_der_x509_certificate(data[: end])
            x509.load_der_x509_certificate(second.encoded)
        except (der.DerError, *_LOAD_ERRORS):
            return CertificateDecodeError("not-a-certificate", f"{len(data) - end} bytes follow the DER element")
        return CertificateDecodeError("multiple-certificates", "two DER certificates were concatenated")
    try:
        x509.load_der_x509_csr(data)
    except _LOAD_ERRORS:
        pass
    else:
        return CertificateDecodeError("csr-not-certificate", "the value is a certificate signing request (CSR)")
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:  # an encrypted private key: still a private key
        return CertificateDecodeError("private-key-not-certificate", "the value is an encrypted private key")
    except (ValueError, UnsupportedAlgorithm):
        pass
    else:
        return CertificateDecodeError(
            "private-key-not-certificate", "the value is a DER private key, not a certificate"
        )
    detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return CertificateDecodeError("not-a-certificate", f"the DER is not an X.509 certificate ({detail})")
