"""Steps of the MIAF WFM-role features (features/wfm/miaf/): the harness plays WFM clients with SVIDs.

Set-up steps (Given) need a served request, not a perfect one; judging happens in Then steps only, through
the judge, with the requirement IDs from the step text. Routes and problem types come from the profile's data
(``profile.route``, ``profile.problem_types``). The rules every profile shares (gateway before child, schema
rules, problem bodies, route scoping) are judged by shared_steps.py from ``profile.rule``; ``report`` and
``delete`` here are how its mTLS client adapter (clients.py) acts.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pytest_bdd import given, parsers, then, when

from margo_conformance.checks import miaf_wfm as checks
from margo_conformance.device.miaf_manifest import VARIANTS, body
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.mtls.wire import handshake
from margo_conformance.pytest_plugin import RunState
from margo_conformance.verdict import Judge, NotTested, Verdict

from ..reqtext import requirements
from .miaf_context import MiafScenario

# --- step text ---------------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    return text


_quoted.pattern = r'[^"]+'  # type: ignore[attr-defined]


def _fixture_name(text: str) -> str:
    return text


_fixture_name.pattern = r"C-[A-Z0-9-]+"  # type: ignore[attr-defined]


def step(text: str) -> parsers.parse:
    """A parse pattern whose quoted values stop at the quote and whose clients are fixture names, so that
    'reports the device "d7"' never swallows the text of a longer step ('... "d7" with decoys ...')."""
    return parsers.parse(text, extra_types={"q": _quoted, "client": _fixture_name})


# --- requests -------------------------------------------------------------------------------------------


def route_path(profile: Any, key: str, device_id: str) -> str:
    return profile.route(key).template.replace("{deviceId}", device_id)


def report(miaf: MiafScenario, profile: Any, client: str, alias: str, body_name: str = "valid", *,
           headers: dict[str, str] | None = None, query: str = "", extra: dict[str, Any] | None = None,
           note: str = "") -> Exchange:
    device_id = miaf.device_id(alias)
    content = body(body_name, device_id)
    if extra:
        doc = json.loads(content)
        doc.update(extra)
        content = json.dumps(doc).encode()
    path = route_path(profile, "capabilities.put", device_id) + query
    exchange = miaf.wire(client).send("PUT", path, content, headers=headers, note=note or f"body {body_name}")
    return miaf.record(exchange, f"{client} PUT {alias} ({body_name})")


def delete(miaf: MiafScenario, profile: Any, client: str, alias: str) -> Exchange:
    device_id = miaf.device_id(alias)
    exchange = miaf.wire(client).send("DELETE", route_path(profile, "capabilities.delete", device_id))
    return miaf.record(exchange, f"{client} DELETE {alias}")


def require_served(exchange: Exchange, what: str) -> None:
    status = exchange.response.status if exchange.response is not None else None
    if status is None or not 200 <= status < 300:
        raise HarnessError(f"precondition: {what} was not served ({checks.answer(exchange)})")


@when(step('the client {client:client} reports the device "{device:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    report(miaf, miaf_profile, client, device)


@when(step('the client {client:client} reports the device "{device:q}" again'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    report(miaf, miaf_profile, client, device, note="the same body again")


@when(step('the client {client:client} reports the device "{device:q}" with the body "{name:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str, name: str) -> None:
    report(miaf, miaf_profile, client, device, name)


@given(step('the client {client:client} has reported the device "{device:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    require_served(report(miaf, miaf_profile, client, device), f"{client}'s report of {device}")


@given(step('the client {client:client} has reported the device "{device:q}" with the body "{name:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str, name: str) -> None:
    require_served(report(miaf, miaf_profile, client, device, name), f"{client}'s report of {device}")


@when(step('the client {client:client} deletes the device "{device:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    delete(miaf, miaf_profile, client, device)


@when(step('the client {client:client} reports the device "{device:q}" offering ALPN http/1.1 only'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    report(miaf, miaf_profile, client, device, note="ALPN offers http/1.1 only")  # every MtlsWire offers only that


@when(step('the client {client:client} reports the device "{device:q}" with decoys naming client "{other:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str, other: str) -> None:
    """MID-07: the caller is named in a header, the query and a body extension; none of them may count."""
    report(miaf, miaf_profile, client, device, headers={"X-Client-Id": other}, query=f"?clientId={other}",
           extra={"x-harness-extensions": {"clientId": other}}, note=f"decoys name client {other}")


@when(step('the client {client:client} reports the device "{device:q}" with a Client-Cert header of {other:client}'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str, other: str) -> None:
    """MTLS-09: an RFC 9440 Client-Cert header from the client itself must not replace the TLS identity."""
    identity = miaf.wfm.identity(other)
    if identity is None:
        raise HarnessError(f"{other} has no certificate to put in a header")
    certs = x509.load_pem_x509_certificates(identity.cert_file.read_bytes())
    der = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in certs]
    headers = {"Client-Cert": f":{der[0]}:"}
    if der[1:]:
        headers["Client-Cert-Chain"] = ", ".join(f":{d}:" for d in der[1:])
    report(miaf, miaf_profile, client, device, headers=headers, note=f"Client-Cert header of {other}")


@when("the client C-OK reports a device whose id has a space in it")
def _(miaf: MiafScenario, miaf_profile: Any) -> None:
    device_id = miaf.device_id("dev x")
    path = route_path(miaf_profile, "capabilities.put", device_id.replace(" ", "%20"))
    miaf.record(miaf.wire("C-OK").send("PUT", path, body("valid", device_id), note="deviceId with a space"),
                "C-OK PUT a deviceId with a space")


@when(step('the client {client:client} posts to the capabilities route of the device "{device:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, client: str, device: str) -> None:
    device_id = miaf.device_id(device)
    path = route_path(miaf_profile, "capabilities.put", device_id)
    miaf.record(miaf.wire(client).send("POST", path, body("valid", device_id), note="a method the route lacks"),
                f"{client} POST {device}")


# --- TLS handshakes -------------------------------------------------------------------------------------


@when(step("the client {client:client} opens a TLS connection offering TLS 1.3 and 1.2"))
def _(miaf: MiafScenario, client: str) -> None:
    facts = handshake(miaf.wfm.base_url, miaf.wfm.identity(client), miaf.wfm.bundle_pem, timeout=miaf.wfm.timeout_s,
                      min_version="1.2", verify=False)
    miaf.record_handshake(facts, f"{client} handshake offering TLS 1.3 and 1.2")


@when(step("the client {client:client} opens a TLS connection offering only TLS {version}"))
def _(miaf: MiafScenario, client: str, version: str) -> None:
    facts = handshake(miaf.wfm.base_url, miaf.wfm.identity(client), miaf.wfm.bundle_pem, timeout=miaf.wfm.timeout_s,
                      min_version=version, max_version=version, verify=False, first_read=False)
    miaf.record_handshake(facts, f"{client} handshake offering only TLS {version}")


# --- legacy routes (MGEN-05) ----------------------------------------------------------------------------

#: The HTTPSIG-era routes a MIAF WFM must not serve without a client certificate (Q-63): one POST, one GET and
#: one RFC 9421-signed PUT, all on the MIAF base URL.
LEGACY = {
    "onboarding": ("POST", "/api/v1/onboarding"),
    "onboarding-certificate": ("GET", "/api/v1/onboarding/certificate"),
    "signed-client-capabilities": ("PUT", "/api/v1/clients/x/capabilities/d"),
}


@when(step('a client without a certificate sends the legacy request "{route:q}"'))
def _(miaf: MiafScenario, route: str) -> None:
    from margo_conformance.httpsig.auth import SigningOptions, signature_fields
    from margo_conformance.pki import KeyType, generate_key

    method, path = LEGACY[route]
    wire = miaf.wire("C-NOCERT")
    content, headers = b"", {}
    if route == "onboarding":
        content = json.dumps({"certificate": "cHJvYmU="}).encode()
    elif route == "signed-client-capabilities":
        content = body("valid", "d")
        signed = signature_fields(method, wire.base_url + path, content, SigningOptions(key=generate_key(KeyType.P256)))
        headers, content = dict(signed.headers), signed.body
    miaf.record(wire.send(method, path, content, headers=headers, note=f"legacy route {route}"), f"legacy {route}")


# --- operator -------------------------------------------------------------------------------------------


@given(step('the operator installs the bundle "{rotation:q}"'))
def _(miaf: MiafScenario, rotation: str) -> None:
    if not miaf.wfm.operator.can("trust_bundle"):
        raise NotTested("needs the operator hook wfm.operator.trust_bundle (SVID-11 rotation)")
    if not miaf.wfm.harness_is_mis:
        raise NotTested("the rotation root R2 exists only when the harness is the MIS (Q-40)")
    files = miaf.wfm.authority.write_bundle(miaf.wfm.identity_dir, rotation=rotation)
    miaf.restore_bundle = True
    miaf.wfm.operator.perform("trust_bundle", bundle_file=str(files.pem))
    for client in list(miaf.wires):  # the new anchors apply to new connections
        miaf.new_connection(client)


@given("the operator keeps an allow-list of clients")
def _(miaf: MiafScenario) -> None:
    if miaf.wfm.policy_mode == "namespace":
        raise NotTested("the operator declared that the WFM accepts the whole client namespace (wfm.policy_mode = "
                        "\"namespace\", Q-65): no valid client SVID is off its policy")


@given(step('a new client on the policy has reported the device "{device:q}"'))
def _(miaf: MiafScenario, miaf_profile: Any, device: str) -> None:
    if miaf.wfm.policy_mode == "namespace":
        raise NotTested("the operator declared namespace mode (Q-65): a retired client is not a policy entry")
    miaf.fresh = miaf.wfm.new_client(f"ret-{miaf.suffix}")
    require_served(report(miaf, miaf_profile, "fresh", device), "the new client's first report")


@when("the operator retires that client")
def _(miaf: MiafScenario) -> None:
    assert miaf.fresh is not None
    miaf.wfm.retire_client(miaf.fresh.spiffe_id or "")


@when(step('that client reports the device "{device:q}" again on the same connection'))
def _(miaf: MiafScenario, miaf_profile: Any, device: str) -> None:
    report(miaf, miaf_profile, "fresh", device, note="kept-alive connection after the client was retired")


@when(step('that client deletes the device "{device:q}" on a new connection'))
def _(miaf: MiafScenario, miaf_profile: Any, device: str) -> None:
    miaf.new_connection("fresh")
    delete(miaf, miaf_profile, "fresh", device)


# --- judging --------------------------------------------------------------------------------------------


def judge_problem(judge: Judge, miaf: MiafScenario, profile: Any, expected_name: str | None,
                  *first: Verdict) -> None:
    judge.all(*first, *checks.problem_verdicts(miaf.last, profile, expected_name))


@then(step("the WFM serves it ({reqs})"))
def _(miaf: MiafScenario, judge: Judge, reqs: str) -> None:
    judge(checks.served(miaf.last).bound_to(*requirements(reqs)))


@then(step("the answer is {status:d} ({reqs})"))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, status: int, reqs: str) -> None:
    judge_problem(judge, miaf, miaf_profile, None, checks.status_is(miaf.last, status).bound_to(*requirements(reqs)))


@then(step("the WFM answers {status:d} with an empty body ({reqs})"))
def _(miaf: MiafScenario, judge: Judge, status: int, reqs: str) -> None:
    ids = requirements(reqs)
    judge.all(checks.status_is(miaf.last, status).bound_to(*ids), checks.empty_body(miaf.last).bound_to(*ids))


@then(step('the WFM answers {status:d} with a problem of type "{name:q}" ({reqs})'))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, status: int, name: str, reqs: str) -> None:
    judge_problem(judge, miaf, miaf_profile, name, checks.status_is(miaf.last, status).bound_to(*requirements(reqs)))


@then(step("the request is refused without being served ({reqs})"))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, reqs: str) -> None:
    ids = requirements(reqs)
    refused = judge(checks.refused_without_valid_svid(miaf.last).bound_to(*ids))
    if refused.passed:
        judge(checks.refused_at_a_layer_the_contract_knows(miaf.last).bound_to(*ids, "MCAP-11"))
        judge.all(*checks.problem_verdicts(miaf.last, miaf_profile, None))


@then(step('no record was made for the device "{device:q}" under C-OK ({reqs})'))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, device: str, reqs: str) -> None:
    """A refused request has no side effect: C-OK (client c1, the id most fixtures carry) finds no such device."""
    exchange = delete(miaf, miaf_profile, "C-OK", device)
    judge(checks.status_is(exchange, 404).bound_to(*requirements(reqs)))


@then(step("the request is refused, as {question} reads it ({reqs})"))
def _(miaf: MiafScenario, judge: Judge, question: str, reqs: str) -> None:
    judge(checks.refused_without_valid_svid(miaf.last).bound_to(*requirements(reqs), interpretations=(question,)))


@then(step("what the WFM did is recorded ({reqs})"))
def _(miaf: MiafScenario, judge: Judge, reqs: str) -> None:
    judge.note("answer to an optional algorithm or KU/EKU variant", checks.answer(miaf.last),
               requirements=requirements(reqs), layer=checks.layer(miaf.last))


@then("both RSA signature schemes got the same answer (SVID-16)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    judge(checks.rsa_signatures_alike(miaf.exchanges[-2], miaf.exchanges[-1]))


@then("TLS 1.3 was negotiated (MTLS-04)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    judge(checks.negotiated_tls13(miaf.require_handshake()))


@then(step("the handshake is refused ({reqs})"))
def _(miaf: MiafScenario, judge: Judge, reqs: str) -> None:
    facts = miaf.require_handshake()
    if facts.local_limit:
        raise NotTested(f"this harness's TLS library cannot offer that version at all ({facts.local_limit})")
    judge(checks.handshake_refused(facts, "handshake offering only a forbidden TLS version").bound_to(*requirements(reqs)))


@then("a TLS 1.2 handshake is recorded, and if it completed it follows RFC 9325 (MTLS-05)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    facts = miaf.require_handshake()
    judge.note("TLS 1.2-only client", facts.version or "refused", requirements=["MTLS-05"])
    if facts.version == "TLSv1.2":
        judge(checks.rfc9325_cipher(facts))


@then("the response came over HTTP/1.1 (MGEN-02)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    judge(checks.spoke_http11(miaf.last))


@then("the WFM's base URL uses port 443 (MGEN-03)")
def _(miaf: MiafScenario, judge: Judge, run: RunState) -> None:
    if run.sut.builtin:
        raise NotTested("the built-in reference WFM listens on an ephemeral loopback port by design; "
                        "MGEN-03 is judged on a vendor WFM's configured base URL")
    judge(checks.uses_port_443(miaf.wfm.base_url))


@then("the WFM's presented chain is its WFM SVID, validated against the bundle alone (MTLS-11, MID-03, SVID-08)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    facts = miaf.require_handshake()
    judge.all(*checks.wfm_svid_verdicts(facts.chain_der, miaf.wfm.bundle_pem, trust_domain=miaf.wfm.trust_domain,
                                        wfm_id=miaf.wfm.wfm_id))


@then("the invalid deviceId is refused with 400 or 404, and which is recorded (MCAP-04)")
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge) -> None:
    judge_problem(judge, miaf, miaf_profile, None, checks.device_id_refused(miaf.last).bound_to("MCAP-04"))


@then("the POST is not served, and its problem type is about:blank or the vendor's own (MCAP-03, MERR-05)")
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge) -> None:
    served = judge(checks.not_served(miaf.last).bound_to("MCAP-03"))
    if served.passed and miaf.last.response is not None:
        judge_problem(judge, miaf, miaf_profile, None,
                      checks.about_blank_where_no_margo_type_applies(miaf.last, miaf_profile))


@then("the answer to the unknown deployment type is 200, 201 or 422 (MCAP-20)")
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge) -> None:
    judge_problem(judge, miaf, miaf_profile, None, checks.unknown_deployment_type_answer(miaf.last).bound_to("MCAP-20"))


@then("the legacy request is not served (MGEN-05)")
def _(miaf: MiafScenario, judge: Judge) -> None:
    judge(checks.not_served(miaf.last).bound_to("MGEN-05"))


@then(step("the body is refused, {preferred:d} preferred by Q-52, with a problem ({reqs})"))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, preferred: int, reqs: str) -> None:
    ids = requirements(reqs)
    refused = judge(checks.body_refused(miaf.last, preferred).bound_to(*ids))
    if not refused.passed:
        return
    expected = "invalid-request" if miaf.last.response.status == 400 else "semantic-error"  # type: ignore[union-attr]
    verdicts = [checks.body_refused_with(miaf.last, preferred).bound_to(*ids)]
    if miaf.last.response is not None and miaf.last.response.status == 422:
        verdicts.append(checks.problem_errors_listed(miaf.last))
    judge_problem(judge, miaf, miaf_profile, expected, *verdicts)


@then(step("the body is refused, 422 preferred by Q-52, or accepted with a warning ({reqs})"))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, reqs: str) -> None:
    ids = requirements(reqs)
    refused = judge(checks.unknown_root_member_refused(miaf.last).bound_to(*ids))
    if refused.passed:
        judge_problem(judge, miaf, miaf_profile, "invalid-request" if miaf.last.response.status == 400  # type: ignore[union-attr]
                      else "semantic-error", checks.body_refused_with(miaf.last, 422).bound_to(*ids))


@then(step("the request is denied by the accepted-client policy ({reqs})"))
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge, reqs: str) -> None:
    ids = requirements(reqs)
    denied = judge(checks.denied_by_policy(miaf.last).bound_to(*ids))
    if denied.passed:
        verdicts = [checks.denied_as_not_authorized(miaf.last, miaf_profile).bound_to(*ids, "MERR-10")]
        expected = "not-authorized" if miaf.last.response is not None and miaf.last.response.status == 403 else None
        judge_problem(judge, miaf, miaf_profile, expected, *verdicts)


