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
- ``program.py``    ``margo-conformance device run`` (argparse; ``cli.py`` is its typer entry)
- ``capture.py``    httpx requests, responses and library errors as evidence (shared with the MIAF device)
- ``miaf/``         the reference MIAF device (profile miaf-rc3)
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Loaded on first use (PEP 562): the reference device runs as a
#: process of its own once per device-role launch, and must not pay for the simulated device's imports.
_EXPORTS = {
    "BodyForm": "bodies", "DeviceClient": "client", "DeviceConfig": "client", "RetryPolicy": "client",
    "RunResult": "client", "WfmRefused": "client", "SimulatedDevice": "simulated", "Signer": "wire",
    "WfmNotTrusted": "wire", "WfmTimeout": "wire", "WfmTlsFailed": "wire", "WfmUnreachable": "wire", "Wire": "wire",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
