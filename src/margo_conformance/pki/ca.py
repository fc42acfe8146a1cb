"""A throwaway certificate authority: clean certificates by default, each deliberate defect by name.

Modelled on trustme: a few nouns (``TestCA``, ``IssuedCert``), verbs that state intent
(``issue_client_cert``, ``configure_trust``), keyword knobs with safe defaults. A fresh root per
``TestCA()``: nothing is committed, nothing outlives the run.

Validity windows nest: the root is valid from 400 days ago for ten years, so even the EXPIRED and
NOT_YET_VALID leaves lie inside their issuer's window and carry no second defect.
"""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import der
from .cert_defects import SERVER_ONLY_DEFECTS, CertDefect
from .issued import IssuedCert, RawCertificate, certificate_der
from .keys import KeyType, PrivateKey, cached_key, generate_key, key_type_of, sign_for_certificate, signature_hash_for

__all__ = ["DEFAULT_SERVER_HOSTS", "WRONG_HOST_NAME", "TestCA", "random_serial"]

DEFAULT_SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")
#: SAN of a WRONG_HOST server certificate: a reserved name (RFC 6761) no client will ever ask for.
WRONG_HOST_NAME = "wrong-host.invalid"
_ORG = "Margo Conformance Harness (test only)"

_CA_BACKDATE = timedelta(days=400)
_CA_LIFETIME = timedelta(days=3650)
_LEAF_BACKDATE = timedelta(minutes=5)  # tolerate a peer whose clock is slightly behind
_LEAF_LIFETIME = timedelta(days=365)


