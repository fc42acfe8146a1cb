"""Client TLS for mutual TLS with SVIDs: one context per identity, the server's presented chain, refusals.

The context trusts the run's bundle only (anchors, normally R1) and does not check host names: MIAF
authenticates the WFM by the SPIFFE ID in its SVID, and the URL is routing information only (Q-55, MID-05);
the checks judge the SPIFFE ID from the recorded chain. The chain the server sent is read from its
``Certificate`` handshake message through CPython's ``SSLContext._msg_callback`` (the only way on Python 3.11
to see intermediates); where that hook is missing, only the leaf is recorded and the report says so.
"""

from __future__ import annotations

import re
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evidence import TlsRefusal
from ..tlsprobe import _parse_chain, _summary

_CERTIFICATE = 11
_CERTIFICATE_REQUEST = 13
_HANDSHAKE = 22

#: OpenSSL reason codes that name a TLS alert the peer sent: SSLV3_ALERT_BAD_CERTIFICATE -> bad_certificate.
_ALERT_REASON = re.compile(r"^(?:SSLV3|TLSV1|TLSV1_\d|TLSV13)_ALERT_(?P<name>[A-Z0-9_]+)$")

#: Reasons that mean our own TLS library could not offer what was asked (nothing reached the server).
LOCAL_LIMITS = frozenset({"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM"})

_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
             "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate as the TLS library loads it: the chain file (leaf first, then intermediates) and
    the key file. ``name`` is the fixture name (C-OK, C-2URI, ...) for reports; the key never leaves the file."""

    name: str
    cert_file: Path
    key_file: Path
    spiffe_id: str | None = None

    @classmethod
    def from_svid(cls, svid: Any, directory: Path, name: str) -> ClientIdentity:
        """Write an ``Svid`` (pki.spiffe) into ``directory`` (key 0600) and describe it."""
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        files = svid.write(directory, stem)
        return cls(name=name, cert_file=Path(files.cert), key_file=Path(files.key),
                   spiffe_id=getattr(svid, "spiffe_id", None))


@dataclass
class ServerChainRecorder:
    """What the server's handshake messages showed: its Certificate message and whether it asked for ours."""

    certificate_body: bytes | None = None
    cert_request: bool = False
    observed: bool = False

    def reset(self) -> None:
        self.certificate_body, self.cert_request, self.observed = None, False, False

    def __call__(self, conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any,
                 data: bytes) -> None:
        try:
            if direction != "read" or int(content_type) != _HANDSHAKE or not data:
                return
            self.observed = True
            if data[0] == _CERTIFICATE_REQUEST:
                self.cert_request = True
            elif data[0] == _CERTIFICATE:
                self.certificate_body = bytes(data[4:])
        except Exception:  # evidence gathering never breaks a connection
            pass

    def chain_der(self, negotiated: str | None) -> list[bytes]:
        if self.certificate_body is None:
            return []
        return _parse_chain(self.certificate_body, negotiated, None)

    @staticmethod
    def describe(chain_der: list[bytes]) -> list[dict[str, Any]]:
        return [_summary(der) for der in chain_der]


def client_context(identity: ClientIdentity | None, bundle_pem: bytes | str | None, *,
                   min_version: str | None = "1.2", max_version: str | None = None,
                   alpn: list[str] | None = None, verify: bool = True,
                   recorder: ServerChainRecorder | None = None) -> ssl.SSLContext:
    """A TLS client context presenting ``identity`` (None: no certificate, C-NOCERT), trusting ``bundle_pem`` only.

    ``verify=False`` only observes the server (the WFM-SVID scenarios judge its chain themselves); host names
    are never checked (Q-55). Versions below 1.2 lower OpenSSL's security level so the offer can be made at all."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if not bundle_pem:
            raise ValueError("a verifying context needs the trust bundle")
        ctx.load_verify_locations(cadata=bundle_pem.decode() if isinstance(bundle_pem, bytes) else bundle_pem)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    legacy = any(v in ("1.0", "1.1") for v in (min_version, max_version))
    if legacy:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # offering TLS 1.0/1.1 is the point of the MTLS-06 probes
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            ctx.minimum_version = _VERSIONS[min_version]
        if max_version is not None:
            ctx.maximum_version = _VERSIONS[max_version]
    ctx.set_alpn_protocols(alpn or ["http/1.1"])
    if identity is not None:
        try:
            ctx.load_cert_chain(str(identity.cert_file), str(identity.key_file))
        except ssl.SSLError:
            # A deliberately weak fixture (SHA-1 signature, small key) is below OpenSSL's default security level
            # for our own certificate too; presenting it is the point, so the level is lowered for it alone.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.load_cert_chain(str(identity.cert_file), str(identity.key_file))
    if recorder is not None and hasattr(ctx, "_msg_callback"):
        ctx._msg_callback = recorder  # type: ignore[attr-defined]
    return ctx


def tls_alert(reason: str | None) -> str | None:
    """The alert name in an OpenSSL reason code, or None when the reason names no alert."""
    match = _ALERT_REASON.match(reason or "")
    return match["name"].lower() if match else None


def refusal_of(cause: BaseException, stage: str) -> TlsRefusal | None:
    """The refusal an exception shows, or None when it is silence or our own limit.

    - an SSL error with an alert: refused with that alert;
    - an SSL error without one, an EOF or a reset in the middle of TLS: refused by closing the connection;
    - a local limit (our OpenSSL cannot offer the version asked): None, the caller reports NOT TESTED;
    - anything else (connection refused, timeout): None, silence."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        return None  # we refused the server, not the other way round
    if isinstance(cause, ssl.SSLError):
        reason = str(cause.reason or "")
        if reason in LOCAL_LIMITS:
            return None
        return TlsRefusal(stage=stage, alert=tls_alert(reason), detail=reason or str(cause))
    if isinstance(cause, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return TlsRefusal(stage=stage, alert=None, detail=f"{type(cause).__name__}: the server closed the connection")
    return None


def is_local_limit(cause: BaseException) -> bool:
    return isinstance(cause, ssl.SSLError) and str(cause.reason or "") in LOCAL_LIMITS


@dataclass
class HandshakeFacts:
    """What one handshake showed (for the TLS-version and WFM-SVID scenarios): version, cipher, chain, refusal."""

    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    chain_der: list[bytes] = field(default_factory=list)
    cert_requested: bool | None = None
    refusal: TlsRefusal | None = None
    #: Our TLS library could not make the offer at all (e.g. TLS 1.0 compiled out): nothing to judge.
    local_limit: str | None = None
    #: The server did not answer at all (connection refused, timeout).
    silence: str | None = None
    #: Extra facts for RFC 9325 (extended master secret and the like), where the library shows them.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.version is not None and self.refusal is None

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "cipher": self.cipher, "alpn": self.alpn,
                "presented_chain": ServerChainRecorder.describe(self.chain_der),
                "client_certificate_requested": self.cert_requested,
                "refusal": None if self.refusal is None else self.refusal.to_dict(),
                "local_limit": self.local_limit, "silence": self.silence, **self.extras}
