"""The capability rules JSON Schema cannot state, as the reference MIAF WFM enforces them (Q-52: 422 SHOULD).

device-capabilities.md@aae95624: a hosting device reports all eight hosting fields (MCAP-15) with
``otelCollector: true``, a non-hosting gateway none of them (MCAP-23/24: the WFM infers "non-hosting" from their
absence, so a partial set is ambiguous); ``custom`` runtimes or deployment types require a non-empty ``labels``
(MCAP-21); ``properties.id`` equals the path's ``{deviceId}`` (Q-54). Each finding is one ``errors[]`` entry.
"""

from __future__ import annotations

from typing import Any

HOSTING_FIELDS: tuple[str, ...] = ("cpus", "memory", "storage", "peripherals", "interfaces", "otelCollector",
                                   "supportedRuntimes", "supportedDeploymentTypes")


def semantic_errors(document: Any, device_id: str) -> list[dict[str, str]]:
    """``[{field, message}]`` for a schema-valid manifest; empty when it is acceptable."""
    if not isinstance(document, dict) or not isinstance(document.get("properties"), dict):
        return []
    props: dict[str, Any] = document["properties"]
    errors: list[dict[str, str]] = []
    if props.get("id") != device_id:
        errors.append({"field": "properties.id",
                       "message": f"must equal the deviceId of the path ({device_id!r}), found {props.get('id')!r}"})
    present = [f for f in HOSTING_FIELDS if f in props]
    if present:
        for missing in (f for f in HOSTING_FIELDS if f not in props):
            errors.append({"field": f"properties.{missing}",
                           "message": "a device that hosts workloads reports every hosting field; this one is missing"})
        if "otelCollector" in props and props["otelCollector"] is not True:
            errors.append({"field": "properties.otelCollector", "message": "must be true on a hosting device"})
    custom = "custom" in (props.get("supportedRuntimes") or []) or \
        "custom" in (props.get("supportedDeploymentTypes") or [])
    if custom and not document.get("labels"):
        errors.append({"field": "labels", "message": "a device reporting a custom runtime or deployment type "
                                                     "must report labels"})
    return errors
