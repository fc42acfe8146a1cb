"""The device client: the simulated device (role ``wfm``) and the reference device (standalone), one code.

- ``defects.py``    named defects, each one switch of ``Behaviour``
- ``trust.py``      SSL contexts: the WFM root CA alone, host name checked, TLS 1.3; bootstrap download
- ``identity.py``   key + certificate source and the state directory
- ``manifest.py``   the capabilities manifest: file, host, see-thru gateway
- ``api.py``        routes, onboarding body, certificate value, reading a refusal (problem type)
- ``bodies.py``     JSON bytes, and other encodings / content types for negative scenarios
- ``wire.py``       build, sign (core ``sign_request``), send, record an Exchange; errors translated once
- ``client.py``     DeviceClient: the reference flow with retries
- ``simulated.py``  SimulatedDevice: the explicit API the WFM-role steps drive
- ``cli.py``        ``margo-conformance device run``
"""

from __future__ import annotations

from .bodies import BodyForm
from .client import DeviceClient, DeviceConfig, RetryPolicy, RunResult, WfmRefused
from .simulated import SimulatedDevice
from .wire import Signer, WfmNotTrusted, WfmTimeout, WfmTlsFailed, WfmUnreachable, Wire

__all__ = ["BodyForm", "DeviceClient", "DeviceConfig", "RetryPolicy", "RunResult", "Signer", "SimulatedDevice",
           "WfmNotTrusted", "WfmRefused", "WfmTimeout", "WfmTlsFailed", "WfmUnreachable", "Wire"]
