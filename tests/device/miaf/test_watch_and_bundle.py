"""--watch (SVID rotation MTLS-08, labels MCAP-02) and the trust bundle: discovery over an authenticated origin
(MTB-01/04), ETag refresh (MTB-05), replace-not-merge and empty bundles (MTB-02/06)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from margo_conformance.device.miaf.mis import spki_pin
from margo_conformance.device.miaf.tls import WfmIdentityRefused
from margo_conformance.pki import TestCA
from margo_conformance.pki.spiffe import Svid

from .conftest import WFM_ID, Watching, options, run_device, wfm
from .helpers import Origin


def _until(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _own_files(authority, tmp_path: Path, files) -> tuple[Path, Path]:
    """A private copy of the device's SVID files (the rotation tests rewrite them)."""
    svid = authority.client_svid("dut1", wfm_id=WFM_ID)
    written = svid.write(tmp_path, "dut1")
    return written.cert, written.key


@pytest.mark.parametrize(("defect", "rotated"), [(None, True), ("keeps-old-svid", False)])
def test_svid_rotation_reconnects_with_the_new_svid(authority, files, tmp_path, defect, rotated) -> None:
    cert, key = _own_files(authority, tmp_path, files)
    with wfm(authority) as peer:
        opts = options(peer.url, files, svid_cert=cert, svid_key=key, svid_chain=None,
                       defects=[defect] if defect else [])
        with Watching(opts) as dev:
            assert _until(lambda: len(peer.seen) == 1)
            new = authority.client_svid("dut9", wfm_id=WFM_ID)  # a caller the WFM can tell apart
            tmp = Svid(new.cert, new.key, new.chain).write(tmp_path / "new", "dut9")
            os.replace(tmp.key, key)
            os.replace(tmp.cert, cert)
            seen_new = _until(lambda: len(peer.seen) >= 2, timeout=6.0 if rotated else 1.0)
            assert dev.error is None
    assert seen_new is rotated
    if rotated:
        first, second = peer.seen[:2]
        assert first.caller.endswith("/client/dut1") and second.caller.endswith("/client/dut9")
        assert second.connection_id != first.connection_id and second.status == 201  # dut9's own scope


@pytest.mark.parametrize(("defect", "updated"), [(None, True), ("no-capability-update", False)])
def test_a_labels_change_is_reported_again(authority, files, tmp_path, defect, updated) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text('{"example.com/zone": "a"}')
    with wfm(authority) as peer:
        with Watching(options(peer.url, files, labels_file=labels, defects=[defect] if defect else [])):
            assert _until(lambda: len(peer.seen) == 1)
            labels.write_text('{"example.com/zone": "b"}')
            again = _until(lambda: len(peer.seen) == 2, timeout=6.0 if updated else 1.0)
    assert again is updated
    if updated:
        assert json.loads(peer.seen[1].body)["labels"] == {"example.com/zone": "b"} and peer.seen[1].status == 200


# --- the trust bundle service ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mis_ca() -> TestCA:
    return TestCA("MIS web CA")


@pytest.fixture(scope="module")
def mis_cert(mis_ca):
    return mis_ca.issue_server_cert("localhost", "127.0.0.1")


@pytest.fixture(scope="module")
def mis_ca_file(mis_ca, tmp_path_factory) -> Path:
    return mis_ca.write_cert_pem(tmp_path_factory.mktemp("mis") / "mis-ca.pem")


def _serve_bundle(origin: Origin, authority, *, rotation="R1", hint=None, uri=None, etag='"v1"', keys=None) -> None:
    doc = authority.spiffe_bundle(rotation=rotation, refresh_hint=hint) if keys is None else {"keys": keys}
    origin.json("/bundle.json", doc, etag=etag)
    origin.json("/.well-known/margo", {"trustDomain": "harness.test", "trustBundleUri": uri or
                                       f"{origin.base_url}/bundle.json", "x-unknown": 1})


