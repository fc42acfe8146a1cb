"""Checks that judge a WFM's answers (role ``wfm``). Each states one fact and returns a Verdict.

No I/O, no exceptions for a SUT fault: a check looks at captured evidence and says what it saw.
The requirement IDs are bound where a step calls a check (the step text carries them), except where
the fact belongs to one requirement only.
"""

from __future__ import annotations

import re
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ..evidence import Exchange
from ..pki import CertificateDecodeError, decode_certificate
from ..schemas import error_body_family, problem_type_findings, validate
from ..tlsprobe import TlsProbeResult
from ..verdict import Verdict, check, judges

#: RFC 3986 unreserved characters (ONB-11).
URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
_STRICT_B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def _status(exchange: Exchange) -> int | None:
    return exchange.response.status if exchange.response is not None else None


@judges
def status_is(exchange: Exchange, expected: int) -> Verdict:
    observed = _status(exchange)
    what = f"status of {exchange.request.method} {_path(exchange)}"
    problem = _problem_type(exchange)
    return Verdict.of(observed == expected, what, expected=expected, observed=observed,
                      **({"problem_type": problem} if problem else {}))


@judges
def status_is_success(exchange: Exchange) -> Verdict:
    observed = _status(exchange)
    return Verdict.of(observed is not None and 200 <= observed < 300,
                      f"{exchange.request.method} {_path(exchange)} accepted", expected="2xx", observed=observed,
                      **({"problem_type": p} if (p := _problem_type(exchange)) else {}))


def _path(exchange: Exchange) -> str:
    return exchange.request.target or exchange.request.url


def _problem_type(exchange: Exchange) -> str | None:
    body = exchange.response.json() if exchange.response is not None else None
    return body.get("type") if isinstance(body, dict) and isinstance(body.get("type"), str) else None


@judges
def json_matches(exchange: Exchange, schema_name: str) -> Verdict:
    response = exchange.response
    if response is None:
        return Verdict.of(False, f"response is {schema_name} JSON", expected="a response", observed="none")
    media = (response.header("content-type") or "").split(";")[0].strip().lower()
    body = response.json()
    if media != "application/json" and not media.endswith("+json"):
        return Verdict.of(False, f"response is {schema_name} JSON", expected="Content-Type application/json",
                          observed=media or "(none)")
    errors = validate(schema_name, body) if body is not None else None
    if errors is None:
        return Verdict.of(False, f"response is {schema_name} JSON", expected="a JSON body", observed="not JSON")
    return Verdict.of(not errors, f"response body matches the {schema_name} schema", expected="no schema errors",
                      observed=[f"{e.pointer or '/'}: {e.message}" for e in errors] or "valid")


def certificate_value(exchange: Exchange) -> str | None:
    body = exchange.response.json() if exchange.response is not None else None
    value = body.get("certificate") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


@check("CERT-04")
def strict_base64(value: str | None) -> Verdict:
    """CERT-04: "Base64 without line breaks": standard alphabet, padding, no whitespace at all."""
    if value is None:
        return Verdict.of(False, "certificate value is strict base64", expected="a string", observed=None)
    bad = sorted({repr(ch) for ch in value if not (ch.isalnum() or ch in "+/=")})
    ok = bool(value) and _STRICT_B64.fullmatch(value) is not None
    return Verdict.of(ok, "certificate value is strict base64 without line breaks",
                      expected="[A-Za-z0-9+/] with '=' padding, no whitespace",
                      observed="strict base64" if ok else f"characters {', '.join(bad) or 'none'}; length {len(value)}")


@check("CERT-04")
def decodes_to_one_certificate(value: str | None) -> Verdict:
    """Q-09: base64(DER) and base64(PEM) both pass; the form found is reported."""
    if value is None:
        return Verdict.of(False, "certificate value decodes to one certificate", expected="a string", observed=None)
    try:
        decoded = decode_certificate(value, strict=False)
    except CertificateDecodeError as exc:
        return Verdict.of(False, "certificate value decodes to one X.509 certificate", expected="one certificate",
                          observed=f"{exc.reason}: {exc}")
    return Verdict.of(True, "certificate value decodes to one X.509 certificate", expected="one certificate",
                      observed=f"one certificate, form {decoded.form.value}", form=decoded.form.value,
                      notes=list(decoded.notes))


