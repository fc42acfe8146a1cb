"""Who is calling: the client SPIFFE ID read from the TLS peer certificate, and nothing else (MID-07).

The TLS stack has already validated the chain against the bundle's anchors (MTLS-07, SVID-09/11). What OpenSSL
cannot be told to check is done here, once per connection, on the leaf: the exact client shape and the leaf
constraints (``classify_client_svid``: SVID-02/03/04/05/10, MID-01/02) and the key strength of Q-57 (RSA below
3072 bits, curves other than P-256/P-384, SHA-1 signatures; SVID-13/15). The result is a :class:`Caller`: the
canonical SPIFFE ID, or the reason the leaf is refused (``"SVID-04:ca"``), which the WFM answers with 403
``not-authorized`` and closes the connection (see ``app.py``).

The recognition defects relax exactly one of these steps (``defects.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ...pki.spiffe import SpiffeId, SpiffeIdError, classify_client_svid, client_spiffe_id, uri_sans
from . import defects as D

#: The caller a certificate-less connection is served as under ``miaf-no-client-cert-accepted`` only.
ANONYMOUS = "anonymous"
_CURVES = (ec.SECP256R1.name, ec.SECP384R1.name)
_MIN_RSA_BITS = 3072


@dataclass(frozen=True)
class Caller:
    """The outcome of recognising one connection's client: ``spiffe_id`` when it is a client, else ``reason``."""

    spiffe_id: str | None
    reason: str | None = None

    @property
    def recognised(self) -> bool:
        return self.spiffe_id is not None


def recognise(cert_der: bytes | None, *, trust_domain: str, wfm_id: str, defects: Collection[str] = ()) -> Caller:
    """The caller of a connection whose (already chain-validated) client leaf is ``cert_der``."""
    if cert_der is None:
        if D.NO_CLIENT_CERT_ACCEPTED in defects:
            return Caller(ANONYMOUS)
        return Caller(None, "MTLS-02:no-certificate")
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        return Caller(None, "MTLS-02:unreadable-certificate")
    weak = _weak_key(cert, defects)
    if weak is not None:
        return Caller(None, weak)
    shape = classify_client_svid(cert, trust_domain=trust_domain, wfm_id=wfm_id)
    if shape.accepted:
        return Caller(shape.spiffe_id)
    assert shape.reason is not None
    relaxed = _relaxed(cert, shape.reason, shape.spiffe_id, trust_domain, wfm_id, defects)
    return Caller(relaxed) if relaxed is not None else Caller(None, shape.reason)


def _weak_key(cert: x509.Certificate, defects: Collection[str]) -> str | None:
    """Q-57: key and signature algorithms outside the MIAF set (SVID-13, SVID-15)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        if not (D.RSA2048_ACCEPTED in defects and key.key_size >= 2048):
            return f"SVID-15:rsa-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _CURVES:
        return f"SVID-13:curve-{key.curve.name}"
    try:
        digest = cert.signature_hash_algorithm
    except Exception:  # an algorithm cryptography does not know
        digest = None
    if isinstance(digest, (hashes.SHA1, hashes.MD5)):
        return "SVID-15:sha1-signature"
    return None


def _relaxed(cert: x509.Certificate, reason: str, spiffe_id: str | None, trust_domain: str, wfm_id: str,
             defects: Collection[str]) -> str | None:
    """Under a recognition defect: the canonical client ID the leaf is (wrongly) taken for, else None."""
    if reason == "SVID-04:ca" and D.CA_LEAF_ACCEPTED in defects:
        return spiffe_id  # the leaf constraints are the last step: the ID itself passed
    if reason == "SVID-05:crl-sign" and D.CRL_SIGN_ACCEPTED in defects:
        return spiffe_id
    if reason == "SVID-10:trust-domain" and D.FOREIGN_TRUST_DOMAIN_ACCEPTED in defects and spiffe_id:
        foreign = SpiffeId.parse(spiffe_id).trust_domain
        again = classify_client_svid(cert, trust_domain=foreign, wfm_id=wfm_id)
        return client_spiffe_id(trust_domain, wfm_id, again.client_id) if again.accepted and again.client_id else None
    if reason == "MID-01:wfm-id" and D.OTHER_WFM_ID_ACCEPTED in defects and spiffe_id:
        other = SpiffeId.parse(spiffe_id).segments[2]
        again = classify_client_svid(cert, trust_domain=trust_domain, wfm_id=other)
        return client_spiffe_id(trust_domain, wfm_id, again.client_id) if again.accepted and again.client_id else None
    if reason == "SVID-02:several-uri-sans" and D.TWO_URI_SANS_ACCEPTED in defects:
        try:
            first = SpiffeId.parse(uri_sans(cert)[0])
        except SpiffeIdError:
            return None
        seg = first.segments
        if first.trust_domain == trust_domain and len(seg) == 5 and seg[:3] == ("margo", "wfm", wfm_id) \
                and seg[3] == "client":
            return str(first)
    return None
