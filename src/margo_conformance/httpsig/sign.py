"""Signing with the Margo profile (DIGEST section 2.2) and forging requests with exactly one defect.

``sign_request`` is a pure function of its inputs (the clock is an argument, no I/O), so the simulated
device, the reference device and the tests all produce the same bytes, and each ``Fault`` is a keyword
argument rather than a second code path. Every result carries the exact signature base that was signed:
the evidence a report shows next to the base the verifier rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .algorithms import (
    ALGORITHMS,
    PrivateKey,
    algorithm_fits_key,
    algorithms_for_key,
    default_algorithm,
    keyid_for,
    sign_bytes,
    sign_ecdsa_der,
)
from .base import (
    Component,
    build_signature_base,
    is_sf_key,
    margo_signature_base,
    serialize_string,
    signature_params_value,
)
from .digest import content_digest


class Fault(str, Enum):
    """One deliberate defect in one signed request (the forge); each is caught by its own finding code."""

    UNSIGNED = "unsigned"  # no Signature / Signature-Input at all
    TAMPERED_BODY = "tampered-body"  # body changed after signing (digest no longer matches)
    DIGEST_MISSING = "digest-missing"  # no Content-Digest header, not covered
    DIGEST_WRONG = "digest-wrong"  # digest of other bytes, correctly signed
    DIGEST_MALFORMED = "digest-malformed"  # sha-256=<base64> without the Byte Sequence colons, signed
    DIGEST_OVER_BASE64 = "digest-over-base64"  # SHA-256 of base64(body) (DIG-04), signed
    COMPONENT_MISSING = "component-missing"  # drops @target-uri (fault_arg may name another)
    UPPERCASE_COMPONENT = "uppercase-component"  # "Content-Digest" (or "@Method" when body-less)
    ECDSA_DER = "ecdsa-der"  # DER-encoded ECDSA signature instead of r||s (EC keys only)
    CREATED_STALE = "created-stale"  # created = now - 600
    CREATED_FUTURE = "created-future"  # created = now + 600
    WRONG_KEY = "wrong-key"  # signed with fault_key or a fresh key of the same type
    ALG_MISMATCH = "alg-mismatch"  # alg parameter that does not fit the key; signed with the real key
    SIGNATURE_WITHOUT_INPUT = "signature-without-input"  # Signature-Input header dropped
    INPUT_WITHOUT_SIGNATURE = "input-without-signature"  # Signature header dropped
    TAMPERED_TARGET_URI = "tampered-target-uri"  # signed for another resource (last path segment changed)


#: How far CREATED_STALE / CREATED_FUTURE move ``created`` (clearly outside 300 s back / 60 s ahead).
CREATED_FAULT_OFFSET_S = 600

#: Faults that change the covered component list (the general base builder handles them).
_SHAPE_FAULTS = {Fault.COMPONENT_MISSING, Fault.UPPERCASE_COMPONENT, Fault.DIGEST_MISSING}
_BODY_FAULTS = {Fault.TAMPERED_BODY, Fault.DIGEST_MISSING, Fault.DIGEST_WRONG, Fault.DIGEST_MALFORMED,
                Fault.DIGEST_OVER_BASE64}


@dataclass
class SignedRequest:
    """What to send, and what was signed (evidence)."""

    method: str
    url: str
    #: Headers to put on the request: extra_headers, then Content-Digest / Signature-Input / Signature.
    headers: dict[str, str]
    #: The body to send (differs from the signed body for TAMPERED_BODY).
    body: bytes
    #: Exactly what was signed (None when unsigned).
    signature_base: str | None
    algorithm: str | None
    keyid: str | None
    created: int | None
    label: str = "sig1"
    fault: Fault | None = None
    #: The covered component identifiers, as written in Signature-Input.
    covered_components: list[str] = field(default_factory=list)
    #: The raw signature bytes (before base64), None when unsigned.
    signature: bytes | None = None


_WITH_BODY = (Component("@method"), Component("@target-uri"), Component("content-digest"))
_WITHOUT_BODY = (Component("@method"), Component("@target-uri"))


def margo_components(body: bytes) -> list[Component]:
    """Covered components of the Margo profile: content-digest only when there is a body (Q-10)."""
    return list(_WITH_BODY if body else _WITHOUT_BODY)


@dataclass
class SignaturePlan:
    """Everything one signature will be made of, before any key is used: the output of planning, the input of
    fault application and of signing. A fault is a change to a plan, so forged requests and correct ones go
    through the same signing code."""

    method: str
    url: str
    body: bytes
    headers: dict[str, str]
    covered: list[Component]
    params: list[tuple[str, object]]
    algorithm: str
    keyid: str
    created: int
    label: str
    key: PrivateKey
    #: The URL the signature base covers (another resource for TAMPERED_TARGET_URI).
    signed_url: str = ""
    #: Build the base with the general builder (extra headers, other components, a shape fault).
    general_base: bool = False
    fault: Fault | None = None
    #: What the fault does at signing time: another key, a DER-encoded ECDSA signature, headers left out,
    #: other body bytes on the wire, no signature at all.
    signing_key: PrivateKey | None = None
    ecdsa_der: bool = False
    drop_input: bool = False
    drop_signature: bool = False
    sent_body: bytes | None = None
    unsigned: bool = False


def plan_signature(
    method: str,
    url: str,
    body: bytes | None,
    key: PrivateKey,
    *,
    algorithm: str | None = None,
    keyid: str | None = None,
    created: int | None = None,
    label: str = "sig1",
    include_alg: bool = False,
    extra_headers: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
    components: Sequence[str] | None = None,
    expires: int | None = None,
    nonce: str | None = None,
    tag: str | None = None,
) -> SignaturePlan:
    """The Margo signature of one request, planned: covered components, digest header and parameters.

    Covered: ``@method``, ``@target-uri`` and ``content-digest`` when the body is non-empty; parameters
    ``created`` and ``keyid`` (default: ``keyid_for(key)``), ``alg`` only with ``include_alg``; label ``sig1``.
    ``extra_headers`` are other fields of the request (returned in ``headers`` and coverable through
    ``components``, which replaces the Margo component list; a Content-Digest among them is kept as given).
    ``expires``, ``nonce`` and ``tag`` follow ``alg`` in the RFC's order; the Margo profile uses none of them.
    Raises ValueError when the inputs cannot make a request (bad label, key/algorithm mismatch)."""
    body = body or b""
    if not is_sf_key(label):
        raise ValueError(f"label {label!r} is not a Structured Field key ([a-z*][a-z0-9_-.*]*)")
    usable = algorithms_for_key(key)
    algorithm = algorithm or usable[0]
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown signature algorithm {algorithm!r}")
    if algorithm not in usable:
        raise ValueError(f"algorithm {algorithm} does not fit a {type(key).__name__}")
    if keyid is None:
        if isinstance(key, bytes):
            raise ValueError("an HMAC key has no public key to derive a keyid from; pass keyid")
        keyid = keyid_for(key)
    headers: dict[str, str] = dict(extra_headers or {})
    if body and not any(name.lower() == "content-digest" for name in headers):
        headers["Content-Digest"] = content_digest(body)
    params: list[tuple[str, object]] = [("created", int(created if created is not None else now())), ("keyid", keyid)]
    if include_alg:
        params.append(("alg", algorithm))
    params += [(name, value) for name, value in (("expires", expires), ("nonce", nonce), ("tag", tag))
               if value is not None]
    return SignaturePlan(
        method=method.upper(), url=url, body=body, headers=headers,
        covered=[Component.of(c) for c in components] if components is not None else margo_components(body),
        params=params, algorithm=algorithm, keyid=keyid, created=int(params[0][1]), label=label, key=key,
        signed_url=url, general_base=components is not None or bool(extra_headers),
    )


def apply_fault(plan: SignaturePlan, fault: Fault | str | None, *, fault_key: PrivateKey | None = None,
                fault_arg: str | None = None) -> SignaturePlan:
    """The plan with exactly one deliberate defect (the forge); ``None`` leaves it as it is.

    Raises ValueError for a fault that does not apply (a body fault without a body, ECDSA_DER with a key
    that is not EC, COMPONENT_MISSING / UPPERCASE_COMPONENT naming a component that is not covered)."""
    if fault is None:
        return plan
    fault = Fault(fault)
    plan.fault = fault
    if fault in _BODY_FAULTS:
        if not plan.body:
            raise ValueError(f"fault {fault.value} needs a non-empty body")
        for name in [n for n in plan.headers if n.lower() == "content-digest"]:
            del plan.headers[name]  # the fault decides what the digest is
        if fault is Fault.DIGEST_MISSING:
            plan.covered = [c for c in plan.covered if c.name.lower() != "content-digest"]
        else:
            plan.headers["Content-Digest"] = _digest_header(plan.body, fault)
    if fault in _SHAPE_FAULTS:
        plan.general_base = True
    if fault is Fault.COMPONENT_MISSING:
        drop = fault_arg or "@target-uri"
        if not any(c.name == drop for c in plan.covered):
            raise ValueError(f"component-missing: {drop!r} is not among {[c.name for c in plan.covered]}")
        plan.covered = [c for c in plan.covered if c.name != drop]
    elif fault is Fault.UPPERCASE_COMPONENT:
        target = fault_arg or ("content-digest" if any(c.name == "content-digest" for c in plan.covered) else "@method")
        if not any(c.name == target for c in plan.covered):
            raise ValueError(f"uppercase-component: {target!r} is not covered")
        plan.covered = [Component(_title_case(c.name), c.params) if c.name == target else c for c in plan.covered]
    elif fault in (Fault.CREATED_STALE, Fault.CREATED_FUTURE):
        plan.created += -CREATED_FAULT_OFFSET_S if fault is Fault.CREATED_STALE else CREATED_FAULT_OFFSET_S
        plan.params[0] = ("created", plan.created)
    elif fault is Fault.ALG_MISMATCH:
        plan.params = [p for p in plan.params if p[0] != "alg"]
        plan.params.insert(2, ("alg", _mismatched_alg(plan.key)))
    elif fault is Fault.TAMPERED_TARGET_URI:
        plan.signed_url = _other_resource(plan.url)
    elif fault is Fault.WRONG_KEY:
        plan.signing_key = fault_key if fault_key is not None else _fresh_key_like(plan.key)
    elif fault is Fault.ECDSA_DER:
        if not isinstance(plan.key, ec.EllipticCurvePrivateKey):
            raise ValueError("fault ecdsa-der applies to EC keys only")
        plan.ecdsa_der = True
    elif fault is Fault.SIGNATURE_WITHOUT_INPUT:
        plan.drop_input = True
    elif fault is Fault.INPUT_WITHOUT_SIGNATURE:
        plan.drop_signature = True
    elif fault is Fault.TAMPERED_BODY:
        plan.sent_body = _tamper(plan.body)
    elif fault is Fault.UNSIGNED:
        plan.unsigned = True
    return plan


def sign_plan(plan: SignaturePlan) -> SignedRequest:
    """Build the signature base of a plan, sign it (ECDSA as raw r||s) and return what to send."""
    if plan.unsigned:
        return SignedRequest(plan.method, plan.url, plan.headers, plan.body, None, None, None, None, plan.label,
                             plan.fault)
    params_value = _params_value(plan.covered, plan.params)
    if plan.general_base:
        base = build_signature_base(plan.method, plan.signed_url, plan.headers, plan.covered, params_value)
    else:
        base = margo_signature_base(plan.method, plan.signed_url, plan.headers.get("Content-Digest"), params_value)
    signing_key, signing_alg = plan.signing_key or plan.key, plan.algorithm
    if not algorithm_fits_key(signing_alg, signing_key):  # WRONG_KEY with a key of another type
        signing_alg = default_algorithm(signing_key)
    if plan.ecdsa_der:
        signature = sign_ecdsa_der(plan.algorithm, plan.key, base.encode("ascii"))  # type: ignore[arg-type]
    else:
        signature = sign_bytes(signing_alg, signing_key, base.encode("ascii"))
    headers = dict(plan.headers)
    if not plan.drop_input:
        headers["Signature-Input"] = f"{plan.label}={params_value}"
    if not plan.drop_signature:
        headers["Signature"] = f"{plan.label}=:{base64.b64encode(signature).decode('ascii')}:"
    return SignedRequest(
        method=plan.method, url=plan.url, headers=headers,
        body=plan.sent_body if plan.sent_body is not None else plan.body, signature_base=base,
        algorithm=plan.algorithm, keyid=plan.keyid, created=plan.created, label=plan.label, fault=plan.fault,
        covered_components=[c.identifier for c in plan.covered], signature=signature,
    )


def sign_request(
    method: str,
    url: str,
    body: bytes | None,
    key: PrivateKey,
    *,
    fault: Fault | str | None = None,
    fault_key: PrivateKey | None = None,
    fault_arg: str | None = None,
    **planning: Any,
) -> SignedRequest:
    """Sign one request the Margo way (or with exactly one defect, ``fault``): plan, forge, sign.

    ``planning`` are the keyword arguments of ``plan_signature`` (algorithm, keyid, created, label,
    include_alg, extra_headers, now, components, expires, nonce, tag). ``key`` may be ``bytes`` (an HMAC
    secret, for RFC vector B.2.5; ``keyid`` is then required). Raises ValueError when the inputs cannot make
    a request."""
    plan = plan_signature(method, url, body, key, **planning)
    return sign_plan(apply_fault(plan, fault, fault_key=fault_key, fault_arg=fault_arg))


def _params_value(covered: Sequence[Component], params: Sequence[tuple[str, object]]) -> str:
    """The serialized inner list; the plain Margo shape is formatted directly (the hot path)."""
    if all(not c.params for c in covered) and all(isinstance(v, (int, str)) for _, v in params):
        inner = " ".join(serialize_string(c.name) for c in covered)
        rendered = [f"{k}={v}" if isinstance(v, int) else f"{k}={serialize_string(v)}" for k, v in params]
        return f"({inner});" + ";".join(rendered)
    return signature_params_value(covered, params)


def _digest_header(body: bytes, fault: Fault | None) -> str:
    if fault is Fault.DIGEST_WRONG:
        return content_digest(body + b"\n")  # a digest of other bytes
    if fault is Fault.DIGEST_MALFORMED:
        return "sha-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")  # no ':' delimiters
    if fault is Fault.DIGEST_OVER_BASE64:
        return content_digest(base64.b64encode(body))
    return content_digest(body)


def _tamper(body: bytes) -> bytes:
    """Change the body after signing: flip the last byte's lowest bit, the smallest possible change."""
    return body[:-1] + bytes([body[-1] ^ 0x01])


def _other_resource(url: str) -> str:
    """The URL of a neighbouring resource: the last path segment gets a suffix, so a signature made for it is
    a real signature of this client that the WFM must not accept for the URL actually requested."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(parts._replace(path=path + "-other"))


def _title_case(name: str) -> str:
    """``content-digest`` -> ``Content-Digest``, ``@method`` -> ``@Method`` (the Margo spec's spelling)."""
    prefix = "@" if name.startswith("@") else ""
    return prefix + "-".join(part[:1].upper() + part[1:] for part in name.lstrip("@").split("-"))


def _mismatched_alg(key: PrivateKey) -> str:
    """An ``alg`` that cannot be used with this key (RSA for EC/Ed25519 keys, ECDSA for RSA keys)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "ecdsa-p256-sha256"
    return "rsa-v1_5-sha256"


def _fresh_key_like(key: PrivateKey) -> PrivateKey:
    """A new key of the same type (same curve / modulus size), so only the key itself is wrong."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    if isinstance(key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=key.key_size)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"cannot make a key like {type(key).__name__}")
