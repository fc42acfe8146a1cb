"""Trust anchors from a bundle document: PEM certificates, or a SPIFFE trust domain bundle (JWK Set), by content.

From a JWK Set only ``use: "x509-svid"`` keys count, each anchor being ``x5c[0]`` (base64 DER); ``jwt-svid`` and
other keys are ignored (MTB-02, MTB-06). A document that parses but holds no X.509 anchor is ``EmptyBundle``
(the device keeps what it has, or stops when it has nothing: exit 3); one that does not parse at all is
``BadBundle``. ``spiffe_refresh_hint`` and ``spiffe_sequence`` are kept for the refresh schedule.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

_SHA256 = hashes.SHA256()


class BadBundle(ValueError):
    """Neither PEM certificates nor a JWK Set."""


class EmptyBundle(ValueError):
    """A well-formed bundle without any X.509 trust anchor (MTB-06)."""


@dataclass(frozen=True)
class Anchors:
    """The trust anchors a device validates the WFM's chain against (replaced as a whole on refresh)."""

    certs: tuple[x509.Certificate, ...]
    refresh_hint_s: float | None = None
    sequence: int | None = None

    @property
    def pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certs)

    def fingerprints(self) -> frozenset[bytes]:
        return frozenset(c.fingerprint(_SHA256) for c in self.certs)

    def merged_with(self, newer: Anchors) -> Anchors:
        """Old and new anchors together (the merges-bundle defect; a conformant device replaces, MTB-02)."""
        seen = self.fingerprints()
        extra = tuple(c for c in newer.certs if c.fingerprint(_SHA256) not in seen)
        return Anchors(self.certs + extra, newer.refresh_hint_s, newer.sequence)

    def describe(self) -> str:
        names = ", ".join(c.subject.rfc4514_string() for c in self.certs) or "none"
        return f"{len(self.certs)} anchor(s): {names}"


def parse_anchors(data: bytes) -> Anchors:
    """The anchors in ``data`` (PEM or JWK Set JSON); BadBundle / EmptyBundle otherwise."""
    text = data.lstrip()
    if text.startswith(b"{"):
        return _from_jwks(data)
    if b"-----BEGIN" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise BadBundle(f"PEM that is not certificates ({exc})") from None
        return Anchors(tuple(certs))
    raise BadBundle("neither PEM certificates nor a SPIFFE bundle (JWK Set JSON)")


def _from_jwks(data: bytes) -> Anchors:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBundle(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise BadBundle("a SPIFFE bundle is a JWK Set: a JSON object with a 'keys' array")
    certs: list[x509.Certificate] = []
    for i, key in enumerate(doc["keys"]):
        if not isinstance(key, dict) or key.get("use") != "x509-svid":
            continue  # jwt-svid and anything else is ignored (MTB-02, MTB-06)
        x5c = key.get("x5c")
        if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
            raise BadBundle(f"keys[{i}] (use x509-svid) has no x5c certificate")
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True)))
        except (ValueError, binascii.Error) as exc:
            raise BadBundle(f"keys[{i}].x5c[0] is not a base64 DER certificate ({exc})") from None
    hint = doc.get("spiffe_refresh_hint")
    seq = doc.get("spiffe_sequence")
    anchors = Anchors(tuple(certs),
                      float(hint) if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint >= 0
                      else None,
                      seq if isinstance(seq, int) and not isinstance(seq, bool) else None)
    if not certs:
        raise EmptyBundle("the bundle holds no x509-svid key (no X.509 trust anchor)")
    return anchors


def empty_anchors(of: bytes) -> Anchors:
    """What the accepts-empty-bundle defect installs from an empty bundle: no anchors, its refresh hint kept."""
    try:
        doc = json.loads(of)
        hint = doc.get("spiffe_refresh_hint") if isinstance(doc, dict) else None
    except (ValueError, UnicodeDecodeError):
        hint = None
    return Anchors((), float(hint) if isinstance(hint, (int, float)) and not isinstance(hint, bool) else None)
