"""A dead, wrong or hanging SUT ends the run early with one line that names the cause (issue 11).

Each bad endpoint is a real listener on loopback: a plain-HTTP server, a TLS server that never answers
after the handshake, a TCP listener that never starts TLS, a closed port, the reference WFM behind a wrong
path prefix, a certificate that does not chain to the configured root. Usage errors (a launch command or
operator hook that does not exist, a malformed --tags) are exit 2. Every case finishes within
2 x request_timeout_s of pre-flight.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from margo_conformance.pki import TestCA
from margo_conformance.resources import PROJECT_ROOT

TIMEOUT_S = 2


def _harness(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "margo_conformance", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT, env=env)


def _wfm_file(tmp_path: Path, base_url: str, *, ca: str = "download", extra: str = "") -> Path:
    path = tmp_path / "wfm.toml"
    path.write_text(f'[sut]\nrole = "wfm"\nname = "bad endpoint"\n\n[wfm]\nbase_url = "{base_url}"\nca = "{ca}"\n'
                    f'server_name = "localhost"\nrequest_timeout_s = {TIMEOUT_S}\n{extra}')
    return path


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def _run_wfm(tmp_path: Path, base_url: str, **kwargs: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = _harness("run", "--role", "wfm", "--sut", str(_wfm_file(tmp_path, base_url, **kwargs)),
                    "--output", str(tmp_path / "out"))
    return done, time.monotonic() - started


@contextmanager
def _serving(handle: object, *, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """A loopback listener whose connections ``handle(conn)`` serves, each in its own thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            threading.Thread(target=handle, args=(conn, tls, stop), daemon=True).start()  # type: ignore[arg-type]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


def _say_nothing(conn: socket.socket, tls: ssl.SSLContext | None, stop: threading.Event) -> None:
    """Accept, complete the TLS handshake when there is a context, then never answer."""
    if tls is not None:
        try:
            conn = tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
    stop.wait(30)


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca = TestCA("Pre-flight test root")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_server_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx, ca.write_cert_pem(tmp_path_factory.mktemp("ca") / "root.pem")


