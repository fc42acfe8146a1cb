"""RFC 5280 lint and a report-safe description of a certificate.

CERT-09 says every client certificate MUST conform to RFC 5280; the simulated WFM lints what a device
submits and the reports show what was seen. Severities follow DIGEST 5.1: RFC 5280 violations are errors;
what the spec leaves open (self-signed client certificates, EKU, RSA below 2048 bits, Ed25519 as an extra,
cA=TRUE on a CA-issued leaf) is a warning; cA=TRUE on a self-signed certificate (what `openssl req -x509`
makes with its default configuration) and the mere absence of optional extensions are info. A certificate
as the world makes it is never an error.
Both functions run on certificates a peer sent, so they never raise on a strange certificate.

Codes: error ``not-v3``, ``serial-not-positive``, ``serial-too-long``, ``expired``, ``not-yet-valid``,
``key-usage-missing-digital-signature``, ``key-cert-sign-without-ca``,
``key-type-not-allowed`` (not P-256/P-384/RSA/Ed25519), ``extensions-malformed``, ``field-unparseable``;
role ``ca``: ``missing-basic-constraints``, ``ca-flag-not-set``, ``key-usage-missing-key-cert-sign``;
warning ``eku-missing-client-auth`` / ``eku-missing-server-auth``, ``self-signed-leaf``, ``ca-flag-on-leaf``,
``v1-basic-fields`` (a v1 certificate without extensions: allowed by RFC 5280 4.1.2.1),
``rsa-key-too-small``, ``key-type-not-allowed`` (Ed25519), ``san-missing`` (server),
``basic-constraints-not-critical`` (ca); info ``key-usage-absent``, ``eku-absent``, ``ca-flag-self-signed``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..findings import Finding, Severity
from . import der
from .keys import describe_key

__all__ = ["Role", "describe_certificate", "lint_rfc5280"]

Role = Literal["client", "server", "ca"]

_MAX_SERIAL_OCTETS = 20  # RFC 5280 4.1.2.2
_RSA_MIN_BITS = 2048  # DIGEST 5.1 position: warn below 2048
_REQUIREMENT: dict[str, str | None] = {"client": "CERT-09", "server": None, "ca": "CERT-05"}

#: cryptography parses lazily and raises many types on damaged fields (ValueError, InvalidVersion,
#: DuplicateExtension, UnsupportedGeneralNameType, UnsupportedAlgorithm, ...). Lint runs on what a peer
#: sent, so each check is guarded as a whole; clean-certificate tests pin the exact findings, which keeps
#: a bug of ours from hiding behind this guard.
_PARSE_ERRORS = (Exception,)


class _Linter:
    """Collects findings for one certificate; each ``check_*`` states one fact."""

    def __init__(self, cert: x509.Certificate, role: Role, now: datetime) -> None:
        self.cert, self.role, self.now = cert, role, now
        self.findings: list[Finding] = []
        self.requirement = _REQUIREMENT.get(role)

    def add(self, code: str, detail: str, severity: Severity = "error", requirement: str | None = None) -> None:
        self.findings.append(Finding(code, detail, severity, requirement or self.requirement))

    @property
    def leaf(self) -> bool:
        return self.role != "ca"

    def check_version(self, extensions: x509.Extensions | None) -> None:
        if self.cert.version is x509.Version.v3:
            return
        version = self.cert.version.name
        if extensions:
            self.add("not-v3", f"{version} certificate carries extensions; RFC 5280 4.1.2.9 allows them only in v3")
        else:  # what `openssl x509 -req` (OpenSSL 3.0) makes without an extension file
            self.add("v1-basic-fields", f"{version} certificate with only basic fields: RFC 5280 4.1.2.1 allows it "
                     "(\"SHOULD be 1\"), the harness expects v3 (DIGEST 5.1)", "warning")

    def check_serial(self) -> None:
        serial = self.cert.serial_number
        if serial <= 0:
            self.add("serial-not-positive", f"serial number {serial} is not positive (RFC 5280 4.1.2.2)")
        octets = der.integer_length(serial)
        if octets > _MAX_SERIAL_OCTETS:
            self.add("serial-too-long", f"serial number has {octets} octets; RFC 5280 4.1.2.2 allows at most 20")

    def check_validity(self) -> None:
        not_before, not_after = self.cert.not_valid_before_utc, self.cert.not_valid_after_utc
        if self.now > not_after:
            self.add("expired", f"notAfter {_iso(not_after)} is before now ({_iso(self.now)})")
        if self.now < not_before:
            self.add("not-yet-valid", f"notBefore {_iso(not_before)} is after now ({_iso(self.now)})")

    def check_basic_constraints(self, extensions: x509.Extensions) -> None:
        try:
            ext = extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            if not self.leaf:
                self.add("missing-basic-constraints", "a CA certificate must carry basicConstraints cA=TRUE")
            return
        if self.leaf and ext.value.ca:
            if _self_signed(self.cert):
                self.add("ca-flag-self-signed", f"self-signed {self.role} certificate has basicConstraints cA=TRUE "
                         "(the openssl req -x509 default; not an RFC 5280 violation)", "info")
            else:
                self.add("ca-flag-on-leaf", f"CA-issued {self.role} certificate has basicConstraints cA=TRUE: "
                         "it could issue certificates of its own", "warning")
        if not self.leaf:
            if not ext.value.ca:
                self.add("ca-flag-not-set", "CA certificate has basicConstraints cA=FALSE")
            if not ext.critical:
                self.add("basic-constraints-not-critical", "RFC 5280 4.2.1.9: CAs mark it critical", "warning")

    def check_key_usage(self, extensions: x509.Extensions, is_ca: bool) -> None:
        try:
            usage = extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            if self.leaf:
                self.add("key-usage-absent", "no keyUsage extension (the spec does not require one)", "info")
            else:
                self.add("key-usage-missing-key-cert-sign", "CA certificate has no keyUsage (RFC 5280 4.2.1.3)")
            return
        if self.leaf and not usage.digital_signature:
            self.add(
                "key-usage-missing-digital-signature",
                "keyUsage is present without digitalSignature: the key may not sign requests or TLS handshakes",
            )
        if usage.key_cert_sign and not is_ca:
            self.add("key-cert-sign-without-ca", "keyUsage keyCertSign without cA=TRUE (RFC 5280 4.2.1.3)")
        if not self.leaf and not usage.key_cert_sign:
            self.add("key-usage-missing-key-cert-sign", "CA certificate keyUsage lacks keyCertSign")

    def check_eku(self, extensions: x509.Extensions) -> None:
        if not self.leaf:
            return
        try:
            eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            self.add("eku-absent", "no extendedKeyUsage extension (the spec does not require one)", "info")
            return
        wanted = ExtendedKeyUsageOID.CLIENT_AUTH if self.role == "client" else ExtendedKeyUsageOID.SERVER_AUTH
        if wanted not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            found = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku) or "nothing"
            self.add(f"eku-missing-{self.role}-auth", f"extendedKeyUsage lacks {self.role}Auth (has {found})", "warning")

    def check_key(self) -> None:
        try:
            key = self.cert.public_key()
        except _PARSE_ERRORS as exc:
            self.add("key-type-not-allowed", f"public key cannot be used: {_first_line(exc)}", requirement="CERT-11")
            return
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < _RSA_MIN_BITS:
            self.add(
                "rsa-key-too-small", f"RSA key of {key.key_size} bits (below {_RSA_MIN_BITS})", "warning", "CERT-11"
            )
        if self.role != "client":
            return
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1)):
            return
        if isinstance(key, rsa.RSAPublicKey):
            return
        if isinstance(key, ed25519.Ed25519PublicKey):
            self.add("key-type-not-allowed", "Ed25519 is not among P-256, P-384, RSA (an extra, MAY)", "warning", "CERT-11")
        else:
            self.add("key-type-not-allowed", f"{describe_key(key)} is not P-256, P-384 or RSA", requirement="CERT-11")

    def check_self_signed(self) -> None:
        if self.leaf and _self_signed(self.cert):
            self.add("self-signed-leaf", f"{self.role} certificate is self-signed", "warning")

    def check_san(self, extensions: x509.Extensions) -> None:
        if self.role != "server":
            return
        try:
            extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            self.add("san-missing", "server certificate without subjectAltName: clients match hosts on SANs only", "warning")


def lint_rfc5280(cert: x509.Certificate, *, role: Role = "client", now: datetime | None = None) -> list[Finding]:
    """Every RFC 5280 / Margo-profile fact worth reporting about ``cert`` in ``role`` (errors fail a verdict).

    ``cryptography`` parses fields lazily, so a damaged certificate can fail in any check: each check runs
    on its own and a field that cannot be parsed becomes a ``field-unparseable`` error, not an exception.
    """
    when = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    linter = _Linter(cert, role, when)
    try:
        extensions: x509.Extensions | None = cert.extensions
    except _PARSE_ERRORS as exc:
        extensions = None
        linter.add("extensions-malformed", f"extensions cannot be parsed: {_first_line(exc)}")
    checks: list[Callable[[], None]] = [
        lambda: linter.check_version(extensions),
        linter.check_serial,
        linter.check_validity,
    ]
    if extensions is not None:
        exts = extensions
        checks += [
            lambda: linter.check_basic_constraints(exts),
            lambda: linter.check_key_usage(exts, _is_ca(exts)),
            lambda: linter.check_eku(exts),
            lambda: linter.check_san(exts),
        ]
    checks += [linter.check_key, linter.check_self_signed]
    for check in checks:
        try:
            check()
        except _PARSE_ERRORS as exc:
            linter.add("field-unparseable", f"a certificate field cannot be parsed: {_first_line(exc)}")
    return linter.findings


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def describe_certificate(cert: x509.Certificate) -> dict[str, str]:
    """Evidence for reports: names, dates, key type, fingerprint, CA flag, SANs. Never key material."""
    return {
        "subject": _safe(lambda: cert.subject.rfc4514_string()),
        "issuer": _safe(lambda: cert.issuer.rfc4514_string()),
        "serial": _safe(lambda: f"{cert.serial_number:#x}"),
        "version": _safe(lambda: cert.version.name),
        "not_before": _safe(lambda: _iso(cert.not_valid_before_utc)),
        "not_after": _safe(lambda: _iso(cert.not_valid_after_utc)),
        "key_type": _safe(lambda: describe_key(cert.public_key())),
        "sha256_fingerprint": _safe(lambda: cert.fingerprint(hashes.SHA256()).hex()),
        "is_ca": _safe(lambda: "true" if _is_ca(cert.extensions) else "false"),
        "san": _safe(lambda: _san_text(cert)),
    }


def _self_signed(cert: x509.Certificate) -> bool:
    """Issuer = subject and the certificate's own key verifies its signature."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, *_PARSE_ERRORS):
        return False
    return True


def _is_ca(extensions: x509.Extensions) -> bool:
    try:
        return bool(extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _san_text(cert: x509.Certificate) -> str:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    parts: list[str] = []
    for name in names:
        if isinstance(name, x509.DNSName):
            parts.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            parts.append(f"IP:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            parts.append(f"URI:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            parts.append(f"email:{name.value}")
        else:
            parts.append(type(name).__name__)
    return ", ".join(parts)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe(compute: Callable[[], str]) -> str:
    try:
        return compute()
    except Exception as exc:  # a report must show what could not be read, not crash
        return f"unreadable ({type(exc).__name__})"
