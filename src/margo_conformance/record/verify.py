"""``margo-conformance record verify DIR``: is this record what the lab signed, and is every file unchanged?

Offline. It reads ``record.dsse.json``, checks the DSSE signature over the in-toto Statement (securesystemslib)
with the given certificate (``--cert``) or with the signer certificate the record carries when that chains to
the given trust anchor (``--trust-anchor``), then compares the Statement's subjects with the directory: every
file's SHA-256, no file added, none removed. One finding per line; exit 0 nothing found, 1 a finding, 2 usage
(no such directory, no readable record, an unreadable certificate).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ..errors import ConfigError
from .manifest import ENVELOPE_FILE, PAYLOAD_TYPE, PREDICATE_TYPE, RECORD_FILES, describe_certificate, sha256_file


@dataclass
class Verification:
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    statement: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def _load_certs(path: Path, option: str) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise ConfigError(f"{option} {path}: not a PEM or DER certificate") from None


def read_envelope(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(envelope, statement) of a record; ConfigError (exit 2) when there is none or it cannot be read."""
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such directory")
    path = run_dir / ENVELOPE_FILE
    try:
        envelope = json.loads(path.read_text())
        payload = base64.b64decode(envelope["payload"], validate=True)
        statement = json.loads(payload)
        if not isinstance(statement, dict) or not isinstance(envelope.get("signatures"), list):
            raise ValueError("not an envelope")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}); is {run_dir} a run directory with a "
                          "record?") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable DSSE envelope ({exc})") from None
    return envelope, statement


def verify_record(run_dir: Path, *, cert: Path | None = None, trust_anchor: Path | None = None) -> Verification:
    run_dir = Path(run_dir)
    given = _load_certs(cert, "--cert")[0] if cert is not None else None
    anchors = _load_certs(trust_anchor, "--trust-anchor") if trust_anchor is not None else []
    envelope, statement = read_envelope(run_dir)
    result = Verification(statement=statement)
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        result.findings.append(f"{ENVELOPE_FILE}: payloadType is {envelope.get('payloadType')!r}, not {PAYLOAD_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        result.findings.append(f"{ENVELOPE_FILE}: predicateType is {statement.get('predicateType')!r}, not "
                               f"{PREDICATE_TYPE}")
    _check_signature(envelope, statement, given, anchors, result)
    _check_files(run_dir, statement, result)
    return result


def _embedded_chain(statement: dict[str, Any]) -> list[x509.Certificate]:
    signer = (statement.get("predicate") or {}).get("signer") or {}
    pem = signer.get("certificate")
    if not pem:
        return []
    return list(x509.load_pem_x509_certificates(pem.encode("ascii")))


def _check_signature(envelope: dict[str, Any], statement: dict[str, Any], given: x509.Certificate | None,
                     anchors: list[x509.Certificate], result: Verification) -> None:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    signatures = envelope.get("signatures") or []
    if not signatures:
        result.findings.append(f"signature: the record is UNSIGNED ({ENVELOPE_FILE} carries no signature); its "
                               "hashes are checked, but nothing proves who wrote them")
        return
    try:
        embedded = _embedded_chain(statement)
    except ValueError as exc:
        result.findings.append(f"signer certificate: the record's signer certificate does not parse ({exc})")
        embedded = []
    if given is not None:
        signer_cert = given
        if embedded and embedded[0] != given:
            result.findings.append(f"signer certificate: the record names {describe_certificate(embedded[0])}, not "
                                   f"the given certificate {describe_certificate(given)}")
    elif embedded:
        signer_cert = embedded[0]
        if anchors:
            problem = _chain_problem(embedded, anchors)
            if problem:
                result.findings.append(f"signer certificate: {describe_certificate(embedded[0])} {problem}")
        else:
            result.notes.append(f"note: the signature is checked with the certificate the record carries "
                                f"({describe_certificate(embedded[0])}); give --cert or --trust-anchor to check "
                                "who that is")
    else:
        result.findings.append("signer certificate: the record carries none; give --cert")
        return
    try:
        envelope_obj = Envelope.from_dict(json.loads(json.dumps(envelope)))
    except Exception as exc:  # securesystemslib raises several types for a malformed signature entry
        result.findings.append(f"signature: {ENVELOPE_FILE} has a malformed signature entry ({exc})")
        return
    pae = envelope_obj.pae()
    for signature in envelope_obj.signatures.values():
        key = SSlibKey.from_crypto(signer_cert.public_key(), keyid=signature.keyid)
        try:
            key.verify_signature(signature, pae)
            return
        except Exception:  # securesystemslib's UnverifiedSignatureError / VerificationError
            continue
    which = "the given certificate" if given is not None else "the record's signer certificate"
    result.findings.append(f"signature: the DSSE signature over the statement does not verify with {which} "
                           f"({describe_certificate(signer_cert)})")


def _chain_problem(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> str | None:
    """Why ``chain`` (leaf first, then intermediates) does not lead to one of ``anchors``; None when it does."""
    current = chain[0]
    rest = list(chain[1:])
    for _ in range(len(chain) + 1):
        for anchor in anchors:
            if current == anchor or _issued_by(current, anchor):
                return None
        parent = next((c for c in rest if _issued_by(current, c)), None)
        if parent is None:
            return "does not chain to the given trust anchor"
        rest.remove(parent)
        current = parent
    return "does not chain to the given trust anchor"


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _check_files(run_dir: Path, statement: dict[str, Any], result: Verification) -> None:
    listed = {s.get("name"): (s.get("digest") or {}).get("sha256") for s in statement.get("subject") or []}
    present = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file() or p.is_symlink()}
    present.discard(RECORD_FILES[1])  # the envelope itself
    for name in sorted(set(listed) - present):
        result.findings.append(f"removed: {name} is in the record but not in the directory")
    for name in sorted(present - set(listed)):
        result.findings.append(f"added: {name} is in the directory but not in the record")
    for name in sorted(set(listed) & present):
        actual = sha256_file(run_dir / name)
        if actual != listed[name]:
            result.findings.append(f"changed: {name} has SHA-256 {actual}, the record says {listed[name]}")
