"""The simulated fleet as a Locust user: one device per user, with an identity minted before the load starts.

Each user onboards once with a correctly signed request, sends ``reports`` capability PUTs at the pace of
``report_every`` seconds (a share ``fault_share`` of extra PUTs carry a wrong-key signature and must be
refused), deletes its capabilities and stops. Every answer is classified (``classify.py``) into the process's
tally and fired as a Locust request event: violations count as Locust failures, allowed overload answers do
not. A device honours ``Retry-After`` on 429/503 and retries, at most ``RETRIES`` times per request.
"""

from __future__ import annotations

import itertools
import os
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from locust import User, constant_pacing, task
from locust.exception import StopUser

from ..device.simulated import SimulatedDevice
from ..errors import SutTimeout, SutUnreachable
from ..httpsig import Fault
from ..pki import IssuedCert, KeyType, TestCA
from .classify import DELETE, ONBOARDING, PUT, Tally, classify, problem_type, wire_answer

#: Retries of one request after an allowed overload answer (429/503 with Retry-After).
RETRIES = 3
#: The longest Retry-After a device waits (a WFM asking for an hour would stall the run).
MAX_RETRY_WAIT_S = 30.0


@dataclass
class FleetSettings:
    base_url: str
    ssl_context: ssl.SSLContext
    timeout_s: float
    server_name: str | None = None
    reports: int = 5
    report_every_s: float = 1.0
    fault_share: float = 0.05


class IdentityPool:
    """Device identities minted up front (key generation is not part of the measured load)."""

    def __init__(self, size: int, ca: TestCA | None = None) -> None:
        self.ca = ca or TestCA(f"Margo conformance load fleet CA {os.getpid()}")
        self._minted: deque[IssuedCert] = deque(self._mint(i) for i in range(size))
        self._lock = threading.Lock()
        self._extra = itertools.count(size)

    def _mint(self, n: int) -> IssuedCert:
        return self.ca.issue_client_cert(f"load-device-{os.getpid()}-{n}", key_type=KeyType.P256)

    def take(self) -> IssuedCert:
        with self._lock:
            if self._minted:
                return self._minted.popleft()
        return self._mint(next(self._extra))  # more users than planned: mint (and pay for) one more


@dataclass
class Fleet:
    """What every user of this process shares: where the WFM is, the identities, the tally."""

    settings: FleetSettings
    pool: IdentityPool
    tally: Tally = field(default_factory=Tally)
    numbers: itertools.count = field(default_factory=itertools.count)


#: The fleet of this process; ``run.py`` sets it before the runner starts (Locust creates users by class).
FLEET: Fleet | None = None


class DeviceUser(User):
    """One simulated device: onboard, report, delete, stop."""

    wait_time = constant_pacing(1.0)

    def on_start(self) -> None:
        assert FLEET is not None, "load.fleet.FLEET must be set before the runner starts"
        self.fleet = FLEET
        s = self.fleet.settings
        self.reports_done = 0
        self.device = SimulatedDevice(s.base_url, s.ssl_context, identity=self.fleet.pool.take(),
                                      device_id=f"load-{os.getpid()}-{next(self.fleet.numbers)}", timeout=s.timeout_s,
                                      server_name=s.server_name)
        ok = self._request(ONBOARDING, "POST", lambda: self.device.onboard(), must_fail=False)
        if not ok or self.device.client_id is None:
            raise StopUser()

    @task
    def report(self) -> None:
        s = self.fleet.settings
        if self.reports_done >= s.reports:
            self._request(DELETE, "DELETE", lambda: self.device.delete_capabilities(), must_fail=False)
            raise StopUser()
        if s.fault_share and random.random() < s.fault_share:
            self._request(PUT, "PUT", lambda: self.device.put_capabilities(fault=Fault.WRONG_KEY), must_fail=True,
                          name=f"{PUT} (wrong key)")
        if self._request(PUT, "PUT", lambda: self.device.put_capabilities(), must_fail=False):
            self.reports_done += 1

    def on_stop(self) -> None:
        device = getattr(self, "device", None)
        if device is not None:
            device.close()

    def _request(self, route: str, method: str, send: Callable[[], Any], *, must_fail: bool,
                 name: str | None = None) -> bool:
        """Send, classify, record; retry after an allowed overload answer. True when the answer was expected."""
        for attempt in range(RETRIES + 1):
            started = time.perf_counter()
            try:
                exchange = send()
                status, retry_after, body, error = wire_answer(exchange)
            except (SutUnreachable, SutTimeout) as exc:
                exchange, status, retry_after, body, error = None, None, None, b"", str(exc)[:200]
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.device.exchanges.clear()  # evidence is kept per scenario by the suites, not under load
            verdict = classify(route, must_fail=must_fail, status=status, retry_after=retry_after, body=body,
                               error=error)
            self.fleet.tally.add(name or route, verdict, status, problem_type(body) if status and status >= 400 else None)
            self.environment.events.request.fire(
                request_type=method, name=name or route, response_time=elapsed_ms, response_length=len(body),
                exception=LoadViolation(verdict.reason) if verdict.klass == "violation" else None, context={})
            if verdict.klass == "allowed" and attempt < RETRIES:
                time.sleep(min(verdict.retry_after_s or 0.0, MAX_RETRY_WAIT_S))  # gevent: only this device waits
                continue
            return verdict.klass == "expected"
        return False


class LoadViolation(Exception):
    """What Locust records as the failure of a request the WFM answered against the profile."""


def configure(settings: FleetSettings, devices: int) -> Fleet:
    """Mint the identities and make this process's users use them; returns the fleet (its tally)."""
    global FLEET
    FLEET = Fleet(settings, IdentityPool(devices))
    DeviceUser.wait_time = constant_pacing(settings.report_every_s)
    return FLEET
