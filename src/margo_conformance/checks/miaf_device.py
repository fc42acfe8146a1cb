"""Checks that judge a MIAF WFM client (role ``device``, authenticator ``mtls-svid``) from what the simulated MIAF WFM,
the MIS origin and the sink recorded (``wfm.miaf.simulated``).

Observations are ``wfm.observe.Observation``: ``kind="tls-handshake"`` (a completed handshake: version, ALPN, the
client leaf in ``tls.peer_chain[0]["der_b64"]``), ``"tls-failure"`` (the server-side reason) and ``"http"`` (one
request and its answer). A check with nothing to judge raises ``NotTested`` instead of passing vacuously.

``DEVICE_NOT_TESTED``: the device-binding MUST rows of the catalog no check of this module judges, each with the
reason; ``tests/framework/test_device_miaf_catalog_coverage.py`` keeps it and the feature files complete.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..pki.spiffe import SpiffeId, SpiffeIdError, classify_client_svid, svid07_notes, uri_sans
from ..schemas import validate
from ..verdict import NotTested, Verdict, check, judges
from ..wfm.miaf.manifest import HOSTING_FIELDS

CAPABILITIES_PREFIX = "/api/v1/capabilities/"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")  # MCAP-04 (Y3 DeviceId)
EXTENSION_RE = re.compile(r"^x-[a-z][a-z0-9-]*-extensions$")  # MCAP-27 / MCAP-12
SEGMENT_RE = re.compile(r"^[A-Za-z0-9._-]+$")  # MID-06 (WP)
MANIFEST_SCHEMA = "device-capabilities-manifest"
#: The server-side reason OpenSSL gives for a client chain that does not reach an anchor (leaf without I1).
MISSING_INTERMEDIATE = "unable to get local issuer certificate"
NO_CLIENT_CERT = ("peer did not return a certificate", "certificate required")

#: Device-binding MUST rows (binds device|both) of the miaf-rc3 catalog no device-role scenario judges, and why.
DEVICE_NOT_TESTED: dict[str, str] = {
    "MGEN-01": "framing of the roles (who implements which side); nothing a device sends shows it",
    "MGEN-06": "attestation: a configured downtime window, polling interval and rate cannot be observed in a run",
    "MRTY-09": "attestation: no retries during a configured downtime window (MGEN-06) cannot be observed in a run",
    "SVID-17": "attestation: key generation from a CSPRNG; the harness mints the device's key in this suite",
    "SVID-01": "framing: MIAF adopts the SPIFFE X.509-SVID specification (the SVID-* rows test it)",
    "SVID-14": "Ed25519 is optional (MAY); the WFM fixtures are P-256",
    "SVID-16": "needs RSA WFM SVIDs (PSS and PKCS#1 v1.5): the device-role fixtures are P-256 only (SVID-12)",
    "MCAP-16": "the cpus[] schema rules are judged with the manifest schema (MCAP-12 scenario); WFM-side summing "
               "is out of scope",
    "MCAP-25": "informative (opaque gateway)",
    "MCAP-28": "informative (reserved resources, not observable)",
    "MID-13": "informative (a client fronting several deviceIds; the gateway scenario shows it)",
}


# --- selections ---------------------------------------------------------------------------------------------


def http(observations: Iterable[Any]) -> list[Any]:
    return [o for o in observations if getattr(o, "kind", "http") == "http"]


def handshakes(observations: Iterable[Any]) -> list[Any]:
    return [o for o in observations if getattr(o, "kind", "") == "tls-handshake"]


def failures(observations: Iterable[Any]) -> list[Any]:
    return [o for o in observations if getattr(o, "kind", "") == "tls-failure"]


def puts(observations: Iterable[Any]) -> list[Any]:
    return [o for o in http(observations) if o.request.method == "PUT" and o.route == "capabilities"]


def reported(observations: Iterable[Any]) -> list[Any]:
    """Capabilities PUTs the WFM accepted (200/201)."""
    return [o for o in puts(observations) if o.status in (200, 201)]


def leaf_der(o: Any) -> bytes | None:
    chain = o.tls.peer_chain if getattr(o, "tls", None) else []
    return base64.b64decode(chain[0]["der_b64"]) if chain and chain[0].get("der_b64") else None


def answered_at(o: Any) -> float:
    return o.started_at + (o.elapsed_s or 0.0)


def _label(o: Any) -> str:
    if o.kind != "http":
        return f"#{o.seq} {o.kind}: {(o.tls.error if o.tls else '') or o.note}"
    return f"#{o.seq} {o.request.method} {o.request.target} -> {o.status}"


def _need(items: list[Any], what: str) -> list[Any]:
    if not items:
        raise NotTested(f"the device sent no {what} to judge")
    return items


def _json(o: Any) -> Any:
    try:
        return json.loads(o.request.body)
    except (ValueError, UnicodeDecodeError):
        return None


# --- transport -------------------------------------------------------------------------------------------------


@check("MTLS-01")
def client_certificate_on_every_connection(observations: list[Any]) -> Verdict:
    """The WFM requires a client certificate: every connection the device opened must carry one."""
    conns = _need(handshakes(observations) + failures(observations), "TLS connection")
    missing = [_label(o) for o in conns if (o.kind == "tls-handshake" and leaf_der(o) is None)
               or (o.kind == "tls-failure" and any(r in (o.tls.error or "") for r in NO_CLIENT_CERT))]
    return Verdict.of(not missing, "a client certificate on every MI connection", expected="a client X.509-SVID",
                      observed=missing or f"{len(conns)} connection(s), each with a client certificate")


@check("MTLS-04")
def tls13_negotiated(observations: list[Any]) -> Verdict:
    done = _need(handshakes(observations), "completed TLS handshake")
    versions = sorted({o.tls.version or "?" for o in done})
    return Verdict.of(versions == ["TLSv1.3"], "TLS version negotiated with a WFM offering TLS 1.3 and 1.2",
                      expected="TLSv1.3", observed=versions)


@check("MTLS-06")
def tls11_never_completed(observations: list[Any]) -> Verdict:
    attempts = handshakes(observations) + failures(observations)
    if not attempts:
        raise NotTested("the device made no connection attempt to the TLS-1.1-only WFM")
    done = [f"{_label(o)} ({o.tls.version})" for o in handshakes(observations)]
    return Verdict.of(not done and not http(observations), "handshakes with a WFM capped at TLS 1.1",
                      expected="none completes, no HTTP request", observed=done + [_label(o) for o in http(observations)]
                      or f"{len(attempts)} attempt(s), all refused")


_AEAD_ECDHE = re.compile(r"^(ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)|TLS_)")


@check("MTLS-05")
def tls12_fallback_follows_rfc9325(observations: list[Any]) -> Verdict:
    """MAY: a TLS-1.2-only WFM may be refused; a completed 1.2 handshake must use an ECDHE AEAD suite."""
    done = handshakes(observations)
    if not done:
        return Verdict.of(True, "TLS 1.2 fallback", expected="refused, or ECDHE with an AEAD suite",
                          observed="the device refused a TLS-1.2-only WFM")
    bad = [f"{_label(o)}: {o.tls.version} {o.tls.cipher}" for o in done
           if o.tls.version != "TLSv1.2" or not _AEAD_ECDHE.match(o.tls.cipher or "")]
    return Verdict.of(not bad, "TLS 1.2 fallback", expected="TLSv1.2 with an ECDHE AEAD suite (RFC 9325)",
                      observed=bad or sorted({f"{o.tls.version} {o.tls.cipher}" for o in done}))


@check("MGEN-02")
def http11_only(observations: list[Any]) -> Verdict:
    requests = _need(http(observations), "HTTP request")
    bad = [f"{_label(o)} over {o.request.http_version}" for o in requests if o.request.http_version != "HTTP/1.1"]
    bad += [f"{_label(o)}: ALPN {o.tls.alpn}" for o in handshakes(observations) if o.tls.alpn not in (None, "http/1.1")]
    return Verdict.of(not bad, "HTTP version of every request (the WFM offers ALPN http/1.1 only)",
                      expected="HTTP/1.1", observed=bad or f"{len(requests)} request(s), all HTTP/1.1")


@check("MGEN-03")
def reached_on_default_port(observations: list[Any]) -> Verdict:
    """The WFM listens on 443 and the device is given https://localhost (no port): it must get there."""
    sent = http(observations)
    return Verdict.of(bool(sent), "requests to a WFM URL without a port", expected="the device reaches port 443",
                      observed=[_label(o) for o in sent[:3]] or [_label(o) for o in observations[:3]] or "nothing")


