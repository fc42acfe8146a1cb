"""Sample payloads (``fixtures/payloads/index.yaml``): one machine-readable list that every suite iterates.

Why an index rather than file-name conventions: the WFM-role suite ("each invalid sample payload gets
422"), the device-role judge and the schema tests must agree on what each sample is meant to break,
which rule should catch it and which requirement that speaks to. The index says so once; the loader
checks that it is well formed, so a typo there is a :class:`ConfigError`, not a silently skipped case.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import DEFAULT_PROFILE
from .errors import ConfigError
from .resources import PAYLOADS_DIR

__all__ = ["Sample", "INDEX_FILE", "load_samples", "get_sample"]

INDEX_FILE = PAYLOADS_DIR / "index.yaml"

_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
from .patterns import QUESTION_ID_RE as _Q_RE, REQUIREMENT_ID_RE as _REQ_RE  # noqa: E402
_KEYS = {
    "name",
    "file",
    "schema",
    "valid",
    "validator",
    "pointer",
    "requirement",
    "findings",
    "interpretations",
    "description",
}


@dataclass(frozen=True)
class Sample:
    """One sample document and what it is expected to do to its schema."""

    name: str
    path: Path
    schema: str
    valid: bool
    expected_validator: str | None  # the one failing keyword (invalid samples only)
    expected_pointer: str | None  # where it fails (invalid samples only); "" is the root
    requirement: str
    description: str
    document: Any = field(repr=False, compare=False)  # a fresh copy per load: callers may change it
    #: Manifests: the exact set of semantic_findings codes; None when the index does not say (non-manifests).
    expected_findings: tuple[str, ...] | None = None
    interpretations: tuple[str, ...] = ()
    profile: str = DEFAULT_PROFILE

    @property
    def conformant(self) -> bool:
        """Schema-valid and, for manifests, free of semantic *errors* (warnings do not count)."""
        if not self.valid:
            return False
        if self.schema != "device-capabilities-manifest":
            return True
        from .schemas import semantic_findings  # local: keep payloads importable without jsonschema work

        return not any(f.severity == "error" for f in semantic_findings(self.document))

    def body(self) -> bytes:
        """The document as compact JSON bytes, ready to send."""
        return json.dumps(self.document, separators=(",", ":"), ensure_ascii=False).encode()


def load_samples(
    schema: str | None = None,
    valid: bool | None = None,
    *,
    requirement: str | None = None,
    index: Path | None = None,
) -> list[Sample]:
    """Samples of the index in file order, optionally filtered by schema name, validity and requirement."""
    samples = [_materialise(raw) for raw in _load_index(str(index or INDEX_FILE))]
    return [
        s
        for s in samples
        if (schema is None or s.schema == schema)
        and (valid is None or s.valid is valid)
        and (requirement is None or s.requirement == requirement)
    ]


def get_sample(name: str, *, index: Path | None = None) -> Sample:
    """One sample by name; KeyError naming the close matches when it is not there."""
    raws = _load_index(str(index or INDEX_FILE))
    for raw in raws:  # only the one asked for is copied out of the index (a scenario asks for one of ~100)
        if raw[0] == name:
            return _materialise(raw)
    close = difflib.get_close_matches(name, [raw[0] for raw in raws], n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"no sample named {name!r} in {index or INDEX_FILE}{hint}")


def _materialise(raw: tuple[Any, ...]) -> Sample:
    (name, path, schema, valid, validator, pointer, requirement, description, document, findings, qs, profile) = raw
    return Sample(
        name=name,
        path=path,
        schema=schema,
        valid=valid,
        expected_validator=validator,
        expected_pointer=pointer,
        requirement=requirement,
        description=description,
        document=copy.deepcopy(document),
        expected_findings=findings,
        interpretations=qs,
        profile=profile,
    )


@lru_cache(maxsize=8)
def _load_index(index_path: str) -> tuple[tuple[Any, ...], ...]:
    """Parse and check the index once per path; documents are copied out by :func:`_materialise`."""
    from .schemas import SCHEMA_NAMES

    path = Path(index_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the sample index {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"sample index {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise ConfigError(f"sample index {path} must be a mapping with a 'samples' list")
    profile = data.get("profile", DEFAULT_PROFILE)
    seen: set[str] = set()
    out: list[tuple[Any, ...]] = []
    for number, entry in enumerate(data["samples"], start=1):
        where = f"{path} sample #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a mapping")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"{where}: name {name!r} must be kebab-case")
        where = f"{path} sample {name!r}"
        unknown = set(entry) - _KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        if name in seen:
            raise ConfigError(f"{where}: duplicate name")
        seen.add(name)
        schema = entry.get("schema")
        if schema not in SCHEMA_NAMES:
            raise ConfigError(f"{where}: schema {schema!r} is not one of {', '.join(SCHEMA_NAMES)}")
        valid = entry.get("valid")
        if not isinstance(valid, bool):
            raise ConfigError(f"{where}: valid must be true or false")
        validator, pointer = entry.get("validator"), entry.get("pointer")
        if valid and (validator is not None or pointer is not None):
            raise ConfigError(f"{where}: a valid sample names no validator or pointer")
        if not valid:
            if not isinstance(validator, str) or not validator:
                raise ConfigError(f"{where}: an invalid sample needs the failing 'validator' keyword")
            if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
                raise ConfigError(f"{where}: an invalid sample needs a JSON 'pointer' ('' for the root)")
        requirement = entry.get("requirement")
        if not isinstance(requirement, str) or not _REQ_RE.match(requirement):
            raise ConfigError(f"{where}: requirement {requirement!r} is not a requirement ID")
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
            raise ConfigError(f"{where}: needs a one-line description")
        findings = entry.get("findings")
        if findings is not None:
            if not isinstance(findings, list) or not all(isinstance(c, str) for c in findings):
                raise ConfigError(f"{where}: findings must be a list of finding codes")
            findings = tuple(findings)
        qs = entry.get("interpretations") or []
        if not isinstance(qs, list) or not all(isinstance(q, str) and _Q_RE.match(q) for q in qs):
            raise ConfigError(f"{where}: interpretations must be a list of Q-IDs")
        file_name = entry.get("file")
        if not isinstance(file_name, str):
            raise ConfigError(f"{where}: needs a file")
        doc_path = (path.parent / file_name).resolve()
        try:
            document = json.loads(doc_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read {doc_path}: {exc}") from exc
        except ValueError as exc:
            raise ConfigError(f"{where}: {doc_path} is not JSON: {exc}") from exc
        out.append(
            (name, doc_path, schema, valid, validator, pointer, requirement, description.strip(), document,
             findings, tuple(qs), profile)
        )
    return tuple(out)
