"""The harness as the SPIFFE issuer (MIS) of a test trust domain for MIAF rc.3 (Q-40).

A ``SpiffeAuthority`` owns a fresh root R1 and intermediate I1 (R1 -> I1 -> leaf, DIGEST section 2), mints
the WFM's X.509-SVID ``spiffe://<td>/margo/wfm/<wfm-id>`` and client SVIDs ``.../client/<id>``, every C-* and
W-* fixture of the catalogue, and the trust bundle in PEM and SPIFFE JWK Set form. ``classify_client_svid`` /
``classify_wfm_svid`` are the leaf checks a verifier applies (MID-01/04, SVID-02..05, SVID-07 as notes), so
tests and checks can say which rule a certificate breaks. Contract: /work/briefs/MIAF-CONTRACT.md section 1
(copied into docs/CORE-API.md).

The chain and validity checks are the TLS stack's job; the classifiers look at the leaf only.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from . import der
from .ca import _CA_BACKDATE, _ORG, TestCA, _ca_certificate, _ca_name, _Issuer, _now, _usage, random_serial
from .issued import IssuedCert, certificate_der
from .keys import KeyType, PrivateKey, cached_key, generate_key, signature_hash_for

__all__ = [
    "CLIENT_FIXTURES",
    "DEFAULT_WFM_ID",
    "FOREIGN_TRUST_DOMAIN",
    "TRUST_DOMAIN",
    "WFM_FIXTURES",
    "BundleFiles",
    "FixtureSpec",
    "FixtureUnavailable",
    "SpiffeAuthority",
    "SpiffeId",
    "SpiffeIdError",
    "Svid",
    "SvidFiles",
    "SvidShape",
    "classify_client_svid",
    "classify_wfm_svid",
    "client_spiffe_id",
    "jwk_for_certificate",
    "uri_sans",
    "wfm_spiffe_id",
]

TRUST_DOMAIN = "harness.test"
FOREIGN_TRUST_DOMAIN = "other.test"
DEFAULT_WFM_ID = "wfm-h1"

#: SVID-lifetime of harness-made SVIDs (DIGEST section 2) and the backdating that tolerates a slow peer clock.
SVID_LIFETIME = timedelta(hours=24)
_SVID_BACKDATE = timedelta(minutes=5)
#: Validity fixtures are out of range by at least one hour (Q-60); C-SHORT lives three minutes (Q-61).
_OUT_OF_RANGE = timedelta(hours=1)
SHORT_LIFETIME = timedelta(minutes=3)
#: Where C-AIA / W-AIA point unless the caller names its own sink: a loopback port nothing listens on.
DEFAULT_AIA_URL = "http://127.0.0.1:9/margo-harness/i1.der"
#: SPIFFE ID length limit (SPIFFE-ID section 2.3).
_MAX_ID_LENGTH = 2048

# ----- SPIFFE ID syntax (SVID-03, MID-06, Q-49) ---------------------------------------------------------------

_TRUST_DOMAIN_CHARS = re.compile(r"[a-z0-9._-]+")
_SEGMENT_CHARS = re.compile(r"[A-Za-z0-9._-]+")


class SpiffeIdError(ValueError):
    """A string that is not a SPIFFE ID; ``reason`` is a stable kebab-case code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SpiffeId:
    """A syntactically valid SPIFFE ID: ``spiffe://<trust_domain><path>`` with a non-root path."""

    trust_domain: str
    path: str  # starts with "/"

    @classmethod
    def parse(cls, uri: str) -> SpiffeId:
        """Parse per SPIFFE-ID (SVID-03) with the MIAF segment charset (MID-06, Q-49); raise SpiffeIdError.

        Reasons: ``empty``, ``too-long``, ``scheme``, ``query``, ``fragment``, ``percent-encoding``,
        ``trust-domain-missing``, ``userinfo``, ``port``, ``trust-domain-case``, ``trust-domain-char``,
        ``root-path``, ``empty-segment``, ``dot-segment``, ``path-char``.
        """
        if not isinstance(uri, str) or not uri:
            raise SpiffeIdError("empty", "a SPIFFE ID is a non-empty string")
        if len(uri) > _MAX_ID_LENGTH:
            raise SpiffeIdError("too-long", f"a SPIFFE ID has at most {_MAX_ID_LENGTH} characters")
        if not uri.startswith("spiffe://"):
            raise SpiffeIdError("scheme", f"{uri!r}: the scheme must be 'spiffe' (lower case) followed by '://'")
        for char, reason in (("?", "query"), ("#", "fragment"), ("%", "percent-encoding")):
            if char in uri:
                raise SpiffeIdError(reason, f"{uri!r}: a SPIFFE ID has no {reason.replace('-', ' ')}")
        rest = uri[len("spiffe://") :]
        authority, slash, path = rest.partition("/")
        path = slash + path
        if not authority:
            raise SpiffeIdError("trust-domain-missing", f"{uri!r}: the trust domain is missing")
        if "@" in authority:
            raise SpiffeIdError("userinfo", f"{uri!r}: a SPIFFE ID has no userinfo")
        if ":" in authority:
            raise SpiffeIdError("port", f"{uri!r}: a SPIFFE ID has no port")
        if authority != authority.lower():
            raise SpiffeIdError("trust-domain-case", f"{uri!r}: the trust domain must be lower case")
        if not _TRUST_DOMAIN_CHARS.fullmatch(authority):
            raise SpiffeIdError("trust-domain-char", f"{uri!r}: the trust domain allows a-z 0-9 . - _ only")
        if path in ("", "/"):
            raise SpiffeIdError("root-path", f"{uri!r}: an SVID's SPIFFE ID has a non-root path")
        for segment in path[1:].split("/"):
            if not segment:
                raise SpiffeIdError("empty-segment", f"{uri!r}: empty path segment")
            if segment in (".", ".."):
                raise SpiffeIdError("dot-segment", f"{uri!r}: '.' and '..' are not path segments")
            if not _SEGMENT_CHARS.fullmatch(segment):
                raise SpiffeIdError("path-char", f"{uri!r}: path segments allow A-Z a-z 0-9 . - _ only")
        return cls(authority, path)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path[1:].split("/"))

    def __str__(self) -> str:
        return f"spiffe://{self.trust_domain}{self.path}"


