"""Steps of trust_establishment.feature: the Certificate API and what the TLS layer offers a device."""

from __future__ import annotations

import ssl

from pytest_bdd import given, parsers, then, when

from margo_conformance.checks import wfm as checks
from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.errors import HarnessError
from margo_conformance.tlsprobe import probe
from margo_conformance.pytest_plugin import RunState
from margo_conformance.verdict import Judge, NotTested

from .common_steps import requirement, requirements
from .context import WfmScenario


def _observer_device(scenario: WfmScenario) -> SimulatedDevice:
    """A device that reads the Certificate API without trusting anything yet (evidence, not trust)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return SimulatedDevice(scenario.wfm.base_url, ctx, device_ca=scenario.device_ca, timeout=scenario.wfm.timeout_s,
                           server_name=scenario.wfm.tls_name)


@when("the device requests the root CA certificate without signing the request")
def _(scenario: WfmScenario) -> None:
    scenario.record(_observer_device(scenario).get_root_ca(), "GET root CA (unsigned)")


@given("the device has downloaded the root CA from the Certificate API")
def _(scenario: WfmScenario) -> None:
    exchange = scenario.record(_observer_device(scenario).get_root_ca(), "GET root CA (unsigned)")
    root = checks.root_certificate(checks.certificate_value(exchange))
    if root is None:
        raise HarnessError("the Certificate API gave no decodable root CA, so TLS-06 cannot be judged "
                           "(CERT-04 says why)")
    scenario.downloaded_root = root


def _probe(scenario: WfmScenario, name: str, **kwargs: object) -> None:
    """A TLS handshake against the root CA only, host name checked (the way a device connects)."""
    from cryptography.hazmat.primitives import serialization

    root = scenario.downloaded_root or scenario.wfm.root_ca()
    cadata = root.public_bytes(serialization.Encoding.PEM).decode()
    result = probe(scenario.wfm.host, scenario.wfm.port, server_name=scenario.wfm.server_name, cadata=cadata,
                   timeout_s=scenario.wfm.timeout_s, **kwargs)  # type: ignore[arg-type]
    scenario.record_probe(result, name)


@when("the device opens a TLS connection that trusts only that root CA and checks the host name")
def _(scenario: WfmScenario) -> None:
    _probe(scenario, "TLS handshake (root CA only, host name checked)")


# The version and client-certificate probes observe without verifying the chain: TLS-06 judges the chain,
# so a WFM with a broken chain fails TLS-06 and not, in addition, TLS-02 or TLS-05.


@when(parsers.parse("the device opens a TLS connection limited to TLS {version}"))
def _(scenario: WfmScenario, version: str) -> None:
    _probe(scenario, f"TLS handshake (TLS {version} only)", min_version=version, max_version=version, verify=False)


@when("the device opens a TLS connection without a client certificate")
def _(scenario: WfmScenario) -> None:
    _probe(scenario, "TLS handshake (no client certificate)", verify=False)


@when("the device requests the root CA certificate over a connection that offers only HTTP/1.1")
def _(scenario: WfmScenario) -> None:
    device = scenario.require_device()  # its context offers ALPN http/1.1 only
    scenario.record(device.get_root_ca(), "GET root CA over HTTP/1.1")


@then(parsers.parse("the TLS handshake succeeds ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    judge(checks.handshake_succeeded(scenario.require_probe(), "TLS handshake").bound_to(*requirements(req)))


@then(parsers.parse("the TLS handshake is refused ({req})"))
def _(scenario: WfmScenario, judge: Judge, req: str) -> None:
    req_id = requirement(req)
    judge(checks.handshake_refused(scenario.require_probe(), "TLS 1.2 handshake").bound_to(
        req_id, interpretations=["Q-08"]))


@then("the WFM did not request a client certificate (TLS-05)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    probe = scenario.require_probe()
    if probe.ok and probe.facts.client_cert_requested is None:
        raise NotTested("this Python does not expose TLS handshake messages (ssl _msg_callback), so a "
                        "CertificateRequest cannot be observed")
    judge(checks.no_client_certificate_requested(probe))


@then("the response came over HTTP/1.1 (GEN-02)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.spoke_http11(scenario.last))


@then("the certificate value is strict base64 without line breaks (CERT-04)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.strict_base64(checks.certificate_value(scenario.last)))


@then("the certificate value decodes to exactly one X.509 certificate, in PEM or DER form (CERT-04)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.decodes_to_one_certificate(checks.certificate_value(scenario.last)))


@then("the returned certificate is a CA certificate (CERT-05)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    judge(checks.is_ca_certificate(checks.root_certificate(checks.certificate_value(scenario.last))))


@then("the returned certificate is self-signed (CERT-05, advisory)")
def _(scenario: WfmScenario, judge: Judge) -> None:
    verdict = checks.is_self_signed(checks.root_certificate(checks.certificate_value(scenario.last)))
    judge(verdict)



@then("the WFM's base URL uses port 443 (GEN-03, advisory)")
def _(scenario: WfmScenario, judge: Judge, run: RunState) -> None:
    if run.sut.builtin:
        raise NotTested("the built-in reference WFM listens on an ephemeral loopback port by design; "
                        "GEN-03 is judged on a vendor WFM's configured base URL")
    judge(checks.uses_port_443(scenario.wfm.port, scenario.wfm.base_url))