@check("SVID-08", "MTB-03")
def chain_reaches_the_anchor(observations: list[Any]) -> Verdict:
    """The WFM trusts R1 alone: a client chain without I1 fails with "unable to get local issuer certificate".
    (Python cannot read a client's whole chain, so the handshake outcome is the evidence.)"""
    conns = handshakes(observations) + failures(observations)
    if not handshakes(observations) and not any(MISSING_INTERMEDIATE in (o.tls.error or "") for o in conns):
        raise NotTested("no client chain reached the WFM's verification (see MTLS-01)")
    bad = [_label(o) for o in failures(observations) if MISSING_INTERMEDIATE in (o.tls.error or "")]
    return Verdict.of(not bad, "the client chain carries every intermediate up to the bundle's anchor",
                      expected="leaf + I1 (verifies against R1 alone)", observed=bad or "chain verified against R1")


# --- the device's own SVID (harness-minted, linted anyway) -----------------------------------------------------------


def presented_leaves(observations: list[Any]) -> list[x509.Certificate]:
    ders = list(dict.fromkeys(d for d in (leaf_der(o) for o in handshakes(observations)) if d))
    if not ders:
        raise NotTested("no completed handshake carried a client certificate (see MTLS-01)")
    return [x509.load_der_x509_certificate(d) for d in ders]


