"""Bad command lines and bad files end with one line and exit 2 (3 for a bundle without anchors), never a
traceback; the httpsig device's options and behaviour are untouched by --profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.cli import app
from margo_conformance.pki.spiffe import Svid

from .conftest import WFM_ID, run_device, runner

URL = "https://localhost:1"


@pytest.fixture(scope="module")
def bad(tmp_path_factory, authority, files) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    garbage = d / "garbage.pem"
    garbage.write_text("not a certificate\n")
    other = authority.client_svid("dut2", wfm_id=WFM_ID).write(d, "other")
    wfm_shaped = Svid(*(lambda s: (s.cert, s.key, s.chain))(authority.wfm_svid(WFM_ID))).write(d, "wfm")
    labels = d / "labels.json"
    labels.write_text('{"a": {"nested": 1}}')
    return {"garbage": garbage, "other_key": other.key, "wfm_cert": wfm_shaped.cert, "wfm_key": wfm_shaped.key,
            "labels": labels}


def _svid(files) -> list[str]:
    return ["--svid-cert", str(files.cert), "--svid-key", str(files.key), "--svid-chain", str(files.chain)]


@pytest.mark.parametrize(("args", "message"), [
    (lambda f, b: ["--bundle-file", str(f.bundle_pem)], "needs the device's SVID: --svid-cert and --svid-key"),
    (lambda f, b: _svid(f), "give exactly one of --bundle-file, --discovery-url, --bundle-url"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--bundle-url", "https://x/b"], "(got --bundle-file"),
    (lambda f, b: [*_svid(f), "--discovery-url", "https://localhost:1/.well-known/margo"], "no trust on first use"),
    (lambda f, b: [*_svid(f), "--discovery-url", "http://localhost:1/.well-known/margo", "--mis-pin", "x"],
     "must be an https:// URL"),
    (lambda f, b: [*_svid(f), "--bundle-url", "https://localhost:1/b", "--mis-pin", "AAAA"], "32 bytes"),
    (lambda f, b: [*_svid(f), "--bundle-url", "https://localhost:1/b", "--mis-pin", "%%"], "is not base64"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--mis-ca-file", str(f.bundle_pem)],
     "with --bundle-file there is none"),
    (lambda f, b: [*_svid(f), "--bundle-file", "/nonexistent/bundle"], "--bundle-file not found"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(b["garbage"])], "neither PEM certificates nor"),
    (lambda f, b: ["--svid-cert", "/nonexistent.pem", "--svid-key", str(f.key), "--bundle-file", str(f.bundle_pem)],
     "SVID certificate file not found"),
    (lambda f, b: ["--svid-cert", str(b["garbage"]), "--svid-key", str(f.key), "--bundle-file", str(f.bundle_pem)],
     "does not hold PEM certificates"),
    (lambda f, b: ["--svid-cert", str(f.cert), "--svid-key", str(b["garbage"]), "--bundle-file", str(f.bundle_pem)],
     "is not an unencrypted PEM private key"),
    (lambda f, b: ["--svid-cert", str(f.cert), "--svid-key", str(b["other_key"]), "--bundle-file",
                   str(f.bundle_pem)], "does not belong to the certificate"),
    (lambda f, b: ["--svid-cert", str(b["wfm_cert"]), "--svid-key", str(b["wfm_key"]), "--bundle-file",
                   str(f.bundle_pem)], "not a WFM client SVID"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--defect", "nope"], "unknown MIAF device defect"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--gateway-children", "0"], "positive count"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--device-id", "bad id"], "is not a deviceId"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--labels-file", str(b["labels"])],
     "must be a string, number"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--labels-file", "/nonexistent.json"],
     "--labels-file not found"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--wfm-spiffe-id", "spiffe://X/y"],
     "--wfm-spiffe-id"),
    (lambda f, b: [*_svid(f), "--bundle-file", str(f.bundle_pem), "--ca-file", str(f.bundle_pem)],
     "belong to the httpsig device"),
])
def test_bad_usage_exits_2(files, bad, args, message: str) -> None:
    code, out = run_device(URL, *args(files, bad))
    assert code == 2, out
    assert message in out and "Traceback" not in out


def test_plain_http_wfm_url_exits_2(files) -> None:
    code, out = run_device("http://localhost:1", *_svid(files), "--bundle-file", str(files.bundle_pem))
    assert code == 2 and "--wfm-url must be an https:// URL" in out


def test_an_unknown_profile_exits_2() -> None:
    result = runner.invoke(app, ["device", "run", "--profile", "miaf-rc9", "--wfm-url", URL])
    assert result.exit_code == 2 and "miaf-rc9" in result.output


def test_miaf_options_without_a_mutual_tls_profile_exit_2(files, tmp_path) -> None:
    result = runner.invoke(app, ["device", "run", "--wfm-url", URL, "--state-dir", str(tmp_path), *_svid(files)])
    assert result.exit_code == 2 and "belong to a mutual-TLS profile's device" in result.output
    result = runner.invoke(app, ["device", "run", "--wfm-url", URL])
    assert result.exit_code == 2 and "Missing option '--state-dir'" in result.output


def test_an_unreachable_wfm_exits_3_after_the_attempts(files) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out = run_device(f"https://127.0.0.1:{port}", *_svid(files), "--bundle-file", str(files.bundle_pem),
                           "--attempts", "2")
    assert code == 3 and "unreachable: " in out and "gave up after 2 attempts" in out and "Traceback" not in out
