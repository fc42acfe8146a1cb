"""The MI connection's TLS: the client context (our SVID, the bundle's anchors) and the WFM's SPIFFE-ID check.

Why httpx and not the standard library: httpcore reports each new connection through the documented ``trace``
request extension (``connection.start_tls.complete``, with the TLS stream) after the handshake and before it
writes the request. ``on_new_connection`` hooks the WFM check there; raising from it aborts the request with no
byte of HTTP sent (the stream is closed first). A pooled connection was checked when it was made.

Per connection (MIAF digest rows): TLS 1.3 preferred, 1.2 allowed with ECDHE + AEAD suites (RFC 9325), nothing
below (MTLS-04/05/06); ALPN ``http/1.1`` only (MGEN-02); our certificate is the leaf plus its intermediates
(SVID-08, MTLS-01); the WFM's chain is validated against the current anchors only, with OpenSSL's strict X.509
checks and no partial chains (MTLS-07, SVID-09: OpenSSL never fetches AIA), and never by host name
(``check_hostname=False``: the URL is routing only, MGEN-08, MID-05); then its leaf must be exactly
``spiffe://<td>/margo/wfm/<wfm-id>`` of our own SVID (``classify_wfm_svid``: MID-04, SVID-02..05/10).
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Callable
from typing import Any

from cryptography import x509

from ...pki import IssuedCert
from ...pki.spiffe import classify_wfm_svid
from .anchors import Anchors
from .defects import Behaviour
from .identity import OwnSvid

#: TLS 1.2 suites (RFC 9325: ECDHE with AEAD); the TLS 1.3 suites are all AEAD.
_AEAD_SUITES = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: The trace event after which the request is written on a new connection (httpcore).
_TLS_DONE = "connection.start_tls.complete"


class WfmIdentityRefused(Exception):
    """The device refused the WFM before sending a byte of HTTP (chain or SPIFFE ID); exit 3, never retried."""


def load_identity(ctx: ssl.SSLContext, svid: OwnSvid, *, with_intermediates: bool = True) -> None:
    """Load our SVID (leaf, then its intermediates unless a defect leaves them out) into ``ctx``."""
    IssuedCert(svid.leaf, svid.key, svid.intermediates if with_intermediates else ()).configure_cert(ctx)


def mi_context(svid: OwnSvid, anchors: Anchors, behaviour: Behaviour) -> ssl.SSLContext:
    """The client context of one trust generation (SVID and anchors); rebuilt when either changes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if behaviour.verify_chain:
        ctx.check_hostname = behaviour.check_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)  # anchors only, never an intermediate
        if anchors.certs:  # no anchors (only the accepts-empty-bundle defect gets here): nothing validates
            ctx.load_verify_locations(cadata=anchors.pem.decode("ascii"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.1 is the point of the tls11-allowed defect
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = behaviour.tls_minimum
        ctx.maximum_version = behaviour.tls_maximum
    if behaviour.tls_minimum < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:@SECLEVEL=0")
    else:
        ctx.set_ciphers(_AEAD_SUITES)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    if behaviour.send_client_cert:
        load_identity(ctx, svid, with_intermediates=behaviour.send_intermediates)
    return ctx


def check_wfm(ssl_object: Any, svid: OwnSvid, behaviour: Behaviour) -> str | None:
    """The WFM's leaf must be the expected WFM SVID; returns its SPIFFE ID, raises WfmIdentityRefused."""
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    if not der:
        raise WfmIdentityRefused("the WFM presented no certificate")
    if not behaviour.spiffe_check:
        return None
    cert = x509.load_der_x509_certificate(der)
    shape = classify_wfm_svid(cert, trust_domain=svid.trust_domain, wfm_id=svid.wfm_id)
    if shape.accepted:
        return shape.spiffe_id
    rule = (shape.reason or "").split(":", 1)[0]
    if behaviour.any_wfm_id and rule in ("MID-04", "SVID-10"):
        return shape.spiffe_id
    raise WfmIdentityRefused(f"its SVID {shape.spiffe_id or '(no single SPIFFE ID)'} is not "
                             f"{svid.expected_wfm_id} ({shape.reason})")


def on_new_connection(check: Callable[[Any], object]) -> Callable[[str, dict[str, Any]], None]:
    """An httpx ``trace`` extension that runs ``check(ssl_object)`` on every new connection before the request
    is written; when it raises, the connection is closed and the exception ends the request."""

    def trace(event: str, info: dict[str, Any]) -> None:
        if event != _TLS_DONE:
            return
        stream = info.get("return_value")
        try:
            check(stream.get_extra_info("ssl_object") if stream is not None else None)
        except BaseException:
            if stream is not None:
                stream.close()
            raise

    return trace
