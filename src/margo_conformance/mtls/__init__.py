"""Mutual TLS with X.509-SVIDs as a client (the harness plays WFM clients): TLS contexts, refusals, the wire.

Under a mutual-TLS profile a server refuses a client at the TLS layer; that refusal is an answer the
checks judge (``evidence.TlsRefusal``), never "unreachable". Silence (no connection, no answer in time)
stays ``SutUnreachable`` / ``SutTimeout``.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Loaded on first use: the reference MIAF device reads only ``tls`` (its chain recorder), not the wire.
_EXPORTS = {"ClientIdentity": ".tls", "ServerChainRecorder": ".tls", "client_context": ".tls", "refusal_of": ".tls",
            "tls_alert": ".tls", "MtlsWire": ".wire"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
