"""The server's TLS identity and SSL contexts.

``ServerIdentity`` is what the WFM presents (a leaf with its intermediates and its key) and the root CA it
hands out on the Certificate API (CERT-05, TLS-06). The standalone server keeps it in ``DATA_DIR/tls/`` so a
restart presents the same chain under the same root a device already trusts; the key files are mode 0600 and
nothing else ever writes them. The CA's own private key is not kept: a restart reuses the server certificate.

Contexts: TLS 1.3 minimum by default, TLS 1.2 selectable (TLS-02) with AEAD + ECDHE suites only (RFC 9325);
ALPN offers ``http/1.1`` only (GEN-02); no client certificate is requested (TLS-05), except for the defect that
requires one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import ConfigError
from ..pki import DEFAULT_SERVER_HOSTS, IssuedCert, TestCA

TLS_DIR = "tls"
ROOT_FILE = "root-ca.pem"
CHAIN_FILE = "server.pem"
KEY_FILE = "server.key"
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

TlsVersionName = Literal["1.2", "1.3"]
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class ServerIdentity:
    root: x509.Certificate
    chain: IssuedCert

    @classmethod
    def issue(cls, ca: TestCA, hosts: tuple[str, ...] = ()) -> ServerIdentity:
        """A server certificate from ``ca`` for the default loopback names plus ``hosts``."""
        names = tuple(dict.fromkeys((*DEFAULT_SERVER_HOSTS, *hosts)))
        return cls(ca.cert, ca.issue_server_cert(*names))

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def covers(self, host: str) -> bool:
        try:
            san = self.chain.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        values = {str(v) for v in san.get_values_for_type(x509.DNSName)}
        values |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
        return host.strip("[]") in values

    def save(self, data_dir: Path) -> Path:
        directory = Path(data_dir) / TLS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ROOT_FILE).write_bytes(self.root_pem())
        chain_path, key_path = self.chain.write_files(directory, "server")
        assert chain_path.name == CHAIN_FILE and key_path.name == KEY_FILE
        return directory

    @classmethod
    def load(cls, data_dir: Path) -> ServerIdentity | None:
        directory = Path(data_dir) / TLS_DIR
        paths = [directory / n for n in (ROOT_FILE, CHAIN_FILE, KEY_FILE)]
        if not all(p.exists() for p in paths):
            return None
        try:
            root = x509.load_pem_x509_certificate(paths[0].read_bytes())
            certs = x509.load_pem_x509_certificates(paths[1].read_bytes())
            key = serialization.load_pem_private_key(paths[2].read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigError(f"{directory}: unreadable TLS identity ({exc}); remove the directory to start anew")
        return cls(root, IssuedCert(certs[0], key, tuple(certs[1:]), issuer=None))  # type: ignore[arg-type]


def server_context(chain: IssuedCert, *, min_version: TlsVersionName = "1.3",
                   max_version: TlsVersionName | None = None,
                   require_client_cert_from: x509.Certificate | None = None) -> ssl.SSLContext:
    """A server-side context presenting ``chain``; ``require_client_cert_from`` only for the defect."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[min_version]
    if max_version is not None:
        ctx.maximum_version = _VERSIONS[max_version]
    ctx.set_ciphers(_TLS12_CIPHERS)  # TLS 1.2 suites; TLS 1.3 suites are not affected
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    chain.configure_cert(ctx)
    if require_client_cert_from is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=require_client_cert_from.public_bytes(serialization.Encoding.PEM).decode())
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_context(root: x509.Certificate | TestCA, *, min_version: TlsVersionName | None = None,
                   max_version: TlsVersionName | None = None) -> ssl.SSLContext:
    """A client context trusting only ``root``: for tests, the benchmark and the WFM suite's own calls."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname check and CERT_REQUIRED; no system anchors
    ctx.load_verify_locations(cadata=(root.cert if isinstance(root, TestCA) else root)
                              .public_bytes(serialization.Encoding.PEM).decode())
    ctx.set_alpn_protocols(["http/1.1"])
    if min_version is not None:
        ctx.minimum_version = _VERSIONS[min_version]
    if max_version is not None:
        ctx.maximum_version = _VERSIONS[max_version]
    return ctx
