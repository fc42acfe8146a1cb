"""Exchanges as HAR 1.2 entries (``evidence/exchanges.har``), and back.

HAR is what browsers' developer tools and HAR viewers open. The standard fields carry what they can: method,
URL, headers, bodies (a response body that is not UTF-8 as base64 ``content.encoding``), status, timings. What
HAR has no field for is kept in ``_``-prefixed custom fields, which HAR 1.2 allows: ``_tls`` (the TLS facts),
``_signatureBaseSent`` / ``_signatureBaseRebuilt``, ``_findings``, ``_judgedBy`` (the check calls and requirement
IDs that judged the entry), the exact float start time and duration (``_startedAt``, ``_elapsedS``; HAR's own are
milliseconds), and for the device role what the simulated WFM knew (``_observation``).

Where HAR cannot hold the bytes exactly (a request body that is not UTF-8: ``postData`` has no encoding field;
a header value with characters outside printable ASCII) the bytes go to ``evidence/raw/<entry>-...`` and the
entry names the file in ``_raw``; ``exchange_from_entry`` reads them back, so a re-judged check sees the very
bytes the original one saw.

A private key never goes in: a body or header that holds one (PEM, or base64 of PEM, as in the onboarding
``certificate`` field of the "pem-private-key" scenario) is replaced with a marker and the entry says
``_redacted``; such an exchange cannot be re-judged byte for byte, and ``rejudge`` says so.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..evidence import CapturedRequest, CapturedResponse, Exchange, TlsFacts, redact
from ..findings import Finding

HAR_VERSION = "1.2"
REDACTED_BODY = b"[private key removed]"


def _iso_ms(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"


def _utf8(body: bytes) -> str | None:
    """The body as text when it is UTF-8 without control characters (other than tab, CR, LF); else None, and
    the bytes travel base64 (response) or as a raw file (request)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if any(ord(ch) < 32 and ch not in "\t\r\n" or ord(ch) == 127 for ch in text) else text


def _private_key_free(body: bytes) -> tuple[bytes, bool]:
    """(body, redacted): a body holding a private key (PEM or base64-wrapped PEM) is replaced with a marker."""
    if not body:
        return body, False
    text = body.decode("latin-1")  # one character per byte: the ASCII a PEM or base64 key is made of matches as is
    return (REDACTED_BODY, True) if redact(text) != text else (body, False)


def _header_safe(value: str) -> bool:
    return all(32 <= ord(ch) < 127 or ch == "\t" for ch in value)


def _headers(headers: list[tuple[str, str]]) -> tuple[list[dict[str, str]], bool]:
    redacted = False
    out = []
    for name, value in headers:
        clean = redact(value)
        redacted = redacted or clean != value
        out.append({"name": name, "value": clean})
    return out, redacted


def _raw_head(headers: list[tuple[str, str]]) -> bytes:
    """Header lines as bytes: one byte per character where they fit (latin-1, as HTTP/1.1 reads them), else
    UTF-8."""
    out = []
    for k, v in headers:
        line = f"{k}: {v}\r\n"
        try:
            out.append(line.encode("latin-1"))
        except UnicodeEncodeError:
            out.append(line.encode("utf-8", errors="backslashreplace"))
    return b"".join(out)


def entry_of(exchange: Exchange, entry_id: str, raw_dir: Path) -> dict[str, Any]:
    """The HAR entry of one exchange; bytes HAR cannot hold exactly are written under ``raw_dir``."""
    req, resp = exchange.request, exchange.response
    raw: dict[str, str] = {}
    req_headers, red_req_h = _headers(req.headers)
    req_body, red_req_b = _private_key_free(req.body)
    # HAR wants an absolute URI: a device-side observation with no HTTP request (a refused TLS handshake) has
    # none, so it shows as about:blank and the original (empty) value is kept in _url.
    absolute = bool(urlsplit(req.url).scheme) and " " not in req.url
    request: dict[str, Any] = {
        "method": req.method or "-", "url": req.url if absolute else "about:blank", "httpVersion": req.http_version, "cookies": [],
        "headers": req_headers,
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(req.url).query, keep_blank_values=True)],
        "headersSize": -1, "bodySize": len(req.body),
    }
    if req.body:
        text = _utf8(req_body)
        request["postData"] = {"mimeType": req.header("content-type") or "application/octet-stream",
                               "text": text if text is not None else ""}
        if text is None:
            raw["requestBody"] = _write(raw_dir, f"{entry_id}-request-body.bin", req_body)
    if not all(_header_safe(v) for _, v in req.headers) and not red_req_h:
        raw["requestHeaders"] = _write(raw_dir, f"{entry_id}-request-headers.bin", _raw_head(req.headers))
    red_resp = False
    if resp is not None:
        resp_headers, red_resp_h = _headers(resp.headers)
        resp_body, red_resp_b = _private_key_free(resp.body)
        red_resp = red_resp_h or red_resp_b
        text = _utf8(resp_body)
        content: dict[str, Any] = {"size": len(resp.body),
                                   "mimeType": resp.header("content-type") or "application/octet-stream"}
        if resp_body:
            if text is not None:
                content["text"] = text
            else:
                content["text"], content["encoding"] = base64.b64encode(resp_body).decode("ascii"), "base64"
        if not all(_header_safe(v) for _, v in resp.headers) and not red_resp_h:
            raw["responseHeaders"] = _write(raw_dir, f"{entry_id}-response-headers.bin", _raw_head(resp.headers))
        response: dict[str, Any] = {"status": resp.status, "statusText": "", "httpVersion": resp.http_version,
                                    "cookies": [], "headers": resp_headers, "content": content, "redirectURL": "",
                                    "headersSize": -1, "bodySize": len(resp.body)}
    else:  # HAR's convention for a request that got no answer: status 0, and the reason beside it
        response = {"status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                    "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                    "bodySize": -1}
    elapsed_ms = max(0.0, (exchange.elapsed_s or 0.0) * 1000.0)
    entry: dict[str, Any] = {
        "startedDateTime": _iso_ms(exchange.started_at), "time": round(elapsed_ms, 3),
        "request": request, "response": response, "cache": {},
        "timings": {"send": 0, "wait": round(elapsed_ms, 3), "receive": 0},
        "_id": entry_id, **({} if absolute and req.method else {"_url": req.url, "_method": req.method}),
        "_target": req.target, "_startedAt": exchange.started_at, "_elapsedS": exchange.elapsed_s,
        "_tls": None if exchange.tls is None else _tls_dict(exchange.tls),
        "_signatureBaseSent": exchange.signature_base_sent, "_signatureBaseRebuilt": exchange.signature_base_rebuilt,
        "_findings": [f.to_dict() for f in exchange.findings],
        "_error": None if exchange.error is None else redact(exchange.error),
        "_note": redact(exchange.note), "_judgedBy": [],
    }
    observation = _observation_fields(exchange)
    if observation is not None:
        entry["_observation"] = observation
    if raw:
        entry["_raw"] = raw
    if red_req_h or red_req_b or red_resp:
        entry["_redacted"] = [part for part, hit in (("request headers", red_req_h), ("request body", red_req_b),
                                                     ("response", red_resp)) if hit]
    return entry


