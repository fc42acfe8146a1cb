"""The device defect catalog: every defect is one switch, names one catalog requirement, and clashes are refused."""

from __future__ import annotations

import dataclasses

import pytest

from margo_conformance.defects import defects_for, of_profile
from margo_conformance.device.defects import DEFECTS, Behaviour, behaviour_for
from margo_conformance.errors import ConfigError
from margo_conformance.requirements import load_catalog

ISSUE_DEFECTS = {  # the 18 of issue 4, by our names
    "tls-no-verify", "tls-no-hostname", "tls-accept-expired", "unsigned", "digest-missing", "digest-wrong",
    "no-target-uri", "uppercase-component", "ecdsa-der", "created-stale", "wrong-key", "ignore-client-id",
    "report-before-onboarding", "manifest-invalid-enum", "properties-id-mismatch", "continue-after-403",
    "retry-ignores-retry-after", "cert-raw-pem",
}


def test_registry_lists_the_device_defects() -> None:
    assert of_profile(defects_for("device"), "httpsig-2026h1") == DEFECTS
    names = [d.name for d in DEFECTS]
    assert len(names) == len(set(names))
    assert ISSUE_DEFECTS <= set(names)
    assert all(d.role == "device" for d in DEFECTS)


def test_every_defect_names_a_device_requirement_of_the_catalog() -> None:
    catalog = load_catalog()
    for d in DEFECTS:
        req = catalog.get(d.requirement)
        assert req.binds in ("device", "both"), (d.name, req.id, req.binds)


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_each_defect_changes_the_clean_behaviour(defect) -> None:
    clean, broken = Behaviour(), behaviour_for([defect.name])
    changed = [f.name for f in dataclasses.fields(Behaviour)
               if f.name != "defects" and getattr(clean, f.name) != getattr(broken, f.name)]
    assert changed, defect.name
    # one switch; 'tls-no-verify' turns verification off, which makes the host name check meaningless too
    assert len(changed) == 1 or changed == ["verify_server_cert", "check_hostname"], changed
    assert broken.defects == (defect.name,)


def test_unknown_defect_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="unknown device defect 'no-such'"):
        behaviour_for(["no-such"])


def test_two_signature_defects_clash() -> None:
    with pytest.raises(ConfigError, match="both change the request signature"):
        behaviour_for(["digest-wrong", "unsigned"])
    # a signature defect and a flow defect combine
    b = behaviour_for(["digest-wrong", "ignore-client-id"])
    assert b.signature_fault == "digest-wrong" and b.use_own_id_in_paths
