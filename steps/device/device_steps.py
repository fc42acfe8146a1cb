"""Steps of the device-role features: set the simulated WFM's behaviour, run the device, judge its bytes.

Given steps describe the simulated WFM (TLS chain, faults, clientId) of the scenario's recording; one When step
takes that recording (made ahead of the scenario, or shared with the scenarios tagged ``@recording:<name>``:
``recordings.py``) and checks the device got as far as the scenario needs; Then steps judge the recorded
requests with the checks of ``margo_conformance.checks.device``. A device that did not even try (exited at
once, never connected) leaves the scenario broken: "it sent nothing" is never taken as a pass without evidence
that it tried. A device that exited by itself before that point is NOT TESTED, blocked by the requirement a
check of the run failed where it stopped (``verdict.Blocked``).
"""

from __future__ import annotations

import pytest
from pytest_bdd import parsers, then, when

from margo_conformance.checks import device as checks
from margo_conformance.errors import HarnessError
from margo_conformance.pytest_plugin import note_stop
from margo_conformance.verdict import Blocked, Judge, NotTested
from margo_conformance.wfm.simulated import SimulatedWfm

from ..reqtext import requirements
from .context import DeviceScenario
from .recordings import (Recordings, check_shared, is_shared, needs, record, recording_key, satisfied,
                         setup_step)

# --- the simulated WFM's behaviour (recording setup: see recordings.py) -----------------------------


@setup_step("the simulated WFM is running")
def _(scenario: DeviceScenario) -> None:
    scenario.variant = "out-of-band"


_TLS_CHOICES = {
    "a certificate chain from an unrelated CA": "untrusted-ca",
    "an expired certificate": "expired",
    "a certificate that is not yet valid": "not-yet-valid",
    "a certificate for another host name": "wrong-host",
    "its certificate without the intermediate CA": "missing-intermediate",
}


@setup_step(parsers.parse("the WFM presents {what}"))
def _(scenario: DeviceScenario, what: str) -> None:
    choice = _TLS_CHOICES[what]
    scenario.setup.append(lambda wfm: wfm.main.reconfigure_tls(choice))


@setup_step("the WFM accepts only TLS 1.2")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda wfm: wfm.main.reconfigure_tls("valid", min_version="1.2", max_version="1.2"))


@setup_step("the device downloads the WFM root CA over a bootstrap channel it trusts")
def _(scenario: DeviceScenario) -> None:
    if not scenario.device.supports("bootstrap"):
        raise NotTested("the SUT file has no device.launch_bootstrap command (root CA download over a bootstrap channel)")
    scenario.variant = "bootstrap"
    scenario.setup.append(lambda wfm: setattr(wfm, "bootstrap_used", True))


@setup_step("the bootstrap channel presents a certificate from an unrelated CA")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda wfm: wfm.present_untrusted_bootstrap_chain())


@setup_step("the device runs as a see-thru gateway with children")
def _(scenario: DeviceScenario) -> None:
    if not scenario.device.supports("gateway"):
        raise NotTested("the SUT file has no device.launch_gateway command (see-thru gateway mode)")
    scenario.variant = "gateway"


@setup_step("the WFM serves its API under a path prefix")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda wfm: wfm.use_prefixed())


def _use_port_443(wfm: SimulatedWfm) -> None:
    problem = wfm.use_port_443()
    if problem is not None:
        raise NotTested(problem)


@setup_step("the WFM listens on port 443 and the device is given a URL without a port")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(_use_port_443)


@setup_step(parsers.parse('the WFM assigns the clientId "{client_id}"'))
def _(scenario: DeviceScenario, client_id: str) -> None:
    scenario.setup.append(lambda wfm: wfm.main.faults.assign_client_id(client_id))


@setup_step("the WFM refuses onboarding with 403")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda wfm: wfm.main.faults.reject_onboarding(count=None))


@setup_step("the WFM refuses onboarding with 400")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda wfm: wfm.main.faults.fail_onboarding(count=None))


@setup_step(parsers.parse("the WFM answers the first capabilities report with 503 and Retry-After {seconds:d}"))
def _(scenario: DeviceScenario, seconds: int) -> None:
    scenario.setup.append(lambda wfm: wfm.main.faults.unavailable(retry_after=seconds, count=1, route="capabilities"))
    scenario.retry_after_s = float(seconds)


# --- running the device ------------------------------------------------------------------------------