def wfm_spiffe_id(trust_domain: str, wfm_id: str) -> str:
    """``spiffe://<td>/margo/wfm/<wfm-id>`` (MTLS-11)."""
    return f"spiffe://{trust_domain}/margo/wfm/{wfm_id}"


def client_spiffe_id(trust_domain: str, wfm_id: str, client_id: str) -> str:
    """``spiffe://<td>/margo/wfm/<wfm-id>/client/<wfm-client-id>`` (MID-01)."""
    return f"{wfm_spiffe_id(trust_domain, wfm_id)}/client/{client_id}"


def uri_sans(cert: x509.Certificate) -> list[str]:
    """Every URI SAN of ``cert``, in order (empty without a SAN extension)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for name in san if isinstance(name, x509.UniformResourceIdentifier)]


# ----- what a verifier makes of a leaf ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SvidShape:
    """The verdict of the leaf checks. ``reason`` is ``"<RULE>:<code>"`` (e.g. ``"SVID-03:query"``) when
    rejected; ``notes`` carries SVID-07 findings (KU/EKU), which the catalogue records rather than rejects."""

    kind: Literal["client", "wfm", "rejected"]
    spiffe_id: str | None
    client_id: str | None
    reason: str | None
    notes: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.kind != "rejected"


def _reject(reason: str, spiffe_id: str | None = None, notes: tuple[str, ...] = ()) -> SvidShape:
    return SvidShape("rejected", spiffe_id, None, reason, notes)


def _extension(cert: x509.Certificate, kind: type) -> x509.Extension | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def _leaf_constraints(cert: x509.Certificate) -> str | None:
    """SVID-04 and SVID-05: the first broken leaf constraint, or None."""
    bc = _extension(cert, x509.BasicConstraints)
    if bc is not None and bc.value.ca:
        return "SVID-04:ca"
    ku = _extension(cert, x509.KeyUsage)
    if ku is not None and ku.value.key_cert_sign:
        return "SVID-05:key-cert-sign"
    if ku is not None and ku.value.crl_sign:
        return "SVID-05:crl-sign"
    return None


def svid07_notes(cert: x509.Certificate) -> tuple[str, ...]:
    """SVID-07 (SPIFFE X.509-SVID 4.3/4.4) findings: KU present, critical, digitalSignature; EKU with both
    serverAuth and clientAuth when present (Q-58)."""
    notes: list[str] = []
    ku = _extension(cert, x509.KeyUsage)
    if ku is None:
        notes.append("SVID-07:no-key-usage")
    else:
        if not ku.critical:
            notes.append("SVID-07:key-usage-not-critical")
        if not ku.value.digital_signature:
            notes.append("SVID-07:no-digital-signature")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        notes.append("SVID-07:no-eku")
    else:
        if ExtendedKeyUsageOID.SERVER_AUTH not in eku.value:
            notes.append("SVID-07:eku-without-server-auth")
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku.value:
            notes.append("SVID-07:eku-without-client-auth")
    return tuple(notes)


def _read_spiffe_id(cert: x509.Certificate, trust_domain: str) -> SpiffeId | SvidShape:
    """Steps shared by both classifiers: exactly one URI SAN (SVID-02), SPIFFE syntax (SVID-03), the
    verifier's own trust domain (SVID-10). Returns the parsed ID or the rejection."""
    notes = svid07_notes(cert)
    sans = uri_sans(cert)
    if not sans:
        return _reject("SVID-02:no-uri-san", None, notes)
    if len(sans) > 1:
        return _reject("SVID-02:several-uri-sans", None, notes)
    try:
        sid = SpiffeId.parse(sans[0])
    except SpiffeIdError as exc:
        return _reject(f"SVID-03:{exc.reason}", sans[0], notes)
    if sid.trust_domain != trust_domain:
        return _reject("SVID-10:trust-domain", sans[0], notes)
    return sid


