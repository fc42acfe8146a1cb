"""Steps of onboarding.feature: correct, malformed, untrusted and unsigned onboarding requests."""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks import wfm as checks
from margo_conformance.device.api import certificate_value, onboarding_body
from margo_conformance.errors import HarnessError
from margo_conformance.sut.operator_hooks import require
from margo_conformance.pki import TestCA, non_certificates
from margo_conformance.verdict import Judge

from .common_steps import judge_refusal, new_device, onboard_for_setup, requirement
from .context import WfmScenario

#: How long the harness looks for a held onboarding request through the operator hook (ONB-10).
HELD_REQUEST_WAIT_S = 15.0
#: After the WFM has answered the onboarding, how long the hook may still look for it held (a race, not a wait).
ANSWERED_GRACE_S = 1.0


@given("the device has a new client certificate")
def _(scenario: WfmScenario) -> None:
    scenario.certificate = None  # the device's own fresh identity


@given(parsers.parse('the device has a client certificate with the defect "{defect}"'))
def _(scenario: WfmScenario, defect: str) -> None:
    scenario.certificate = scenario.require_device().issue_certificate(defect=defect)


@given("the device has a client certificate from an unrelated CA")
def _(scenario: WfmScenario) -> None:
    stranger = TestCA("Unrelated manufacturer CA")
    # A subject of this scenario alone: no earlier scenario's client can share it (see new_device).
    scenario.certificate = stranger.issue_client_cert(f"sim-stranger-{secrets.token_hex(4)}")


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


@given("the WFM holds onboarding requests of unknown issuers for an operator decision")
def _(scenario: WfmScenario) -> None:
    """Manual approval (ONB-10, Q-12) is optional: NOT TESTED unless the SUT file has both hooks."""
    require(scenario.wfm.operator, "approve_pending")
    require(scenario.wfm.operator, "reject_pending")


@when(parsers.parse("the device onboards while the operator {decision} the held request"))
def _(scenario: WfmScenario, decision: str) -> None:
    """Onboard in the background, decide as soon as the operator hook finds the held request, and judge the
    answer; a WFM that answered before the decision (its hold ran out) is asked once more after it."""
    action = {"approves": "approve_pending", "rejects": "reject_pending"}[decision]
    cert = scenario.certificate
    if cert is None:
        raise HarnessError("needs 'Given the device has a client certificate from an unrelated CA'")
    device = scenario.require_device()
    fingerprint = hashlib.sha256(cert.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(device.onboard, cert=cert)
        _decide_when_held(scenario, action, fingerprint, answered=pending.done)
        exchange = pending.result()
    scenario.record(exchange, f"onboarding held for the operator, who {decision} it")
    if exchange.response is not None and exchange.response.status == 403 and decision == "approves":
        scenario.record(device.onboard(cert=cert), "onboarding again after the operator approved it")


def _decide_when_held(scenario: WfmScenario, action: str, fingerprint: str, *, answered: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HELD_REQUEST_WAIT_S
    while True:
        try:
            scenario.wfm.operator.perform(action, fingerprint=fingerprint)
            return
        except HarnessError as exc:  # not held (yet): the hook found no such request
            if answered():  # the WFM already answered the request, so nothing is held any more: a short grace only
                deadline = min(deadline, time.monotonic() + ANSWERED_GRACE_S)
            if time.monotonic() > deadline:
                raise HarnessError(f"the operator hook {action} found no held onboarding request within "
                                   f"{HELD_REQUEST_WAIT_S:g} s (answered: {answered()}): {exc}") from None
        time.sleep(0.05)


@when("the device onboards again with the same certificate")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().onboard(), "re-onboarding the same certificate")


@then(parsers.parse("the WFM refuses the request as malformed ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    """Q-15: 400 preferred, 422 accepted."""
    judge_refusal(judge, scenario.last, requirement(req), "Q-15")


@then(parsers.parse("the WFM refuses the expired certificate ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    """Q-16: 400 or 403 are both our preferred answers."""
    judge_refusal(judge, scenario.last, requirement(req), "Q-16")


@then("the clientId is URL-safe (ONB-11)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.client_id_url_safe(checks.client_id_of(scenario.last)))


@then("the clientId format is reported (ONB-12, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """ONB-12 allows any URL-safe string (UUIDv4 MAY): the form is reported, never judged."""
    client_id = checks.client_id_of(scenario.last)
    judge.note("clientId format", checks.client_id_form(client_id), requirements=("ONB-12",))


@then("the WFM's answer to a base64 PEM certificate is reported (ONB-05, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """DIGEST ONB-05: the WFM side of base64(PEM) is recorded as informational (Q-09, issue 132 open)."""
    status = scenario.last.response.status if scenario.last.response is not None else None
    judge.note("answer to a certificate sent as base64 of its PEM text", status, requirements=("ONB-05",),
               interpretations=("Q-09",))


@then("the two clientIds differ (ONB-11)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    first = scenario.require_device().client_id
    second = scenario.others["second"].client_id
    judge(checks.ids_differ(first, second))


@then("the WFM keeps one identity for the certificate (ONB-11)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    first = scenario.first_onboarding
    if first is None:
        raise HarnessError("needs 'Given the device onboards with a correctly signed request' first")
    judge(checks.one_identity_per_certificate(first, scenario.last))


@when("the device onboards with a signed body that is not JSON")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()
    scenario.record(device.onboard(body_override=b'{"apiVersion": "onboarding.margo.org/v1alpha1", "kind": '),
                    "onboarding, body not JSON")
