"""How the device decides whom to trust (TLS-02/03/04, CERT-06/07, Q-07, Q-31).

The WFM root CA arrives out of band (a file, PEM or DER) or is downloaded from
``GET /api/v1/onboarding/certificate`` over a bootstrap channel that is itself verified against a given
bootstrap CA. From then on every connection to the WFM is verified against that root CA alone, host name
included. There is no trust-on-first-use path and no ``verify=False``: the only ways to weaken the
context are the named defects, each one switch of ``Behaviour``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import ConfigError
from ..pki import CertificateDecodeError, decode_certificate
from .defects import Behaviour

from ..patterns import CERTIFICATE_PATH  # noqa: E402

#: OpenSSL X509_V_FLAG_NO_CHECK_TIME: validity dates ignored. Only the 'tls-accept-expired' defect sets it.
_NO_CHECK_TIME = 0x200000


def load_ca_file(path: Path) -> x509.Certificate:
    """A CA certificate from a file, PEM or DER (the forms an operator is likely to hold)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"CA file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"CA file {path} is not readable: {exc}") from None
    try:
        return decode_certificate(data, strict=False).certificate
    except CertificateDecodeError as exc:
        raise ConfigError(f"CA file {path} holds no usable certificate: {exc}") from None


def decode_downloaded_root(value: object) -> x509.Certificate:
    """The ``certificate`` member of the Certificate API answer: base64(DER) or base64(PEM) (Q-09)."""
    if not isinstance(value, str) or not value:
        raise ValueError("the answer has no 'certificate' string")
    try:
        return decode_certificate(value, strict=False).certificate
    except CertificateDecodeError as exc:
        raise ValueError(f"the 'certificate' member is not a certificate ({exc.reason}): {exc}") from None


def client_context(anchor: x509.Certificate | None, behaviour: Behaviour = Behaviour()) -> ssl.SSLContext:
    """A client context trusting ``anchor`` alone (no system store), checking the host name, TLS 1.3+.

    ``anchor`` may be None only when the behaviour does not verify at all (a defect).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = behaviour.tls_minimum
    ctx.set_alpn_protocols(["http/1.1"])  # GEN-02
    if not behaviour.verify_server_cert:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if anchor is None:
        raise ConfigError("no trust anchor for the WFM: give --ca-file or --bootstrap-ca-file")
    ctx.load_verify_locations(cadata=anchor.public_bytes(Encoding.DER))
    ctx.check_hostname = behaviour.check_hostname
    if behaviour.accept_expired_server_cert:
        ctx.verify_flags |= _NO_CHECK_TIME
    return ctx


def bootstrap_context(bootstrap_ca: x509.Certificate, behaviour: Behaviour = Behaviour()) -> ssl.SSLContext:
    """The context for the one Certificate API call: verified against the bootstrap CA (CERT-06, Q-31).

    The 'bootstrap-tofu' defect turns verification off here, and only here.
    """
    if not behaviour.verify_bootstrap_channel:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = behaviour.tls_minimum
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx
    return client_context(bootstrap_ca, behaviour)


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)
