"""Payload schemas, sample index and semantic checks: each test names the rule that must catch a fault."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from margo_conformance import schemas
from margo_conformance.errors import ConfigError
from margo_conformance.findings import errors as error_findings
from margo_conformance.payloads import Sample, get_sample, load_samples
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import PAYLOADS_DIR, PROJECT_ROOT, SCHEMAS_DIR

PROFILE = "httpsig-2026h1"
SAMPLES = load_samples()
MANIFEST = "device-capabilities-manifest"


def _hosting() -> dict[str, Any]:
    return get_sample("manifest-hosting-device").document


def _codes(findings: list) -> list[str]:
    return sorted(f.code for f in findings)


# ------------------------------------------------------------------------------------------ samples


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.valid], ids=lambda s: s.name)
def test_valid_sample_has_no_schema_error(sample: Sample) -> None:
    assert schemas.validate(sample.schema, sample.document) == []
    assert schemas.is_valid(sample.schema, sample.document)


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.valid], ids=lambda s: s.name)
def test_invalid_sample_fails_exactly_the_expected_rule(sample: Sample) -> None:
    found = schemas.validate(sample.schema, sample.document)
    assert [(e.validator, e.pointer) for e in found] == [(sample.expected_validator, sample.expected_pointer)], (
        f"{sample.name}: {[str(e) for e in found]}"
    )
    assert not schemas.is_valid(sample.schema, sample.document)
    error = found[0]
    assert error.message and error.schema_path.endswith("/" + error.validator)


@pytest.mark.parametrize("sample", load_samples(MANIFEST), ids=lambda s: s.name)
def test_manifest_sample_semantic_findings_are_exactly_the_listed_ones(sample: Sample) -> None:
    assert sample.expected_findings is not None, "every manifest sample lists its findings (maybe [])"
    assert _codes(schemas.semantic_findings(sample.document)) == sorted(sample.expected_findings)


def test_index_is_broad_enough_for_the_suites_that_iterate_it() -> None:
    by_schema = {name: {s.valid for s in SAMPLES if s.schema == name} for name in schemas.SCHEMA_NAMES}
    assert all(v == {True, False} for v in by_schema.values()), by_schema

    invalid = [s for s in SAMPLES if not s.valid]
    enum_pointers = {s.expected_pointer for s in invalid if s.schema == MANIFEST and s.expected_validator == "enum"}
    assert enum_pointers >= {
        "/kind",
        "/properties/cpus/0/architecture",
        "/properties/peripherals/0/type",
        "/properties/interfaces/1/type",
        "/properties/supportedRuntimes/0",
        "/properties/supportedDeploymentTypes/0",
    }

    def missing_members(schema: str) -> set[tuple[str, str | None]]:
        out = set()
        for s in invalid:
            if s.schema == schema and s.expected_validator == "required":
                (err,) = schemas.validate(schema, s.document)
                out.add((err.pointer, err.member))
        return out

    assert missing_members(MANIFEST) >= {
        ("", "apiVersion"), ("", "kind"), ("", "properties"),
        ("/properties", "id"), ("/properties", "vendor"), ("/properties", "modelNumber"),
        ("/properties", "serialNumber"), ("/properties/cpus/0", "cores"),
        ("/properties/peripherals/0", "type"), ("/properties/interfaces/0", "type"),
    }  # fmt: skip
    assert missing_members("onboarding-request") >= {("", "apiVersion"), ("", "kind"), ("", "certificate")}

    bad_ids = {s.document["properties"]["id"] for s in invalid if s.expected_pointer == "/properties/id"}
    assert {"line 3", "a//b", "dev@1"} <= bad_ids
    valid_names = {s.name for s in SAMPLES if s.valid}
    assert {"manifest-hosting-device", "manifest-gateway-identity-only", "manifest-gateway-child"} <= valid_names
    assert get_sample("manifest-gateway-child").document["properties"]["id"] == "gw-hall2/press-42"
    assert "x-acme-extensions" in get_sample("manifest-hosting-device").document


def test_every_sample_cites_a_catalog_requirement_and_known_interpretations() -> None:
    catalog = load_catalog()
    for s in SAMPLES:
        assert s.requirement in catalog, s.name
        for q in s.interpretations:
            catalog.question(q)
        assert s.path.is_file() and s.path.is_relative_to(PAYLOADS_DIR)


def test_hosting_sample_is_the_digest_example() -> None:
    doc = _hosting()
    assert doc["properties"]["cpus"] == [{"cores": 4, "architecture": "amd64"}, {"cores": 1.5, "architecture": "amd64"}]
    assert doc["x-acme-extensions"] == {"firmware": "2.4.1"}
    assert get_sample("manifest-hosting-device").conformant
    assert get_sample("manifest-gateway-identity-only").conformant
    assert not get_sample("manifest-hosting-missing-memory").conformant
    assert get_sample("manifest-memory-with-space").conformant  # a warning is not an error
    assert not get_sample("manifest-enum-architecture").conformant


# ------------------------------------------------------------------------------------------ loader


def test_load_samples_filters_and_hands_out_fresh_copies() -> None:
    manifests = load_samples(MANIFEST, valid=False)
    assert manifests and all(s.schema == MANIFEST and not s.valid for s in manifests)
    assert all(s.requirement == "CAP-14" for s in load_samples(requirement="CAP-14"))
    first = get_sample("onboarding-request-base64-der")
    first.document["certificate"] = "changed"
    assert get_sample("onboarding-request-base64-der").document["certificate"] != "changed"
    assert json.loads(first.body()) == first.document
    with pytest.raises(KeyError, match="did you mean"):
        get_sample("manifest-hosting-devise")


def _write_index(tmp_path: Path, samples: list[dict[str, Any]]) -> Path:
    (tmp_path / "doc.json").write_text('{"clientId": "x"}')
    index = tmp_path / "index.yaml"
    index.write_text(yaml.safe_dump({"profile": PROFILE, "samples": samples}))
    return index


_GOOD = {
    "name": "ok",
    "file": "doc.json",
    "schema": "onboarding-response",
    "valid": True,
    "requirement": "ONB-07",
    "description": "fine",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Not Kebab"}, "kebab-case"),
        ({"schema": "no-such-schema"}, "is not one of"),
        ({"valid": False}, "failing 'validator'"),
        ({"validator": "enum"}, "names no validator"),
        ({"file": "missing.json"}, "cannot read"),
        ({"requirement": "CAP14"}, "not a requirement ID"),
        ({"interpretations": ["Q8"]}, "Q-IDs"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_sample_index_defects_are_config_errors(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    index = _write_index(tmp_path, [{**_GOOD, **change}])
    with pytest.raises(ConfigError, match=message):
        load_samples(index=index)


def test_sample_index_rejects_duplicate_names(tmp_path: Path) -> None:
    index = _write_index(tmp_path, [_GOOD, dict(_GOOD)])
    with pytest.raises(ConfigError, match="duplicate name"):
        load_samples(index=index)


# ------------------------------------------------------------------------------------------ readable errors


def test_errors_say_what_was_expected_and_what_was_found() -> None:
    doc = _hosting()
    doc["properties"]["cpus"][0]["architecture"] = "x86_64"
    doc["properties"]["otelCollector"] = "yes"
    doc["properties"]["id"] = "dev@1"
    del doc["properties"]["vendor"]
    doc["foo"] = 1
    by_pointer = {(e.pointer, e.validator): e for e in schemas.validate(MANIFEST, doc)}
    enum = by_pointer[("/properties/cpus/0/architecture", "enum")]
    assert '"amd64", "arm64", "arm"' in enum.message and '"x86_64"' in enum.message
    otel = by_pointer[("/properties/otelCollector", "type")]
    assert "boolean" in otel.message and "string" in otel.message and '"yes"' in otel.message
    assert "dev@1" in by_pointer[("/properties/id", "pattern")].message
    required = by_pointer[("/properties", "required")]
    assert required.member == "vendor" and "'vendor'" in required.message
    extra = by_pointer[("", "additionalProperties")]
    assert extra.member == "foo" and "'foo'" in extra.message and "x-[a-z]" in extra.message
    assert str(extra).startswith("(root): ")
    assert extra.to_dict()["validator"] == "additionalProperties"
    # ordered by pointer, so reports are stable
    pointers = [e.pointer for e in schemas.validate(MANIFEST, doc)]
    assert pointers == sorted(pointers)


def test_unknown_profile_or_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown schema profile"):
        schemas.validate(MANIFEST, {}, profile="httpsig-1999")
    with pytest.raises(ConfigError, match="unknown schema 'manifest'"):
        schemas.validate("manifest", {})


def test_validators_are_compiled_once_and_shared_across_threads() -> None:
    assert schemas.validator(MANIFEST) is schemas.validator(MANIFEST, PROFILE)
    doc = _hosting()
    results: list[int] = []

    def work() -> None:
        for _ in range(50):
            bad = copy.deepcopy(doc)
            bad["kind"] = "Nope"
            results.append(len(schemas.validate(MANIFEST, doc)) * 10 + len(schemas.validate(MANIFEST, bad)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 200


# ------------------------------------------------------------------------------------------ format checking


def test_format_checker_is_the_real_one_and_asserts() -> None:
    checker = schemas.validator("problem-details")
    assert checker.format_checker is Draft202012Validator.FORMAT_CHECKER
    assert "uri-reference" in checker.format_checker.checkers  # needs rfc3986-validator (format-nongpl)
    sample = get_sample("problem-type-not-uri-reference")
    # Without format assertion the same document would pass: the failure really comes from the checker.
    plain = Draft202012Validator(schemas.load_schema("problem-details"), registry=schemas.registry())
    assert plain.is_valid(sample.document)
    assert [(e.validator, e.pointer) for e in schemas.validate("problem-details", sample.document)] == [
        ("format", "/type")
    ]


@pytest.mark.parametrize(
    ("member", "value", "ok"),
    [
        ("type", "about:blank", True),
        ("type", "https://docs.margo.org/specification/problems/invalid-client", True),
        ("type", "/relative/type", True),
        ("type", "not a uri", False),
        ("instance", "/api/v1/clients/abc/capabilities/gw-hall2/press-42", True),
        ("instance", "http://[::1", False),
        ("instance", "50%zz", False),
    ],
)
def test_uri_reference_format(member: str, value: str, ok: bool) -> None:
    body = {"type": "about:blank", "title": "t", "status": 400, member: value}
    errors = schemas.validate("problem-details", body)
    assert (errors == []) is ok
    if not ok:
        assert [(e.validator, e.pointer) for e in errors] == [("format", f"/{member}")]


# ------------------------------------------------------------------------------------------ problem types


def test_problem_catalog_constants() -> None:
    assert schemas.PROBLEM_TYPE_BASE == "https://docs.margo.org/specification/problems/"
    assert schemas.PROBLEM_TYPES == {
        "invalid-certificate-format": 400,
        "invalid-digest-header": 400,
        "invalid-request": 400,
        "signature-verification-failed": 401,
        "semantic-error": 422,
        "certificate-not-trusted": 403,
        "invalid-client": 404,
        "invalid-bundle": 404,
        "deployment-not-found": 404,
        "server-cannot-generate-response": 406,
    }
    common = schemas.load_schema("common")
    assert set(common["$defs"]["ProblemTypeName"]["enum"]) == set(schemas.PROBLEM_TYPES)
    assert set(common["$defs"]["ProblemType"]["enum"]) == {schemas.PROBLEM_TYPE_BASE + n for n in schemas.PROBLEM_TYPES}


@pytest.mark.parametrize(("name", "status"), sorted(schemas.PROBLEM_TYPES.items()))
def test_each_margo_problem_type_with_its_status_is_accepted(name: str, status: int) -> None:
    body = {"type": schemas.PROBLEM_TYPE_BASE + name, "title": name.replace("-", " ").title(), "status": status,
            "detail": "d", "instance": "/api/v1/onboarding"}  # fmt: skip
    assert schemas.validate("problem-details", body) == []
    assert schemas.validate("margo-problem-details", body) == []
    assert schemas.problem_type_findings(body, status) == []


@pytest.mark.parametrize(("name", "status"), sorted(schemas.PROBLEM_TYPES.items()))
def test_a_margo_type_with_another_status_is_a_should_finding_not_a_schema_error(name: str, status: int) -> None:
    wrong = 500 if status != 500 else 400
    body = {"type": schemas.PROBLEM_TYPE_BASE + name, "title": "t", "status": wrong}
    assert schemas.validate("problem-details", body) == []  # ERR-02 is a SHOULD: default mode does not fail
    assert [(e.validator, e.pointer) for e in schemas.validate("margo-problem-details", body)] == [("const", "/status")]
    findings = schemas.problem_type_findings(body, wrong)
    assert _codes(findings) == ["problem-type-status-mismatch"]
    assert error_findings(findings) == [] and {f.requirement for f in findings} == {"ERR-02"}


@pytest.mark.parametrize(
    ("body", "http_status", "codes"),
    [
        ({"type": schemas.PROBLEM_TYPE_BASE + "semantic-error", "title": "t", "status": 422}, 400,
         ["problem-status-mismatch", "problem-type-status-mismatch"]),
        ({"type": schemas.PROBLEM_TYPE_BASE + "not-found", "title": "t", "status": 404}, 404, ["problem-type-unknown"]),
        ({"type": "https://docs.margo.org/specification/problem-types#invalid-request", "title": "t", "status": 400}, 400,
         ["problem-type-miaf-namespace"]),
        ({"type": "https://docs.margo.org/specification/problem-types#invalid-request", "title": "t", "status": 400}, 422,
         ["problem-status-mismatch", "problem-type-miaf-namespace", "problem-type-status-mismatch"]),
        ({"type": "about:blank", "title": "Internal Server Error", "status": 500}, 500, ["problem-type-about-blank"]),
        ({"type": "https://wfm.example.com/p/quota", "title": "t", "status": 429}, 429, ["problem-type-not-margo"]),
        ({"title": "t", "status": 400}, 400, ["problem-type-missing"]),
        ({"type": "https://docs.margo.org/other/x", "title": "t", "status": 400}, 400, ["problem-type-unknown"]),
        (["not", "an", "object"], 400, ["problem-not-object"]),
    ],
)  # fmt: skip
def test_problem_type_findings(body: object, http_status: int, codes: list[str]) -> None:
    findings = schemas.problem_type_findings(body, http_status)
    assert _codes(findings) == codes
    assert all(f.severity in ("warning", "info") and f.requirement == "ERR-02" for f in findings)


@pytest.mark.parametrize(
    ("body", "content_type", "family"),
    [
        ({"type": "about:blank", "title": "t", "status": 400}, "application/problem+json", "problem-details"),
        ({"type": "about:blank", "title": "t", "status": 400}, "application/json", "problem-details"),
        ({"detail": "x"}, "application/problem+json; charset=utf-8", "problem-details"),
        ({"error": "Invalid certificate"}, "application/json", "error"),
        (b'{"error": "Client rejected"}', None, "error"),
        ({"message": "x"}, "application/json", "other-json"),
        (b"<html>oops</html>", "text/html", "not-json"),
    ],
)
def test_error_body_family(body: object, content_type: str | None, family: str) -> None:
    assert schemas.error_body_family(body, content_type) == family


# ------------------------------------------------------------------------------------------ semantics


@pytest.mark.parametrize("field", schemas.HOSTING_FIELDS)
def test_each_missing_hosting_field_is_a_cap11_error(field: str) -> None:
    doc = _hosting()
    del doc["properties"][field]
    assert schemas.validate(MANIFEST, doc) == []  # the schema cannot say it
    findings = schemas.semantic_findings(doc)
    assert [(f.code, f.severity, f.requirement) for f in findings] == [(f"hosting-field-missing:{field}", "error", "CAP-11")]


def test_hosting_fields_are_the_eight_of_cap11() -> None:
    assert schemas.HOSTING_FIELDS == ("cpus", "memory", "storage", "peripherals", "interfaces", "otelCollector",
                                      "supportedRuntimes", "supportedDeploymentTypes")  # fmt: skip


def test_otel_collector_false_on_a_hosting_device() -> None:
    doc = _hosting()
    doc["properties"]["otelCollector"] = False
    findings = schemas.semantic_findings(doc)
    assert [(f.code, f.severity, f.requirement) for f in findings] == [("otel-collector-not-true", "error", "CAP-11")]


def test_otel_collector_not_boolean_is_left_to_the_schema() -> None:
    doc = _hosting()
    doc["properties"]["otelCollector"] = "true"
    assert schemas.semantic_findings(doc) == []
    assert [e.validator for e in schemas.validate(MANIFEST, doc)] == ["type"]


def test_gateway_identity_only_is_fine_and_not_hosting() -> None:
    gateway = get_sample("manifest-gateway-identity-only").document
    assert set(gateway["properties"]) == set(schemas.IDENTITY_FIELDS)
    assert schemas.semantic_findings(gateway) == []
    assert not schemas.is_hosting_manifest(gateway)
    assert schemas.is_hosting_manifest(_hosting())


def test_a_single_hosting_field_makes_all_others_required() -> None:
    gateway = get_sample("manifest-gateway-identity-only").document
    gateway["properties"]["memory"] = "1Gi"
    codes = _codes(schemas.semantic_findings(gateway))
    assert codes == sorted(f"hosting-field-missing:{f}" for f in schemas.HOSTING_FIELDS if f != "memory")


@pytest.mark.parametrize(
    ("field", "value", "warned"),
    [
        ("memory", "16Gi", False),
        ("memory", "512Mi", False),
        ("memory", "1048576Ki", False),
        ("memory", "16 Gi", True),
        ("memory", "16GB", True),
        ("memory", "16gi", True),
        ("memory", "1Ti", True),
        ("memory", "1.5Gi", True),
        ("memory", "", True),
        ("storage", "256Gi", False),
        ("storage", "2Ti", False),
        ("storage", "1Pi", False),
        ("storage", "1Ei", False),
        ("storage", "256 Gi", True),
        ("storage", "256G", True),
    ],
)
def test_unit_format_warning(field: str, value: str, warned: bool) -> None:
    doc = _hosting()
    doc["properties"][field] = value
    findings = schemas.semantic_findings(doc)
    if warned:
        assert [(f.code, f.severity, f.requirement) for f in findings] == [("unit-format", "warning", "CAP-16")]
        assert repr(value) in findings[0].detail
    else:
        assert findings == []


@pytest.mark.parametrize(
    ("key", "value", "codes"),
    [
        ("x-acme-extensions", {"a": 1}, []),
        ("x-a1-b2-extensions", {}, []),
        ("x-Acme-extensions", {}, ["extension-name-invalid"]),
        ("x-acme", {}, ["extension-name-invalid"]),
        ("x-1acme-extensions", {}, ["extension-name-invalid"]),
        ("x-acme_co-extensions", {}, ["extension-name-invalid"]),
        ("x-acme-extensions", "2.4.1", ["extension-not-object"]),
        ("x-acme-extensions", [1], ["extension-not-object"]),
    ],
)
def test_extension_naming(key: str, value: object, codes: list[str]) -> None:
    doc = _hosting()
    del doc["x-acme-extensions"]
    doc[key] = value
    findings = schemas.semantic_findings(doc)
    assert _codes(findings) == codes
    assert all(f.requirement == "CAP-17" and f.severity == "error" for f in findings)
    assert (schemas.validate(MANIFEST, doc) == []) is (codes == [])  # the schema agrees on valid vs not


def test_extension_inside_properties_is_a_warning() -> None:
    doc = _hosting()
    doc["properties"]["x-acme-extensions"] = {}
    assert [(f.code, f.severity) for f in schemas.semantic_findings(doc)] == [("extension-not-at-root", "warning")]


def test_device_id_mismatch_only_when_the_path_is_given() -> None:
    doc = _hosting()
    assert schemas.semantic_findings(doc, device_id="line3-ipc-07") == []
    findings = schemas.semantic_findings(doc, device_id="line3-ipc-08")
    assert [(f.code, f.requirement) for f in findings] == [("device-id-mismatch", "CAP-20")]


def test_api_version_other_than_the_example_is_a_warning() -> None:
    doc = _hosting()
    doc["apiVersion"] = "device.margo.org/v1"
    assert [(f.code, f.severity) for f in schemas.semantic_findings(doc)] == [("api-version-unexpected", "warning")]


@pytest.mark.parametrize("doc", [[], "x", None, {}, {"properties": "x"}, {"properties": []}])
def test_semantic_findings_leave_shape_errors_to_the_schema(doc: object) -> None:
    assert schemas.semantic_findings(doc) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ schema files


def _schema_files() -> list[Path]:
    """Every schema file under schemas/ (profiles and the harness's own formats such as report/)."""
    return sorted(SCHEMAS_DIR.rglob("*.schema.json"))


def test_profile_directory_holds_one_file_per_schema_name_plus_common() -> None:
    names = {p.name.removesuffix(".schema.json") for p in (SCHEMAS_DIR / PROFILE).glob("*.schema.json")}
    assert names == set(schemas.SCHEMA_NAMES) | {"common"}
    assert PROFILE in schemas.available_profiles()
    assert "report" not in schemas.available_profiles()
    assert [p for p in SCHEMAS_DIR.rglob("*") if p.is_file() and not p.name.endswith(".schema.json")] == []


@pytest.mark.parametrize("path", _schema_files(), ids=lambda p: str(p.relative_to(SCHEMAS_DIR)))
def test_each_schema_file_is_a_valid_2020_12_schema_with_a_stable_id(path: Path) -> None:
    document = json.loads(path.read_text())
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == schemas.schema_id(path.name.removesuffix(".schema.json"), path.parent.name)


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_resolves_through_the_registry() -> None:
    count = 0
    for path in _schema_files():
        document = json.loads(path.read_text())
        resolver = schemas.registry(path.parent.name).resolver(base_uri=document["$id"])
        for ref in _refs(document):
            resolved = resolver.lookup(ref)
            assert isinstance(resolved.contents, dict), f"{path.name}: {ref}"
            count += 1
    assert count >= 8
    with pytest.raises(Unresolvable):  # nothing is fetched from the network
        schemas.registry(PROFILE).resolver(base_uri=schemas.schema_id("common")).lookup("https://example.com/x.json")


# The DeviceCapabilitiesManifest of rc.2 yaml@35b9aa41 (shared/spec/httpsig-2026h1-openapi-excerpt.yaml), as data.
_EXCERPT = r"""
DeviceCapabilitiesManifest:
  type: object
  required: [apiVersion, kind, properties]
  patternProperties:
    '^x-[a-z][a-z0-9-]*-extensions$': {type: object}
  additionalProperties: false
  properties:
    apiVersion: {type: string}
    kind: {type: string, enum: [DeviceCapabilitiesManifest]}
    properties:
      type: object
      required: [id, vendor, modelNumber, serialNumber]
      properties:
        id: {$ref: '#/components/schemas/DeviceId'}
        vendor: {type: string}
        modelNumber: {type: string}
        serialNumber: {type: string}
        cpus:
          type: array
          items:
            type: object
            required: [cores]
            properties:
              cores: {type: number}
              architecture: {type: string, enum: [amd64, arm64, arm]}
        memory: {type: string}
        storage: {type: string}
        peripherals: {type: array, items: {$ref: '#/components/schemas/DevicePeripheral'}}
        interfaces: {type: array, items: {$ref: '#/components/schemas/DeviceCommunicationInterface'}}
        otelCollector: {type: boolean}
        supportedRuntimes: {type: array, minItems: 1, items: {type: string, enum: [oci]}}
        supportedDeploymentTypes: {type: array, minItems: 1, items: {type: string, enum: [helm, compose]}}
DeviceId:
  type: string
  pattern: '^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$'
DevicePeripheral:
  type: object
  required: [type]
  properties:
    type: {type: string, enum: [gpu, display, camera, microphone, speaker]}
    manufacturer: {type: string}
    model: {type: string}
DeviceCommunicationInterface:
  type: object
  required: [type]
  properties:
    type: {type: string, enum: [ethernet, wifi, cellular, bluetooth, usb, canbus, rs232]}
"""
_ANNOTATIONS = {"description", "title", "$schema", "$id", "$comment"}


def _inline(node: object, lookup) -> object:  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(lookup(node["$ref"]), lookup)
        return {k: _inline(v, lookup) for k, v in node.items() if k not in _ANNOTATIONS}
    if isinstance(node, list):
        return [_inline(v, lookup) for v in node]
    return node


def _excerpt_components() -> dict[str, Any]:
    shared = PROJECT_ROOT.parent / "shared" / "spec" / "httpsig-2026h1-openapi-excerpt.yaml"
    embedded = yaml.safe_load(_EXCERPT)
    if shared.is_file():  # the project's copy of the spec excerpt, when it sits beside the checkout
        components = yaml.safe_load(shared.read_text())["components"]["schemas"]
        assert components == embedded, "the embedded excerpt drifted from shared/spec"
    return embedded


def test_manifest_schema_is_exactly_the_profile_yaml() -> None:
    components = _excerpt_components()
    expected = _inline(
        components["DeviceCapabilitiesManifest"],
        lambda ref: components[ref.removeprefix("#/components/schemas/")],
    )
    registry = schemas.registry(PROFILE)
    resolver = registry.resolver(base_uri=schemas.schema_id(MANIFEST))
    ours = _inline(schemas.load_schema(MANIFEST), lambda ref: resolver.lookup(ref).contents)
    assert ours == expected


def test_no_schema_uses_a_format_whose_checker_the_package_keeps_out() -> None:
    """margo_conformance/__init__.py keeps rfc3987_syntax (formats iri, iri-reference) out for start-up time."""
    import json as _json

    from margo_conformance.resources import SCHEMAS_DIR

    used: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                used.add(node["format"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in SCHEMAS_DIR.rglob("*.json"):
        walk(_json.loads(path.read_text()))
    assert used and not used & {"iri", "iri-reference"}, used
