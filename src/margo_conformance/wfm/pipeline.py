"""The ordered checks of each route (DIGEST 2.7): one small function per fact, first failure answers.

A check reads the RequestContext, may record what it learned on it (the decoded certificate, the client, the
parsed document) and returns ``None`` to pass or a ``Rejection`` naming itself. The name travels in the
``X-Margo-Check`` response header, the audit log and the observation, so the conformance suites can assert
"status code AND which check rejected it" against this reference.

Onboarding, ``POST /api/v1/onboarding`` (the trust step is async, see ``decide_trust``):

=====  ======================  ======  ===============================  =========================================
order  check                   status  problem type                     requirement / position
=====  ======================  ======  ===============================  =========================================
0      body-size (front)       413     about:blank                      1 MiB limit
1      digest                  400     invalid-digest-header            DIG-03 (needs no key: first, as below)
2      content-type            415     about:blank                      GEN-06 (absent Content-Type is tolerated)
3      json                    400     invalid-request                  body is a UTF-8 JSON document
4      schema                  400     invalid-request (+ errors[])     ONB-02, ONB-03, Q-15 (400 preferred)
5      certificate             400     invalid-certificate-format       ONB-05, ONB-08, CERT-09 (decode + lint)
6      signature               401     signature-verification-failed    ONB-06, Q-03 (key of the body's cert)
7      trust                   403     certificate-not-trusted          ONB-09, CERT-12, ONB-10 (manual wait)
-      success                 201     {"clientId": ...}                ONB-07, ONB-11, ONB-14, Q-13
=====  ======================  ======  ===============================  =========================================

Capabilities, ``PUT`` / ``DELETE /api/v1/clients/{clientId}/capabilities/{deviceId}``:

=====  ======================  ======  ===============================  =========================================
order  check                   status  problem type                     requirement / position
=====  ======================  ======  ===============================  =========================================
0      body-size (front)       413     about:blank                      1 MiB limit
1      device-id-syntax        400     invalid-request                  CAP-10 (pattern, no %2F, no . or ..)
2      digest                  400     invalid-digest-header            DIG-03 (needs no key, so it comes first)
3      client-lookup           404     invalid-client                   SIG-14, Q-17 (404 before the signature:
                                                                        there is no key to verify with)
4      signature               401     signature-verification-failed    SIG-09..12, ONB-14 (the bound cert's key)
5      client-state            403     certificate-not-trusted          SIG-13 (revoked, rejected or pending)
6      content-type (PUT)      415     about:blank                      GEN-06
7      json (PUT)              400     invalid-request                  body is a UTF-8 JSON document
8      schema (PUT)            422     semantic-error (+ errors[])      CAP-08, CAP-09, CAP-14, ERR-07
9      semantics (PUT)         422     semantic-error (+ errors[])      CAP-11, CAP-12, CAP-17 (naming)
10     device-id-match (PUT)   422     semantic-error                   CAP-20, Q-18
11     parent-gateway (PUT)    404     about:blank                      CAP-13 (immediate parent must exist)
12     device-lookup (DELETE)  404     about:blank                      CAP-06
-      success                 201/200/204                              CAP-05 (201 created, 200 replaced), CAP-06
=====  ======================  ======  ===============================  =========================================

Why the digest comes first on both routes: it is a property of the message alone (DIGEST 2.7 prefers 400
for a digest mismatch) that needs neither a key nor a parsed body, and checking it first means a body-tampering
probe gets the same answer (``digest``) whatever the tampering did to the JSON syntax and whoever the URL
names. (An earlier plan checked the onboarding JSON and certificate before the digest; a one-bit tamper then
answered ``json`` or ``digest`` depending on which byte flipped.) Why the lookup comes before the signature: an unknown clientId has no certificate, so "signature
does not verify" would be a guess; the yaml says 404 and Q-17 prefers it. Why the state comes after the
signature: only a proven client learns that it was revoked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from cryptography.hazmat.primitives import serialization

from .. import httpsig, pki, schemas
from ..findings import Finding
from . import defects as D
from .context import RequestContext
from .problems import Rejection, reject

if TYPE_CHECKING:
    from .service import WfmService

Check = Callable[[RequestContext, "WfmService"], "Rejection | None"]

from ..patterns import CAPABILITIES_PATH_RE, DEVICE_ID_RE  # noqa: E402  (re-exported for app.py)
#: Accepted request media types: JSON, with parameters; an absent Content-Type is tolerated.
_JSON_MEDIA = re.compile(r"^\s*application/(?:[\w.+-]+\+)?json\s*(?:;.*)?$", re.IGNORECASE)
#: The accepted wire forms of the onboarding certificate (ONB-05, Q-09): base64 of DER or of PEM.
_ACCEPTED_FORMS = (pki.CertEncoding.B64_DER, pki.CertEncoding.B64_PEM)
_SIGNATURE_FIELDS = ("signature", "signature-input")


def _detail(findings: list[Finding], limit: int = 3) -> str:
    shown = "; ".join(str(f) for f in findings[:limit])
    more = len(findings) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def _field_errors(errors: list[schemas.SchemaError]) -> list[dict[str, str]]:
    return [{"field": e.pointer or "/", "message": e.message} for e in errors[:50]]


def _unsigned(ctx: RequestContext) -> bool:
    return not any(ctx.has_header(name) for name in _SIGNATURE_FIELDS)


def _incomplete_signature(ctx: RequestContext) -> bool:
    """unsigned-400: Signature or Signature-Input (or both) absent."""
    return not all(ctx.has_header(name) for name in _SIGNATURE_FIELDS)


# ---------------------------------------------------------------------------------------------- both routes
def check_content_type(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """GEN-06: request bodies are application/json; an explicit other media type is refused."""
    value = ctx.header("content-type")
    if value is None or _JSON_MEDIA.match(value):
        return None
    return reject(415, None, f"Content-Type {value[:80]!r} is not application/json", "content-type")


def check_json(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """The body is one JSON document in UTF-8 (RFC 8259 8.1)."""
    try:
        ctx.document = json.loads(ctx.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if svc.config.has(D.MALFORMED_JSON_500):
            return Rejection(500, None, "malformed JSON", "json", plain=True)
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not a JSON document"
        detail = f"the request body ({len(ctx.body)} bytes) is {reason}"
        if isinstance(exc, json.JSONDecodeError):
            detail += f": {exc.msg} at line {exc.lineno} column {exc.colno}"
        return reject(400, "invalid-request", detail, "json")
    return None


def check_digest(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """DIG-03: Content-Digest present and right when there is a body; when present on an empty body it must
    be the digest of the empty body (DIG-05)."""
    value = ctx.header("content-digest")
    if not ctx.body and value is None:
        return None
    findings = httpsig.check_content_digest(value, ctx.body, require_sha256=True)
    if svc.config.has(D.DIGEST_UNCHECKED):
        findings = [f for f in findings if f.code in ("digest-missing", "digest-malformed",
                                                      "digest-algorithm-unsupported")]
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        return reject(400, "invalid-digest-header", _detail(errors), "digest")
    return None


def _signature_rejection(verification: httpsig.Verification) -> Rejection:
    return reject(401, "signature-verification-failed", _detail(verification.errors), "signature")


# ---------------------------------------------------------------------------------------------- onboarding
def check_onboarding_schema(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """ONB-02, ONB-03: apiVersion, kind (OnboardingRequest) and certificate, strings; 400 (Q-15)."""
    errors = schemas.validate("onboarding-request", ctx.document)
    if errors:
        return reject(400, "invalid-request", _detail_schema(errors), "schema", errors=_field_errors(errors))
    return None


def _detail_schema(errors: list[schemas.SchemaError]) -> str:
    first = errors[0]
    where = first.pointer or "the document"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.message}{more}"


def check_certificate(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """ONB-05, ONB-08, CERT-09: one certificate, base64 of DER or of PEM, without RFC 5280 errors."""
    value = ctx.document["certificate"]
    try:
        decoded = pki.decode_certificate(value, strict=True)
    except pki.CertificateDecodeError as exc:
        ctx.certificate_findings.append(Finding(exc.reason, str(exc), "error", "ONB-08"))
        if svc.config.has(D.BAD_CERT_ACCEPTED):
            return None
        return reject(400, "invalid-certificate-format", f"certificate {exc.reason}: {exc}", "certificate")
    ctx.decoded_cert = decoded
    ctx.certificate_findings.extend(Finding("certificate-note", n, "info") for n in decoded.notes)
    if decoded.form not in _ACCEPTED_FORMS:
        ctx.certificate_findings.append(Finding(
            "certificate-not-base64", f"certificate is raw {decoded.form.value}, not base64", "error", "ONB-05"))
        if svc.config.has(D.BAD_CERT_ACCEPTED):
            return None
        return reject(400, "invalid-certificate-format",
                      f"certificate is raw {decoded.form.value}; ONB-05 requires base64 (of DER or of PEM)",
                      "certificate")
    lint = pki.lint_rfc5280(decoded.certificate, role="client")
    ctx.certificate_findings.extend(lint)
    errors = [f for f in lint if f.severity == "error"]
    if errors:
        return reject(400, "invalid-certificate-format", _detail(errors), "certificate")
    return None


def check_onboarding_signature(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """ONB-06, Q-03: the request is signed with the key of the certificate it submits (proof of possession);
    unsigned is 401 in the strict profile."""
    if ctx.decoded_cert is None:  # only with the onboarding-bad-cert-accepted defect: nothing to verify with
        return None
    if svc.config.has(D.ONBOARDING_UNSIGNED_ACCEPTED) and _unsigned(ctx):
        return None
    if svc.config.has(D.UNSIGNED_400) and _incomplete_signature(ctx):
        return reject(400, "invalid-request", "the request carries no complete signature", "signature")
    try:
        key = ctx.decoded_cert.certificate.public_key()
    except Exception as exc:  # an unusable key in an otherwise parsable certificate
        return reject(400, "invalid-certificate-format", f"certificate public key is unusable: {exc}", "certificate")
    ctx.verify_key = key  # type: ignore[assignment]
    ctx.verification = svc.verify(ctx, key)  # type: ignore[arg-type]
    if not ctx.verification.valid:
        return _signature_rejection(ctx.verification)
    return None


ONBOARDING_CHECKS: tuple[Check, ...] = (
    check_digest,
    check_content_type,
    check_json,
    check_onboarding_schema,
    check_certificate,
    check_onboarding_signature,
)


async def decide_trust(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """ONB-09, CERT-12, ONB-10, Q-13: bind the certificate to a clientId and decide whether it is trusted.

    - A certificate already bound returns its client: approved -> 201 with the SAME clientId (re-onboarding,
      Q-13 option a); pending -> wait again; rejected or revoked -> 403.
    - A new certificate: ``auto`` approves it; ``allow-list`` approves it when an allow-listed CA issued it or
      the operator pre-registered it, else 403 (no record is kept); ``manual`` approves those too, and
      otherwise creates a pending client and waits up to ``approval_timeout_s`` for an operator decision
      (approved -> 201, rejected -> 403, still pending -> 403; a later retry after approval gets 201 with the
      same clientId). The spec defines only 201/400/403 for onboarding, so there is no 202.
    """
    cfg = svc.config
    if ctx.decoded_cert is not None:
        cert_der = ctx.decoded_cert.certificate.public_bytes(serialization.Encoding.DER)
        cert = ctx.decoded_cert.certificate
        subject = _safe_subject(cert)
        spki = _spki_sha256(cert)
    else:  # onboarding-bad-cert-accepted: bind whatever string was sent
        cert_der = str(ctx.document.get("certificate", "")).encode("utf-8", "replace")
        cert, subject, spki = None, "", ""
    fingerprint = pki_fingerprint(cert_der)
    store = svc.store
    join_same_subject = cfg.has(D.CLIENT_ID_SHARED)
    if cfg.trust == "auto":  # insert-or-get in one group-committed transaction
        record, _ = await store.onboard_async(cert_der, spki_sha256=spki, subject=subject, state="approved",
                                              new_client_id=svc.new_client_id_for_onboarding, join_same_subject=join_same_subject)
    elif (existing := store.client_for_certificate(fingerprint)) is not None:
        record = existing
    else:
        trusted = cert is not None and svc.is_trusted(cert, fingerprint)
        if not trusted and cfg.trust == "allow-list":
            return reject(403, "certificate-not-trusted",
                          "the certificate was not issued by an allow-listed CA and was not pre-registered",
                          "trust")
        record, _ = await store.onboard_async(
            cert_der, spki_sha256=spki, subject=subject, state="approved" if trusted else "pending",
            new_client_id=svc.new_client_id_for_onboarding, join_same_subject=join_same_subject)
    if record.state == "revoked" and cfg.has(D.REVOKED_REONBOARD_FRESH_CLIENT):
        record = store.rebind_to_new_client(cert_der, client_id=svc.new_client_id(),
                                            subject=subject, state="approved")
    ctx.client_id = record.client_id
    state = record.state
    if state == "revoked" and cfg.has(D.REVOKED_REONBOARD_201):
        return None  # 201 with the revoked clientId; the client stays revoked (Q-33: a deviation, not a hole)
    if state == "pending":
        state = await svc.wait_for_decision(record.client_id, cfg.approval_timeout_s)
    if state == "approved":
        return None
    why = {"pending": f"awaiting an operator decision (waited {cfg.approval_timeout_s:g} s); retry later",
           "rejected": "the operator rejected this client", "revoked": "this client was revoked"}[state]
    return reject(403, "certificate-not-trusted", why, "trust")


def pki_fingerprint(der: bytes) -> str:
    from .store import sha256_hex

    return sha256_hex(der)


def _spki_sha256(cert: object) -> str:
    try:
        spki = cert.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except Exception:
        return ""
    return pki_fingerprint(spki)


def _safe_subject(cert: object) -> str:
    try:
        return cert.subject.rfc4514_string()[:200]  # type: ignore[attr-defined]
    except Exception:
        return ""


# ---------------------------------------------------------------------------------------------- capabilities
def check_device_path(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """CAP-10: {clientId} and {deviceId} decode to UTF-8; {deviceId} matches the DeviceId pattern, with no
    encoded '/' (it would change the hierarchy) and no '.' or '..' segment (URL normalisation would change
    the @target-uri)."""
    match = CAPABILITIES_PATH_RE.match(ctx.api_path)
    if match is None:
        return reject(400, "invalid-request", "the path is not /api/v1/clients/{clientId}/capabilities/{deviceId}",
                      "device-id-syntax")
    raw_client, raw_device = match.groups()
    try:
        ctx.client_id = unquote_to_bytes(raw_client).decode("utf-8")
        device = unquote_to_bytes(raw_device).decode("utf-8")
    except UnicodeDecodeError:
        return reject(400, "invalid-request", "a path parameter is not percent-encoded UTF-8", "device-id-syntax")
    if "%2f" in raw_device.lower() or not DEVICE_ID_RE.match(device) or any(
            seg in (".", "..") for seg in device.split("/")):
        return reject(400, "invalid-request",
                      f"deviceId {device[:100]!r} does not match {DEVICE_ID_RE.pattern} (or has a '.'/'..' "
                      "segment or an encoded '/')", "device-id-syntax")
    ctx.device_id = device
    return None


def check_client_known(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """SIG-14, Q-17: the clientId of the path was issued by this WFM (404 invalid-client)."""
    assert ctx.client_id is not None
    ctx.client = svc.store.client(ctx.client_id)
    if ctx.client is not None:
        return None
    if svc.config.has(D.UNKNOWN_CLIENT_401):
        return reject(401, "signature-verification-failed", "no key to verify the signature with", "client-lookup")
    return reject(404, "invalid-client", f"no client with clientId {ctx.client_id[:100]!r}", "client-lookup")


def check_capability_signature(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """SIG-09..SIG-12, ONB-14: signed with the key of the certificate bound to the path's clientId."""
    client = ctx.client
    assert client is not None
    if svc.config.has(D.UNSIGNED_ACCEPTED) and _unsigned(ctx):
        return None
    if svc.config.has(D.SIG_UNCHECKED_ON_DELETE) and ctx.method == "DELETE":
        return None
    if svc.config.has(D.UNSIGNED_400) and _incomplete_signature(ctx):
        return reject(400, "invalid-request", "the request carries no complete signature", "signature")
    first: httpsig.Verification | None = None
    for bound in client.certificates:  # one in the clean server; several only with client-id-shared
        key = svc.public_key(bound)
        if key is None:
            continue
        verification = svc.verify(ctx, key)
        if verification.valid:
            ctx.verification, ctx.verify_key = verification, key
            return None
        if first is None:
            first, ctx.verify_key = verification, key
    if first is None:  # a client bound to an unusable certificate (onboarding-bad-cert-accepted)
        return reject(401, "signature-verification-failed", "the client's certificate holds no usable key",
                      "signature")
    ctx.verification = first
    if svc.config.has(D.SIG_CROSS_CLIENT) and _verifies_with_keyid_client(ctx, svc, first):
        return None
    if svc.config.has(D.SIG_ANY_KEY) and _only_crypto_failed(first) and not _signed_by_other_client(ctx, svc):
        return None
    return _signature_rejection(first)


