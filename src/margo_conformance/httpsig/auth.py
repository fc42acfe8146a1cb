"""Signing httpx requests: the one path every signed request of the harness takes.

``SigningOptions`` says how to sign (algorithm, keyid, label, ``alg`` parameter, at most one ``Fault``);
``signature_fields`` turns options into the signature of one request, over the exact URL and body bytes that
are sent (a base-URL prefix included, Q-23/Q-24). The device's wire (the simulated device, the reference
device client) signs before it builds the request, so the request is built once with its signature fields;
``HttpSigAuth`` (any httpx client, e.g. a vendor's test code) signs a built request in place with
``sign_httpx_request``. Both go through ``signature_fields``: one implementation of what goes on the wire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace

import httpx

from .algorithms import PrivateKey
from .sign import Fault, SignedRequest, sign_request

SIGNATURE_FIELDS = ("Content-Digest", "Signature-Input", "Signature")


@dataclass(frozen=True)
class SigningOptions:
    """How to sign one request: the key and the core signer's knobs. A fault is just one more knob."""

    key: PrivateKey
    algorithm: str | None = None  # None: the key's natural Margo algorithm (httpsig.default_algorithm)
    keyid: str | None = None  # None: hex SHA-256 of the SPKI
    include_alg: bool = False
    label: str = "sig1"
    fault: Fault | None = None
    fault_key: PrivateKey | None = None
    fault_arg: str | None = None
    created_offset_s: int = 0  # added to the signing time; only the 'created-stale' defect moves it

    def with_fault(self, fault: Fault | str | None, *, fault_key: PrivateKey | None = None,
                   fault_arg: str | None = None) -> SigningOptions:
        return replace(self, fault=None if fault is None else Fault(fault), fault_key=fault_key,
                       fault_arg=fault_arg)


def signature_fields(method: str, url: str, body: bytes, options: SigningOptions, *,
                     now: Callable[[], float] = time.time) -> SignedRequest:
    """The signature of one request as ``options`` say, over ``url`` exactly as it is sent: the one place
    where options become a signature. Raises ValueError when they cannot sign it (a body fault, no body)."""
    return sign_request(
        method, url, body, options.key, algorithm=options.algorithm, keyid=options.keyid,
        created=int(now()) + options.created_offset_s, label=options.label, include_alg=options.include_alg,
        fault=options.fault, fault_key=options.fault_key, fault_arg=options.fault_arg, now=now,
    )


def sign_httpx_request(request: httpx.Request, options: SigningOptions, *,
                       now: Callable[[], float] = time.time) -> SignedRequest:
    """Sign a built ``request`` in place (its signature fields, and its body for TAMPERED_BODY)."""
    body = request.content
    signed = signature_fields(request.method, str(request.url), body, options, now=now)
    for name in SIGNATURE_FIELDS:
        request.headers.pop(name, None)  # never let a stale value ride along with the new one
    request.headers.update(signed.headers)
    if signed.body != body:  # TAMPERED_BODY: send other bytes than were signed
        request.stream = httpx.ByteStream(signed.body)
        request._content = signed.body
        request.headers["Content-Length"] = str(len(signed.body))
    return signed


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
        self.options = SigningOptions(key, algorithm=algorithm, keyid=keyid, include_alg=include_alg, label=label,
                                      fault=Fault(fault) if fault is not None else None, fault_key=fault_key,
                                      fault_arg=fault_arg)
        self.now = now
        #: Every request signed, in order (evidence for the reports).
        self.history: list[SignedRequest] = []
        self._lock = threading.Lock()

    def sign(self, request: httpx.Request) -> SignedRequest:
        """Sign ``request`` in place and return the record."""
        signed = sign_httpx_request(request, self.options, now=self.now)
        with self._lock:
            self.history.append(signed)
        return signed

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
