"""Evidence into Allure: exchanges, verdicts, certificate summaries, schema errors (never key material).

Every function here is a no-op when no Allure results directory is configured, so steps can call them
unconditionally. Text passes through ``evidence.redact`` before it is attached.

A failed check attaches, to the step that judged it, what a reviewer needs without clicking through the
passed steps before it (issue 11): an expected/observed block and the exchange the check judged (or, when
the check names none, the scenario's most recent evidence).
"""

from __future__ import annotations

import json
from typing import Any

import allure

from ..evidence import Exchange, redact
from ..verdict import RecordedVerdict

#: Requirement families (the ID prefix) as Allure epics: the "by requirement" view.
FAMILIES = {
    "GEN": "GEN: general API contract",
    "TLS": "TLS: trust establishment (server-side TLS)",
    "CERT": "CERT: certificates and the Certificate API",
    "ONB": "ONB: onboarding (clientId)",
    "SIG": "SIG: RFC 9421 request signatures",
    "DIG": "DIG: RFC 9530 Content-Digest",
    "ERR": "ERR: error answers (problem details)",
    "CAP": "CAP: device capabilities",
}
#: How many recent evidence items a failed check without its own exchange re-attaches.
RECENT_EVIDENCE = 3

_recent: list[tuple[str, str]] = []


def family_of(req_id: str) -> str:
    prefix = req_id.split("-", 1)[0]
    return FAMILIES.get(prefix, prefix)


def start_scenario() -> None:
    """Forget the previous scenario's evidence."""
    _recent.clear()


def _remember(name: str, text: str) -> None:
    _recent.append((name, text))
    del _recent[:-RECENT_EVIDENCE * 4]


def attach_text(text: str, name: str) -> None:
    allure.attach(redact(text), name=name, attachment_type=allure.attachment_type.TEXT)


def attach_json(data: Any, name: str, *, evidence: bool = False) -> None:
    text = redact(json.dumps(data, indent=2, default=str))
    if evidence:
        _remember(name, text)
    allure.attach(text, name=name, attachment_type=allure.attachment_type.JSON)


def attach_exchange(exchange: Exchange, name: str = "exchange") -> None:
    """The request and response as text, the signature bases and the findings (DESIGN.md section 6)."""
    text = exchange.to_text()
    _remember(name, text)
    attach_text(text, name)


def expected_observed(record: RecordedVerdict) -> str:
    v = record.verdict
    lines = [f"requirement: {' '.join(v.requirements)} ({record.level}, axis {record.axis})",
             f"check:       {v.what}",
             f"expected:    {v.expected}",
             f"observed:    {v.observed}"]
    if v.interpretations:
        lines.append(f"rests on:    {' '.join(v.interpretations)}")
    for finding in v.findings:
        lines.append(f"finding:     {finding.code}: {finding.detail}")
    return "\n".join(lines) + "\n"


def attach_verdict(record: RecordedVerdict) -> None:
    verdict = record.verdict
    state = "passed" if verdict.passed else f"FAILED ({record.axis})"
    title = f"check {state}: {' '.join(verdict.requirements)} {verdict.what}"
    if not verdict.passed:
        attach_text(expected_observed(record), f"expected / observed: {' '.join(verdict.requirements)}")
        _attach_judged(verdict.evidence)
    attach_json(record.to_dict(), title[:200])


def _attach_judged(evidence: Any) -> None:
    items = evidence if isinstance(evidence, list) else ([evidence] if evidence is not None else [])
    if items:
        for i, item in enumerate(items[-RECENT_EVIDENCE:]):
            summary = _one_line(item)
            attach_text(item.to_text(), f"judged exchange: {summary}"[:200] if i == 0 else f"judged: {summary}"[:200])
        return
    for name, text in _recent[-RECENT_EVIDENCE:]:
        attach_text(text, f"judged evidence: {name}"[:200])


def _one_line(item: Any) -> str:
    if callable(getattr(item, "summary", None)):
        return str(item.summary())
    request = getattr(item, "request", None)
    response = getattr(item, "response", None)
    if request is None:
        return "exchange"
    answer = response.status if response is not None else (getattr(item, "error", None) or "no answer")
    return f"{request.method} {request.target or request.url} -> {answer}"


#: A step parameter longer than this is cut in the report (the full value is in the step's text).
PARAMETER_LIMIT = 80


def keep_readable_step_parameters(config: Any, step: Any, step_args: dict[str, Any]) -> None:
    """allure-pytest-bdd lists every argument of a step function, fixtures included (``WfmScenario(...)``,
    ``<Judge object at 0x...>``); keep the plain values parsed from the step text, cut to a readable length."""
    from allure_pytest_bdd.pytest_bdd_listener import PytestBDDListener
    from allure_pytest_bdd.steps import get_step_uuid

    listener = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, PytestBDDListener)), None)
    if listener is None:
        return
    plain = {k: v for k, v in step_args.items() if isinstance(v, (str, int, float, bool))}
    with listener.lifecycle.update_step(uuid=get_step_uuid(step)) as result:
        if result is None:
            return
        kept = []
        for parameter in result.parameters:
            if parameter.name in plain:
                value = str(plain[parameter.name])
                parameter.value = value if len(value) <= PARAMETER_LIMIT else value[:PARAMETER_LIMIT - 3] + "..."
                kept.append(parameter)
        result.parameters = kept
