"""Steps of onboarding.feature: correct, malformed, untrusted and unsigned onboarding requests."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks import wfm as checks
from margo_conformance.device.api import certificate_value, onboarding_body
from margo_conformance.operator_hooks import require
from margo_conformance.pki import TestCA, non_certificates
from margo_conformance.verdict import Judge, Verdict

from .common_steps import new_device, onboard_for_setup, requirement
from .context import WfmScenario

#: Q-15: a malformed onboarding body is refused with 400 (preferred) or 422.
MALFORMED_CODES = (400, 422)


@given("the device has a new client certificate")
def _(scenario: WfmScenario) -> None:
    scenario.certificate = None  # the device's own fresh identity


@given(parsers.parse('the device has a client certificate with the defect "{defect}"'))
def _(scenario: WfmScenario, defect: str) -> None:
    scenario.certificate = scenario.require_device().issue_certificate(defect=defect)


@given("the device has a client certificate from an unrelated CA")
def _(scenario: WfmScenario) -> None:
    stranger = TestCA("Unrelated manufacturer CA")
    scenario.certificate = stranger.issue_client_cert("sim-stranger")


@given("the operator has told the WFM to trust the device manufacturer's CA")
def _(scenario: WfmScenario) -> None:
    require(scenario.wfm.operator, "trust_issuer")
    ca_file = Path(tempfile.mkdtemp(prefix="margo-ca-")) / "manufacturer-ca.pem"
    scenario.device_ca.write_cert_pem(ca_file)
    scenario.wfm.operator.perform("trust_issuer", ca_file=str(ca_file))


@given("the device onboards with a correctly signed request")
def _(scenario: WfmScenario) -> None:
    """A precondition: without a clientId the scenario cannot be judged (broken, never a failed ONB-11)."""
    device = scenario.require_device()
    onboard_for_setup(scenario, device, "first onboarding")
    scenario.first_onboarding = scenario.last


@when("the device onboards with a correctly signed request")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    exchange = scenario.record(device.onboard(cert=scenario.certificate), "onboarding")
    if scenario.first_onboarding is None:
        scenario.first_onboarding = exchange
    client_id = checks.client_id_of(exchange)
    if scenario.certificate is None and client_id and exchange.response and 200 <= exchange.response.status < 300:
        device.client_id = client_id


@when(parsers.parse('the device onboards with a signed request whose body lacks "{member}"'))
def _(scenario: WfmScenario, member: str) -> None:
    device = scenario.require_device()
    body = onboarding_body(certificate_value(device.identity.cert))
    body.pop(member)
    scenario.record(device.onboard(body_override=body), f"onboarding without {member}")


@when(parsers.parse('the device onboards with a signed request whose "{member}" is {value}'))
def _(scenario: WfmScenario, member: str, value: str) -> None:
    device = scenario.require_device()
    body = onboarding_body(certificate_value(device.identity.cert))
    body[member] = json.loads(value)
    scenario.record(device.onboard(body_override=body), f"onboarding with {member} = {value}")


@when(parsers.parse("the device onboards with the certificate value replaced by {variant}"))
def _(scenario: WfmScenario, variant: str) -> None:
    value = non_certificates()[variant]
    scenario.record(scenario.require_device().onboard(certificate=value), f"onboarding with {variant}")


@when(parsers.parse('the device onboards with the request fault "{fault}"'))
def _(scenario: WfmScenario, fault: str) -> None:
    scenario.record(scenario.require_device().onboard(fault=fault), f"onboarding with fault {fault}")


@when(parsers.parse('the device onboards with the certificate encoded as "{form}"'))
def _(scenario: WfmScenario, form: str) -> None:
    scenario.record(scenario.require_device().onboard(cert_form=form), f"onboarding, certificate as {form}")


@when("the device onboards again with the same certificate")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().onboard(), "re-onboarding the same certificate")


@then(parsers.parse("the WFM refuses the request as malformed ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    req_id = requirement(req)
    judge(checks.status_in(scenario.last, MALFORMED_CODES).bound_to(req_id))
    judge(checks.status_is(scenario.last, 400).bound_to(req_id))


@then(parsers.parse("the WFM refuses the certificate with 400 or 403 ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    req_id = requirement(req)
    judge(checks.status_in(scenario.last, (400, 403)).bound_to(req_id))


@then("the clientId is URL-safe (ONB-11)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.client_id_url_safe(checks.client_id_of(scenario.last)))


@then("the clientId format is reported (ONB-12, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.client_id_format(checks.client_id_of(scenario.last)))


@then("the two clientIds differ (ONB-11)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    first = scenario.require_device().client_id
    second = scenario.others["second"].client_id
    judge(checks.ids_differ(first, second))


@then("the WFM keeps one identity for the certificate (ONB-11, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    first = scenario.first_onboarding
    if first is None:
        judge(Verdict.of(False, "re-onboarding", expected="a first onboarding", observed="none").bound_to("ONB-11"))
        return
    judge(checks.one_identity_per_certificate(first, scenario.last))


@when("the device onboards with a signed body that is not JSON")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    scenario.record(device.onboard(body_override=b'{"apiVersion": "onboarding.margo.org/v1alpha1", "kind": '),
                    "onboarding, body not JSON")
