"""The DeviceCapabilitiesManifest the device reports (CAP-08..16, DIGEST section 3.1).

From a JSON file, or built from the host when no file is given: CPU count and architecture, memory,
storage. Memory and storage use binary units with no space (``"7982Mi"``, ``"235Gi"``; CAP-16, Q-19).
See-thru gateway mode (CAP-12/13): the gateway reports itself with the identity fields only, then each
child with the hierarchical id ``<gateway>/<child>``.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from ..errors import ConfigError

API_VERSION = "device.margo.org/v1alpha1"
KIND = "DeviceCapabilitiesManifest"
IDENTITY_FIELDS = ("id", "vendor", "modelNumber", "serialNumber")
HOSTING_FIELDS = ("cpus", "memory", "storage", "peripherals", "interfaces", "otelCollector",
                  "supportedRuntimes", "supportedDeploymentTypes")

_ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "x64": "amd64",
    "aarch64": "arm64", "arm64": "arm64", "armv8b": "arm64",
}

Manifest = dict[str, Any]


def margo_architecture(machine: str | None = None) -> str | None:
    """Map ``platform.machine()`` onto the CAP-14 enum; None (field left out) for anything else."""
    m = (machine if machine is not None else platform.machine()).lower()
    if m in _ARCHITECTURES:
        return _ARCHITECTURES[m]
    if m.startswith("arm"):
        return "arm"
    return None


def binary_units(n_bytes: int, unit: str) -> str:
    """Whole ``unit``s (rounded down, at least 1), written without a space: ``7982Mi``."""
    shift = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40}[unit]
    return f"{max(1, n_bytes >> shift)}{unit}"


def _host_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def host_manifest(device_id: str, *, serial_number: str, storage_path: Path | str = "/",
                  vendor: str = "Margo Conformance", model_number: str = "reference-device") -> Manifest:
    """A hosting device's manifest describing this machine."""
    cpu: dict[str, Any] = {"cores": os.cpu_count() or 1}
    arch = margo_architecture()
    if arch is not None:
        cpu["architecture"] = arch
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "properties": {
            "id": device_id,
            "vendor": vendor,
            "modelNumber": model_number,
            "serialNumber": serial_number,
            "cpus": [cpu],
            "memory": binary_units(_host_memory_bytes(), "Mi"),
            "storage": binary_units(shutil.disk_usage(storage_path).total, "Gi"),
            "peripherals": [],
            "interfaces": [{"type": "ethernet"}],
            "otelCollector": True,
            "supportedRuntimes": ["oci"],
            "supportedDeploymentTypes": ["compose"],
        },
    }


def load_manifest_file(path: Path) -> Manifest:
    """A manifest from a JSON file; an unreadable file or a non-object is a usage error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"capabilities file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"capabilities file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
        raise ConfigError(f"capabilities file {path} must hold a manifest object with a 'properties' object")
    return data


def gateway_identity(manifest: Manifest) -> Manifest:
    """The see-thru gateway's own manifest: the identity fields only (CAP-12)."""
    props = manifest["properties"]
    return {
        "apiVersion": manifest.get("apiVersion", API_VERSION),
        "kind": manifest.get("kind", KIND),
        "properties": {k: props[k] for k in IDENTITY_FIELDS if k in props},
    }


def child_manifests(gateway: Manifest, spec: int | Path) -> list[Manifest]:
    """The children of a see-thru gateway, each with id ``<gateway id>/<child id>`` (CAP-10, CAP-13).

    ``spec`` is a count (synthetic children modelled on the gateway's host) or a JSON file holding a
    list of manifests; a child id that does not already start with the gateway id is prefixed with it.
    """
    gw_id = gateway["properties"]["id"]
    if isinstance(spec, int):
        if spec < 1:
            raise ConfigError("--gateway-children needs a positive count or a JSON file")
        children = []
        for i in range(1, spec + 1):
            child = copy.deepcopy(gateway)
            child["properties"].update(vendor="Margo Conformance", modelNumber="reference-child",
                                       serialNumber=f"{gateway['properties']['serialNumber']}-{i}")
            child["properties"]["id"] = f"child-{i}"
            children.append(child)
    else:
        try:
            children = json.loads(Path(spec).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"gateway children file not found: {spec}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"gateway children file {spec} is not readable JSON: {exc}") from None
        if not isinstance(children, list) or not all(
            isinstance(c, dict) and isinstance(c.get("properties"), dict) and c["properties"].get("id")
            for c in children
        ):
            raise ConfigError(f"gateway children file {spec} must hold a list of manifests with properties.id")
    out = []
    for child in children:
        child = copy.deepcopy(child)
        cid = str(child["properties"]["id"])
        if not cid.startswith(gw_id + "/"):
            child["properties"]["id"] = f"{gw_id}/{cid}"
        out.append(child)
    return out


def with_report_changes(manifest: Manifest, *, architecture: str | None = None, id_suffix: str = "",
                        hosting_fields_from: Manifest | None = None) -> Manifest:
    """A copy changed as a defect asks: an architecture value, a suffix on properties.id, or the hosting
    fields of another manifest (a gateway that should be identity-only). No arguments: an equal copy."""
    out = copy.deepcopy(manifest)
    props = out["properties"]
    if architecture is not None:
        cpus = props.get("cpus") or [{"cores": 1}]
        for cpu in cpus:
            cpu["architecture"] = architecture
        props["cpus"] = cpus
    if id_suffix:
        props["id"] = f"{props['id']}{id_suffix}"
    if hosting_fields_from is not None:
        for f in HOSTING_FIELDS:
            if f in hosting_fields_from["properties"]:
                props[f] = copy.deepcopy(hosting_fields_from["properties"][f])
    return out
