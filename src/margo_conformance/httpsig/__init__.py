"""RFC 9421 HTTP Message Signatures and RFC 9530 Content-Digest, the Margo way (DIGEST section 2).

Built on ``http-message-signatures`` 3.0.0 (algorithms, component resolution); hand-written only where the
library has no hook: ``rsa-pss-sha256``, fault injection (the forge), finding-based diagnosis, the Margo
policy checks, and the upper-case base of Q-04.
"""

from __future__ import annotations

from .algorithms import (
    ALGORITHMS,
    EXTRA_ALGORITHMS,
    MARGO_ALGORITHMS,
    RSA_PSS_SHA256,
    PrivateKey,
    PublicKey,
    algorithm_fits_key,
    algorithms_for_key,
    default_algorithm,
    keyid_for,
)
from .auth import HttpSigAuth, SigningOptions, sign_httpx_request, signature_fields
from .base import Component, ComponentError, build_signature_base
from .digest import (
    EMPTY_BODY_DIGEST,
    DigestSyntaxError,
    check_content_digest,
    content_digest,
    parse_content_digest,
)
from .keyfile import load_verification_key
from .rawhttp import parse_raw_request
from .sign import (
    Fault,
    SignaturePlan,
    SignedRequest,
    apply_fault,
    margo_components,
    plan_signature,
    sign_plan,
    sign_request,
)
from .verify import (
    MARGO_POLICY,
    RFC9421_POLICY,
    Verification,
    VerifyPolicy,
    diagnose,
    verify_captured,
    verify_request,
)

__all__ = [
    "ALGORITHMS",
    "EMPTY_BODY_DIGEST",
    "EXTRA_ALGORITHMS",
    "MARGO_ALGORITHMS",
    "MARGO_POLICY",
    "RFC9421_POLICY",
    "RSA_PSS_SHA256",
    "Component",
    "ComponentError",
    "DigestSyntaxError",
    "Fault",
    "HttpSigAuth",
    "SignaturePlan",
    "SigningOptions",
    "PrivateKey",
    "PublicKey",
    "SignedRequest",
    "Verification",
    "VerifyPolicy",
    "algorithm_fits_key",
    "algorithms_for_key",
    "build_signature_base",
    "check_content_digest",
    "content_digest",
    "default_algorithm",
    "diagnose",
    "keyid_for",
    "load_verification_key",
    "margo_components",
    "parse_content_digest",
    "parse_raw_request",
    "apply_fault",
    "plan_signature",
    "sign_httpx_request",
    "signature_fields",
    "sign_plan",
    "sign_request",
    "verify_captured",
    "verify_request",
]