def _verifies_with_keyid_client(ctx: RequestContext, svc: WfmService, failed: httpsig.Verification) -> bool:
    """sig-cross-client: the defective lookup of the verification key by ``keyid`` among all clients."""
    keyid = failed.params.get("keyid")
    other = svc.store.client_by_spki(keyid) if isinstance(keyid, str) else None
    if other is None:
        return False
    for bound in other.certificates:
        key = svc.public_key(bound)
        if key is not None and (v := svc.verify(ctx, key)).valid:
            ctx.verification, ctx.verify_key = v, key
            return True
    return False


def _only_crypto_failed(verification: httpsig.Verification) -> bool:
    return {f.code for f in verification.errors} == {"signature-invalid"}


def _signed_by_other_client(ctx: RequestContext, svc: WfmService) -> bool:
    """sig-any-key stays narrow (SIG-09 only): a signature by another onboarded client's key is refused."""
    own = {c.sha256 for c in ctx.client.certificates} if ctx.client else set()
    for record in svc.store.clients():
        for bound in record.certificates:
            if bound.sha256 in own:
                continue
            key = svc.public_key(bound)
            if key is not None and svc.verify(ctx, key).valid:
                return True
    return False


def check_client_state(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """SIG-13: a revoked (or rejected, or still pending) client is refused with 403."""
    assert ctx.client is not None
    state = ctx.client.state
    if state == "approved" or (state == "revoked" and svc.config.has(D.REVOKED_ACCEPTED)):
        return None
    return reject(403, "certificate-not-trusted", f"client {ctx.client.client_id[:100]!r} is {state}", "client-state")


def check_manifest_schema(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """CAP-08, CAP-09, CAP-14: the DeviceCapabilitiesManifest schema; 422 with errors[] (ERR-07)."""
    errors = svc.manifests.schema_errors(ctx.body, ctx.document)
    if svc.config.has(D.CAPABILITY_ENUMS_UNCHECKED):
        errors = [e for e in errors if not (e.validator == "enum" and e.pointer.startswith("/properties/"))]
    if svc.config.has(D.EXTENSIONS_REJECTED) and isinstance(ctx.document, dict):
        extensions = [k for k in ctx.document if isinstance(k, str) and k.startswith("x-")]
        if extensions:
            return reject(422, "semantic-error", f"unknown members {extensions}", "schema",
                          errors=[{"field": f"/{k}", "message": "unknown member"} for k in extensions])
    if errors:
        return reject(422, "semantic-error", _detail_schema(errors), "schema", errors=_field_errors(errors))
    return None


def check_manifest_semantics(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """CAP-11, CAP-12, CAP-17: the rules the schema cannot state (all hosting fields or none, otelCollector
    true, extension naming). Warnings (unit format, apiVersion) do not reject."""
    findings = [f for f in svc.manifests.semantic_findings(ctx.body, ctx.document) if f.severity == "error"]
    if findings:
        errors = [{"field": _finding_field(f), "message": f.detail} for f in findings]
        return reject(422, "semantic-error", _detail(findings), "semantics", errors=errors)
    return None


def _finding_field(finding: Finding) -> str:
    if finding.code.startswith("hosting-field-missing:"):
        return "/properties/" + finding.code.split(":", 1)[1]
    if finding.code == "otel-collector-not-true":
        return "/properties/otelCollector"
    return "/"


def check_device_id_match(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """CAP-20, Q-18: properties.id equals the {deviceId} of the path."""
    if svc.config.has(D.DEVICE_ID_MISMATCH_ACCEPTED):
        return None
    manifest_id = ctx.document["properties"]["id"]
    if manifest_id != ctx.device_id:
        return reject(422, "semantic-error",
                      f"properties.id {manifest_id[:100]!r} differs from the path's deviceId {ctx.device_id!r}",
                      "device-id-match", errors=[{"field": "/properties/id", "message": "must equal {deviceId}"}])
    return None


def check_parent_gateway(ctx: RequestContext, svc: WfmService) -> Rejection | None:
    """CAP-13: a child (``gw/child``) is accepted only after its immediate parent reported."""
    assert ctx.device_id is not None and ctx.client_id is not None
    if "/" not in ctx.device_id or svc.config.has(D.CHILD_BEFORE_PARENT_ACCEPTED):
        return None
    parent = ctx.device_id.rsplit("/", 1)[0]
    if svc.store.has_device(ctx.client_id, parent):
        return None
    return reject(404, None, f"parent gateway {parent!r} has not reported its capabilities yet", "parent-gateway")


CAPABILITY_AUTH_CHECKS: tuple[Check, ...] = (
    check_device_path,
    check_digest,
    check_client_known,
    check_capability_signature,
    check_client_state,
)
CAPABILITY_PUT_CHECKS: tuple[Check, ...] = CAPABILITY_AUTH_CHECKS + (
    check_content_type,
    check_json,
    check_manifest_schema,
    check_manifest_semantics,
    check_device_id_match,
    check_parent_gateway,
)
CAPABILITY_DELETE_CHECKS: tuple[Check, ...] = CAPABILITY_AUTH_CHECKS


#: accept_faulty mode: checks whose failure is recorded, not answered (see WfmConfig.accept_faulty). The
#: others (path syntax, content type, JSON syntax) leave nothing to go on with and still answer.
WAIVABLE = frozenset({"digest", "certificate", "signature", "trust", "client-lookup", "client-state", "schema",
                      "semantics", "device-id-match", "parent-gateway"})
#: Checks that need the client record a waived client lookup did not find.
_NEEDS_CLIENT = frozenset({check_capability_signature, check_client_state})


def run_checks(checks: tuple[Check, ...], ctx: RequestContext, svc: WfmService) -> Rejection | None:
    lenient = svc.config.accept_faulty
    for check in checks:
        if lenient and ctx.client is None and check in _NEEDS_CLIENT and any(
                r.check == "client-lookup" for r in ctx.waived):
            continue
        rejection = check(ctx, svc)
        if rejection is None:
            continue
        if lenient and rejection.check in WAIVABLE:
            ctx.waived.append(rejection)
            if rejection.check == "certificate" and ctx.decoded_cert is None:
                _decode_leniently(ctx)
            continue
        ctx.check = rejection.check
        return rejection
    return None


def _decode_leniently(ctx: RequestContext) -> None:
    """accept_faulty: bind what a device sent in any decodable form (raw PEM, line breaks, ...)."""
    value = ctx.document.get("certificate") if isinstance(ctx.document, dict) else None
    if isinstance(value, str):
        try:
            ctx.decoded_cert = pki.decode_certificate(value, strict=False)
        except pki.CertificateDecodeError:
            pass