@judges
def device_svid_lint(observations: list[Any], requirement: str, trust_domain: str, wfm_id: str) -> Verdict:
    """One SVID rule (``requirement``) applied to every client leaf the device presented."""
    bad: list[str] = []
    for cert in presented_leaves(observations):
        bad += [f"{uri_sans(cert) or cert.subject.rfc4514_string()}: {p}"
                for p in _svid_problems(cert, requirement, trust_domain, wfm_id)]
    return Verdict.of(not bad, f"the device's X.509-SVID ({requirement})", expected="no finding", observed=bad or "clean")


def _svid_problems(cert: x509.Certificate, req: str, trust_domain: str, wfm_id: str) -> list[str]:
    sans = uri_sans(cert)
    shape = classify_client_svid(cert, trust_domain=trust_domain, wfm_id=wfm_id)
    if req == "SVID-02":
        return [] if len(sans) == 1 else [f"{len(sans)} URI SANs"]
    if req == "SVID-03":
        try:
            sid = SpiffeId.parse(sans[0]) if len(sans) == 1 else None
        except SpiffeIdError as exc:
            return [f"not a SPIFFE ID ({exc})"]
        return [] if sid is None or sid.segments else ["root path"]
    if req in ("SVID-04", "SVID-05"):
        return [shape.reason] if shape.reason and shape.reason.startswith(req) else []
    if req == "SVID-07":
        notes = [n for n in svid07_notes(cert) if n != "SVID-07:no-eku"]  # EKU is a SHOULD
        return notes
    if req == "SVID-13":
        key = cert.public_key()
        ok = not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name in ("secp256r1", "secp384r1")
        return [] if ok else [f"EC curve {key.curve.name}"]
    if req == "SVID-15":
        key = cert.public_key()
        return [f"RSA {key.key_size} bits"] if isinstance(key, rsa.RSAPublicKey) and key.key_size < 3072 else []
    if req == "SVID-18":
        return [] if all(s.startswith(f"spiffe://{trust_domain}/margo/") for s in sans) and sans else \
            [f"path outside /margo/: {sans}"]
    if req == "MID-06":
        try:
            seg = SpiffeId.parse(sans[0]).segments if len(sans) == 1 else ()
        except SpiffeIdError:
            seg = ()
        bad = [s for s in seg[2:5:2] if not SEGMENT_RE.match(s) or s in (".", "..")]
        return [f"segment {s!r}" for s in bad] if seg else ["no parsable SPIFFE ID"]
    if req == "MTLS-03":
        return [] if shape.accepted else [shape.reason or "rejected"]
    raise ValueError(f"no SVID lint rule for {req}")


