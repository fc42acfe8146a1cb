"""The MIAF device's defects: registered for --role device --profile miaf-rc3, each one switch on a device row."""

from __future__ import annotations

import dataclasses
import json

import pytest

from margo_conformance.defects import defects_for, get_defect, of_profile
from margo_conformance.device.miaf.defects import DEFECTS, Behaviour, behaviour_for
from margo_conformance.requirements import load_catalog

from .conftest import runner

CONTRACT = {"hostname-check", "any-wfm-id", "no-chain-check", "leaf-only", "no-client-cert", "tls11-allowed",
            "tls12-only", "old-routes", "post-capabilities", "api-version-kind", "otel-false", "custom-without-labels",
            "child-before-gateway", "ignores-retry-after", "no-backoff", "retries-non-retryable",
            "dereferences-problem-type", "no-capability-update", "merges-bundle", "accepts-empty-bundle",
            "http-bundle-uri", "tofu-bundle", "keeps-old-svid", "no-etag"}


def test_registered_under_the_profile_and_listed_by_the_command() -> None:
    assert of_profile(defects_for("device"), "miaf-rc3") == DEFECTS
    assert {d.name for d in DEFECTS} == CONTRACT
    assert get_defect("device", "hostname-check").profile == "miaf-rc3"
    from margo_conformance.cli import app

    listed = json.loads(runner.invoke(app, ["defects", "--role", "device", "--profile", "miaf-rc3", "--json"]).stdout)
    assert [d["name"] for d in listed] == [d.name for d in DEFECTS]
    strict = {"keeps-old-svid", "no-etag", "api-version-kind", "no-backoff", "retries-non-retryable"}
    assert {d["name"] for d in listed if d["strict_only"]} == strict


def test_every_requirement_is_a_device_row_of_the_profile() -> None:
    catalog = load_catalog()
    rows = {r.id: r for r in catalog.select(profile="miaf-rc3")}
    for d in DEFECTS:
        assert rows[d.requirement].binds in ("device", "both"), (d.name, d.requirement)
        assert set(d.related) <= set(rows), d.name


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_each_defect_flips_its_own_switches(defect) -> None:
    clean, broken = Behaviour(), behaviour_for([defect.name])
    changed = [f.name for f in dataclasses.fields(Behaviour) if f.name != "defects"
               and getattr(clean, f.name) != getattr(broken, f.name)]
    assert changed, defect.name
    others = [behaviour_for([d.name]) for d in DEFECTS if d.name != defect.name]
    assert all(any(getattr(o, f) == getattr(clean, f) for f in changed) for o in others)


def test_the_defects_no_conformant_wfm_can_serve_are_whole_run() -> None:
    assert {d.name for d in DEFECTS if d.whole_run} == {"leaf-only", "no-client-cert"}
