"""The simulated fleet of a mutual-TLS profile (authenticator ``mtls-svid``): one WFM client per Locust user.

Each user holds its own client X.509-SVID (``…/client/<id>``, minted before the load starts and put on the
WFM's accepted-client policy) and its own TLS connection pool, so it is authenticated in the handshake; there
is no onboarding and nothing is signed. It sends ``reports`` capability PUTs for its own deviceId at the pace
of ``report_every`` seconds, deletes them and stops. A share ``fault_share`` of extra PUTs comes, on a fresh
connection, from a client that must be refused: one of another trust domain (C-FTD) or one without a
certificate (C-NOCERT). A TLS refusal (handshake alert or closed connection) or a 4xx both count as the refusal
they are, each tallied under the fixture's own route name. Answers are classified exactly like
the signed-request fleet's (``classify.py``); a refusal of a correct client is a violation.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from locust import User, constant_pacing, task
from locust.exception import StopUser

from ..device.miaf_manifest import body as manifest_body
from ..errors import SutTimeout, SutUnreachable
from .classify import DELETE, PUT, Tally, classify, problem_type, wire_answer
from .fleet import MAX_RETRY_WAIT_S, RETRIES, LoadViolation

#: The client fixtures whose PUTs must be refused (DIGEST section 2), and the route name each is tallied under
#: (a route of its own, like the signed-request fleet's wrong-key PUTs).
REFUSED_FIXTURES = {"C-FTD": f"{PUT} (other trust domain)", "C-NOCERT": f"{PUT} (no certificate)"}


@dataclass
class SvidFleetSettings:
    target: Any  # sut.miaf_wfm.MiafWfmUnderTest: base URL, bundle, authority, operator, policy mode
    reports: int = 5
    report_every_s: float = 1.0
    fault_share: float = 0.05


class SvidPool:
    """Client SVIDs minted (and put on the policy) up front: key generation and operator hooks are not load."""

    def __init__(self, target: Any, size: int) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._minted: deque[Any] = deque(self._mint(i) for i in range(size))
        self._extra = itertools.count(size)
        #: fixture -> identity (None for C-NOCERT: the connection offers no certificate)
        self.refused = {name: target.identity(name) for name in REFUSED_FIXTURES}

    def _mint(self, n: int) -> Any:
        on_policy = self.target.policy_mode != "namespace"  # a namespace policy accepts every client ID
        return self.target.new_client(f"load-{os.getpid()}-{n}", on_policy=on_policy)

    def take(self) -> Any:
        with self._lock:
            if self._minted:
                return self._minted.popleft()
        return self._mint(next(self._extra))  # more users than planned: mint (and pay for) one more


@dataclass
class SvidFleet:
    settings: SvidFleetSettings
    pool: SvidPool
    tally: Tally = field(default_factory=Tally)
    numbers: itertools.count = field(default_factory=itertools.count)


#: The fleet of this process; ``run.py`` sets it before the runner starts (Locust creates users by class).
FLEET: SvidFleet | None = None


class SvidClientUser(User):
    """One WFM client: its own SVID and TLS identity; PUT its capabilities, DELETE them, stop."""

    wait_time = constant_pacing(1.0)

    def on_start(self) -> None:
        assert FLEET is not None, "load.svid_fleet.FLEET must be set before the runner starts"
        self.fleet = FLEET
        self.identity = self.fleet.pool.take()
        self.wire = self.fleet.settings.target.wire(self.identity)
        self.device_id = f"load-{os.getpid()}-{next(self.fleet.numbers)}"
        self.path = f"/api/v1/capabilities/{self.device_id}"
        self.reports_done = 0

    @task
    def report(self) -> None:
        s = self.fleet.settings
        if self.reports_done >= s.reports:
            self._request(DELETE, "DELETE", lambda: self.wire.send("DELETE", self.path), must_fail=False)
            raise StopUser()
        if s.fault_share and random.random() < s.fault_share:
            fixture = random.choice(tuple(REFUSED_FIXTURES))
            self._request(PUT, "PUT", lambda: self._refused_put(fixture), must_fail=True,
                          name=REFUSED_FIXTURES[fixture])
        body = manifest_body("valid" if self.reports_done % 2 == 0 else "changed", self.device_id)
        if self._request(PUT, "PUT", lambda: self.wire.send("PUT", self.path, body), must_fail=False):
            self.reports_done += 1

    def _refused_put(self, fixture: str) -> Any:
        """A PUT by a client that must be refused, on a connection of its own (a refusal may close it)."""
        device = f"{self.device_id}-{fixture.lower()}"
        with self.fleet.settings.target.wire(self.fleet.pool.refused[fixture]) as wire:
            return wire.send("PUT", f"/api/v1/capabilities/{device}", manifest_body("valid", device))

    def on_stop(self) -> None:
        wire = getattr(self, "wire", None)
        if wire is not None:
            wire.close()

    def _request(self, route: str, method: str, send: Callable[[], Any], *, must_fail: bool,
                 name: str | None = None) -> bool:
        """Send, classify, record; retry after an allowed overload answer. True when the answer was expected."""
        for attempt in range(RETRIES + 1):
            started = time.perf_counter()
            refusal: str | None = None
            try:
                exchange = send()
                status, retry_after, body, error = wire_answer(exchange)
                if exchange.refusal is not None:
                    refusal = exchange.refusal.alert or "connection closed"
            except (SutUnreachable, SutTimeout) as exc:
                status, retry_after, body, error = None, None, b"", str(exc)[:200]
            elapsed_ms = (time.perf_counter() - started) * 1000
            verdict = classify(route, must_fail=must_fail, status=status, retry_after=retry_after, body=body,
                               error=error, refusal=refusal)
            self.fleet.tally.add(name or route, verdict, status if refusal is None else f"TLS refusal ({refusal})",
                                 problem_type(body) if status and status >= 400 else None)
            self.environment.events.request.fire(
                request_type=method, name=name or route, response_time=elapsed_ms, response_length=len(body),
                exception=LoadViolation(verdict.reason) if verdict.klass == "violation" else None, context={})
            if verdict.klass == "allowed" and attempt < RETRIES:
                time.sleep(min(verdict.retry_after_s or 0.0, MAX_RETRY_WAIT_S))  # gevent: only this client waits
                continue
            return verdict.klass == "expected"
        return False


def configure_svid(settings: SvidFleetSettings, clients: int) -> SvidFleet:
    """Mint the client SVIDs and make this process's users use them; returns the fleet (its tally)."""
    global FLEET
    FLEET = SvidFleet(settings, SvidPool(settings.target, clients))
    SvidClientUser.wait_time = constant_pacing(settings.report_every_s)
    return FLEET
