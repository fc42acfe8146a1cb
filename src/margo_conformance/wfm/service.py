"""WfmService: the state every handler and check shares (config, store, policies, key cache, waiters).

It is the seam between the protocol logic (``pipeline.py``) and the machinery around it (``app.py``,
``server.py``): the checks ask it to verify a signature, to find a client's public key, to mint a clientId or
to wait for an operator, and never touch uvicorn, sockets or the observation log themselves.

Verification policies (DIGEST 2.6, section 6):

- acceptance (decides the status code): MARGO_POLICY with the configured window and skew; an upper-case
  component name is a warning unless ``strict_component_case`` (Q-04); DER-encoded ECDSA is refused (Q-06).
  Defects loosen exactly one thing (``digest-unchecked``: no digest comparison; ``created-window-ignored``:
  no window).
- judgement (the observation's findings about a device): MARGO_POLICY with the configured window, i.e. the
  strict reading, run on every request even when it was accepted.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..httpsig import MARGO_POLICY, Verification, VerifyPolicy, verify_request
from ..pki import CertEncoding, encode_certificate
from . import defects as D
from .config import WfmConfig
from .context import RequestContext
from .manifests import ManifestJudge
from .store import BoundCertificate, Store, sha256_hex

if TYPE_CHECKING:
    from ..pki import PublicKey
    from .observe import FaultPlan, ObservationLog


class WfmService:
    def __init__(self, config: WfmConfig, store: Store, root: x509.Certificate, *,
                 observations: ObservationLog | None = None, faults: FaultPlan | None = None) -> None:
        self.config = config
        self.store = store
        #: The root CA the Certificate API hands out (CERT-05).
        self.root = root
        self.observations = observations
        self.faults = faults
        self.accept_policy = self._acceptance_policy(config)
        self.judge_policy: VerifyPolicy = replace(MARGO_POLICY, window_s=config.window_s,
                                                  future_skew_s=config.future_skew_s)
        self._keys: dict[str, PublicKey | None] = {}
        self._issuers: dict[bytes, x509.Certificate | None] = {}
        self._waiters: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._certificate_body = self._certificate_document()
        self.manifests = ManifestJudge()
        store.add_listener(self._on_state_change)

    @staticmethod
    def _acceptance_policy(config: WfmConfig) -> VerifyPolicy:
        policy = replace(MARGO_POLICY, window_s=config.window_s, future_skew_s=config.future_skew_s,
                         lowercase_components_only=config.strict_component_case)
        if config.has(D.DIGEST_UNCHECKED):
            policy = replace(policy, check_digest=False)
        if config.has(D.CREATED_WINDOW_IGNORED):
            policy = replace(policy, window_s=None, future_skew_s=None)
        return policy

    # ------------------------------------------------------------------ Certificate API
    def _certificate_document(self) -> bytes:
        """CERT-03/04: {"certificate": base64 of the root's DER (default) or PEM, one line}."""
        if self.config.has(D.ROOT_CA_LINE_BREAKS):
            form = CertEncoding.B64_DER_WRAPPED
        else:
            form = CertEncoding.B64_PEM if self.config.cert_form == "pem" else CertEncoding.B64_DER
        value = encode_certificate(self.root, form).decode("ascii")
        return b'{"certificate":"' + value.replace("\n", "\\n").encode("ascii") + b'"}'

    @property
    def certificate_body(self) -> bytes:
        return self._certificate_body

    # ------------------------------------------------------------------ signatures and keys
    def verify(self, ctx: RequestContext, key: PublicKey) -> Verification:
        return verify_request(ctx.method, ctx.url, ctx.headers, ctx.body, key, policy=self.accept_policy,
                              now=ctx.now)

    def judge(self, ctx: RequestContext, key: PublicKey) -> Verification:
        """The strict diagnosis of a device's request (observation), whatever the acceptance said."""
        if self.judge_policy == self.accept_policy and ctx.verification is not None and ctx.verify_key is key:
            return ctx.verification
        return verify_request(ctx.method, ctx.url, ctx.headers, ctx.body, key, policy=self.judge_policy,
                              now=ctx.now)

    def public_key(self, bound: BoundCertificate) -> PublicKey | None:
        """The public key of a bound certificate, parsed once per certificate."""
        if bound.sha256 not in self._keys:
            try:
                key = x509.load_der_x509_certificate(bound.der).public_key()
            except Exception:  # a certificate bound by the onboarding-bad-cert-accepted defect
                key = None
            self._keys[bound.sha256] = key  # type: ignore[assignment]
        return self._keys[bound.sha256]

    # ------------------------------------------------------------------ trust (CERT-12)
    def is_trusted(self, cert: x509.Certificate, fingerprint: str) -> bool:
        """Pre-registered by the operator, or directly issued by an allow-listed CA."""
        if self.store.is_certificate_preregistered(fingerprint):
            return True
        for der in self.store.trusted("issuer"):
            issuer = self._issuer(der)
            if issuer is None or issuer.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(issuer)
            except Exception:
                continue
            return True
        return False

    def _issuer(self, der: bytes) -> x509.Certificate | None:
        if der not in self._issuers:
            try:
                self._issuers[der] = x509.load_der_x509_certificate(der)
            except ValueError:
                self._issuers[der] = None
        return self._issuers[der]

    # ------------------------------------------------------------------ clientIds (ONB-11, ONB-12)
    def new_client_id(self) -> str:
        """A fresh UUIDv4 (ONB-12's MAY), or the non-URL-safe form of the client-id-not-url-safe defect."""
        value = uuid.uuid4()
        if self.config.has(D.CLIENT_ID_NOT_URL_SAFE):
            return base64.b64encode(value.bytes, altchars=b"+-").decode("ascii")  # always ends in '=='
        return str(value)

    def new_client_id_for_onboarding(self) -> str:
        """The id a new client gets: the fault plan's forced one (ONB-13) or a fresh one. Called by the store
        only when a certificate is not bound yet, so re-onboarding never consumes a forced id."""
        if self.faults is not None:
            forced = self.faults.take_client_id()
            if forced is not None:
                return forced
        return self.new_client_id()

    # ------------------------------------------------------------------ manual approval (ONB-10)
    def _on_state_change(self, client_id: str, state: str) -> None:
        loop, event = self._loop, self._waiters.get(client_id)
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def wait_for_decision(self, client_id: str, timeout: float) -> str:
        """The client's state once it is no longer pending, or "pending" after ``timeout`` seconds. Polls the
        store too, because the decision may come from another process (``wfm approve``)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        deadline = loop.time() + timeout
        event = self._waiters.setdefault(client_id, asyncio.Event())
        self._waiting[client_id] = self._waiting.get(client_id, 0) + 1
        try:
            while True:
                record = self.store.client(client_id)
                state = record.state if record is not None else "rejected"
                remaining = deadline - loop.time()
                if state != "pending" or remaining <= 0:
                    return state
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), min(remaining, self.config.approval_poll_s))
                except TimeoutError:
                    pass
        finally:
            self._waiting[client_id] -= 1
            if not self._waiting[client_id]:
                del self._waiting[client_id]
                self._waiters.pop(client_id, None)

def spki_sha256(cert: x509.Certificate) -> str:
    return sha256_hex(cert.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