def classify_client_svid(cert: x509.Certificate, *, trust_domain: str, wfm_id: str) -> SvidShape:
    """The WFM's check of a client leaf: SVID-02/03/10, then the exact shape
    ``spiffe://<td>/margo/wfm/<wfm-id>/client/<id>`` (MID-01/02), then the leaf constraints (SVID-04/05)."""
    read = _read_spiffe_id(cert, trust_domain)
    if isinstance(read, SvidShape):
        return read
    sid, notes = str(read), svid07_notes(cert)
    seg = read.segments
    if seg[0] != "margo":
        return _reject("MID-01:not-margo", sid, notes)
    if len(seg) == 3 and seg[1] == "wfm":
        return _reject("MID-01:wfm-svid", sid, notes)
    if len(seg) != 5 or seg[1] != "wfm" or seg[3] != "client":
        return _reject("MID-01:shape", sid, notes)
    if seg[2] != wfm_id:
        return _reject("MID-01:wfm-id", sid, notes)
    broken = _leaf_constraints(cert)
    if broken:
        return _reject(broken, sid, notes)
    return SvidShape("client", sid, seg[4], None, notes)


def classify_wfm_svid(cert: x509.Certificate, *, trust_domain: str, wfm_id: str) -> SvidShape:
    """The client's check of the WFM's leaf: SVID-02/03/10, then exactly ``spiffe://<td>/margo/wfm/<wfm-id>``
    with td and wfm-id from the client's own SVID (MID-04; DNS SANs play no part, MID-05), then SVID-04/05."""
    read = _read_spiffe_id(cert, trust_domain)
    if isinstance(read, SvidShape):
        return read
    sid, notes = str(read), svid07_notes(cert)
    seg = read.segments
    if len(seg) == 5 and seg[:2] == ("margo", "wfm") and seg[3] == "client":
        return _reject("MID-04:client-svid", sid, notes)
    if len(seg) != 3 or seg[:2] != ("margo", "wfm"):
        return _reject("MID-04:shape", sid, notes)
    if seg[2] != wfm_id:
        return _reject("MID-04:wfm-id", sid, notes)
    broken = _leaf_constraints(cert)
    if broken:
        return _reject(broken, sid, notes)
    return SvidShape("wfm", sid, None, None, notes)


# ----- SVIDs and their files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SvidFiles:
    cert: Path  # leaf + intermediates (PEM): what a TLS peer presents
    key: Path  # PKCS#8, mode 0600; not written when the SVID has no key (minted from a CSR)
    chain: Path  # intermediates only (may be an empty file)


