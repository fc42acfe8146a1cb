"""Load the verification key a vendor hands the signature doctor: a certificate or a public key, PEM or DER.

Private keys are refused on purpose: the doctor never needs one, and accepting them would invite vendors
to paste device secrets into tickets.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .algorithms import PublicKey

_PRIVATE_MARKERS = (b"PRIVATE KEY-----",)


def load_verification_key(data: bytes) -> PublicKey:
    """The public key in ``data``: PEM/DER certificate (the leaf, when a PEM chain), SPKI public key, or
    PKCS#1 ``RSA PUBLIC KEY``. Raises ValueError with a one-line reason otherwise."""
    if not data.strip():
        raise ValueError("the key file is empty")
    if any(marker in data for marker in _PRIVATE_MARKERS):
        raise ValueError("this is a private key; give the certificate or the public key instead")
    if b"-----BEGIN" in data:
        key = _from_pem(data)
    else:
        key = _from_der(data)
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise ValueError(f"{type(key).__name__} keys cannot verify an RFC 9421 / Margo signature")
    return key


def _from_pem(data: bytes) -> object:
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return x509.load_pem_x509_certificates(data)[0].public_key()
        except ValueError as exc:
            raise ValueError(f"the PEM certificate cannot be read: {exc}") from None
    if b"-----BEGIN CERTIFICATE REQUEST-----" in data:
        raise ValueError("this is a certificate signing request, not a certificate or public key")
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"the PEM file holds no certificate or public key we can read ({exc})") from None


def _from_der(data: bytes) -> object:
    try:
        return x509.load_der_x509_certificate(data).public_key()
    except ValueError:
        pass
    try:
        return serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    raise ValueError("not a certificate or public key (tried PEM, DER certificate, DER public key)")