@check("MGEN-04")
def issued_svid_used(observations: list[Any], issued_leaves: list[bytes]) -> Verdict:
    """The device called the WFM with the SVID the harness (as MIS) issued it before the run."""
    leaves = [leaf_der(o) for o in _need(handshakes(observations), "completed TLS handshake")]
    first = leaves[0]
    return Verdict.of(first in issued_leaves, "the client certificate of the first MI connection",
                      expected="the SVID the harness issued", observed="the issued SVID" if first in issued_leaves
                      else "a certificate the harness never issued")


# --- the WFM's identity ---------------------------------------------------------------------------------------------


@judges
def refused_before_http(observations: list[Any], fixture: str) -> Verdict:
    """MID-04 and friends: a WFM SVID the device must refuse; not one byte of HTTP may reach the WFM."""
    requests = http(observations)
    return Verdict.of(not requests, f"HTTP requests to a WFM presenting {fixture}",
                      expected="none (the device aborts after the handshake)",
                      observed=[_label(o) for o in requests] or "none",
                      connections=[_label(o) for o in observations if o.kind != "http"][:5])


@check("MID-04", "MID-05", "MGEN-08", "SVID-12")
def wfm_recognised_by_spiffe_id(observations: list[Any], url_host: str) -> Verdict:
    """W-OK carries a URI SAN only and the URL host matches nothing in it: a device that authenticates by SPIFFE ID
    proceeds, one that checks the host name refuses. W-OK's chain is P-256/SHA-256, which every device validates
    (SVID-12)."""
    sent = http(observations)  # any request: the device accepted the WFM (what it sent is judged elsewhere)
    return Verdict.of(bool(sent), f"HTTP requests to W-OK (no DNS SAN) reached as {url_host!r}",
                      expected="the device proceeds to its capabilities report",
                      observed=[_label(o) for o in sent[:4]] or [_label(o) for o in observations[:4]] or "nothing")


@judges
def wfm_accepted(observations: list[Any], fixture: str) -> Verdict:
    """A WFM SVID the device must accept (W-OK-DNS): it proceeds to HTTP."""
    sent = http(observations)
    return Verdict.of(bool(sent), f"HTTP requests to a WFM presenting {fixture}", expected="the capabilities report",
                      observed=[_label(o) for o in sent[:3]] or [_label(o) for o in observations[:3]] or "nothing")


@check("SVID-09")
def no_out_of_band_fetch(sink_hits: list[Any]) -> Verdict:
    return Verdict.of(not sink_hits, "fetches of the AIA caIssuers URI", expected="none",
                      observed=[h.summary() for h in sink_hits] or "none")


# --- capabilities -----------------------------------------------------------------------------------------------


@check("MCAP-01", interpretations=["Q-62"])
def capabilities_first(observations: list[Any]) -> Verdict:
    first = _need(http(observations), "HTTP request")[0]
    ok = first.request.method == "PUT" and first.route == "capabilities"
    return Verdict.of(ok, "the first MI request", expected="PUT /api/v1/capabilities/{deviceId}", observed=_label(first))


@check("MCAP-03")
def miaf_routes_only(observations: list[Any]) -> Verdict:
    requests = _need(http(observations), "HTTP request")
    bad = [_label(o) for o in requests if o.request.method not in ("PUT", "DELETE") or o.route != "capabilities"]
    return Verdict.of(not bad, "routes used", expected="PUT/DELETE /api/v1/capabilities/{deviceId} only",
                      observed=bad or f"{len(requests)} request(s) on the capabilities route")


