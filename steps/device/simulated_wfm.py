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

from margo_conformance.pki import TestCA
from margo_conformance.sut_device import Endpoints
from margo_conformance.wfm.config import WfmConfig
from margo_conformance.wfm.server import WfmServer


class SimulatedWfm:
    def __init__(self) -> None:
        self.ca = TestCA("Margo Conformance simulated WFM Root CA", intermediate=True)
        self.main = WfmServer(WfmConfig(observe=True, trust="auto"), ca=self.ca, hosts=("localhost",)).start()
        self.bootstrap_ca = TestCA("Margo Conformance bootstrap channel CA")
        self.unrelated_ca = TestCA("Unrelated CA")
        self.bootstrap = WfmServer(WfmConfig(observe=True, trust="auto"), ca=self.ca, hosts=("localhost",)).start()
        self._bootstrap_chain = self.bootstrap_ca.issue_server_cert("localhost", "127.0.0.1", "::1")
        self.bootstrap.reconfigure_tls(self._bootstrap_chain)
        self.bootstrap_used = False
        self._dir = Path(tempfile.mkdtemp(prefix="margo-simulated-wfm-"))
        self.bootstrap_ca_file = self.bootstrap_ca.write_cert_pem(self._dir / "bootstrap-ca.pem")

    def endpoints(self) -> Endpoints:
        return Endpoints(wfm_url=self.main.base_url, ca_file=self.main.ca_file,
                         bootstrap_url=self.bootstrap.base_url, bootstrap_ca_file=self.bootstrap_ca_file)

    def reset(self) -> None:
        for server in (self.main, self.bootstrap):
            server.observations.clear()
            server.faults.clear()
        self.main.reset_tls()
        self.bootstrap.reconfigure_tls(self._bootstrap_chain)
        self.bootstrap_used = False

    def present_untrusted_bootstrap_chain(self) -> None:
        self.bootstrap.reconfigure_tls(self.unrelated_ca.issue_server_cert("localhost", "127.0.0.1", "::1"))

    def stop(self) -> None:
        self.main.stop()
        self.bootstrap.stop()
