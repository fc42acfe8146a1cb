"""The reference WFM of the MIAF rc.3 profile: mutual TLS with X.509-SVIDs, capabilities scoped to the caller's
SPIFFE ID, RFC 9457 problems with the profile's registered types (MIAF-CONTRACT section 3).

Layout (one module, one job):

- ``tls.py``       the server SSL context (mTLS against the bundle's anchors, TLS 1.3/1.2, strict X.509)
- ``identity.py``  the caller from the peer certificate: ``classify_client_svid`` plus the Q-57 key rules
- ``manifest.py``  the capability rules beyond the schema (Q-52)
- ``app.py``       the ASGI app: identity, route, policy, deviceId, body, gateway, record; problem+json
- ``store.py``     SQLite: accepted-client policy, trust bundle, capability records per (caller, deviceId), audit
- ``server.py``    MiafWfmServer (background thread, uvicorn over ``wfm/transport.py``) and MiafOperator
- ``serve.py``     what ``margo-conformance wfm serve --profile miaf-rc3`` runs (dev trust domain, admin.json)
- ``defects.py``   the named defects, each breaking one requirement
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MiafWfmServer": ".server", "MiafOperator": ".server", "MiafStore": ".store", "Exchange": ".app",
    "MIAF_WFM_DEFECTS": ".defects", "DEFECT_NAMES": ".defects", "recognise": ".identity", "Caller": ".identity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
