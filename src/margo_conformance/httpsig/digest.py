"""RFC 9530 Content-Digest: make it (DIG-01), parse it, and judge a received one against the body (DIG-03).

The harness position (DIGEST DIG-04..07): SHA-256 over the exact body bytes; ``sha-256`` is required,
``sha-512`` is tolerated as an extra member (checked too), and a digest of base64(body) is named as such.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import http_sf

from ..findings import Finding

#: Digest algorithms we can compute, by their RFC 9530 registry name.
DIGEST_ALGORITHMS: dict[str, Callable[..., "hashlib._Hash"]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}
#: The digest of an empty body (DIG-05): what a body-less request may carry.
EMPTY_BODY_DIGEST = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"

# The exact shape content_digest() writes; anything else goes through the Structured Field parser.
_CANONICAL_SHA256 = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")


class DigestSyntaxError(ValueError):
    """The Content-Digest value is not an RFC 8941 Dictionary of Byte Sequences."""


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """``sha-256=:<base64>:`` over the exact body bytes (RFC 9530 section 2, DIG-01)."""
    try:
        hasher = DIGEST_ALGORITHMS[algorithm]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}; use one of {sorted(DIGEST_ALGORITHMS)}")
    return f"{algorithm}=:{base64.b64encode(hasher(body).digest()).decode('ascii')}:"


def parse_content_digest(value: str) -> dict[str, bytes]:
    """Every member of the Content-Digest Dictionary, by algorithm name (unknown algorithms included).

    Raises DigestSyntaxError when the value is not a Dictionary whose members are Byte Sequences
    (``sha-256=abc`` and ``sha-256=:...`` without the closing colon are the usual device mistakes).
    """
    fast = _CANONICAL_SHA256.fullmatch(value)
    if fast is not None:
        return {"sha-256": base64.b64decode(fast.group(1))}
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise DigestSyntaxError("Content-Digest contains non-ASCII characters") from None

    def duplicate(name: str, context: str) -> None:
        if context == "dictionary":
            raise DigestSyntaxError(f"Content-Digest names algorithm {name!r} twice")

    try:
        parsed = http_sf.parse(raw, tltype="dictionary", on_duplicate_key=duplicate)
    except DigestSyntaxError:
        raise
    except Exception as exc:  # http_sf raises ValueError subclasses, but be safe with odd input
        raise DigestSyntaxError(f"Content-Digest is not a Structured Field Dictionary: {exc}") from None
    if not isinstance(parsed, dict) or not parsed:
        raise DigestSyntaxError("Content-Digest is empty")
    members: dict[str, bytes] = {}
    for name, member in parsed.items():
        bare = member[0] if isinstance(member, tuple) else member
        if not isinstance(bare, bytes):
            raise DigestSyntaxError(
                f"member {name!r} is not a Byte Sequence (expected {name}=:<base64>:, found {type(bare).__name__})"
            )
        members[name] = bare
    return members


def check_content_digest(
    value: str | None, body: bytes, *, require_sha256: bool = True
) -> list[Finding]:
    """Judge a received Content-Digest against the received body; no findings means it is right.

    Called when the body is non-empty or the header is present (DIG-03, DIG-05). Codes:
    ``digest-missing``, ``digest-malformed``, ``digest-algorithm-unsupported``, ``digest-over-base64``,
    ``digest-mismatch``.
    """
    if value is None:
        return [Finding("digest-missing", f"no Content-Digest header on a request with a {len(body)}-byte body",
                        requirement="DIG-03")]
    try:
        members = parse_content_digest(value)
    except DigestSyntaxError as exc:
        return [Finding("digest-malformed", f"{exc}; received {_clip(value)!r}", requirement="DIG-03")]
    findings: list[Finding] = []
    known = {name: digest for name, digest in members.items() if name in DIGEST_ALGORITHMS}
    if "sha-256" not in members:
        found = ", ".join(sorted(members))
        if require_sha256 or not known:  # without a member we can compute, the body is unchecked
            findings.append(Finding(
                "digest-algorithm-unsupported",
                f"no sha-256 member (found {found}); sha-256 is required (DIG-06)" if require_sha256
                else f"no digest algorithm we can check (found {found})",
                requirement="DIG-06"))
    for name, digest in known.items():
        expected = DIGEST_ALGORITHMS[name](body).digest()
        if len(digest) != len(expected):
            findings.append(Finding(
                "digest-malformed", f"{name} digest is {len(digest)} bytes, expected {len(expected)}",
                requirement="DIG-03"))
        elif digest != expected:
            if name == "sha-256" and digest == hashlib.sha256(base64.b64encode(body)).digest():
                findings.append(Finding(
                    "digest-over-base64",
                    "sha-256 was computed over base64(body), not over the body bytes (DIG-04)",
                    requirement="DIG-04"))
            else:
                findings.append(Finding(
                    "digest-mismatch",
                    f"{name} of the received {len(body)}-byte body is "
                    f":{base64.b64encode(expected).decode()}:, header says :{base64.b64encode(digest).decode()}:",
                    requirement="DIG-03"))
    return findings


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