def _run(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings, until: str | None) -> None:
    """Take the scenario's recording (shared, made ahead, or made now) and judge whether it got far enough."""
    key = recording_key(request.node, sharing=recordings.sharing)
    check_shared(scenario, key)
    reach = recordings.until.get(key, until)
    recording = recordings.observatory.take(key, lambda wfm: record(scenario, wfm, reach, key))
    scenario.use(recording, is_shared(key))
    if recording.run.stopped_by == "exit":
        note_stop(request.config, request.node.nodeid, recording.stop_point())
    if until is None or satisfied(scenario, until, scenario.observations):
        return
    what = needs(scenario, until)
    legacy = [o for o in checks.capability_attempts(scenario.observations) if o.route != checks.CAPABILITIES_ROUTE]
    if legacy:
        raise NotTested(f"the device reported capabilities on another route ({legacy[0].summary()}; CAP-04 judges "
                        f"that), so it never got as far as {what}")
    broken = f"HarnessError: the device did not get as far as {what}: {scenario.explain()}"
    if recording.run.stopped_by == "exit":
        raise Blocked(recording.stop_point(), broken)
    raise HarnessError(broken.removeprefix("HarnessError: "))


@when("the device runs")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, None)


@when("the device runs until it has onboarded")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, "onboarded")


@when("the device runs until it has reported its capabilities")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, "reported")


# --- judging: trust ------------------------------------------------------------------------------------


def _require_attempt(scenario: DeviceScenario, observations: list) -> None:
    """'It sent nothing' counts only when the device demonstrably tried to connect and refused."""
    if not observations:
        raise HarnessError(f"the device made no connection attempt at all, so its refusal cannot be judged: "
                           f"{scenario.explain()}")


