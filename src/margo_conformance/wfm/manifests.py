"""Manifest validation for the WFM's hot path: the core's schema and rules, answered faster.

``schemas.validate`` resolves every ``$ref`` through the ``referencing`` registry on each call, which makes a
full capabilities manifest cost about 0.3 ms, the largest single cost of a capabilities PUT. Two things keep
the answers identical and the cost down:

- a *fast accept*: the same schema document with its ``common.schema.json`` references inlined, checked with
  the same jsonschema engine (``is_valid`` only). When it says valid, there are no errors; when it does not,
  the errors come from ``schemas.validate`` itself, so every error text, pointer and keyword is the core's.
  (A test checks both agree on valid and invalid documents.)
- a bounded cache keyed by the SHA-256 of the exact body bytes: devices re-report the same manifest again
  and again, and the verdict of the same bytes does not change.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from jsonschema import Draft202012Validator

from .. import schemas
from ..findings import Finding

MANIFEST_SCHEMA = "device-capabilities-manifest"
_COMMON = "common.schema.json#/$defs/"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMMON):
            return _inline(defs[ref[len(_COMMON):]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$id"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def fast_manifest_validator(profile: str = schemas.DEFAULT_PROFILE) -> Draft202012Validator | None:
    """The manifest schema with its common references inlined; None when it refers to anything else
    (then every call goes through ``schemas.validate``)."""
    schema = schemas.load_schema(MANIFEST_SCHEMA, profile)
    defs = schemas.load_schema("common", profile).get("$defs", {})
    try:
        inlined = _inline(schema, defs)
    except KeyError:
        return None
    if '"$ref"' in repr(inlined).replace("'", '"'):
        return None
    return Draft202012Validator(inlined, format_checker=Draft202012Validator.FORMAT_CHECKER)


class ManifestJudge:
    """Schema errors and semantic findings of a manifest body, cached by the body's SHA-256."""

    def __init__(self, *, cache_size: int = 4096, profile: str = schemas.DEFAULT_PROFILE) -> None:
        self._fast = fast_manifest_validator(profile)
        self._profile = profile
        self._size = cache_size
        self._cache: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, kind: str, body: bytes, compute: Any) -> Any:
        key = (kind, hashlib.sha256(body).digest())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return value

    def schema_errors(self, body: bytes, document: Any) -> list[schemas.SchemaError]:
        return list(self._cached("schema", body, lambda: self._schema_errors(document)))

    def _schema_errors(self, document: Any) -> tuple[schemas.SchemaError, ...]:
        if self._fast is not None and self._fast.is_valid(document):
            return ()
        return tuple(schemas.validate(MANIFEST_SCHEMA, document, profile=self._profile))

    def semantic_findings(self, body: bytes, document: Any) -> list[Finding]:
        return list(self._cached("semantic", body, lambda: tuple(schemas.semantic_findings(document))))
