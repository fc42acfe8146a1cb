"""TLS probes of a WFM: handshakes with chosen versions, trust anchors and ALPN, and what they showed.

The WFM-role scenarios need facts that an HTTP client hides: whether the server sent a
CertificateRequest (TLS-05), which chain it presented (TLS-06 evidence), which version and ALPN
protocol were agreed (TLS-02, GEN-02). Python's ``ssl`` exposes handshake messages only through the
CPython debug hook ``SSLContext._msg_callback``; we use it when present and report "not observed"
(None) when it is not, rather than guessing.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from .evidence import TlsFacts

_CERTIFICATE_REQUEST = 13
_CERTIFICATE = 11


@dataclass
class TlsProbeResult:
    ok: bool
    facts: TlsFacts
    #: DER certificates the server presented, leaf first (from the Certificate handshake message).
    peer_chain_der: list[bytes] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.facts.__dict__}


def parse_certificate_message(body: bytes, tls13: bool) -> list[bytes]:
    """DER certificates of a TLS Certificate handshake body (RFC 8446 4.4.2 / RFC 5246 7.4.2)."""
    pos = 0
    if tls13:
        ctx_len = body[pos]
        pos += 1 + ctx_len
    total = int.from_bytes(body[pos:pos + 3], "big")
    pos += 3
    end = min(len(body), pos + total)
    certs: list[bytes] = []
    while pos + 3 <= end:
        n = int.from_bytes(body[pos:pos + 3], "big")
        pos += 3
        certs.append(body[pos:pos + n])
        pos += n
        if tls13 and pos + 2 <= end:
            ext_len = int.from_bytes(body[pos:pos + 2], "big")
            pos += 2 + ext_len
    return certs


def _version(name: str | None) -> ssl.TLSVersion | None:
    return {None: None, "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[name]


def probe(
    host: str,
    port: int,
    *,
    server_name: str | None = None,
    cadata: str | None = None,
    verify: bool = True,
    min_version: str | None = None,
    max_version: str | None = None,
    alpn: list[str] | None = None,
    timeout_s: float = 10.0,
) -> TlsProbeResult:
    """One handshake; never raises for what the server does (a refusal is a result, not an error).

    ``verify`` with ``cadata`` trusts exactly that root and checks the host name (``server_name`` or
    ``host``); ``verify=False`` only observes (used to fetch evidence, never to decide trust).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
        if cadata:
            ctx.load_verify_locations(cadata=cadata)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if (v := _version(min_version)) is not None:
        ctx.minimum_version = v
    if (v := _version(max_version)) is not None:
        ctx.maximum_version = v
    if alpn:
        ctx.set_alpn_protocols(alpn)
    seen: dict[str, Any] = {"cert_request": False, "chain": [], "observed": False}

    def on_message(conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: bytes) -> None:
        try:
            if direction != "read" or int(content_type) != 22 or not data:
                return
            seen["observed"] = True
            if data[0] == _CERTIFICATE_REQUEST:
                seen["cert_request"] = True
            elif data[0] == _CERTIFICATE:
                seen["certificate_body"] = bytes(data[4:])
        except Exception:  # evidence gathering must never break the probe
            pass

    hooked = hasattr(ctx, "_msg_callback")
    if hooked:
        ctx._msg_callback = on_message  # type: ignore[attr-defined]
    facts = TlsFacts()
    ok = False
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_name or host) as tls:
                facts.version = tls.version()
                cipher = tls.cipher()
                facts.cipher = cipher[0] if cipher else None
                facts.alpn = tls.selected_alpn_protocol()
                ok = True
                if not seen["chain"]:
                    leaf = tls.getpeercert(binary_form=True)
                    if leaf:
                        seen["chain"] = [leaf]
    except ssl.SSLCertVerificationError as exc:
        facts.error = f"certificate verification failed: {exc.verify_message or exc.reason}"
    except ssl.SSLError as exc:
        facts.error = f"TLS handshake failed: {exc.reason or exc}"
    except TimeoutError:
        facts.error = f"no TLS answer within {timeout_s:g} s"
    except OSError as exc:
        facts.error = f"connection failed: {exc.strerror or exc}"
    facts.client_cert_requested = seen["cert_request"] if (hooked and seen["observed"]) else None
    if "certificate_body" in seen:
        seen["chain"] = _parse_chain(seen["certificate_body"], facts.version, max_version) or seen["chain"]
    facts.peer_chain = [_summary(der) for der in seen["chain"]]
    return TlsProbeResult(ok=ok, facts=facts, peer_chain_der=list(seen["chain"]))


def _parse_chain(body: bytes, negotiated: str | None, max_version: str | None) -> list[bytes]:
    """Parse with the negotiated version; when the handshake failed, try TLS 1.3 then 1.2 framing."""
    if negotiated == "TLSv1.2" or max_version == "1.2":
        orders = [False]
    elif negotiated == "TLSv1.3":
        orders = [True]
    else:
        orders = [True, False]
    for tls13 in orders:
        try:
            certs = parse_certificate_message(body, tls13=tls13)
            if certs and all(_loads(c) for c in certs):
                return certs
        except (IndexError, ValueError):
            continue
    return []


def _loads(der: bytes) -> bool:
    try:
        x509.load_der_x509_certificate(der)
        return True
    except ValueError:
        return False


def _summary(der: bytes) -> dict[str, Any]:
    try:
        from .pki import describe_certificate

        return dict(describe_certificate(x509.load_der_x509_certificate(der)))
    except Exception as exc:  # a garbage certificate is evidence too
        return {"error": f"unparseable certificate ({type(exc).__name__})", "bytes": len(der)}
