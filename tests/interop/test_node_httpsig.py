"""Our RFC 9421 signer and verifier against an independent one on another stack (issue 10 item 6).

The peer is Node's crypto with the npm package ``http-message-signatures`` (pinned in package.json,
installed by ``make test``), driven by ``node/httpsig_peer.mjs``. Agreeing with our own code proves
little; agreeing with a separate implementation of the same RFC catches shared misreadings of the
signature base, the parameter serialization and the raw r||s ECDSA form. Keys are made per run.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from margo_conformance.httpsig import MARGO_POLICY, Fault, sign_request, verify_request
from margo_conformance.resources import PROJECT_ROOT

PEER = Path(__file__).parent / "node" / "httpsig_peer.mjs"
NODE_TIMEOUT_S = 30
URL = "https://wfm.example.test:8443/api/v1/clients/c-17/capabilities/line3-ipc-07"
BODY = json.dumps({"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
                   "properties": {"id": "line3-ipc-07", "vendor": "Acme", "modelNumber": "M1",
                                  "serialNumber": "S-\u00e9-1"}}).encode()
KEYS = {
    "ecdsa-p256-sha256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-p384-sha384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa-v1_5-sha256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}
RAW_ECDSA_BYTES = {"ecdsa-p256-sha256": 64, "ecdsa-p384-sha384": 96}


@pytest.fixture(scope="module")
def node() -> str:
    """Node and the pinned package must be there: `make test` installs them, so absence is a failure."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH: the interop tests need Node 20, as `make test` does")
    if not (PROJECT_ROOT / "node_modules" / "http-message-signatures" / "package.json").is_file():
        pytest.fail("node_modules/http-message-signatures is missing: run `npm ci` (make setup-node)")
    return exe


@pytest.fixture(scope="module", params=sorted(KEYS))
def keypair(request: pytest.FixtureRequest) -> tuple[str, Any]:
    return request.param, KEYS[request.param]()


def run_peer(node: str, job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([node, str(PEER)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_S, cwd=PROJECT_ROOT, check=False)
    assert done.returncode == 0, f"node peer failed: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def private_pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def node_signs(node: str, alg: str, key: Any) -> dict[str, str]:
    job = {"op": "sign", "alg": alg, "privateKeyPem": private_pem(key), "keyid": "node-device-key",
           "method": "PUT", "url": URL, "bodyB64": base64.b64encode(BODY).decode()}
    return run_peer(node, job)["headers"]


def node_verifies(node: str, alg: str, key: Any, url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    job = {"op": "verify", "alg": alg, "publicKeyPem": public_pem(key), "method": "PUT", "url": url,
           "headers": headers, "bodyB64": base64.b64encode(body).decode()}
    return run_peer(node, job)


def test_node_signature_is_accepted_by_our_margo_verifier(node: str, keypair: tuple[str, Any]) -> None:
    alg, key = keypair
    headers = node_signs(node, alg, key)
    assert headers["Signature-Input"].startswith('sig1=("@method" "@target-uri" "content-digest");created=')
    if alg in RAW_ECDSA_BYTES:  # RFC 9421 3.3.4: raw r||s, not DER
        raw = base64.b64decode(headers["Signature"].removeprefix("sig1=:").removesuffix(":"))
        assert len(raw) == RAW_ECDSA_BYTES[alg]
    result = verify_request("PUT", URL, headers, BODY, key.public_key(), policy=MARGO_POLICY)
    assert result.valid and result.findings == [], result.to_dict()
    assert result.algorithm == alg and result.params["keyid"] == "node-device-key"


@pytest.mark.parametrize("tamper", ["target-uri", "body"])
def test_tampered_node_request_is_rejected_by_our_verifier(node: str, keypair: tuple[str, Any], tamper: str) -> None:
    alg, key = keypair
    headers = node_signs(node, alg, key)
    url, body, code = URL, BODY, "signature-invalid"
    if tamper == "target-uri":
        url = URL.replace("line3-ipc-07", "line3-ipc-08")
    else:
        body, code = BODY.replace(b"Acme", b"Acne"), "digest-mismatch"
    result = verify_request("PUT", url, headers, body, key.public_key(), policy=MARGO_POLICY)
    assert not result.valid and code in result.codes, result.codes


def test_our_signature_is_accepted_by_node(node: str, keypair: tuple[str, Any]) -> None:
    alg, key = keypair
    signed = sign_request("PUT", URL, BODY, key, algorithm=alg)
    verdict = node_verifies(node, alg, key, URL, signed.headers, signed.body)
    assert verdict == {"signatureValid": True, "digestValid": True, "error": None}


def test_our_signature_over_another_target_uri_is_rejected_by_node(node: str, keypair: tuple[str, Any]) -> None:
    alg, key = keypair
    signed = sign_request("PUT", URL, BODY, key, algorithm=alg, fault=Fault.TAMPERED_TARGET_URI)
    verdict = node_verifies(node, alg, key, URL, signed.headers, signed.body)
    assert verdict["signatureValid"] is False and verdict["digestValid"] is True, verdict


def test_our_request_with_a_tampered_body_fails_node_digest_check(node: str, keypair: tuple[str, Any]) -> None:
    alg, key = keypair
    signed = sign_request("PUT", URL, BODY, key, algorithm=alg, fault=Fault.TAMPERED_BODY)
    verdict = node_verifies(node, alg, key, URL, signed.headers, signed.body)
    # The signature covers the digest header, which still names the original body: only the digest fails.
    assert verdict == {"signatureValid": True, "digestValid": False, "error": None}
