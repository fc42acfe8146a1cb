"""Parse Signature-Input and Signature (RFC 8941 Dictionaries), with a fast path for what signers write.

``http_sf`` is a complete, pure-Python Structured Field parser; on the simulated WFM's hot path it cost
more than the ECDSA verification itself. Almost every request carries one member in canonical form
(``sig1=("@method" ...);created=1;keyid="..."`` and ``sig1=:<base64>:``), so those shapes are matched
by a strict regular expression whose language is a subset of RFC 8941 where parsing is trivial and the
serialization equals the input; anything else (escapes, several members, odd spacing, tokens, booleans)
goes to ``http_sf``. The tests check that both paths agree.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import http_sf
from http_sf.innerlist import ser_innerlist

SfDict = dict[str, tuple[Any, dict[str, Any]]]

_KEY = r"[a-z*][a-z0-9_\-.*]*"
_STR = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'  # no escapes: what is between the quotes is the value
_INT = r"(?:0|-?[1-9][0-9]{0,14})"  # no leading zeros or "-0", so the text is its own serialization
_FAST_INPUT = re.compile(rf"({_KEY})=(\((?:{_STR}(?: {_STR})*)?\)((?:;{_KEY}=(?:{_INT}|{_STR}))*))")
_FAST_COMPONENT = re.compile(_STR)
_FAST_PARAM = re.compile(rf";({_KEY})=({_INT}|{_STR})")
_FAST_SIGNATURE = re.compile(
    rf"({_KEY})=:((?:[A-Za-z0-9+/]{{4}})*(?:[A-Za-z0-9+/]{{2}}==|[A-Za-z0-9+/]{{3}}=)?):"
)


class StructuredFieldError(ValueError):
    """The field is not an RFC 8941 Dictionary (or names a key twice)."""


def parse_dictionary(value: str) -> SfDict:
    """The general parser (``http_sf``), refusing duplicate keys as RFC 9421 requires of labels."""

    def duplicate(key: str, context: str) -> None:
        if context == "dictionary":
            raise StructuredFieldError(f"label {key!r} appears twice")

    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise StructuredFieldError("contains non-ASCII characters") from None
    try:
        parsed = http_sf.parse(raw, tltype="dictionary", on_duplicate_key=duplicate)
    except StructuredFieldError:
        raise
    except Exception as exc:
        raise StructuredFieldError(str(exc)) from None
    return parsed  # type: ignore[return-value]


def parse_signature_input(value: str) -> tuple[SfDict, dict[str, str]]:
    """The Signature-Input Dictionary, and for fast-path members their exact inner-list text.

    The text is the ``@signature-params`` value (it equals ``serialize_inner_list`` of the member).
    """
    match = _FAST_INPUT.fullmatch(value)
    if match is not None:
        label, text, params_text = match.groups()
        params: dict[str, Any] = {}
        for key, raw in _FAST_PARAM.findall(params_text):
            if key in params:  # a repeated parameter: the general parser decides what it means
                break
            params[key] = raw[1:-1] if raw.startswith('"') else int(raw)
        else:
            inner = text[: len(text) - len(params_text)]
            components = [(c[1:-1], {}) for c in _FAST_COMPONENT.findall(inner)]
            return {label: (components, params)}, {label: text}
    return parse_dictionary(value), {}


def parse_signature(value: str) -> SfDict:
    """The Signature Dictionary (label -> Byte Sequence)."""
    match = _FAST_SIGNATURE.fullmatch(value)
    if match is not None:
        return {match.group(1): (base64.b64decode(match.group(2), validate=True), {})}
    return parse_dictionary(value)


def serialize_inner_list(members: list[Any], params: dict[str, Any]) -> str:
    """RFC 8941 serialization of an inner list with parameters (the general path)."""
    return ser_innerlist((members, params))  # type: ignore[arg-type]
