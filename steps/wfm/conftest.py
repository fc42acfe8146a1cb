"""WFM-role fixtures: the WFM under test for the whole run, a fresh scenario context per scenario.

Step definitions live in the ``*_steps.py`` modules beside this file, one per feature area; they are
imported here so that pytest-bdd sees them for every feature of the role.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.errors import SutUnreachable
from margo_conformance.pki import TestCA
from margo_conformance.preflight import clean_client_problem
from margo_conformance.pytest_plugin import RunState
from margo_conformance.sut.miaf_wfm import MiafWfmUnderTest, open_miaf_wfm_under_test
from margo_conformance.sut.wfm import WfmUnderTest, open_wfm_under_test

from .capability_steps import *  # noqa: F401,F403
from .common_steps import *  # noqa: F401,F403
from .context import WfmScenario
from .miaf_context import MiafScenario
from .miaf_steps import *  # noqa: F401,F403
from .miaf_transient_steps import *  # noqa: F401,F403
from .onboarding_steps import *  # noqa: F401,F403
from .route_steps import *  # noqa: F401,F403
from .shared_steps import *  # noqa: F401,F403
from .signing_steps import *  # noqa: F401,F403
from .trust_steps import *  # noqa: F401,F403


@pytest.fixture(scope="session")
def device_ca() -> TestCA:
    """The simulated devices' manufacturer CA (the issuer a WFM may be told to trust, CERT-12)."""
    return TestCA("Margo Conformance simulated device manufacturer CA")


@pytest.fixture(scope="session")
def wfm(run: RunState, device_ca: TestCA) -> Iterator[WfmUnderTest]:
    target = open_wfm_under_test(run.sut, device_ca)
    run.facts.update(target.facts)
    if not run.sut.builtin and target.operator.can("trust_issuer"):
        # A WFM with an allow-list trust policy must know the simulated devices' issuer before they onboard.
        ca_file = Path(tempfile.mkdtemp(prefix="margo-ca-")) / "manufacturer-ca.pem"
        device_ca.write_cert_pem(ca_file)
        target.operator.perform("trust_issuer", ca_file=str(ca_file))
        run.facts["wfm.trusted_issuer"] = device_ca.cert.subject.rfc4514_string()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def scenario(wfm: WfmUnderTest, device_ca: TestCA) -> WfmScenario:
    return WfmScenario(wfm=wfm, device_ca=device_ca)


# --- mutual-TLS profiles (MIAF): the harness plays WFM clients with SVIDs ----------------------------------


@pytest.fixture(scope="session")
def run_profile(run: RunState) -> Any:
    """The run's profile data (authenticator kind, routes, problem types, rule bindings)."""
    from margo_conformance.profiles import load_profile

    return load_profile(run.profile)


@pytest.fixture(scope="session")
def miaf_profile(run_profile: Any) -> Any:
    """The run's profile, under the name the mutual-TLS steps use."""
    return run_profile


@pytest.fixture(scope="session")
def miaf_wfm(run: RunState) -> Iterator[MiafWfmUnderTest]:
    """The MIAF WFM for the whole run: the builtin started with its SVID and policy, or a vendor's set up."""
    target = open_miaf_wfm_under_test(run.sut)
    run.facts.update(target.facts)
    if not run.sut.builtin:  # hooks mode installs the trust only now: is it in place? (one line, like the pre-flight)
        problem = clean_client_problem(target)
        if problem is not None:
            target.close()
            refused = SutUnreachable(problem)
            refused.silent = False
            raise refused
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def miaf(miaf_wfm: MiafWfmUnderTest) -> Iterator[MiafScenario]:
    scenario = MiafScenario(wfm=miaf_wfm)
    try:
        yield scenario
    finally:
        scenario.close()
        if scenario.restore_bundle:  # a rotation scenario put its bundle in: every later one expects {R1}
            files = miaf_wfm.authority.write_bundle(miaf_wfm.identity_dir, rotation="R1")
            miaf_wfm.operator.perform("trust_bundle", bundle_file=str(files.pem))
