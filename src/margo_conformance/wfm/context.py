"""RequestContext: one received request as the checks see it, and what the checks learned about it.

The front layer (``app.py``) builds it from the raw ASGI scope before any routing, so every check works on
the bytes as received: the raw request target, the header names in their original case, the exact body.
``url`` is the ``@target-uri`` the WFM verifies against: the externally visible origin plus the *raw* path
and query (Starlette's decoded ``request.url`` would break signatures over percent-encoded paths, Q-24).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..findings import Finding

if TYPE_CHECKING:
    from ..httpsig import Verification
    from ..pki import DecodedCertificate, PublicKey
    from .store import ClientRecord


@dataclass
class RequestContext:
    method: str
    #: The request target exactly as on the request line (path and query, undecoded).
    target: str
    #: Raw path after the configured prefix (what the routes are matched against).
    api_path: str
    #: The @target-uri: origin + raw path (with prefix) + "?" + raw query when there is one.
    url: str
    #: Header fields as received: original name case, values decoded as latin-1 (lossless).
    headers: list[tuple[str, str]]
    body: bytes
    now: float
    remote: str | None = None
    #: "certificate", "onboarding", "capabilities", "admin" or None (unknown route).
    route: str | None = None
    #: Decoded path parameters (capabilities) or the clientId assigned (onboarding).
    client_id: str | None = None
    device_id: str | None = None
    client: ClientRecord | None = None
    document: Any = None
    decoded_cert: DecodedCertificate | None = None
    #: Findings about the certificate a device submitted (decode notes and RFC 5280 lint).
    certificate_findings: list[Finding] = field(default_factory=list)
    #: The verification that decided the request (acceptance policy), and the key it was judged with.
    verification: Verification | None = None
    verify_key: PublicKey | None = None
    #: Name of the check that rejected the request (None: accepted).
    check: str | None = None
    #: accept_faulty mode: the rejections that were recorded instead of answered, in check order.
    waived: list = field(default_factory=list)
    #: Fault the simulated WFM injected, if any.
    fault: str | None = None
    #: A clientId the fault plan asks the next new client to get (ONB-13).
    assign_client_id: str | None = None
    _index: dict[str, list[str]] | None = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """All values of one field, comma-joined (RFC 9110 5.3), or None when absent."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for key, value in self.headers:
                index.setdefault(key.lower(), []).append(value)
            self._index = index
        values = self._index.get(name.lower())
        return ", ".join(values) if values else None

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None
