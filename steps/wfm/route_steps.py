"""Steps of protected_routes.feature: one faulty (or operator-refused) request per route, judged per the matrix.

The rows, and what each owes, live in ``margo_conformance.route_matrix``; these steps only build the request
and hand the expectation to the checks. A forged request is first diagnosed by the harness itself (the
fault must be in the bytes that went out), so a row never passes or fails for a reason it does not target.
"""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from margo_conformance import route_matrix as matrix
from margo_conformance.checks import wfm as checks
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.sut.operator_hooks import require
from margo_conformance.verdict import Judge

from .common_steps import new_device, onboard_for_setup, requirements
from .context import WfmScenario
from .signing_steps import self_check

#: Faults the harness builds without the core forge (a real key or URL of another client).
_NOT_FORGED = {"other-client-key", "unknown-client"}


@given(parsers.parse("the device is ready to send the {route_name}"))
def _(scenario: WfmScenario, route_name: str) -> None:
    """Onboarding needs a fresh certificate; PUT an onboarded client; DELETE a device it has reported."""
    route = matrix.route(route_name)
    device = scenario.require_device()
    if route.name == matrix.ONBOARDING:
        return
    onboard_for_setup(scenario, device, "set-up")
    if route.name == matrix.DELETE:
        reported = scenario.record(device.put_capabilities(), "capabilities PUT (set-up for the DELETE)")
        if reported.response is None or not 200 <= reported.response.status < 300:
            raise HarnessError(f"precondition: the capabilities report before the DELETE was not accepted "
                               f"(status {reported.response.status if reported.response else None})")


def _send(scenario: WfmScenario, route_name: str, **options: object) -> Exchange:
    device = scenario.require_device()
    if route_name == matrix.ONBOARDING:
        return device.onboard(**options)
    if route_name == matrix.PUT:
        return device.put_capabilities(**options)
    return device.delete_capabilities(**options)


@when(parsers.parse('the device sends the {route_name} with the fault "{fault}"'))
def _(scenario: WfmScenario, route_name: str, fault: str) -> None:
    scenario.expect = matrix.expectation(route_name, fault)
    device = scenario.require_device()
    if fault == "other-client-key":
        stranger = new_device(scenario)
        onboard_for_setup(scenario, stranger, "another client")
        exchange = _send(scenario, route_name, key=stranger.identity.key)
    elif fault == "unknown-client":
        exchange = _send(scenario, route_name, client_id=device.unknown_client_id())
    else:
        exchange = _send(scenario, route_name, fault=fault)
    if fault not in _NOT_FORGED:
        self_check(scenario, exchange, fault)
    scenario.record(exchange, f"{route_name} with fault {fault}")


@given(parsers.parse("the operator has {state} the device's client"))
def _(scenario: WfmScenario, state: str) -> None:
    action = next((s.action for s in matrix.OPERATOR_STATES if s.name == state), None)
    if action is None:
        raise HarnessError(f"unknown operator state {state!r}")
    require(scenario.wfm.operator, action)
    device = scenario.require_device()
    if device.client_id is None:  # the onboarding route: onboard first, so there is a client to decide on
        onboard_for_setup(scenario, device, "set-up")
    scenario.wfm.operator.perform(action, client_id=device.require_client_id())
    scenario.expect = None


@when(parsers.parse("the device sends the {route_name} correctly signed"))
def _(scenario: WfmScenario, route_name: str) -> None:
    scenario.expect = matrix.STATE_REFUSAL[matrix.route(route_name).name]
    scenario.record(_send(scenario, route_name), f"{route_name}, correctly signed")


@then(parsers.parse("the WFM refuses it as the route matrix says ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    """Refused at all, then with the stated code or the question's preferred one (DIGEST 6.1 rule 1)."""
    expect = scenario.expect
    if expect is None:
        raise HarnessError("no route-matrix request was sent: the scenario needs a 'When the device sends ...'")
    if requirements(req) != expect.requirements:
        raise HarnessError(f"the feature cites {req} but the route matrix binds {', '.join(expect.requirements)}: "
                           "regenerate features/wfm/protected_routes.feature")
    refusal = checks.refused(scenario.last).bound_to(
        *expect.requirements, interpretations=[expect.refusal_by] if expect.refusal_by else [])
    judge(refusal)
    if not refusal.passed:  # the code of a refusal that did not happen says nothing more
        return
    if expect.status is not None:
        judge(checks.status_is(scenario.last, expect.status).bound_to(*expect.requirements))
    else:
        judge(checks.refused_with_preferred_code(scenario.last, expect.question).bound_to(*expect.requirements))
