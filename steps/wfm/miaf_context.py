"""Per-scenario state of a MIAF WFM-role scenario: the clients' wires, the device ids, what was recorded."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.mtls import ClientIdentity, MtlsWire
from margo_conformance.mtls.tls import HandshakeFacts
from margo_conformance.report.allure_helpers import attach_exchange, attach_json
from margo_conformance.sut.miaf_wfm import MiafWfmUnderTest


@dataclass
class MiafScenario:
    wfm: MiafWfmUnderTest
    exchanges: list[Exchange] = field(default_factory=list)
    handshake: HandshakeFacts | None = None
    #: One wire per client fixture for the scenario: a client keeps its connection (MTLS-08).
    wires: dict[str, MtlsWire] = field(default_factory=dict)
    #: A client made in this scenario (the one the operator retires).
    fresh: ClientIdentity | None = None
    #: What the scenario changed at the WFM and must put back (the bundle of a rotation scenario).
    restore_bundle: bool = False
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))

    def device_id(self, alias: str) -> str:
        """A device id unique to this scenario: every segment of "gw/child" gets the scenario's suffix."""
        return "/".join(f"{segment}-{self.suffix}" for segment in alias.split("/"))

    def wire(self, client: str) -> MtlsWire:
        if client not in self.wires:
            if client == "fresh":
                if self.fresh is None:
                    raise HarnessError("needs 'Given a new client on the policy ...'")
                self.wires[client] = self.wfm.wire(self.fresh)
            else:
                self.wires[client] = self.wfm.wire(self.wfm.identity(client))
        return self.wires[client]

    def new_connection(self, client: str) -> MtlsWire:
        old = self.wires.pop(client, None)
        if old is not None:
            old.close()
        return self.wire(client)

    def record(self, exchange: Exchange, name: str) -> Exchange:
        self.exchanges.append(exchange)
        attach_exchange(exchange, name)
        return exchange

    def record_handshake(self, facts: HandshakeFacts, name: str) -> HandshakeFacts:
        self.handshake = facts
        attach_json(facts.describe(), name, evidence=True)
        return facts

    @property
    def last(self) -> Exchange:
        if not self.exchanges:
            raise HarnessError("no request was sent yet: the scenario needs a 'When the client ...' step")
        return self.exchanges[-1]

    def require_handshake(self) -> HandshakeFacts:
        if self.handshake is None:
            raise HarnessError("needs a handshake: add 'When the client ... opens a TLS connection ...'")
        return self.handshake

    def close(self) -> None:
        for wire in self.wires.values():
            wire.close()
        self.wires.clear()
