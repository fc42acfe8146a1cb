"""Checks that judge a WFM certified over mutual TLS with SVIDs (profile kind ``mtls-svid``, MIAF rc.3).

Each states one fact about captured evidence (an ``Exchange`` that may carry a ``TlsRefusal`` instead of a
response, a presented server chain, a handshake) and returns a ``Verdict``; no I/O, no raising for a SUT
fault. Problem types and retry rules come from the profile's data (``profile.problem_types``), never from
literals here, so a later profile with another registry reuses the checks.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ..evidence import Exchange
from ..mtls.tls import HandshakeFacts
from ..verdict import Verdict, check, judges


def _status(exchange: Exchange) -> int | None:
    return exchange.response.status if exchange.response is not None else None


def _path(exchange: Exchange) -> str:
    return exchange.request.target or exchange.request.url


def _media(exchange: Exchange) -> str:
    if exchange.response is None:
        return ""
    return (exchange.response.header("content-type") or "").split(";")[0].strip().lower()


def _body(exchange: Exchange) -> Any:
    return exchange.response.json() if exchange.response is not None else None


def answer(exchange: Exchange) -> str:
    """What the WFM did, in one phrase: "403 (type …#not-authorized)", "TLS refusal at handshake: unknown_ca"."""
    if exchange.refusal is not None:
        return exchange.refusal.describe()
    status = _status(exchange)
    if status is None:
        return f"no answer ({exchange.error or 'nothing recorded'})"
    body = _body(exchange)
    kind = body.get("type") if isinstance(body, dict) else None
    return f"{status}" + (f" (type {kind})" if isinstance(kind, str) else "")


def layer(exchange: Exchange) -> str:
    return "tls" if exchange.refusal is not None else ("http" if exchange.response is not None else "none")


@judges
def status_is(exchange: Exchange, expected: int) -> Verdict:
    observed = _status(exchange)
    return Verdict.of(observed == expected, f"status of {exchange.request.method} {_path(exchange)}",
                      expected=expected, observed=answer(exchange) if observed is None else observed,
                      **({"problem_type": t} if isinstance(t := (_body(exchange) or {}).get("type")
                                                           if isinstance(_body(exchange), dict) else None, str) else {}))


@check("SVID-09")
def no_intermediate_fetched(fetches: list[str], aia_url: str) -> Verdict:
    """SVID-09: a verifier never fetches intermediates out of band; C-AIA's caIssuers URL is the harness's sink,
    so any request there is the WFM (or its TLS stack) following the AIA extension."""
    return Verdict.of(not fetches, f"fetches of C-AIA's caIssuers URL {aia_url}", expected="none (no AIA fetching)",
                      observed=fetches or "none")


@judges
def served(exchange: Exchange) -> Verdict:
    """The request of a valid client on the policy was served at all (2xx), not refused at the TLS layer."""
    observed = _status(exchange)
    return Verdict.of(observed is not None and 200 <= observed < 300,
                      f"{exchange.request.method} {_path(exchange)} served", expected="2xx", observed=answer(exchange))


# --- refusing clients without a valid SVID (MTLS-02, SVID-*, MID-01/02; Q-41 a) ----------------------------


@judges
def refused_without_valid_svid(exchange: Exchange) -> Verdict:
    """Must axis (Q-41 a): a fatal TLS alert / closed connection, or an HTTP 403, 401 or 400. Never 2xx, 404 or 5xx.
    The layer the WFM chose is recorded (``details.layer``)."""
    observed = _status(exchange)
    ok = exchange.refusal is not None or observed in (400, 401, 403)
    return Verdict.of(ok, f"{exchange.request.method} {_path(exchange)} without a valid client SVID refused",
                      expected="a TLS refusal or HTTP 403", observed=answer(exchange), layer=layer(exchange))


@judges
def refused_at_a_layer_the_contract_knows(exchange: Exchange) -> Verdict:
    """Interpretation axis (Q-41 a): 401 and 400 are not in the rc.3 contract for an authentication failure, so
    they pass the must check above with a warning here."""
    observed = _status(exchange)
    ok = exchange.refusal is not None or observed == 403
    return Verdict(passed=ok, what="refusal layer and code", expected="TLS refusal or 403",
                   observed=answer(exchange), interpretations=("Q-41",), details={"layer": layer(exchange)})


@judges
def not_served(exchange: Exchange) -> Verdict:
    """A request that must not succeed (MGEN-05: a legacy route without a client certificate): anything but 2xx."""
    observed = _status(exchange)
    return Verdict.of(observed is None or not 200 <= observed < 300,
                      f"{exchange.request.method} {_path(exchange)} not served", expected="not 2xx",
                      observed=answer(exchange), layer=layer(exchange))


# --- the accepted-client policy (MID-11, MID-12; Q-41 b) ---------------------------------------------------


@judges
def denied_by_policy(exchange: Exchange) -> Verdict:
    """Must axis: a valid SVID that the policy does not accept is denied: a TLS refusal or a 4xx other than 404
    (a 404 would mean the request was looked up as the client's own, i.e. authorised)."""
    observed = _status(exchange)
    ok = exchange.refusal is not None or (observed is not None and 400 <= observed < 500 and observed != 404)
    return Verdict.of(ok, f"{exchange.request.method} {_path(exchange)} of a client the policy does not accept denied",
                      expected="403 not-authorized (or a TLS refusal)", observed=answer(exchange), layer=layer(exchange))


def denied_as_not_authorized(exchange: Exchange, profile: Any) -> Verdict:
    """Interpretation axis (Q-41 b): the preferred denial is HTTP 403 with problem+json of type ``not-authorized``;
    a TLS refusal or another type is the deviation the report names."""
    expected_uri = problem_uri(profile, "not-authorized")
    observed_type = (_body(exchange) or {}).get("type") if isinstance(_body(exchange), dict) else None
    ok = _status(exchange) == 403 and _media(exchange) == "application/problem+json" and observed_type == expected_uri
    return Verdict(passed=ok, what="policy denial: 403 problem+json of type not-authorized",
                   expected=f"403 application/problem+json, type {expected_uri}", observed=answer(exchange),
                   interpretations=("Q-41",), details={"layer": layer(exchange), "media_type": _media(exchange)},
                   evidence=exchange)


# --- problem details (MERR-*, MRTY-04/05) -----------------------------------------------------------------


def problem_uri(profile: Any, name: str) -> str:
    return profile.problem_type(name).uri


def problem_verdicts(exchange: Exchange, profile: Any, expected_name: str | None) -> list[Verdict]:
    """Every fact of one error answer: media type and JSON object (MERR-01), required members (MERR-02, Q-42),
    ``status`` equal to the HTTP status (MERR-03, SHOULD), the registered type (MERR-04, Q-43 forms), no
    made-up type under the Margo namespace (MERR-06), retry members consistent with the status (MRTY-04) and
    of the schema's types (MRTY-05). Nothing to judge when the answer is not an HTTP error."""
    status = _status(exchange)
    if status is None or status < 400:
        return []
    body = _body(exchange)
    media = _media(exchange)
    verdicts = [
        Verdict.of(isinstance(body, dict) and (media == "application/problem+json" or media == "application/json"),
                   f"error answer {status} is a JSON object", expected="application/problem+json object",
                   observed={"media_type": media or None, "body": _kind(body)}).bound_to("MERR-01"),
        Verdict(passed=media == "application/problem+json", what=f"media type of error answer {status}",
                expected="application/problem+json", observed=media or None, requirements=("MERR-01",),
                interpretations=("Q-42",)),
    ]
    if not isinstance(body, dict):
        return [_with_evidence(v, exchange) for v in verdicts]
    missing = [m for m in ("type", "title", "status") if m not in body]
    verdicts.append(Verdict(passed=not missing, what="problem details carry type, title and status",
                            expected="all three", observed=f"missing {missing}" if missing else "all three",
                            requirements=("MERR-02",), interpretations=("Q-42",)))
    if "status" in body:
        verdicts.append(Verdict.of(body.get("status") == status, "problem 'status' equals the HTTP status",
                                   expected=status, observed=body.get("status"), advisory=True).bound_to("MERR-03"))
    verdicts += _type_verdicts(body.get("type"), status, profile, expected_name)
    verdicts += _retry_verdicts(body, status, profile)
    rule = profile.retry_rule(status)
    if rule is not None and rule.retry_after in ("must", "should"):  # 429/503 MUST (MRTY-01/02), 500 SHOULD
        header = exchange.response.header("retry-after") if exchange.response is not None else None
        verdicts.append(Verdict.of(bool(header), f"a {status} answer carries Retry-After", expected="a Retry-After header",
                                   observed=header, advisory=rule.retry_after == "should")
                        .bound_to(rule.requirement or "MRTY-04"))
    return [_with_evidence(v, exchange) for v in verdicts]


def _with_evidence(verdict: Verdict, exchange: Exchange) -> Verdict:
    from dataclasses import replace

    return replace(verdict, evidence=exchange)


def _kind(body: Any) -> str:
    return "object" if isinstance(body, dict) else ("not JSON" if body is None else type(body).__name__)


def _type_verdicts(observed: Any, status: int, profile: Any, expected_name: str | None) -> list[Verdict]:
    verdicts: list[Verdict] = []
    canonical = profile.problem_type_named(observed) if isinstance(observed, str) else None
    alias = profile.problem_type_alias(observed) if isinstance(observed, str) and canonical is None else None
    named = canonical or alias
    # MERR-06: a type under the Margo namespace that the registry does not hold (in any accepted form) fails.
    margo = isinstance(observed, str) and "docs.margo.org/specification" in observed
    verdicts.append(Verdict.of(not margo or named is not None, "a Margo-namespace type is a registered one",
                               expected="a registered Margo type, about:blank or a vendor URI",
                               observed=observed).bound_to("MERR-06"))
    if expected_name is not None:
        wanted = profile.problem_type(expected_name).uri
        verdicts.append(Verdict.of(named is not None and named.name == expected_name,
                                   f"problem type of the {status} answer", expected=wanted,
                                   observed=observed).bound_to("MERR-04"))
        if named is not None and named.name == expected_name:
            verdicts.append(Verdict(passed=canonical is not None, what="problem type URI in the canonical '#name' form",
                                    expected=wanted, observed=observed, requirements=("MERR-04",),
                                    interpretations=("Q-43",)))
    elif named is not None and named.status != status:
        verdicts.append(Verdict.of(False, "registered problem type used with its own status",
                                   expected=named.status, observed=status, problem_type=observed).bound_to("MERR-04"))
    return verdicts


def _retry_verdicts(body: dict[str, Any], status: int, profile: Any) -> list[Verdict]:
    """MRTY-04 (Q-44): on a non-transient error the retry members are optional, but if present they say "do not
    retry"; MRTY-01..03 (429/503/500) are judged only where such an answer is seen. MRTY-05: the schema's types."""
    verdicts: list[Verdict] = []
    rule = profile.retry_rule(status)
    if rule is not None:
        requirement = rule.requirement or "MRTY-04"
        if "retryable" in body:
            verdicts.append(Verdict.of(body["retryable"] is rule.retryable, f"'retryable' of a {status} answer",
                                       expected=rule.retryable, observed=body["retryable"]).bound_to(requirement))
        if "backoffStrategy" in body:
            verdicts.append(Verdict.of(body["backoffStrategy"] == rule.backoff, f"'backoffStrategy' of a {status} answer",
                                       expected=rule.backoff, observed=body["backoffStrategy"]).bound_to(requirement))
    types_ok = (("retryable" not in body or isinstance(body["retryable"], bool))
                and ("retryAfterSeconds" not in body or (isinstance(body["retryAfterSeconds"], int)
                                                          and not isinstance(body["retryAfterSeconds"], bool)))
                and ("backoffStrategy" not in body or body["backoffStrategy"] in ("none", "fixed", "exponential")))
    present = {k: body[k] for k in ("retryable", "retryAfterSeconds", "backoffStrategy") if k in body}
    if present:
        verdicts.append(Verdict.of(types_ok, "retry members follow the ProblemDetail schema",
                                   expected="retryable boolean, retryAfterSeconds integer, backoffStrategy enum",
                                   observed=present).bound_to("MRTY-05"))
    return verdicts


def about_blank_where_no_margo_type_applies(exchange: Exchange, profile: Any) -> Verdict:
    """MERR-05: an error no Margo condition covers (a method the route does not have) uses ``about:blank`` or the
    vendor's own URI, never a registered Margo type (which would claim a condition that did not occur)."""
    body = _body(exchange)
    kind = body.get("type") if isinstance(body, dict) else None
    margo = isinstance(kind, str) and (profile.problem_type_named(kind) is not None
                                       or profile.problem_type_alias(kind) is not None
                                       or "docs.margo.org/specification" in kind)
    return Verdict(passed=not margo, what="problem type of an error no Margo condition covers",
                   expected="about:blank or a vendor URI", observed=kind if kind is not None else answer(exchange),
                   requirements=("MERR-05",), evidence=exchange)


@judges
def device_id_refused(exchange: Exchange) -> Verdict:
    """MCAP-04: a deviceId outside the DeviceId pattern is refused, 400 (malformed) or 404 (no such route); the
    digest asks which to be recorded (``details.code``)."""
    observed = _status(exchange)
    return Verdict.of(observed in (400, 404), f"{exchange.request.method} {_path(exchange)} refused",
                      expected="400 or 404", observed=answer(exchange), code=observed)


@judges
def unknown_deployment_type_answer(exchange: Exchange) -> Verdict:
    """Q-50 (MCAP-20 against the closed enum of MCAP-19): mapping an unknown deployment type to ``custom`` (200/201)
    and refusing it as a schema violation (422) both pass; 400 is a named deviation; a 5xx fails."""
    observed = _status(exchange)
    return Verdict(passed=observed in (200, 201, 422), what="answer to an unknown supportedDeploymentTypes value",
                   expected="200/201 (mapped to custom) or 422", observed=answer(exchange),
                   interpretations=() if observed is not None and observed >= 500 else ("Q-50",),
                   details={"choice": observed})


@judges
def problem_errors_listed(exchange: Exchange) -> Verdict:
    """MERR-08 (SHOULD): a 422 lists the field errors in ``errors[]``."""
    body = _body(exchange)
    errors = body.get("errors") if isinstance(body, dict) else None
    return Verdict.of(isinstance(errors, list) and bool(errors), "422 lists errors[]", expected="a non-empty errors[]",
                      observed=errors, advisory=True).bound_to("MERR-08")


@judges
def body_refused(exchange: Exchange, preferred: int) -> Verdict:
    """Must axis: a body the WFM must not accept is refused with 400 or 422 (the code is judged apart, Q-52)."""
    observed = _status(exchange)
    return Verdict.of(observed in (400, 422), f"{exchange.request.method} {_path(exchange)} refused",
                      expected=f"{preferred} (400 or 422)", observed=answer(exchange))


@judges
def unknown_root_member_refused(exchange: Exchange) -> Verdict:
    """Advisory (MCAP-12 for the WFM): a root member the schema forbids is refused; accepting it is a warning,
    since the schema MUST binds the device that sends it."""
    observed = _status(exchange)
    return Verdict.of(observed in (400, 422), "manifest with a root member the schema does not allow refused",
                      expected="422 (or 400)", observed=answer(exchange), advisory=True)


@judges
def body_refused_with(exchange: Exchange, preferred: int) -> Verdict:
    """Interpretation axis (Q-52): 400 for what does not parse, 422 for what breaks the schema."""
    observed = _status(exchange)
    return Verdict(passed=observed == preferred, what="refusal code of the body", expected=preferred,
                   observed=observed, interpretations=("Q-52",))


@judges
def empty_body(exchange: Exchange) -> Verdict:
    """Q-66: a 204 has no content."""
    body = exchange.response.body if exchange.response is not None else b""
    return Verdict.of(not body, "204 answer has an empty body", expected="no content", observed=f"{len(body)} bytes")


@check("SVID-16")
def rsa_signatures_alike(pss: Exchange, pkcs1v15: Exchange) -> Verdict:
    """SVID-16: a WFM that accepts RSA SVIDs validates PSS and PKCS#1 v1.5 certificate signatures alike."""
    served = [e.response is not None and 200 <= e.response.status < 300 for e in (pss, pkcs1v15)]
    return Verdict(passed=served[0] == served[1], what="RSA-3072 SVIDs signed with PSS and with PKCS#1 v1.5",
                   expected="both accepted or both refused",
                   observed={"pss": answer(pss), "pkcs1v15": answer(pkcs1v15)}, evidence=[pss, pkcs1v15])


@check("MGEN-03")
def uses_port_443(base_url: str) -> Verdict:
    """MGEN-03: the API on port 443; a lab on another port is a warning (the digest's reading), never a failure."""
    from urllib.parse import urlsplit

    port = urlsplit(base_url).port or 443
    return Verdict.of(port == 443, "port of the WFM base URL", expected=443, observed=port, advisory=True,
                      base_url=base_url)


# --- TLS (MTLS-04/05/06, MGEN-02) --------------------------------------------------------------------------


@check("MTLS-04")
def negotiated_tls13(facts: HandshakeFacts) -> Verdict:
    return Verdict.of(facts.version == "TLSv1.3", "version agreed when the client offers TLS 1.3 and 1.2",
                      expected="TLSv1.3", observed=facts.version or _handshake_outcome(facts))


def handshake_refused(facts: HandshakeFacts, what: str) -> Verdict:
    return Verdict.of(facts.version is None and facts.silence is None and facts.local_limit is None, what,
                      expected="no handshake", observed=facts.version or _handshake_outcome(facts))


def _handshake_outcome(facts: HandshakeFacts) -> str:
    if facts.refusal is not None:
        return facts.refusal.describe()
    return facts.silence or facts.local_limit or str(facts.extras.get("server_not_trusted") or "no handshake")


#: RFC 9325 4.2 for TLS 1.2: ephemeral (EC)DHE key exchange with an AEAD cipher.
def rfc9325_cipher(facts: HandshakeFacts) -> Verdict:
    cipher = facts.cipher or ""
    ok = cipher.startswith(("ECDHE-", "DHE-")) and ("GCM" in cipher or "CHACHA20" in cipher or "CCM" in cipher)
    return Verdict(passed=ok, what="TLS 1.2 fallback uses (EC)DHE with an AEAD cipher (RFC 9325)",
                   expected="ECDHE/DHE + AEAD", observed=cipher or None, requirements=("MTLS-05",),
                   interpretations=("Q-59",))


@check("MGEN-02")
def spoke_http11(exchange: Exchange) -> Verdict:
    version = exchange.response.http_version if exchange.response is not None else None
    alpn = exchange.tls.alpn if exchange.tls is not None else None
    return Verdict.of(version == "HTTP/1.1", "protocol when the client offers ALPN http/1.1 only",
                      expected="HTTP/1.1", observed=version or answer(exchange), alpn=alpn)


# --- the WFM's own SVID (MTLS-11, MID-03, SVID-02/04/05/08) ------------------------------------------------


def _certs(chain_der: list[bytes]) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(d) for d in chain_der]


