"""DeviceCapabilitiesManifest bodies of MIAF rc.3 (root ``properties`` + ``labels``, no apiVersion/kind) that
the WFM-role MIAF suite sends: a valid hosting manifest, a non-hosting gateway, and named broken variants.

Each variant breaks one rule of the rc.3 schema (``openapi-excerpt.yaml``, DeviceCapabilitiesManifest) or the
JSON syntax, and names the code a WFM should give it (Q-52: 400 for what does not parse, 422 for what breaks
the schema) and the requirement it speaks to.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any


def manifest(device_id: str, *, revision: int = 1) -> dict[str, Any]:
    """A valid hosting manifest (every Y* field, ``otelCollector: true``); ``revision`` changes the serial only."""
    return {
        "properties": {
            "id": device_id,
            "vendor": "Margo Conformance",
            "modelNumber": "sim-1",
            "serialNumber": f"SN-{device_id.replace('/', '-')}-{revision}",
            "cpus": [{"cores": 4, "architecture": "arm64"}],
            "memory": "8Gi",
            "storage": "64Gi",
            "peripherals": [{"type": "camera", "manufacturer": "Acme", "model": "C1"}],
            "interfaces": [{"type": "ethernet"}],
            "otelCollector": True,
            "supportedRuntimes": ["oci"],
            "supportedDeploymentTypes": ["helm", "compose"],
        },
        "labels": {"org.margo.conformance/site": "lab"},
    }


def gateway_manifest(device_id: str) -> dict[str, Any]:
    """A see-thru gateway that hosts nothing: identity fields only (MCAP-23, MCAP-24)."""
    return {"properties": {"id": device_id, "vendor": "Margo Conformance", "modelNumber": "gw-1",
                           "serialNumber": f"SN-{device_id}"}}


@dataclass(frozen=True)
class Variant:
    name: str
    #: The code Q-52 prefers: 400 (does not parse) or 422 (valid JSON that breaks the schema).
    preferred: int
    requirement: str


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("not-json", 400, "MCAP-06"),
    Variant("empty", 400, "MCAP-06"),
    Variant("architecture-x86_64", 422, "MCAP-09"),
    Variant("peripheral-type-GPU", 422, "MCAP-09"),
    Variant("runtimes-empty", 422, "MCAP-09"),
    Variant("missing-id", 422, "MCAP-13"),
    Variant("missing-vendor", 422, "MCAP-13"),
    Variant("missing-modelNumber", 422, "MCAP-13"),
    Variant("missing-serialNumber", 422, "MCAP-13"),
    Variant("root-member-foo", 422, "MCAP-12"),
)}


def body(name: str, device_id: str) -> bytes:
    """The bytes of a named body for ``device_id``: "valid", "changed", "gateway", "extension", or a variant."""
    doc: Any = manifest(device_id)
    if name == "valid":
        pass
    elif name == "changed":
        doc = manifest(device_id, revision=2)
    elif name == "gateway":
        doc = gateway_manifest(device_id)
    elif name == "extension":
        doc["x-acme-extensions"] = {"a": 1}
    elif name == "not-json":
        return b"{"
    elif name == "empty":
        return b""
    elif name == "architecture-x86_64":
        doc["properties"]["cpus"][0]["architecture"] = "x86_64"
    elif name == "peripheral-type-GPU":
        doc["properties"]["peripherals"][0]["type"] = "GPU"
    elif name == "runtimes-empty":
        doc["properties"]["supportedRuntimes"] = []
    elif name.startswith("missing-"):
        del doc["properties"][name.removeprefix("missing-")]
    elif name == "root-member-foo":
        doc["foo"] = 1
    elif name == "deployment-type-wasm":
        doc["properties"]["supportedDeploymentTypes"] = ["helm", "wasm"]
    else:
        raise KeyError(f"unknown MIAF manifest body {name!r}")
    return json.dumps(copy.deepcopy(doc)).encode()
