"""The device's own X.509-SVID: read from its files, checked for the client shape, and what it implies.

The expected WFM identity is derived from it (MID-04): ``spiffe://<td>/margo/wfm/<wfm-id>`` with ``<td>`` and
``<wfm-id>`` taken from the device's own ``spiffe://<td>/margo/wfm/<wfm-id>/client/<id>``. The files are
re-read when their content changes (``fingerprint``); a half-written rotation raises ``ConfigError`` and the
caller keeps the SVID it has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ...errors import ConfigError
from ...pki.spiffe import SpiffeId, SpiffeIdError, classify_client_svid, uri_sans, wfm_spiffe_id


@dataclass(frozen=True)
class SvidPaths:
    """Where the SVID lives: the leaf (optionally followed by intermediates), its key, optional intermediates."""

    cert: Path
    key: Path
    chain: Path | None = None

    def files(self) -> tuple[Path, ...]:
        return (self.cert, self.key) + ((self.chain,) if self.chain is not None else ())

    def fingerprint(self) -> str:
        """A hash of the files' contents ("missing" for an absent one): changes when the SVID is rotated."""
        digest = hashlib.sha256()
        for path in self.files():
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\0missing\0")
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class OwnSvid:
    """A loaded SVID: the leaf, the intermediates to present after it, the key PEM, and its IDs."""

    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    key: Any  # the private key object (never written anywhere but a private temporary file for OpenSSL)
    spiffe_id: str
    trust_domain: str
    wfm_id: str
    client_id: str
    fingerprint: str

    @property
    def expected_wfm_id(self) -> str:
        """The only WFM SPIFFE ID this device accepts (MID-04)."""
        return wfm_spiffe_id(self.trust_domain, self.wfm_id)

    def chain_pem(self, *, with_intermediates: bool = True) -> bytes:
        certs = (self.leaf, *self.intermediates) if with_intermediates else (self.leaf,)
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None


def _certificates(data: bytes, path: Path, what: str) -> list[x509.Certificate]:
    if not data.strip():
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"the {what} file {path} does not hold PEM certificates") from None


def load_svid(paths: SvidPaths) -> OwnSvid:
    """Read and check the SVID files; ConfigError names the file and what is wrong with it."""
    fingerprint = paths.fingerprint()
    certs = _certificates(_read(paths.cert, "SVID certificate"), paths.cert, "SVID certificate")
    if not certs:
        raise ConfigError(f"the SVID certificate file {paths.cert} holds no certificate")
    leaf, intermediates = certs[0], certs[1:]
    if paths.chain is not None:  # appended after the leaf; one already in the certificate file is not sent twice
        for cert in _certificates(_read(paths.chain, "SVID chain"), paths.chain, "SVID chain"):
            if cert not in intermediates and cert != leaf:
                intermediates.append(cert)
    key_pem = _read(paths.key, "SVID key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the SVID key file {paths.key} is not an unencrypted PEM private key ({exc})") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            leaf.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise ConfigError(f"the SVID key {paths.key} does not belong to the certificate {paths.cert}")
    sans = uri_sans(leaf)
    if len(sans) != 1:
        raise ConfigError(f"the SVID {paths.cert} has {len(sans)} URI SANs; an X.509-SVID has exactly one (SVID-02)")
    try:
        sid = SpiffeId.parse(sans[0])
    except SpiffeIdError as exc:
        raise ConfigError(f"the SVID {paths.cert} carries no valid SPIFFE ID: {exc}") from None
    seg = sid.segments
    if len(seg) != 5 or seg[:2] != ("margo", "wfm") or seg[3] != "client":
        raise ConfigError(f"the SVID {paths.cert} is {sid}, not a WFM client SVID "
                          "spiffe://<td>/margo/wfm/<wfm-id>/client/<id>")
    shape = classify_client_svid(leaf, trust_domain=sid.trust_domain, wfm_id=seg[2])
    if not shape.accepted:
        raise ConfigError(f"the SVID {paths.cert} ({sid}) is not a valid client SVID: {shape.reason}")
    return OwnSvid(leaf=leaf, intermediates=tuple(intermediates), key=key, spiffe_id=str(sid),
                   trust_domain=sid.trust_domain, wfm_id=seg[2], client_id=seg[4], fingerprint=fingerprint)
