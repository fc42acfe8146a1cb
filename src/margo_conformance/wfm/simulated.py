"""The simulated WFM of a device-role run: the reference WFM in-process, observing, plus a bootstrap channel.

One WFM serves the whole run (starting uvicorn per scenario would dominate the run time); each scenario
starts from a clean slate: observations cleared, faults cleared, the valid TLS chain back in place.

The bootstrap channel (CERT-06, CERT-07, Q-31) is a second listener of the same WFM code whose TLS chain
comes from a separate bootstrap CA and whose Certificate API hands out the WFM root CA. A device given
the bootstrap CA can download the root there; it can reach the WFM itself only if it then trusts the
downloaded root, because the WFM's chain leads to that root and not to the bootstrap CA.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from margo_conformance.errors import HarnessError
from margo_conformance.pki import TestCA
from margo_conformance.sut.device import Endpoints
from margo_conformance.wfm.config import WfmConfig
from margo_conformance.wfm.server import WfmServer


PATH_PREFIX = "/v1alpha2/margo"


class SimulatedWfm:
    """The main WFM, the bootstrap channel, and on demand a WFM under a path prefix and one on port 443."""

    def __init__(self) -> None:
        self.ca = TestCA("Margo Conformance simulated WFM Root CA", intermediate=True)
        self.main = WfmServer(WfmConfig(observe=True, trust="auto", accept_faulty=True), ca=self.ca, hosts=("localhost",)).start()
        self.bootstrap_ca = TestCA("Margo Conformance bootstrap channel CA")
        self.unrelated_ca = TestCA("Unrelated CA")
        self.bootstrap = WfmServer(WfmConfig(observe=True, trust="auto", accept_faulty=True), ca=self.ca, hosts=("localhost",)).start()
        self._bootstrap_chain = self.bootstrap_ca.issue_server_cert("localhost", "127.0.0.1", "::1")
        self.bootstrap.reconfigure_tls(self._bootstrap_chain)
        self.bootstrap_used = False
        self._dir = Path(tempfile.mkdtemp(prefix="margo-simulated-wfm-"))
        self.bootstrap_ca_file = self.bootstrap_ca.write_cert_pem(self._dir / "bootstrap-ca.pem")
        self._extra: dict[str, WfmServer] = {}
        self._port_443_problem: str | None = None
        #: The WFM the device is pointed at in this scenario (main, prefixed or port 443).
        self.active = self.main

    def use_prefixed(self) -> None:
        """GEN-04, Q-23: a WFM whose API hangs under a path prefix before /api/v1."""
        if "prefixed" not in self._extra:
            config = WfmConfig(observe=True, trust="auto", accept_faulty=True, path_prefix=PATH_PREFIX)
            self._extra["prefixed"] = WfmServer(config, ca=self.ca, hosts=("localhost",)).start()
        self.active = self._extra["prefixed"]

    def use_port_443(self) -> str | None:
        """GEN-03: a WFM on loopback port 443, reached with a URL that names no port; None, or why not."""
        if "443" not in self._extra and self._port_443_problem is None:
            try:
                server = WfmServer(WfmConfig(observe=True, trust="auto", accept_faulty=True), ca=self.ca, hosts=("localhost",), port=443)
                self._extra["443"] = server.start()
            except (OSError, HarnessError) as exc:
                self._port_443_problem = f"the harness cannot listen on 127.0.0.1:443 here ({exc})"
        if self._port_443_problem is not None:
            return self._port_443_problem
        self.active = self._extra["443"]
        return None

    def endpoints(self) -> Endpoints:
        url = self.active.base_url
        if self.active.port == 443:
            url = "https://localhost" + self.active.config.prefix  # no port in the URL (GEN-03)
        return Endpoints(wfm_url=url, ca_file=self.main.ca_file,
                         bootstrap_url=self.bootstrap.base_url, bootstrap_ca_file=self.bootstrap_ca_file)

    def reset(self) -> None:
        self.active = self.main
        for server in (self.main, self.bootstrap, *self._extra.values()):
            server.observations.clear()
            server.faults.clear()
        self.main.reset_tls()
        self.bootstrap.reconfigure_tls(self._bootstrap_chain)
        self.bootstrap_used = False

    def present_untrusted_bootstrap_chain(self) -> None:
        self.bootstrap.reconfigure_tls(self.unrelated_ca.issue_server_cert("localhost", "127.0.0.1", "::1"))

    def stop(self) -> None:
        for server in (self.main, self.bootstrap, *self._extra.values()):
            server.stop()
