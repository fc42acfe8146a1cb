"""The WFM's clients in a shared scenario (features/wfm/shared/): one adapter per authenticator kind.

A shared scenario says "my client reports the device gw/child" once; the run's profile decides who that is
(``profile.authenticator``): "httpsig" = an onboarded simulated device that signs every request, "mtls-svid" = an
SVID client of the fixture catalogue (C-OK, and C-OK2 as "another client"). Each adapter also builds the bodies
of its profile family (httpsig manifests carry apiVersion/kind, rc.3 ones must not) and names the checks that
judge its answers, so the shared Then steps read only the rule binding (``profile.rule``) and never a profile
name.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

import pytest

from margo_conformance.checks import miaf_wfm as mtls_checks
from margo_conformance.checks import wfm as httpsig_checks
from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.errors import HarnessError
from margo_conformance.evidence import Exchange
from margo_conformance.patterns import DEVICE_ID_RE
from margo_conformance.payloads import get_sample
from margo_conformance.verdict import Verdict

#: Who acts in a shared step: "my" client, or "another" client of the same WFM.
MINE, ANOTHER = "my", "another"


class WfmClients(Protocol):
    """What a shared step needs from the clients of one authenticator kind."""

    def report(self, who: str, alias: str, body: str = "valid") -> Exchange: ...

    def delete(self, who: str, alias: str) -> Exchange: ...

    @property
    def last(self) -> Exchange: ...

    def status_is(self, exchange: Exchange, expected: int) -> Verdict: ...

    def served(self, exchange: Exchange) -> Verdict: ...

    def refused(self, exchange: Exchange, preferred: int | None) -> Verdict: ...

    def error_verdicts(self, exchange: Exchange, expected_type: str | None, *, with_type: bool) -> list[Verdict]: ...

    def success_verdicts(self, exchange: Exchange) -> list[Verdict]: ...


def require_served(exchange: Exchange, what: str) -> None:
    """A Given needs a served request, not a perfect one: anything but 2xx stops the scenario as broken."""
    status = exchange.response.status if exchange.response is not None else None
    if status is None or not 200 <= status < 300:
        raise HarnessError(f"precondition: {what} was not served (status {status})")


class HttpsigClients:
    """Onboarded simulated devices that sign every request (RFC 9421); records live under each one's clientId."""

    #: Bodies a rule case names that are no sample document (bytes as sent).
    RAW_BODIES = {"not-json": b'{"apiVersion": "device.margo.org/v1alpha1", '}

    def __init__(self, request: pytest.FixtureRequest, profile: Any) -> None:
        from .context import WfmScenario

        self.scenario: WfmScenario = request.getfixturevalue("scenario")
        self.profile = profile
        self.suffix = secrets.token_hex(3)

    def _device(self, who: str) -> SimulatedDevice:
        from .common_steps import new_device, onboard_for_setup

        if who == MINE:
            if self.scenario.device is None:
                self.scenario.device = new_device(self.scenario)
            device = self.scenario.device
        else:
            device = self.scenario.others.get(ANOTHER) or new_device(self.scenario)
            self.scenario.others[ANOTHER] = device
        if device.client_id is None:
            onboard_for_setup(self.scenario, device, f"{who} client")
        return device

    def device_id(self, alias: str) -> str:
        return "/".join(f"{segment}-{self.suffix}" for segment in alias.split("/"))

    def _body(self, device: SimulatedDevice, name: str, device_id: str) -> tuple[str, Any]:
        """(path deviceId, body) of a named body: "valid", "gateway", a raw body, or a sample of the payload index
        (sent under its own properties.id when that is a legal deviceId, as CAP-20 keeps them equal)."""
        if name == "valid":
            return device_id, device.manifest(device_id)
        if name == "gateway":
            return device_id, device.manifest(device_id, identity_only=True)
        if name in self.RAW_BODIES:
            return device_id, self.RAW_BODIES[name]
        try:
            document = get_sample(name).document
        except KeyError:
            raise HarnessError(f"no sample payload named {name!r} in fixtures/payloads/index.yaml") from None
        props = document.get("properties") if isinstance(document, dict) else None
        sample_id = props.get("id") if isinstance(props, dict) else None
        legal = isinstance(sample_id, str) and DEVICE_ID_RE.fullmatch(sample_id)
        return (sample_id if legal else device_id), document

    def report(self, who: str, alias: str, body: str = "valid") -> Exchange:
        device = self._device(who)
        path_id, document = self._body(device, body, self.device_id(alias))
        return self.scenario.record(device.put_capabilities(path_id, document), f"{who} client PUT {alias} ({body})")

    def delete(self, who: str, alias: str) -> Exchange:
        device = self._device(who)
        return self.scenario.record(device.delete_capabilities(self.device_id(alias)), f"{who} client DELETE {alias}")

    @property
    def last(self) -> Exchange:
        return self.scenario.last

    def status_is(self, exchange: Exchange, expected: int) -> Verdict:
        return httpsig_checks.status_is(exchange, expected)

    def served(self, exchange: Exchange) -> Verdict:
        return httpsig_checks.status_is_success(exchange)

    def refused(self, exchange: Exchange, preferred: int | None) -> Verdict:
        """Any 4xx (DIGEST 6.1 rule 1); the code itself is judged apart, against the rule's status."""
        return httpsig_checks.refused(exchange)

    def error_verdicts(self, exchange: Exchange, expected_type: str | None, *, with_type: bool) -> list[Verdict]:
        """The error body family (ERR-01, Q-27: problem details or an {error} object); with ``with_type`` also the
        Margo type for the status (ERR-02). The HTTPSIG text names no type per condition, so ``expected_type`` is
        not asserted here."""
        status = exchange.response.status if exchange.response is not None else None
        if status is None or status < 400:
            return []
        verdicts = [httpsig_checks.error_body_is_known_family(exchange)]
        if with_type:
            verdicts.append(httpsig_checks.problem_type_fits(exchange))
        return verdicts

    def success_verdicts(self, exchange: Exchange) -> list[Verdict]:
        """Nothing beyond the status: the HTTPSIG text states no rule for the content of a success answer."""
        return []


