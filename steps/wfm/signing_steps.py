"""Steps of request_signing.feature: one forged fault per request, algorithms, keyid, labels, replay.

Every forged request is first checked by the harness itself: the core ``diagnose`` must find exactly
the fault the scenario targets in the bytes that went out. If it does not, the scenario is broken
(our forge is wrong), never passed or failed: a negative scenario must fail for the reason it targets.
"""

from __future__ import annotations

import json

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks import wfm as checks
from margo_conformance.device.api import capabilities_path
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.httpsig import MARGO_POLICY, verify_request
from margo_conformance.verdict import Judge

from .context import WfmScenario

#: The finding the core diagnose reports for each forge fault (the harness's own self-check).
FAULT_FINDING: dict[str, str | None] = {
    "unsigned": "missing-signature",
    "signature-without-input": "missing-signature-input",
    "input-without-signature": "missing-signature",
    "tampered-body": "digest-mismatch",
    "digest-missing": "digest-missing",
    "digest-wrong": "digest-mismatch",
    "digest-malformed": "digest-malformed",
    "digest-over-base64": "digest-over-base64",
    "component-missing": "missing-component:@target-uri",
    "uppercase-component": "component-not-lowercase",
    "ecdsa-der": "ecdsa-der-encoding",
    "created-stale": "created-too-old",
    "created-future": "created-in-future",
    "wrong-key": "signature-invalid",
    "alg-mismatch": "alg-key-mismatch",
    "tampered-target-uri": "signature-invalid",
}


def self_check(scenario: WfmScenario, exchange: Exchange, fault: str) -> None:
    device = scenario.require_device()
    request = exchange.request
    result = verify_request(request.method, request.url, request.headers, request.body,
                            device.identity.key.public_key(), policy=MARGO_POLICY)
    expected = FAULT_FINDING.get(fault)
    exchange.findings = list(result.findings)
    if expected is not None and expected not in result.codes:
        raise HarnessError(f"harness self-check: the request forged with fault {fault!r} should show finding "
                           f"{expected!r} but diagnose found {result.codes}")


@given("the device has reported its capabilities with a correctly signed request")
@when("the device reports its capabilities with a correctly signed request")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().put_capabilities(), "capabilities PUT")


@when(parsers.parse('the device reports its capabilities with the request fault "{fault}"'))
def _(scenario: WfmScenario, fault: str) -> None:
    exchange = scenario.require_device().put_capabilities(fault=fault)
    self_check(scenario, exchange, fault)
    scenario.record(exchange, f"capabilities PUT with fault {fault}")


@when("the device reports its capabilities with a request signed 30 seconds ago")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().put_capabilities(created_offset_s=-30), "capabilities PUT, created -30 s")


@when(parsers.parse('that device reports its capabilities signed with "{algorithm}"'))
def _(scenario: WfmScenario, algorithm: str) -> None:
    device = scenario.others["keyed"]
    scenario.record(device.put_capabilities(algorithm=algorithm), f"capabilities PUT signed with {algorithm}")


@when(parsers.parse("the device reports its capabilities with the keyid {keyid}"))
def _(scenario: WfmScenario, keyid: str) -> None:
    device = scenario.require_device()
    value = device.require_client_id() if keyid == "the clientId" else keyid.strip('"')
    scenario.record(device.put_capabilities(keyid=value), f"capabilities PUT with keyid {value!r}")


@when(parsers.parse('the device reports its capabilities with the signature label "{label}"'))
def _(scenario: WfmScenario, label: str) -> None:
    scenario.record(scenario.require_device().put_capabilities(label=label), f"capabilities PUT with label {label}")


@when("the device sends the same signed request again")
def _(scenario: WfmScenario) -> None:
    scenario.record(scenario.require_device().replay(scenario.last), "replay of the capabilities PUT")


def _status(scenario: WfmScenario) -> int | None:
    return scenario.last.response.status if scenario.last.response is not None else None


@then("the WFM's answer to the replay is reported (SIG-11, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """Q-25: the profile has no nonce, so a replay inside the window is reported, never judged."""
    judge.note("answer to a replay within the window", _status(scenario), requirements=("SIG-11",),
               interpretations=("Q-25",))


@then("the WFM's answer to the upper-case component is reported (SIG-02, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """Q-04: a verifier may rebuild with the signer's spelling; which way the WFM went is reported."""
    judge.note('answer to a signature covering "Content-Digest"', _status(scenario), requirements=("SIG-02",),
               interpretations=("Q-04",))


@then("the WFM's answer to the extra algorithm is reported (SIG-07, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """Algorithms beyond the four are neither required nor forbidden (Q-05): reported only."""
    judge.note("answer to a request signed with an algorithm beyond the Margo four", _status(scenario),
               requirements=("SIG-07",), interpretations=("Q-05",))


@when(parsers.parse('the device reports its capabilities with the content type "{content_type}"'))
def _(scenario: WfmScenario, content_type: str) -> None:
    device = scenario.require_device()
    body = json.dumps(device.manifest()).encode()
    scenario.record(device.send("PUT", capabilities_path(device.require_client_id(), device.device_id), body,
                                content_type=content_type), f"capabilities PUT as {content_type}")


@then("the WFM's answer to the content type is reported (GEN-06, informational)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    """GEN-06 binds what the device sends; how a WFM treats text/plain is reported only."""
    judge.note("answer to a JSON body labelled text/plain", _status(scenario), requirements=("GEN-06",))