@check("MCAP-04")
def device_id_syntax(observations: list[Any]) -> Verdict:
    bad = [f"{_label(o)}: {o.device_id!r}" for o in _need(puts(observations), "capabilities PUT")
           if not DEVICE_ID_RE.match(o.device_id or "")]
    return Verdict.of(not bad, "{deviceId} of every capabilities path", expected=DEVICE_ID_RE.pattern,
                      observed=bad or "all match")


@check("MGEN-07")
def json_content_type(observations: list[Any]) -> Verdict:
    bad = [f"{_label(o)}: {o.request.header('content-type')!r}" for o in _need(puts(observations), "capabilities PUT")
           if (o.request.header("content-type") or "").split(";")[0].strip().lower() != "application/json"]
    return Verdict.of(not bad, "Content-Type of every capabilities PUT", expected="application/json",
                      observed=bad or "all application/json")


#: apiVersion and kind at the manifest root: invalid under rc.3 (MCAP-12), judged by our position Q-53 (strict
#: fails, a default run warns), apart from every other MCAP-12 schema error.
LEGACY_ROOT_MEMBERS = ("apiVersion", "kind")
LEGACY_RULE = "MCAP-12/Q-53"


def _only_legacy(error: Any) -> bool:
    """An additionalProperties error about apiVersion and/or kind alone (the message names every unexpected member
    when there are several)."""
    if error.member is not None:
        return error.member in LEGACY_ROOT_MEMBERS
    named = re.findall(r"'([^']+)'", error.message.split(";")[0])
    return bool(named) and all(n in LEGACY_ROOT_MEMBERS for n in named)


def schema_rule(error: Any) -> str:
    """The catalog row a manifest schema error breaks: the root shape (MCAP-12), the identity members (MCAP-13),
    peripherals/interfaces (MCAP-18), runtimes and deployment types (MCAP-19), labels (MCAP-22), the rest of
    ``properties`` (MCAP-15: the hosting fields' types)."""
    pointer, member = error.pointer or "", error.member or ""
    if pointer == "" and error.validator == "additionalProperties" and _only_legacy(error):
        return LEGACY_RULE
    if pointer == "" and error.validator in ("additionalProperties", "required", "type"):
        return "MCAP-13" if member in ("id", "vendor", "modelNumber", "serialNumber") else "MCAP-12"
    if pointer == "/properties" and error.validator == "required":
        return "MCAP-13"
    if pointer.startswith(("/properties/peripherals", "/properties/interfaces")):
        return "MCAP-18"
    if pointer.startswith(("/properties/supportedRuntimes", "/properties/supportedDeploymentTypes")):
        return "MCAP-19"
    if pointer.startswith("/labels"):
        return "MCAP-22"
    if pointer.startswith("/x-") or pointer == "":
        return "MCAP-12"
    return "MCAP-15"


@check("MCAP-12", interpretations=["Q-53"])
def no_legacy_root_members(observations: list[Any], schema_set: str) -> Verdict:
    """Q-53: the pre-MIAF apiVersion/kind at the root (the schema refuses them) count on the interpretation axis."""
    return manifest_schema(observations, LEGACY_RULE, schema_set)


@judges
def manifest_schema(observations: list[Any], requirement: str, schema_set: str) -> Verdict:
    bad = []
    reports = _need(puts(observations), "capabilities PUT")
    for o in reports:
        doc = _json(o)
        if doc is None:
            if requirement == "MCAP-12":
                bad.append(f"{_label(o)}: not JSON")
            continue
        errors = [e for e in validate(MANIFEST_SCHEMA, doc, profile=schema_set) if schema_rule(e) == requirement]
        if errors:
            bad.append(f"{_label(o)}: " + "; ".join(str(e) for e in errors[:4]))
    return Verdict.of(not bad, f"every manifest against the rc.3 schema ({requirement}'s rules)",
                      expected="no schema error", observed=bad or f"all {len(reports)} valid")


