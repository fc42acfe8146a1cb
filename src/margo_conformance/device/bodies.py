"""Request bodies: the JSON the device sends (GEN-06), and the other encodings a WFM must refuse.

``BodyForm.JSON`` is what the reference device always sends: compact UTF-8 JSON as
``application/json``. The others exist for the WFM-role scenarios ("a body in another encoding or
content type"): each changes exactly one thing, the encoding or the media type.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any
from urllib.parse import urlencode


class BodyForm(str, Enum):
    JSON = "json"  # compact UTF-8 JSON, application/json
    JSON_UTF16 = "json-utf16"  # the same JSON text in UTF-16 with a BOM, still labelled application/json
    JSON_UTF16_LABELLED = "json-utf16-labelled"  # UTF-16, labelled application/json; charset=utf-16
    TEXT_PLAIN = "text-plain"  # the JSON bytes, labelled text/plain
    FORM_URLENCODED = "form"  # top-level members as application/x-www-form-urlencoded


def json_bytes(obj: Any) -> bytes:
    """Compact, key order kept, UTF-8: the exact bytes the digest and the signature cover."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_body(obj: Any, form: BodyForm | str = BodyForm.JSON) -> tuple[bytes, str]:
    """The body bytes and the Content-Type for ``obj`` in ``form``."""
    form = BodyForm(form)
    if form is BodyForm.JSON:
        return json_bytes(obj), "application/json"
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if form is BodyForm.JSON_UTF16:
        return text.encode("utf-16"), "application/json"
    if form is BodyForm.JSON_UTF16_LABELLED:
        return text.encode("utf-16"), "application/json; charset=utf-16"
    if form is BodyForm.TEXT_PLAIN:
        return text.encode("utf-8"), "text/plain"
    if not isinstance(obj, dict):
        raise ValueError("form encoding needs a JSON object")
    pairs = [(k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))) for k, v in obj.items()]
    return urlencode(pairs).encode("ascii"), "application/x-www-form-urlencoded"
