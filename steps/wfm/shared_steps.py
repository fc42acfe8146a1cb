"""Steps of the shared WFM-role features (features/wfm/shared/): written once, bound per profile.

The When steps act through the clients of the run profile's authenticator kind (``clients.py``). The Then steps
name a rule (and a case of it) and take everything they judge from the profile's binding (``profile.rule``):
the requirement rows each verdict is bound to, the status, the problem type and the question. A status the text
states is judged on the must axis; a status that is the question's preferred code (``status_by_question``) is
judged in two checks, refused at all (must) and with that code (the question's interpretation axis).
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from margo_conformance.errors import HarnessError
from margo_conformance.profiles import RuleBinding
from margo_conformance.verdict import Judge

from .clients import WfmClients, clients_for, require_served


def _quoted(text: str) -> str:
    return text


_quoted.pattern = r'[^"]+'  # type: ignore[attr-defined]


def _who(text: str) -> str:
    return text


_who.pattern = r"my|another"  # type: ignore[attr-defined]


def step(text: str) -> parsers.parse:
    """Quoted values stop at the quote, so 'reports the device "gw"' never swallows a longer step's text."""
    return parsers.parse(text, extra_types={"q": _quoted, "who": _who})


@pytest.fixture
def clients(request: pytest.FixtureRequest, run_profile: Any) -> WfmClients:
    """The run profile's clients (``profile.authenticator`` picks the adapter)."""
    return clients_for(request, run_profile)


def binding(profile: Any, rule: str, case: str | None = None) -> RuleBinding:
    try:
        bound = profile.rule(rule)
        return bound.case(case) if case is not None else bound
    except KeyError as exc:
        raise HarnessError(str(exc.args[0])) from None


def expected_type(profile: Any, bound: RuleBinding, status: int | None) -> str | None:
    """The problem type an answer should carry: the binding's for the status it binds; for another error status the
    one type the profile registers with that status (a 400 where 422 was preferred is an invalid-request), if one."""
    if status == bound.status:
        return bound.problem_type
    named = [name for name, ptype in profile.problem_types.items() if ptype.status == status]
    return named[0] if len(named) == 1 else None


def _status(clients: WfmClients) -> int | None:
    return clients.last.response.status if clients.last.response is not None else None


# --- acting as the WFM's clients ----------------------------------------------------------------------------


@given(step('{who:who} client has reported the device "{device:q}"'))
def _(clients: WfmClients, who: str, device: str) -> None:
    require_served(clients.report(who, device), f"{who} client's report of {device}")


@given(step('{who:who} client has reported the gateway "{device:q}"'))
def _(clients: WfmClients, who: str, device: str) -> None:
    require_served(clients.report(who, device, "gateway"), f"{who} client's report of the gateway {device}")


@when(step('{who:who} client reports the device "{device:q}"'))
def _(clients: WfmClients, who: str, device: str) -> None:
    clients.report(who, device)


@when(step('{who:who} client reports the device "{device:q}" with the body of the case "{case:q}" of the rule '
           '"{rule:q}"'))
def _(clients: WfmClients, run_profile: Any, who: str, device: str, case: str, rule: str) -> None:
    body = binding(run_profile, rule, case).body
    if body is None:
        raise HarnessError(f"case {case!r} of rule {rule!r} names no body in profile {run_profile.name}")
    clients.report(who, device, body)


@when(step('{who:who} client deletes the device "{device:q}"'))
def _(clients: WfmClients, who: str, device: str) -> None:
    clients.delete(who, device)


# --- judging by the rule's binding --------------------------------------------------------------------------


def judge_answer(judge: Judge, clients: WfmClients, profile: Any, bound: RuleBinding) -> None:
    """The answer the binding states: its status (must, or refused-at-all plus the question's preferred code); for
    an error its body as the authenticator's profile family judges it, with the bound problem type; for a success
    what that family says of its content (mtls-svid: a 204 has none, Q-66)."""
    if bound.status is None:
        raise HarnessError(f"rule {bound.rule!r} binds no status in profile {profile.name}")
    last = clients.last
    if bound.status_by_question:
        refused = judge(clients.refused(last, bound.status).bound_to(*bound.requirements))
        if not refused.passed:
            return
        first = clients.status_is(last, bound.status).bound_to(*bound.requirements, interpretations=(bound.question,))
    else:
        first = clients.status_is(last, bound.status).bound_to(*bound.requirements)
    success = [v.bound_to(*bound.requirements) for v in clients.success_verdicts(last)]
    judge.all(first, *success,
              *clients.error_verdicts(last, expected_type(profile, bound, _status(clients)), with_type=False))


@then(step('the WFM answers as the rule "{rule:q}" binds it'))
def _(clients: WfmClients, run_profile: Any, judge: Judge, rule: str) -> None:
    judge_answer(judge, clients, run_profile, binding(run_profile, rule))


@then(step('the WFM answers as the rule "{rule:q}" binds the case "{case:q}"'))
def _(clients: WfmClients, run_profile: Any, judge: Judge, rule: str, case: str) -> None:
    judge_answer(judge, clients, run_profile, binding(run_profile, rule, case))


@then(step('the WFM serves it as the rule "{rule:q}" binds it'))
def _(clients: WfmClients, run_profile: Any, judge: Judge, rule: str) -> None:
    judge(clients.served(clients.last).bound_to(*binding(run_profile, rule).requirements))


@then(step('the refusal is an error document as the rule "{rule:q}" binds the case "{case:q}"'))
def _(clients: WfmClients, run_profile: Any, judge: Judge, rule: str, case: str) -> None:
    """Refused at all (must, the case's rows); then the error body with its media type, members and type as the
    authenticator's family judges it (the problem-body rule: Q-27 for httpsig, Q-42 and Q-43 for mTLS)."""
    bound = binding(run_profile, rule, case)
    refused = judge(clients.refused(clients.last, bound.status).bound_to(*bound.requirements))
    if refused.passed:
        judge.all(*clients.error_verdicts(clients.last, expected_type(run_profile, bound, _status(clients)),
                                          with_type=True))