def wfm_svid_verdicts(chain_der: list[bytes], bundle_pem: bytes, *, trust_domain: str, wfm_id: str) -> list[Verdict]:
    """The WFM's presented chain, judged as a WFM Client must (MID-04's rules, applied by the harness):
    a WFM-shaped SVID (MTLS-11) with this WFM's id (MID-03), the leaf constraints, and a chain that reaches an
    anchor of the bundle through the presented certificates alone (SVID-08)."""
    from ..pki.spiffe import classify_wfm_svid, uri_sans, wfm_spiffe_id

    if not chain_der:
        return [Verdict.of(False, "the WFM presented a certificate", expected="an X.509-SVID chain",
                           observed="none recorded").bound_to("MTLS-11")]
    certs = _certs(chain_der)
    leaf = certs[0]
    shape = classify_wfm_svid(leaf, trust_domain=trust_domain, wfm_id=wfm_id)
    sans = uri_sans(leaf)
    verdicts = [
        Verdict.of(shape.kind == "wfm", "the WFM's server certificate is a WFM X.509-SVID",
                   expected=f"kind wfm ({wfm_spiffe_id(trust_domain, wfm_id)})",
                   observed={"kind": shape.kind, "spiffe_id": shape.spiffe_id, "reason": shape.reason,
                             "uri_sans": sans}).bound_to("MTLS-11", "MGEN-04"),
        Verdict.of(_segment_ok(_wfm_id_of(sans)), "the WFM's wfm-id segment uses letters, digits, '.', '-', '_' only",
                   expected="[A-Za-z0-9._-]+, not '.' or '..'", observed=_wfm_id_of(sans)).bound_to("MID-06"),
        Verdict.of(sans == [wfm_spiffe_id(trust_domain, wfm_id)], "the WFM's SPIFFE ID uses the wfm-id of its clients",
                   expected=wfm_spiffe_id(trust_domain, wfm_id), observed=sans).bound_to("MID-03"),
        Verdict.of(len(sans) == 1, "the WFM's SVID has exactly one URI SAN", expected=1,
                   observed=len(sans)).bound_to("SVID-02"),
        Verdict.of(not _is_ca(leaf), "the WFM's leaf has cA=false", expected=False, observed=_is_ca(leaf)).bound_to("SVID-04"),
        Verdict.of(not _signs_certs(leaf), "the WFM's leaf key usage has neither keyCertSign nor cRLSign",
                   expected="neither", observed=_signs_certs(leaf) or "neither").bound_to("SVID-05"),
    ]
    anchors = _anchors(bundle_pem)
    reached, path = chain_reaches_anchor(certs, anchors)
    verdicts.append(Verdict.of(reached, "the presented chain reaches a bundle anchor with no intermediate fetched",
                               expected="leaf + every intermediate in the Certificate message",
                               observed=path).bound_to("SVID-08", "MTB-03"))
    return verdicts


