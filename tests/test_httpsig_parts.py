"""The small parts under the signer and verifier: base building (against the library), the fast
Structured Field path (against ``http_sf``), Content-Digest, raw request files and key files."""

from __future__ import annotations

import base64
import datetime
import hashlib
from typing import Any

import http_sf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms

from margo_conformance.httpsig import (
    RSA_PSS_SHA256,
    Component,
    ComponentError,
    DigestSyntaxError,
    build_signature_base,
    check_content_digest,
    content_digest,
    parse_content_digest,
    parse_raw_request,
    sign_request,
    verify_request,
)
from margo_conformance.httpsig.base import margo_signature_base, signature_params_value
from margo_conformance.httpsig.keyfile import load_verification_key
from margo_conformance.httpsig.structured import (
    StructuredFieldError,
    parse_dictionary,
    parse_signature,
    parse_signature_input,
    serialize_inner_list,
)
from margo_conformance.pki import KeyType, TestCA, cached_key

NOW = 1_767_225_600
BODY = b'{"a": 1}'


class _Msg:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


def library_base(method: str, url: str, headers: dict[str, str], components: tuple[str, ...], keyid: str) -> str:
    """The library's own base for the same message (HTTPMessageSigner.prepare, public API)."""
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256)
    prepared = signer.prepare(_Msg(method, url, dict(headers)), key_id=keyid, include_alg=False, label="sig1",
                              created=datetime.datetime.fromtimestamp(NOW, tz=datetime.timezone.utc),
                              covered_component_ids=components, use_existing_digest="Content-Digest" in headers)
    return prepared.signature_base.decode()


# --- signature base: ours == the library's --------------------------------------------------------------

_segment = st.text(alphabet="abcXYZ019-._~%20!$&'()*+,;=:@", min_size=0, max_size=12).filter(
    lambda s: "%" not in s.replace("%20", ""))
_urls = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}{path}{query}",
    st.sampled_from(["https", "http", "HTTPS"]),
    st.sampled_from(["wfm.example.com", "WFM.Example.com", "127.0.0.1", "[::1]", "xn--bcher-kva.example"]),
    st.sampled_from(["", ":443", ":8443", ":80", ":0443"]),
    st.lists(_segment, max_size=4).map(lambda parts: "".join("/" + p for p in parts)),
    st.one_of(st.just(""), st.just("?"), _segment.map(lambda q: "?" + q.replace("?", ""))),
)


@settings(max_examples=200, deadline=None)
@given(url=_urls, method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "OPTIONS"]), body=st.booleans(),
       keyid=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20))
def test_margo_base_is_byte_identical_to_the_librarys(url: str, method: str, body: bool, keyid: str) -> None:
    headers = {"Content-Digest": content_digest(BODY)} if body else {}
    names = ("@method", "@target-uri", "content-digest") if body else ("@method", "@target-uri")
    components = [Component(n) for n in names]
    params = signature_params_value(components, [("created", NOW), ("keyid", keyid)])
    fast = margo_signature_base(method, url, headers.get("Content-Digest"), params)
    general = build_signature_base(method, url, headers, components, params, fast=False)
    assert fast == general == library_base(method, url, headers, names, keyid)
    signed = sign_request(method, url, BODY if body else b"", cached_key(KeyType.P256, "parts"), created=NOW,
                          keyid=keyid)
    assert signed.signature_base == fast


@pytest.mark.parametrize("components", [
    ("@method", "@authority", "@scheme", "@path", "@query", "@request-target", "@target-uri"),
    ("content-type", "x-empty", "x-multi", '"@query-param";name="a"', '"x-dict";key="b"', '"content-digest";sf'),
    ("content-digest", "@method"),
])
def test_general_base_is_byte_identical_to_the_librarys(components: tuple[str, ...]) -> None:
    headers = {"Content-Type": "application/json", "X-Empty": "", "X-Multi": " a,  b ",
               "X-Dict": "a=1,   b=2;x", "Content-Digest": content_digest(BODY)}
    url = "https://Example.COM:443/p%20a/th?a=1&c=%7e"
    comps = [Component.of(c) for c in components]
    params = signature_params_value(comps, [("created", NOW), ("keyid", "k")])
    ours = build_signature_base("POST", url, headers, comps, params)
    assert ours == library_base("POST", url, headers, components, "k")


def test_upper_case_names_are_kept_in_the_base_and_resolved_in_lower_case() -> None:
    comps = [Component("@Method"), Component("Content-Digest")]
    params = signature_params_value(comps, [("created", 1)])
    base = build_signature_base("PUT", "https://h/x", {"content-digest": "v"}, comps, params)
    assert base == '"@Method": PUT\n"Content-Digest": v\n"@signature-params": ("@Method" "Content-Digest");created=1'