def test_discovery_with_the_mis_ca(authority, files, mis_cert, mis_ca_file) -> None:
    with Origin(mis_cert) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority)
        code, out = run_device(peer.url, *files.args()[:6], "--discovery-url", f"{origin.base_url}/.well-known/margo",
                               "--mis-ca-file", str(mis_ca_file))
    assert code == 0, out
    assert [s.path for s in origin.seen] == ["/.well-known/margo", "/bundle.json"]
    assert len(peer.seen) == 1


@pytest.mark.parametrize(("which", "ok"), [("leaf", True), ("other", False)])
def test_a_pin_authenticates_the_origin(authority, files, mis_cert, which, ok) -> None:
    pin = base64.b64encode(spki_pin(mis_cert.cert if which == "leaf" else TestCA().cert)).decode()
    with Origin(mis_cert) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority)
        code, out = run_device(peer.url, *files.args()[:6], "--bundle-url", f"{origin.base_url}/bundle.json",
                               "--mis-pin", pin)
    assert (code, len(peer.seen)) == ((0, 1) if ok else (3, 0)), out
    assert ok or "no usable trust bundle" in out


@pytest.mark.parametrize(("defect", "ok"), [(None, False), ("tofu-bundle", True)])
def test_an_origin_outside_the_initial_trust_is_not_used(authority, files, mis_ca_file, defect, ok) -> None:
    stranger = TestCA("somebody else").issue_server_cert("localhost")
    with Origin(stranger) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority)
        code, out = run_device(peer.url, *files.args()[:6], "--discovery-url", f"{origin.base_url}/.well-known/margo",
                               "--mis-ca-file", str(mis_ca_file), *(["--defect", defect] if defect else []))
    assert (code, len(peer.seen)) == ((0, 1) if ok else (3, 0)), out


@pytest.mark.parametrize(("defect", "ok"), [(None, False), ("http-bundle-uri", True)])
def test_an_http_trust_bundle_uri_is_refused(authority, files, mis_cert, mis_ca_file, defect, ok) -> None:
    with Origin(mis_cert) as origin, Origin() as plain, wfm(authority) as peer:
        _serve_bundle(plain, authority)
        _serve_bundle(origin, authority, uri=f"{plain.base_url}/bundle.json")
        code, out = run_device(peer.url, *files.args()[:6], "--discovery-url", f"{origin.base_url}/.well-known/margo",
                               "--mis-ca-file", str(mis_ca_file), *(["--defect", defect] if defect else []))
    assert (code, len(peer.seen)) == ((0, 1) if ok else (3, 0)), out
    assert ok or "must be https (MTB-04)" in out
    assert bool(plain.gets("/bundle.json")) is ok


@pytest.mark.parametrize("keys", [[], [{"use": "jwt-svid", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]])
def test_a_bundle_without_x509_anchors_stops_a_device_that_has_none(authority, files, mis_cert, mis_ca_file,
                                                                    keys) -> None:
    with Origin(mis_cert) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority, keys=keys)
        code, out = run_device(peer.url, *files.args()[:6], "--bundle-url", f"{origin.base_url}/bundle.json",
                               "--mis-ca-file", str(mis_ca_file))
    assert code == 3 and "no usable trust bundle" in out and "MTB-06" in out and not peer.seen


def _watch_remote(peer, files, origin, mis_ca_file, defect=None) -> Watching:
    return Watching(options(peer.url, files, bundle_file=None, bundle_url=f"{origin.base_url}/bundle.json",
                            mis_ca_file=mis_ca_file, defects=[defect] if defect else []))


@pytest.mark.parametrize(("defect", "etag"), [(None, '"v1"'), ("no-etag", None)])
def test_refresh_sends_the_etag_and_keeps_the_bundle_on_304(authority, files, mis_cert, mis_ca_file, defect,
                                                           etag) -> None:
    with Origin(mis_cert) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority, hint=0)
        with _watch_remote(peer, files, origin, mis_ca_file, defect) as dev:
            assert _until(lambda: len(origin.gets("/bundle.json")) >= 3)
            assert dev.error is None
    refreshes = origin.gets("/bundle.json")[1:]
    assert {r.headers.get("if-none-match") for r in refreshes} == {etag}
    assert len(peer.seen) == 1  # an unchanged bundle does not reconnect


