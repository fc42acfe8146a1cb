"""The reference device against the reference WFM (in process): the full flow, as the WFM received it."""

from __future__ import annotations

import json

import pytest

from margo_conformance.device import WfmRefused
from margo_conformance.device.manifest import IDENTITY_FIELDS
from margo_conformance.httpsig import MARGO_ALGORITHMS
from margo_conformance.pki import TestCA

from .conftest import error_codes, settled

KEYS = {"ecdsa-p256-sha256": "p256", "ecdsa-p384-sha384": "p384", "rsa-v1_5-sha256": "rsa2048",
        "rsa-pss-sha256": "rsa2048"}


@pytest.mark.parametrize("algorithm", MARGO_ALGORITHMS)
def test_onboarding_and_report_with_each_margo_algorithm(run_device, algorithm: str) -> None:
    out = run_device(key_type=KEYS[algorithm], algorithm=algorithm)
    assert out.error is None, out.error
    assert [(o.method, o.route, o.status) for o in out.http] == [
        ("POST", "onboarding", 201), ("PUT", "capabilities", 201)]
    onboarding, report = out.http
    for o in out.http:
        assert o.verification.valid and error_codes(o) == set(), o.finding_codes()
        assert o.verification.algorithm == algorithm
        assert o.verification.covered_components == ['"@method"', '"@target-uri"', '"content-digest"']
        assert o.request.header("content-type") == "application/json"
        assert o.tls.version == "TLSv1.3"
    body = json.loads(onboarding.request.body)
    assert body["kind"] == "OnboardingRequest" and body["certificate"].startswith("MII")  # base64(DER)
    client_id = json.loads(onboarding.response.body)["clientId"]
    assert out.result.client_id == client_id == report.client_id
    manifest = json.loads(report.request.body)
    assert report.request.target == f"/api/v1/clients/{client_id}/capabilities/{manifest['properties']['id']}"


def test_bootstrap_download_then_everything_verified_against_the_downloaded_root(run_device, wfm, tmp_path) -> None:
    out = run_device(ca_file=None, bootstrap_ca_file=wfm.ca_file)
    assert out.error is None, out.error
    assert [(o.method, o.route, o.status, o.signed) for o in out.http] == [
        ("GET", "certificate", 200, False), ("POST", "onboarding", 201, True), ("PUT", "capabilities", 201, True)]
    stored = (tmp_path / "state" / "wfm-root-ca.pem").read_bytes()
    assert stored == wfm.ca_file.read_bytes()


def test_bootstrap_channel_not_verified_by_the_bootstrap_ca_is_refused(run_device, tmp_path) -> None:
    other = TestCA("Some other bootstrap CA").write_cert_pem(tmp_path / "other.pem")
    out = run_device(ca_file=None, bootstrap_ca_file=other)
    assert type(out.error).__name__ == "WfmNotTrusted"
    assert out.http == [] and len(out.handshake_failures) == 1  # not even the Certificate API GET


def test_restart_with_state_does_not_onboard_again(run_device) -> None:
    first = run_device()
    assert first.error is None
    second = run_device()
    assert second.error is None
    assert [(o.route, o.status) for o in second.http] == [("capabilities", 200)]  # replace, same clientId
    assert second.result.client_id == first.result.client_id and not second.result.onboarded_now
    assert second.http[0].request.target == first.route("capabilities")[0].request.target


def test_state_of_another_wfm_is_a_usage_error(run_device, tmp_path) -> None:
    from margo_conformance.device.identity import StateDir
    from margo_conformance.errors import ConfigError

    assert run_device().error is None
    sd = StateDir(tmp_path / "state")
    st = sd.load_state()
    st.wfm_url = "https://other-wfm.example"
    sd.save_state(st)
    out = run_device()
    assert isinstance(out.error, ConfigError) and "belongs to the WFM at https://other-wfm.example" in str(out.error)
    assert out.observed == []


def test_gateway_mode_reports_the_gateway_identity_only_then_each_child(run_device) -> None:
    out = run_device(gateway_children=2, device_id="gw-hall2")
    assert out.error is None, out.error
    reports = out.route("capabilities")
    ids = [json.loads(o.request.body)["properties"]["id"] for o in reports]
    assert ids == ["gw-hall2", "gw-hall2/child-1", "gw-hall2/child-2"]
    assert [o.status for o in reports] == [201, 201, 201]
    assert [o.device_id for o in reports] == ids
    assert set(json.loads(reports[0].request.body)["properties"]) == set(IDENTITY_FIELDS)
    assert all("cpus" in json.loads(o.request.body)["properties"] for o in reports[1:])


def test_capabilities_file_is_reported_as_given(run_device, tmp_path) -> None:
    from margo_conformance.payloads import get_sample

    sample = get_sample("manifest-hosting-device")
    f = tmp_path / "caps.json"
    f.write_text(json.dumps(sample.document))
    out = run_device(capabilities_file=f)
    assert out.error is None, out.error
    (report,) = out.route("capabilities")
    assert json.loads(report.request.body) == sample.document
    assert report.device_id == sample.document["properties"]["id"]


def test_an_unusual_client_id_is_used_verbatim(run_device, wfm) -> None:
    wfm.faults.assign_client_id("c.9~f-_X")
    out = run_device()
    assert out.error is None, out.error
    (report,) = out.route("capabilities")
    assert report.request.target.startswith("/api/v1/clients/c.9~f-_X/capabilities/")