def test_plain_http_is_named_not_tls(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done, took = _run_wfm(tmp_path, f"https://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert done.returncode == 3, done.stderr
    assert "does not speak TLS" in _one_line(done) and "wfm.base_url" in _one_line(done)
    assert took < 2 * TIMEOUT_S + 8  # interpreter start-up on top of the pre-flight
    assert not (tmp_path / "out" / "summary.json").exists()


def test_tls_server_that_hangs_after_the_handshake(tmp_path: Path, server_tls) -> None:
    ctx, _ = server_tls
    with _serving(_say_nothing, tls=ctx) as port:
        done, took = _run_wfm(tmp_path, f"https://127.0.0.1:{port}")
    assert done.returncode == 3, done.stderr
    assert "hangs after the handshake" in _one_line(done)
    assert took < 2 * TIMEOUT_S + 8


def test_tcp_listener_that_never_starts_tls(tmp_path: Path) -> None:
    with _serving(_say_nothing) as port:
        done, took = _run_wfm(tmp_path, f"https://127.0.0.1:{port}")
    assert done.returncode == 3, done.stderr
    assert "no TLS handshake" in _one_line(done)
    assert took < 2 * TIMEOUT_S + 8


def test_closed_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done, _ = _run_wfm(tmp_path, f"https://127.0.0.1:{port}")
    assert done.returncode == 3
    assert _one_line(done).startswith("SUT unreachable: cannot connect") and str(port) in _one_line(done)


def test_certificate_that_does_not_chain_to_the_configured_root(tmp_path: Path, server_tls) -> None:
    ctx, _ = server_tls
    other_root = TestCA("Some other root").write_cert_pem(tmp_path / "other.pem")
    with _serving(_say_nothing, tls=ctx) as port:
        done, _ = _run_wfm(tmp_path, f"https://127.0.0.1:{port}", ca=str(other_root))
    assert done.returncode == 3, done.stderr
    assert "does not chain to wfm.ca" in _one_line(done)


def test_wrong_path_prefix_names_base_url(tmp_path: Path, standalone_wfm) -> None:
    base_url, _ = standalone_wfm
    done, _ = _run_wfm(tmp_path, base_url + "/no/such/prefix")
    assert done.returncode == 3, done.stderr
    line = _one_line(done)
    assert "path prefix of wfm.base_url" in line and "404" in line and "KeyError" not in line


def test_missing_launch_command_is_a_usage_error(tmp_path: Path) -> None:
    sut = tmp_path / "device.toml"
    sut.write_text('[sut]\nrole = "device"\nname = "x"\n[device]\nlaunch = "no-such-agent --url {wfm_url}"\n')
    done = _harness("run", "--role", "device", "--sut", str(sut), "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "device.launch: command not found: 'no-such-agent'" in _one_line(done)


def test_missing_operator_hook_command_is_a_usage_error(tmp_path: Path) -> None:
    sut = _wfm_file(tmp_path, "https://127.0.0.1:9", extra='[wfm.operator]\nrevoke = "acme-cli revoke {client_id}"\n')
    done = _harness("run", "--role", "wfm", "--sut", str(sut), "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "wfm.operator.revoke: command not found: 'acme-cli'" in _one_line(done)


def test_malformed_tags_is_a_usage_error(tmp_path: Path) -> None:
    done = _harness("run", "--role", "wfm", "--tags", "req_SIG_11 and", "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert _one_line(done).startswith("error: --tags: not a valid selection expression")


def test_tags_matching_nothing_is_exit_2_in_the_summary_too(tmp_path: Path) -> None:
    import json

    done = _harness("run", "--role", "wfm", "--tags", "req_NO_SUCH", "--output", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["result"]["verdict"] == "NO SCENARIOS" and summary["result"]["exit_code"] == 2
    assert "(exit code 2)" in done.stdout


class _Routes(http.server.BaseHTTPRequestHandler):
    """A JSON API that has the onboarding route but no Certificate API (answers 404 there)."""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int) -> None:
        body = b'{"error": "x"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(404)  # no Certificate API anywhere

    def do_POST(self) -> None:
        self._answer(400 if self.path == "/prefix/api/v1/onboarding" else 404)


@contextmanager
def _https(handler: type, ctx: ssl.SSLContext) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _target(base_url: str, ca: Path) -> object:
    from margo_conformance.sut import WfmTarget

    return WfmTarget(base_url=base_url, ca=str(ca), server_name="localhost", request_timeout_s=TIMEOUT_S)


def test_a_wfm_without_a_certificate_api_is_still_tested_when_the_root_ca_is_configured(server_tls) -> None:
    """Missing the Certificate API is CERT-01's failure for the suite to judge, not a reason to stop the run;
    a wrong path prefix (the onboarding route is missing too) still stops it."""
    from margo_conformance import preflight

    ctx, root = server_tls
    with _https(_Routes, ctx) as port:
        assert preflight.check_wfm(_target(f"https://127.0.0.1:{port}/prefix", root)) is None  # type: ignore[arg-type]
        wrong = preflight.check_wfm(_target(f"https://127.0.0.1:{port}/other", root))  # type: ignore[arg-type]
    assert wrong is not None and wrong.exit_code == 3 and "path prefix of wfm.base_url" in wrong.message


def test_the_run_verifies_wfm_server_name_when_base_url_is_an_ip(tmp_path: Path) -> None:
    """A vendor certificate that names only a DNS name: with server_name the device's wire verifies that
    name (SNI too), as the pre-flight does; without it the IP address does not match."""
    from margo_conformance.device.wire import Wire, WfmNotTrusted

    ca = TestCA("server_name test root")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_server_cert("wfm.test").configure_cert(server_ctx)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client_ctx)
    with _https(_Routes, server_ctx) as port:
        with Wire(f"https://127.0.0.1:{port}/prefix", client_ctx, timeout=5, server_name="wfm.test") as wire:
            assert wire.send("POST", "/api/v1/onboarding", b"{}").response.status == 400
        with Wire(f"https://127.0.0.1:{port}/prefix", client_ctx, timeout=5) as wire:
            with pytest.raises(WfmNotTrusted):
                wire.send("POST", "/api/v1/onboarding", b"{}")