@pytest.mark.parametrize(("components", "headers", "url", "failing"), [
    (["x-absent"], {}, "https://h/", '"x-absent"'),
    (["x-bad"], {"X-Bad": "a\x01b"}, "https://h/", '"x-bad"'),
    (["x-nonascii"], {"X-Nonascii": "caf\u00e9"}, "https://h/", '"x-nonascii"'),
    (["@target-uri"], {}, "https://h/a b", '"@target-uri"'),
    (["@unknown"], {}, "https://h/", '"@unknown"'),
    (["@method", "@method"], {}, "https://h/", '"@method"'),
    (["@signature-params"], {}, "https://h/", '"@signature-params"'),
])
def test_unbuildable_bases_name_the_component(components: list[str], headers: dict[str, str], url: str,
                                              failing: str) -> None:
    comps = [Component(c) for c in components]
    with pytest.raises(ComponentError) as caught:
        build_signature_base("GET", url, headers, comps, signature_params_value(comps, []))
    assert caught.value.component in (failing, failing.strip('"'))


def test_rsa_pss_sha256_plugs_into_the_librarys_signer_and_verifier() -> None:
    key = cached_key(KeyType.RSA2048, "parts")
    resolver = MappingKeyResolver(public_keys={"k": key.public_key()}, private_keys={"k": key})
    message = _Msg("GET", "https://h/x", {})
    HTTPMessageSigner(signature_algorithm=RSA_PSS_SHA256, key_resolver=resolver).sign(
        message, key_id="k", label="sig1", covered_component_ids=("@method", "@target-uri"))
    (result,) = HTTPMessageVerifier(signature_algorithm=RSA_PSS_SHA256, key_resolver=resolver).verify(message)
    assert result.parameters["alg"] == "rsa-pss-sha256"
    assert verify_request("GET", "https://h/x", message.headers, b"", key.public_key(),
                          now=result.parameters["created"]).algorithm == "rsa-pss-sha256"


# --- Structured Fields: the fast path agrees with http_sf -----------------------------------------------

_sf_string = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10)
_key = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True)
_param_value = st.one_of(st.integers(-(10**15) + 1, 10**15 - 1), _sf_string, st.booleans(),
                         st.binary(max_size=4))


@settings(max_examples=300, deadline=None)
@given(label=_key, names=st.lists(_sf_string, max_size=4),
       params=st.dictionaries(_key, _param_value, max_size=4))
def test_fast_signature_input_parse_equals_http_sf(label: str, names: list[str], params: dict[str, Any]) -> None:
    value = f"{label}=" + serialize_inner_list([(n, {}) for n in names], params)
    fast, texts = parse_signature_input(value)
    assert fast == parse_dictionary(value)
    if label in texts:  # fast path taken: the text is the serialization
        assert texts[label] == serialize_inner_list(*fast[label])


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet='sig1=("@method" -0123456789;keyid,\\:AZaz+/ )', max_size=60))
def test_fast_signature_input_parse_agrees_on_arbitrary_text(value: str) -> None:
    try:
        expected = parse_dictionary(value)
    except StructuredFieldError:
        with pytest.raises(StructuredFieldError):
            parse_signature_input(value)
        return
    parsed, texts = parse_signature_input(value)
    assert parsed == expected
    for label, text in texts.items():
        assert text == serialize_inner_list(*parsed[label])


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.binary(max_size=70).map(lambda b: "sig1=:" + base64.b64encode(b).decode() + ":"),
                       st.text(alphabet="sig1=:AZaz09+/", max_size=40)))
def test_fast_signature_parse_equals_http_sf(value: str) -> None:
    try:
        expected = parse_dictionary(value)
    except StructuredFieldError:
        with pytest.raises(StructuredFieldError):
            parse_signature(value)
        return
    assert parse_signature(value) == expected


def test_non_canonical_forms_take_the_general_path() -> None:
    for value in ('sig1=("a");created=007', 'sig1=("a");created=1;created=2', 'sig1=( "a" );created=1',
                  'sig1=("a\\"b");created=1', 'sig1=("a");created=-0'):
        parsed, texts = parse_signature_input(value)
        assert texts == {} and parsed == parse_dictionary(value)


# --- Content-Digest ----------------------------------------------------------------------------------------


def test_content_digest_of_the_empty_body_and_sha512() -> None:
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    assert content_digest(b"x", "sha-512") == "sha-512=:" + base64.b64encode(hashlib.sha512(b"x").digest()).decode() + ":"
    with pytest.raises(ValueError):
        content_digest(b"x", "md5")


@pytest.mark.parametrize("value", ["sha-256=abc", "sha-256=:AAAA", "", "sha-256", "sha-256=:AA\u00e9A:",
                                   "sha-256=:AAAA:, sha-256=:AAAA:", "sha-256=1", "sha-256=(:AAAA:)"])
def test_malformed_digests_raise(value: str) -> None:
    with pytest.raises(DigestSyntaxError):
        parse_content_digest(value)


