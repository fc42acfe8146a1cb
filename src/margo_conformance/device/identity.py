"""The device's identity and memory: key, certificate, clientId and WFM URL in a state directory.

Identity source (ONB-05, CERT-09/10): by default a fresh key of the chosen type and a clean RFC 5280
client certificate issued by a per-device "manufacturer" CA made by ``pki`` (the CA certificate is kept
as ``issuer-ca.pem`` so an operator can upload it to the WFM, CERT-12; its private key is thrown away).
A CA-issued leaf is chosen over a self-signed one because ``pki`` lints self-signed leaves and a WFM
that trusts issuers needs an issuer. Alternatively key and certificate come from files.

Layout of the state directory (a restart with it does not onboard again)::

    key.pem          PKCS#8 private key, file mode 0600, never logged
    cert.pem         the client certificate
    issuer-ca.pem    the manufacturer CA (generated identities only)
    wfm-root-ca.pem  the WFM root CA the device trusts (CERT-07)
    state.json       {"wfm_url", "client_id", "device_id", "certificate_sha256", "onboarded_at"}
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from ..errors import ConfigError
from ..httpsig import keyid_for
from ..pki import (CertificateDecodeError, IssuedCert, KeyType, PrivateKey, TestCA, decode_certificate,
                   generate_key, key_type_of)

KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"
ISSUER_FILE = "issuer-ca.pem"
ROOT_CA_FILE = "wfm-root-ca.pem"
STATE_FILE = "state.json"


@dataclass
class DeviceState:
    wfm_url: str | None = None
    client_id: str | None = None
    device_id: str | None = None
    certificate_sha256: str | None = None
    onboarded_at: float | None = None


def _write_private(path: Path, data: bytes) -> None:
    """Create or replace a file readable by its owner only (0600) before any byte is written."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return decode_certificate(path.read_bytes(), strict=False).certificate
    except FileNotFoundError:
        raise ConfigError(f"certificate file not found: {path}") from None
    except (OSError, CertificateDecodeError) as exc:
        raise ConfigError(f"certificate file {path} holds no usable certificate: {exc}") from None


def _spki(obj: x509.Certificate | PrivateKey) -> bytes:
    public = obj.public_key()
    return public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _load_key(path: Path) -> PrivateKey:
    try:
        return load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"key file not found: {path}") from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"key file {path} holds no usable unencrypted PEM private key: {exc}") from None


class StateDir:
    """Everything the device must remember between runs, in one directory it owns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            os.chmod(self.path, 0o700)
        except OSError as exc:
            raise ConfigError(f"state directory {self.path} is not usable: {exc}") from None

    # -- identity ---------------------------------------------------------------------------------
    def has_identity(self) -> bool:
        return (self.path / KEY_FILE).exists() and (self.path / CERT_FILE).exists()

    def load_identity(self) -> IssuedCert:
        key = _load_key(self.path / KEY_FILE)
        cert = _load_cert(self.path / CERT_FILE)
        if _spki(cert) != _spki(key):
            raise ConfigError(f"{self.path / CERT_FILE} does not belong to {self.path / KEY_FILE}")
        return IssuedCert(cert=cert, key=key)

    def key_mode_too_open(self) -> bool:
        mode = stat.S_IMODE((self.path / KEY_FILE).stat().st_mode)
        return bool(mode & 0o077)

    def create_identity(self, key_type: KeyType | str, common_name: str | None = None) -> IssuedCert:
        """A fresh key and a certificate from a fresh manufacturer CA, written to the state directory."""
        key = generate_key(KeyType(key_type))
        name = common_name or f"margo-ref-{keyid_for(key)[:12]}"
        ca = TestCA(f"Margo reference device manufacturer CA ({name})")
        issued = ca.issue_client_cert(name, key_type=KeyType(key_type), key=key)
        self.store_identity(issued, issuer_pem=ca.cert_pem())
        return issued

    def import_identity(self, cert_file: Path, key_file: Path) -> IssuedCert:
        """Key and certificate from files, copied into the state directory (key 0600)."""
        key = _load_key(Path(key_file))
        cert = _load_cert(Path(cert_file))
        if _spki(cert) != _spki(key):
            raise ConfigError(f"{cert_file} does not belong to the key in {key_file}")
        try:
            key_type_of(key)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"key in {key_file} is of an unsupported type: {exc}") from None
        issued = IssuedCert(cert=cert, key=key)
        self.store_identity(issued)
        return issued

    def store_identity(self, issued: IssuedCert, issuer_pem: bytes | None = None) -> None:
        self.ensure()
        _write_private(self.path / KEY_FILE, issued.key_pem())
        _write_public(self.path / CERT_FILE, issued.cert_pem())
        if issuer_pem is not None:
            _write_public(self.path / ISSUER_FILE, issuer_pem)

    # -- trust anchor -----------------------------------------------------------------------------
    def load_root_ca(self) -> x509.Certificate | None:
        path = self.path / ROOT_CA_FILE
        return _load_cert(path) if path.exists() else None

    def store_root_ca(self, cert: x509.Certificate) -> None:
        self.ensure()
        _write_public(self.path / ROOT_CA_FILE, cert.public_bytes(Encoding.PEM))

    # -- state ------------------------------------------------------------------------------------
    def load_state(self) -> DeviceState:
        path = self.path / STATE_FILE
        if not path.exists():
            return DeviceState()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return DeviceState(**{k: data.get(k) for k in DeviceState.__dataclass_fields__})
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is not a readable device state file: {exc}") from None

    def save_state(self, state: DeviceState) -> None:
        self.ensure()
        _write_public(self.path / STATE_FILE, (json.dumps(asdict(state), indent=2) + "\n").encode())

    def record_onboarding(self, state: DeviceState, *, wfm_url: str, client_id: str, cert_sha256: str) -> DeviceState:
        state.wfm_url, state.client_id = wfm_url, client_id
        state.certificate_sha256, state.onboarded_at = cert_sha256, time.time()
        self.save_state(state)
        return state
