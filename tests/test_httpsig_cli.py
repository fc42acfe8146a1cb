"""The signature doctor (`margo-conformance httpsig verify`): the RFC vectors, Margo requests, exit codes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from margo_conformance.httpsig import Fault, sign_request
from margo_conformance.httpsig.cli import app
from margo_conformance.pki import TestCA

VECTORS = Path(__file__).parent / "vectors" / "rfc9421"
DATA: dict[str, Any] = json.loads((VECTORS / "vectors.json").read_text())
REQUESTS = [v for v in DATA["vectors"] if v["message"]["kind"] == "request"]
NOW = 1_767_225_600
URL = "https://wfm.example.com/api/v1/clients/c1/capabilities/d1"
BODY = b'{"kind": "DeviceCapabilitiesManifest"}'

runner = CliRunner()


def raw_request(method: str, url: str, headers: list[tuple[str, str]], body: bytes, *, absolute: bool = False,
                eol: str = "\r\n") -> bytes:
    parts = urlsplit(url)
    target = url if absolute else parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(k.lower() == "host" for k, _ in headers):
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{k}: {v}" for k, v in headers]
    return (eol.join(lines) + eol + eol).encode() + body


def vector_file(tmp_path: Path, vector: dict[str, Any]) -> Path:
    message = vector["message"]
    headers = [*message["headers"].items(), ("Signature-Input", vector["signature_input"]),
               ("Signature", vector["signature"])]
    path = tmp_path / f"{vector['label']}.http"
    path.write_bytes(raw_request(message["method"], message["url"], headers, message["body"].encode()))
    return path


def key_args(vector: dict[str, Any]) -> list[str]:
    if vector["algorithm"] == "hmac-sha256":
        return ["--shared-secret", DATA["shared_secret_b64"]]
    return ["--cert", str(VECTORS / "keys" / f"{vector['key_id']}.pem")]


def created_of(vector: dict[str, Any]) -> str:
    return vector["signature_input"].split("created=", 1)[1].split(";", 1)[0]


@pytest.mark.parametrize("vector", REQUESTS, ids=lambda v: v["id"].split(" ")[0] + "-" + v["label"])
def test_every_rfc_request_vector_is_valid_through_the_doctor(tmp_path: Path, vector: dict[str, Any]) -> None:
    result = runner.invoke(app, ["verify", "--request", str(vector_file(tmp_path, vector)), *key_args(vector),
                                 "--policy", "rfc9421", "--now", created_of(vector), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["valid"] is True and out["findings"] == []
    assert out["algorithm"] == vector["algorithm"] and out["label"] == vector["label"]
    assert out["signature_base"].endswith(vector["signature_input"].split("=", 1)[1])


def test_a_vector_with_a_flipped_signature_bit_is_invalid(tmp_path: Path) -> None:
    vector = next(v for v in REQUESTS if v["algorithm"] == "ed25519")
    raw = bytearray(base64.b64decode(vector["signature"].split("=:", 1)[1][:-1]))
    raw[10] ^= 0x01
    flipped = dict(vector, signature=f"{vector['label']}=:{base64.b64encode(bytes(raw)).decode()}:")
    result = runner.invoke(app, ["verify", "--request", str(vector_file(tmp_path, flipped)), *key_args(vector),
                                 "--policy", "rfc9421", "--now", created_of(vector), "--json"])
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["signature-invalid"]


def test_the_vectors_fail_the_margo_policy_and_say_why(tmp_path: Path) -> None:
    vector = next(v for v in REQUESTS if v["label"] == "sig-b26")
    result = runner.invoke(app, ["verify", "--request", str(vector_file(tmp_path, vector)), *key_args(vector),
                                 "--now", created_of(vector), "--json"])
    assert result.exit_code == 1
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert codes == {"missing-component:@target-uri", "missing-component:content-digest",
                     "digest-algorithm-unsupported"}


def test_window_applies_to_the_rfc_policy_only_when_given(tmp_path: Path) -> None:
    vector = next(v for v in REQUESTS if v["label"] == "sig-b26")
    later = str(int(created_of(vector)) + 1000)
    args = ["verify", "--request", str(vector_file(tmp_path, vector)), *key_args(vector), "--policy", "rfc9421",
            "--now", later, "--json"]
    assert runner.invoke(app, args).exit_code == 0
    windowed = runner.invoke(app, [*args, "--window", "300"])
    assert windowed.exit_code == 1
    assert [f["code"] for f in json.loads(windowed.stdout)["findings"]] == ["created-too-old"]


@pytest.fixture(scope="module")
def device() -> Any:
    return TestCA().issue_client_cert("device-cli")


def _write(tmp_path: Path, signed: Any, **kwargs: Any) -> Path:
    path = tmp_path / "request.http"
    path.write_bytes(raw_request(signed.method, signed.url, list(signed.headers.items()), signed.body, **kwargs))
    return path


@pytest.mark.parametrize("form", ["origin-crlf", "absolute-lf"])
def test_a_margo_request_is_valid_with_a_pem_or_der_certificate(tmp_path: Path, device: Any, form: str) -> None:
    signed = sign_request("PUT", URL, BODY, device.key, created=NOW)
    request = _write(tmp_path, signed, absolute=form == "absolute-lf", eol="\n" if form == "absolute-lf" else "\r\n")
    cert = tmp_path / "device.crt"
    cert.write_bytes(device.cert_pem() if form == "origin-crlf" else device.cert_der())
    result = runner.invoke(app, ["verify", "--request", str(request), "--cert", str(cert), "--now", str(NOW)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID")
    assert signed.signature_base.split("\n")[0] in result.stdout  # type: ignore[union-attr]


def test_human_output_lists_every_finding(tmp_path: Path, device: Any) -> None:
    signed = sign_request("PUT", URL, BODY, device.key, created=NOW, fault=Fault.UPPERCASE_COMPONENT)
    signed.headers["Content-Digest"] = signed.headers["Content-Digest"].replace("=:", "=:A", 1)
    cert = tmp_path / "device.pem"
    cert.write_bytes(device.cert_pem())
    result = runner.invoke(app, ["verify", "--request", str(_write(tmp_path, signed)), "--cert", str(cert),
                                 "--now", str(NOW + 1000)])
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID")
    for code in ("component-not-lowercase", "created-too-old", "digest-malformed", "signature-invalid"):
        assert f"] {code}" in result.stdout


def test_json_output_has_the_documented_keys(tmp_path: Path, device: Any) -> None:
    signed = sign_request("PUT", URL, BODY, device.key, created=NOW, fault=Fault.DIGEST_OVER_BASE64)
    cert = tmp_path / "device.pem"
    cert.write_bytes(device.cert_pem())
    result = runner.invoke(app, ["verify", "--request", str(_write(tmp_path, signed)), "--cert", str(cert),
                                 "--now", str(NOW), "--json"])
    out = json.loads(result.stdout)
    assert result.exit_code == 1
    assert {"valid", "findings", "signature_base"} <= set(out)
    assert out["findings"] == [{"code": "digest-over-base64", "detail": out["findings"][0]["detail"],
                                "severity": "error", "requirement": "DIG-04"}]
    assert out["signature_base"] == signed.signature_base


@pytest.mark.parametrize(("case", "message"), [
    ("missing-request", "cannot read request file"),
    ("missing-cert", "cannot read certificate file"),
    ("cert-is-garbage", "not a certificate or public key"),
    ("cert-is-private-key", "private key"),
    ("request-is-garbage", "not an HTTP request line"),
    ("request-without-host", "no Host header"),
    ("no-key", "exactly one of"),
    ("bad-secret", "not valid base64"),
])
def test_unusable_input_exits_2_with_one_line(tmp_path: Path, device: Any, case: str, message: str) -> None:
    signed = sign_request("PUT", URL, BODY, device.key, created=NOW)
    request, cert = _write(tmp_path, signed), tmp_path / "device.pem"
    cert.write_bytes(device.cert_pem())
    args = {"--request": str(request), "--cert": str(cert)}
    if case == "missing-request":
        args["--request"] = str(tmp_path / "absent.http")
    elif case == "missing-cert":
        args["--cert"] = str(tmp_path / "absent.pem")
    elif case == "cert-is-garbage":
        cert.write_bytes(b"\x00\x01garbage")
    elif case == "cert-is-private-key":
        cert.write_bytes(device.key_pem())
    elif case == "request-is-garbage":
        request.write_bytes(b"\x89PNG\r\n\x1a\n")
    elif case == "request-without-host":
        request.write_bytes(b"GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n")
    elif case == "no-key":
        del args["--cert"]
    elif case == "bad-secret":
        del args["--cert"]
        args["--shared-secret"] = "***"
    result = runner.invoke(app, ["verify", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_command_is_registered_under_the_main_cli(tmp_path: Path) -> None:
    """Through the real entry point, in a subprocess: exit code and JSON as a vendor's CI would see them.
    (One call only: importing the whole CLI takes seconds; the error paths are tested on the sub-app.)"""
    vector = next(v for v in REQUESTS if v["label"] == "proxy_sig")
    proc = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "httpsig", "verify", "--request",
         str(vector_file(tmp_path, vector)), *key_args(vector), "--policy", "rfc9421", "--now", created_of(vector),
         "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["algorithm"] == "rsa-v1_5-sha256"


def test_an_unknown_policy_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", "--request", "x", "--cert", "y", "--policy", "lenient"])
    assert result.exit_code == 2


def test_the_doctor_judges_a_der_ecdsa_signature(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    signed = sign_request("PUT", URL, BODY, key, created=NOW, fault=Fault.ECDSA_DER)
    cert = tmp_path / "device.pem"
    cert.write_bytes(TestCA().issue_client_cert("p384", key=key).cert_pem())
    result = runner.invoke(app, ["verify", "--request", str(_write(tmp_path, signed)), "--cert", str(cert),
                                 "--now", str(NOW), "--json"])
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["ecdsa-der-encoding"]
