"""RFC 9421 Appendix B / section 4.3 and RFC 9530 vectors through our sign and verify paths.

The vectors are the ground truth the Margo-specific code is measured against: every request vector must
verify under the plain RFC policy, the deterministic ones must re-sign byte for byte, and a one-bit change
anywhere that is signed must be rejected.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import http_sf
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import HTTPMessageVerifier, InvalidSignature, MappingKeyResolver, algorithms

from margo_conformance.httpsig import (
    ALGORITHMS,
    RFC9421_POLICY,
    Component,
    check_content_digest,
    content_digest,
    parse_content_digest,
    sign_request,
    verify_request,
)
from margo_conformance.httpsig.keyfile import load_verification_key

VECTORS = Path(__file__).parent / "vectors" / "rfc9421"
DATA: dict[str, Any] = json.loads((VECTORS / "vectors.json").read_text())
ALL = DATA["vectors"]
REQUESTS = [v for v in ALL if v["message"]["kind"] == "request"]
DETERMINISTIC = [v for v in REQUESTS if v["deterministic"]]
SECRET = base64.b64decode(DATA["shared_secret_b64"])


def vid(vector: dict[str, Any]) -> str:
    return vector["id"].split(" ")[0] + "-" + vector["label"]


def public_key(vector: dict[str, Any]) -> Any:
    if vector["algorithm"] == "hmac-sha256":
        return SECRET
    return load_verification_key((VECTORS / "keys" / f"{vector['key_id']}.pem").read_bytes())


def private_key(vector: dict[str, Any]) -> Any:
    if vector["algorithm"] == "hmac-sha256":
        return SECRET
    return load_pem_private_key((VECTORS / "keys" / f"{vector['key_id']}.key").read_bytes(), None)


def signature_input(vector: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    parsed = http_sf.parse(vector["signature_input"].encode(), tltype="dictionary")
    return parsed[vector["label"]]  # type: ignore[index,return-value]


def signed_headers(vector: dict[str, Any], **replace: str) -> list[tuple[str, str]]:
    headers = dict(vector["message"]["headers"])
    headers.update(replace)
    return [*headers.items(), ("Signature-Input", vector["signature_input"]), ("Signature", vector["signature"])]


def verify_vector(vector: dict[str, Any], headers: list[tuple[str, str]] | None = None, **kwargs: Any):
    message = vector["message"]
    created = signature_input(vector)[1]["created"]
    return verify_request(message["method"], message["url"], headers or signed_headers(vector),
                          message["body"].encode(), public_key(vector), policy=RFC9421_POLICY, now=created, **kwargs)


def test_the_vector_file_has_what_the_issue_lists() -> None:
    assert [v["id"].split(" ")[0] for v in ALL] == ["B.2.1", "B.2.2", "B.2.3", "B.2.4", "B.2.5", "B.2.6", "4.3", "4.3"]
    assert {v["algorithm"] for v in DETERMINISTIC} == {"ed25519", "hmac-sha256", "rsa-v1_5-sha256"}


@pytest.mark.parametrize("vector", REQUESTS, ids=vid)
def test_request_vector_verifies(vector: dict[str, Any]) -> None:
    result = verify_vector(vector)
    assert result.valid, result.findings
    assert result.findings == []
    assert (result.label, result.algorithm) == (vector["label"], vector["algorithm"])


class _NoClockVerifier(HTTPMessageVerifier):
    """The library verifier without its wall-clock check (the 4.3 vector's ``expires`` is in 2021)."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None


class _Request:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


class _Response:
    def __init__(self, status_code: int, headers: dict[str, str], request: _Request) -> None:
        self.status_code, self.headers, self.request = status_code, headers, request


@pytest.mark.parametrize("vector", REQUESTS, ids=vid)
def test_our_rebuilt_base_is_the_librarys(vector: dict[str, Any]) -> None:
    """Our base builder against the library's on every request vector (the library passes Appendix B)."""
    message = vector["message"]
    key = public_key(vector)
    verifier = _NoClockVerifier(signature_algorithm=ALGORITHMS[vector["algorithm"]],
                                key_resolver=MappingKeyResolver(public_keys={vector["key_id"]: key}, private_keys={}))
    request = _Request(message["method"], message["url"], dict(signed_headers(vector)))
    (library_result,) = verifier.verify(request, max_age=None)
    library_base = "\n".join(f"{k}: {v}" for k, v in library_result.covered_components.items())
    assert verify_vector(vector).signature_base == library_base


def test_response_vector_b24_verifies_through_the_library_response_path() -> None:
    """B.2.4 signs a response (``@status``); our verifier judges requests, so the library checks it."""
    (vector,) = [v for v in ALL if v["message"]["kind"] == "response"]
    message = vector["message"]
    req = message["request"]
    response = _Response(message["status"], {**message["headers"], "Signature-Input": vector["signature_input"],
                                             "Signature": vector["signature"]},
                         _Request(req["method"], req["url"], dict(req["headers"])))
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ECDSA_P256_SHA256,
        key_resolver=MappingKeyResolver(public_keys={vector["key_id"]: public_key(vector)}, private_keys={}))
    (result,) = verifier.verify(response, max_age=None, body=message["body"].encode())
    assert result.label == "sig-b24" and result.body == message["body"].encode()
    # ... and a one-bit change in the covered status code breaks it.
    response.status_code = 201
    with pytest.raises(InvalidSignature):
        verifier.verify(response, max_age=None)


