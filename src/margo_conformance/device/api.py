"""The routes and bodies of the httpsig-2026h1 profile as the device sees them, and how to read an error.

Shared by the reference client and the simulated device, so both send the same shapes.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from ..evidence import CapturedResponse
from ..pki import CertEncoding, encode_certificate

from ..patterns import CERTIFICATE_PATH, ONBOARDING_PATH, capabilities_path  # noqa: F401  (re-exported)

ONBOARDING_API_VERSION = "onboarding.margo.org/v1alpha1"  # ONB-04 (example value)
ONBOARDING_KIND = "OnboardingRequest"  # ONB-03


def certificate_value(cert: x509.Certificate, form: CertEncoding | str = CertEncoding.B64_DER) -> str:
    """The onboarding ``certificate`` string: base64(DER) by default (ONB-05, Q-09)."""
    return encode_certificate(cert, CertEncoding(form)).decode("latin-1")


def onboarding_body(certificate: str) -> dict[str, Any]:
    return {"apiVersion": ONBOARDING_API_VERSION, "kind": ONBOARDING_KIND, "certificate": certificate}


@dataclass(frozen=True)
class Problem:
    """What a WFM said when it refused: the problem type (RFC 9457 or ``{error}``), title and detail."""

    status: int
    type: str | None
    title: str | None
    detail: str | None

    @property
    def name(self) -> str:
        """A short name for the problem type: the last segment of a type URI, or the ``error`` text."""
        if self.type:
            return self.type.rstrip("/").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or self.type
        return self.title or "no problem type given"

    def __str__(self) -> str:
        text = f"{self.status} {self.name}"
        if self.title and self.title != self.name:
            text += f" ({self.title})"
        if self.detail:
            text += f": {self.detail}"
        return text


def problem_of(response: CapturedResponse) -> Problem:
    body = response.json()
    if not isinstance(body, dict):
        text = response.body[:200].decode("utf-8", errors="replace").strip() or None
        return Problem(response.status, None, None, text)
    error = body.get("error", body.get("Error"))  # the HTTPSIG-era {error} body (ERR-01)
    ptype = body.get("type") if isinstance(body.get("type"), str) else None
    title = body.get("title") if isinstance(body.get("title"), str) else (error if isinstance(error, str) else None)
    detail = body.get("detail", body.get("message"))
    return Problem(response.status, ptype, title, detail if isinstance(detail, str) else None)


def retry_after_s(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
