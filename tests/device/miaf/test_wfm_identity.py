"""The device authenticates the WFM by its SPIFFE ID (MID-04/05) and its chain (MTLS-07, SVID-*), before any HTTP."""

from __future__ import annotations

import pytest

from .conftest import WFM_ID, run_device, wfm

REFUSED = ["W-DNS-WRONGID", "W-OTHWFM", "W-CLIENT", "W-FTD", "W-R2", "W-EXP", "W-CA", "W-KCS", "W-2URI",
           "W-LEAFONLY", "W-DNSONLY", "W-AIA"]


def test_w_ok_without_dns_san_reached_by_a_host_name_connects(authority, files) -> None:
    svid = authority.wfm_fixture("W-OK", wfm_id=WFM_ID)
    assert svid.spiffe_id == f"spiffe://harness.test/margo/wfm/{WFM_ID}"
    with wfm(authority, svid) as peer:
        code, out = run_device(peer.url, *files.args())
    assert code == 0, out
    assert "ok: capabilities reported for dut1 to spiffe://harness.test/margo/wfm/wfm-h1" in out
    assert peer.requests() == [("PUT", "/api/v1/capabilities/dut1", 201)]


@pytest.mark.parametrize("fixture", REFUSED)
def test_each_w_fixture_is_refused_before_any_request(authority, files, fixture: str) -> None:
    with wfm(authority, authority.wfm_fixture(fixture, wfm_id=WFM_ID)) as peer:
        code, out = run_device(peer.url, *files.args())
    assert code == 3, out
    assert "refused the WFM: " in out and "Traceback" not in out
    assert peer.requests() == []


def test_the_pem_bundle_works_like_the_jwk_set(authority, files) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(bundle="pem"))
    assert code == 0, out


def test_wfm_spiffe_id_option_must_match_the_derived_one(authority, files) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--wfm-spiffe-id", "spiffe://harness.test/margo/wfm/wfm-h1")
        assert code == 0, out
        code, out = run_device(peer.url, *files.args(), "--wfm-spiffe-id", "spiffe://harness.test/margo/wfm/other")
    assert code == 2 and "is not the WFM this device's SVID belongs to" in out
    assert len(peer.requests()) == 1


# --- the defects change exactly the check they name -----------------------------------------------------------

def test_hostname_check_refuses_w_ok_and_accepts_w_dns_wrongid(authority, files) -> None:
    with wfm(authority) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", "hostname-check")
    assert code == 3 and "refused the WFM" in out and peer.requests() == []
    with wfm(authority, authority.wfm_fixture("W-DNS-WRONGID", wfm_id=WFM_ID)) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", "hostname-check")
    assert code == 0, out
    assert peer.requests() == [("PUT", "/api/v1/capabilities/dut1", 201)]


@pytest.mark.parametrize(("fixture", "accepted"), [("W-OTHWFM", True), ("W-FTD", True), ("W-CLIENT", True),
                                                   ("W-2URI", False), ("W-CA", False)])
def test_any_wfm_id_skips_the_identity_comparison_only(authority, files, fixture: str, accepted: bool) -> None:
    with wfm(authority, authority.wfm_fixture(fixture, wfm_id=WFM_ID)) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", "any-wfm-id")
    assert (code, bool(peer.requests())) == ((0, True) if accepted else (3, False)), out


@pytest.mark.parametrize(("fixture", "accepted"), [("W-EXP", True), ("W-R2", True), ("W-OTHWFM", False)])
def test_no_chain_check_accepts_bad_chains_but_still_checks_the_id(authority, files, fixture: str,
                                                                   accepted: bool) -> None:
    with wfm(authority, authority.wfm_fixture(fixture, wfm_id=WFM_ID)) as peer:
        code, out = run_device(peer.url, *files.args(), "--defect", "no-chain-check")
    assert (code, bool(peer.requests())) == ((0, True) if accepted else (3, False)), out
