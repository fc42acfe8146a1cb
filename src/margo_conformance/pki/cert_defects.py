"""The catalogue of deliberately bad certificates, and which lint finding each one must raise."""

from __future__ import annotations

from enum import Enum

__all__ = ["CertDefect", "SERVER_ONLY_DEFECTS", "lint_code_for"]


class CertDefect(str, Enum):
    """One deliberate defect; a certificate issued with it has exactly this defect and no other."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    SELF_SIGNED = "self-signed"
    CA_TRUE_LEAF = "ca-true-leaf"
    WRONG_KEY_USAGE = "wrong-key-usage"  # keyUsage present without digitalSignature
    WRONG_EKU = "wrong-eku"  # extendedKeyUsage for the other TLS role only
    RSA_1024 = "rsa-1024"
    NEGATIVE_SERIAL = "negative-serial"  # RFC 5280 4.1.2.2 violation (CERT-09)
    V1_WITH_EXTENSIONS = "v1-with-extensions"  # RFC 5280 4.1.2.9 violation (CERT-09)
    UNRELATED_CA = "unrelated-ca"  # issued by a throwaway root that nobody trusts
    WRONG_HOST = "wrong-host"  # server certificates only: SANs name another host

    @classmethod
    def coerce(cls, value: CertDefect | str) -> CertDefect:
        if isinstance(value, CertDefect):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(d.value for d in cls)
            raise ValueError(f"unknown certificate defect {value!r}; expected one of: {valid}") from None


SERVER_ONLY_DEFECTS = frozenset({CertDefect.WRONG_HOST})

_LINT_CODES: dict[CertDefect, str | None] = {
    CertDefect.EXPIRED: "expired",
    CertDefect.NOT_YET_VALID: "not-yet-valid",
    CertDefect.SELF_SIGNED: "self-signed-leaf",
    CertDefect.CA_TRUE_LEAF: "ca-flag-on-leaf",
    CertDefect.WRONG_KEY_USAGE: "key-usage-missing-digital-signature",
    CertDefect.WRONG_EKU: None,  # depends on the role, see lint_code_for
    CertDefect.RSA_1024: "rsa-key-too-small",
    CertDefect.NEGATIVE_SERIAL: "serial-not-positive",
    CertDefect.V1_WITH_EXTENSIONS: "not-v3",
    CertDefect.UNRELATED_CA: None,  # needs the trust anchor: chain validation, not a lint
    CertDefect.WRONG_HOST: None,  # needs the host name the client asked for: TLS, not a lint
}


def lint_code_for(defect: CertDefect | str, role: str = "client") -> str | None:
    """The :func:`lint_rfc5280` code that reveals this defect on its own, or None when the certificate
    alone cannot show it (an unrelated issuer or a wrong host name need context)."""
    d = CertDefect.coerce(defect)
    if d is CertDefect.WRONG_EKU:
        return "eku-missing-server-auth" if role == "server" else "eku-missing-client-auth"
    return _LINT_CODES[d]
