"""The MIAF WFM's server SSL context: mutual TLS with X.509-SVIDs on the standard library's ``ssl``.

- client certificate REQUIRED, verified against the bundle's anchors only (no system store; the bundle holds
  anchors only, so a leaf sent without its intermediate fails: SVID-08/09, Q-56; OpenSSL never fetches AIA);
- ``VERIFY_X509_STRICT`` (RFC 5280 checks OpenSSL otherwise relaxes), validity periods checked (MTLS-07);
- TLS 1.3 by default, TLS 1.2 as the allowed fallback with ECDHE + AEAD suites only (MTLS-04/05, RFC 9325),
  never 1.0/1.1 (MTLS-06); no compression, no renegotiation; ALPN ``http/1.1`` only (MGEN-02);
- no session tickets, so a resumed session can never carry an authentication past its SVID (MTLS-08);
- the WFM's SVID with its intermediates (SVID-08, MTLS-11).

Python cannot fail a handshake on a custom check, so the SPIFFE-ID shape is checked after it (``identity.py``).
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Collection

from ...pki import IssuedCert
from . import defects as D

TlsVersionName = str  # "1.1" (defect only), "1.2", "1.3"
_VERSIONS = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
DEFAULT_TLS_VERSIONS: tuple[str, ...] = ("1.2", "1.3")
_AEAD_SUITES = "ECDHE+AESGCM:ECDHE+CHACHA20"


def miaf_server_context(svid: IssuedCert, bundle_pem: bytes, *, tls_versions: Collection[str] = DEFAULT_TLS_VERSIONS,
                        defects: Collection[str] = ()) -> ssl.SSLContext:
    versions = set(tls_versions)
    unknown = versions - {"1.2", "1.3"}
    if unknown or not versions:
        raise ValueError(f"tls_versions: 1.2 and/or 1.3 (TLS 1.0/1.1 are never enabled, MTLS-06), not {sorted(unknown)}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[min(versions)]
    ctx.maximum_version = _VERSIONS[max(versions)]
    ctx.set_ciphers(_AEAD_SUITES)  # TLS 1.2 suites; the TLS 1.3 suites are all AEAD
    if D.TLS11_ACCEPTED in defects:
        with warnings.catch_warnings():  # the point of the defect is the deprecated version
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:@SECLEVEL=0")
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_TICKET
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    ctx.num_tickets = 0
    ctx.verify_mode = ssl.CERT_OPTIONAL if D.NO_CLIENT_CERT_ACCEPTED in defects else ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)  # anchors only: an intermediate never is one
    ctx.load_verify_locations(cadata=bundle_pem.decode("ascii"))
    if not ctx.get_ca_certs():
        raise ValueError("the trust bundle holds no certificate")
    presented = IssuedCert(svid.cert, svid.key, ()) if D.LEAF_WITHOUT_INTERMEDIATE in defects else svid
    presented.configure_cert(ctx)
    return ctx