def _manifests(observations: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    found = [(o, d) for o in puts(observations) if isinstance(d := _json(o), dict)
             and isinstance(d.get("properties"), dict)]
    return _need(found, "parsable capabilities manifest")


@check("MCAP-14")
def manifest_id_matches_path(observations: list[Any]) -> Verdict:
    bad = [f"{_label(o)}: properties.id {d['properties'].get('id')!r}" for o, d in _manifests(observations)
           if d["properties"].get("id") != o.device_id]
    return Verdict.of(not bad, "properties.id of every manifest", expected="equals the path {deviceId}",
                      observed=bad or "all equal")


def _hosting(props: dict[str, Any]) -> bool:
    return any(f in props for f in HOSTING_FIELDS)


@check("MCAP-15")
def hosting_fields_complete(observations: list[Any]) -> Verdict:
    bad = []
    for o, d in _manifests(observations):
        props = d["properties"]
        if not _hosting(props):
            continue
        missing = [f for f in HOSTING_FIELDS if f not in props]
        if missing:
            bad.append(f"{_label(o)}: missing {missing}")
        if "otelCollector" in props and props["otelCollector"] is not True:
            bad.append(f"{_label(o)}: otelCollector {props['otelCollector']!r}")
        for name in ("supportedRuntimes", "supportedDeploymentTypes"):
            if name in props and not props[name]:
                bad.append(f"{_label(o)}: {name} empty")
    return Verdict.of(not bad, "hosting fields of every hosting device's manifest",
                      expected="all eight, otelCollector true", observed=bad or "complete")


@check("MCAP-17", interpretations=["Q-19"])
def binary_units(observations: list[Any]) -> Verdict:
    unit = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei)$")
    bad = [f"{_label(o)}: {k}={d['properties'][k]!r}" for o, d in _manifests(observations)
           for k in ("memory", "storage") if k in d["properties"] and not unit.match(str(d["properties"][k]))]
    return Verdict.of(not bad, "memory and storage strings", expected="binary units without a space",
                      observed=bad or "all conform", advisory=True)


@check("MCAP-21")
def custom_needs_labels(observations: list[Any]) -> Verdict:
    bad = []
    for o, d in _manifests(observations):
        props = d["properties"]
        custom = "custom" in (props.get("supportedRuntimes") or []) or "custom" in (props.get("supportedDeploymentTypes") or [])
        if custom and not d.get("labels"):
            bad.append(f"{_label(o)}: custom without labels")
    return Verdict.of(not bad, "labels of a device reporting a custom runtime or deployment type",
                      expected="a non-empty labels object", observed=bad or "conform")


@check("MCAP-27")
def extensions_at_root(observations: list[Any]) -> Verdict:
    bad = []
    for o, d in _manifests(observations):
        # Other root members (apiVersion, kind) are the schema's (MCAP-12); here: extensions misnamed or misplaced.
        bad += [f"{_label(o)}: root member {k!r}" for k in d if k.startswith("x-") and not EXTENSION_RE.match(k)]
        bad += [f"{_label(o)}: properties.{k}" for k in d["properties"] if k.startswith("x-")]
    return Verdict.of(not bad, "extension members", expected="x-<name>-extensions at the document root only",
                      observed=bad or "conform")


@check("MCAP-08")
def gateway_before_children(observations: list[Any]) -> Verdict:
    seen: set[str] = set()
    bad = []
    children = 0
    for o in _need(puts(observations), "capabilities PUT"):
        did = o.device_id or ""
        if "/" in did:
            children += 1
            if did.rsplit("/", 1)[0] not in seen:
                bad.append(f"{_label(o)} before its gateway")
        elif o.status in (200, 201):
            seen.add(did)
    if not children:
        raise NotTested("the device reported no child device")
    return Verdict.of(not bad, "order of gateway and child reports", expected="the gateway first",
                      observed=bad or f"{children} child report(s), each after its gateway")


@check("MCAP-23")
def gateway_identity_only(observations: list[Any]) -> Verdict:
    gateways = [(o, d) for o, d in _manifests(observations) if "/" not in (o.device_id or "")]
    children = [(o, d) for o, d in _manifests(observations) if "/" in (o.device_id or "")]
    if not children or not gateways:
        raise NotTested("no gateway with children was reported")
    bad = [f"{_label(o)}: properties {sorted(d['properties'])}" for o, d in gateways
           if set(d["properties"]) != {"id", "vendor", "modelNumber", "serialNumber"}]
    bad += [f"{_label(o)}: child is not a complete hosting manifest" for o, d in children
            if any(f not in d["properties"] for f in HOSTING_FIELDS)]
    return Verdict.of(not bad, "the non-hosting gateway's manifest and its children's",
                      expected="gateway: identity fields only; children: hosting manifests", observed=bad or "conform")