@pytest.mark.parametrize(("defect", "refused"), [(None, True), ("merges-bundle", False)])
def test_anchors_are_replaced_not_merged(authority, files, mis_cert, mis_ca_file, defect, refused) -> None:
    with Origin(mis_cert) as origin, wfm(authority) as peer:  # the WFM's SVID stays under R1
        _serve_bundle(origin, authority, hint=0)
        with _watch_remote(peer, files, origin, mis_ca_file, defect) as dev:
            assert _until(lambda: len(peer.seen) == 1)
            _serve_bundle(origin, authority, rotation="R2", hint=60, etag='"v2"')
            assert _until(dev.done.is_set if refused else lambda: len(peer.seen) == 2, timeout=6.0)
    assert isinstance(dev.error, WfmIdentityRefused) is refused
    assert len(peer.seen) == (1 if refused else 2)


@pytest.mark.parametrize(("defect", "kept"), [(None, True), ("accepts-empty-bundle", False)])
def test_an_empty_bundle_does_not_replace_working_anchors(authority, files, mis_cert, mis_ca_file, defect,
                                                          kept) -> None:
    with Origin(mis_cert) as origin, wfm(authority) as peer:
        _serve_bundle(origin, authority, hint=0)
        with _watch_remote(peer, files, origin, mis_ca_file, defect) as dev:
            assert _until(lambda: len(peer.seen) == 1)
            fetched = len(origin.gets("/bundle.json"))
            _serve_bundle(origin, authority, keys=[], etag='"v2"')
            assert _until(lambda: len(origin.gets("/bundle.json")) > fetched)  # the empty bundle was served
            _until(dev.done.is_set, timeout=1.0 if kept else 6.0)
            assert (dev.error is None) is kept
            assert dev.device.bundle.anchors is not None and bool(dev.device.bundle.anchors.certs) is kept


def test_watch_stops_on_sigterm_with_exit_0(authority, files, tmp_path) -> None:
    with wfm(authority) as peer:
        proc = subprocess.Popen([sys.executable, "-m", "margo_conformance.device", "run", "--profile", "miaf-rc3",
                                 "--wfm-url", peer.url, *files.args(), "--watch", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        guard = threading.Timer(30, proc.kill)  # never a hung test: a device that never reports is killed
        guard.start()
        try:
            assert proc.stdout is not None and proc.stdout.readline().startswith("ok: capabilities reported")
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        finally:
            guard.cancel()
            proc.kill()
    assert code == 0 and "Traceback" not in proc.stderr.read()


def test_watching_device_retries_undelivered_reports_and_never_a_refused_one(authority, files, monkeypatch) -> None:
    from margo_conformance.device.miaf import device as device_module

    monkeypatch.setattr(device_module, "PENDING_RETRY_S", 0.3)
    with wfm(authority) as peer:
        peer.server.faults.unavailable(retry_after=0, count=2)
        with Watching(options(peer.url, files, attempts=2)) as dev:
            assert _until(lambda: [s for _, _, s in peer.requests()] == [503, 503, 201], timeout=4.0)
            assert dev.error is None
    with wfm(authority) as peer:
        peer.server.faults.respond(422, {"type": "about:blank", "title": "x", "status": 422, "retryable": False,
                                         "backoffStrategy": "none"})
        with Watching(options(peer.url, files)) as dev:
            assert _until(lambda: len(peer.seen) == 1)
            dev.device._reconnect()
            dev.device.report(force=True)  # what a rotation does: the refused bytes stay unsent
            time.sleep(0.5)
            assert dev.error is None and not dev.done.is_set()
    assert len(peer.seen) == 1
