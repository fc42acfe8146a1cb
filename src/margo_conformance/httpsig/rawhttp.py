"""Read a raw HTTP/1.1 request from a file: what a vendor pastes into the signature doctor.

Tolerant where editors and capture tools differ (CRLF or LF line ends, a trailing newline after the body
when Content-Length says where the body ends), strict where a guess would change the signature base
(the absolute URL must be known: origin-form needs a Host header).
"""

from __future__ import annotations

import re

from ..evidence import CapturedRequest

_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP/\d(?:\.\d)?)")
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_raw_request(data: bytes, *, scheme: str = "https") -> CapturedRequest:
    """Request line (origin, absolute, authority or asterisk form), header fields, blank line, body.

    The URL is absolute-form as written, else ``{scheme}://{Host}{target}``. The body is the bytes after
    the blank line, cut to Content-Length when present; chunked bodies are de-chunked. Raises ValueError
    with a one-line reason.
    """
    if not data.strip():
        raise ValueError("the request file is empty")
    head, body = _split_head(data)
    lines = head.split("\n")
    request_line = lines[0].rstrip("\r")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        raise ValueError(f"not an HTTP request line: {request_line[:80]!r} (expected 'METHOD target HTTP/1.1')")
    method, target, version = match.groups()

    headers: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t"):  # obs-fold: a continuation of the previous field (RFC 9112 5.2)
            if not headers:
                raise ValueError(f"line {number}: continuation line before any header field")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or _FIELD_NAME.fullmatch(name) is None:
            raise ValueError(f"line {number}: not a header field ('Name: value'): {line[:80]!r}")
        headers.append((name, value.strip(" \t")))

    url = _absolute_url(method, target, headers, scheme)
    body = _frame_body(body, headers)
    return CapturedRequest(method=method, url=url, headers=headers, body=body, target=target, http_version=version)


def _split_head(data: bytes) -> tuple[str, bytes]:
    """Split at the first empty line (CRLF CRLF or LF LF); header bytes are Latin-1 (RFC 9110 5.5)."""
    candidates = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if (i := data.find(sep)) >= 0]
    if candidates:
        index, length = min(candidates)
        head, body = data[:index], data[index + length:]
    else:
        head, body = data.rstrip(b"\r\n"), b""
    return head.lstrip(b"\r\n").decode("latin-1"), body


def _absolute_url(method: str, target: str, headers: list[tuple[str, str]], scheme: str) -> str:
    if "://" in target:  # absolute-form: used as is
        return target
    hosts = [v for k, v in headers if k.lower() == "host"]
    if len(hosts) > 1:
        raise ValueError("more than one Host header field")
    if not hosts or not hosts[0]:
        raise ValueError(f"the request target {target!r} is not absolute and there is no Host header to build the URL")
    host = hosts[0]
    if target.startswith("/"):
        return f"{scheme}://{host}{target}"
    if target == "*":  # asterisk-form (OPTIONS): the server as a whole
        return f"{scheme}://{host}"
    if method == "CONNECT":  # authority-form
        return f"{scheme}://{target}"
    raise ValueError(f"request target {target!r} is neither origin-form nor absolute-form")


def _frame_body(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    encodings = [v.strip().lower() for k, v in headers if k.lower() == "transfer-encoding"]
    if encodings and encodings[-1].endswith("chunked"):
        return _dechunk(body)
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
    if not lengths:
        return body
    if len(lengths) > 1:
        raise ValueError(f"conflicting Content-Length values {sorted(lengths)}")
    text = lengths.pop()
    if not text.isdigit():
        raise ValueError(f"Content-Length {text!r} is not a number")
    length = int(text)
    if len(body) < length:
        raise ValueError(f"Content-Length is {length} but the body has only {len(body)} bytes")
    return body[:length]


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    rest = data
    while True:
        line, sep, rest = rest.partition(b"\n")
        if not sep:
            raise ValueError("chunked body ends before the last chunk")
        size_text = line.rstrip(b"\r").split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            return bytes(out)
        if len(rest) < size:
            raise ValueError("chunked body is shorter than its chunk sizes")
        out += rest[:size]
        rest = rest[size:]
        rest = rest[2:] if rest.startswith(b"\r\n") else rest[1:] if rest.startswith(b"\n") else rest
