"""Payload schemas: load ``schemas/<profile>/`` once, validate fast, explain failures to a person.

Why a module of its own: the reference WFM validates every capability PUT with it and the simulated WFM
judges devices with it, so the compiled validators are cached per (profile, schema) and errors come back
as data (JSON pointer, keyword, a sentence) rather than as jsonschema exceptions.

Schema files are JSON Schema 2020-12, one per payload, named ``<schema-name>.schema.json``, each with a
stable ``$id``; shared definitions live in ``common.schema.json`` and are reached by relative ``$ref``
through a :class:`referencing.Registry` that holds only our files (nothing is fetched from the network).
``format`` is asserted, not just annotated (``Draft202012Validator.FORMAT_CHECKER``).

What JSON Schema cannot say is in :func:`semantic_findings` (capabilities manifest) and
:func:`problem_type_findings` (RFC 9457 bodies against the Margo catalog).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from . import DEFAULT_PROFILE
from .errors import ConfigError
from .findings import Finding
from .resources import SCHEMAS_DIR

__all__ = [
    "SCHEMA_NAMES",
    "SchemaError",
    "validate",
    "is_valid",
    "semantic_findings",
    "is_hosting_manifest",
    "problem_type_findings",
    "error_body_family",
    "PROBLEM_TYPE_BASE",
    "PROBLEM_TYPES",
    "MIAF_PROBLEM_TYPE_BASES",
    "HOSTING_FIELDS",
    "IDENTITY_FIELDS",
    "EXTENSION_NAME_RE",
    "SCHEMA_ID_BASE",
    "available_profiles",
    "schema_id",
    "load_schema",
    "registry",
    "validator",
]

#: The payloads every profile describes (one file each). ``margo-problem-details`` is the opt-in
#: strict-problem reading of ERR-02 (Q-27): a Margo type with its own status.
SCHEMA_NAMES: tuple[str, ...] = (
    "certificate-response",
    "onboarding-request",
    "onboarding-response",
    "device-capabilities-manifest",
    "error-body",
    "problem-details",
    "margo-problem-details",
)

#: Every schema's ``$id`` is ``SCHEMA_ID_BASE + "<profile>/<name>.schema.json"``.
SCHEMA_ID_BASE = "https://schemas.margo-conformance.dev/"


def _default_problem_registry() -> tuple[str, dict[str, int]]:
    """The default profile's problem-type registry (profiles/<name>/profile.yaml), as (base, name -> status)."""
    from .profiles import load_profile

    profile = load_profile(DEFAULT_PROFILE)
    return profile.problem_type_base or "", {name: p.status for name, p in profile.problem_types.items()}


#: HTTPSIG-era problem catalog (problems/*.md@23dbbe7a, DIGEST 4.1): type URI = base + name. Read from the
#: default profile's registry (``problem_type_findings`` judges ERR-02 of that profile).
PROBLEM_TYPE_BASE, PROBLEM_TYPES = _default_problem_registry()
#: The MIAF catalogs' namespaces (DIGEST 4.2): accepted in the H profile, but reported (Q-30).
MIAF_PROBLEM_TYPE_BASES: tuple[str, ...] = (
    "https://docs.margo.org/specification/problem-types#",
    "https://docs.margo.org/specification/margo-management-interface/problem-types#",
    "https://docs.margo.org/specification/margo-management-interface/problem-types/",
)

#: CAP-09 identity members; a see-thru gateway that hosts nothing reports only these (CAP-12).
IDENTITY_FIELDS: tuple[str, ...] = ("id", "vendor", "modelNumber", "serialNumber")
#: CAP-11: a hosting device reports all of these; a non-hosting gateway none of them (CAP-12).
HOSTING_FIELDS: tuple[str, ...] = (
    "cpus",
    "memory",
    "storage",
    "peripherals",
    "interfaces",
    "otelCollector",
    "supportedRuntimes",
    "supportedDeploymentTypes",
)
#: CAP-17 / specification-extensions@3415662d: root-level ``x-<unique-name>-extensions``.
EXTENSION_NAME_RE = re.compile(r"^x-[a-z][a-z0-9-]*-extensions$")
#: CAP-16: binary units without a space (the application-description pattern, Q-19).
_MEMORY_RE = re.compile(r"^[0-9]+(Ki|Mi|Gi)$")
_STORAGE_RE = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei)$")
#: Q-21: the example apiVersion of the capabilities manifest.
MANIFEST_API_VERSION_EXAMPLE = "device.margo.org/v1alpha1"

