"""schemas/miaf-rc3: the rc.3 capabilities manifest and ProblemDetail, valid and invalid documents per MCAP-12..22
and Q-51 (an empty label array is invalid under the upstream oneOf), each invalid one failing on its own keyword."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from margo_conformance.profiles import load_profile
from margo_conformance.schemas import available_profiles, load_schema, schema_id, validate

PROFILE = "miaf-rc3"
MANIFEST = "device-capabilities-manifest"
PROBLEM = "problem-details"

HOSTING: dict[str, Any] = {
    "properties": {
        "id": "gw1/dev-a", "vendor": "Acme", "modelNumber": "E1", "serialNumber": "SN-1",
        "cpus": [{"cores": 2.5, "architecture": "arm64"}], "memory": "8Gi", "storage": "64Gi",
        "peripherals": [{"type": "gpu", "manufacturer": "X", "model": "Y"}], "interfaces": [{"type": "canbus"}],
        "otelCollector": True, "supportedRuntimes": ["oci", "custom"], "supportedDeploymentTypes": ["helm", "custom"],
    },
    "labels": {"acme.example/site": "plant-3", "acme.example/rack": 4, "acme.example/edge": True,
               "acme.example/zones": ["a", "b"], "acme.example/slots": [1, 2.5]},
    "x-acme-extensions": {"anything": {"nested": 1}},
}


def _with(path: str, value: Any = None, *, drop: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(HOSTING)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[key]
    if drop:
        del target[last]
    else:
        target[last] = value
    return doc


def _errors(doc: Any, schema: str = MANIFEST) -> list[tuple[str, str]]:
    return [(e.pointer, e.validator) for e in validate(schema, doc, profile=PROFILE)]


def test_the_profile_names_its_schema_set_and_ids_follow_the_convention() -> None:
    assert load_profile(PROFILE).schema_set == PROFILE and PROFILE in available_profiles()
    for name in (MANIFEST, PROBLEM, "common"):
        assert load_schema(name, PROFILE)["$id"] == schema_id(name, PROFILE) == \
            f"https://schemas.margo-conformance.dev/miaf-rc3/{name}.schema.json"


@pytest.mark.parametrize("doc", [
    HOSTING,
    {"properties": {"id": "gw1", "vendor": "Acme", "modelNumber": "G", "serialNumber": "1"}},  # MCAP-24 gateway
    _with("properties.firmware", "1.2"),  # MCAP-13: unknown members inside properties are schema-valid
    _with("labels", {}),  # an empty label object is schema-valid (MCAP-21's "labels required" is not schema)
    _with("properties.cpus", [{"cores": 1}]),  # architecture optional (MCAP-16)
], ids=["hosting", "gateway-identity-only", "unknown-properties-member", "empty-labels", "cpu-no-architecture"])
def test_valid_manifests(doc: dict[str, Any]) -> None:
    assert _errors(doc) == []


@pytest.mark.parametrize(("doc", "pointer", "keyword"), [
    # MCAP-12: the root holds properties, labels and x-<name>-extensions only; apiVersion/kind are invalid
    (_with("apiVersion", "margo.org/v1-alpha1"), "", "additionalProperties"),
    (_with("kind", "DeviceCapabilitiesManifest"), "", "additionalProperties"),
    (_with("foo", 1), "", "additionalProperties"),
    (_with("x-Acme-extensions", {}), "", "additionalProperties"),
    (_with("x-acme-extensions", "text"), "/x-acme-extensions", "type"),
    (_with("properties", drop=True), "", "required"),
    # MCAP-13: the identity members
    (_with("properties.serialNumber", drop=True), "/properties", "required"),
    (_with("properties.vendor", 7), "/properties/vendor", "type"),
    # MCAP-04/14: DeviceId pattern
    (_with("properties.id", "gw1//dev"), "/properties/id", "pattern"),
    (_with("properties.id", "dev a"), "/properties/id", "pattern"),
    # MCAP-16: cpus
    (_with("properties.cpus", [{"architecture": "arm"}]), "/properties/cpus/0", "required"),
    (_with("properties.cpus", [{"cores": 2, "architecture": "x86_64"}]), "/properties/cpus/0/architecture", "enum"),
    # MCAP-18: peripheral and interface enums, required type
    (_with("properties.peripherals", [{"type": "GPU"}]), "/properties/peripherals/0/type", "enum"),
    (_with("properties.interfaces", [{}]), "/properties/interfaces/0", "required"),
    # MCAP-19: runtimes and deployment types, minItems 1
    (_with("properties.supportedRuntimes", []), "/properties/supportedRuntimes", "minItems"),
    (_with("properties.supportedRuntimes", ["wasm"]), "/properties/supportedRuntimes/0", "enum"),
    (_with("properties.supportedDeploymentTypes", ["kustomize"]), "/properties/supportedDeploymentTypes/0", "enum"),
    (_with("properties.otelCollector", "yes"), "/properties/otelCollector", "type"),
    # MCAP-22: label values
    (_with("labels", {"k": {"nested": 1}}), "/labels/k", "oneOf"),
    (_with("labels", {"k": ["a", 1]}), "/labels/k", "oneOf"),
    (_with("labels", {"k": None}), "/labels/k", "oneOf"),
    (_with("labels", ["a"]), "/labels", "type"),
    # [] matches both array branches of the upstream oneOf, so it is invalid
    (_with("labels", {"k": []}), "/labels/k", "oneOf"),
], ids=["apiVersion", "kind", "unknown-root", "extension-uppercase", "extension-not-object", "no-properties",
        "no-serialNumber", "vendor-not-string", "id-double-slash", "id-space", "cpu-no-cores", "cpu-architecture",
        "peripheral-case", "interface-no-type", "runtimes-empty", "runtime-wasm", "deployment-type",
        "otel-not-boolean", "label-object", "label-mixed-array", "label-null", "labels-not-object",
        "label-empty-array-Q51"])
def test_invalid_manifests_fail_on_their_own_keyword(doc: dict[str, Any], pointer: str, keyword: str) -> None:
    errors = _errors(doc)
    assert (pointer, keyword) in errors, errors


PROBLEM_OK: dict[str, Any] = {
    "type": "https://docs.margo.org/specification/problem-types#gateway-not-found", "title": "Gateway not found",
    "status": 404, "detail": "No gateway gw1 for this client.", "instance": "/api/v1/capabilities/gw1/c1",
    "retryable": False, "backoffStrategy": "none",
}


@pytest.mark.parametrize("doc", [
    PROBLEM_OK,
    {"type": "about:blank", "title": "Service Unavailable", "status": 503, "retryable": True,
     "backoffStrategy": "exponential", "retryAfterSeconds": 30},
    {**PROBLEM_OK, "status": 422, "errors": [{"field": "properties.cpus[0].architecture", "message": "not in enum"}]},
    {**PROBLEM_OK, "vendor_error_code": "ERR_4291"},  # extension members are allowed (MERR-06 lints names)
    {"type": "/problems/local", "title": "t", "status": 400},  # a relative uri-reference
], ids=["registered-type", "about-blank-503", "errors", "vendor-member", "relative-type"])
def test_valid_problem_details(doc: dict[str, Any]) -> None:
    assert _errors(doc, PROBLEM) == []


@pytest.mark.parametrize(("change", "pointer", "keyword"), [
    ({"title": None}, "", "required"),  # type, title and status are required
    ({"type": None}, "", "required"),
    ({"status": "404"}, "/status", "type"),
    ({"retryable": "false"}, "/retryable", "type"),
    ({"retryAfterSeconds": 1.5}, "/retryAfterSeconds", "type"),  # MRTY-05
    ({"backoffStrategy": "linear"}, "/backoffStrategy", "enum"),
    ({"errors": {"field": "x"}}, "/errors", "type"),
    ({"type": "not a uri"}, "/type", "format"),
], ids=["no-title", "no-type", "status-string", "retryable-string", "retry-after-fraction", "backoff-enum",
        "errors-not-array", "type-not-uri-reference"])
def test_invalid_problem_details(change: dict[str, Any], pointer: str, keyword: str) -> None:
    doc = {k: v for k, v in {**PROBLEM_OK, **change}.items() if v is not None}
    errors = _errors(doc, PROBLEM)
    assert (pointer, keyword) in errors, errors
