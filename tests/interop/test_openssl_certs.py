"""Certificates as the world makes them: the openssl CLI, not our pki module (issue 10, DIGEST 5.1).

`openssl req -x509` with its default configuration makes a self-signed certificate with basicConstraints
cA=TRUE; `openssl x509 -req` makes a CA-issued leaf. Both must onboard at the reference WFM (trusted the way an
operator would: the self-signed one pre-registered, the CA-issued one through its allow-listed issuer), sign a
capabilities report it accepts, and pass the device-side certificate checks. Keys live in tmp_path only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from margo_conformance.checks import device as device_checks
from margo_conformance.evidence import CapturedRequest, Exchange
from margo_conformance.httpsig import sign_request
from margo_conformance.pki import lint_rfc5280
from margo_conformance.wfm.config import WfmConfig
from margo_conformance.wfm.server import WfmServer

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

KEY_OPTIONS = {"p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
               "rsa2048": ["-newkey", "rsa:2048"]}


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)}: {done.stderr}"


def self_signed(tmp: Path, key: str) -> tuple[Path, Path]:
    _openssl("req", "-x509", *KEY_OPTIONS[key], "-nodes", "-keyout", "dev.key", "-out", "dev.pem",
             "-subj", f"/CN=openssl-{key}-device", "-days", "30", cwd=tmp)
    return tmp / "dev.pem", tmp / "dev.key"


def ca_issued(tmp: Path, key: str) -> tuple[Path, Path, Path]:
    _openssl("req", "-x509", *KEY_OPTIONS["p256"], "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=openssl manufacturer CA", "-days", "30", cwd=tmp)
    _openssl("req", "-new", *KEY_OPTIONS[key], "-nodes", "-keyout", "dev.key", "-out", "dev.csr",
             "-subj", f"/CN=openssl-{key}-leaf", cwd=tmp)
    _openssl("x509", "-req", "-in", "dev.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "dev.pem", "-days", "30", cwd=tmp)
    return tmp / "dev.pem", tmp / "dev.key", tmp / "ca.pem"


@pytest.fixture(scope="module")
def wfm() -> Iterator[WfmServer]:
    """The reference WFM as an operator runs it: only allow-listed issuers or pre-registered certificates."""
    with WfmServer(WfmConfig(trust="allow-list")) as server:
        yield server


def _onboard_and_report(wfm: WfmServer, cert_file: Path, key_file: Path) -> tuple[int, int, Exchange]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    body = json.dumps({"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
                       "certificate": _b64_der(cert)}).encode()
    with httpx.Client(verify=wfm.client_ssl_context(), timeout=10) as http:
        onboarding = sign_request("POST", wfm.base_url + "/api/v1/onboarding", body, key)  # type: ignore[arg-type]
        answer = http.post(onboarding.url, content=onboarding.body,
                           headers={**onboarding.headers, "Content-Type": "application/json"})
        status = answer.status_code
        report = 0
        if status == 201:
            path = f"/api/v1/clients/{answer.json()['clientId']}/capabilities/openssl-dev-1"
            manifest = json.dumps({"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
                                   "properties": {"id": "openssl-dev-1", "vendor": "Acme", "modelNumber": "M1",
                                                  "serialNumber": "S1"}}).encode()
            put = sign_request("PUT", wfm.base_url + path, manifest, key)  # type: ignore[arg-type]
            report = http.put(put.url, content=put.body,
                              headers={**put.headers, "Content-Type": "application/json"}).status_code
    seen = Exchange(request=CapturedRequest(method="POST", url=onboarding.url, target="/api/v1/onboarding",
                                            body=onboarding.body, headers=list(onboarding.headers.items())))
    return status, report, seen


def _b64_der(cert: x509.Certificate) -> str:
    import base64

    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _device_side_verdicts(seen: Exchange) -> dict[str, object]:
    return {name: getattr(device_checks, name)(seen) for name in (
        "certificate_is_base64", "certificate_rfc5280", "certificate_key_allowed", "certificate_ca_flag",
        "onboarding_signed", "onboarding_signed_by_submitted_key")}


@pytest.mark.parametrize("key", sorted(KEY_OPTIONS))
def test_an_openssl_self_signed_certificate_onboards_and_passes_the_device_checks(wfm: WfmServer, tmp_path: Path,
                                                                                  key: str) -> None:
    cert_file, key_file = self_signed(tmp_path, key)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    # what makes this case: openssl's default configuration marks the self-signed certificate as a CA
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert {f.code: f.severity for f in lint_rfc5280(cert)}["ca-flag-self-signed"] == "info"
    wfm.operator.preregister(cert)
    onboarding, report, seen = _onboard_and_report(wfm, cert_file, key_file)
    assert (onboarding, report) == (201, 201)
    failed = {name: v.message() for name, v in _device_side_verdicts(seen).items() if not v.passed}  # type: ignore[attr-defined]
    assert failed == {}


@pytest.mark.parametrize("key", sorted(KEY_OPTIONS))
def test_an_openssl_ca_issued_certificate_onboards_and_passes_the_device_checks(wfm: WfmServer, tmp_path: Path,
                                                                                key: str) -> None:
    cert_file, key_file, ca_file = ca_issued(tmp_path, key)
    leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
    findings = {f.code: f.severity for f in lint_rfc5280(leaf)}
    assert "error" not in findings.values(), findings
    if leaf.version is x509.Version.v1:  # OpenSSL 3.0 without an extension file: allowed by RFC 5280 4.1.2.1
        assert findings["v1-basic-fields"] == "warning"
    wfm.operator.trust_issuer(x509.load_pem_x509_certificate(ca_file.read_bytes()))
    onboarding, report, seen = _onboard_and_report(wfm, cert_file, key_file)
    assert (onboarding, report) == (201, 201)
    failed = {name: v.message() for name, v in _device_side_verdicts(seen).items() if not v.passed}  # type: ignore[attr-defined]
    assert failed == {}


def test_an_untrusted_openssl_certificate_is_refused(wfm: WfmServer, tmp_path: Path) -> None:
    """The same flow can fail: neither pre-registered nor from an allow-listed issuer -> 403."""
    cert_file, key_file = self_signed(tmp_path, "p256")
    onboarding, report, _ = _onboard_and_report(wfm, cert_file, key_file)
    assert (onboarding, report) == (403, 0)
