"""RFC 9457 problem documents with the HTTPSIG-era Margo problem types (DIGEST 4.1).

Every error the WFM sends is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` and
``instance`` (the raw request path). Where the Margo catalog has no type for the situation (413 body too
large, 404 unknown route or device, 404 parent gateway not reported, 405, 415, 503, 500), the type is
``about:blank`` and the title is the HTTP reason phrase, as RFC 9457 section 4.2.1 prescribes; we never
invent a URI under the Margo namespace (ERR-06). A 422 carries ``errors: [{field, message}]`` (ERR-07).

Every error response also names the check that produced it in ``X-Margo-Check``: the suites assert the
status code *and* the check, against this reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

PROBLEM_BASE = "https://docs.margo.org/specification/problems/"
CHECK_HEADER = "x-margo-check"
PROBLEM_CONTENT_TYPE = "application/problem+json"

#: name -> (status, title), from the catalog at problems/*@23dbbe7a.
MARGO_PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid-certificate-format": (400, "Invalid Certificate"),
    "invalid-digest-header": (400, "Invalid Digest Header"),
    "invalid-request": (400, "Invalid Request"),
    "signature-verification-failed": (401, "Signature Verification Failed"),
    "certificate-not-trusted": (403, "Certificate Not Trusted"),
    "invalid-client": (404, "Invalid Client"),
    "semantic-error": (422, "Semantic Error"),
    "server-cannot-generate-response": (406, "Server Cannot Generate Response"),
}


def type_uri(problem: str | None) -> str:
    return "about:blank" if problem is None else PROBLEM_BASE + problem


@dataclass(frozen=True)
class Rejection:
    """One check's verdict against a request: the status, the Margo problem (None = about:blank), why, and
    the name of the check (stable; it travels in ``X-Margo-Check``, the audit log and the observation)."""

    status: int
    problem: str | None
    detail: str
    check: str
    errors: tuple[dict[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=())
    #: Only for the malformed-json-500 defect: a text/plain body instead of a problem document.
    plain: bool = False

    def __post_init__(self) -> None:
        if self.problem is not None and not self.plain and MARGO_PROBLEMS[self.problem][0] != self.status:
            raise ValueError(f"problem {self.problem} is a {MARGO_PROBLEMS[self.problem][0]}, not {self.status}")

    @property
    def type(self) -> str:
        return type_uri(self.problem)

    @property
    def title(self) -> str:
        if self.problem is not None:
            return MARGO_PROBLEMS[self.problem][1]
        return HTTPStatus(self.status).phrase

    def document(self, instance: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            doc["errors"] = [dict(e) for e in self.errors]
        return doc

    def body(self, instance: str) -> bytes:
        if self.plain:
            return HTTPStatus(self.status).phrase.encode()
        return json.dumps(self.document(instance), separators=(",", ":")).encode()

    def response_headers(self) -> list[tuple[str, str]]:
        content_type = "text/plain; charset=utf-8" if self.plain else PROBLEM_CONTENT_TYPE
        return [("content-type", content_type), (CHECK_HEADER, self.check), *self.headers]


def reject(status: int, problem: str | None, detail: str, check: str, *,
           errors: list[dict[str, str]] | tuple[dict[str, str], ...] = (),
           headers: list[tuple[str, str]] | tuple[tuple[str, str], ...] = ()) -> Rejection:
    return Rejection(status, problem, detail, check, tuple(errors), tuple(headers))
