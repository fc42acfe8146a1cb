"""Interop with tools that are not ours on the client side (issue 19 acceptance): ``curl --cert`` with an SVID minted
by ``margo-conformance pki trust-domain`` reaches ``margo-conformance wfm serve --profile miaf-rc3`` and gets 201;
``openssl s_client`` without a certificate is refused in the handshake, while with one it gets an HTTP answer.

Every piece runs as the person would run it: three CLI processes and two foreign clients, on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BODY = json.dumps({"properties": {"id": "d1", "vendor": "v", "modelNumber": "m", "serialNumber": "s"}})
NOT_AUTHORIZED = "https://docs.margo.org/specification/problem-types#not-authorized"
CLIENT_C9 = "spiffe://harness.test/margo/wfm/wfm-h1/client/c9"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "margo_conformance", *args], capture_output=True, text=True,
                          timeout=60)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:  # .ci/run installs curl and openssl; only a machine without them (and without apt) gets here
        pytest.skip(f"{tool} is not installed and could not be installed (.ci/run installs it with apt-get)")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(trust-domain dir, port): a trust domain from the pki CLI, and the reference MIAF WFM serving its SVID
    with client c9 on the policy (c8 is minted but not added)."""
    td = tmp_path_factory.mktemp("td")
    data = tmp_path_factory.mktemp("wfm")
    made = _cli("pki", "trust-domain", str(td), "--client", "c9", "--client", "c8", "--wfm-dns", "localhost")
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--profile", "miaf-rc3", "--port", "0",
         "--data-dir", str(data), "--svid-cert", str(td / "wfm-svid.pem"), "--svid-key", str(td / "wfm-svid.key"),
         "--trust-bundle", str(td / "bundle.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.match(r"MIAF WFM \(miaf-rc3\) listening on https://127\.0\.0\.1:(\d+)", first)
        assert match, first
        added = _cli("wfm", "add-client", CLIENT_C9, "--data-dir", str(data))
        assert added.returncode == 0 and added.stdout.strip() == f"{CLIENT_C9} active", added
        yield td, match.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _curl(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One PUT with curl; stdout is the body, then a last line "<status> <content type>"."""
    return subprocess.run([_need("curl"), "-sS", "--max-time", "5", *args, "-X", "PUT", "-H",
                           "content-type: application/json", "--data", BODY, "-w", "\n%{http_code} %{content_type}",
                           f"https://localhost:{port}/api/v1/capabilities/d1"],
                          capture_output=True, text=True, timeout=15)


def test_curl_with_a_harness_minted_svid_gets_201_then_200(served: tuple[Path, str]) -> None:
    td, port = served
    cert = ("--cert", str(td / "client-c9.pem"), "--key", str(td / "client-c9.key"), "--cacert", str(td / "bundle.pem"))
    first, again = _curl(port, *cert), _curl(port, *cert)
    assert first.returncode == 0 and first.stdout.rsplit("\n", 1)[1].split()[0] == "201", first
    assert again.returncode == 0 and again.stdout.rsplit("\n", 1)[1].split()[0] == "200", again


def test_curl_with_a_valid_svid_not_on_the_policy_gets_403_not_authorized(served: tuple[Path, str]) -> None:
    td, port = served
    done = _curl(port, "--cert", str(td / "client-c8.pem"), "--key", str(td / "client-c8.key"), "--cacert",
                 str(td / "bundle.pem"))
    body, status_line = done.stdout.rsplit("\n", 1)
    assert status_line == "403 application/problem+json", done
    assert json.loads(body)["type"] == NOT_AUTHORIZED


def test_curl_without_a_certificate_gets_no_http_answer(served: tuple[Path, str]) -> None:
    td, port = served
    done = _curl(port, "--cacert", str(td / "bundle.pem"))
    assert done.returncode != 0 and done.stdout.endswith("\n000 "), done  # no HTTP status at all
    # curl 35 (TLS alert), 52 (empty reply) or 56 (recv failure): the connection ended inside TLS
    assert done.returncode in (35, 52, 56), done


def _s_client(td: Path, port: str, *extra: str) -> subprocess.CompletedProcess[str]:
    request = "PUT /api/v1/capabilities/d1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" \
              f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n{BODY}"
    return subprocess.run([_need("openssl"), "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                           str(td / "bundle.pem"), "-verify_return_error", "-quiet", *extra],
                          input=request, capture_output=True, text=True, timeout=15)


def test_openssl_s_client_without_a_certificate_is_refused_in_the_handshake(served: tuple[Path, str]) -> None:
    td, port = served
    # s_client takes the leaf from -cert and the intermediates from -cert_chain (the WFM needs I1 to build the path)
    with_cert = _s_client(td, port, "-cert", str(td / "client-c9.pem"), "-cert_chain", str(td / "client-c9-chain.pem"),
                          "-key", str(td / "client-c9.key"))
    assert re.search(r"^HTTP/1\.1 20[01] ", with_cert.stdout, re.M), with_cert  # s_client itself works here
    refused = _s_client(td, port)
    # the server's chain verified (so the refusal is about the client), and no HTTP byte came back
    assert "depth=0 O = Margo Conformance Harness (test only), CN = X.509-SVID wfm wfm-h1" in refused.stderr
    assert "verify error" not in refused.stderr and "HTTP/1.1" not in refused.stdout
    assert refused.returncode != 0, refused
    # How it was refused, for the report: the reference WFM (asyncio's TLS over a memory BIO) closes the
    # connection without flushing a TLS alert, so s_client reads an unexpected EOF, or a reset (errno 104) when
    # its last handshake flight was still unread in the WFM's socket as it closed (the kernel then answers with
    # RST); a server on a plain ssl socket sends "tlsv13 alert certificate required" instead. Each ends the
    # connection in the handshake.
    reason = next((line for line in refused.stderr.splitlines() if "error:" in line or "errno=104" in line), "")
    assert re.search(r"alert certificate required|alert handshake failure|unexpected eof while reading|"
                     r"^read:errno=104$", reason), refused.stderr
