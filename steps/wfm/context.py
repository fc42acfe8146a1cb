"""Per-scenario state of a WFM-role scenario: one typed object, loud when a Given is missing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cryptography import x509

from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.pki import IssuedCert, TestCA
from margo_conformance.route_matrix import Expect
from margo_conformance.report.allure_helpers import attach_exchange, attach_json
from margo_conformance.sut.wfm import WfmUnderTest
from margo_conformance.tlsprobe import TlsProbeResult


@dataclass
class WfmScenario:
    wfm: WfmUnderTest
    device_ca: TestCA
    device: SimulatedDevice | None = None
    #: The certificate the next onboarding sends (a pki variant), when not the device's own.
    certificate: IssuedCert | None = None
    #: Further onboarded devices by role in the scenario ("second", "p384", ...).
    others: dict[str, SimulatedDevice] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    probe: TlsProbeResult | None = None
    downloaded_root: x509.Certificate | None = None
    first_onboarding: Exchange | None = None
    #: What the route matrix says the WFM owes the request just sent (protected_routes.feature).
    expect: Expect | None = None
    #: The operator state the device's client was put in, and the clientId it had then (route matrix).
    operator_state: str | None = None
    decided_client_id: str | None = None
    #: A gateway deviceId of this scenario alone, so no earlier scenario's gateway can be a parent (CAP-13).
    gateway_id: str = field(default_factory=lambda: f"gw-hall2-{secrets.token_hex(3)}")

    def record(self, exchange: Exchange, name: str) -> Exchange:
        self.exchanges.append(exchange)
        attach_exchange(exchange, name)
        return exchange

    def record_probe(self, probe: TlsProbeResult, name: str) -> TlsProbeResult:
        self.probe = probe
        attach_json(probe.describe(), name, evidence=True)
        return probe

    @property
    def last(self) -> Exchange:
        if not self.exchanges:
            raise HarnessError("no request was sent yet: the scenario needs a 'When the device ...' step")
        return self.exchanges[-1]

    def require_device(self) -> SimulatedDevice:
        if self.device is None:
            raise HarnessError("needs a simulated device: add 'Given the device knows the WFM root CA'")
        return self.device

    def require_probe(self) -> TlsProbeResult:
        if self.probe is None:
            raise HarnessError("needs a TLS probe: add 'When the device opens a TLS connection ...'")
        return self.probe