def random_serial() -> int:
    """A positive serial of exactly 16 octets in DER (RFC 5280 4.1.2.2: positive, at most 20 octets)."""
    return secrets.randbits(127) | (1 << 126)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _san_entry(host: str) -> x509.GeneralName:
    """IP literals become IPAddress SANs (RFC 6125: never DNS names); other names DNSName (A-labels)."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return x509.IPAddress(ipaddress.ip_address(bare))
    except ValueError:
        pass
    try:
        bare.encode("ascii")
    except UnicodeEncodeError:
        bare = bare.encode("idna").decode("ascii")
    return x509.DNSName(bare)


def _leaf_key(key_type: KeyType, key: PrivateKey | None, role: str) -> PrivateKey:
    """EC and Ed25519 leaves get fresh keys (microseconds); RSA leaves share one cached key per size and
    role for the run (slot ``"<role>-leaf"``), because RSA generation is slow."""
    if key is not None:
        return key
    if key_type in (KeyType.RSA1024, KeyType.RSA2048, KeyType.RSA3072):
        return cached_key(key_type, f"{role}-leaf")
    return generate_key(key_type)


class _Issuer:
    """A name and key that can sign; the root, an intermediate and a throwaway root all are one."""

    def __init__(self, cert: x509.Certificate, key: PrivateKey) -> None:
        self.cert = cert
        self.key = key

    def ski(self) -> x509.SubjectKeyIdentifier:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value


def _ca_certificate(
    subject: x509.Name,
    key: PrivateKey,
    *,
    issuer: _Issuer | None,
    path_length: int | None,
    validity: tuple[datetime, datetime] | None = None,
) -> x509.Certificate:
    """A CA certificate; ``validity`` overrides the default window (an expired intermediate, for one)."""
    now = _now()
    start, end = validity or (now - _CA_BACKDATE, now + _CA_LIFETIME)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer.ski()), critical=False
        )
    signer = issuer.key if issuer else key
    return builder.sign(signer, signature_hash_for(signer))  # type: ignore[arg-type]


def _ca_name(common_name: str) -> x509.Name:
    # A random OU keeps two roots with the same CN distinguishable in a trust store and in reports.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"run {secrets.token_hex(6)}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


_USAGE_BITS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _usage(*bits: str) -> x509.KeyUsage:
    """A keyUsage with exactly the named bits set."""
    unknown = set(bits) - set(_USAGE_BITS)
    if unknown:
        raise ValueError(f"unknown keyUsage bits {sorted(unknown)}")
    return x509.KeyUsage(**{name: name in bits for name in _USAGE_BITS})


class TestCA:
    """A fresh root CA (optionally with one intermediate) that issues leaf certificates for the harness.

    Each instance has its own key, so certificates of one ``TestCA`` never verify under another.
    """

    __test__ = False  # the name starts with "Test": keep pytest from trying to collect it

    def __init__(
        self,
        common_name: str = "Margo Conformance Test Root CA",
        *,
        key_type: KeyType | str = KeyType.P256,
        intermediate: bool = False,
        key: PrivateKey | None = None,
    ) -> None:
        kt = KeyType.coerce(key_type)
        # A CA key must be unique to this CA, so it is never taken from the shared cache.
        self.key: PrivateKey = key if key is not None else generate_key(kt)
        self.cert: x509.Certificate = _ca_certificate(
            _ca_name(common_name), self.key, issuer=None, path_length=1 if intermediate else 0
        )
        self._root = _Issuer(self.cert, self.key)
        self.intermediate: IssuedCert | None = None
        if intermediate:
            inter_key = generate_key(kt)
            inter_cert = _ca_certificate(
                _ca_name(f"{common_name} - Intermediate"), inter_key, issuer=self._root, path_length=0
            )
            self.intermediate = IssuedCert(inter_cert, inter_key, (), issuer=self.cert)

    # ----- the root in its wire forms -----------------------------------------------------------------

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return certificate_der(self.cert)

    def b64_der(self) -> str:
        """base64(DER), one line: the Certificate API's default ``certificate`` value (CERT-04, Q-09)."""
        return IssuedCert(self.cert, self.key).b64_der()

    def b64_pem(self) -> str:
        return IssuedCert(self.cert, self.key).b64_pem()

    def configure_trust(self, ctx: ssl.SSLContext) -> None:
        """Make this root a trust anchor of ``ctx`` (a client context that should trust only it)."""
        ctx.load_verify_locations(cadata=self.cert_pem().decode("ascii"))

    def write_cert_pem(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem())
        return path

    # ----- issuing -------------------------------------------------------------------------------------

    def issue_server_cert(
        self,
        *hosts: str,
        key_type: KeyType | str = KeyType.P256,
        key: PrivateKey | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        defect: CertDefect | str | None = None,
    ) -> IssuedCert:
        """A TLS server leaf with SANs for ``hosts`` (default localhost, 127.0.0.1, ::1), EKU serverAuth.

        Signed by the intermediate when there is one; ``chain`` then holds it.
        """
        names = tuple(hosts) or DEFAULT_SERVER_HOSTS
        return self._issue(
            names[0],
            role="server",
            hosts=names,
            key_type=key_type,
            key=key,
            not_before=not_before,
            not_after=not_after,
            defect=defect,
        )

    def issue_client_cert(
        self,
        common_name: str,
        *,
        key_type: KeyType | str = KeyType.P256,
        key: PrivateKey | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        defect: CertDefect | str | None = None,
    ) -> IssuedCert:
        """A clean RFC 5280 v3 client leaf: positive 16-octet serial, cA=false, digitalSignature,
        EKU clientAuth. Signed by the root even when there is an intermediate, because the onboarding
        request carries one certificate and no chain (DIGEST 5.1).

        Without ``key``, EC and Ed25519 keys are fresh; RSA keys come from the run-wide cache, so two RSA
        client certificates share a key unless you pass ``key=cached_key(kt, slot)`` with distinct slots.
        """
        return self._issue(
            common_name,
            role="client",
            hosts=(),
            key_type=key_type,
            key=key,
            not_before=not_before,
            not_after=not_after,
            defect=defect,
        )

    def _issue(
        self,
        common_name: str,
        *,
        role: str,
        hosts: tuple[str, ...],
        key_type: KeyType | str,
        key: PrivateKey | None,
        not_before: datetime | None,
        not_after: datetime | None,
        defect: CertDefect | str | None,
    ) -> IssuedCert:
        d = CertDefect.coerce(defect) if defect is not None else None
        if d is not None and d in SERVER_ONLY_DEFECTS and role != "server":
            raise ValueError(f"{d.value} applies to server certificates only")
        kt = KeyType.coerce(key_type)
        if d is CertDefect.RSA_1024:
            if key is not None and key_type_of(key) is not KeyType.RSA1024:
                raise ValueError("rsa-1024 needs an RSA-1024 key (or no key: a cached one is used)")
            kt = KeyType.RSA1024
        leaf_key = _leaf_key(kt, key, role)
        issuer, chain = self._signer(d, role)
        start, end = _validity(d, not_before, not_after)
        builder = _leaf_builder(common_name, leaf_key, issuer, role=role, hosts=hosts, defect=d)
        signer = issuer.key if issuer else leaf_key
        cert = builder.not_valid_before(start).not_valid_after(end).sign(
            signer, signature_hash_for(signer)  # type: ignore[arg-type]
        )
        if d is CertDefect.NEGATIVE_SERIAL:
            cert = cast(x509.Certificate, RawCertificate(_patch(cert, signer, serial=-cert.serial_number), cert))
        elif d is CertDefect.V1_WITH_EXTENSIONS:
            cert = x509.load_der_x509_certificate(_patch(cert, signer, version=0))
        return IssuedCert(cert, leaf_key, chain, issuer=issuer.cert if issuer else cert, defect=d)

    def _signer(self, defect: CertDefect | None, role: str) -> tuple[_Issuer | None, tuple[x509.Certificate, ...]]:
        """Who signs (None: the leaf itself) and which intermediates travel with the leaf."""
        if defect is CertDefect.UNRELATED_CA:
            return TestCA("Unrelated Throwaway Root CA")._root, ()
        if defect is CertDefect.SELF_SIGNED:
            return None, ()
        if role == "server" and self.intermediate is not None:
            return _Issuer(self.intermediate.cert, self.intermediate.key), (self.intermediate.cert,)
        return self._root, ()