@then(parsers.parse("the device sends no application request ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    req_ids = requirements(req)
    _require_attempt(scenario, scenario.observations)
    judge(checks.no_application_request(scenario.observations, "HTTP requests after the TLS handshake")
          .bound_to(*req_ids))


@then("the device sends no application request over TLS 1.2 (TLS-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    _require_attempt(scenario, scenario.observations)
    judge(checks.tls12_refused(scenario.observations))


@then("the device sends no application request to the WFM (CERT-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    _require_attempt(scenario, scenario.bootstrap_observations + scenario.observations)
    judge(checks.no_application_request(scenario.observations, "requests to the WFM after an unverifiable bootstrap")
          .bound_to("CERT-06"))


@then("the device fetched the root CA from the bootstrap channel (CERT-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.root_ca_fetched(scenario.bootstrap_observations))


@then("the device onboarded over a connection verified against the downloaded root CA (CERT-07)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarded_over_downloaded_root(scenario.observations))


# --- judging: onboarding -------------------------------------------------------------------------------


@then("the onboarding body matches the OnboardingRequest schema (ONB-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_body_schema(checks.onboarding_request(scenario.observations)))


@then('the onboarding kind is exactly "OnboardingRequest" (ONB-03)')
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_kind_exact(checks.onboarding_request(scenario.observations)))


@then("the onboarding apiVersion is the spec's example value (ONB-04, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_api_version(checks.onboarding_request(scenario.observations)))


@then(parsers.parse("the submitted certificate is base64 of one X.509 certificate, DER or PEM ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.certificate_is_base64(checks.onboarding_request(scenario.observations)).bound_to(*requirements(req)))


@then(parsers.parse("the onboarding is a POST to /api/v1/onboarding ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.onboarding_posted(checks.onboarding_request(scenario.observations)).bound_to(*requirements(req)))


@then("the submitted certificate conforms to RFC 5280 (CERT-09)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.certificate_rfc5280(checks.onboarding_request(scenario.observations)))


@then("the key of the submitted certificate is EC P-256, EC P-384 or RSA (CERT-11)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.certificate_key_allowed(checks.onboarding_request(scenario.observations)))


@then("the onboarding request is signed (ONB-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_signed(checks.onboarding_request(scenario.observations)))


@then("the onboarding request is signed by the key of the submitted certificate (ONB-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_signed_by_submitted_key(checks.onboarding_request(scenario.observations)))


@then("a CA flag on the submitted certificate is reported (CERT-09, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.certificate_ca_flag(checks.onboarding_request(scenario.observations)))


@then(parsers.parse('every later request carries the clientId "{client_id}" byte for byte (ONB-13)'))
def _(scenario: DeviceScenario, judge: Judge, client_id: str) -> None:
    judge(checks.client_id_used_verbatim(scenario.observations, client_id))


@then("the device onboarded successfully before its first capabilities report (ONB-15)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.onboarding_before_capabilities(scenario.observations))


@then("the device sends no capabilities report (ONB-15)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    if not checks.http(scenario.observations, checks.ONBOARDING_ROUTE):
        raise HarnessError(f"the device never tried to onboard, so its reaction to 403 cannot be judged: "
                           f"{scenario.explain()}")
    judge(checks.no_capabilities_after_refusal(scenario.observations))


@then("the device does not send the refused onboarding request again (ERR-04, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    if not checks.http(scenario.observations, checks.ONBOARDING_ROUTE):
        raise HarnessError(f"the device never tried to onboard: {scenario.explain()}")
    judge(checks.refused_request_not_repeated(scenario.observations).bound_to(interpretations=["Q-H04"]))


@then(parsers.parse("the device's requests reached the WFM's API under its base URL ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    prefix = scenario.prefix
    judge(checks.requests_under_base_url(scenario.observations, prefix).bound_to(*requirements(req)))


@then("every request is HTTP/1.1 with a JSON body labelled application/json (GEN-02, GEN-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge.all(checks.http11_only(scenario.observations), checks.json_content_type(scenario.observations))


# --- judging: signing -----------------------------------------------------------------------------------


def _cert(scenario: DeviceScenario):
    return checks.onboarded_certificate(scenario.observations)


@then(parsers.parse("every request after onboarding is signed ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.every_request_signed(scenario.observations).bound_to(*requirements(req)))


@then(parsers.parse('every signature covers "@method", "@target-uri" and "content-digest" ({req})'))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.required_components_covered(scenario.observations).bound_to(*requirements(req)))


@then("every covered component name is lower case (SIG-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    """Q-04: an upper-case name is a deviation from our reading, not a must failure."""
    judge(checks.component_names_lower_case(scenario.observations))


@then("every signature has created and keyid parameters, created at the signing time (SIG-03)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.created_and_keyid(scenario.observations, _cert(scenario)))


@then("every signature uses one of the four Margo algorithms (SIG-07)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.allowed_algorithm(scenario.observations, _cert(scenario)))


@then("every ECDSA signature is raw r||s (SIG-05)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.ecdsa_raw_encoding(scenario.observations, _cert(scenario)))


@then("every signature verifies with the key of the onboarded certificate (SIG-05)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.signature_verifies(scenario.observations, _cert(scenario)))


@then("every request with a body carries Content-Digest, Signature-Input and Signature (SIG-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.body_requests_carry_headers(scenario.observations))


@then(parsers.parse("every Content-Digest is the sha-256 of the body as received ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.digest_matches_body(scenario.observations).bound_to(*requirements(req)))


# --- judging: capabilities --------------------------------------------------------------------------


@then(parsers.parse("the device reported its capabilities with PUT on its clientId's capabilities path ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.capabilities_written_with_put(scenario.observations).bound_to(*requirements(req)))


@then(parsers.parse("every manifest matches the DeviceCapabilitiesManifest schema ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    """One verdict per rule the schema encodes, so a broken enum fails CAP-14 alone."""
    judge.all(*(checks.manifest_schema(scenario.observations, req_id).bound_to(req_id)
                for req_id in requirements(req)))


@then("every manifest's properties.id equals the path deviceId (CAP-20)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    # The spec is silent (CAP-20); our position Q-18 makes equality a device MUST (a WFM only SHOULD check).
    judge(checks.manifest_id_matches_path(scenario.observations))


@then(parsers.parse("a hosting device's manifest has every hosting field and otelCollector true ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    judge(checks.hosting_fields_complete(scenario.observations).bound_to(*requirements(req)))


@then("memory and storage use binary units without a space (CAP-16, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.unit_format(scenario.observations))


@then("each child was reported after its gateway (CAP-13)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.parents_before_children(scenario.observations))


@then("the gateway's manifest has only identity fields (CAP-12)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.gateway_identity_only(scenario.observations))


@then(parsers.parse("the device waited at least {seconds:d} seconds before retrying (ERR-04, advisory)"))
def _(scenario: DeviceScenario, judge: Judge, seconds: int) -> None:
    judge(checks.retry_waited(scenario.observations, float(seconds)).bound_to("ERR-04", interpretations=["Q-H04"]))
