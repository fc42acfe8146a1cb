"""Steps of capability_reporting.feature: create/update/delete, sample manifests, gateways, extensions."""

from __future__ import annotations


from pytest_bdd import parsers, then, when

from margo_conformance.checks import wfm as checks
from margo_conformance.errors import HarnessError
from margo_conformance.payloads import get_sample

from margo_conformance.verdict import Judge

from .common_steps import judge_refusal, requirement
from .context import WfmScenario

from margo_conformance.patterns import DEVICE_ID_RE as DEVICE_ID  # noqa: E402


def _gateway_ids(scenario: WfmScenario) -> tuple[str, str]:
    return scenario.gateway_id, f"{scenario.gateway_id}/press-42"


@when("the device deletes its capabilities")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().delete_capabilities(), "capabilities DELETE")


@when(parsers.parse('the device reports the sample manifest "{name}"'))
def _(scenario: WfmScenario, name: str) -> None:
    try:
        sample = get_sample(name)
    except KeyError:
        raise HarnessError(f"no sample payload named {name!r} in fixtures/payloads/index.yaml") from None
    device = scenario.require_device()
    document = sample.document
    # The path carries the sample's own properties.id when that is a legal deviceId (CAP-20 keeps them
    # equal); a sample whose id is broken or missing is sent under the device's own id.
    props = document.get("properties") if isinstance(document, dict) else None
    sample_id = props.get("id") if isinstance(props, dict) else None
    path_id = sample_id if isinstance(sample_id, str) and DEVICE_ID.fullmatch(sample_id) else device.device_id
    scenario.record(device.put_capabilities(path_id, document), f"capabilities PUT of sample {name}")


@when("the device reports the gateway manifest")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    gateway_id, _ = _gateway_ids(scenario)
    gateway = {"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
               "properties": {"id": gateway_id, "vendor": "Acme", "modelNumber": "GW-10", "serialNumber": "GW10-0042"}}
    scenario.record(device.put_capabilities(gateway_id, gateway), "capabilities PUT of the gateway")


@when("the device reports the child manifest of that gateway")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    _, child_id = _gateway_ids(scenario)
    scenario.record(device.put_capabilities(child_id, device.manifest(child_id)), "capabilities PUT of the child")


@when("the device reports a manifest whose properties.id differs from the path deviceId")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    manifest = device.manifest("some-other-device")
    scenario.record(device.put_capabilities(device.device_id, manifest), "capabilities PUT, properties.id mismatch")


@then(parsers.parse("the WFM refuses the manifest ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    """Refused at all (must); 422 preferred, 400 accepted (Q-H02, DIGEST CAP-09 "422 (or 400)")."""
    judge_refusal(judge, scenario.last, requirement(req), "Q-H02")


@then(parsers.parse("the WFM refuses the unknown root member ({req}, advisory)"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    judge(checks.unknown_member_refused(scenario.last).bound_to(requirement(req)))
