"""Named defects of the reference device, and the one behaviour switch each of them flips.

Every defect breaks exactly one requirement (DESIGN.md section 7). A defect is never a separate code
path: ``behaviour_for`` turns the selected names into a ``Behaviour``, and the trust, signing, manifest and
flow code read that one object. The clean reference is ``Behaviour()``.

Requirement choices that needed thought (DIGEST.md IDs):

- ``created-stale`` -> SIG-03: the device's duty is that ``created`` is the signing time; SIG-11 is the
  WFM's window check, which the device-role suite cannot judge against a device.
- ``digest-missing`` -> SIG-06 (the header must be present); a wrong value is DIG-01.
- ``wrong-key`` -> SIG-05 (signed with the client's private key: the one whose certificate was
  onboarded); ONB-14 binds the WFM.
- ``unsigned`` leaves the onboarding POST signed, so that it breaks SIG-01 and not also ONB-06;
  ``onboarding-unsigned`` is the ONB-06 variant.
- ``continue-after-403`` -> ONB-15 (capabilities come only after a completed onboarding); ONB-09 is the
  WFM's status code duty.
- ``retry-ignores-retry-after`` -> ERR-04 ("clients MUST honour Retry-After"). That is MIAF wording; the
  catalog applies it to httpsig-2026h1 as a SHOULD, so this defect fails a run only with --strict.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from typing import Callable

from ..defects import Defect
from ..errors import ConfigError


@dataclass(frozen=True)
class Behaviour:
    """Every switch a defect can flip; the defaults are the conformant reference device."""

    # trust (TLS-02/03/04, CERT-06)
    verify_server_cert: bool = True
    check_hostname: bool = True
    accept_expired_server_cert: bool = False
    tls_minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    verify_bootstrap_channel: bool = True
    # signing (SIG-*, DIG-*): a core httpsig Fault value, applied to every signed request ...
    signature_fault: str | None = None
    # ... or only to the requests made after onboarding (those bound to a clientId)
    signature_fault_after_onboarding: str | None = None
    sign_onboarding: bool = True
    created_offset_s: int = 0
    # onboarding and flow (ONB-*)
    certificate_form: str = "base64-der"  # a pki.CertEncoding value
    use_own_id_in_paths: bool = False
    report_before_onboarding: bool = False
    continue_after_refusal: bool = False
    # capabilities (CAP-*)
    legacy_capabilities_post: bool = False
    architecture_override: str | None = None
    properties_id_suffix: str = ""
    children_before_gateway: bool = False
    gateway_hosting_fields: bool = False
    # errors and retries (ERR-04)
    honour_retry_after: bool = True
    # the media type of every request body (GEN-06)
    body_content_type: str = "application/json"

    defects: tuple[str, ...] = field(default=())


_Switch = Callable[[Behaviour], Behaviour]


def _set(**changes: object) -> _Switch:
    return lambda b: replace(b, **changes)  # type: ignore[arg-type]


#: (defect, switch). The order is the order of ``margo-conformance defects --role device``.
_CATALOG: tuple[tuple[Defect, _Switch], ...] = (
    (Defect("tls-no-verify", "device", "TLS-03",
            "does not verify the WFM server certificate at all (any chain is accepted)",
            related=("TLS-04", "CERT-06")),  # nor dates, host name, intermediates, nor the bootstrap channel
     _set(verify_server_cert=False, check_hostname=False)),
    (Defect("tls-no-hostname", "device", "TLS-04",
            "verifies the chain but not the host name (Q-07)"),
     _set(check_hostname=False)),
    (Defect("tls-accept-expired", "device", "TLS-04",
            "accepts an expired WFM server certificate (validity dates not checked)"),
     _set(accept_expired_server_cert=True)),
    (Defect("tls12-allowed", "device", "TLS-02",
            "accepts TLS 1.2 instead of requiring TLS 1.3", strict_only=True),
     _set(tls_minimum=ssl.TLSVersion.TLSv1_2)),
    (Defect("bootstrap-tofu", "device", "CERT-06",
            "downloads the root CA over an unverified channel (trust on first use)"),
     _set(verify_bootstrap_channel=False)),
    (Defect("unsigned", "device", "SIG-01",
            "sends the requests after onboarding without Signature-Input / Signature",
            related=("SIG-06",)),  # SIG-06: a request with a body carries all three headers
     _set(signature_fault_after_onboarding="unsigned")),
    (Defect("onboarding-unsigned", "device", "ONB-06",
            "sends the onboarding POST unsigned (no proof of possession)",
            # SIG-01 and SIG-06 name the onboarding POST among the signed requests
            related=("SIG-01", "SIG-06"), strict_only=True),
     _set(sign_onboarding=False)),
    (Defect("digest-missing", "device", "SIG-06",
            "leaves the Content-Digest header out of requests with a body"),
     _set(signature_fault="digest-missing")),
    (Defect("digest-wrong", "device", "DIG-01",
            "sends a Content-Digest that is not the SHA-256 of the body (correctly signed)"),
     _set(signature_fault="digest-wrong")),
    (Defect("no-target-uri", "device", "SIG-02",
            "signs without the @target-uri component"),
     _set(signature_fault="component-missing")),
    (Defect("uppercase-component", "device", "SIG-02",
            "writes the covered component as \"Content-Digest\" instead of lower case (Q-04)", strict_only=True),
     _set(signature_fault="uppercase-component")),
    (Defect("ecdsa-der", "device", "SIG-05",
            "encodes the ECDSA signature as DER instead of raw r||s (Q-06; ECDSA keys only)",
            related=("ONB-06",)),  # the onboarding signature is DER too, so it proves no key possession
     _set(signature_fault="ecdsa-der")),
    (Defect("created-stale", "device", "SIG-03",
            "puts a created parameter one hour before the signing time"),
     _set(created_offset_s=-3600)),
    (Defect("wrong-key", "device", "SIG-05",
            "signs the requests after onboarding with a key other than the onboarded one"),
     _set(signature_fault_after_onboarding="wrong-key")),
    (Defect("ignore-client-id", "device", "ONB-13",
            "ignores the assigned clientId and puts its own device id in the paths"),
     _set(use_own_id_in_paths=True)),
    (Defect("report-before-onboarding", "device", "ONB-15",
            "reports capabilities before it onboards (then onboards and reports again)"),
     _set(report_before_onboarding=True)),
    (Defect("capabilities-post-legacy", "device", "CAP-04",
            "reports capabilities with the pre-2026 POST /api/v1/clients/{clientId}/capabilities (no deviceId)"),
     _set(legacy_capabilities_post=True)),
    (Defect("manifest-invalid-enum", "device", "CAP-14",
            "reports cpus[].architecture \"x86_64\", which is not in the enum"),
     _set(architecture_override="x86_64")),
    (Defect("properties-id-mismatch", "device", "CAP-20",
            "sends a properties.id different from the deviceId in the path", strict_only=True),
     _set(properties_id_suffix="-other")),
    (Defect("continue-after-403", "device", "ONB-15",
            "goes on to report capabilities after the WFM refused onboarding with 403"),
     _set(continue_after_refusal=True)),
    (Defect("retry-ignores-retry-after", "device", "ERR-04",
            "retries at once after 429/503, ignoring Retry-After", strict_only=True),
     _set(honour_retry_after=False)),
    (Defect("body-text-plain", "device", "GEN-06",
            "labels its request bodies text/plain (the WFM refuses the onboarding with 415 and the device stops)"),
     _set(body_content_type="text/plain")),
    (Defect("cert-raw-pem", "device", "ONB-05",
            "sends the onboarding certificate as raw PEM text instead of base64"),
     _set(certificate_form="pem")),
    (Defect("gateway-children-first", "device", "CAP-13",
            "in gateway mode, reports the children before the gateway itself"),
     _set(children_before_gateway=True)),
    (Defect("gateway-hosting-fields", "device", "CAP-12",
            "in gateway mode, reports hosting fields (cpus, memory, ...) for the non-hosting gateway"),
     _set(gateway_hosting_fields=True)),
)

DEFECTS: tuple[Defect, ...] = tuple(d for d, _ in _CATALOG)
_SWITCHES: dict[str, _Switch] = {d.name: s for d, s in _CATALOG}

#: Fields that two defects must not both set: the signer takes one fault per request.
_SIGNATURE_FIELDS = ("signature_fault", "signature_fault_after_onboarding")


def behaviour_for(names: list[str] | tuple[str, ...] = ()) -> Behaviour:
    """The reference behaviour with the named defects applied; unknown or clashing names -> ConfigError."""
    behaviour = Behaviour()
    signature_owner: str | None = None
    for name in dict.fromkeys(names):
        switch = _SWITCHES.get(name)
        if switch is None:
            known = ", ".join(_SWITCHES)
            raise ConfigError(f"unknown device defect {name!r}; known: {known}")
        changed = switch(behaviour)
        if any(getattr(changed, f) != getattr(behaviour, f) for f in _SIGNATURE_FIELDS):
            if signature_owner is not None:
                raise ConfigError(
                    f"defects {signature_owner!r} and {name!r} both change the request signature; pick one"
                )
            signature_owner = name
        behaviour = changed
    return replace(behaviour, defects=tuple(dict.fromkeys(names)))