def _wfm_id_of(sans: list[str]) -> str | None:
    """The <wfm-id> of the first URI SAN shaped spiffe://<td>/margo/wfm/<wfm-id>, else None."""
    for san in sans:
        head, sep, rest = san.partition("/margo/wfm/")
        if sep and head.startswith("spiffe://"):
            return rest
    return None


def _segment_ok(segment: str | None) -> bool:
    import re

    return segment is not None and segment not in (".", "..") and re.fullmatch(r"[A-Za-z0-9._-]+", segment) is not None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _signs_certs(cert: x509.Certificate) -> list[str]:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    return [n for n in ("key_cert_sign", "crl_sign") if getattr(usage, n)]


def _anchors(bundle_pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle_pem)


def chain_reaches_anchor(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> tuple[bool, list[str]]:
    """Walk from the leaf through the presented certificates to an anchor (signatures and validity checked).

    Returns whether an anchor was reached and the path walked (subjects), for the report."""
    now = datetime.now(timezone.utc)
    current, rest = chain[0], list(chain[1:])
    path = [current.subject.rfc4514_string()]
    for _ in range(len(chain) + 1):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            return False, path + ["(outside its validity)"]
        for anchor in anchors:
            if _issued_by(current, anchor):
                return True, path + [f"anchor {anchor.subject.rfc4514_string()}"]
        issuer = next((c for c in rest if _issued_by(current, c)), None)
        if issuer is None:
            return False, path + ["(no presented issuer and no anchor signed it)"]
        rest.remove(issuer)
        current = issuer
        path.append(current.subject.rfc4514_string())
    return False, path


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False
