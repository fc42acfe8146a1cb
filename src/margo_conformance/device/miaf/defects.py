"""Named defects of the reference MIAF device (profile miaf-rc3), and the one behaviour switch each flips.

Registered in the device registry (``margo_conformance.defects.defects_for("device")``) with the profile, so
``margo-conformance defects --role device --profile miaf-rc3`` lists them. As in ``device/defects.py`` a defect is
never a second code path: ``behaviour_for`` turns the names into one ``Behaviour`` the TLS, bundle, retry,
capability and watch code read; the clean reference is ``Behaviour()``.

Requirement choices that needed thought (MIAF digest IDs):

- ``any-wfm-id`` relaxes only the identity comparison (MID-04; the trust domain is part of it, so W-FTD and
  W-DNS-WRONGID are accepted too: SVID-10 / MID-05 are named as related); the one-URI-SAN rule (SVID-02) and the
  leaf constraints (SVID-04/05) still refuse, so W-2URI, W-DNSONLY, W-CA and W-KCS stay refused.
- ``no-chain-check`` keeps the SPIFFE-ID check and drops chain validation (CERT_NONE): W-EXP (MTLS-07) and
  W-R2 / W-LEAFONLY / W-AIA (an unknown anchor, intermediates not delivered) are all accepted.
- ``hostname-check`` is what a TLS client does by default: chain + RFC 9525 host name, no SPIFFE ID: W-OK (no DNS
  SAN) is refused and W-DNS-WRONGID (DNS SAN = host name, other wfm-id) accepted (MID-05).
- ``leaf-only`` and ``no-client-cert`` are ``whole_run``: a conformant WFM refuses every handshake of such a device,
  so no report ever arrives and every scenario that needs one is broken by necessity.
- ``ignores-retry-after`` retries after 0.2 s, so its gaps cannot grow either (MRTY-08 related).
- ``keeps-old-svid`` (MTLS-08: "SHOULD reconnect after renewing its SVID") and ``no-etag`` (MTB-05's ETag is
  advisory for the device) and ``api-version-kind`` (Q-53: strict fail, lenient warning) are strict-only;
  so are ``no-backoff`` and ``retries-non-retryable``: the suite judges "exponential" (at least one gap grows) and
  "resent" (byte-identical within the window) by the harness positions Q-45 and Q-46, an interpretation axis, so
  a default run names the deviation and ``--strict`` fails.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from typing import Callable

from ...defects import Defect
from ...errors import ConfigError
from ...wfm.miaf.defects import PROFILE  # the profile the MIAF reference implementations implement


@dataclass(frozen=True)
class Behaviour:
    """Every switch a MIAF device defect can flip; the defaults are the conformant reference device."""

    # the WFM's identity on every MI connection (MID-04/05, MTLS-07, SVID-10)
    spiffe_check: bool = True
    any_wfm_id: bool = False
    verify_chain: bool = True
    check_hostname: bool = False
    # our side of the handshake (MTLS-01/04/06, SVID-08)
    send_client_cert: bool = True
    send_intermediates: bool = True
    tls_minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    tls_maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    # routes and bodies (MCAP-03/08/12/15/21)
    route: str = "miaf"  # "miaf" | "old" (/api/v1/clients/<client-id>/capabilities/<id>)
    method: str = "PUT"
    api_version_kind: bool = False
    otel_collector: bool = True
    custom_without_labels: bool = False
    children_first: bool = False
    # answers (MRTY-06/07/08, MERR-07)
    honour_retry_after: bool = True
    backoff: bool = True
    retry_non_retryable: bool = False
    dereference_problem_type: bool = False
    # capability updates and SVID rotation (MCAP-02, MTLS-08)
    watch_labels: bool = True
    follow_svid_rotation: bool = True
    # the trust bundle (MTB-01/02/04/05/06)
    merge_bundles: bool = False
    accept_empty_bundle: bool = False
    allow_http_bundle_uri: bool = False
    verify_mis: bool = True
    send_etag: bool = True

    defects: tuple[str, ...] = field(default=())


_Switch = Callable[[Behaviour], Behaviour]


def _set(**changes: object) -> _Switch:
    return lambda b: replace(b, **changes)  # type: ignore[arg-type]


def _d(name: str, requirement: str, description: str, *, related: tuple[str, ...] = (),
       strict_only: bool = False, whole_run: bool = False) -> Defect:
    return Defect(name=name, role="device", requirement=requirement, description=description, related=related,
                  profile=PROFILE, strict_only=strict_only, whole_run=whole_run)


#: (defect, switch), in the order ``margo-conformance defects --role device --profile miaf-rc3`` lists them.
_CATALOG: tuple[tuple[Defect, _Switch], ...] = (
    (_d("hostname-check", "MID-05",
        "authenticates the WFM by standard host-name verification of its certificate instead of its SPIFFE ID "
        "(W-OK without a DNS SAN is refused, W-DNS-WRONGID accepted)", related=("MID-04", "MGEN-08")),
     _set(spiffe_check=False, check_hostname=True)),
    (_d("any-wfm-id", "MID-04",
        "validates the WFM's chain but not its SPIFFE ID (any trust domain, any wfm-id, a client SVID)",
        related=("SVID-10", "MID-05")),
     _set(any_wfm_id=True)),
    (_d("no-chain-check", "MTLS-07",
        "does not validate the WFM's chain (no anchors, no dates; SPIFFE ID checked only): accepts W-EXP and W-R2",
        related=("SVID-10", "MID-04", "SVID-08", "SVID-09")),
     _set(verify_chain=False)),
    (_d("leaf-only", "SVID-08", "presents its SVID leaf without the intermediate",
        related=("MTLS-03", "MTB-03"), whole_run=True),
     _set(send_intermediates=False)),
    (_d("no-client-cert", "MTLS-01", "connects without presenting a client certificate",
        related=("MTLS-03",), whole_run=True),
     _set(send_client_cert=False)),
    (_d("tls11-allowed", "MTLS-06", "accepts TLS 1.1 (its minimum protocol version is TLS 1.1)"),
     _set(tls_minimum=ssl.TLSVersion.TLSv1_1)),
    (_d("tls12-only", "MTLS-04", "never offers TLS 1.3 (its maximum protocol version is TLS 1.2)",
        related=("MTLS-05",)),
     _set(tls_maximum=ssl.TLSVersion.TLSv1_2)),
    (_d("old-routes", "MCAP-03",
        "reports capabilities on the pre-MIAF route PUT /api/v1/clients/<client-id>/capabilities/<deviceId>",
        related=("MCAP-01",)),
     _set(route="old")),
    (_d("post-capabilities", "MCAP-03", "reports capabilities with POST instead of PUT",
        related=("MCAP-01",)),
     _set(method="POST")),
    (_d("api-version-kind", "MCAP-12",
        "puts the pre-MIAF apiVersion and kind members at the root of its capability manifests (Q-53)",
        strict_only=True),
     _set(api_version_kind=True)),
    (_d("otel-false", "MCAP-15", "reports otelCollector: false for a device that hosts workloads"),
     _set(otel_collector=False)),
    (_d("custom-without-labels", "MCAP-21",
        "reports custom runtimes and deployment types without any labels"),
     _set(custom_without_labels=True)),
    (_d("child-before-gateway", "MCAP-08",
        "in gateway mode, reports the children before the gateway itself", related=("MCAP-23",)),
     _set(children_first=True)),
    (_d("ignores-retry-after", "MRTY-06", "retries a 429/503 after 0.2 s whatever Retry-After says",
        related=("MRTY-08", "MRTY-05")),
     _set(honour_retry_after=False)),
    (_d("no-backoff", "MRTY-08",
        "retries with a constant gap (the advised delay) although backoffStrategy is exponential",
        strict_only=True),
     _set(backoff=False)),
    (_d("retries-non-retryable", "MRTY-07",
        "resends a request the WFM refused with retryable: false (a 422), as if it were transient",
        strict_only=True),
     _set(retry_non_retryable=True)),
    (_d("dereferences-problem-type", "MERR-07", "GETs the problem type URI of every error answer"),
     _set(dereference_problem_type=True)),
    (_d("no-capability-update", "MCAP-02",
        "ignores changes of its labels file (capabilities are reported once)"),
     _set(watch_labels=False)),
    (_d("merges-bundle", "MTB-02",
        "adds the anchors of a refreshed bundle to the ones it had instead of replacing them",
        related=("SVID-11",)),
     _set(merge_bundles=True)),
    (_d("accepts-empty-bundle", "MTB-06",
        "accepts a bundle without any x509-svid key, replacing its working anchors with none",
        related=("MTB-02",)),
     _set(accept_empty_bundle=True)),
    (_d("http-bundle-uri", "MTB-04", "follows a discovery document's http:// trustBundleUri (fetched in clear)",
        related=("MTB-02", "MTB-01")),
     _set(allow_http_bundle_uri=True)),
    (_d("tofu-bundle", "MTB-01",
        "does not authenticate the discovery / bundle origin (trust on first use of whatever answers)"),
     _set(verify_mis=False)),
    (_d("keeps-old-svid", "MTLS-08",
        "ignores rotated SVID files: keeps presenting the old SVID and keeps its connection", strict_only=True),
     _set(follow_svid_rotation=False)),
    (_d("no-etag", "MTB-05", "refreshes the bundle without If-None-Match (always downloads it again)",
        strict_only=True),
     _set(send_etag=False)),
)

DEFECTS: tuple[Defect, ...] = tuple(d for d, _ in _CATALOG)
DEFECT_NAMES: frozenset[str] = frozenset(d.name for d in DEFECTS)
_SWITCHES: dict[str, _Switch] = {d.name: s for d, s in _CATALOG}


def behaviour_for(names: list[str] | tuple[str, ...] = ()) -> Behaviour:
    """The reference behaviour with the named defects applied; an unknown name -> ConfigError (exit 2)."""
    behaviour = Behaviour()
    for name in dict.fromkeys(names):
        switch = _SWITCHES.get(name)
        if switch is None:
            raise ConfigError(f"unknown MIAF device defect {name!r}; known: {', '.join(_SWITCHES)}")
        behaviour = switch(behaviour)
    return replace(behaviour, defects=tuple(dict.fromkeys(names)))
