"""The catalog's digest, defined once: which requirement catalog a run's verdicts were judged against.

Hex SHA-256 of the catalog *as loaded* (every requirement, question and profile the ``Catalog`` holds, in its
order, as canonical JSON: sorted keys, no whitespace, UTF-8). A comment or a re-indentation of the YAML does not
change it; any change of content does, however the catalog is split into files. Reports show it, the
certification record signs it, and ``rejudge`` names the catalog it judged with by it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def catalog_data(catalog: Any) -> dict[str, Any]:
    """What the digest is taken over: the catalog's requirements, questions and profiles as plain data."""
    profiles = getattr(catalog, "_profiles", {})
    return {"requirements": [_plain(r) for r in catalog.all()],
            "questions": [_plain(q) for q in catalog.questions()],
            "profiles": [_plain(p) for p in profiles.values()]}


def catalog_digest(catalog: Any) -> str:
    canonical = json.dumps(catalog_data(catalog), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