@dataclass(frozen=True)
class Svid(IssuedCert):
    """An X.509-SVID (or a deliberately broken one) with its key and the intermediates it is presented with."""

    spiffe_id: str | None = None  # the single URI SAN; None when there is no URI SAN or several
    fixture: str | None = None  # "C-2URI", ... or None for an ordinary SVID

    def write(self, directory: Path, stem: str) -> SvidFiles:
        """``<stem>.pem`` (leaf + intermediates), ``<stem>.key`` (0600), ``<stem>-chain.pem`` (intermediates)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / f"{stem}.key"
        if self.key is not None:
            cert_path, key_path = self.write_files(directory, stem)
        else:
            cert_path = directory / f"{stem}.pem"
            cert_path.write_bytes(self.chain_pem())
        chain_path = directory / f"{stem}-chain.pem"
        chain_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain))
        return SvidFiles(cert=cert_path, key=key_path, chain=chain_path)


@dataclass(frozen=True)
class BundleFiles:
    pem: Path  # anchors, PEM
    jwks: Path  # SPIFFE bundle (JWK Set)


@dataclass(frozen=True)
class FixtureSpec:
    name: str
    summary: str
    requirements: tuple[str, ...]
    expected: Literal["accept", "reject", "record"]
    question: str | None = None


class FixtureUnavailable(ValueError):
    """The fixture cannot be minted by this authority (e.g. one that needs I1 under a vendor's signing CA)."""


def _spec(name: str, expected: str, requirements: str, summary: str, question: str | None = None) -> FixtureSpec:
    return FixtureSpec(name, summary, tuple(requirements.split()), expected, question)  # type: ignore[arg-type]


#: Every C-* fixture of DIGEST section 2, in its order. Expectations agree with profiles/miaf-rc3/profile.yaml.
CLIENT_FIXTURES: Mapping[str, FixtureSpec] = MappingProxyType(
    {
        s.name: s
        for s in (
            _spec("C-OK", "accept", "MTLS-01", "client c1, on the accepted-client policy"),
            _spec("C-OK2", "accept", "MID-08 MID-09", "client c2, on the accepted-client policy"),
            _spec("C-NOPOL", "reject", "MID-11", "client c3: valid SVID, not on the policy"),
            _spec("C-NOCERT", "reject", "MTLS-02", "no client certificate"),
            _spec("C-SELF", "reject", "MTLS-02", "self-signed leaf with c1's SPIFFE ID"),
            _spec("C-R2", "reject", "MTLS-02", "c1 under R2 -> I2, R2 not in the bundle"),
            _spec("C-FTD", "reject", "SVID-10", "spiffe://other.test/... client c1, chains to R1"),
            _spec("C-OTHWFM", "reject", "MID-01 MID-02", "client c1 of another wfm-id"),
            _spec("C-WFMSHAPE", "reject", "MID-01 MID-02", "the WFM's own ID shape .../margo/wfm/<w>"),
            _spec("C-EXTRA", "reject", "MID-01 MID-02", ".../client/c1/extra"),
            _spec("C-EMPTY", "reject", "MID-01 MID-02", ".../client/ (empty client id)"),
            _spec("C-NOMARGO", "reject", "MID-01 MID-02", "spiffe://<td>/foo/c1"),
            _spec("C-CASE", "reject", "MID-01 MID-02", ".../margo/WFM/<w>/client/c1"),
            _spec("C-2URI", "reject", "SVID-02", "two URI SANs (c1 and c2)"),
            _spec("C-0URI", "reject", "SVID-02 MTLS-02", "DNS SAN only, no URI SAN"),
            _spec("C-HTTP", "reject", "SVID-03", "https:// URI SAN"),
            _spec("C-ROOTPATH", "reject", "SVID-03", "spiffe://<td> (root path)"),
            _spec("C-QUERY", "reject", "SVID-03", ".../client/c1?x=1", "Q-H06"),
            _spec("C-CA", "reject", "SVID-04", "leaf with cA=true"),
            _spec("C-KCS", "reject", "SVID-05", "leaf KU with keyCertSign"),
            _spec("C-CRL", "reject", "SVID-05", "leaf KU with cRLSign"),
            _spec("C-NODS", "record", "SVID-07", "KU without digitalSignature (keyAgreement)"),
            _spec("C-EKUCLIENT", "record", "SVID-07", "EKU clientAuth only"),
            _spec("C-EXP", "reject", "MTLS-07", "expired one hour ago"),
            _spec("C-NYV", "reject", "MTLS-07", "valid from one hour from now"),
            _spec("C-IEXP", "reject", "MTLS-07", "valid leaf under an expired intermediate"),
            _spec("C-SHORT", "record", "MTLS-08", "three-minute lifetime"),
            _spec("C-LEAFONLY", "reject", "SVID-09", "leaf presented without I1"),
            _spec("C-AIA", "reject", "SVID-09", "leaf without I1, AIA caIssuers at the harness sink"),
            _spec("C-P384", "record", "SVID-13", "P-384 leaf key"),
            _spec("C-ED25519", "record", "SVID-14", "Ed25519 leaf key"),
            _spec("C-RSA3072-PSS", "record", "SVID-16", "RSA-3072 leaf, RSASSA-PSS certificate signature"),
            _spec("C-RSA3072-V15", "record", "SVID-16", "RSA-3072 leaf, PKCS#1 v1.5 certificate signature"),
            _spec("C-RSA2048", "reject", "SVID-15", "RSA-2048 leaf key", "Q-57"),
            _spec("C-P521", "reject", "SVID-13", "P-521 leaf key", "Q-57"),
            _spec("C-SHA1", "reject", "SVID-15", "leaf signed with ecdsa-with-SHA1"),
            _spec("C-ROT", "accept", "SVID-11", "client c1 under R2 (once R2 is in the bundle)"),
        )
    }
)

#: Every W-* fixture of DIGEST section 2, in its order.
WFM_FIXTURES: Mapping[str, FixtureSpec] = MappingProxyType(
    {
        s.name: s
        for s in (
            _spec("W-OK", "accept", "MID-04 MID-05", "spiffe://<td>/margo/wfm/<w>, URI SAN only"),
            _spec("W-OK-DNS", "accept", "MID-05", "W-OK plus DNS SAN = hostname"),
            _spec("W-DNS-WRONGID", "reject", "MID-05 SVID-10", "DNS SAN = hostname, URI .../wfm/other"),
            _spec("W-DNSONLY", "reject", "SVID-02 MID-04", "DNS SAN only"),
            _spec("W-OTHWFM", "reject", "MID-04", ".../margo/wfm/other"),
            _spec("W-CLIENT", "reject", "MID-04", ".../margo/wfm/<w>/client/x"),
            _spec("W-FTD", "reject", "MID-04 SVID-10", "spiffe://other.test/margo/wfm/<w>, chains to R1"),
            _spec("W-R2", "reject", "MID-04", "W-OK under R2 -> I2"),
            _spec("W-EXP", "reject", "MTLS-07", "expired one hour ago"),
            _spec("W-CA", "reject", "SVID-04", "leaf with cA=true"),
            _spec("W-KCS", "reject", "SVID-05", "leaf KU with keyCertSign"),
            _spec("W-2URI", "reject", "SVID-02", "two URI SANs (<w> and other)"),
            _spec("W-LEAFONLY", "reject", "SVID-08 SVID-09", "leaf presented without I1"),
            _spec("W-AIA", "reject", "SVID-09", "leaf without I1, AIA caIssuers at the harness sink"),
        )
    }
)

# ----- the authority ----------------------------------------------------------------------------------------------

_BOTH_EKUS = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
#: ecdsa-with-SHA1 AlgorithmIdentifier, DER (RFC 3279 2.2.3: parameters absent).
_ECDSA_WITH_SHA1 = bytes.fromhex("3009" "0607" "2a8648ce3d0401")


@dataclass(frozen=True)
class _LeafSpec:
    """Everything a leaf can vary in; the defaults are the clean SVID profile of DIGEST section 2."""

    uris: tuple[str, ...]
    dns: tuple[str, ...] = ()
    ca: bool = False
    usage: tuple[str, ...] = ("digital_signature",)
    eku: tuple[x509.ObjectIdentifier, ...] = _BOTH_EKUS
    validity: tuple[datetime, datetime] | None = None
    aia: str | None = None
    key: PrivateKey | None = None
    key_type: KeyType = KeyType.P256
    signature: Literal["default", "pss", "pkcs1v15", "sha1"] = "default"
    label: str = "svid"


class SpiffeAuthority:
    """The harness as MIS for its test trust domain (Q-40): a fresh R1 -> I1 per instance; R2 -> I2 lazily
    for rotation (SVID-11) and the R2 fixtures. Every key is fresh except RSA ones, which come from the
    run-wide ``cached_key`` slots ``spiffe-*`` because RSA generation is slow."""

    def __init__(self, trust_domain: str = TRUST_DOMAIN, *, key_type: KeyType | str = KeyType.P256) -> None:
        _check_trust_domain(trust_domain)
        self.trust_domain = trust_domain
        self.key_type = KeyType.coerce(key_type)
        r1 = TestCA(f"SPIFFE {trust_domain} root R1", key_type=self.key_type, intermediate=True)
        self.root: x509.Certificate = r1.cert
        self.intermediate: IssuedCert | None = r1.intermediate
        self._root = _Issuer(r1.cert, r1.key)
        self._r2: TestCA | None = None
        self._memo: dict[str, object] = {}

    @classmethod
    def from_ca(cls, ca_cert_pem: bytes, ca_key_pem: bytes, trust_domain: str) -> SpiffeAuthority:
        """An authority that signs leaves directly with a vendor's signing CA ([identity] ca_cert/ca_key).

        There is no I1 (``intermediate`` is None). The fixtures defined by an intermediate (C-IEXP, C-LEAFONLY,
        C-AIA, C-RSA3072-*, W-LEAFONLY, W-AIA) get one the harness makes under the vendor CA when its
        basicConstraints allow it (no pathLenConstraint or >= 1), else ``FixtureUnavailable``. When the CA is not
        self-issued it travels in every chain.
        """
        _check_trust_domain(trust_domain)
        cert = x509.load_pem_x509_certificate(ca_cert_pem)
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
            raise ValueError(f"unsupported CA key type {type(key).__name__}")
        if cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ValueError("the CA key does not belong to the CA certificate")
        self = cls.__new__(cls)
        self.trust_domain = trust_domain
        self.key_type = KeyType.P256
        self.root = cert
        self.intermediate = None
        self._root = _Issuer(cert, key)
        self._r2 = None
        self._memo = {}
        return self

    # ----- anchors and bundles -------------------------------------------------------------------------------

    @property
    def rotation_root(self) -> x509.Certificate:
        """R2: a second root (with its own intermediate I2), made on first use; not in the default bundle."""
        return self._rotation_ca().cert

    def _rotation_ca(self) -> TestCA:
        if self._r2 is None:
            self._r2 = TestCA(f"SPIFFE {self.trust_domain} root R2", key_type=self.key_type, intermediate=True)
        return self._r2

    def anchors(self, rotation: Literal["R1", "R1+R2", "R2"] = "R1") -> list[x509.Certificate]:
        if rotation == "R1":
            return [self.root]
        if rotation == "R1+R2":
            return [self.root, self.rotation_root]
        if rotation == "R2":
            return [self.rotation_root]
        raise ValueError(f"rotation must be 'R1', 'R1+R2' or 'R2', not {rotation!r}")

    def bundle_pem(self, *, rotation: Literal["R1", "R1+R2", "R2"] = "R1") -> bytes:
        """The trust bundle as PEM: anchors only, never I1 (SVID-08, Q-56)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.anchors(rotation))

    def spiffe_bundle(
        self,
        *,
        rotation: Literal["R1", "R1+R2", "R2"] = "R1",
        refresh_hint: int | None = None,
        sequence: int | None = None,
    ) -> dict:
        """The SPIFFE trust domain bundle (JWK Set): one ``x509-svid`` key per anchor with ``x5c``."""
        bundle: dict = {"keys": [jwk_for_certificate(c) for c in self.anchors(rotation)]}
        if refresh_hint is not None:
            bundle["spiffe_refresh_hint"] = int(refresh_hint)
        if sequence is not None:
            bundle["spiffe_sequence"] = int(sequence)
        return bundle

    def write_bundle(self, directory: Path, *, rotation: Literal["R1", "R1+R2", "R2"] = "R1") -> BundleFiles:
        """``bundle.pem`` and ``bundle.jwks.json`` in ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        pem = directory / "bundle.pem"
        jwks = directory / "bundle.jwks.json"
        pem.write_bytes(self.bundle_pem(rotation=rotation))
        jwks.write_text(json.dumps(self.spiffe_bundle(rotation=rotation), indent=2) + "\n", encoding="utf-8")
        return BundleFiles(pem=pem, jwks=jwks)

    # ----- ordinary SVIDs --------------------------------------------------------------------------------------

    def wfm_svid(
        self, wfm_id: str = DEFAULT_WFM_ID, *, dns_names: tuple[str, ...] | list[str] = (), key_type=KeyType.P256
    ) -> Svid:
        """The WFM's server SVID ``spiffe://<td>/margo/wfm/<wfm-id>`` (URI SAN only unless ``dns_names``)."""
        _check_segment(wfm_id, "wfm-id")
        return self._mint(
            _LeafSpec((wfm_spiffe_id(self.trust_domain, wfm_id),), dns=tuple(dns_names),
                      key_type=KeyType.coerce(key_type), label=f"wfm {wfm_id}")
        )

    def wfm_svid_from_csr(self, csr_pem: bytes, wfm_id: str = DEFAULT_WFM_ID) -> Svid:
        """The WFM's SVID for the public key of its CSR (the key never leaves the WFM); ``key`` is None."""
        _check_segment(wfm_id, "wfm-id")
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        public = csr.public_key()
        if not isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
            raise ValueError(f"unsupported CSR key type {type(public).__name__}")
        spec = _LeafSpec((wfm_spiffe_id(self.trust_domain, wfm_id),), label=f"wfm {wfm_id}")
        return self._mint(spec, public_key=public)

    def client_svid(self, client_id: str, *, wfm_id: str = DEFAULT_WFM_ID, key_type=KeyType.P256,
                    lifetime: timedelta | None = None) -> Svid:
        """A clean client SVID ``.../margo/wfm/<wfm-id>/client/<client-id>``; ``lifetime`` shortens its validity
        (from now) for a renewal whose old SVID must expire within a run (MTLS-08)."""
        _check_segment(wfm_id, "wfm-id")
        _check_segment(client_id, "client id")
        validity = None if lifetime is None else (_now() - _SVID_BACKDATE, _now() + lifetime)
        return self._mint(
            _LeafSpec((client_spiffe_id(self.trust_domain, wfm_id, client_id),),
                      key_type=KeyType.coerce(key_type), validity=validity, label=f"client {client_id}")
        )

    # ----- fixtures ----------------------------------------------------------------------------------------------

    def client_fixture(self, name: str, *, wfm_id: str = DEFAULT_WFM_ID, aia_url: str = DEFAULT_AIA_URL) -> Svid | None:
        """The C-* fixture ``name`` (DIGEST section 2); None for C-NOCERT. Fresh on every call."""
        if name not in CLIENT_FIXTURES:
            raise KeyError(f"unknown client fixture {name!r}; known: {', '.join(CLIENT_FIXTURES)}")
        if name == "C-NOCERT":
            return None
        td, foreign = self.trust_domain, self._foreign()
        c1 = client_spiffe_id(td, wfm_id, "c1")
        other_wfm = "other-wfm" if wfm_id != "other-wfm" else "other-wfm-2"
        shapes = {
            "C-OK": (client_spiffe_id(td, wfm_id, "c1"),),
            "C-OK2": (client_spiffe_id(td, wfm_id, "c2"),),
            "C-NOPOL": (client_spiffe_id(td, wfm_id, "c3"),),
            "C-FTD": (client_spiffe_id(foreign, wfm_id, "c1"),),
            "C-OTHWFM": (client_spiffe_id(td, other_wfm, "c1"),),
            "C-WFMSHAPE": (wfm_spiffe_id(td, wfm_id),),
            "C-EXTRA": (c1 + "/extra",),
            "C-EMPTY": (client_spiffe_id(td, wfm_id, ""),),
            "C-NOMARGO": (f"spiffe://{td}/foo/c1",),
            "C-CASE": (f"spiffe://{td}/margo/WFM/{wfm_id}/client/c1",),
            "C-2URI": (c1, client_spiffe_id(td, wfm_id, "c2")),
            "C-0URI": (),
            "C-HTTP": ("https://" + c1[len("spiffe://") :],),
            "C-ROOTPATH": (f"spiffe://{td}",),
            "C-QUERY": (c1 + "?x=1",),
        }
        uris = shapes.get(name, (c1,))
        dns = ("c1." + td,) if name == "C-0URI" else ()
        return self._fixture(name, _LeafSpec(uris, dns=dns, label=f"{name} {wfm_id}"), aia_url=aia_url)

    def wfm_fixture(
        self,
        name: str,
        *,
        wfm_id: str = DEFAULT_WFM_ID,
        dns_names: tuple[str, ...] = ("localhost",),
        aia_url: str = DEFAULT_AIA_URL,
    ) -> Svid:
        """The W-* fixture ``name``; ``dns_names`` is the hostname the device reaches the WFM by (W-OK-DNS,
        W-DNS-WRONGID, W-DNSONLY)."""
        if name not in WFM_FIXTURES:
            raise KeyError(f"unknown WFM fixture {name!r}; known: {', '.join(WFM_FIXTURES)}")
        td = self.trust_domain
        own = wfm_spiffe_id(td, wfm_id)
        other = wfm_spiffe_id(td, "other" if wfm_id != "other" else "other-2")
        shapes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
            "W-OK-DNS": ((own,), tuple(dns_names)),
            "W-DNS-WRONGID": ((other,), tuple(dns_names)),
            "W-DNSONLY": ((), tuple(dns_names)),
            "W-OTHWFM": ((other,), ()),
            "W-CLIENT": ((client_spiffe_id(td, wfm_id, "x"),), ()),
            "W-FTD": ((wfm_spiffe_id(self._foreign(), wfm_id),), ()),
            "W-2URI": ((own, other), ()),
        }
        uris, dns = shapes.get(name, ((own,), ()))
        svid = self._fixture(name, _LeafSpec(uris, dns=dns, label=f"{name} {wfm_id}"), aia_url=aia_url)
        assert svid is not None
        return svid

    def _fixture(self, name: str, spec: _LeafSpec, *, aia_url: str) -> Svid:
        """Apply the one property that makes ``name`` what it is to the otherwise clean ``spec``."""
        suffix = name.split("-", 1)[1]
        now = _now()
        change: dict = {}
        issuer: _Issuer | None | str = "I1"
        if suffix == "SELF":
            issuer = None
        elif suffix in ("R2", "ROT"):
            issuer = "I2"
        elif suffix == "CA":
            change["ca"] = True
        elif suffix == "KCS":
            change["usage"] = ("digital_signature", "key_cert_sign")
        elif suffix == "CRL":
            change["usage"] = ("digital_signature", "crl_sign")
        elif suffix == "NODS":
            change["usage"] = ("key_agreement",)
        elif suffix == "EKUCLIENT":
            change["eku"] = (ExtendedKeyUsageOID.CLIENT_AUTH,)
        elif suffix == "EXP":
            change["validity"] = (now - _OUT_OF_RANGE - SVID_LIFETIME, now - _OUT_OF_RANGE)
        elif suffix == "NYV":
            change["validity"] = (now + _OUT_OF_RANGE, now + _OUT_OF_RANGE + SVID_LIFETIME)
        elif suffix == "SHORT":
            start = now - timedelta(seconds=30)
            change["validity"] = (start, start + SHORT_LIFETIME)
        elif suffix == "IEXP":
            issuer = "I1-expired"
        elif suffix == "LEAFONLY":
            issuer = "I1-unsent"
        elif suffix == "AIA":
            issuer = "I1-unsent"
            change["aia"] = aia_url
        elif suffix == "P384":
            change["key_type"] = KeyType.P384
        elif suffix == "ED25519":
            change["key_type"] = KeyType.ED25519
        elif suffix == "RSA2048":
            change["key"] = cached_key(KeyType.RSA2048, "spiffe-leaf")
        elif suffix == "P521":
            change["key"] = ec.generate_private_key(ec.SECP521R1())
        elif suffix in ("RSA3072-PSS", "RSA3072-V15"):
            issuer = "I1-rsa"
            change["key"] = cached_key(KeyType.RSA3072, "spiffe-leaf")
            change["signature"] = "pss" if suffix.endswith("PSS") else "pkcs1v15"
        elif suffix == "SHA1":
            change["signature"] = "sha1"
        spec = replace(spec, **change)
        return self._mint(spec, issuer=issuer, fixture=name)

    # ----- minting --------------------------------------------------------------------------------------------------

    def _foreign(self) -> str:
        return FOREIGN_TRUST_DOMAIN if self.trust_domain != FOREIGN_TRUST_DOMAIN else "foreign.test"

    def _issuer(self, which: str) -> tuple[_Issuer, tuple[x509.Certificate, ...]]:
        """The signer named ``which`` and the intermediates a peer is sent with the leaf."""
        if self.intermediate is None:  # a vendor's signing CA (from_ca)
            above = () if self._root.cert.issuer == self._root.cert.subject else (self._root.cert,)
            if which == "I1":
                return self._root, above
            if which in ("I1-expired", "I1-rsa", "I1-unsent"):
                inter = self._extra_intermediate(which)
                return inter, () if which == "I1-unsent" else (inter.cert, *above)
        if which == "I1":
            assert self.intermediate is not None
            return _Issuer(self.intermediate.cert, self.intermediate.key), (self.intermediate.cert,)
        if which == "I1-unsent":
            assert self.intermediate is not None
            return _Issuer(self.intermediate.cert, self.intermediate.key), ()
        if which == "I2":
            r2 = self._rotation_ca()
            assert r2.intermediate is not None
            return _Issuer(r2.intermediate.cert, r2.intermediate.key), (r2.intermediate.cert,)
        if which == "I1-expired":
            inter = self._extra_intermediate("I1-expired")
            return inter, (inter.cert,)
        if which == "I1-rsa":
            inter = self._extra_intermediate("I1-rsa")
            return inter, (inter.cert,)
        raise ValueError(f"unknown issuer {which!r}")

    def _extra_intermediate(self, which: str) -> _Issuer:
        """I1-expired (expired an hour ago, otherwise like I1) and I1-rsa (RSA-3072, for the RSA signature
        fixtures), both under R1; made once per authority."""
        made = self._memo.get(which)
        if isinstance(made, _Issuer):
            return made
        if self.intermediate is None and not _may_sign_intermediates(self._root.cert):
            raise FixtureUnavailable(
                f"{which} needs an intermediate under the signing CA, and its basicConstraints forbid one")
        now = _now()
        if which == "I1-unsent":  # from_ca only: the harness's own I1 under the vendor CA, never sent
            key = generate_key(self.key_type)
            validity = None
        elif which == "I1-expired":
            key: PrivateKey = generate_key(self.key_type)
            validity = (now - _CA_BACKDATE, now - _OUT_OF_RANGE)
        else:
            key = cached_key(KeyType.RSA3072, "spiffe-intermediate")
            validity = None
        try:
            cert = _ca_certificate(
                _ca_name(f"SPIFFE {self.trust_domain} intermediate {which}"), key,
                issuer=self._root, path_length=0, validity=validity,
            )
        except x509.ExtensionNotFound:
            raise FixtureUnavailable(f"{which}: the signing CA has no subjectKeyIdentifier") from None
        made = _Issuer(cert, key)
        self._memo[which] = made
        return made

    def _mint(
        self,
        spec: _LeafSpec,
        *,
        issuer: str | None = "I1",
        fixture: str | None = None,
        public_key: object | None = None,
    ) -> Svid:
        key: PrivateKey | None
        if public_key is not None:
            key, public = None, public_key
        else:
            key = spec.key if spec.key is not None else _fresh_key(spec.key_type)
            public = key.public_key()
        if issuer is None:
            if key is None:
                raise ValueError("a self-signed leaf needs its private key")
            signer_cert, signer_key, chain = None, key, ()
        else:
            signer, chain = self._issuer(issuer)
            signer_cert, signer_key = signer.cert, signer.key
        start, end = spec.validity or (_now() - _SVID_BACKDATE, _now() - _SVID_BACKDATE + SVID_LIFETIME)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                x509.NameAttribute(NameOID.COMMON_NAME, f"X.509-SVID {spec.label}"[:64]),
            ]
        )
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in spec.uris]
        sans += [x509.DNSName(d) for d in spec.dns]
        aki = (
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_cert.public_key())  # type: ignore[arg-type]
            if signer_cert is not None
            else x509.AuthorityKeyIdentifier.from_issuer_public_key(public)  # type: ignore[arg-type]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(signer_cert.subject if signer_cert is not None else subject)
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(random_serial())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=spec.ca, path_length=None), critical=True)
            .add_extension(_usage(*spec.usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(spec.eku)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
            .add_extension(aki, critical=False)
        )
        if sans:
            # RFC 5280 4.2.1.6: critical when the subject is empty; ours never is, so non-critical.
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if spec.aia:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(spec.aia))]
                ),
                critical=False,
            )
        cert = _sign(builder, signer_key, spec.signature)
        uri = list(spec.uris)
        return Svid(
            cert=cert,
            key=key,  # type: ignore[arg-type]
            chain=tuple(chain),
            issuer=signer_cert if signer_cert is not None else cert,
            spiffe_id=uri[0] if len(uri) == 1 else None,
            fixture=fixture,
        )


