"""``HttpSigAuth``: the signer as an ``httpx.Auth``, so any httpx client sends Margo-signed requests.

It signs ``str(request.url)``, the exact URL httpx sends (a base-URL prefix included, Q-23/Q-24), over the
exact body bytes, and keeps every ``SignedRequest`` as evidence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator

import httpx

from .algorithms import PrivateKey
from .sign import Fault, SignedRequest, sign_request


class HttpSigAuth(httpx.Auth):
    """Signs each request (RFC 9421) with a Content-Digest (RFC 9530) over the exact body."""

    requires_request_body = True  # the digest needs the body bytes before the request goes out

    def __init__(
        self,
        key: PrivateKey,
        *,
        algorithm: str | None = None,
        keyid: str | None = None,
        include_alg: bool = False,
        fault: Fault | str | None = None,
        fault_key: PrivateKey | None = None,
        fault_arg: str | None = None,
        now: Callable[[], float] = time.time,
        label: str = "sig1",
    ) -> None:
        self.key = key
        self.algorithm = algorithm
        self.keyid = keyid
        self.include_alg = include_alg
        self.fault = Fault(fault) if fault is not None else None
        self.fault_key = fault_key
        self.fault_arg = fault_arg
        self.now = now
        self.label = label
        #: Every request signed, in order (evidence for the reports).
        self.history: list[SignedRequest] = []
        self._lock = threading.Lock()

    def sign(self, request: httpx.Request) -> SignedRequest:
        """Sign ``request`` in place (headers, and the body for TAMPERED_BODY) and return the record."""
        signed = sign_request(
            request.method, str(request.url), request.content, self.key, algorithm=self.algorithm,
            keyid=self.keyid, include_alg=self.include_alg, fault=self.fault, fault_key=self.fault_key,
            fault_arg=self.fault_arg, now=self.now, label=self.label,
        )
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            request.headers.pop(name, None)  # never let a stale value ride along with the new one
        request.headers.update(signed.headers)
        if signed.body != request.content:  # TAMPERED_BODY: send other bytes than were signed
            request.stream = httpx.ByteStream(signed.body)
            request._content = signed.body
            request.headers["Content-Length"] = str(len(signed.body))
        with self._lock:
            self.history.append(signed)
        return signed

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
