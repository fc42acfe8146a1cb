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
from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.verdict import Judge, Verdict

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
        _report_for_setup(scenario, device, "set-up for the DELETE")


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


@given("the device has reported its capabilities")
def _(scenario: WfmScenario) -> None:
    """An onboarded client with a reported device, so that a later DELETE has something to delete."""
    device = scenario.require_device()
    onboard_for_setup(scenario, device, "set-up")
    _report_for_setup(scenario, device, "set-up")


def _report_for_setup(scenario: WfmScenario, device: SimulatedDevice, what: str) -> None:
    reported = scenario.record(device.put_capabilities(), f"capabilities PUT ({what})")
    if reported.response is None or not 200 <= reported.response.status < 300:
        raise HarnessError(f"precondition: the capabilities report ({what}) was not accepted "
                           f"(status {reported.response.status if reported.response else None})")


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
    scenario.operator_state, scenario.decided_client_id = state, device.client_id
    scenario.expect = None


@when(parsers.parse("the device sends the {route_name} correctly signed"))
def _(scenario: WfmScenario, route_name: str) -> None:
    if scenario.operator_state is None:
        raise HarnessError("no operator decision was made: the scenario needs 'And the operator has ...'")
    scenario.expect = matrix.state_refusal(route_name, scenario.operator_state)
    scenario.record(_send(scenario, route_name), f"{route_name}, correctly signed")


def _expect_for(scenario: WfmScenario, req: str) -> matrix.Expect:
    expect = scenario.expect
    if expect is None:
        raise HarnessError("no route-matrix request was sent: the scenario needs a 'When the device sends ...'")
    if requirements(req) != expect.requirements:
        raise HarnessError(f"the feature cites {req} but the route matrix binds {', '.join(expect.requirements)}: "
                           "regenerate features/wfm/protected_routes.feature")
    return expect


def _refusal_verdicts(expect: matrix.Expect, exchange: Exchange) -> list[Verdict]:
    """Refused at all, then with the stated code or the question's preferred one (DIGEST 6.1 rule 1); a row by
    analogy judges both under its question (rule 3). The code of a refusal that did not happen says nothing."""
    refusal = checks.refused(exchange).bound_to(
        *expect.requirements, interpretations=[expect.refusal_by] if expect.refusal_by else [])
    if not refusal.passed:
        return [refusal]
    if expect.status is not None:
        return [refusal, checks.status_is(exchange, expect.status).bound_to(*expect.requirements)]
    return [refusal, checks.refused_with_preferred_code(exchange, expect.question).bound_to(*expect.requirements)]


@then(parsers.parse("the WFM refuses it as the route matrix says ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    judge.all(*_refusal_verdicts(_expect_for(scenario, req), scenario.last))


@then(parsers.parse("the WFM's answer is judged as the route matrix says ({req}), and {guard}"))
def _(scenario: WfmScenario, judge: Judge, req: str, guard: str) -> None:
    """A row by analogy with a guard: the answer to the request is an interpretation (Q-33: a 2xx on onboarding
    again is a deviation), but the named MUST behind it is judged whatever that answer was, in this same step,
    so that neither a 2xx nor a --strict deviation can skip it: the same certificate's correctly signed PUT and
    DELETE, with the clientId the WFM just returned (else the one the operator decided on), must stay refused."""
    expect = _expect_for(scenario, req)
    if expect.guard is None or f"({expect.guard.requirement})" not in guard:
        raise HarnessError(f"the feature names the guard {guard!r}, the route matrix "
                           f"{expect.guard.requirement if expect.guard else 'none'}: regenerate the feature")
    answer = scenario.last
    verdicts = _refusal_verdicts(expect, answer)
    device = scenario.require_device()
    decided = scenario.decided_client_id
    returned = checks.client_id_of(answer) if answer.response is not None and answer.response.status < 300 else None
    client_id = returned or decided
    if client_id is None:
        raise HarnessError("no clientId to send the guard's requests with")
    for send, name in ((device.put_capabilities, "PUT"), (device.delete_capabilities, "DELETE")):
        exchange = scenario.record(send(client_id=client_id), f"capabilities {name} after the {req} answer "
                                                               f"(guard {expect.guard.requirement})")
        held = checks.refused(exchange).bound_to(expect.guard.requirement)
        verdicts.append(held)
        if not held.passed:
            continue
        if client_id == decided:  # the certificate the operator revoked, on its own clientId: the text's 403
            verdicts.append(checks.status_is(exchange, 403).bound_to(expect.guard.requirement))
        else:  # a clientId issued after the decision: which refusal code it owes is the row's question
            verdicts.append(checks.refused_with_preferred_code(exchange, expect.basis.question)
                            .bound_to(expect.guard.requirement))
    judge.all(*verdicts)