def _validity(
    defect: CertDefect | None, not_before: datetime | None, not_after: datetime | None
) -> tuple[datetime, datetime]:
    """The leaf's window; explicit dates always win over what a date defect would choose."""
    now = _now()
    if defect is CertDefect.EXPIRED:
        return not_before or now - timedelta(days=30), not_after or now - timedelta(days=1)
    if defect is CertDefect.NOT_YET_VALID:
        start = not_before or now + timedelta(days=1)
    else:
        start = not_before or now - _LEAF_BACKDATE
    return start, not_after or start + _LEAF_LIFETIME


def _leaf_builder(
    common_name: str,
    leaf_key: PrivateKey,
    issuer: _Issuer | None,
    *,
    role: str,
    hosts: tuple[str, ...],
    defect: CertDefect | None,
) -> x509.CertificateBuilder:
    """Everything of a leaf except its dates; each defect flips exactly one thing here."""
    # CN is capped at 64 characters (RFC 5280 ub-common-name).
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "unnamed"),
        ]
    )
    own_eku = ExtendedKeyUsageOID.SERVER_AUTH if role == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    other_eku = ExtendedKeyUsageOID.CLIENT_AUTH if role == "server" else ExtendedKeyUsageOID.SERVER_AUTH
    # WRONG_KEY_USAGE: nonRepudiation alone is valid for every key type (RFC 5480, RFC 8410) yet
    # does not allow the key to sign requests or handshakes.
    usage = _usage("content_commitment") if defect is CertDefect.WRONG_KEY_USAGE else _usage("digital_signature")
    # AKI even on a self-signed leaf (RFC 5280 lets it be omitted there), so SELF_SIGNED differs from a
    # clean leaf in its issuer only, not also in its set of extensions.
    aki = (
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer.ski())
        if issuer is not None
        else x509.AuthorityKeyIdentifier.from_issuer_public_key(leaf_key.public_key())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(leaf_key.public_key())
        .serial_number(random_serial())
        .add_extension(x509.BasicConstraints(ca=defect is CertDefect.CA_TRUE_LEAF, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([other_eku if defect is CertDefect.WRONG_EKU else own_eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(aki, critical=False)
    )
    if role == "server":
        if defect is CertDefect.WRONG_HOST:
            sans: list[x509.GeneralName] = [x509.DNSName(WRONG_HOST_NAME)]
        else:
            sans = [_san_entry(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder


def _patch(cert: x509.Certificate, signer: PrivateKey, *, version: int | None = None, serial: int | None = None) -> bytes:
    """Rewrite version and/or serial in the TBSCertificate and re-sign it with the issuer's key.

    The signature AlgorithmIdentifier is unchanged: same key, same hash as the builder used.
    """
    parts = der.split_certificate(certificate_der(cert))
    tbs = der.rebuild_tbs(parts.tbs, version=version, serial=serial)
    return der.assemble_certificate(tbs, parts.signature_algorithm.encoded, sign_for_certificate(signer, tbs))