def _may_sign_intermediates(cert: x509.Certificate) -> bool:
    """cA=true with no pathLenConstraint or one >= 1 (RFC 5280 4.2.1.9)."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bc.ca and (bc.path_length is None or bc.path_length >= 1)


def _fresh_key(key_type: KeyType) -> PrivateKey:
    """EC and Ed25519 keys fresh; RSA from the run-wide cache (slot ``spiffe-leaf``) because it is slow."""
    if key_type in (KeyType.RSA1024, KeyType.RSA2048, KeyType.RSA3072):
        return cached_key(key_type, "spiffe-leaf")
    return generate_key(key_type)


def _sign(builder: x509.CertificateBuilder, signer: PrivateKey, signature: str) -> x509.Certificate:
    """Sign as the issuer's key type dictates; ``pss``/``pkcs1v15`` choose the RSA padding, and ``sha1``
    re-signs the TBS with ecdsa-with-SHA1 through pki.der (cryptography refuses SHA-1 signatures)."""
    if signature in ("pss", "pkcs1v15"):
        if not isinstance(signer, rsa.RSAPrivateKey):
            raise ValueError("an RSA signature padding needs an RSA issuer")
        pad = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            if signature == "pss"
            else padding.PKCS1v15()
        )
        return builder.sign(signer, hashes.SHA256(), rsa_padding=pad)
    cert = builder.sign(signer, signature_hash_for(signer))  # type: ignore[arg-type]
    if signature != "sha1":
        return cert
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ValueError("the SHA-1 fixture is signed by an EC issuer")
    parts = der.split_certificate(certificate_der(cert))
    tbs = der.rebuild_tbs(parts.tbs, signature_algorithm=_ECDSA_WITH_SHA1)
    sig = signer.sign(tbs, ec.ECDSA(hashes.SHA1()))  # noqa: S303 - the fixture's whole point (SVID-15)
    return x509.load_der_x509_certificate(der.assemble_certificate(tbs, _ECDSA_WITH_SHA1, sig))


def _check_trust_domain(trust_domain: str) -> None:
    if not trust_domain or not _TRUST_DOMAIN_CHARS.fullmatch(trust_domain):
        raise ValueError(f"invalid trust domain {trust_domain!r}: lower-case a-z 0-9 . - _ only")


def _check_segment(value: str, what: str) -> None:
    """Harness-made IDs use [A-Za-z0-9._-] and never '.' or '..' (MID-06, Q-49)."""
    if not _SEGMENT_CHARS.fullmatch(value or "") or value in (".", ".."):
        raise ValueError(f"invalid {what} {value!r}: letters, digits, '.', '-', '_' only, not '.' or '..'")


# ----- SPIFFE bundle JWKs ------------------------------------------------------------------------------------------


def jwk_for_certificate(cert: x509.Certificate) -> dict:
    """The JWK of an anchor in a SPIFFE bundle: ``use: x509-svid``, ``x5c`` = [base64 DER] and the public key
    members (RFC 7517/7518/8037: EC crv/x/y, RSA n/e, OKP crv/x), which ``joserfc`` writes."""
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    public = cert.public_key()
    spki = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    kind: type[ECKey] | type[RSAKey] | type[OKPKey]
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise ValueError(f"no JWK curve name for {public.curve.name}")
        kind = ECKey
    elif isinstance(public, rsa.RSAPublicKey):
        kind = RSAKey
    elif isinstance(public, ed25519.Ed25519PublicKey):
        kind = OKPKey
    else:
        raise ValueError(f"no JWK form for {type(public).__name__}")
    jwk: dict = {"use": "x509-svid", **kind.import_key(spki).as_dict(private=False)}
    jwk["x5c"] = [base64.b64encode(certificate_der(cert)).decode("ascii")]
    return jwk

