"""The WFM under test, as the WFM-role steps see it: where it is, which root CA, which operator hooks.

Two sources, one shape:

- a vendor WFM from the SUT file (``[wfm]``): its base URL, its root CA (out of band from a file, or
  ``download``: fetched from the Certificate API, after which every connection trusts only that root and
  checks the host name), and its operator hooks (commands);
- ``--sut builtin``: the reference WFM started in-process on loopback with the requested defects, in the
  allow-list trust policy with the simulated devices' manufacturer CA allow-listed, and driven by its
  operator API directly.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import HarnessError, SutTimeout, SutUnreachable
from .operator_hooks import CallableOperator, CommandOperator, Operator
from ..pki import CertificateDecodeError, TestCA, decode_certificate
from . import SutConfig

from ..patterns import CERTIFICATE_PATH  # noqa: E402


@dataclass
class WfmUnderTest:
    base_url: str
    server_name: str
    operator: Operator
    timeout_s: float
    #: The root CA as configured out of band (None: learn it from the Certificate API).
    configured_root: x509.Certificate | None = None
    #: Facts for environment.properties.
    facts: dict[str, str] = field(default_factory=dict)
    _server: Any = None
    _root: x509.Certificate | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def tls_name(self) -> str | None:
        """The name to verify when it differs from the base URL's host (``wfm.server_name``), else None."""
        return self.server_name if self.server_name and self.server_name != self.host else None

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port or 443

    def root_ca(self) -> x509.Certificate:
        """The root CA the harness trusts for this WFM (downloaded once per run when not configured)."""
        if self._root is None:
            self._root = self.configured_root or self._download_root()
        return self._root

    def root_ca_pem(self) -> str:
        return self.root_ca().public_bytes(serialization.Encoding.PEM).decode()

    def _download_root(self) -> x509.Certificate:
        # Evidence gathering, not trust: the harness reads the Certificate API without verifying the
        # server, then TLS-06 checks that the live chain validates against what it returned.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with httpx.Client(verify=ctx, timeout=self.timeout_s) as client:
                response = client.get(self.base_url + CERTIFICATE_PATH,
                                      extensions={"sni_hostname": self.tls_name} if self.tls_name else None)
        except httpx.TimeoutException as exc:
            raise SutTimeout(f"root CA download: no answer within {self.timeout_s:g} s ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise SutUnreachable(f"root CA download: {exc}") from None
        try:
            document = response.json()
            value = document["certificate"] if isinstance(document, dict) else None
            if not isinstance(value, str):
                raise ValueError("the answer has no 'certificate' string")
            return decode_certificate(value, strict=False).certificate
        except (ValueError, CertificateDecodeError) as exc:
            raise HarnessError(
                f"cannot learn the WFM root CA from {CERTIFICATE_PATH} (status {response.status_code}): {exc}; "
                "configure wfm.ca with the root CA file to test the rest"
            ) from None

    def client_context(self, *, min_version: ssl.TLSVersion | None = ssl.TLSVersion.TLSv1_3) -> ssl.SSLContext:
        """What a conformant device uses: only the WFM root CA, host name checked (TLS-04, Q-07)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=self.root_ca_pem())
        if min_version is not None:
            ctx.minimum_version = min_version
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def open_wfm_under_test(sut: SutConfig, device_ca: TestCA | None = None) -> WfmUnderTest:
    """Start (builtin: its allow-list holds ``device_ca``) or describe (vendor) the WFM; the caller closes it."""
    if sut.builtin:
        if device_ca is None:
            raise HarnessError("the builtin WFM needs the simulated devices' CA to allow-list")
        return _start_builtin(sut, device_ca)
    assert sut.wfm is not None
    configured = None
    if sut.wfm.ca_file is not None:
        configured = _load_ca_file(sut.wfm.ca_file)
    target = WfmUnderTest(
        base_url=sut.wfm.base_url,
        server_name=sut.wfm.server_name or (urlsplit(sut.wfm.base_url).hostname or ""),
        operator=CommandOperator(sut.wfm.operator),
        timeout_s=sut.wfm.request_timeout_s,
        configured_root=configured,
    )
    target.facts = {"wfm.base_url": target.base_url, "wfm.server_name": target.server_name}
    return target


def _load_ca_file(path: Path) -> x509.Certificate:
    try:
        return decode_certificate(path.read_bytes(), strict=False).certificate
    except (OSError, CertificateDecodeError) as exc:
        from ..errors import ConfigError

        raise ConfigError(f"wfm.ca: {path} is not a certificate file ({exc})") from None


#: How long the builtin WFM holds an onboarding request of an unknown issuer for the operator (ONB-10):
#: long enough for the harness to decide in-process, short enough that "untrusted issuer" answers quickly.
BUILTIN_APPROVAL_HOLD_S = 0.5


def _start_builtin(sut: SutConfig, device_ca: TestCA) -> WfmUnderTest:
    """The reference WFM under manual approval: the simulated devices' CA is allow-listed, any other
    issuer's request is held for an operator decision (CERT-12, ONB-09, ONB-10), then 403."""
    from ..wfm.config import WfmConfig
    from ..wfm.server import WfmServer

    config = WfmConfig(trust="manual", approval_timeout_s=BUILTIN_APPROVAL_HOLD_S,
                       defects=frozenset(sut.defects), observe=False)
    server = WfmServer(config, hosts=("localhost",)).start()  # its own temporary data dir, removed on stop
    server.operator.trust_issuer(device_ca.cert)
    op = server.operator

    def trust_issuer(ca_file: str = "", **_: str) -> str:
        return op.trust_issuer(Path(ca_file).read_bytes())

    def decide_pending(decision: str) -> Callable[..., str]:
        def decide(fingerprint: str = "", **_: str) -> str:
            record = server.store.client_for_certificate(fingerprint)
            if record is None or record.state != "pending":
                raise HarnessError(f"no onboarding request held for the certificate {fingerprint[:16]}...")
            return str(op.decide(record.client_id, decision))  # type: ignore[arg-type]
        return decide

    operator = CallableOperator({
        "approve": lambda client_id="", **_: str(op.approve(client_id)),
        "reject": lambda client_id="", **_: str(op.reject(client_id)),
        "revoke": lambda client_id="", **_: str(op.revoke(client_id)),
        "trust_issuer": trust_issuer,
        "approve_pending": decide_pending("approve"),
        "reject_pending": decide_pending("reject"),
    })
    root = x509.load_pem_x509_certificate(server.ca_file.read_bytes())
    target = WfmUnderTest(base_url=server.base_url, server_name="localhost", operator=operator, timeout_s=10.0,
                          configured_root=root, _server=server)
    target.facts = {"wfm.base_url": server.base_url, "wfm.trust_policy": "manual approval, device CA allow-listed (builtin)"}
    return target
