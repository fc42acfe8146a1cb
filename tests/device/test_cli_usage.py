"""`device run` usage errors exit 2 and an unreachable WFM exits 3, each with one line and no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app
from margo_conformance.pki import TestCA

runner = CliRunner()


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return TestCA().write_cert_pem(tmp_path_factory.mktemp("ca") / "root.pem")


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["device", "run", *args])
    return result.exit_code, result.output  # stdout and stderr interleaved


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["--defect", "no-such-defect"], "unknown device defect 'no-such-defect'"),
    (["--capabilities", "/nonexistent/caps.json"], "file not found"),
    (["--key-type", "dsa"], "--key-type"),
    (["--alg", "hmac-sha256"], "--alg must be one of"),
    (["--alg", "rsa-pss-sha256"], "cannot sign with a p256 key"),  # algorithm does not fit the key
    (["--key-type", "rsa2048", "--defect", "ecdsa-der"], "ecdsa-der applies to EC keys only"),
    (["--defect", "unsigned", "--defect", "digest-wrong"], "both change the request signature"),
    (["--device-id", "bad id"], "is not a deviceId"),
    (["--gateway-children", "0"], "positive count"),
])
def test_bad_usage_exits_2(tmp_path: Path, ca_file: Path, args: list[str], message: str) -> None:
    code, out = _run("--wfm-url", "https://127.0.0.1:1", "--ca-file", str(ca_file),
                     "--state-dir", str(tmp_path / "s"), *args)
    assert code == 2, out
    assert message in out and "Traceback" not in out


def test_both_or_neither_ca_option_exits_2(tmp_path: Path, ca_file: Path) -> None:
    base = ["--wfm-url", "https://127.0.0.1:1", "--state-dir", str(tmp_path / "s")]
    code, out = _run(*base)
    assert code == 2 and "exactly one of --ca-file" in out
    code, out = _run(*base, "--ca-file", str(ca_file), "--bootstrap-ca-file", str(ca_file))
    assert code == 2 and "exactly one of --ca-file" in out


def test_missing_ca_file_and_plain_http_exit_2(tmp_path: Path, ca_file: Path) -> None:
    code, out = _run("--wfm-url", "https://127.0.0.1:1", "--ca-file", str(tmp_path / "none.pem"),
                     "--state-dir", str(tmp_path / "s"))
    assert code == 2 and "file not found" in out
    code, out = _run("--wfm-url", "http://127.0.0.1:1", "--ca-file", str(ca_file), "--state-dir", str(tmp_path / "s"))
    assert code == 2 and "https://" in out


def test_unreachable_wfm_exits_3(tmp_path: Path, ca_file: Path) -> None:
    code, out = _run("--wfm-url", f"https://127.0.0.1:{_closed_port()}", "--ca-file", str(ca_file),
                     "--state-dir", str(tmp_path / "s"), "--attempts", "2", "--timeout", "2")
    assert code == 3, out
    assert out.count("retrying in") == 1  # one retry with backoff, then give up
    assert "unreachable: onboarding:" in out and "gave up after 2 attempts" in out and "Traceback" not in out
