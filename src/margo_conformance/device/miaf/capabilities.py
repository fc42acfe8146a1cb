"""What the device reports: one rc.3 capability manifest per deviceId, in order, on the MIAF routes.

Plain mode: ``PUT /api/v1/capabilities/{deviceId}`` with a hosting manifest (``device.miaf_manifest``). Gateway
mode (``--gateway-children N``): the non-hosting gateway's identity-only manifest first, then each child
``<gw>/child-<i>`` (MCAP-08, MCAP-23). ``properties.id`` is the path's deviceId (MCAP-14). Labels come from
``--labels-file`` (a JSON object, MCAP-22) and go on every hosting manifest; when the file changes, the reports
whose body changed are sent again (MCAP-02).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...patterns import capabilities_path as legacy_capabilities_path
from ...profiles import Profile
from ..manifest import API_VERSION, KIND
from ..miaf_manifest import gateway_manifest, manifest
from .defects import Behaviour

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")  # MCAP-04, the rc.3 DeviceId pattern


@dataclass(frozen=True)
class Report:
    device_id: str
    method: str
    path: str
    body: bytes


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID_RE.match(device_id):
        raise ConfigError(f"--device-id {device_id!r} is not a deviceId (RFC 3986 unreserved characters, '/' "
                          "between a gateway's and a child's id)")
    return device_id


def _label_value_ok(value: Any) -> bool:
    if isinstance(value, (str, bool)) or (isinstance(value, (int, float))):
        return True
    if isinstance(value, list) and value:
        return all(isinstance(v, str) for v in value) or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return False


def read_labels(path: Path) -> dict[str, Any]:
    """The labels file: a JSON object whose values are strings, numbers, booleans or arrays of strings or of
    numbers (MCAP-22); ConfigError otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--labels-file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --labels-file {path}: {exc}") from None
    try:
        labels = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--labels-file {path} is not JSON: {exc}") from None
    if not isinstance(labels, dict):
        raise ConfigError(f"--labels-file {path} must hold a JSON object of labels")
    bad = [k for k, v in labels.items() if not _label_value_ok(v)]
    if bad:
        raise ConfigError(f"--labels-file {path}: label(s) {', '.join(bad)} must be a string, number, boolean or "
                          "non-empty array of strings or of numbers")
    return labels


class Capabilities:
    """Builds the reports for one device (and its children) from the profile's route and the behaviour."""

    def __init__(self, profile: Profile, behaviour: Behaviour, device_id: str, *, children: int = 0) -> None:
        if children < 0:
            raise ConfigError("--gateway-children must be a positive count")
        self.route = profile.route("capabilities.put")
        self.behaviour = behaviour
        self.device_id = check_device_id(device_id)
        self.children = children

    def _hosting(self, device_id: str, labels: dict[str, Any] | None) -> dict[str, Any]:
        doc = manifest(device_id)
        if labels is not None:
            doc.pop("labels", None)
            if labels:
                doc["labels"] = labels
        props = doc["properties"]
        if not self.behaviour.otel_collector:
            props["otelCollector"] = False
        if self.behaviour.custom_without_labels:
            props["supportedRuntimes"] = ["oci", "custom"]
            props["supportedDeploymentTypes"] = ["helm", "custom"]
            doc.pop("labels", None)
        return doc

    def _report(self, device_id: str, doc: dict[str, Any], client_id: str) -> Report:
        if self.behaviour.api_version_kind:
            doc = {"apiVersion": API_VERSION, "kind": KIND, **doc}
        path = legacy_capabilities_path(client_id, device_id) if self.behaviour.route == "old" \
            else self.route.path(deviceId=device_id)
        return Report(device_id, self.behaviour.method, path, json.dumps(doc).encode())

    def reports(self, labels: dict[str, Any] | None, *, client_id: str) -> list[Report]:
        """Every report in the order it is sent (the gateway before its children)."""
        if not self.children:
            return [self._report(self.device_id, self._hosting(self.device_id, labels), client_id)]
        gateway = self._report(self.device_id, gateway_manifest(self.device_id), client_id)
        kids = [self._report(cid, self._hosting(cid, labels), client_id)
                for cid in (f"{self.device_id}/child-{i}" for i in range(1, self.children + 1))]
        return [*kids, gateway] if self.behaviour.children_first else [gateway, *kids]