def _tls_dict(tls: TlsFacts) -> dict[str, Any]:
    return {"version": tls.version, "cipher": tls.cipher, "alpn": tls.alpn, "peer_chain": tls.peer_chain,
            "client_cert_requested": tls.client_cert_requested, "error": tls.error}


def _write(raw_dir: Path, name: str, data: bytes) -> str:
    raw_dir.mkdir(parents=True, exist_ok=True)
    (raw_dir / name).write_bytes(data)
    return f"raw/{name}"


_OBSERVATION_FIELDS = ("seq", "kind", "route", "check", "client_id", "device_id", "connection_id", "peer", "fault",
                       "certificate", "waived")


def _observation_fields(exchange: Exchange) -> dict[str, Any] | None:
    """What the device suite's simulated WFM knew about an exchange (``wfm.observe.Observation``)."""
    if not hasattr(exchange, "seq") or not hasattr(exchange, "route"):
        return None
    data = {name: getattr(exchange, name, None) for name in _OBSERVATION_FIELDS}
    data["certificate_findings"] = [f.to_dict() for f in getattr(exchange, "certificate_findings", [])]
    return data


# --- reading back ---------------------------------------------------------------------------


class MissingEvidence(Exception):
    """The record lacks something a check needs (e.g. bytes removed because they held a private key)."""


def _bytes_of(entry: dict[str, Any], evidence_dir: Path, raw_key: str, text: str | None, encoding: str | None) -> bytes:
    path = (entry.get("_raw") or {}).get(raw_key)
    if path:
        try:
            return (evidence_dir / path).read_bytes()
        except OSError:
            raise MissingEvidence(f"the raw file {path} of exchange {entry.get('_id')}") from None
    if not text:
        return b""
    return base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")


def _headers_back(listed: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Header values come back from the JSON strings, which hold any Python string exactly (the raw files beside
    them are for people and tools that read bytes)."""
    return [(h["name"], h["value"]) for h in listed]


def exchange_from_entry(entry: dict[str, Any], evidence_dir: Path) -> Exchange:
    """The ``Exchange`` (or ``Observation`` for the device role) an entry was written from, bytes exact.

    MissingEvidence when the entry's bytes were redacted or a raw file is gone."""
    if entry.get("_redacted"):
        raise MissingEvidence(f"the exact bytes of exchange {entry.get('_id')} ({', '.join(entry['_redacted'])} "
                              "held a private key and were removed)")
    r = entry["request"]
    post = r.get("postData") or {}
    request = CapturedRequest(method=entry.get("_method", r["method"]), url=entry.get("_url", r["url"]),
                              headers=_headers_back(r["headers"]),
                              body=_bytes_of(entry, evidence_dir, "requestBody", post.get("text"), None),
                              target=entry.get("_target") or "", http_version=r["httpVersion"])
    s = entry["response"]
    response = None
    if s["status"] != 0 or s.get("httpVersion"):
        content = s.get("content") or {}
        response = CapturedResponse(status=s["status"],
                                    headers=_headers_back(s["headers"]),
                                    body=_bytes_of(entry, evidence_dir, "responseBody", content.get("text"),
                                                   content.get("encoding")),
                                    http_version=s["httpVersion"])
    fields: dict[str, Any] = dict(
        request=request, response=response, tls=None if entry.get("_tls") is None else TlsFacts(**entry["_tls"]),
        signature_base_sent=entry.get("_signatureBaseSent"), signature_base_rebuilt=entry.get("_signatureBaseRebuilt"),
        findings=[Finding(**f) for f in entry.get("_findings") or []], started_at=entry["_startedAt"],
        elapsed_s=entry.get("_elapsedS"), error=entry.get("_error"), note=entry.get("_note") or "")
    observation = entry.get("_observation")
    if observation is None:
        return Exchange(**fields)
    from ..wfm.observe import Observation

    extra = {k: v for k, v in observation.items() if k != "certificate_findings"}
    return Observation(**fields, **extra,
                       certificate_findings=[Finding(**f) for f in observation.get("certificate_findings") or []])


def har_document(entries: list[dict[str, Any]], *, version: str, comment: str = "") -> dict[str, Any]:
    return {"log": {"version": HAR_VERSION, "creator": {"name": "margo-conformance", "version": version},
                    "pages": [], "entries": entries, "comment": comment}}
