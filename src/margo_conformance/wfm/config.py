"""WfmConfig: every knob of the WFM server in one frozen value, checked once at construction.

The defaults are the strict reading of profile httpsig-2026h1 (DIGEST sections 1 to 4 and the positions of
section 6): TLS 1.3 minimum (TLS-02), no client certificate (TLS-05), root CA served as base64(DER) (Q-09),
replay window 300 s with 60 s future skew (SIG-11, DIGEST 2.6), a 1 MiB body limit, auto-approval.

``base_url`` is the externally visible URL up to (not including) ``/api/v1``: the WFM rebuilds
``@target-uri`` from its scheme and authority plus the raw request path (Q-23, Q-24). When it is not set, the
authority comes from the request's ``Host`` header, so a device that signed ``https://127.0.0.1:PORT/...``
verifies, and so does one that used ``localhost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from ..errors import ConfigError

TrustPolicy = Literal["auto", "allow-list", "manual"]
CertForm = Literal["der", "pem"]
TlsVersion = Literal["1.2", "1.3"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class WfmConfig:
    #: auto: approve every well-formed, correctly signed onboarding; allow-list: only certificates issued by
    #: an allow-listed CA or pre-registered by the operator (CERT-12); manual: like allow-list, and anything
    #: else waits for an operator decision up to ``approval_timeout_s`` (ONB-10, Q-12).
    trust: TrustPolicy = "auto"
    approval_timeout_s: float = 30.0
    #: Form of the root CA in ``GET /api/v1/onboarding/certificate``: base64(DER) or base64(PEM) (CERT-04, Q-09).
    cert_form: CertForm = "der"
    #: Externally visible base URL (scheme, authority, optional path prefix before /api/v1); None: from Host.
    base_url: str | None = None
    #: Path prefix before /api/v1 when ``base_url`` is not given (e.g. "/v1alpha2/margo").
    path_prefix: str = ""
    #: Replay window (SIG-11): oldest acceptable ``created`` age and allowed future skew, in seconds.
    window_s: int = 300
    future_skew_s: int = 60
    tls_min: TlsVersion = "1.3"
    #: Request bodies above this get 413 (checked on Content-Length first, then while reading).
    max_body_bytes: int = MIB
    #: Q-04: the WFM verifies with the component name the device used and only warns on upper case; True
    #: makes an upper-case component name a 401.
    strict_component_case: bool = False
    #: Record every exchange for the observation API (in-process simulated WFM). Off for the standalone
    #: server, whose audit log lives in SQLite.
    observe: bool = False
    #: The simulated WFM of the device-role suite: a check that fails on what the *device* did wrong (digest,
    #: signature, certificate, schema, unknown client, ...) is recorded (``ctx.waived``, the observation's
    #: findings) instead of answered, so the device carries on and all of its traffic can be judged. The
    #: harness judges; the WFM only refuses what a scenario tells it to (FaultPlan). Never for a reference WFM.
    accept_faulty: bool = False
    #: Names from ``wfm/defects.py``; each breaks exactly one requirement.
    defects: frozenset[str] = field(default_factory=frozenset)
    #: Seconds a manual-approval wait sleeps between polls of the store (decisions from another process).
    approval_poll_s: float = 0.2

    def __post_init__(self) -> None:
        if self.trust not in ("auto", "allow-list", "manual"):
            raise ConfigError(f"trust must be auto, allow-list or manual, not {self.trust!r}")
        if self.cert_form not in ("der", "pem"):
            raise ConfigError(f"cert form must be der or pem, not {self.cert_form!r}")
        if self.tls_min not in ("1.2", "1.3"):
            raise ConfigError(f"TLS minimum must be 1.2 or 1.3, not {self.tls_min!r}")
        if self.window_s <= 0 or self.future_skew_s < 0 or self.max_body_bytes <= 0:
            raise ConfigError("window, skew and body limit must be positive")
        if self.approval_timeout_s < 0:
            raise ConfigError("approval timeout must not be negative")
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
                raise ConfigError(f"base URL must be https://host[:port][/prefix], not {self.base_url!r}")
            if parts.path.rstrip("/").endswith("/api/v1"):
                raise ConfigError("base URL stops before /api/v1 (it is the prefix the API hangs under)")
        if self.path_prefix and (not self.path_prefix.startswith("/") or self.path_prefix.endswith("/")):
            raise ConfigError(f"path prefix must start with '/' and not end with one: {self.path_prefix!r}")
        from .defects import DEFECT_NAMES  # local: defects.py imports nothing from here

        unknown = sorted(set(self.defects) - DEFECT_NAMES)
        if unknown:
            raise ConfigError(f"unknown WFM defect(s) {unknown}; see 'margo-conformance defects --role wfm'")
        object.__setattr__(self, "defects", frozenset(self.defects))

    @property
    def prefix(self) -> str:
        """The path the API hangs under, without a trailing slash ("" for none)."""
        if self.base_url is not None:
            return urlsplit(self.base_url).path.rstrip("/")
        return self.path_prefix

    @property
    def origin(self) -> str | None:
        """scheme://authority of the configured base URL, or None (then taken from Host)."""
        if self.base_url is None:
            return None
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def has(self, defect: str) -> bool:
        return defect in self.defects

    def with_(self, **changes: object) -> WfmConfig:
        return replace(self, **changes)  # type: ignore[arg-type]