def root_certificate(value: str | None) -> x509.Certificate | None:
    if value is None:
        return None
    try:
        return decode_certificate(value, strict=False).certificate
    except CertificateDecodeError:
        return None


@check("CERT-05")
def is_ca_certificate(cert: x509.Certificate | None) -> Verdict:
    if cert is None:
        return Verdict.of(False, "root certificate has basicConstraints cA=TRUE", expected=True, observed="no certificate")
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = None
    return Verdict.of(ca is True, "root certificate has basicConstraints cA=TRUE", expected=True, observed=ca)


@check("CERT-05")
def is_self_signed(cert: x509.Certificate | None) -> Verdict:
    if cert is None:
        return Verdict.of(False, "root certificate is self-signed", expected=True, observed="no certificate")
    same_name = cert.issuer == cert.subject
    try:
        cert.verify_directly_issued_by(cert)
        verifies = True
    except (ValueError, TypeError, InvalidSignature):
        verifies = False
    # Advisory (DIGEST 6.1): the text asks for "the root CA"; a chain served up to an intermediate still
    # anchors TLS (TLS-06 judges that), so a non-self-signed answer is a remark, not a failure.
    return Verdict.of(same_name and verifies, "root certificate is self-signed (issuer = subject, signature verifies)",
                      expected=True, observed={"issuer_equals_subject": same_name, "self_signature_verifies": verifies},
                      advisory=True)


@judges
def handshake_succeeded(probe: TlsProbeResult, what: str) -> Verdict:
    return Verdict.of(probe.ok, what, expected="handshake completes",
                      observed=f"{probe.facts.version} {probe.facts.cipher}" if probe.ok else probe.facts.error,
                      peer_chain=probe.facts.peer_chain)


@judges
def handshake_refused(probe: TlsProbeResult, what: str) -> Verdict:
    return Verdict.of(not probe.ok, what, expected="handshake refused",
                      observed=probe.facts.error or f"accepted: {probe.facts.version}")


@check("TLS-05")
def no_client_certificate_requested(probe: TlsProbeResult) -> Verdict:
    requested = probe.facts.client_cert_requested
    return Verdict.of(requested is False, "server sent no CertificateRequest in the handshake",
                      expected=False, observed="not observable on this Python" if requested is None else requested)


@check("GEN-03")
def uses_port_443(port: int, base_url: str) -> Verdict:
    return Verdict.of(port == 443, "port of the WFM base URL", expected=443, observed=port, base_url=base_url)


@check("GEN-02")
def spoke_http11(exchange: Exchange) -> Verdict:
    version = exchange.response.http_version if exchange.response is not None else None
    alpn = exchange.tls.alpn if exchange.tls is not None else None
    return Verdict.of(version == "HTTP/1.1", "response protocol", expected="HTTP/1.1", observed=version, alpn=alpn)


def client_id_of(exchange: Exchange) -> str | None:
    body = exchange.response.json() if exchange.response is not None else None
    value = body.get("clientId") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


@check("ONB-11")
def client_id_url_safe(client_id: str | None) -> Verdict:
    ok = client_id is not None and URL_SAFE.fullmatch(client_id) is not None
    bad = sorted({ch for ch in (client_id or "") if not URL_SAFE.fullmatch(ch)})
    return Verdict.of(ok, "clientId uses only RFC 3986 unreserved characters", expected="[A-Za-z0-9._~-]+",
                      observed=client_id if ok else f"{client_id!r} (characters {bad})")


def client_id_form(client_id: str | None) -> str:
    """What kind of id the WFM issued (ONB-12 allows any URL-safe string, a UUIDv4 MAY): reported only."""
    try:
        is_v4 = client_id is not None and uuid.UUID(client_id).version == 4 and str(uuid.UUID(client_id)) == client_id.lower()
    except ValueError:
        is_v4 = False
    return "UUIDv4" if is_v4 else f"not a UUIDv4: {client_id!r}"


