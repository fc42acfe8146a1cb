"""Manifests built from the host and for see-thru gateways are valid, and defects change only what they name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from margo_conformance.device import manifest as mf
from margo_conformance.errors import ConfigError
from margo_conformance.schemas import semantic_findings, validate


@pytest.mark.parametrize("machine, expected", [
    ("x86_64", "amd64"), ("AMD64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"),
    ("armv7l", "arm"), ("armv6l", "arm"), ("riscv64", None), ("s390x", None),
])
def test_architecture_maps_onto_the_enum(machine: str, expected: str | None) -> None:
    assert mf.margo_architecture(machine) == expected


def test_binary_units_have_no_space() -> None:
    assert mf.binary_units(8 * 2**30 + 5, "Gi") == "8Gi"
    assert mf.binary_units(1536 * 2**20, "Mi") == "1536Mi"
    assert mf.binary_units(10, "Gi") == "1Gi"  # never zero


def test_host_manifest_is_a_valid_hosting_manifest(tmp_path: Path) -> None:
    m = mf.host_manifest("dev-1", serial_number="S1", storage_path=tmp_path)
    assert validate("device-capabilities-manifest", m) == []
    assert [f for f in semantic_findings(m) if f.severity != "info"] == []
    assert m["properties"]["id"] == "dev-1"
    assert m["properties"]["cpus"][0]["cores"] >= 1
    for unit_field in ("memory", "storage"):
        assert " " not in m["properties"][unit_field]


def test_gateway_reports_identity_only_and_children_get_hierarchical_ids(tmp_path: Path) -> None:
    base = mf.host_manifest("gw", serial_number="S1", storage_path=tmp_path)
    gw = mf.gateway_identity(base)
    assert set(gw["properties"]) == set(mf.IDENTITY_FIELDS)
    assert validate("device-capabilities-manifest", gw) == []
    assert [f.code for f in semantic_findings(gw) if f.severity == "error"] == []
    children = mf.child_manifests(base, 2)
    assert [c["properties"]["id"] for c in children] == ["gw/child-1", "gw/child-2"]
    assert all(validate("device-capabilities-manifest", c) == [] for c in children)


def test_children_from_a_file_are_prefixed_with_the_gateway_id(tmp_path: Path) -> None:
    base = mf.host_manifest("gw", serial_number="S1", storage_path=tmp_path)
    child = mf.host_manifest("press-42", serial_number="P9", storage_path=tmp_path)
    already = mf.host_manifest("gw/press-43", serial_number="P10", storage_path=tmp_path)
    f = tmp_path / "children.json"
    f.write_text(json.dumps([child, already]))
    assert [c["properties"]["id"] for c in mf.child_manifests(base, f)] == ["gw/press-42", "gw/press-43"]
    f.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(ConfigError, match="list of manifests"):
        mf.child_manifests(base, f)


def test_report_changes_touch_only_what_they_name(tmp_path: Path) -> None:
    base = mf.host_manifest("dev-1", serial_number="S1", storage_path=tmp_path)
    assert mf.with_report_changes(base) == base
    bad_enum = mf.with_report_changes(base, architecture="x86_64")
    assert [e.validator for e in validate("device-capabilities-manifest", bad_enum)] == ["enum"]
    other_id = mf.with_report_changes(base, id_suffix="-other")
    assert other_id["properties"]["id"] == "dev-1-other"
    assert validate("device-capabilities-manifest", other_id) == []


def test_a_capabilities_file_must_be_a_manifest_object(tmp_path: Path) -> None:
    f = tmp_path / "caps.json"
    f.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="properties"):
        mf.load_manifest_file(f)
    with pytest.raises(ConfigError, match="not found"):
        mf.load_manifest_file(tmp_path / "missing.json")
