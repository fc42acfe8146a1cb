"""Checks that judge what a device sent to the simulated WFM (role ``device``).

Each check reads observations (requests exactly as received, in arrival order) and states one fact.
Signatures are verified here, independently of the simulated WFM's own answer, with the key of the
certificate the device submitted at onboarding and the clock at the moment the request arrived.
A check that finds nothing to judge (e.g. no signed request at all) raises ``NotTested`` rather than
passing vacuously; the requirement that covers the absence (SIG-01, SIG-06) fails on its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from ..evidence import Exchange
from ..findings import Finding
from ..httpsig import MARGO_ALGORITHMS, MARGO_POLICY, Verification, parse_content_digest, verify_request
from ..pki import CertificateDecodeError, KeyType, decode_certificate, key_type_of, lint_rfc5280
from ..schemas import semantic_findings, validate
from ..verdict import NotTested, Verdict, check, judges

CERTIFICATE_ROUTE, ONBOARDING_ROUTE, CAPABILITIES_ROUTE = "certificate", "onboarding", "capabilities"
ALLOWED_KEYS = {KeyType.P256, KeyType.P384, KeyType.RSA2048, KeyType.RSA3072, KeyType.RSA1024}


def http(observations: Iterable[Any], route: str | None = None) -> list[Any]:
    return [o for o in observations if getattr(o, "kind", "http") == "http" and (route is None or o.route == route)]


def _label(o: Any) -> str:
    return f"#{getattr(o, 'seq', '?')} {o.request.method} {o.request.target or o.request.url}"


#: Any capabilities write, including the route of the 2025 drafts (POST .../capabilities without a deviceId),
#: which the simulated WFM does not route: CAP-04 must still see it to name it.
from ..patterns import ANY_CAPABILITIES_PATH_RE as _CAPABILITIES_PATH, CLIENTS_PREFIX  # noqa: E402


def capability_attempts(observations: Iterable[Any]) -> list[Any]:
    """Requests that try to write capabilities, on the current route or an older one."""
    return [o for o in http(observations) if o.route == CAPABILITIES_ROUTE
            or _CAPABILITIES_PATH.search((o.request.target or o.request.url or "").split("#")[0])]


def _need(items: list[Any], what: str) -> list[Any]:
    if not items:
        raise NotTested(f"the device sent no {what} to judge")
    return items


# --- trust ------------------------------------------------------------------------------------


@judges
def no_application_request(observations: list[Any], what: str) -> Verdict:
    """TLS-03/TLS-04: a device that must refuse the server sends no HTTP request at all."""
    requests = http(observations)
    refusals = [o.tls.error for o in observations if getattr(o, "kind", "") == "tls-failure" and o.tls]
    return Verdict.of(not requests, what, expected="no HTTP request (the TLS handshake refused)",
                      observed=[_label(o) for o in requests] or "no HTTP request",
                      handshake_refusals=refusals[:5])


@check("CERT-06")
def root_ca_fetched(bootstrap_observations: list[Any]) -> Verdict:
    fetched = [o for o in http(bootstrap_observations, CERTIFICATE_ROUTE) if o.status == 200]
    return Verdict.of(bool(fetched), "root CA downloaded over the bootstrap channel", expected="GET certificate -> 200",
                      observed=[o.summary() for o in bootstrap_observations] or "nothing")


@check("CERT-07")
def onboarded_over_downloaded_root(observations: list[Any]) -> Verdict:
    """The simulated WFM's chain leads only to the root the device downloaded: reaching it proves the device
    anchored its trust there."""
    onboarded = http(observations, ONBOARDING_ROUTE)
    return Verdict.of(bool(onboarded), "onboarding reached the WFM, whose chain leads only to the downloaded root",
                      expected="an onboarding request", observed=[o.summary() for o in observations] or "nothing")


@check("TLS-02", interpretations=["Q-08"])
def tls12_refused(observations: list[Any]) -> Verdict:
    """Interpretation (Q-08): the text says "TLS 1.3 or greater"; a device that still talks to a TLS 1.2-only
    WFM deviates from our reading (a warning in a default run, a failure with --strict)."""
    return no_application_request(observations, "HTTP requests to a WFM that offers only TLS 1.2")


# --- onboarding -------------------------------------------------------------------------------


def onboarding_request(observations: list[Any]) -> Any:
    return _need(http(observations, ONBOARDING_ROUTE), "onboarding request")[0]


def _body(o: Exchange) -> Any:
    return o.request.json()


@check("ONB-01")
def onboarding_posted(o: Exchange) -> Verdict:
    path = (o.request.target or "").split("?")[0]
    ok = o.request.method == "POST" and path.endswith("/api/v1/onboarding")
    return Verdict.of(ok, "onboarding request method and path", expected="POST /api/v1/onboarding",
                      observed=f"{o.request.method} {path}")


@check("ONB-02")
def onboarding_body_schema(o: Exchange) -> Verdict:
    body = _body(o)
    errors = validate("onboarding-request", body) if body is not None else None
    return Verdict.of(errors == [], "onboarding body matches the OnboardingRequest schema",
                      expected="apiVersion, kind, certificate strings",
                      observed="not JSON" if errors is None else ([f"{e.pointer or '/'}: {e.message}" for e in errors] or "valid"))


@check("ONB-03")
def onboarding_kind_exact(o: Exchange) -> Verdict:
    body = _body(o)
    kind = body.get("kind") if isinstance(body, dict) else None
    return Verdict.of(kind == "OnboardingRequest", "onboarding kind", expected="OnboardingRequest", observed=kind)


@check("ONB-04", interpretations=["Q-21"])
def onboarding_api_version(o: Exchange) -> Verdict:
    body = _body(o)
    value = body.get("apiVersion") if isinstance(body, dict) else None
    return Verdict.of(value == "onboarding.margo.org/v1alpha1", "onboarding apiVersion (the spec's example value)",
                      expected="onboarding.margo.org/v1alpha1", observed=value)


def submitted_certificate(o: Exchange) -> tuple[Any, str | None, str | None]:
    """(certificate or None, wire form, decode error reason)."""
    body = _body(o)
    value = body.get("certificate") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None, None, "no certificate string"
    try:
        decoded = decode_certificate(value, strict=True)
    except CertificateDecodeError as exc:
        return None, None, f"{exc.reason}: {exc}"
    return decoded.certificate, decoded.form.value, None


@check("ONB-05")
def certificate_is_base64(o: Exchange) -> Verdict:
    cert, form, error = submitted_certificate(o)
    ok = cert is not None and form in ("base64-der", "base64-pem")
    return Verdict.of(ok, "onboarding certificate is base64 of one X.509 certificate (DER or PEM)",
                      expected="base64(DER) or base64(PEM)", observed=form or error)


@check("CERT-09")
def certificate_rfc5280(o: Exchange) -> Verdict:
    cert, _, error = submitted_certificate(o)
    if cert is None:
        raise NotTested(f"the submitted certificate does not decode ({error}); ONB-05 judges that")
    findings = [f for f in lint_rfc5280(cert, role="client") if f.code != "key-type-not-allowed"]
    errors = [f for f in findings if f.severity == "error"]
    return Verdict(passed=not errors, what="submitted certificate conforms to RFC 5280",
                   expected="no RFC 5280 violation", observed=[f.code for f in errors] or "clean",
                   findings=tuple(findings))


@check("CERT-09")
def certificate_ca_flag(o: Exchange) -> Verdict:
    """Advisory (DIGEST 5.1): cA=TRUE on a CA-issued leaf could issue certificates of its own; on a self-signed
    certificate (the openssl req -x509 default) it is reported as info and passes. Never a failure of the run."""
    cert, _, error = submitted_certificate(o)
    if cert is None:
        raise NotTested(f"the submitted certificate does not decode ({error}); ONB-05 judges that")
    flags = tuple(f for f in lint_rfc5280(cert, role="client") if f.code in ("ca-flag-on-leaf", "ca-flag-self-signed"))
    on_leaf = any(f.code == "ca-flag-on-leaf" for f in flags)
    return Verdict(passed=not on_leaf, what="basicConstraints of the submitted certificate",
                   expected="no cA=TRUE on a CA-issued leaf", observed=[f.code for f in flags] or "no CA flag",
                   findings=flags, advisory=True)


@check("CERT-11")
def certificate_key_allowed(o: Exchange) -> Verdict:
    cert, _, error = submitted_certificate(o)
    if cert is None:
        raise NotTested(f"the submitted certificate does not decode ({error}); ONB-05 judges that")
    try:
        kt = key_type_of(cert.public_key())
    except (ValueError, TypeError):
        kt = None
    return Verdict.of(kt in ALLOWED_KEYS, "key type of the submitted certificate", expected="EC P-256, EC P-384 or RSA",
                      observed=kt.value if kt else "unsupported")


def verify_with(o: Exchange, cert: Any) -> Verification:
    request = o.request
    return verify_request(request.method, request.url, request.headers, request.body, cert.public_key(),
                          policy=MARGO_POLICY, now=o.started_at)


@check("ONB-06", interpretations=["Q-03"])
def onboarding_signed(o: Exchange) -> Verdict:
    """Interpretation (Q-03): the onboarding POST carries a signature at all. The text says it MUST be
    authenticated, but the diagram (issue 135) shows signing start after onboarding; our reading is the MUST."""
    present = [name for name in ("signature", "signature-input") if o.request.header(name)]
    return Verdict.of(len(present) == 2, "onboarding request carries Signature and Signature-Input",
                      expected=["signature", "signature-input"], observed=present or "unsigned")


@check("ONB-06")
def onboarding_signed_by_submitted_key(o: Exchange) -> Verdict:
    """Must: a signature that is there verifies with the key of the certificate it submits (proof of
    possession). An unsigned request is onboarding_signed's finding, not this one's."""
    if not (o.request.header("signature") and o.request.header("signature-input")):
        raise NotTested("the onboarding request is unsigned (judged on Q-03); there is no signature to verify")
    cert, _, error = submitted_certificate(o)
    if cert is None:
        cert = _lenient_certificate(o)
        if cert is None:
            raise NotTested(f"the submitted certificate does not decode ({error}); ONB-05 judges that")
    result = verify_with(o, cert)
    bad = [f for f in result.findings if f.code in _PROOF_CODES]
    return Verdict(passed=not bad, what="onboarding request is signed by the key of the submitted certificate",
                   expected="a signature that verifies with that key", observed=[f.code for f in bad] or "verifies",
                   findings=tuple(result.findings), details={"signature_base": result.signature_base})


def _lenient_certificate(o: Exchange) -> Any:
    body = _body(o)
    value = body.get("certificate") if isinstance(body, dict) else None
    try:
        return decode_certificate(value, strict=False).certificate if isinstance(value, (str, bytes)) else None
    except CertificateDecodeError:
        return None


_PROOF_CODES = {"missing-signature", "missing-signature-input", "malformed-signature-input", "malformed-signature",
                "signature-invalid", "ecdsa-der-encoding", "alg-key-mismatch", "key-unsupported"}


def onboarded_certificate(observations: list[Any]) -> Any:
    """The certificate of the last onboarding the WFM accepted (its key verifies later requests)."""
    for o in reversed(http(observations, ONBOARDING_ROUTE)):
        if o.status is not None and 200 <= o.status < 300:
            cert = _lenient_certificate(o)
            if cert is not None:
                return cert
    raise NotTested("the device was not onboarded, so there is no certificate to verify its requests with")


def after_onboarding(observations: list[Any]) -> list[Any]:
    """Requests that arrived after the first successful onboarding (what ONB-13 and CAP-13 speak of)."""
    done = next((o.seq for o in http(observations, ONBOARDING_ROUTE)
                 if o.status is not None and 200 <= o.status < 300), None)
    return [] if done is None else [o for o in http(observations) if o.seq > done]


@check("ONB-13")
def client_id_used_verbatim(observations: list[Any], client_id: str) -> Verdict:
    later = _need([o for o in after_onboarding(observations) if o.route == CAPABILITIES_ROUTE],
                  "request after onboarding")
    prefix = CLIENTS_PREFIX
    wrong = []
    for o in later:
        target = o.request.target or ""
        path = target.split("?")[0]
        at = path.find(prefix)
        segment = path[at + len(prefix):].split("/")[0] if at >= 0 else None
        if segment != client_id:
            wrong.append(f"{_label(o)} (clientId segment {segment!r})")
    return Verdict.of(not wrong, "clientId in the path of every later request, byte for byte",
                      expected=client_id, observed=wrong or "all verbatim")


@check("ONB-15")
def onboarding_before_capabilities(observations: list[Any]) -> Verdict:
    order = [(o.seq, o.route, o.status) for o in http(observations)]
    first_ok = next((seq for seq, route, status in order
                     if route == ONBOARDING_ROUTE and status is not None and 200 <= status < 300), None)
    early = [seq for seq, route, _ in order if route == CAPABILITIES_ROUTE and (first_ok is None or seq < first_ok)]
    return Verdict.of(not early, "capabilities are reported only after a successful onboarding",
                      expected="onboarding (2xx) before any capabilities request",
                      observed=[f"#{s} {r} -> {st}" for s, r, st in order])


@check("ONB-15")
def no_capabilities_after_refusal(observations: list[Any]) -> Verdict:
    caps = http(observations, CAPABILITIES_ROUTE)
    return Verdict.of(not caps, "no capabilities report after onboarding was refused",
                      expected="no capabilities request", observed=[_label(o) for o in caps] or "none")


@check("ERR-04")
def refused_request_not_repeated(observations: list[Any]) -> Verdict:
    """A 400 says the request is wrong: sending the same bytes again cannot help (ERR-04 SHOULD)."""
    tries = _need(http(observations, ONBOARDING_ROUTE), "onboarding request")
    bodies = [o.request.body for o in tries]
    repeats = len(bodies) - len(set(bodies))
    return Verdict.of(repeats == 0, "identical onboarding requests after a 400", expected=0, observed=repeats,
                      attempts=len(tries))


@judges
def requests_under_base_url(observations: list[Any], prefix: str) -> Verdict:
    """GEN-03/GEN-04 (bound by the step): every request hit an API route under the configured base URL."""
    reached = [o.summary() for o in http(observations)]
    legacy = {id(o) for o in capability_attempts(observations)}  # an old capabilities route is CAP-04's finding
    outside = [o.summary() for o in http(observations) if o.route is None and id(o) not in legacy]
    return Verdict.of(bool(reached) and not outside, f"requests under {prefix or '/'}api/v1 of the WFM base URL",
                      expected="onboarding and capabilities on the API routes", observed=outside or reached)


@check("GEN-02")
def http11_only(observations: list[Any]) -> Verdict:
    versions = sorted({o.request.http_version for o in http(observations)})
    return Verdict.of(versions == ["HTTP/1.1"], "HTTP version of the device's requests", expected="HTTP/1.1",
                      observed=versions or "no request")


@check("GEN-06")
def json_content_type(observations: list[Any]) -> Verdict:
    with_body = _need([o for o in http(observations) if o.request.body], "request with a body")
    bad = [f"{_label(o)}: {o.request.header('content-type')!r}" for o in with_body
           if (o.request.header("content-type") or "").split(";")[0].strip().lower() != "application/json"]
    return Verdict.of(not bad, "Content-Type of request bodies", expected="application/json",
                      observed=bad or "application/json")


# --- request signing ----------------------------------------------------------------------------


def signed_requests(observations: list[Any]) -> list[Any]:
    return [o for o in http(observations) if o.route != CERTIFICATE_ROUTE
            and (o.request.header("signature") or o.request.header("signature-input"))]


@check("SIG-01")
def every_request_signed(observations: list[Any]) -> Verdict:
    """Must: every request bound to a clientId is signed. Whether the onboarding POST is signed rests on Q-03
    (issue 135's diagram shows signing start after it), so ``onboarding_signed`` judges it on that axis."""
    protected = _need([o for o in http(observations) if o.route not in (CERTIFICATE_ROUTE, ONBOARDING_ROUTE)],
                      "request after onboarding")
    unsigned = [_label(o) for o in protected
                if not (o.request.header("signature") and o.request.header("signature-input"))]
    return Verdict.of(not unsigned, "every request after onboarding carries Signature and Signature-Input",
                      expected="all signed", observed=unsigned or f"all {len(protected)} signed")


def _judge_each(observations: list[Any], cert: Any, codes: set[str], what: str, expected: str) -> Verdict:
    requests = _need(signed_requests(observations), "signed request")
    bad: list[str] = []
    findings: list[Finding] = []
    for o in requests:
        key_cert = cert if cert is not None else _lenient_certificate(o)
        if key_cert is None:
            continue
        result = verify_with(o, key_cert)
        hits = [f for f in result.findings if f.code in codes or any(f.code.startswith(c + ":") for c in codes)]
        findings.extend(hits)
        if any(f.severity == "error" for f in hits):
            bad.append(f"{_label(o)}: {', '.join(f.code for f in hits)}")
    return Verdict(passed=not bad, what=what, expected=expected, observed=bad or f"all {len(requests)} requests",
                   findings=tuple(findings))


@check("SIG-02")
def required_components_covered(observations: list[Any]) -> Verdict:
    """Must: the three components are covered, whatever their letter case (the case is Q-04's question)."""
    requests = _need(signed_requests(observations), "signed request")
    bad = []
    for o in requests:
        names = [c.lower() for c in _covered(o)]
        missing = [c for c in ("@method", "@target-uri") if c not in names]
        if o.request.header("content-digest") is not None and "content-digest" not in names:
            missing.append("content-digest")
        if missing:
            bad.append(f"{_label(o)}: missing {missing}")
    return Verdict.of(not bad, 'covered components include "@method", "@target-uri" and "content-digest"',
                      expected="all three (any letter case)", observed=bad or f"all {len(requests)} requests")


@check("SIG-02", interpretations=["Q-04"])
def component_names_lower_case(observations: list[Any]) -> Verdict:
    """Interpretation (Q-04): RFC 9421 field names are lower case; the Margo text writes "Content-Digest"."""
    requests = _need(signed_requests(observations), "signed request")
    upper = [f"{_label(o)}: {[c for c in _covered(o) if c != c.lower()]}" for o in requests
             if any(c != c.lower() for c in _covered(o))]
    return Verdict.of(not upper, "covered component names are lower case", expected="lower case",
                      observed=upper or f"all {len(requests)} requests")


def _covered(o: Exchange) -> list[str]:
    """Component names of the first signature in Signature-Input, exactly as the device wrote them."""
    import http_sf

    value = o.request.header("signature-input") or ""
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception:  # a malformed Signature-Input is SIG-05's finding (malformed-signature-input)
        return []
    for member, _params in parsed.values():
        if isinstance(member, list):
            return [str(item) for item, _item_params in member if isinstance(item, str)]
    return []


@check("SIG-03")
def created_and_keyid(observations: list[Any], cert: Any) -> Verdict:
    return _judge_each(observations, cert, {"missing-created", "created-not-integer", "created-too-old",
                                            "created-in-future", "missing-keyid"},
                       "created (the signing time, within the window) and keyid parameters",
                       "created within 300 s back / 60 s ahead of arrival; keyid present")


@check("SIG-07")
def allowed_algorithm(observations: list[Any], cert: Any) -> Verdict:
    """The algorithm a request used: from ``alg`` when given, else from the key (ECDSA by curve); an RSA
    signature that verifies under no padding leaves the algorithm unknown, and SIG-05 judges that one."""
    requests = _need(signed_requests(observations), "signed request")
    used: dict[str, str | None] = {}
    for o in requests:
        result = verify_with(o, cert if cert is not None else _lenient_certificate(o))
        algorithm = result.algorithm or result.params.get("alg") or _curve_algorithm(cert)
        if algorithm is not None:
            used[_label(o)] = str(algorithm)
    if not used:
        raise NotTested("no request's algorithm could be determined (the signatures do not verify; SIG-05)")
    bad = {k: v for k, v in used.items() if v not in MARGO_ALGORITHMS}
    return Verdict.of(not bad, "signature algorithm is one of the four Margo algorithms",
                      expected=list(MARGO_ALGORITHMS), observed=bad or sorted(set(used.values()), key=str))


def _curve_algorithm(cert: Any) -> str | None:
    try:
        kt = key_type_of(cert.public_key()) if cert is not None else None
    except (ValueError, TypeError):
        return None
    return {KeyType.P256: "ecdsa-p256-sha256", KeyType.P384: "ecdsa-p384-sha384", KeyType.ED25519: "ed25519"}.get(kt)


@check("SIG-05")
def ecdsa_raw_encoding(observations: list[Any], cert: Any) -> Verdict:
    return _judge_each(observations, cert, {"ecdsa-der-encoding"}, "ECDSA signatures are raw r||s (not DER)",
                       "r||s (64 bytes for P-256, 96 for P-384)")


@check("SIG-05")
def signature_verifies(observations: list[Any], cert: Any) -> Verdict:
    return _judge_each(observations, cert, {"signature-invalid", "alg-key-mismatch", "malformed-signature",
                                            "malformed-signature-input", "key-unsupported"},
                       "every signature verifies with the key of the onboarded certificate",
                       "signatures that verify")


@check("SIG-06")
def body_requests_carry_headers(observations: list[Any]) -> Verdict:
    with_body = _need([o for o in http(observations) if o.request.body and o.route != CERTIFICATE_ROUTE],
                      "request with a body")
    bad = []
    for o in with_body:
        # The onboarding POST's signature is Q-03's question (onboarding_signed); its digest is not.
        wanted = ("content-digest",) if o.route == ONBOARDING_ROUTE else ("content-digest", "signature-input", "signature")
        absent = [h for h in wanted if o.request.header(h) is None]
        if absent:
            bad.append(f"{_label(o)}: no {', '.join(absent)}")
    return Verdict.of(not bad, "requests with a body carry Content-Digest, Signature-Input and Signature",
                      expected="all three headers", observed=bad or f"all {len(with_body)} requests")


@check("DIG-01")
def digest_matches_body(observations: list[Any]) -> Verdict:
    """RFC 9530: sha-256 over the exact body bytes received; standard base64 byte sequence (DIG-06)."""
    with_digest = _need([o for o in http(observations) if o.request.header("content-digest") is not None],
                        "request with a Content-Digest")
    bad = []
    for o in with_digest:
        header = o.request.header("content-digest") or ""
        want = base64.b64encode(hashlib.sha256(o.request.body).digest())
        try:
            members = parse_content_digest(header)
        except ValueError as exc:
            bad.append(f"{_label(o)}: malformed ({exc})")
            continue
        sent = members.get("sha-256")
        if sent is None:
            bad.append(f"{_label(o)}: no sha-256 member (has {sorted(members)})")
        elif base64.b64encode(sent) != want:
            bad.append(f"{_label(o)}: sha-256 {base64.b64encode(sent).decode()} != {want.decode()} of {len(o.request.body)} body bytes")
    return Verdict.of(not bad, "Content-Digest sha-256 equals SHA-256 of the body as received",
                      expected="sha-256=:<base64(SHA-256(body))>:", observed=bad or f"all {len(with_digest)} requests")


# --- capabilities ---------------------------------------------------------------------------------


@check("CAP-04")
def capabilities_written_with_put(observations: list[Any]) -> Verdict:
    """CAP-04: PUT on .../capabilities/{deviceId}; a POST (the 2025 drafts) or a path without the deviceId is
    named, so the vendor sees which route it used."""
    attempts = _need(capability_attempts(observations), "capabilities report")
    wrong = [_label(o) for o in attempts if o.request.method != "PUT" or o.route != CAPABILITIES_ROUTE]
    return Verdict.of(not wrong, "capabilities written with PUT /api/v1/clients/{clientId}/capabilities/{deviceId}",
                      expected="PUT on the deviceId path", observed=wrong or f"all {len(attempts)} with PUT")


def capability_reports(observations: list[Any]) -> list[Any]:
    return _need([o for o in http(observations, CAPABILITIES_ROUTE) if o.request.method == "PUT"],
                 "capabilities report")


def _device_id(o: Exchange) -> str:
    target = (o.request.target or "").split("?")[0]
    marker = "/capabilities/"
    return target[target.find(marker) + len(marker):] if marker in target else ""


@check("CAP-08")
def manifest_schema(observations: list[Any], requirement: str | None = None) -> Verdict:
    """The DeviceCapabilitiesManifest schema; with ``requirement``, only the errors that rule belongs to (the
    step binds the ID), so one broken enum fails CAP-14 and not the five other rules the schema encodes."""
    reports = _need(capability_reports(observations), "capabilities report")
    bad = []
    for o in reports:
        body = _body(o)
        errors = validate("device-capabilities-manifest", body) if body is not None else None
        if errors is None:
            if requirement in (None, "CAP-08"):
                bad.append(f"{_label(o)}: not JSON")
            continue
        errors = [e for e in errors if requirement is None or schema_rule(e) == requirement]
        if errors:
            bad.append(f"{_label(o)}: " + "; ".join(f"{e.pointer or '/'}: {e.message}" for e in errors[:5]))
    rule = f" ({requirement}'s rules)" if requirement else ""
    return Verdict.of(not bad, f"every manifest matches the DeviceCapabilitiesManifest schema{rule}",
                      expected="no schema errors", observed=bad or f"all {len(reports)} valid")


_IDENTITY = ("id", "vendor", "modelNumber", "serialNumber")


_HOSTING = ("/properties/supportedRuntimes", "/properties/supportedDeploymentTypes", "/properties/otelCollector")


def schema_rule(error: Any) -> str:
    """Which requirement a schema error breaks: extensions (CAP-17), enums (CAP-14), the root shape (CAP-08),
    the deviceId syntax (CAP-10), the identity members (CAP-09), cpus entries (CAP-15), the hosting fields
    (CAP-11); any other member type falls to CAP-14 ("exact values of the profile's schema")."""
    pointer, member = error.pointer or "", error.member or ""
    if pointer.startswith("/x-") or (pointer == "" and (member.startswith("x-") or "extensions" in error.schema_path)):
        return "CAP-17"
    if error.validator == "enum" and pointer != "/kind":
        return "CAP-14"
    if pointer in ("", "/apiVersion", "/kind"):
        return "CAP-08"
    if pointer == "/properties/id":
        return "CAP-10"
    if pointer == "/properties" or pointer in tuple(f"/properties/{m}" for m in _IDENTITY):
        return "CAP-09"
    if pointer.startswith("/properties/cpus"):
        return "CAP-15"
    if pointer.startswith(_HOSTING):
        return "CAP-11"
    return "CAP-14"


@check("CAP-20", interpretations=["Q-18"])
def manifest_id_matches_path(observations: list[Any]) -> Verdict:
    bad = []
    for o in capability_reports(observations):
        body = _body(o)
        props = body.get("properties") if isinstance(body, dict) else None
        pid = props.get("id") if isinstance(props, dict) else None
        if pid != _device_id(o):
            bad.append(f"{_label(o)}: properties.id {pid!r} != path {_device_id(o)!r}")
    return Verdict.of(not bad, "properties.id equals the {deviceId} of the path", expected="equal",
                      observed=bad or "equal in every report")


@check("CAP-11")
def hosting_fields_complete(observations: list[Any]) -> Verdict:
    findings: list[Finding] = []
    bad = []
    hosting = 0
    for o in capability_reports(observations):
        body = _body(o)
        if not isinstance(body, dict):
            continue
        found = [f for f in semantic_findings(body) if f.requirement == "CAP-11"]
        props = body.get("properties")
        if isinstance(props, dict) and any(k in props for k in ("cpus", "memory", "storage", "otelCollector")):
            hosting += 1
        findings.extend(found)
        errors = [f.code for f in found if f.severity == "error"]
        if errors:
            bad.append(f"{_label(o)}: {', '.join(errors)}")
    if not hosting and not bad:
        raise NotTested("the device reported no hosting-device manifest (a see-thru gateway reports identity only)")
    return Verdict(passed=not bad, what="a hosting device reports every hosting field, otelCollector true",
                   expected="cpus, memory, storage, peripherals, interfaces, otelCollector=true, runtimes, deployment types",
                   observed=bad or "complete", findings=tuple(findings))


@check("CAP-16")
def unit_format(observations: list[Any]) -> Verdict:
    notes = []
    for o in capability_reports(observations):
        body = _body(o)
        if isinstance(body, dict):
            notes += [f"{_label(o)}: {f.detail}" for f in semantic_findings(body) if f.code == "unit-format"]
    return Verdict.of(not notes, "memory and storage in binary units without a space", expected="e.g. 16Gi",
                      observed=notes or "as expected")


@check("CAP-13")
def parents_before_children(observations: list[Any]) -> Verdict:
    reported: set[str] = set()
    bad = []
    reports = [o for o in after_onboarding(observations) if o.route == CAPABILITIES_ROUTE and o.request.method == "PUT"]
    for o in _need(reports, "capabilities report after onboarding"):
        device_id = _device_id(o)
        parent = device_id.rsplit("/", 1)[0] if "/" in device_id else None
        if parent is not None and parent not in reported:
            bad.append(f"{_label(o)}: child before its parent {parent!r}")
        if o.status is not None and 200 <= o.status < 300:
            reported.add(device_id)
    return Verdict.of(not bad, "a see-thru gateway reports itself before each child", expected="parent first",
                      observed=bad or [_device_id(o) for o in capability_reports(observations)])


@check("CAP-12")
def gateway_identity_only(observations: list[Any]) -> Verdict:
    reports = capability_reports(observations)
    parents = {(_device_id(o).rsplit("/", 1)[0]) for o in reports if "/" in _device_id(o)}
    gateways = [o for o in reports if _device_id(o) in parents]
    if not gateways:
        raise NotTested("the device reported no gateway with children")
    bad = []
    for o in gateways:
        body = _body(o)
        props = body.get("properties") if isinstance(body, dict) else {}
        extra = sorted(set(props or {}) - {"id", "vendor", "modelNumber", "serialNumber"})
        if extra:
            bad.append(f"{_label(o)}: hosting fields {extra}")
    return Verdict.of(not bad, "a non-hosting see-thru gateway reports only its identity fields",
                      expected="id, vendor, modelNumber, serialNumber", observed=bad or "identity only")


@judges
def retry_waited(observations: list[Any], retry_after_s: float) -> Verdict:
    """After a 503 with Retry-After, the next request of the same route comes no sooner (ERR-04)."""
    reports = http(observations, CAPABILITIES_ROUTE)
    refused = next((o for o in reports if o.status == 503), None)
    if refused is None:
        raise NotTested("the simulated WFM's 503 was not observed")
    later = [o for o in reports if o.seq > refused.seq]
    if not later:
        raise NotTested("the device did not retry after the 503 (nothing to time)")
    answered_at = refused.started_at + (refused.elapsed_s or 0.0)
    waited = later[0].started_at - answered_at
    return Verdict.of(waited >= retry_after_s - 0.05, "wait before retrying after 503 Retry-After",
                      expected=f">= {retry_after_s:g} s", observed=f"{waited:.2f} s")
