"""The operator's side of the WFM: list, approve, reject, revoke, pre-register (ONB-09, ONB-10, SIG-13, CERT-12).

Three doors to the same actions, so WFM-role scenarios can exercise them on any WFM that offers hooks:

- in-process: ``Operator(store)`` (the simulated WFM and tests);
- command line: ``margo-conformance wfm list | approve ID | reject ID | revoke ID --data-dir DIR`` (works while
  the server runs: SQLite WAL, and a waiting onboarding polls the store);
- HTTP: the admin endpoint, plain HTTP bound to 127.0.0.1 only, every call with
  ``Authorization: Bearer <token>`` (the token is in ``DATA_DIR/admin.json``, mode 0600):

  ====== ============================================ ==================================================
  GET    /admin/clients[?state=pending]               list clients (fingerprints, never certificates)
  GET    /admin/clients/{clientId}                    one client
  POST   /admin/clients/{clientId}/approve|reject|revoke  decide; 200 with the client, 404 unknown
  POST   /admin/trust/issuers                         body: PEM CA certificate -> allow-listed issuer
  POST   /admin/trust/certificates                    body: PEM client certificate -> pre-registered
  GET    /admin/health                                200 {"status": "ok"}
  ====== ============================================ ==================================================

State changes are plain assignments (approve re-enables a revoked or rejected client; revoke works on any
client): the operator is trusted and the WFM records, it does not second-guess.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .store import ClientRecord, Store

Decision = Literal["approve", "reject", "revoke"]
_STATE_OF: dict[str, Literal["approved", "rejected", "revoked"]] = {
    "approve": "approved", "reject": "rejected", "revoke": "revoked"}
MAX_ADMIN_BODY = 64 * 1024


class Operator:
    """Operator actions on one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def clients(self, state: str | None = None) -> list[ClientRecord]:
        return self.store.clients(state)

    def client(self, client_id: str) -> ClientRecord:
        record = self.store.client(client_id)
        if record is None:
            raise KeyError(f"no client {client_id!r}")
        return record

    def decide(self, client_id: str, decision: Decision) -> ClientRecord:
        if decision not in _STATE_OF:
            raise ValueError(f"decision must be approve, reject or revoke, not {decision!r}")
        return self.store.set_state(client_id, _STATE_OF[decision])

    def approve(self, client_id: str) -> ClientRecord:
        return self.decide(client_id, "approve")

    def reject(self, client_id: str) -> ClientRecord:
        return self.decide(client_id, "reject")

    def revoke(self, client_id: str) -> ClientRecord:
        return self.decide(client_id, "revoke")

    def trust_issuer(self, cert: x509.Certificate | bytes) -> str:
        """Allow-list a CA: certificates it issued onboard without a decision (trust allow-list / manual)."""
        return self.store.add_trusted("issuer", _der(cert))

    def preregister(self, cert: x509.Certificate | bytes) -> str:
        """Pre-register one client certificate (the operator uploaded it by hand, CERT-12)."""
        return self.store.add_trusted("certificate", _der(cert))


def _der(cert: x509.Certificate | bytes) -> bytes:
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    data = bytes(cert)
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)


def _error(status: int, detail: str) -> Response:
    body = {"type": "about:blank", "title": {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                                              413: "Content Too Large"}.get(status, "Error"),
            "status": status, "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json",
                    headers={"www-authenticate": "Bearer"} if status == 401 else None)


def build_admin_app(operator: Operator, token: str) -> Starlette:
    """The token-protected admin API (bind it to loopback only)."""
    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        return hmac.compare_digest(given, expected)

    def guard(handler: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            if not authorized(request):
                return _error(401, "missing or wrong bearer token")
            try:
                return await handler(request)
            except KeyError as exc:
                return _error(404, str(exc.args[0]) if exc.args else "not found")
            except ValueError as exc:
                return _error(400, str(exc))
        return wrapped

    async def list_clients(request: Request) -> Response:
        state = request.query_params.get("state")
        return JSONResponse([c.to_dict() for c in operator.clients(state)])

    async def one_client(request: Request) -> Response:
        return JSONResponse(operator.client(request.path_params["client_id"]).to_dict())

    async def decide(request: Request) -> Response:
        record = operator.decide(request.path_params["client_id"], request.path_params["decision"])
        return JSONResponse(record.to_dict())

    async def body_certificate(request: Request) -> bytes:
        body = await request.body()
        if len(body) > MAX_ADMIN_BODY:
            raise ValueError("certificate body too large")
        return body

    async def trust_issuer(request: Request) -> Response:
        return JSONResponse({"sha256": operator.trust_issuer(await body_certificate(request))})

    async def preregister(request: Request) -> Response:
        return JSONResponse({"sha256": operator.preregister(await body_certificate(request))})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/admin/health", guard(health), methods=["GET"]),
        Route("/admin/clients", guard(list_clients), methods=["GET"]),
        Route("/admin/clients/{client_id}", guard(one_client), methods=["GET"]),
        Route("/admin/clients/{client_id}/{decision:str}", guard(decide), methods=["POST"]),
        Route("/admin/trust/issuers", guard(trust_issuer), methods=["POST"]),
        Route("/admin/trust/certificates", guard(preregister), methods=["POST"]),
    ])