def test_a_403_ends_the_attempt_naming_the_problem_type(run_device, wfm) -> None:
    wfm.faults.reject_onboarding()
    out = run_device()
    assert isinstance(out.error, WfmRefused)
    assert out.error.problem.name == "certificate-not-trusted" and "403" in str(out.error)
    assert [o.route for o in out.http] == ["onboarding"]  # no capability report, no retry


def test_503_is_retried_no_sooner_than_retry_after(run_device, wfm) -> None:
    wfm.faults.unavailable(retry_after=1, route="capabilities")
    out = run_device()
    assert out.error is None, out.error
    first, second = out.route("capabilities")
    assert (first.status, first.response.header("retry-after"), second.status) == (503, "1", 201)
    assert second.started_at - first.started_at >= 1.0


def test_connection_drop_is_retried_with_backoff(run_device, wfm) -> None:
    wfm.faults.drop(route="onboarding")
    out = run_device()
    assert out.error is None, out.error
    assert [(o.route, o.status) for o in out.http][:2] == [("onboarding", None), ("onboarding", 201)]


def test_a_path_prefix_in_the_base_url_is_kept_and_signed(tmp_path) -> None:
    from margo_conformance.device import DeviceClient, DeviceConfig
    from margo_conformance.wfm import WfmConfig, WfmServer

    with WfmServer(WfmConfig(observe=True, path_prefix="/v1alpha2/margo")) as wfm:
        result = DeviceClient(DeviceConfig(wfm_url=wfm.base_url, ca_file=wfm.ca_file, state_dir=tmp_path / "s",
                                           timeout_s=5.0)).run()
        observed = settled(wfm, 0, 2)
    assert result.reported
    assert [o.request.target.split("/api/v1/")[0] for o in observed] == ["/v1alpha2/margo"] * 2
    assert all(o.verification.valid for o in observed)


def test_a_timeout_is_retried(run_device, wfm) -> None:
    wfm.faults.delay(1.5, route="capabilities")
    out = run_device(timeout_s=0.5)
    assert out.error is None, out.error
    assert len(out.route("capabilities")) == 2  # the WFM answers the delayed one late: log order is by completion
    first, second = sorted(out.route("capabilities"), key=lambda o: o.started_at)
    assert first.fault == "delay" and second.fault is None and second.status in (200, 201)
    assert second.started_at - first.started_at >= 0.5  # the first attempt waited its timeout out


def test_persistent_503_gives_up_after_the_attempts_and_says_so(run_device, wfm) -> None:
    from margo_conformance.errors import SutUnreachable

    wfm.faults.unavailable(retry_after=0, count=None, route="onboarding")
    out = run_device()
    assert isinstance(out.error, SutUnreachable) and "still answered 503 after 3 attempt(s)" in str(out.error)
    assert [o.status for o in out.http] == [503, 503, 503]


def test_a_retry_after_beyond_the_limit_ends_the_attempt(run_device, wfm) -> None:
    from margo_conformance.device import RetryPolicy
    from margo_conformance.errors import SutUnreachable

    wfm.faults.unavailable(retry_after=120, route="onboarding")
    out = run_device(retry=RetryPolicy(attempts=3, max_retry_after_s=10))
    assert isinstance(out.error, SutUnreachable) and "Retry-After 120 s is beyond the limit" in str(out.error)
    assert [o.status for o in out.http] == [503]  # did not retry early


def test_identity_from_files(run_device, tmp_path) -> None:
    import stat

    vendor = TestCA("Device vendor CA")
    issued = vendor.issue_client_cert("line3-ipc-07")
    cert_file, key_file = issued.write_files(tmp_path, "device")
    out = run_device(cert_file=cert_file, key_file=key_file)
    assert out.error is None, out.error
    onboarding = out.route("onboarding")[0]
    assert json.loads(onboarding.request.body)["certificate"] == issued.b64_der()
    assert out.result.reported == ["line3-ipc-07"]  # deviceId from the certificate's common name
    assert stat.S_IMODE((tmp_path / "state" / "key.pem").stat().st_mode) == 0o600


def test_non_201_success_is_accepted_with_a_warning(tmp_path, caplog) -> None:
    from margo_conformance.device import DeviceClient, DeviceConfig
    from margo_conformance.wfm import WfmConfig, WfmServer

    with WfmServer(WfmConfig(observe=True, defects=frozenset({"onboarding-200"}))) as wfm:
        with caplog.at_level("WARNING", logger="margo_conformance.device"):
            result = DeviceClient(DeviceConfig(wfm_url=wfm.base_url, ca_file=wfm.ca_file,
                                               state_dir=tmp_path / "s", timeout_s=5.0)).run()
    assert result.reported and result.onboarded_now
    assert "answered 200 where the spec defines 201 Created (ONB-07)" in caplog.text


def test_retry_after_forms() -> None:
    from email.utils import formatdate

    from margo_conformance.device.client import RetryPolicy, retry_after_s

    now = 1_800_000_000.0
    assert retry_after_s("5", now) == 5.0
    assert retry_after_s(formatdate(now + 30, usegmt=True), now) == 30.0
    assert retry_after_s(formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0)
    assert [policy.backoff(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