def test_parse_keeps_unknown_algorithms_and_parameters() -> None:
    assert parse_content_digest("md5=:AAAA:, sha-256=:AAAA:;x=1") == {"md5": b"\0\0\0", "sha-256": b"\0\0\0"}


@pytest.mark.parametrize(("value", "codes"), [
    (None, ["digest-missing"]),
    ("sha-256=:AAAA:", ["digest-malformed"]),  # wrong length (DIG-03)
    (content_digest(b"other"), ["digest-mismatch"]),
    (content_digest(base64.b64encode(BODY)), ["digest-over-base64"]),
    ("unixsum=:AAAA:", ["digest-algorithm-unsupported"]),
    (content_digest(BODY), []),
])
def test_check_content_digest(value: str | None, codes: list[str]) -> None:
    findings = check_content_digest(value, BODY)
    assert [f.code for f in findings] == codes
    assert all(f.requirement and f.requirement.startswith("DIG-") for f in findings)


# --- raw request files ---------------------------------------------------------------------------------


def test_origin_form_with_crlf_and_content_length() -> None:
    raw = (b"PUT /api/v1/x?y=1 HTTP/1.1\r\nHost: wfm.example.com:8443\r\nContent-Length: 8\r\n"
           b"X-Folded: a\r\n  b\r\n\r\n" + BODY + b"\n")
    req = parse_raw_request(raw)
    assert (req.method, req.url, req.target, req.body) == ("PUT", "https://wfm.example.com:8443/api/v1/x?y=1",
                                                          "/api/v1/x?y=1", BODY)
    assert req.headers == [("Host", "wfm.example.com:8443"), ("Content-Length", "8"), ("X-Folded", "a b")]


def test_absolute_form_lf_endings_and_scheme() -> None:
    req = parse_raw_request(b"GET http://h:8080/p HTTP/1.1\nAccept: */*\n\n")
    assert (req.url, req.body) == ("http://h:8080/p", b"")
    assert parse_raw_request(b"GET /p HTTP/1.1\nHost: h\n", scheme="http").url == "http://h/p"


def test_body_without_content_length_is_kept_exactly() -> None:
    assert parse_raw_request(b"POST / HTTP/1.1\nHost: h\n\n{}\r\n").body == b"{}\r\n"


def test_chunked_body_is_dechunked() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    assert parse_raw_request(raw).body == b"abcde"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty"),
    (b"GET /p HTTP/1.1\r\nAccept: x\r\n\r\n", "no Host"),
    (b"hello world\r\n\r\n", "request line"),
    (b"GET /p HTTP/1.1\r\nHost h\r\n\r\n", "header field"),
    (b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", "Content-Length"),
    (b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\nabc", "Content-Length"),
    (b"GET p HTTP/1.1\r\nHost: h\r\n\r\n", "origin-form"),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "chunk"),
])
def test_unusable_requests_say_why_in_one_line(raw: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_raw_request(raw)
    assert "\n" not in str(caught.value)


# --- key files -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issued() -> Any:
    return TestCA().issue_client_cert("device-1")


@pytest.mark.parametrize("form", ["cert-pem", "cert-der", "spki-pem", "spki-der", "pkcs1-pem", "pkcs1-der",
                                  "chain-pem"])
def test_every_key_file_form_loads(issued: Any, form: str) -> None:
    key = issued.key if form.startswith(("cert", "chain", "spki")) else cached_key(KeyType.RSA2048, "parts")
    public = key.public_key()
    enc = serialization.Encoding
    spki, pkcs1 = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1
    data = {
        "cert-pem": lambda: issued.cert_pem(), "cert-der": lambda: issued.cert_der(),
        "chain-pem": lambda: issued.cert_pem() + TestCA().cert_pem(),
        "spki-pem": lambda: public.public_bytes(enc.PEM, spki), "spki-der": lambda: public.public_bytes(enc.DER, spki),
        "pkcs1-pem": lambda: public.public_bytes(enc.PEM, pkcs1), "pkcs1-der": lambda: public.public_bytes(enc.DER, pkcs1),
    }[form]()
    assert load_verification_key(data).public_numbers() == public.public_numbers()


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"), (b"garbage", "not a certificate"), (b"-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----\n", "PEM"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\nAA\n-----END CERTIFICATE REQUEST-----\n", "signing request"),
])
def test_unusable_key_files(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        load_verification_key(data)


def test_a_private_key_file_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="private key"):
        load_verification_key(pem)


def test_the_rfc_vectors_parse_like_http_sf() -> None:
    """The vectors' own fields through both parsers (sanity of the fast path on real-world input)."""
    value = 'sig1=("@method" "@authority" "@path" "content-digest" "content-type" "content-length");' \
            'created=1618884475;keyid="test-key-ecc-p256"'
    parsed, texts = parse_signature_input(value)
    assert parsed == http_sf.parse(value.encode(), tltype="dictionary")
    assert texts == {"sig1": value.removeprefix("sig1=")}