@check("ONB-11")
def ids_differ(first: str | None, second: str | None) -> Verdict:
    ok = first is not None and second is not None and first != second
    return Verdict.of(ok, "clientIds of two different certificates", expected="two different ids",
                      observed=[first, second])


@check("ONB-11", interpretations=["Q-13"])
def one_identity_per_certificate(first: Exchange, again: Exchange) -> Verdict:
    """Q-13: same id again, or a refusal, keep one identity; a second id is a duplicate identity."""
    status, first_id, second_id = _status(again), client_id_of(first), client_id_of(again)
    if status is not None and 400 <= status < 500:
        outcome, ok = f"refused with {status}", True
    elif status is not None and 200 <= status < 300 and second_id == first_id:
        outcome, ok = f"{status} with the same clientId", True
    elif status is not None and 200 <= status < 300:
        outcome, ok = f"{status} with a second clientId {second_id!r} (duplicate identity)", False
    else:
        outcome, ok = f"unexpected status {status}", False
    return Verdict.of(ok, "re-onboarding the same certificate", expected="same clientId or a 4xx refusal",
                      observed=outcome)


@check("ERR-01", interpretations=["Q-27"])
def error_body_is_known_family(exchange: Exchange) -> Verdict:
    response = exchange.response
    if response is None:
        return Verdict.of(False, "error body family", expected="problem details or {error}", observed="no response")
    family = error_body_family(response.body, response.header("content-type"))
    return Verdict.of(family in ("problem-details", "error"), "error body is problem details or an {error} object",
                      expected="problem-details or error", observed=family)


@check("ERR-02")
def problem_type_fits(exchange: Exchange) -> Verdict:
    response = exchange.response
    if response is None:
        return Verdict.of(False, "problem type", expected="a response", observed="none")
    findings = problem_type_findings(response.json(), response.status)
    problems = [f for f in findings if f.severity in ("error", "warning")]
    return Verdict(passed=not problems, what="problem type is the Margo type for the status",
                   expected="a https://docs.margo.org/specification/problems/<name> type with this status",
                   observed=_problem_type(exchange), findings=tuple(findings))


# --- refusals (DIGEST 6.1 rule 1: "refused at all" and "refused with which code" are two checks) ----------


@judges
def refused(exchange: Exchange) -> Verdict:
    """Must axis: the WFM turned the request away with a 4xx. A 2xx (accepted), a 5xx (a server error is no
    refusal) or no answer at all fail. The code itself is judged by ``refused_with_preferred_code`` or, where
    the spec states it, by ``status_is``."""
    observed = _status(exchange)
    return Verdict.of(observed is not None and 400 <= observed < 500,
                      f"{exchange.request.method} {_path(exchange)} refused", expected="a 4xx refusal",
                      observed=observed, **({"problem_type": p} if (p := _problem_type(exchange)) else {}))


@judges
def unknown_member_refused(exchange: Exchange) -> Verdict:
    """Advisory: a root member the schema forbids is refused (DIGEST CAP-08 for the WFM: "422 or 400
    (SHOULD; many WFMs will not check)"), so accepting it is a remark, never a failure of the run."""
    observed = _status(exchange)
    return Verdict.of(observed in (400, 422), "manifest with a root member the schema does not allow refused",
                      expected="422 or 400", observed=observed, advisory=True)


@judges
def refused_with_preferred_code(exchange: Exchange, question_id: str) -> Verdict:
    """Interpretation axis: the refusal code our position prefers, where the spec states none.

    The question (``profiles/<name>/requirements.yaml``) lists the preferred code and the accepted alternatives; the
    verdict says which one the SUT chose (``details.choice``), so a run reports "answered 400, an alternative
    Q-14 accepts" instead of a bare failure. Only meaningful after ``refused`` passed."""
    from ..requirements import load_catalog

    question = load_catalog().question(question_id)
    observed = _status(exchange)
    choice = question.choice(observed)
    expected = " or ".join(map(str, question.preferred))
    return Verdict(passed=choice == "preferred", what=f"refusal code of {exchange.request.method} {_path(exchange)}",
                   expected=expected, observed=observed, interpretations=(question_id,),
                   details={"choice": choice, "alternatives": list(question.alternatives),
                            **({"problem_type": p} if (p := _problem_type(exchange)) else {})})
