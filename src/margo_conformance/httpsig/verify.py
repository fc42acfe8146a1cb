"""Verify and diagnose a received request the way a strict WFM must (SIG-09, SIG-11, DIG-03).

A library verifier answers "invalid" with one exception; a conformance harness has to say *why*, with a
stable code per fact, and must keep going after the first problem so a vendor sees all of them at once.
So the steps below each add findings and never raise: parse the two signature fields, select the label,
check the Margo policy (components, ``created`` window, ``keyid``), check Content-Digest against the body,
choose the algorithm from the key (and ``alg``), rebuild the base and verify. ``signature-invalid`` is
reported only when the cryptography fails and nothing more specific explains it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..evidence import CapturedRequest
from ..findings import Finding, Severity
from .algorithms import (
    ALGORITHMS,
    EC_COORDINATE_SIZE,
    KeyUnsupported,
    PublicKey,
    algorithm_fits_key,
    algorithms_for_key,
    der_to_raw,
    is_private_key,
    rsa_pss_salt_length,
    verify_bytes,
)
from .base import Component, ComponentError, FieldView, build_signature_base
from .digest import check_content_digest
from .structured import (
    SfDict,
    StructuredFieldError,
    parse_signature,
    parse_signature_input,
    serialize_inner_list,
)


@dataclass(frozen=True)
class VerifyPolicy:
    """What the verifier demands beyond RFC 9421 validity; MARGO_POLICY is the strict WFM (DIGEST 2.6)."""

    name: str = "margo"
    required_components: tuple[str, ...] = ("@method", "@target-uri")
    require_digest_component_with_body: bool = True  # content-digest covered when the body is non-empty
    check_digest: bool = True  # recompute Content-Digest from the body (DIG-03)
    require_created: bool = True
    window_s: int | None = 300  # None: no age check
    future_skew_s: int | None = 60
    lowercase_components_only: bool = True  # strict Q-04: upper-case is an error, else warning
    accept_der_ecdsa: bool = False  # lenient Q-06: accept DER with a warning
    require_keyid: bool = False  # missing keyid is a warning either way
    require_sha256_digest: bool = True  # DIG-06: a digest without a sha-256 member is an error


MARGO_POLICY = VerifyPolicy()
RFC9421_POLICY = VerifyPolicy(
    name="rfc9421", required_components=(), require_digest_component_with_body=False, check_digest=True,
    require_created=False, window_s=None, future_skew_s=None, require_sha256_digest=False,
)


@dataclass
class Verification:
    """The verdict and every finding; ``signature_base`` is what the verifier rebuilt (evidence)."""

    valid: bool
    findings: list[Finding]
    signature_base: str | None = None
    label: str | None = None
    algorithm: str | None = None
    covered_components: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the doctor's ``--json`` output and report attachments)."""
        return {
            "valid": self.valid,
            "findings": [f.to_dict() for f in self.findings],
            "signature_base": self.signature_base,
            "label": self.label,
            "algorithm": self.algorithm,
            "covered_components": list(self.covered_components),
            "params": {k: _json_safe(v) for k, v in self.params.items()},
        }