@check("MCAP-02")
def capabilities_resent_after_change(observations: list[Any], changed_at: float, labels: dict[str, Any]) -> Verdict:
    later = [o for o in reported(observations) if o.started_at >= changed_at]
    carrying = [o for o in later if isinstance(d := _json(o), dict) and d.get("labels", {}) == {**d.get("labels", {}), **labels}]
    return Verdict.of(bool(carrying), "capabilities after the device's labels changed",
                      expected=f"a new PUT carrying {labels}, accepted", observed=[_label(o) for o in later] or "none")


# --- errors and retries ------------------------------------------------------------------------------------------


def _gaps(observations: list[Any]) -> list[tuple[float, Any, Any]]:
    sent = puts(observations)
    return [(b.started_at - answered_at(a), a, b) for a, b in zip(sent, sent[1:])]


@check("MRTY-06", "MRTY-05")
def retry_after_honoured(observations: list[Any], retry_after_s: float, tolerance_s: float) -> Verdict:
    """The next attempt after a retryable answer comes no sooner than Retry-After (the header wins over
    ``retryAfterSeconds``); ``tolerance_s`` absorbs the measurement (100 ms)."""
    gaps = _gaps(observations)
    if not gaps:
        raise NotTested("the device did not retry the refused capabilities report")
    gap, first, second = gaps[0]
    return Verdict.of(gap >= retry_after_s - tolerance_s, "delay before the retry",
                      expected=f">= {retry_after_s:g} s after the {first.status} was sent",
                      observed=f"{gap:.3f} s ({_label(first)} then {_label(second)})")


@check("MRTY-08")
def backoff_applied(observations: list[Any], strategy: str, base_s: float, retries: int, tolerance_s: float) -> Verdict:
    """MRTY-08 MUST: gaps of an ``exponential`` strategy never shrink and at least one grows, a ``fixed`` one keeps
    the advised delay (Q-45 sets only what is not asserted: multiplier, cap, jitter). Constant gaps under
    "exponential" apply no exponential backoff in any reading, so this is a must verdict, not an interpretation."""
    gaps = [g for g, a, _ in _gaps(observations) if a.status in (429, 503)][:retries]
    if len(gaps) < retries:
        raise NotTested(f"the device retried {len(gaps)} time(s) within the window; {retries} needed")
    shown = [round(g, 3) for g in gaps]
    ok = all(g >= base_s - tolerance_s for g in gaps)
    if strategy == "exponential":
        ok = ok and all(b >= a - tolerance_s for a, b in zip(gaps, gaps[1:])) and \
            any(b > a + tolerance_s for a, b in zip(gaps, gaps[1:]))
        expected = f"every gap >= {base_s:g} s, none shrinking, at least one growing (exponential)"
    else:
        expected = f"every gap >= {base_s:g} s (fixed)"
    return Verdict.of(ok, "gaps between retries", expected=expected, observed=shown)


@check("MRTY-07")
def not_resent_after_non_retryable(observations: list[Any], window_s: float) -> Verdict:
    """MRTY-07 MUST: a byte-identical resend within ``window_s`` (seconds, far inside Q-46's 60 s) of a
    ``retryable: false`` answer is a retry in any reading; Q-46 only decides when a later re-PUT stops being one."""
    sent = puts(observations)
    refused = next((o for o in sent if o.status == 422), None)
    if refused is None:
        raise NotTested("the WFM never answered 422 (the device sent no capabilities report)")
    again = [o for o in sent if o.seq > refused.seq and o.request.body == refused.request.body
             and o.request.target == refused.request.target and o.started_at - answered_at(refused) <= window_s]
    return Verdict.of(not again, "resends of a request refused with retryable false",
                      expected=f"no byte-identical resend within {window_s:g} s", observed=[_label(o) for o in again] or "none")