@pytest.mark.parametrize("vector", DETERMINISTIC, ids=vid)
def test_deterministic_vector_resigns_byte_for_byte(vector: dict[str, Any]) -> None:
    message = vector["message"]
    members, params = signature_input(vector)
    signed = sign_request(
        message["method"], message["url"], message["body"].encode(), private_key(vector),
        algorithm=vector["algorithm"], keyid=params["keyid"], created=params["created"], label=vector["label"],
        include_alg="alg" in params, expires=params.get("expires"), extra_headers=message["headers"],
        components=[Component(name, tuple(p.items())).identifier for name, p in members],
    )
    assert signed.headers["Signature-Input"] == vector["signature_input"]
    assert signed.headers["Signature"] == vector["signature"]
    assert signed.signature_base == verify_vector(vector).signature_base


def _flip_bit(text: str, index: int = 0) -> str:
    return text[:index] + chr(ord(text[index]) ^ 0x01) + text[index + 1:]


@pytest.mark.parametrize("vector", REQUESTS, ids=vid)
def test_one_bit_change_in_the_signature_is_rejected(vector: dict[str, Any]) -> None:
    raw = base64.b64decode(vector["signature"].split("=:", 1)[1][:-1])
    flipped = bytes([raw[0] ^ 0x01]) + raw[1:]
    headers = [(k, v) for k, v in signed_headers(vector) if k != "Signature"]
    headers.append(("Signature", f"{vector['label']}=:{base64.b64encode(flipped).decode()}:"))
    result = verify_vector(vector, headers)
    assert not result.valid
    assert result.codes == ["signature-invalid"]


@pytest.mark.parametrize("vector", REQUESTS, ids=vid)
def test_one_bit_change_in_a_covered_value_is_rejected(vector: dict[str, Any]) -> None:
    members, _ = signature_input(vector)
    fields = [name for name, p in members if not name.startswith("@") and not p]
    headers = dict(vector["message"]["headers"])
    if fields:  # flip a bit in the first covered header field
        name = next(k for k in headers if k.lower() == fields[0])
        result = verify_vector(vector, signed_headers(vector, **{name: _flip_bit(headers[name])}))
    else:  # B.2.1 covers no component: flip a bit of the signed `created` parameter instead
        tampered = vector["signature_input"].replace("created=1618884473", "created=1618884472")
        assert tampered != vector["signature_input"]
        result = verify_vector(vector, [(k, tampered if k == "Signature-Input" else v)
                                        for k, v in signed_headers(vector)])
    assert not result.valid
    assert "signature-invalid" in result.codes


def test_rfc9530_hello_world_digest() -> None:
    example = DATA["rfc9530_example"]
    body = example["body"].encode()
    assert content_digest(body) == example["content_digest_sha256"]
    assert parse_content_digest(example["content_digest_sha256"]) == {
        "sha-256": base64.b64decode("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=")}
    assert check_content_digest(example["content_digest_sha256"], body) == []
    assert [f.code for f in check_content_digest(example["content_digest_sha256"], body + b" ")] == ["digest-mismatch"]


def test_the_vectors_sha512_digest_is_what_we_compute() -> None:
    """RFC 9421's messages carry RFC 9530's sha-512 example: our sha-512 path agrees with it."""
    message = REQUESTS[0]["message"]
    assert content_digest(message["body"].encode(), "sha-512") == message["headers"]["Content-Digest"]
    assert check_content_digest(message["headers"]["Content-Digest"], message["body"].encode(),
                                require_sha256=False) == []
    # The Margo policy wants sha-256 (DIG-06): the same header is then an error.
    assert [f.code for f in check_content_digest(message["headers"]["Content-Digest"], message["body"].encode())] == [
        "digest-algorithm-unsupported"]