_SUFFIX = ".schema.json"
_FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


@dataclass(frozen=True)
class SchemaError:
    """One schema violation, stated so that a vendor can act on it without reading the schema."""

    pointer: str  # JSON pointer into the instance, "" for the root (for "required": the object lacking it)
    message: str  # what was expected and what was found
    validator: str  # the JSON Schema keyword that failed: "enum", "required", "pattern", ...
    schema_path: str  # JSON pointer into the schema, e.g. "/properties/kind/enum"
    #: For "required" the missing member, for "additionalProperties" the unexpected one; else None.
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.pointer or '(root)'}: {self.message}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "pointer": self.pointer,
            "message": self.message,
            "validator": self.validator,
            "schema_path": self.schema_path,
            "member": self.member,
        }


# --------------------------------------------------------------------------------------------------
# Loading


def available_profiles() -> tuple[str, ...]:
    """Spec profiles with payload schemas, sorted: ``schemas/<profile>/`` holding a capabilities manifest.

    Other directories of ``schemas/`` (``report/``) hold the harness's own formats, not a profile; they
    load through the same machinery (``validate("summary", doc, profile="report")``) but are not listed.
    """
    if not SCHEMAS_DIR.is_dir():
        return ()
    marker = "device-capabilities-manifest" + _SUFFIX
    return tuple(sorted(p.name for p in SCHEMAS_DIR.iterdir() if (p / marker).is_file()))


def schema_id(schema_name: str, profile: str = DEFAULT_PROFILE) -> str:
    """The stable ``$id`` of one schema (what reports cite)."""
    return f"{SCHEMA_ID_BASE}{profile}/{schema_name}{_SUFFIX}"


def _profile_dir(profile: str) -> Path:
    directory = SCHEMAS_DIR / profile
    if "/" in profile or "\\" in profile or profile.startswith(".") or not directory.is_dir():
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError(f"unknown schema profile {profile!r} (known: {known}; looked in {SCHEMAS_DIR})")
    return directory


@lru_cache(maxsize=None)
def _profile_documents(profile: str) -> dict[str, dict[str, Any]]:
    """name -> schema document for every file of a profile; checks each ``$id`` is the stable one."""
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(_profile_dir(profile).glob("*" + _SUFFIX)):
        name = path.name[: -len(_SUFFIX)]
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"schema file {path} is not readable JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"schema file {path} does not hold a JSON object")
        expected = schema_id(name, profile)
        if document.get("$id") != expected:
            raise ConfigError(f"schema file {path} has $id {document.get('$id')!r}, expected {expected!r}")
        documents[name] = document
    return documents


