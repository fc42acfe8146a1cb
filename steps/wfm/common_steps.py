"""Steps every WFM-role feature uses: knowing the root CA, onboarding, status and error-body checks.

Set-up steps (Given) are tolerant on purpose: they need a clientId, not a perfect answer, so a defect
in one requirement does not break every scenario that merely onboards first. Judging is done only in
Then steps, through the judge, with the requirement ID from the step text.
"""

from __future__ import annotations

import secrets

from pytest_bdd import given, parsers, then

from margo_conformance.checks import wfm as checks
from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.pki import KeyType
from margo_conformance.verdict import Judge

from ..reqtext import requirement, requirements  # noqa: F401 (re-exported to the other step modules)
from .context import WfmScenario


def new_device(scenario: WfmScenario, *, key_type: str = "p256", algorithm: str | None = None,
               name: str | None = None) -> SimulatedDevice:
    """A simulated device with a fresh certificate; its subject (and deviceId) is unique to the run unless
    ``name`` says otherwise, so no scenario depends on how a WFM tells identities apart."""
    name = name or f"sim-{secrets.token_hex(4)}"
    return SimulatedDevice(scenario.wfm.base_url, scenario.wfm.client_context(), device_ca=scenario.device_ca,
                           key_type=KeyType(key_type), algorithm=algorithm, device_id=name,
                           timeout=scenario.wfm.timeout_s, server_name=scenario.wfm.tls_name)


def onboard_for_setup(scenario: WfmScenario, device: SimulatedDevice, what: str) -> str:
    """Onboard as a precondition: any 2xx with a clientId will do (ONB-07 is judged elsewhere)."""
    exchange = scenario.record(device.onboard(), f"onboarding ({what})")
    status = exchange.response.status if exchange.response is not None else None
    client_id = checks.client_id_of(exchange)
    if status is None or not 200 <= status < 300 or client_id is None:
        raise HarnessError(f"precondition: onboarding ({what}) did not give a clientId "
                           f"(status {status}, body {exchange.response.body[:200] if exchange.response else b''!r})")
    device.client_id = client_id
    return client_id


def judge_refusal(judge: Judge, exchange: Exchange, req_id: str, question: str) -> None:
    """DIGEST 6.1 rule 1: refused at all (must), then with the question's preferred code (interpretation)."""
    refusal = judge(checks.refused(exchange).bound_to(req_id))
    if refusal.passed:
        judge(checks.refused_with_preferred_code(exchange, question).bound_to(req_id))


@given("the device knows the WFM root CA")
def _(scenario: WfmScenario) -> None:
    scenario.device = new_device(scenario)


@given("the device is onboarded")
def _(scenario: WfmScenario) -> None:
    onboard_for_setup(scenario, scenario.require_device(), "set-up")


@given("a second device with another certificate onboards")
def _(scenario: WfmScenario) -> None:
    second = new_device(scenario)
    onboard_for_setup(scenario, second, "second device")
    scenario.others["second"] = second


@given(parsers.parse("a device with a {key_type} key onboards"))
def _(scenario: WfmScenario, key_type: str) -> None:
    device = new_device(scenario, key_type=key_type)
    onboard_for_setup(scenario, device, f"{key_type} device")
    scenario.others["keyed"] = device


@then(parsers.parse("the WFM answers {status:d} ({req})"))
def _(scenario: WfmScenario, judge: Judge, status: int, req: str) -> None:
    req_ids = requirements(req)
    judge(checks.status_is(scenario.last, status).bound_to(*req_ids))


@then(parsers.parse("the WFM accepts the request ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    """Acceptance (any 2xx): the exact success code is judged by the scenarios of CAP-05 and ONB-07."""
    req_ids = requirements(req)
    judge(checks.status_is_success(scenario.last).bound_to(*req_ids))


@given("a second device with another certificate for the same subject onboards")
def _(scenario: WfmScenario) -> None:
    second = new_device(scenario, name=scenario.require_device().device_id)
    onboard_for_setup(scenario, second, "second device, same subject")
    scenario.others["second"] = second


@then(parsers.parse("the response is JSON of type \"{schema}\" ({req})"))
def _(scenario: WfmScenario, judge: Judge, schema: str, req: str) -> None:
    req_id = requirement(req)
    judge(checks.json_matches(scenario.last, schema).bound_to(req_id))


@then(parsers.parse("the WFM refuses it with an error document, 400 preferred by {question} ({req}, ERR-01)"))
def _(scenario: WfmScenario, judge: Judge, req: str, question: str) -> None:
    """Refused at all (must); 400 is the question's preferred code, since neither route states one for a body
    that is not JSON (onboarding: Q-15; capabilities: Q-H05, MIAF states 400)."""
    refusal = checks.refused(scenario.last).bound_to(*requirements(req))
    verdicts = [refusal, checks.error_body_is_known_family(scenario.last)]
    if refusal.passed:
        verdicts.insert(1, checks.refused_with_preferred_code(scenario.last, question).bound_to(*requirements(req)))
    judge.all(*verdicts)


@then("the error body is problem details or an error object (ERR-01)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.error_body_is_known_family(scenario.last))
