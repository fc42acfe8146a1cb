"""Mutual TLS with X.509-SVIDs as a client (the harness plays WFM clients): TLS contexts, refusals, the wire.

Under a mutual-TLS profile a server refuses a client at the TLS layer; that refusal is an answer the
checks judge (``evidence.TlsRefusal``), never "unreachable". Silence (no connection, no answer in time)
stays ``SutUnreachable`` / ``SutTimeout``.
"""

from .tls import ClientIdentity, ServerChainRecorder, client_context, refusal_of, tls_alert
from .wire import MtlsWire

__all__ = ["ClientIdentity", "MtlsWire", "ServerChainRecorder", "client_context", "refusal_of", "tls_alert"]