def load_schema(schema_name: str, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """The raw schema document (a fresh copy: callers may not change the cached one)."""
    documents = _profile_documents(profile)
    if schema_name not in documents:
        raise ConfigError(
            f"unknown schema {schema_name!r} in profile {profile!r} (known: {', '.join(sorted(documents))})"
        )
    return json.loads(json.dumps(documents[schema_name]))


def registry(profile: str = DEFAULT_PROFILE) -> Registry:
    """All schemas of a profile, addressable by ``$id``; no retrieval: an unknown ``$ref`` fails loudly."""
    return _registry(profile)


@lru_cache(maxsize=None)
def _registry(profile: str) -> Registry:
    resources = [
        (document["$id"], Resource.from_contents(document)) for document in _profile_documents(profile).values()
    ]
    return Registry().with_resources(resources).crawl()


def validator(schema_name: str, profile: str = DEFAULT_PROFILE) -> Draft202012Validator:
    """A compiled, format-asserting validator; built once per (profile, schema) and reused.

    Validators are immutable and safe to share between threads (the WFM validates concurrently).
    """
    return _validator(schema_name, profile)


@lru_cache(maxsize=None)
def _validator(schema_name: str, profile: str) -> Draft202012Validator:
    documents = _profile_documents(profile)
    if schema_name not in documents:
        raise ConfigError(
            f"unknown schema {schema_name!r} in profile {profile!r} (known: {', '.join(sorted(documents))})"
        )
    return Draft202012Validator(documents[schema_name], registry=_registry(profile), format_checker=_FORMAT_CHECKER)


# --------------------------------------------------------------------------------------------------
# Validation


def validate(schema_name: str, instance: object, *, profile: str = DEFAULT_PROFILE) -> list[SchemaError]:
    """Every violation of ``schema_name`` by ``instance``, ordered by pointer; ``[]`` means valid.

    Raises ConfigError for an unknown profile or schema name (the harness's problem, not the SUT's).
    """
    checker = _validator(schema_name, profile)
    errors = [_to_schema_error(e) for e in checker.iter_errors(instance)]
    errors.sort(key=lambda e: (e.pointer, e.schema_path, e.message))
    return errors


def is_valid(schema_name: str, instance: object, *, profile: str = DEFAULT_PROFILE) -> bool:
    """Cheaper than ``not validate(...)`` when the reasons are not needed."""
    return _validator(schema_name, profile).is_valid(instance)


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _show(value: object, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if _jsonable(value) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


_JSON_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _to_schema_error(error: ValidationError) -> SchemaError:
    keyword = str(error.validator)
    expected = error.validator_value
    found = error.instance
    member: str | None = None
    if keyword == "required":
        # jsonschema reports one error per missing member and names it in its message.
        match = re.match(r"^'(.*)' is a required property$", error.message)
        missing = [m for m in expected if isinstance(found, Mapping) and m not in found]
        member = match.group(1) if match else (missing[0] if len(missing) == 1 else None)
        message = f"required member {member!r} is missing" if member else error.message
    elif keyword == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        patterns = sorted((error.schema.get("patternProperties") or {}).keys())
        extras = _unexpected_members(found, error.schema)
        member = extras[0] if len(extras) == 1 else None
        named = ", ".join(repr(m) for m in extras) or "?"
        allowed_text = ", ".join(allowed)
        if patterns:
            allowed_text += ", and names matching " + " or ".join(patterns)
        message = f"member {named} is not allowed here; allowed: {allowed_text}"
    elif keyword == "enum":
        choices = ", ".join(_show(v) for v in expected)
        message = f"expected one of {choices}; found {_show(found)}"
    elif keyword == "const":
        message = f"expected {_show(expected)}; found {_show(found)}"
    elif keyword == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        names = " or ".join(_JSON_TYPE_NAMES.get(str(t), str(t)) for t in wanted)
        message = f"expected {names}; found {_json_type(found)} ({_show(found)})"
    elif keyword == "pattern":
        message = f"expected a string matching {expected}; found {_show(found)}"
    elif keyword == "format":
        message = f"expected a valid {expected} (format); found {_show(found)}"
    elif keyword == "minItems":
        message = f"expected at least {expected} item{'s' if expected != 1 else ''}; found {len(found)}"
    elif keyword == "maxItems":
        message = f"expected at most {expected} items; found {len(found)}"
    elif keyword == "minLength":
        message = f"expected a string of at least {expected} character{'s' if expected != 1 else ''}; found {_show(found)}"
    elif keyword == "maxLength":
        message = f"expected a string of at most {expected} characters; found one of {len(found)}"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }[keyword]
        message = f"expected a number {relation} {expected}; found {_show(found)}"
    else:
        message = error.message
    return SchemaError(
        pointer=_pointer(error.absolute_path),
        message=message,
        validator=keyword,
        schema_path=_pointer(error.absolute_schema_path),
        member=member,
    )


def _unexpected_members(instance: object, schema: Mapping[str, Any]) -> list[str]:
    if not isinstance(instance, Mapping):
        return []
    known = set((schema.get("properties") or {}).keys())
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    return sorted(k for k in instance if k not in known and not any(p.search(k) for p in patterns))


# --------------------------------------------------------------------------------------------------
# Manifest semantics (CAP-11, CAP-12, CAP-16, CAP-17, CAP-20, Q-21)


def is_hosting_manifest(manifest: object) -> bool:
    """True when any hosting field is present: the WFM infers hosting from presence (CAP-12)."""
    props = manifest.get("properties") if isinstance(manifest, Mapping) else None
    return isinstance(props, Mapping) and any(f in props for f in HOSTING_FIELDS)


def semantic_findings(manifest: dict, *, device_id: str | None = None) -> list[Finding]:
    """The manifest rules the schema cannot state; run :func:`validate` for the rest.

    - CAP-11: once any hosting field is present, all eight must be (``hosting-field-missing:<field>``)
      and ``otelCollector`` must be ``true`` (``otel-collector-not-true``). The eight are all-or-nothing
      because the WFM infers "see-thru gateway that hosts nothing" from their absence (CAP-12); an
      identity-only manifest is therefore fine and yields nothing.
    - CAP-16 (warning ``unit-format``, Q-19): memory in Ki/Mi/Gi, storage in Ki..Ei, no space.
    - CAP-17: ``x-...`` root members that miss the naming rule (``extension-name-invalid``), extension
      values that are not objects (``extension-not-object``), and extension-looking members inside
      ``properties`` (``extension-not-at-root``, warning).
    - CAP-20 (Q-18), only when ``device_id`` (the path's ``{deviceId}``) is given: ``device-id-mismatch``.
    - Q-21 (warning ``api-version-unexpected``): apiVersion differs from the example value.

    Members of the wrong JSON type are left to the schema (no finding here), so the two never
    report the same fault twice, except CAP-17 naming, which the schema reports only as
    ``additionalProperties``.
    """
    findings: list[Finding] = []
    if not isinstance(manifest, Mapping):
        return findings

    api_version = manifest.get("apiVersion")
    if isinstance(api_version, str) and api_version != MANIFEST_API_VERSION_EXAMPLE:
        findings.append(
            Finding(
                "api-version-unexpected",
                f"apiVersion is {api_version!r}; the spec's example is {MANIFEST_API_VERSION_EXAMPLE!r} "
                "(no enum is defined, so this is reported, not failed: Q-21)",
                "warning",
                "CAP-08",
            )
        )

    for key, value in manifest.items():
        if not isinstance(key, str) or not key.startswith("x-"):
            continue
        if not EXTENSION_NAME_RE.match(key):
            findings.append(
                Finding(
                    "extension-name-invalid",
                    f"root member {key!r} looks like a specification extension but does not match "
                    f"{EXTENSION_NAME_RE.pattern} (x-<unique-name>-extensions, unique-name lower-case)",
                    "error",
                    "CAP-17",
                )
            )
        elif not isinstance(value, Mapping):
            findings.append(
                Finding(
                    "extension-not-object",
                    f"extension {key!r} must hold an object; found {_json_type(value)}",
                    "error",
                    "CAP-17",
                )
            )

    props = manifest.get("properties")
    if not isinstance(props, Mapping):
        return findings

    for key in props:
        if isinstance(key, str) and key.startswith("x-") and key.endswith("-extensions"):
            findings.append(
                Finding(
                    "extension-not-at-root",
                    f"properties.{key} looks like a specification extension; extensions belong at the "
                    "document root",
                    "warning",
                    "CAP-17",
                )
            )

    present = [f for f in HOSTING_FIELDS if f in props]
    if present:
        for field in HOSTING_FIELDS:
            if field not in props:
                findings.append(
                    Finding(
                        f"hosting-field-missing:{field}",
                        f"properties.{field} is missing although {', '.join(present)} "
                        f"{'is' if len(present) == 1 else 'are'} present: a hosting device reports all eight "
                        "hosting fields, a see-thru gateway that hosts nothing reports none (CAP-12)",
                        "error",
                        "CAP-11",
                    )
                )
        otel = props.get("otelCollector", True)
        if "otelCollector" in props and otel is not True and isinstance(otel, bool):
            findings.append(
                Finding(
                    "otel-collector-not-true",
                    f"properties.otelCollector is {_show(otel)}; a hosting device must report true",
                    "error",
                    "CAP-11",
                )
            )

    for field, pattern, units in (("memory", _MEMORY_RE, "Ki, Mi or Gi"), ("storage", _STORAGE_RE, "Ki..Ei")):
        value = props.get(field)
        if isinstance(value, str) and not pattern.match(value):
            findings.append(
                Finding(
                    "unit-format",
                    f"properties.{field} is {value!r}; expected digits followed by {units} with no space "
                    f"(e.g. '16Gi'; pattern {pattern.pattern})",
                    "warning",
                    "CAP-16",
                )
            )

    if device_id is not None:
        manifest_id = props.get("id")
        if isinstance(manifest_id, str) and manifest_id != device_id:
            findings.append(
                Finding(
                    "device-id-mismatch",
                    f"properties.id is {manifest_id!r} but the request path names device {device_id!r} "
                    "(every example keeps them equal: Q-18)",
                    "error",
                    "CAP-20",
                )
            )
    return findings


# --------------------------------------------------------------------------------------------------
# Error bodies (ERR-01, ERR-02, Q-27, Q-30)


def error_body_family(body: object, content_type: str | None = None) -> str:
    """Which error-body family a WFM used, for the report (Q-27): one of
    ``"problem-details"``, ``"error"`` (``{"error": ...}``), ``"other-json"``, ``"not-json"``.

    ``body`` is the parsed JSON (or the raw bytes/str, which are parsed here).
    """
    if isinstance(body, (bytes, bytearray, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return "not-json"
    media = (content_type or "").split(";")[0].strip().lower()
    if isinstance(body, Mapping):
        if media == "application/problem+json" or ("type" in body and "status" in body and "title" in body):
            return "problem-details"
        if isinstance(body.get("error"), str):
            return "error"
    return "other-json"


def problem_type_findings(body: object, http_status: int) -> list[Finding]:
    """Judge a problem-details body against the HTTPSIG-era catalog: report only (ERR-02 is a SHOULD).

    Codes (all ``warning`` or ``info``, requirement ERR-02):
    ``problem-type-missing``, ``problem-type-about-blank`` (info), ``problem-type-miaf-namespace``
    (info, Q-30), ``problem-type-unknown`` (under the Margo namespace but not in the catalog),
    ``problem-type-not-margo`` (info: a vendor URI), ``problem-type-status-mismatch`` (the type is
    defined with another status), ``problem-status-mismatch`` (body ``status`` differs from the HTTP
    status).
    """
    findings: list[Finding] = []
    if not isinstance(body, Mapping):
        return [Finding("problem-not-object", f"problem body is {_json_type(body)}, not an object", "warning", "ERR-02")]
    status = body.get("status")
    if "status" in body and status != http_status:
        findings.append(
            Finding(
                "problem-status-mismatch",
                f"body status is {_show(status)} but the HTTP status is {http_status}",
                "warning",
                "ERR-02",
            )
        )
    problem_type = body.get("type")
    if not isinstance(problem_type, str) or not problem_type:
        findings.append(Finding("problem-type-missing", "no 'type' member (a Margo type SHOULD be given)", "warning", "ERR-02"))
        return findings
    if problem_type == "about:blank":
        findings.append(
            Finding("problem-type-about-blank", "type is about:blank, not a Margo problem type", "info", "ERR-02")
        )
        return findings
    name: str | None = None
    if problem_type.startswith(PROBLEM_TYPE_BASE):
        name = problem_type[len(PROBLEM_TYPE_BASE) :]
    else:
        for base in MIAF_PROBLEM_TYPE_BASES:
            if problem_type.startswith(base):
                name = problem_type[len(base) :]
                findings.append(
                    Finding(
                        "problem-type-miaf-namespace",
                        f"type {problem_type!r} uses a MIAF namespace; the HTTPSIG catalog is {PROBLEM_TYPE_BASE}<name>",
                        "info",
                        "ERR-02",
                    )
                )
                break
    if name is None:
        if problem_type.startswith("https://docs.margo.org/"):
            findings.append(
                Finding(
                    "problem-type-unknown",
                    f"type {problem_type!r} is under the Margo domain but in no Margo problem catalog",
                    "warning",
                    "ERR-02",
                )
            )
        else:
            findings.append(
                Finding("problem-type-not-margo", f"type {problem_type!r} is not a Margo problem type", "info", "ERR-02")
            )
        return findings
    if name not in PROBLEM_TYPES:
        findings.append(
            Finding(
                "problem-type-unknown",
                f"type {problem_type!r} is not in the catalog ({', '.join(sorted(PROBLEM_TYPES))})",
                "warning",
                "ERR-02",
            )
        )
        return findings
    if PROBLEM_TYPES[name] != http_status:
        findings.append(
            Finding(
                "problem-type-status-mismatch",
                f"type {name!r} is defined with status {PROBLEM_TYPES[name]}; the response status is {http_status}",
                "warning",
                "ERR-02",
            )
        )
    return findings
