"""Unit tests of ``checks.miaf_device``: each check passes on what a conformant MIAF device does and fails on the
defect it exists for (synthetic observations, as the simulated MIAF WFM records them)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from margo_conformance.checks import miaf_device as c
from margo_conformance.device.miaf_manifest import gateway_manifest, manifest
from margo_conformance.evidence import CapturedRequest, CapturedResponse, TlsFacts
from margo_conformance.pki.spiffe import SpiffeAuthority
from margo_conformance.verdict import NotTested
from margo_conformance.wfm.observe import Observation
from margo_conformance.wfm.sink import SinkHit

TD, WFM = "harness.test", "wfm-h1"
_seq = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def authority() -> SpiffeAuthority:
    return SpiffeAuthority(TD)


def hs(der: bytes | None = b"", *, version: str = "TLSv1.3", cipher: str = "TLS_AES_128_GCM_SHA256",
       alpn: str | None = "http/1.1", conn: int = 1, at: float = 0.0) -> Observation:
    chain = [{"der_b64": base64.b64encode(der).decode()}] if der else []
    return Observation(request=CapturedRequest(method="", url=""), kind="tls-handshake", seq=next(_seq),  # type: ignore[arg-type]
                       tls=TlsFacts(version=version, cipher=cipher, alpn=alpn, peer_chain=chain), connection_id=conn,
                       started_at=at or time.time())


def fail(reason: str) -> Observation:
    return Observation(request=CapturedRequest(method="", url=""), kind="tls-failure", seq=next(_seq),
                       tls=TlsFacts(error=reason))


def req(method: str = "PUT", path: str = "/api/v1/capabilities/dut1", body: Any = None, *, status: int = 201,
        ctype: str = "application/json", version: str = "HTTP/1.1", at: float = 0.0, elapsed: float = 0.01,
        conn: int = 1, headers: list[tuple[str, str]] | None = None) -> Observation:
    raw = json.dumps(manifest("dut1") if body is None else body).encode() if body != b"" else b""
    route = "capabilities" if path.startswith("/api/v1/capabilities/") else None
    return Observation(
        request=CapturedRequest(method=method, url="https://localhost" + path, target=path, http_version=version,
                                headers=[("content-type", ctype), *(headers or [])], body=raw),
        response=CapturedResponse(status=status), seq=next(_seq), route=route, started_at=at or time.time(),
        elapsed_s=elapsed, device_id=path.removeprefix("/api/v1/capabilities/") if route else None, connection_id=conn)


def test_client_certificate_on_every_connection() -> None:
    assert c.client_certificate_on_every_connection([hs(b"x")]).passed
    assert not c.client_certificate_on_every_connection([hs(None)]).passed
    assert not c.client_certificate_on_every_connection([fail("[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate")]).passed
    with pytest.raises(NotTested):
        c.client_certificate_on_every_connection([])


def test_tls13_negotiated() -> None:
    assert c.tls13_negotiated([hs(b"x")]).passed
    assert not c.tls13_negotiated([hs(b"x", version="TLSv1.2")]).passed


def test_tls11_never_completed() -> None:
    assert c.tls11_never_completed([fail("unsupported protocol")]).passed
    assert not c.tls11_never_completed([hs(b"x", version="TLSv1.1"), req()]).passed


def test_tls12_fallback_follows_rfc9325() -> None:
    assert c.tls12_fallback_follows_rfc9325([fail("alert protocol version")]).passed
    assert c.tls12_fallback_follows_rfc9325([hs(b"x", version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-GCM-SHA256")]).passed
    assert not c.tls12_fallback_follows_rfc9325([hs(b"x", version="TLSv1.2", cipher="ECDHE-ECDSA-AES128-SHA")]).passed


def test_http11_only() -> None:
    assert c.http11_only([hs(b"x"), req()]).passed
    assert not c.http11_only([hs(b"x"), req(version="HTTP/1.0")]).passed
    assert not c.http11_only([hs(b"x", alpn="h2"), req()]).passed


def test_chain_reaches_the_anchor() -> None:
    assert c.chain_reaches_the_anchor([hs(b"x")]).passed
    assert not c.chain_reaches_the_anchor([fail("[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer certificate")]).passed
    with pytest.raises(NotTested):
        c.chain_reaches_the_anchor([fail("peer did not return a certificate")])


def test_device_svid_lint(authority: SpiffeAuthority) -> None:
    good = hs(authority.client_svid("dut1").cert_der())
    for rule in ("MTLS-03", "SVID-02", "SVID-03", "SVID-04", "SVID-05", "SVID-07", "SVID-13", "SVID-15", "SVID-18", "MID-06"):
        assert c.device_svid_lint([good], rule, TD, WFM).passed, rule
    ca_leaf = hs(authority.client_fixture("C-CA").cert_der())
    assert not c.device_svid_lint([ca_leaf], "SVID-04", TD, WFM).passed
    assert not c.device_svid_lint([hs(authority.client_fixture("C-2URI").cert_der())], "SVID-02", TD, WFM).passed
    assert not c.device_svid_lint([hs(authority.client_fixture("C-KCS").cert_der())], "SVID-05", TD, WFM).passed
    assert not c.device_svid_lint([hs(authority.client_fixture("C-NOMARGO").cert_der())], "SVID-18", TD, WFM).passed
    assert not c.device_svid_lint([hs(authority.client_fixture("C-FTD").cert_der())], "MTLS-03", TD, WFM).passed


def test_issued_svid_used() -> None:
    assert c.issued_svid_used([hs(b"a")], [b"a"]).passed
    assert not c.issued_svid_used([hs(b"b")], [b"a"]).passed


def test_refused_before_http() -> None:
    assert c.refused_before_http([hs(b"x")], "W-OTHWFM").passed
    assert not c.refused_before_http([hs(b"x"), req()], "W-OTHWFM").passed


def test_wfm_recognised_by_spiffe_id() -> None:
    assert c.wfm_recognised_by_spiffe_id([hs(b"x"), req()], "localhost").passed
    assert not c.wfm_recognised_by_spiffe_id([fail("alert bad certificate")], "localhost").passed


def test_wfm_accepted() -> None:
    assert c.wfm_accepted([hs(b"x"), req()], "W-OK-DNS").passed
    assert not c.wfm_accepted([fail("alert bad certificate")], "W-OK-DNS").passed


def test_no_out_of_band_fetch_and_problem_type_and_http_bundle_uri() -> None:
    hit = SinkHit("GET", "/i1.der", 0.0)
    assert c.no_out_of_band_fetch([]).passed and not c.no_out_of_band_fetch([hit]).passed
    assert c.problem_type_not_dereferenced([], "x").passed and not c.problem_type_not_dereferenced([hit], "x").passed
    assert c.http_bundle_uri_not_fetched([]).passed and not c.http_bundle_uri_not_fetched([hit]).passed


def test_capabilities_first() -> None:
    assert c.capabilities_first([hs(b"x"), req()]).passed
    assert not c.capabilities_first([req("GET", "/api/v1/deployments"), req()]).passed


def test_miaf_routes_only() -> None:
    assert c.miaf_routes_only([req(), req("DELETE", "/api/v1/capabilities/dut1/c1", b"", status=204)]).passed
    assert not c.miaf_routes_only([req(path="/api/v1/clients/dut1/capabilities/dut1", status=404)]).passed
    assert not c.miaf_routes_only([req("POST", status=405)]).passed


def test_device_id_syntax() -> None:
    assert c.device_id_syntax([req()]).passed
    assert not c.device_id_syntax([req(path="/api/v1/capabilities/dut 1")]).passed


def test_json_content_type() -> None:
    assert c.json_content_type([req(ctype="application/json; charset=utf-8")]).passed
    assert not c.json_content_type([req(ctype="text/plain")]).passed


def test_manifest_schema_and_no_legacy_root_members() -> None:
    good = req()
    assert c.manifest_schema([good], "MCAP-12", "miaf-rc3").passed
    legacy = req(body={**manifest("dut1"), "apiVersion": "margo.org/v1-alpha1", "kind": "DeviceCapabilities"})
    assert c.manifest_schema([legacy], "MCAP-12", "miaf-rc3").passed  # Q-53's, below
    assert not c.no_legacy_root_members([legacy], "miaf-rc3").passed and c.no_legacy_root_members([good], "miaf-rc3").passed
    assert not c.manifest_schema([req(body={**manifest("dut1"), "foo": 1})], "MCAP-12", "miaf-rc3").passed
    bad_iface = manifest("dut1")
    bad_iface["properties"]["interfaces"] = [{"type": "carrier-pigeon"}]
    assert not c.manifest_schema([req(body=bad_iface)], "MCAP-18", "miaf-rc3").passed
    no_serial = manifest("dut1")
    del no_serial["properties"]["serialNumber"]
    assert not c.manifest_schema([req(body=no_serial)], "MCAP-13", "miaf-rc3").passed


def test_manifest_id_matches_path() -> None:
    assert c.manifest_id_matches_path([req()]).passed
    assert not c.manifest_id_matches_path([req(body=manifest("other"))]).passed


def test_hosting_fields_complete() -> None:
    assert c.hosting_fields_complete([req()]).passed
    off = manifest("dut1")
    off["properties"]["otelCollector"] = False
    assert not c.hosting_fields_complete([req(body=off)]).passed


def test_binary_units() -> None:
    assert c.binary_units([req()]).passed
    spaced = manifest("dut1")
    spaced["properties"]["memory"] = "8 Gi"
    verdict = c.binary_units([req(body=spaced)])
    assert not verdict.passed and verdict.advisory


def test_custom_needs_labels() -> None:
    custom = manifest("dut1")
    custom["properties"]["supportedRuntimes"] = ["custom"]
    custom.pop("labels", None)
    assert not c.custom_needs_labels([req(body=custom)]).passed
    custom["labels"] = {"org.example/x": "y"}
    assert c.custom_needs_labels([req(body=custom)]).passed


def test_extensions_at_root() -> None:
    assert c.extensions_at_root([req(body={**manifest("dut1"), "x-acme-extensions": {"a": 1}})]).passed
    bad = manifest("dut1")
    bad["properties"]["x-acme-extensions"] = {}
    assert not c.extensions_at_root([req(body=bad)]).passed
    assert not c.extensions_at_root([req(body={**manifest("dut1"), "x-Acme": {}})]).passed


def test_gateway_before_children_and_identity_only() -> None:
    gw = req(path="/api/v1/capabilities/gw", body=gateway_manifest("gw"))
    child = req(path="/api/v1/capabilities/gw/c1", body=manifest("gw/c1"))
    assert c.gateway_before_children([gw, child]).passed and c.gateway_identity_only([gw, child]).passed
    early = req(path="/api/v1/capabilities/gw/c1", body=manifest("gw/c1"), status=404)
    assert not c.gateway_before_children([early, gw]).passed
    hosting_gw = req(path="/api/v1/capabilities/gw", body=manifest("gw"))
    assert not c.gateway_identity_only([hosting_gw, child]).passed
    with pytest.raises(NotTested):
        c.gateway_before_children([req()])


def test_capabilities_resent_after_change() -> None:
    labels = {"org.margo-conformance/site": "lab-2"}
    changed = {**manifest("dut1"), "labels": labels}
    now = time.time()
    assert c.capabilities_resent_after_change([req(at=now - 1), req(body=changed, at=now + 1, status=200)], now, labels).passed
    assert not c.capabilities_resent_after_change([req(at=now - 1)], now, labels).passed


def test_retry_after_honoured() -> None:
    t = 1000.0
    first = req(status=503, at=t, elapsed=0.0)
    assert c.retry_after_honoured([first, req(at=t + 2.0)], 2.0, 0.1).passed
    assert not c.retry_after_honoured([first, req(at=t + 0.2)], 2.0, 0.1).passed
    with pytest.raises(NotTested):
        c.retry_after_honoured([first], 2.0, 0.1)


def test_backoff_applied() -> None:
    t = 1000.0
    grows = [req(status=503, at=t, elapsed=0), req(status=503, at=t + 1, elapsed=0), req(at=t + 3)]
    flat = [req(status=503, at=t, elapsed=0), req(status=503, at=t + 1, elapsed=0), req(at=t + 2)]
    assert c.backoff_applied(grows, "exponential", 1.0, 2, 0.1).passed
    assert not c.backoff_applied(flat, "exponential", 1.0, 2, 0.1).passed
    assert c.backoff_applied(flat, "fixed", 1.0, 2, 0.1).passed


def test_not_resent_after_non_retryable() -> None:
    t = 1000.0
    refused = req(status=422, at=t, elapsed=0)
    assert c.not_resent_after_non_retryable([refused], 3.0).passed
    assert not c.not_resent_after_non_retryable([refused, req(status=422, at=t + 0.5)], 3.0).passed


def test_healthy_after_problem() -> None:
    assert c.healthy_after_problem("condition", None).passed
    assert not c.healthy_after_problem("exit", 1).passed


def test_no_wfm_request_and_mis_contacted() -> None:
    assert c.no_wfm_request([fail("x")], "why").passed and not c.no_wfm_request([req()], "why").passed
    assert c.mis_contacted([fail("unknown ca")]).passed and not c.mis_contacted([]).passed


def test_if_none_match_sent() -> None:
    def bundle_get(inm: str | None) -> Observation:
        o = req("GET", "/bundle.json", b"", status=200 if inm is None else 304,
                headers=[("if-none-match", inm)] if inm else [])
        o.route = "bundle"
        o.response = CapturedResponse(status=o.response.status, headers=[("etag", '"e1"')])
        return o
    assert c.if_none_match_sent([bundle_get(None), bundle_get('"e1"')]).passed
    verdict = c.if_none_match_sent([bundle_get(None), bundle_get(None)])
    assert not verdict.passed and verdict.advisory


def test_reported_after_and_not_reported_after() -> None:
    t = 1000.0
    assert c.reported_after([req(at=t + 1)], t, "x").passed and not c.reported_after([req(at=t - 1)], t, "x").passed
    assert c.not_reported_after([req(at=t - 1)], t, "x").passed
    assert not c.not_reported_after([req(at=t + 1)], t, "x").passed


def test_reached_on_default_port() -> None:
    assert c.reached_on_default_port([hs(b"x"), req()]).passed
    assert not c.reached_on_default_port([fail("connection refused")]).passed


def test_new_svid_on_next_connection() -> None:
    t = 1000.0
    verdict = c.new_svid_on_next_connection([hs(b"old", at=t - 1), hs(b"new", at=t + 1)], t, b"new")
    assert verdict.passed
    stale = c.new_svid_on_next_connection([hs(b"old", at=t - 1)], t, b"new")
    assert not stale.passed and stale.advisory


def test_not_after_reads_the_leafs_expiry() -> None:
    from datetime import timedelta

    from margo_conformance.pki.spiffe import SpiffeAuthority

    svid = SpiffeAuthority().client_svid("dut1", lifetime=timedelta(seconds=8))
    assert c.not_after(svid.cert_der()) == svid.cert.not_valid_after_utc.timestamp()
    assert svid.cert.not_valid_after_utc - svid.cert.not_valid_before_utc < timedelta(minutes=6)