class _Collector:
    """Findings in the order they were found, with the verdict derived from their severities."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, code: str, detail: str, severity: Severity = "error", requirement: str | None = None) -> None:
        self.findings.append(Finding(code, detail, severity, requirement))


def verify_request(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] | Mapping[str, str],
    body: bytes,
    public_key: PublicKey | bytes,
    *,
    policy: VerifyPolicy = MARGO_POLICY,
    now: float | None = None,
    label: str | None = None,
) -> Verification:
    """Judge one received request; never raises on bad input, returns every finding.

    ``url`` is the absolute URL the request was sent to (what ``@target-uri`` covers); ``public_key`` is
    the key of the client's certificate (``bytes`` is an HMAC shared secret, for RFC vector B.2.5).
    """
    try:
        return _verify(method, url, headers, body, public_key, policy, time.time() if now is None else now, label)
    except Exception as exc:  # a safety net: a verifier bug must not look like a SUT crash or a pass
        finding = Finding("verifier-error", f"the verifier could not judge this request: {type(exc).__name__}: {exc}")
        return Verification(valid=False, findings=[finding])


diagnose = verify_request


def verify_captured(
    request: CapturedRequest, public_key: PublicKey | bytes, **kwargs: Any
) -> Verification:
    """``verify_request`` over a captured request (what the simulated WFM and the doctor hold)."""
    return verify_request(request.method, request.url, request.headers, request.body, public_key, **kwargs)


def _verify(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]] | Mapping[str, str],
    body: bytes,
    public_key: PublicKey | bytes,
    policy: VerifyPolicy,
    now: float,
    label: str | None,
) -> Verification:
    out = _Collector()
    body = bytes(body or b"")
    if is_private_key(public_key):  # a caller passing the device's own key still gets a verdict
        public_key = public_key.public_key()  # type: ignore[union-attr]
    fields = FieldView(headers)
    result = Verification(valid=False, findings=out.findings)

    selected = _select_signature(fields, label, out)
    components: list[Component] | None = None
    candidates: tuple[str, ...] = ()
    if selected is not None:
        sel_label, members, params, signature, params_text = selected
        result.label = sel_label
        result.params = dict(params)
        components = _components(members, out)
        if components is not None:
            result.covered_components = [c.identifier for c in components]
            _check_components(components, body, policy, out)
        _check_params(params, policy, now, out)

    # DIG-03: the digest is judged against the body whether or not the signature covers it.
    if policy.check_digest and (body or fields.get("content-digest") is not None):
        out.findings.extend(check_content_digest(
            fields.get("content-digest"), body, require_sha256=policy.require_sha256_digest))

    if selected is not None:
        candidates = _candidate_algorithms(params, public_key, out)
        if components is not None:
            try:
                params_value = params_text or serialize_inner_list(members, params)
                result.signature_base = build_signature_base(method, url, fields, components, params_value)
            except ComponentError as exc:
                out.add(f"component-unresolvable:{_component_name(exc.component)}", exc.reason,
                        requirement="SIG-09")
            except Exception as exc:  # e.g. a parameter value the serializer refuses
                out.add("malformed-signature-input", f"cannot serialize the signature parameters: {exc}",
                        requirement="SIG-03")
        if result.signature_base is not None and signature is not None and candidates:
            result.algorithm = _check_signature(
                candidates, public_key, signature, result.signature_base.encode("ascii"), policy, out)

    result.valid = not any(f.severity == "error" for f in out.findings)
    return result


def _select_signature(
    fields: FieldView, label: str | None, out: _Collector
) -> tuple[str, list[Any], dict[str, Any], bytes | None, str | None] | None:
    """Parse Signature-Input and Signature and pick one label (given, the only one, else the first).

    Returns (label, components, params, signature bytes or None, exact params text when known)."""
    raw_input, raw_sig = fields.get("signature-input"), fields.get("signature")
    if raw_sig is None:
        out.add("missing-signature", "no Signature header", requirement="SIG-06")
    if raw_input is None:
        out.add("missing-signature-input", "no Signature-Input header", requirement="SIG-06")
    if raw_input is None:
        return None
    try:
        inputs, texts = parse_signature_input(raw_input)
    except StructuredFieldError as exc:
        out.add("malformed-signature-input", f"Signature-Input is not a Structured Field Dictionary: {exc}",
                requirement="SIG-03")
        return None
    sigs: SfDict | None = None
    if raw_sig is not None:
        try:
            sigs = parse_signature(raw_sig)
        except StructuredFieldError as exc:
            out.add("malformed-signature", f"Signature is not a Structured Field Dictionary: {exc}",
                    requirement="SIG-05")
    if not inputs:
        out.add("malformed-signature-input", "Signature-Input has no members", requirement="SIG-03")
        return None
    if label is not None:
        if label not in inputs:
            out.add("signature-label-mismatch",
                    f"expected label {label!r}, Signature-Input has {sorted(inputs)}", requirement="SIG-04")
            return None
        chosen = label
    else:
        chosen = next(iter(inputs))
        if len(inputs) > 1:
            out.add("multiple-signatures",
                    f"Signature-Input has {len(inputs)} labels {list(inputs)}; judging the first, {chosen!r}",
                    severity="warning")
    member_value, params = inputs[chosen]
    if not isinstance(member_value, list):
        out.add("malformed-signature-input",
                f"member {chosen!r} is not an Inner List of components", requirement="SIG-03")
        return None
    signature: bytes | None = None
    if sigs is not None:
        if chosen not in sigs:
            out.add("signature-label-mismatch",
                    f"Signature-Input label {chosen!r} has no Signature member (Signature has {sorted(sigs)})",
                    requirement="SIG-05")
        else:
            sig_value = sigs[chosen][0]
            if not isinstance(sig_value, bytes):
                out.add("malformed-signature",
                        f"Signature member {chosen!r} is not a Byte Sequence (:<base64>:)", requirement="SIG-05")
            elif not sig_value:
                out.add("malformed-signature", f"Signature member {chosen!r} is empty", requirement="SIG-05")
            else:
                signature = sig_value
    return chosen, member_value, dict(params), signature, texts.get(chosen)


def _components(members: list[Any], out: _Collector) -> list[Component] | None:
    components: list[Component] = []
    for bare, params in members:
        if not isinstance(bare, str):
            out.add("malformed-signature-input",
                    f"covered component {bare!r} is not a String (components are written \"name\")",
                    requirement="SIG-02")
            return None
        components.append(Component(bare, tuple(params.items())))
    return components


def _check_components(components: list[Component], body: bytes, policy: VerifyPolicy, out: _Collector) -> None:
    """Required components (matched case-insensitively; upper case is its own finding, Q-04)."""
    for component in components:
        if not component.lowercase:
            out.add("component-not-lowercase",
                    f"component {component.identifier} must be lower case ({component.name.lower()!r}); "
                    "verified with the name as sent",
                    severity="error" if policy.lowercase_components_only else "warning", requirement="SIG-02")
    # ";sf" and ";key=" still cover the field (as the library's digest check reads it); other params do not.
    names = {c.name.lower() for c in components if {k for k, _ in c.params} <= {"sf", "key"}}
    required = list(policy.required_components)
    if policy.require_digest_component_with_body and body and "content-digest" not in required:
        required.append("content-digest")
    for name in required:
        if name not in names:
            out.add(f"missing-component:{name}", f"the signature does not cover {name!r}", requirement="SIG-02")


def _check_params(params: dict[str, Any], policy: VerifyPolicy, now: float, out: _Collector) -> None:
    """``created`` window (SIG-11), ``expires``, ``keyid`` presence (Q-02)."""
    created = params.get("created")
    if created is None:
        if policy.require_created:
            out.add("missing-created", "no created parameter", requirement="SIG-03")
    elif type(created) is not int:
        out.add("created-not-integer", f"created is {created!r}, not an Integer", requirement="SIG-03")
    else:
        age = now - created
        if policy.window_s is not None and age > policy.window_s:
            out.add("created-too-old", f"created {created} is {age:.0f} s old; the window is {policy.window_s} s",
                    requirement="SIG-11")
        if policy.future_skew_s is not None and -age > policy.future_skew_s:
            out.add("created-in-future",
                    f"created {created} is {-age:.0f} s ahead; the allowed skew is {policy.future_skew_s} s",
                    requirement="SIG-11")
    expires = params.get("expires")
    if expires is not None:
        if type(expires) is not int:
            out.add("expires-not-integer", f"expires is {expires!r}, not an Integer", requirement="SIG-03")
        elif expires < now:
            out.add("expired", f"expires {expires} is {now - expires:.0f} s in the past")
    keyid = params.get("keyid")
    if keyid is None:
        out.add("missing-keyid", "no keyid parameter",
                severity="error" if policy.require_keyid else "warning", requirement="SIG-03")
    elif not isinstance(keyid, str):
        out.add("missing-keyid", f"keyid is {keyid!r}, not a String",
                severity="error" if policy.require_keyid else "warning", requirement="SIG-03")


def _candidate_algorithms(params: dict[str, Any], key: PublicKey | bytes, out: _Collector) -> tuple[str, ...]:
    """From the key; from ``alg`` when present and fitting (DIGEST 2.5). A mismatch is reported and the
    key's own algorithms are still tried, so the finding names the defect rather than the symptom."""
    try:
        from_key = algorithms_for_key(key)
    except KeyUnsupported as exc:
        out.add("key-unsupported", str(exc), requirement="SIG-07")
        return ()
    alg = params.get("alg")
    if alg is None:
        return from_key
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        out.add("alg-unsupported", f"alg {alg!r} is not one of {sorted(ALGORITHMS)}", requirement="SIG-07")
        return from_key
    if not algorithm_fits_key(alg, key):
        out.add("alg-key-mismatch", f"alg {alg!r} cannot be used with a {_key_kind(key)} key", requirement="SIG-07")
        return from_key
    return (alg,)


