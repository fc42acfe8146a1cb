"""Captured exchanges: what was sent, what came back, over which TLS, and what our checks found.

Every HTTP exchange the harness makes or receives becomes an ``Exchange``. Reports attach its text form
to the step that made it. ``redact`` is applied to every text that leaves the process, so no private
key can reach an artifact even if a SUT echoes one back.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .findings import Finding

#: Bodies longer than this are cut in text renderings (the note says how much was cut).
BODY_TEXT_LIMIT = 4096

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|$)", re.DOTALL
)


#: Base64 of a PEM block ("-----BEGIN" encodes to this at the start of a token): a key sent base64-wrapped, as
#: in the onboarding "certificate" field, is still a private key.
_BASE64_PEM = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}")


def _base64_private_key(match: re.Match[str]) -> str:
    import base64
    import binascii

    token = match.group(0)
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return token
    return "[private key removed]" if b"PRIVATE KEY-----" in decoded else token


def redact(text: str) -> str:
    """Replace every PEM private-key block (complete or truncated), plain or base64-wrapped, with a marker."""
    return _BASE64_PEM.sub(_base64_private_key, _PRIVATE_KEY_BLOCK.sub("[private key removed]", text))


def _headers_lookup(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None


def _body_text(body: bytes, limit: int = BODY_TEXT_LIMIT) -> str:
    if not body:
        return ""
    shown = body[:limit]
    try:
        text = shown.decode("utf-8")
    except UnicodeDecodeError:
        text = shown.decode("utf-8", errors="backslashreplace")
    if len(body) > limit:
        text += f"\n[... {len(body) - limit} more bytes cut; {len(body)} bytes in all]"
    return redact(text)


@dataclass
class CapturedRequest:
    method: str
    #: The absolute URL (scheme, authority, raw path and query): what ``@target-uri`` covers.
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: The request target exactly as it appeared on the request line (raw, undecoded).
    target: str = ""
    http_version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        return _headers_lookup(self.headers, name)

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def to_text(self) -> str:
        line = f"{self.method} {self.target or self.url} {self.http_version}"
        head = "\n".join(f"{k}: {v}" for k, v in self.headers)
        return redact(f"{line}\n{head}\n\n") + _body_text(self.body)


@dataclass
class CapturedResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    http_version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        return _headers_lookup(self.headers, name)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def to_text(self) -> str:
        head = "\n".join(f"{k}: {v}" for k, v in self.headers)
        return redact(f"{self.http_version} {self.status}\n{head}\n\n") + _body_text(self.body)


@dataclass
class TlsFacts:
    """What the TLS layer showed: evidence for TLS-* and CERT-* verdicts."""

    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    #: Certificate summaries (pki.describe_certificate) of the chain the peer presented, leaf first.
    peer_chain: list[dict[str, Any]] = field(default_factory=list)
    #: Did the server ask for a client certificate (TLS-05)? None when not observed.
    client_cert_requested: bool | None = None
    #: Handshake failure as text (alert name / reason); a refusal is evidence, not an error.
    error: str | None = None


@dataclass(frozen=True)
class TlsRefusal:
    """The server turned the connection away at the TLS layer: an answer, not silence (mutual TLS profiles).

    ``stage`` is "handshake" when the alert ended the handshake, "first-read" when it came after the client
    had finished (TLS 1.3 sends a client-certificate refusal then, so the client meets it on its first read).
    ``alert`` is the TLS alert name ("certificate_required", "unknown_ca", ...) or None when the server just
    closed the connection."""

    stage: str
    alert: str | None
    detail: str

    def describe(self) -> str:
        return f"TLS refusal at {self.stage}: {self.alert or 'connection closed'} ({self.detail})"

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "alert": self.alert, "detail": self.detail}


@dataclass
class Exchange:
    request: CapturedRequest
    response: CapturedResponse | None = None
    tls: TlsFacts | None = None
    #: The signature base the signer built (client side) ...
    signature_base_sent: str | None = None
    #: ... and the one the verifier rebuilt from what it received (server side).
    signature_base_rebuilt: str | None = None
    findings: list[Finding] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    elapsed_s: float | None = None
    #: Transport error text when no response arrived (timeout, reset, TLS refusal).
    error: str | None = None
    #: Free text: which check produced the response, which fault was injected, and so on.
    note: str = ""
    #: The server refused the connection at the TLS layer instead of answering in HTTP (mutual TLS).
    refusal: TlsRefusal | None = None

    def to_text(self) -> str:
        parts = ["--- request ---", self.request.to_text()]
        if self.response is not None:
            parts += ["--- response ---", self.response.to_text()]
        if self.error:
            parts += ["--- transport error ---", self.error]
        if self.refusal is not None:
            parts += ["--- TLS refusal ---", self.refusal.describe()]
        if self.tls is not None:
            parts += ["--- tls ---", json.dumps(self.tls.__dict__, indent=2, default=str)]
        if self.signature_base_sent is not None:
            parts += ["--- signature base (sent) ---", self.signature_base_sent]
        if self.signature_base_rebuilt is not None:
            parts += ["--- signature base (rebuilt) ---", self.signature_base_rebuilt]
        if self.findings:
            parts += ["--- findings ---"] + [f"[{f.severity}] {f}" for f in self.findings]
        if self.note:
            parts += ["--- note ---", self.note]
        return redact("\n".join(parts))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for summary files; bodies as text (cut), never raw bytes."""
        return {
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers,
                "body": _body_text(self.request.body),
            },
            "response": None
            if self.response is None
            else {
                "status": self.response.status,
                "headers": self.response.headers,
                "body": _body_text(self.response.body),
            },
            "tls": None if self.tls is None else self.tls.__dict__,
            "signature_base_sent": self.signature_base_sent,
            "signature_base_rebuilt": self.signature_base_rebuilt,
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error,
            "refusal": None if self.refusal is None else self.refusal.to_dict(),
            "note": self.note,
            "started_at": self.started_at,
            "elapsed_s": self.elapsed_s,
        }
