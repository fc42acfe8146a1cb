"""Body encodings change exactly the encoding or the media type; refusals name the problem type."""

from __future__ import annotations

import json

from margo_conformance.device.api import capabilities_path, problem_of
from margo_conformance.device.bodies import BodyForm, encode_body, json_bytes
from margo_conformance.evidence import CapturedResponse

DOC = {"apiVersion": "v", "kind": "K", "properties": {"id": "dévice"}}


def test_default_body_is_compact_utf8_json() -> None:
    body, ctype = encode_body(DOC)
    assert (body, ctype) == (json_bytes(DOC), "application/json")
    assert b" " not in body and "dévice".encode() in body


def test_other_forms_change_one_thing() -> None:
    utf16, ctype = encode_body(DOC, BodyForm.JSON_UTF16)
    assert ctype == "application/json" and utf16[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert json.loads(utf16.decode("utf-16")) == DOC
    text, ctype = encode_body(DOC, BodyForm.TEXT_PLAIN)
    assert ctype == "text/plain" and json.loads(text) == DOC
    form, ctype = encode_body(DOC, BodyForm.FORM_URLENCODED)
    assert ctype == "application/x-www-form-urlencoded" and form.startswith(b"apiVersion=v&kind=K&properties=")


def test_capabilities_path_keeps_ids_verbatim() -> None:
    assert capabilities_path("c.9~f-_X", "gw/child-1") == "/api/v1/clients/c.9~f-_X/capabilities/gw/child-1"


def test_problem_names_the_type() -> None:
    p = problem_of(CapturedResponse(403, [("content-type", "application/problem+json")], json.dumps({
        "type": "https://docs.margo.org/specification/problems/certificate-not-trusted",
        "title": "Certificate Not Trusted", "status": 403, "detail": "operator rejected"}).encode()))
    assert p.name == "certificate-not-trusted"
    assert str(p) == "403 certificate-not-trusted (Certificate Not Trusted): operator rejected"
    legacy = problem_of(CapturedResponse(400, [], b'{"error": "Invalid certificate"}'))
    assert legacy.name == "Invalid certificate" and str(legacy).startswith("400 Invalid certificate")
    assert problem_of(CapturedResponse(500, [], b"boom")).detail == "boom"