@check("MERR-07")
def problem_type_not_dereferenced(sink_hits: list[Any], problem_type: str) -> Verdict:
    return Verdict.of(not sink_hits, f"fetches of the problem type URI {problem_type}", expected="none (opaque identifier)",
                      observed=[h.summary() for h in sink_hits] or "none")


@check("MERR-07")
def healthy_after_problem(stopped_by: str, exit_code: int | None) -> Verdict:
    return Verdict.of(stopped_by != "exit", "the device after a 422 problem", expected="still running",
                      observed=f"stopped by {stopped_by} (exit code {exit_code})")


# --- trust bundle -------------------------------------------------------------------------------------------------


@judges
def no_wfm_request(observations: list[Any], why: str) -> Verdict:
    requests = http(observations)
    return Verdict.of(not requests, f"HTTP requests to the WFM {why}", expected="none",
                      observed=[_label(o) for o in requests] or "none")


@check("MTB-01")
def mis_contacted(mis_observations: list[Any]) -> Verdict:
    """The device tried the MIS origin (else its silence proves nothing about MTB-01)."""
    return Verdict.of(bool(mis_observations), "connection attempts to the MIS origin", expected="at least one",
                      observed=[_label(o) for o in mis_observations[:4]] or "none")


@check("MTB-04")
def http_bundle_uri_not_fetched(sink_hits: list[Any]) -> Verdict:
    return Verdict.of(not sink_hits, "fetches of the http:// trustBundleUri", expected="none (refused: not https)",
                      observed=[h.summary() for h in sink_hits] or "none")


@check("MTB-05")
def if_none_match_sent(mis_observations: list[Any]) -> Verdict:
    """On refresh the device sends If-None-Match with the ETag it got (advisory when not)."""
    gets = [o for o in mis_observations if o.kind == "http" and o.route == "bundle"]
    if len(gets) < 2:
        raise NotTested("the device did not refresh its bundle within the window")
    etags = {o.response.header("etag") for o in gets if o.response is not None and o.response.header("etag")}
    conditional = [o for o in gets[1:] if o.request.header("if-none-match") in etags]
    return Verdict.of(bool(conditional), "bundle refreshes", expected="If-None-Match with the ETag served",
                      observed=[f"{_label(o)} If-None-Match={o.request.header('if-none-match')!r}" for o in gets[1:4]],
                      advisory=True)


@judges
def reported_after(observations: list[Any], since: float, what: str) -> Verdict:
    later = [o for o in reported(observations) if o.started_at >= since]
    return Verdict.of(bool(later), what, expected="an accepted capabilities PUT",
                      observed=[_label(o) for o in http(observations) if o.started_at >= since][:4]
                      or [_label(o) for o in observations if o.started_at >= since][:4] or "nothing")


@judges
def not_reported_after(observations: list[Any], since: float, what: str) -> Verdict:
    later = [o for o in http(observations) if o.started_at >= since]
    return Verdict.of(not later, what, expected="no HTTP request (the handshake refused)",
                      observed=[_label(o) for o in later] or [_label(o) for o in observations if o.started_at >= since][:4]
                      or "nothing")


# --- SVID rotation ------------------------------------------------------------------------------------------------


def not_after(leaf_der: bytes) -> float:
    """When a leaf (DER) stops being valid, as a POSIX time."""
    return x509.load_der_x509_certificate(leaf_der).not_valid_after_utc.timestamp()


@check("MTLS-08")
def new_svid_on_next_connection(observations: list[Any], rotated_at: float, new_leaf: bytes) -> Verdict:
    """SHOULD: after its SVID was renewed, the device's next connection presents the new one."""
    later = [o for o in handshakes(observations) if o.started_at >= rotated_at]
    fresh = [o for o in later if leaf_der(o) == new_leaf]
    return Verdict.of(bool(fresh), "client certificate after the SVID was renewed",
                      expected="a new connection presenting the renewed SVID",
                      observed=f"{len(later)} connection(s) after the renewal, {len(fresh)} with the new SVID",
                      advisory=True)
