"""The published HAR 1.2 schema (npm har-schema, installed by `make setup-node`) as a JSON Schema validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HAR_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "har-schema" / "lib"


def har_errors(document: Any) -> list[str]:
    """Every error of ``document`` against har-schema's har.json (draft-06, its parts resolved by file name)."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT6

    if not HAR_SCHEMA_DIR.is_dir():
        pytest.fail("node_modules/har-schema is missing: run `make setup-node`")
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT6))
                 for p in HAR_SCHEMA_DIR.glob("*.json")]
    schema = json.loads((HAR_SCHEMA_DIR / "har.json").read_text())
    validator = jsonschema.Draft6Validator(schema, registry=Registry().with_resources(resources),
                                           format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
