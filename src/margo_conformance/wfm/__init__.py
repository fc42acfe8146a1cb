"""The WFM server: the simulated WFM of the device-role suite and the reference WFM, one implementation.

In-process (``WfmServer``) it records and judges every byte a device under test sends and injects faults
on demand (``observe.py``); standalone (``margo-conformance wfm serve``) it is a reference WFM vendors
develop against and the system under test of the WFM-role self-tests, with named defects (``defects.py``).

Layout (one module, one job):

- ``config.py``     WfmConfig: trust policy, windows, TLS, certificate form, base URL, defects
- ``problems.py``   RFC 9457 problem+json bodies with the Margo problem type URIs; ``Rejection``
- ``context.py``    RequestContext: one received request as the checks see it (raw target, raw headers)
- ``pipeline.py``   the ordered request checks of DIGEST 2.7, one small function each (the order table is there)
- ``service.py``    WfmService: policies, key cache, clientIds, manual-approval waits (what checks call)
- ``manifests.py``  fast-accept capabilities validation with the core's schema (same answers, sooner)
- ``store.py``      SQLite (WAL) persistence: clients, certificates, capabilities, trust list, audit log
- ``app.py``        the Starlette application and the ASGI front layer (size limit, capture, faults)
- ``tls.py``        server SSL contexts and the server identity (chain, key) and its persistence
- ``transport.py``  uvicorn over TLS with our own protocol factory (handshake failures, raw headers)
- ``observe.py``    observation log and fault plan (the simulated-WFM side)
- ``operator.py``   approve / reject / revoke, and the token-protected loopback admin endpoint
- ``server.py``     WfmServer (in-process, background thread) and what ``serve`` runs
- ``simulated.py``  SimulatedWfm: the device suite's WFM (main, bootstrap and expired-chain servers)
- ``defects.py``    the named defects, each breaking exactly one requirement
- ``cli.py``        ``margo-conformance wfm serve | list | approve | reject | revoke | ...``
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public names and the module that defines each. Imported on first use, so that ``defects --role wfm`` or the
#: device suite's data classes do not load uvicorn and Starlette.
_EXPORTS = {
    "WfmConfig": ".config",
    "FaultPlan": ".observe", "FaultRule": ".observe", "Observation": ".observe", "ObservationLog": ".observe",
    "SERVER_CERT_CHOICES": ".server", "WfmServer": ".server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
