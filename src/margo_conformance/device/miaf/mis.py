"""The channel to the Margo Identity Service (discovery document and trust bundle): initial trust (MTB-01).

The origin is authenticated before anything it says is used, by one of:

- ``--mis-ca-file``: PKI anchors plus DNS-name validation (RFC 9525; OpenSSL's host-name check);
- ``--mis-pin``: base64 SHA-256 of a DER SubjectPublicKeyInfo (RFC 7469 section 2.4). The connection is
  authenticated when the presented chain reaches a certificate whose SPKI matches a pin: every certificate
  below it must be signed by the next one and be within its validity. The presented chain is read from the
  server's Certificate message (``mtls.tls.ServerChainRecorder``), because Python 3.11 shows only the leaf. A pin
  of a root the server does not send cannot match: pin what the origin presents, or use ``--mis-ca-file``;
- both: the CA validation and a pin (of a presented certificate or of one in the CA file) must hold.

There is no trust on first use: with neither option the command line is refused (exit 2). The check runs on each
new connection before the request is written (``tls.on_new_connection``). ``http://`` is only fetched under the
http-bundle-uri defect (the caller decides; MTB-04).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ... import __version__
from ...errors import ConfigError
from ...mtls.tls import ServerChainRecorder
from ..capture import _root_cause
from .tls import on_new_connection

USER_AGENT = f"margo-conformance-miaf-device/{__version__}"


class MisUnavailable(Exception):
    """The discovery document or bundle could not be fetched from an authenticated origin (exit 3 at start)."""


class MisNotTrusted(MisUnavailable):
    """The origin did not authenticate against the initial trust material (MTB-01)."""


def parse_pin(value: str) -> bytes:
    """A ``--mis-pin``: base64 of a SHA-256 digest (32 bytes)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"--mis-pin {value!r} is not base64") from None
    if len(raw) != 32:
        raise ConfigError(f"--mis-pin {value!r} is {len(raw)} bytes; a pin is the base64 of a SHA-256 digest "
                          "(32 bytes) of a DER SubjectPublicKeyInfo")
    return raw


def spki_pin(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()


def load_ca_file(path: Path) -> tuple[x509.Certificate, ...]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"--mis-ca-file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read --mis-ca-file {path}: {exc.strerror or exc}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"--mis-ca-file {path} does not hold PEM certificates") from None
    return tuple(certs)


@dataclass(frozen=True)
class MisTrust:
    """The initial trust material: CA certificates (with host-name check) and/or SPKI pins."""

    ca_certs: tuple[x509.Certificate, ...] = ()
    pins: tuple[bytes, ...] = ()
    verify: bool = True  # False only under the tofu-bundle defect

    def __post_init__(self) -> None:
        if self.verify and not self.ca_certs and not self.pins:
            raise ConfigError("the discovery document and bundle need initial trust: --mis-ca-file or --mis-pin "
                              "(no trust on first use, MTB-01)")


@dataclass(frozen=True)
class MisAnswer:
    status: int
    body: bytes
    etag: str | None
    url: str


def _check_pins(chain_der: list[bytes], trust: MisTrust) -> None:
    certs = [x509.load_der_x509_certificate(d) for d in chain_der]
    candidates = certs + list(trust.ca_certs)
    now = datetime.now(timezone.utc)
    for i, cert in enumerate(candidates):
        if spki_pin(cert) not in trust.pins:
            continue
        path = certs[: i + 1] if i < len(certs) else certs  # a CA-file certificate: OpenSSL validated the path
        try:
            for lower, upper in zip(path, path[1:]):
                lower.verify_directly_issued_by(upper)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise MisNotTrusted(f"the chain up to the pinned certificate does not verify ({type(exc).__name__})") \
                from None
        for c in path:
            if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
                raise MisNotTrusted(f"{c.subject.rfc4514_string()} is outside its validity period")
        return
    raise MisNotTrusted("no certificate the origin presented matches a --mis-pin")


class MisClient:
    """GETs from the MIS origin(s), each connection authenticated by ``trust`` before the request is written."""

    def __init__(self, trust: MisTrust, *, timeout: float = 10.0) -> None:
        self.trust = trust
        self._recorder = ServerChainRecorder()
        self._context = self._make_context()
        self._client = httpx.Client(verify=self._context, timeout=httpx.Timeout(timeout), http1=True, http2=False,
                                    follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT})
        self._plain = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                                   headers={"User-Agent": USER_AGENT})
        self._trace = on_new_connection(self._check)

    def _make_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.trust.verify and self.trust.ca_certs:
            ctx.check_hostname = True  # RFC 9525 DNS-ID / IP-ID
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata="".join(
                c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.trust.ca_certs))
        else:  # pins only (checked per connection), or the tofu-bundle defect
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if hasattr(ctx, "_msg_callback"):
            ctx._msg_callback = self._recorder  # type: ignore[attr-defined]
        return ctx

    def _check(self, ssl_object: Any) -> None:
        if not self.trust.verify or not self.trust.pins:
            return
        leaf = ssl_object.getpeercert(True) if ssl_object is not None else None
        if not leaf:
            raise MisNotTrusted("the origin presented no certificate")
        chain = self._recorder.chain_der(ssl_object.version())
        if not chain or chain[0] != leaf:
            chain = [leaf]
        _check_pins(chain, self.trust)

    def get(self, url: str, *, etag: str | None = None) -> MisAnswer:
        """One GET; MisUnavailable / MisNotTrusted when no authenticated answer came."""
        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        plain = url.startswith("http://")
        client = self._plain if plain else self._client
        self._recorder.reset()
        try:
            response = client.get(url, headers=headers, extensions={} if plain else {"trace": self._trace})
        except MisUnavailable:
            raise
        except httpx.HTTPError as exc:
            cause = _root_cause(exc)
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise MisNotTrusted(f"{url}: the origin's certificate does not verify against --mis-ca-file "
                                    f"({cause.verify_message or cause})") from None
            raise MisUnavailable(f"{url}: {type(exc).__name__}: {cause or exc}") from None
        return MisAnswer(response.status_code, response.content, response.headers.get("etag"), url)

    def close(self) -> None:
        self._client.close()
        self._plain.close()

