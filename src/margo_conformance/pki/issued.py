"""An issued certificate with its key, in every form a peer or a TLS stack needs.

``RawCertificate`` stands in for an ``x509.Certificate`` whose serial is not positive (CERT-09 makes the
harness send and judge such certificates). ``cryptography`` 50 parses those lazily and warns on every
``serial_number`` access that a future release will refuse them outright; answering the serial from our own
DER parse keeps runs free of that warning and keeps working on the release that refuses.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from . import der
from .cert_defects import CertDefect
from .keys import KeyType, PrivateKey, key_type_of

__all__ = ["IssuedCert", "RawCertificate", "certificate_der", "der_to_pem", "nonpositive_serial_certificate"]


def der_to_pem(der_bytes: bytes, label: str = "CERTIFICATE") -> bytes:
    """RFC 7468 text: 64-column base64 between BEGIN/END lines, newline-terminated."""
    body = base64.b64encode(der_bytes).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode("ascii")


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class RawCertificate:
    """A certificate with a serial <= 0, answering like an ``x509.Certificate`` without touching
    ``cryptography``'s serial parsing.

    ``template`` is a loadable certificate with the same fields except the serial (the clean certificate the
    factory patched, or the same DER with a stand-in serial, see :meth:`from_der`). ``serial_number``,
    ``version``, ``tbs_certificate_bytes``, ``signature``, ``fingerprint``, ``public_bytes`` and
    ``verify_directly_issued_by`` are computed from the real bytes; every other attribute is the template's.
    It is not an ``x509.Certificate`` instance and cannot go to ``cryptography`` APIs that require one.
    """

    def __init__(self, der_bytes: bytes, template: x509.Certificate) -> None:
        parts = der.split_certificate(der_bytes)
        self._der = bytes(der_bytes)
        self._parts = parts
        self._tbs = der.parse_tbs(parts.tbs)
        self._template = template

    @classmethod
    def from_der(cls, der_bytes: bytes) -> RawCertificate:
        """Wrap any certificate DER: the template is the same certificate with a positive serial.

        The template's own signature no longer matches its TBS, which is harmless: signatures are always
        checked against this object's real TBS bytes. Raises ``der.DerError`` or ``ValueError``.
        """
        parts = der.split_certificate(der_bytes)
        serial = der.parse_tbs(parts.tbs).serial
        stand_in_tbs = der.rebuild_tbs(parts.tbs, serial=abs(serial) or 1)
        template_der = der.assemble_certificate(stand_in_tbs, parts.signature_algorithm.encoded, parts.signature)
        return cls(der_bytes, x509.load_der_x509_certificate(template_der))

    @property
    def template(self) -> x509.Certificate:
        """The clean certificate this one was derived from (same fields except the patched ones)."""
        return self._template

    @property
    def serial_number(self) -> int:
        return self._tbs.serial

    @property
    def version(self) -> x509.Version:
        return {0: x509.Version.v1, 2: x509.Version.v3}.get(self._tbs.version, x509.Version.v3)

    @property
    def tbs_certificate_bytes(self) -> bytes:
        return self._parts.tbs.encoded

    @property
    def signature(self) -> bytes:
        return self._parts.signature

    def public_bytes(self, encoding: serialization.Encoding) -> bytes:
        if encoding == serialization.Encoding.DER:
            return self._der
        if encoding == serialization.Encoding.PEM:
            return der_to_pem(self._der)
        raise ValueError(f"unsupported encoding {encoding!r}")

    def fingerprint(self, algorithm: hashes.HashAlgorithm) -> bytes:
        digest = hashes.Hash(algorithm)
        digest.update(self._der)
        return digest.finalize()

    def verify_directly_issued_by(self, issuer: x509.Certificate) -> None:
        """Same contract as ``x509.Certificate``: ValueError on a name mismatch, InvalidSignature on a bad one."""
        if self._template.issuer != issuer.subject:
            raise ValueError("Issuer certificate subject does not match certificate issuer.")
        public_key = issuer.public_key()
        params = self._template.signature_algorithm_parameters
        tbs, signature = self.tbs_certificate_bytes, self.signature
        if isinstance(public_key, rsa.RSAPublicKey):
            algorithm = self._template.signature_hash_algorithm
            if algorithm is None or not isinstance(params, (padding.PSS, padding.PKCS1v15)):
                raise TypeError("RSA signature without hash or padding")
            public_key.verify(signature, tbs, params, algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                raise TypeError("EC key but the signature algorithm is not ECDSA")
            public_key.verify(signature, tbs, params)
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(signature, tbs)
        else:
            raise TypeError(f"unsupported issuer key {type(public_key).__name__}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._template, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawCertificate):
            return self._der == other._der
        if isinstance(other, x509.Certificate):
            return self._der == certificate_der(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"<RawCertificate(subject={self._template.subject.rfc4514_string()!r}, serial={self.serial_number})>"


def nonpositive_serial_certificate(der_bytes: bytes) -> x509.Certificate | None:
    """A ``RawCertificate`` when the DER is a certificate with a serial <= 0, else None (never raises)."""
    try:
        if der.parse_tbs(der.split_certificate(der_bytes).tbs).serial > 0:
            return None
        return cast(x509.Certificate, RawCertificate.from_der(der_bytes))
    except (der.DerError, ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion):
        return None


@dataclass(frozen=True)
class IssuedCert:
    """A leaf (or intermediate) certificate, its private key and the intermediates a peer must be sent."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()
    #: The certificate of the CA whose key signed this one (itself when self-signed); for UNRELATED_CA the
    #: throwaway root. Lets tests and judges check the signature without guessing.
    issuer: x509.Certificate | None = None
    defect: CertDefect | None = None

    @property
    def key_type(self) -> KeyType:
        return key_type_of(self.key)

    def cert_der(self) -> bytes:
        return certificate_der(self.cert)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def chain_pem(self) -> bytes:
        """Leaf then intermediates: what a TLS server sends (TLS-06)."""
        return b"".join([self.cert_pem(), *(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)])

    def key_pem(self) -> bytes:
        """PKCS#8, unencrypted: only for key files of device state or TLS servers, never for a report."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def b64_der(self) -> str:
        """base64(DER) on one line: the default wire form (ONB-05, Q-09)."""
        return base64.b64encode(self.cert_der()).decode("ascii")

    def b64_pem(self) -> str:
        """base64(PEM text) on one line: the sandbox's form (Q-09)."""
        return base64.b64encode(self.cert_pem()).decode("ascii")

    def spki_sha256_hex(self) -> str:
        """Lower-case hex SHA-256 of the SubjectPublicKeyInfo DER: the default ``keyid`` (Q-02)."""
        spki = self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).hexdigest()

    def fingerprint_sha256(self) -> str:
        return hashlib.sha256(self.cert_der()).hexdigest()

    def write_files(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.pem`` (leaf + intermediates) and ``<stem>.key`` (mode 0600 from creation on)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        chain_path = directory / f"{stem}.pem"
        key_path = directory / f"{stem}.key"
        chain_path.write_bytes(self.chain_pem())
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(key_path, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its old mode under O_CREAT
            handle.write(self.key_pem())
        return chain_path, key_path

    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        """Load chain and key into a server context; ``load_cert_chain`` needs files, so they live only
        in a private temporary directory for the duration of the call."""
        with tempfile.TemporaryDirectory(prefix="margo-pki-") as tmp:
            chain_path, key_path = self.write_files(Path(tmp), "server")
            ctx.load_cert_chain(certfile=str(chain_path), keyfile=str(key_path))