class SvidClients:
    """SVID clients of the fixture catalogue over mutual TLS: "my" client is C-OK, "another" is C-OK2; the caller
    is the client SPIFFE ID, so the two hold separate records."""

    FIXTURES = {MINE: "C-OK", ANOTHER: "C-OK2"}

    def __init__(self, request: pytest.FixtureRequest, profile: Any) -> None:
        from .miaf_context import MiafScenario

        self.miaf: MiafScenario = request.getfixturevalue("miaf")
        self.profile = profile

    def report(self, who: str, alias: str, body: str = "valid") -> Exchange:
        from .miaf_steps import report

        return report(self.miaf, self.profile, self.FIXTURES[who], alias, body)

    def delete(self, who: str, alias: str) -> Exchange:
        from .miaf_steps import delete

        return delete(self.miaf, self.profile, self.FIXTURES[who], alias)

    @property
    def last(self) -> Exchange:
        return self.miaf.last

    def status_is(self, exchange: Exchange, expected: int) -> Verdict:
        return mtls_checks.status_is(exchange, expected)

    def served(self, exchange: Exchange) -> Verdict:
        return mtls_checks.served(exchange)

    def refused(self, exchange: Exchange, preferred: int | None) -> Verdict:
        """400 or 422, the two codes rc.3 gives a body it does not accept; the code is judged apart (Q-52)."""
        return mtls_checks.body_refused(exchange, preferred or 422)

    def error_verdicts(self, exchange: Exchange, expected_type: str | None, *, with_type: bool) -> list[Verdict]:
        """RFC 9457 problem details with the registered type and retry members (MERR-*, MRTY-*); a 422 lists its
        field errors (MERR-08, SHOULD). The type is always judged here (MERR-04), so ``with_type`` adds nothing."""
        verdicts = mtls_checks.problem_verdicts(exchange, self.profile, expected_type)
        if exchange.response is not None and exchange.response.status == 422:
            verdicts.append(mtls_checks.problem_errors_listed(exchange))
        return verdicts

    def success_verdicts(self, exchange: Exchange) -> list[Verdict]:
        """A 204 carries no content (Q-66); bound by the caller to the rule's rows."""
        status = exchange.response.status if exchange.response is not None else None
        return [mtls_checks.empty_body(exchange)] if status == 204 else []


#: The adapter of each authenticator kind a profile may name (``profiles.AUTHENTICATORS``).
ADAPTERS: dict[str, type] = {"httpsig": HttpsigClients, "mtls-svid": SvidClients}


def clients_for(request: pytest.FixtureRequest, profile: Any) -> WfmClients:
    try:
        adapter = ADAPTERS[profile.authenticator]
    except KeyError:
        raise HarnessError(f"no client adapter for authenticator {profile.authenticator!r}") from None
    return adapter(request, profile)

