"""Robustness: mutated requests never get a 5xx and never stop the server.

Hypothesis starts from a valid signed request (onboarding or capabilities PUT) and mutates one or more of:
header values, the structured-field syntax of Signature-Input, the body bytes (invalid UTF-8, truncation,
random bytes, empty), the path (percent escapes, %00, '..', encoded '/', long segments), the method and the
content type. Requests go out as raw bytes over TLS, so nothing is normalised on the way.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from margo_conformance.httpsig import sign_request
from margo_conformance.wfm import WfmServer

from .helpers import Device, manifest, new_device, onboarding_body, raw_exchange

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])

_SF_PIECES = ['sig1', 'sig2', '=', '(', ')', '"@method"', '"@target-uri"', '"content-digest"', '"@Method"', ';',
              'created=', '1', '-1', '99999999999999999999', 'keyid=', '"k"', '"', ':', 'AAAA', ',', ' ', '*', '\\',
              'alg="rsa-pss-sha512"', 'alg=?1', '"@query-param";name="x"', 'expires=0', '%', '\t', 'é']
_PATH_PIECES = ['a', 'gw', '/', '%00', '%2F', '%2f', '..', '.', '%ff', '%C3%A9', '%', '%zz', '~', '-', '_', '@',
                'x' * 300, '%20', ';', '=', '+', '?q=1', '#frag']
_HEADER_NAMES = ["Content-Digest", "Signature-Input", "Signature", "Content-Type", "Accept", "X-Extra"]
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO"]

header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)
header_bytes = st.binary(max_size=200).map(lambda b: bytes(c for c in b if c not in (10, 13)))
sf_syntax = st.lists(st.sampled_from(_SF_PIECES), max_size=25).map("".join)
path_segment = st.lists(st.sampled_from(_PATH_PIECES), min_size=1, max_size=8).map("".join)


def _body_mutation(body: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.just(b""),
        st.binary(max_size=2048),
        st.integers(0, max(0, len(body) - 1)).map(lambda n: body[:n]),
        st.tuples(st.integers(0, max(0, len(body) - 1)), st.integers(0, 255)).map(
            lambda t: body[: t[0]] + bytes([t[1]]) + body[t[0] + 1:]),
        st.just(body + b"\xff\xfe"),
        st.just(b"\xc3\x28" + body),
        st.just(json.dumps({"x": "y" * 5000}).encode()),
    )


@st.composite
def mutations(draw: st.DrawFn, body: bytes) -> dict[str, object]:
    chosen = draw(st.sets(st.sampled_from(["header", "sf", "body", "path", "method", "drop", "dup", "ctype"]),
                          min_size=1, max_size=3))
    out: dict[str, object] = {"kinds": chosen}
    if "header" in chosen:
        out["header"] = (draw(st.sampled_from(_HEADER_NAMES)), draw(st.one_of(header_text, header_bytes)))
    if "sf" in chosen:
        out["sf"] = (draw(st.sampled_from(["Signature-Input", "Signature", "Content-Digest"])), draw(sf_syntax))
    if "body" in chosen:
        out["body"] = draw(_body_mutation(body))
    if "path" in chosen:
        out["path"] = (draw(st.sampled_from(["client", "device", "tail"])), draw(path_segment))
    if "method" in chosen:
        out["method"] = draw(st.sampled_from(_METHODS))
    if "drop" in chosen:
        out["drop"] = draw(st.sampled_from(["Content-Digest", "Signature-Input", "Signature", "Content-Type",
                                            "Host"]))
    if "dup" in chosen:
        out["dup"] = draw(st.sampled_from(["Signature-Input", "Signature", "Content-Digest", "Content-Type"]))
    if "ctype" in chosen:
        out["ctype"] = draw(st.sampled_from(["text/plain", "application/json; charset=latin-1", "", "*/*",
                                             "application/problem+json", "multipart/form-data; boundary=x"]))
    return out


def _build(wfm: WfmServer, method: str, target: str, body: bytes, key, m: dict[str, object]) -> bytes:
    try:
        signed = sign_request(method, f"https://127.0.0.1:{wfm.port}{target}", body, key)
    except ValueError:  # our signer refuses that URL: sign a sane one, send the mutated one
        signed = sign_request(method, f"https://127.0.0.1:{wfm.port}/api/v1/onboarding", body, key)
    headers: list[tuple[str, bytes]] = [("Host", f"127.0.0.1:{wfm.port}".encode()),
                                        ("Content-Type", b"application/json")]
    headers += [(k, v.encode()) for k, v in signed.headers.items()]
    if "header" in m:
        name, value = m["header"]  # type: ignore[misc]
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        headers.append((name, value if isinstance(value, bytes) else value.encode()))
    if "sf" in m:
        name, value = m["sf"]  # type: ignore[misc]
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value.encode("utf-8"))]
    if "drop" in m:
        headers = [(k, v) for k, v in headers if k.lower() != str(m["drop"]).lower()]
    if "dup" in m:
        headers += [(k, v) for k, v in headers if k.lower() == str(m["dup"]).lower()]
    if "ctype" in m:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"] + [
            ("Content-Type", str(m["ctype"]).encode())]
    if "body" in m:
        body = m["body"]  # type: ignore[assignment]
    if "method" in m:
        method = str(m["method"])
    if method == "HEAD":
        body = b""
    head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1", "replace")
    head += b"".join(k.encode() + b": " + v + b"\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    return head + body


def _mutated_target(base: str, m: dict[str, object], device: Device) -> str:
    if "path" not in m:
        return base
    where, segment = m["path"]  # type: ignore[misc]
    if where == "client":
        return f"/api/v1/clients/{segment}/capabilities/line3-ipc-07"
    if where == "device":
        return f"/api/v1/clients/{device.client_id}/capabilities/{segment}"
    return base + segment


@pytest.fixture(scope="module")
def fuzz_device(wfm, http, wfm_ca) -> Device:
    device = new_device(wfm, http, wfm_ca, "fuzz")
    assert device.put().status_code in (200, 201)
    return device


def _assert_no_5xx(wfm: WfmServer, data: bytes) -> None:
    response = raw_exchange(wfm, data, timeout=10)
    assert response.status < 500, (response.status, response.body[:300], data[:600])
    if response.status >= 400 and response.headers.get("content-type", "").startswith("application/"):
        assert response.headers["content-type"] == "application/problem+json", response.headers


@pytest.mark.slow  # a fuzzer: hundreds of requests (make test runs it, make unit does not)
@SETTINGS
@given(data=st.data())
def test_mutated_capability_puts_never_get_5xx(wfm, fuzz_device, data) -> None:
    body = json.dumps(manifest()).encode()
    m = data.draw(mutations(body))
    target = _mutated_target(fuzz_device.caps_path("line3-ipc-07"), m, fuzz_device)
    _assert_no_5xx(wfm, _build(wfm, "PUT", target, body, fuzz_device.key, m))


@pytest.mark.slow  # a fuzzer: hundreds of requests (make test runs it, make unit does not)
@SETTINGS
@given(data=st.data())
def test_mutated_onboardings_never_get_5xx(wfm, fuzz_device, data) -> None:
    body = json.dumps(onboarding_body(fuzz_device.cert.b64_der())).encode()
    m = data.draw(mutations(body))
    m.pop("path", None)
    target = "/api/v1/onboarding" + ("" if "tail" not in str(m.get("kinds")) else "")
    _assert_no_5xx(wfm, _build(wfm, "POST", target, body, fuzz_device.key, m))


@pytest.mark.slow  # a fuzzer: hundreds of requests (make test runs it, make unit does not)
@SETTINGS
@given(target=st.lists(st.sampled_from(_PATH_PIECES + ["/api/v1/", "clients/", "capabilities/", "onboarding"]),
                       max_size=10).map(lambda parts: "/" + "".join(parts)),
       method=st.sampled_from(_METHODS))
def test_arbitrary_paths_never_get_5xx(wfm, fuzz_device, target, method) -> None:
    if "#" in target or " " in target:
        target = target.replace("#", "%23").replace(" ", "%20")
    _assert_no_5xx(wfm, _build(wfm, method, target, b"", fuzz_device.key, {}))


def test_body_exactly_at_the_limit_is_read_and_one_byte_more_is_413(wfm, fuzz_device) -> None:
    limit = wfm.config.max_body_bytes
    at_limit = b'{"a":"' + b"x" * (limit - 8) + b'"}'
    assert len(at_limit) == limit
    response = raw_exchange(wfm, _build(wfm, "PUT", fuzz_device.caps_path("big"), at_limit, fuzz_device.key, {}))
    assert (response.status, response.headers["x-margo-check"]) == (422, "schema")
    over = at_limit + b" "
    response = raw_exchange(wfm, _build(wfm, "PUT", fuzz_device.caps_path("big"), over, fuzz_device.key, {}))
    assert (response.status, response.headers["x-margo-check"]) == (413, "body-size")


def test_the_server_still_serves_and_never_answered_5xx(wfm, http) -> None:
    """Runs after the fuzzers (file order): the audit log holds no 5xx, and a plain request still works."""
    assert http.get(wfm.base_url + "/api/v1/onboarding/certificate").status_code == 200
    bad = [e for e in wfm.store.audit_entries(100_000) if e.status is not None and e.status >= 500
           and not (e.check or "").startswith("fault:")]
    assert bad == []


def test_expect_100_continue_over_the_limit_gets_413_and_the_connection_closes(wfm) -> None:
    head = (f"PUT /api/v1/clients/x/capabilities/y HTTP/1.1\r\nHost: 127.0.0.1:{wfm.port}\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n").encode()
    response = raw_exchange(wfm, head, timeout=5)  # no body sent: the server must not wait for it
    assert (response.status, response.headers["x-margo-check"]) == (413, "body-size")
    assert response.headers.get("connection") == "close"