def _check_signature(
    candidates: tuple[str, ...], key: PublicKey | bytes, signature: bytes, message: bytes,
    policy: VerifyPolicy, out: _Collector,
) -> str | None:
    """Try each candidate algorithm; name DER-encoded ECDSA and wrong PSS salt when they explain a failure."""
    for alg in candidates:
        if verify_bytes(alg, key, signature, message):
            return alg
    for alg in candidates:
        if alg in EC_COORDINATE_SIZE and len(signature) != 2 * EC_COORDINATE_SIZE[alg]:
            raw = der_to_raw(alg, signature)
            if raw is not None:
                ok = verify_bytes(alg, key, raw, message)
                severity: Severity = "warning" if ok and policy.accept_der_ecdsa else "error"
                out.add("ecdsa-der-encoding",
                        f"the {alg} signature is DER-encoded ({len(signature)} bytes); RFC 9421 3.3.4 requires "
                        f"raw r||s ({2 * EC_COORDINATE_SIZE[alg]} bytes)"
                        + ("" if ok else "; it does not verify as DER either"),
                        severity=severity, requirement="SIG-05")
                if ok:
                    return alg
                break
    if isinstance(key, rsa.RSAPublicKey):
        for alg, hash_name in (("rsa-pss-sha256", "sha256"), ("rsa-pss-sha512", "sha512")):
            if alg in candidates and rsa_pss_salt_length(key, signature, message, hash_name):
                out.add("rsa-pss-salt-length",
                        f"the signature is RSASSA-PSS with {hash_name.upper()} but not the salt length {alg} "
                        f"requires ({32 if hash_name == 'sha256' else 64} bytes)", requirement="SIG-07")
                return None
    tried = ", ".join(candidates)
    out.add("signature-invalid",
            f"the signature does not verify with the given key over the rebuilt base (tried {tried})",
            requirement="SIG-09")
    return None


def _component_name(identifier: str) -> str:
    """``"@query-param";name="x"`` -> ``@query-param`` (the code names the component, not its params)."""
    name = identifier.split(";", 1)[0]
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _key_kind(key: PublicKey | bytes) -> str:
    if isinstance(key, (bytes, bytearray)):
        return "shared-secret"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    return type(key).__name__


def _json_safe(value: object) -> object:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        import base64

        return ":" + base64.b64encode(value).decode("ascii") + ":"
    return str(value)
