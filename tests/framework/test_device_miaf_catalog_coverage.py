"""Every MUST row of the MIAF catalog that binds the device is judged by a device-role scenario (an @req tag in
features/device/miaf/) or is listed NOT TESTED with its reason (attestation in the catalog, or
``checks.miaf_device.DEVICE_NOT_TESTED``), and never both."""

from __future__ import annotations

import re

from margo_conformance.checks.miaf_device import DEVICE_NOT_TESTED
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import FEATURES_DIR

PROFILE = "miaf-rc3"


def _tagged() -> set[str]:
    found: set[str] = set()
    for feature in (FEATURES_DIR / "device" / "miaf").glob("*.feature"):
        text = feature.read_text()
        assert text.startswith(f"@profile:{PROFILE}"), feature.name
        found |= set(re.findall(r"@req:([A-Z]+-\d+)", text))
    return found


def _device_musts() -> dict[str, object]:
    return {r.id: r for r in load_catalog().all() if PROFILE in r.profiles and r.binds in ("device", "both")
            and r.verdict_level == "MUST"}


def test_every_device_binding_must_row_has_a_scenario_or_a_reason() -> None:
    tagged = _tagged()
    missing = [rid for rid, row in _device_musts().items()
               if rid not in tagged and rid not in DEVICE_NOT_TESTED and row.verified_by == "scenario"]
    assert missing == [], f"device-binding MUST rows of {PROFILE} with neither a scenario nor a reason: {missing}"


def test_a_row_said_not_tested_has_no_scenario_and_is_a_device_row() -> None:
    tagged, musts = _tagged(), _device_musts()
    assert sorted(set(DEVICE_NOT_TESTED) & tagged) == []
    catalog = {r.id: r for r in load_catalog().all()}
    assert all(rid in catalog and catalog[rid].binds in ("device", "both") for rid in DEVICE_NOT_TESTED)
    assert all(len(reason) > 20 for reason in DEVICE_NOT_TESTED.values())
    assert {"MGEN-06", "MRTY-09", "SVID-17"} <= {rid for rid in musts if rid not in tagged}


def test_every_tag_names_a_row_of_the_profile() -> None:
    rows = {r.id for r in load_catalog().all() if PROFILE in r.profiles}
    assert _tagged() - rows == set()
