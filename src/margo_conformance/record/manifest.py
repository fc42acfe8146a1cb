"""``record.json`` and ``record.dsse.json``: every file of a run with its SHA-256, signed as an in-toto attestation.

``record.json`` is for people and tools: the run's identity (who and what was certified, harness version,
profile and spec commit, the catalog's digest, start and end time, lab and engineer), its result, and every
file of the run directory (relative path, size, SHA-256) except the two record files themselves.

``record.dsse.json`` is a DSSE envelope (securesystemslib) whose payload is an in-toto Statement v1
(in-toto-attestation): its subjects are ``record.json`` and every file it lists, its predicate
(``PREDICATE_TYPE``) the identity, the result with every requirement's verdict, and the signer's X.509
certificate (PEM; never the key). With ``--sign-key``/``--sign-cert`` the envelope is signed with the lab's key;
without them it has no signature and says so (``record verify`` still checks every hash).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..errors import ConfigError

RECORD_FILE = "record.json"
ENVELOPE_FILE = "record.dsse.json"
#: The files a record adds to the directory it describes (never listed in record.json).
RECORD_FILES = (RECORD_FILE, ENVELOPE_FILE)
PREDICATE_TYPE = "https://margo-conformance.dev/certification-record/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
RECORD_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SigningIdentity:
    """The lab's key and certificate (chain: leaf first, then any intermediates)."""

    key: Any
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    def describe(self) -> str:
        return describe_certificate(self.certificate)


def describe_certificate(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (sha256 {cert.fingerprint(_sha256()).hex()})"


def load_signing_identity(key_path: Path, cert_path: Path) -> SigningIdentity:
    """Read the lab's key and certificate; every problem is a ConfigError (exit 2) naming the file."""
    try:
        key_data = Path(key_path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"--sign-key {key_path}: cannot be read ({exc.strerror or exc})") from None
    try:
        cert_data = Path(cert_path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"--sign-cert {cert_path}: cannot be read ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except TypeError:
        raise ConfigError(f"--sign-key {key_path}: the key is encrypted; give an unencrypted PEM key") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--sign-key {key_path}: not a PEM private key ({exc})") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise ConfigError(f"--sign-key {key_path}: EC curve {key.curve.name} is not supported (P-256 or P-384)")
    elif isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigError(f"--sign-key {key_path}: RSA {key.key_size} is too short (2048 bits or more)")
    elif not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(f"--sign-key {key_path}: {type(key).__name__} is not supported (EC P-256/P-384, RSA, Ed25519)")
    try:
        chain = tuple(x509.load_pem_x509_certificates(cert_data))
    except ValueError as exc:
        raise ConfigError(f"--sign-cert {cert_path}: not a PEM certificate ({exc})") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if chain[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise ConfigError(f"--sign-cert {cert_path}: its public key is not the key of --sign-key {key_path}")
    return SigningIdentity(key=key, chain=chain)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(run_dir: Path) -> list[dict[str, Any]]:
    """Every file under ``run_dir`` (relative POSIX path, size, SHA-256), sorted, without the record files."""
    out = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(run_dir).as_posix()
        if rel in RECORD_FILES:
            continue
        out.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_file(path)})
    return out


def identity_of(summary: dict[str, Any]) -> dict[str, Any]:
    """Who and what was certified, how and when: read from the run's summary.json."""
    sut, run = summary["sut"], summary["run"]
    return {
        "harness": summary["harness"],
        "profile": summary["profile"],
        "catalog": summary.get("catalog") or {"digest": None},
        "sut": {k: sut.get(k) for k in ("name", "role", "vendor", "product", "version", "source", "defects")},
        "run": {k: run.get(k) for k in ("started_at", "finished_at", "duration_s", "strict", "selection", "lab",
                                        "engineer")},
    }


def result_of(summary: dict[str, Any]) -> dict[str, Any]:
    """The run's result and every requirement's verdict (what a certificate is issued on)."""
    return {
        "verdict": summary["result"]["verdict"],
        "exit_code": summary["result"]["exit_code"],
        "headline": summary["result"]["headline"],
        "requirements": [{"id": r["id"], "verdict": r["verdict"], "axis": r.get("axis"),
                          "verdict_level": r.get("verdict_level")} for r in summary["requirements"]],
    }


def write_record(run_dir: Path, identity: SigningIdentity | None, *,
                 rejudged: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write record.json and record.dsse.json for the run in ``run_dir`` (its summary.json must exist)."""
    from .. import __version__

    run_dir = Path(run_dir)
    for name in RECORD_FILES:
        (run_dir / name).unlink(missing_ok=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    signer = None
    if identity is not None:
        signer = {"subject": identity.certificate.subject.rfc4514_string(),
                  "sha256": identity.certificate.fingerprint(_sha256()).hex(),
                  "certificate": "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                         for c in identity.chain)}
    record: dict[str, Any] = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "predicate_type": PREDICATE_TYPE,
        "written_by": f"margo-conformance {__version__}",
        "identity": identity_of(summary),
        "result": result_of(summary),
        "signed": signer is not None,
        "signer": None if signer is None else {k: signer[k] for k in ("subject", "sha256")},
        **({"rejudged": rejudged} if rejudged is not None else {}),
        "files": list_files(run_dir),
    }
    record_path = run_dir / RECORD_FILE
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    subjects = [{"name": RECORD_FILE, "digest": {"sha256": sha256_file(record_path)}}] + \
               [{"name": f["path"], "digest": {"sha256": f["sha256"]}} for f in record["files"]]
    predicate = {"record": RECORD_FILE, "identity": record["identity"], "result": record["result"],
                 "signer": signer, **({"rejudged": rejudged} if rejudged is not None else {})}
    payload = statement_bytes(subjects, predicate)
    envelope = _envelope(payload)
    if identity is not None:
        from securesystemslib.signer import CryptoSigner, SSlibKey

        public = SSlibKey.from_crypto(identity.key.public_key())
        envelope.sign(CryptoSigner(identity.key, public))
    envelope_path = run_dir / ENVELOPE_FILE
    envelope_path.write_text(json.dumps(envelope.to_dict(), indent=2) + "\n")
    return record_path, envelope_path


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def statement_bytes(subjects: list[dict[str, Any]], predicate: dict[str, Any]) -> bytes:
    """The in-toto Statement v1 (in-toto-attestation's protobuf binding, validated) as JSON bytes."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    descriptors = [ResourceDescriptor(name=s["name"], digest=s["digest"]).pb for s in subjects]
    # A protobuf Struct holds every number as a double: integers come back as floats (1 -> 1.0).
    statement = Statement(descriptors, PREDICATE_TYPE, predicate)
    statement.validate()
    return json.dumps(json_format.MessageToDict(statement.pb), indent=1).encode("utf-8")


def _envelope(payload: bytes) -> Any:
    from securesystemslib.dsse import Envelope

    return Envelope(payload=payload, payload_type=PAYLOAD_TYPE, signatures={})


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding (what the signature is over); documented for third parties."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
