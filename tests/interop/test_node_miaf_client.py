"""The Node MIAF client (``node/miaf_client.mjs``) against the reference MIAF WFM, before any suite judges it.

The client is the "not ours" device of issue 20's interop acceptance; these tests pin what it must be for that
run to mean anything: it reaches a WFM whose SVID has no DNS SAN through a host name that matches nothing in the
certificate, refuses every W-* fixture the catalogue says to refuse before one request reaches the WFM, and its
``--hostname-check`` variant does the opposite on exactly the MID-05 pair (W-OK refused, W-DNS-WRONGID accepted).
The retry, 422 and daemon tests (labels file, SVID rotation, SIGTERM) are marked slow: they wait out Retry-After.
Every key and certificate is minted per module by ``SpiffeAuthority``.
"""

from __future__ import annotations

import email.utils
import http.server
import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.pki.spiffe import WFM_FIXTURES, SpiffeAuthority, Svid, client_spiffe_id
from margo_conformance.resources import PROJECT_ROOT
from margo_conformance.schemas import validate
from margo_conformance.wfm.miaf import Exchange, MiafWfmServer

CLIENT = Path(__file__).parent / "node" / "miaf_client.mjs"
TD, WFM_ID = "harness.test", "wfm-h1"
C1, C2 = client_spiffe_id(TD, WFM_ID, "c1"), client_spiffe_id(TD, WFM_ID, "c2")
NODE_TIMEOUT_S = 30
#: The W-* fixtures a device must refuse, with the words of the client's refusal (which check said no).
REFUSALS = {
    "W-DNS-WRONGID": "WFM SPIFFE ID spiffe://harness.test/margo/wfm/other is not",
    "W-DNSONLY": "WFM certificate has 0 URI SANs",
    "W-OTHWFM": "WFM SPIFFE ID spiffe://harness.test/margo/wfm/other is not",
    "W-CLIENT": "WFM SPIFFE ID spiffe://harness.test/margo/wfm/wfm-h1/client/x is not",
    "W-FTD": "WFM SPIFFE ID spiffe://other.test/margo/wfm/wfm-h1 is not",
    "W-R2": "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "W-EXP": "CERT_HAS_EXPIRED",
    "W-CA": "WFM leaf certificate has cA=true",
    "W-KCS": "WFM leaf certificate may sign certificates or CRLs",
    "W-2URI": "WFM certificate has 2 URI SANs",
    "W-LEAFONLY": "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "W-AIA": "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
}


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH: the interop tests need Node 20, as `make test` does")
    return exe


@pytest.fixture(scope="module")
def authority() -> SpiffeAuthority:
    return SpiffeAuthority(TD)


@pytest.fixture(scope="module")
def files(authority: SpiffeAuthority, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Client c1's SVID files and the bundle (R1 only)."""
    d = tmp_path_factory.mktemp("client")
    svid = authority.client_svid("c1", wfm_id=WFM_ID).write(d, "c1")
    bundle = authority.write_bundle(d)
    return {"cert": svid.cert, "key": svid.key, "chain": svid.chain, "bundle": bundle.pem, "dir": d}


class Wfm:
    """A started reference WFM and what it saw."""

    def __init__(self, server: MiafWfmServer, seen: list[Exchange]) -> None:
        self.server, self.seen = server, seen

    @property
    def url(self) -> str:
        # Reached by a host name that is in no SAN of W-OK (URI SAN only): MID-05's main positive case.
        return f"https://localhost:{self.server.port}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Exchange]:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.seen) >= count, [(e.method, e.target, e.status) for e in self.seen]
        return list(self.seen)


@contextmanager
def wfm(authority: SpiffeAuthority, svid: Svid | None = None, **kwargs: Any) -> Iterator[Wfm]:
    seen: list[Exchange] = []
    server = MiafWfmServer(svid=svid or authority.wfm_svid(WFM_ID), bundle_pem=authority.bundle_pem(),
                           trust_domain=TD, wfm_id=WFM_ID, observer=seen.append, **kwargs)
    with server:
        server.operator.add_client(C1)
        server.operator.add_client(C2)
        yield Wfm(server, seen)


def args(files: dict[str, Path], url: str, *extra: str) -> list[str]:
    return ["--wfm-url", url, "--svid-cert", str(files["cert"]), "--svid-key", str(files["key"]), "--svid-chain",
            str(files["chain"]), "--bundle-file", str(files["bundle"]), *extra]


def run_once(node: str, files: dict[str, Path], url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([node, str(CLIENT), *args(files, url, "--once", *extra)], capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_S, cwd=PROJECT_ROOT)


def test_reports_a_schema_valid_manifest_to_a_wfm_svid_without_dns_san(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        done = run_once(node, files, w.url)
        assert done.returncode == 0, done.stderr
        (put,) = w.seen
    assert (put.method, put.target, put.status, put.caller) == ("PUT", "/api/v1/capabilities/dut1", 201, C1)
    assert dict(put.headers)["content-type"] == "application/json"
    body = json.loads(put.body)
    assert validate("device-capabilities-manifest", body, profile="miaf-rc3") == []
    assert body["properties"]["id"] == "dut1" and body["properties"]["otelCollector"] is True
    assert "connected: TLSv1.3, ALPN http/1.1, WFM spiffe://harness.test/margo/wfm/wfm-h1 verified" in done.stderr


def test_every_reject_fixture_of_the_catalogue_is_refused_before_any_request(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    rejected = {name for name, spec in WFM_FIXTURES.items() if spec.expected == "reject"}
    assert rejected == set(REFUSALS), "the fixture catalogue changed: say how the client refuses the new ones"
    with ExitStack() as stack:  # one WFM per fixture, every client at once (the matrix is in the fast tier)
        served = {name: stack.enter_context(wfm(authority, authority.wfm_fixture(name, wfm_id=WFM_ID)))
                  for name in REFUSALS}
        procs = {name: subprocess.Popen([node, str(CLIENT), *args(files, w.url, "--once", "--quiet")],
                                        stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
                 for name, w in served.items()}
        outcomes = {name: (p.wait(timeout=NODE_TIMEOUT_S), p.communicate()[1]) for name, p in procs.items()}
        requests = {name: list(w.seen) for name, w in served.items()}
    for name, reason in REFUSALS.items():
        code, stderr = outcomes[name]
        assert requests[name] == [], (name, requests[name])
        assert code == 3, (name, stderr)
        assert stderr.startswith("refused the WFM: ") and reason in stderr, (name, stderr)


@pytest.mark.parametrize("fixture", ["W-OK-DNS", "W-DNS-WRONGID", "W-OK"])
def test_hostname_check_swaps_the_spiffe_check_for_node_host_name_verification(
        node: str, authority: SpiffeAuthority, files: dict[str, Path], fixture: str) -> None:
    """The MID-05 negative: the host name decides, so the wrong WFM with the right DNS name gets the report and
    the right WFM without a DNS SAN does not."""
    svid = authority.wfm_svid(WFM_ID) if fixture == "W-OK" else authority.wfm_fixture(fixture, wfm_id=WFM_ID)
    with wfm(authority, svid) as w:
        done = run_once(node, files, w.url, "--hostname-check")
        seen = list(w.seen)
    if fixture == "W-OK":
        assert done.returncode == 3 and seen == [], done.stderr
        assert "refused the WFM: ERR_TLS_CERT_ALTNAME_INVALID" in done.stderr
    else:
        assert done.returncode == 0 and [e.status for e in seen] == [201], done.stderr
        assert "host name localhost verified" in done.stderr


def test_a_tls12_only_wfm_is_reached_over_tls12(node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority, tls_versions=("1.2",)) as w:
        done = run_once(node, files, w.url)
    assert done.returncode == 0 and "connected: TLSv1.2, ALPN http/1.1" in done.stderr, done.stderr


def test_a_path_prefix_in_the_wfm_url_is_routing_only(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        done = run_once(node, files, w.url + "/tenant-a/", "--device-id", "gw.1/child_2")
        seen = list(w.seen)
    # The reference WFM has no prefix: it answers 404, which is a client error the client must not resend.
    assert [(e.target, e.status) for e in seen] == [("/tenant-a/api/v1/capabilities/gw.1/child_2", 404)]
    assert done.returncode == 1, done.stderr


def test_a_see_thru_gateway_reports_itself_with_identity_fields_only_then_each_child(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        done = run_once(node, files, w.url, "--device-id", "gw", "--gateway-children", "2")
        seen = list(w.seen)
    assert done.returncode == 0, done.stderr
    assert [(e.target, e.status) for e in seen] == [("/api/v1/capabilities/gw", 201),
                                                    ("/api/v1/capabilities/gw/child-1", 201),
                                                    ("/api/v1/capabilities/gw/child-2", 201)]
    gateway, child = json.loads(seen[0].body), json.loads(seen[1].body)
    assert sorted(gateway) == ["properties"] and sorted(gateway["properties"]) == \
        ["id", "modelNumber", "serialNumber", "vendor"]
    assert child["properties"]["id"] == "gw/child-1" and child["properties"]["otelCollector"] is True
    assert all(validate("device-capabilities-manifest", json.loads(e.body), profile="miaf-rc3") == [] for e in seen)


@pytest.mark.parametrize("argv, message", [
    ([], "--wfm-url is required"),
    (["--wfm-url", "http://localhost:1", "--svid-cert", "c", "--svid-key", "k", "--bundle-file", "b"],
     "--wfm-url must be https://"),
    (["--wfm-url", "https://localhost:1", "--svid-cert", "/nonexistent/c.pem", "--svid-key", "k", "--bundle-file",
      "b"], "cannot read --svid-cert /nonexistent/c.pem: ENOENT"),
    (["--bogus"], "Unknown option '--bogus'"),
    (["--wfm-url", "https://localhost:1", "--svid-cert", "c", "--svid-key", "k", "--discovery-url",
      "https://localhost:2/.well-known/margo"], "--discovery-url needs --mis-ca-file"),
    (["--wfm-url", "https://localhost:1", "--svid-cert", "c", "--svid-key", "k", "--bundle-file", "b",
      "--bundle-url", "https://localhost:2/b.json", "--mis-ca-file", "m"], "give exactly one of --bundle-file"),
])
def test_usage_errors_exit_2_without_a_stack_trace(node: str, argv: list[str], message: str) -> None:
    done = subprocess.run([node, str(CLIENT), *argv], capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    assert done.returncode == 2 and message in done.stderr and "    at " not in done.stderr, done.stderr


def test_a_wfm_spiffe_id_other_than_the_derived_one_is_a_configuration_error(
        node: str, files: dict[str, Path]) -> None:
    done = run_once(node, files, "https://localhost:9", "--wfm-spiffe-id", "spiffe://harness.test/margo/wfm/x")
    assert done.returncode == 2 and "is not the WFM of the own SVID" in done.stderr, done.stderr


# ----- retries, problems, the daemon (slow: they wait out Retry-After) ----------------------------------------


def _problem(status: int, strategy: str, retryable: bool = True, after: int = 1, type_: str = "") -> dict[str, Any]:
    return {"type": type_ or "https://docs.margo.org/specification/problem-types#service-unavailable",
            "title": "t", "status": status, "retryable": retryable, "backoffStrategy": strategy,
            "retryAfterSeconds": after}


def _gaps(seen: list[Exchange]) -> list[float]:
    return [round(b.started_at - a.started_at, 3) for a, b in zip(seen, seen[1:])]


@pytest.mark.slow
def test_503_exponential_waits_retry_after_then_doubles(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        w.server.faults.respond(503, _problem(503, "exponential"), headers={"Retry-After": "1"}, count=2,
                                route="capabilities")
        done = run_once(node, files, w.url)
        seen = list(w.seen)
    assert done.returncode == 0 and [e.status for e in seen] == [503, 503, 201], done.stderr
    first, second = _gaps(seen)
    assert first >= 0.9 and second >= 1.9, (first, second)  # 1 s, then doubled; 100 ms measurement tolerance


@pytest.mark.slow
def test_retries_stop_at_the_attempt_limit(node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        w.server.faults.respond(503, _problem(503, "fixed"), headers={"Retry-After": "1"}, count=None,
                                route="capabilities")
        done = run_once(node, files, w.url, "--attempts", "2")
        time.sleep(0.3)
        seen = list(w.seen)
    assert done.returncode == 1 and [e.status for e in seen] == [503, 503], done.stderr
    assert "gave up after 2 attempts" in done.stderr


@pytest.mark.slow
def test_429_with_an_http_date_is_not_retried_before_that_date_and_fixed_keeps_the_gap(
        node: str, authority: SpiffeAuthority, files: dict[str, Path]) -> None:
    with wfm(authority) as w:
        not_before = time.time() + 2
        w.server.faults.respond(429, _problem(429, "fixed", after=30),  # the header wins over the member
                                headers={"Retry-After": email.utils.formatdate(not_before, usegmt=True)},
                                route="capabilities")
        w.server.faults.respond(503, _problem(503, "fixed"), headers={"Retry-After": "1"}, count=2,
                                route="capabilities")
        done = run_once(node, files, w.url)
        seen = list(w.seen)
    assert done.returncode == 0 and [e.status for e in seen] == [429, 503, 503, 201], done.stderr
    assert seen[1].started_at >= int(not_before) - 0.1, (seen[1].started_at, not_before)
    assert seen[1].started_at - seen[0].started_at < 10, "waited for retryAfterSeconds instead of the header"
    assert all(0.9 <= g < 1.9 for g in _gaps(seen)[1:]), _gaps(seen)


class _Sink(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def sink() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Sink", (_Sink,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/problems/x", hits
    finally:
        server.shutdown()
        server.server_close()


class Daemon:
    """The client running as a daemon; ``stderr`` is its log once the ``daemon`` block has ended."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.stderr = proc, ""

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)


@contextmanager
def daemon(node: str, argv: list[str]) -> Iterator[Daemon]:
    proc = subprocess.Popen([node, str(CLIENT), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=PROJECT_ROOT)
    running = Daemon(proc)
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        running.stderr = proc.communicate(timeout=10)[1]


def _labels(exchange: Exchange) -> dict[str, Any]:
    return json.loads(exchange.body).get("labels", {})


@pytest.mark.slow
def test_422_not_retryable_is_not_resent_the_type_not_fetched_and_the_client_stays_healthy(
        node: str, authority: SpiffeAuthority, files: dict[str, Path], tmp_path: Path) -> None:
    own = _own_svid_files(files, tmp_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"site.example.org/line": "3"}))
    with sink() as (type_uri, hits), wfm(authority) as w:
        w.server.faults.respond(422, _problem(422, "none", retryable=False, type_=type_uri), route="capabilities")
        with daemon(node, args({**files, **own}, w.url, "--labels-file", str(labels))) as proc:
            w.wait_for(1)
            _rotate(authority, "c1", own, tmp_path)  # a new connection is no reason to resend the refused body
            time.sleep(1.5)  # a resend would come now
            assert [e.status for e in w.seen] == [422]
            labels.write_text(json.dumps({"site.example.org/line": "4"}))  # a change is still reported
            seen = w.wait_for(2)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    assert [e.status for e in w.seen] == [422, 201], proc.stderr
    assert _labels(seen[1]) == {"site.example.org/line": "4"}
    assert "not sending dut1 (SVID renewed): the WFM refused this very body as not retryable" in proc.stderr
    assert hits == [], "the problem type was dereferenced (MERR-07)"


def _own_svid_files(files: dict[str, Path], directory: Path) -> dict[str, Path]:
    """Copies of c1's SVID files that a test may rewrite in place, as the harness does (svid_rotation = "file")."""
    own = {k: directory / Path(files[k]).name for k in ("cert", "key", "chain")}
    for k, dst in own.items():
        shutil.copy(files[k], dst)
    return own


def _rotate(authority: SpiffeAuthority, client_id: str, own: dict[str, Path], directory: Path) -> None:
    authority.client_svid(client_id, wfm_id=WFM_ID).write(directory, "rotated")
    for src, dst in ((directory / "rotated.key", own["key"]), (directory / "rotated.pem", own["cert"]),
                     (directory / "rotated-chain.pem", own["chain"])):
        shutil.copy(src, dst)


@pytest.mark.slow
def test_the_daemon_reports_label_changes_and_reconnects_with_a_rotated_svid(
        node: str, authority: SpiffeAuthority, files: dict[str, Path], tmp_path: Path) -> None:
    own = _own_svid_files(files, tmp_path)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"site.example.org/line": "3"}))
    argv = ["--wfm-url", "", "--svid-cert", str(own["cert"]), "--svid-key", str(own["key"]), "--svid-chain",
            str(own["chain"]), "--bundle-file", str(files["bundle"]), "--labels-file", str(labels)]
    with wfm(authority) as w:
        argv[1] = w.url
        with daemon(node, argv) as proc:
            first = w.wait_for(1)[0]
            labels.write_text(json.dumps({"site.example.org/line": "4", "site.example.org/zone": ["a", "b"]}))
            second = w.wait_for(2)[1]
            _rotate(authority, "c2", own, tmp_path)  # another ID, so the WFM names who presented
            third = w.wait_for(3)[2]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    assert [(e.caller, e.status) for e in (first, second, third)] == [(C1, 201), (C1, 200), (C2, 201)], proc.stderr
    assert _labels(second) == {"site.example.org/line": "4", "site.example.org/zone": ["a", "b"]}
    assert first.connection_id == second.connection_id != third.connection_id  # kept alive, then a new connection
    assert len(w.seen) == 3



@pytest.mark.parametrize("keys, code", [("x509-svid", 0), ("jwt-svid", 3), ("none", 3)])
def test_a_jwk_set_bundle_file_is_read_by_its_x509_svid_keys_only(
        node: str, authority: SpiffeAuthority, files: dict[str, Path], tmp_path: Path, keys: str, code: int) -> None:
    bundle = authority.spiffe_bundle()
    if keys == "jwt-svid":
        bundle["keys"] = [{**k, "use": "jwt-svid"} for k in bundle["keys"]]
    elif keys == "none":
        bundle["keys"] = []
    jwks = tmp_path / "bundle.jwks.json"
    jwks.write_text(json.dumps(bundle))
    with wfm(authority) as w:
        done = run_once(node, {**files, "bundle": jwks}, w.url)
        seen = list(w.seen)
    assert done.returncode == code, done.stderr
    if code:
        assert seen == [] and "no usable bundle" in done.stderr, done.stderr
    else:
        assert [e.status for e in seen] == [201]


@pytest.mark.slow
def test_the_daemon_keeps_its_anchors_on_an_empty_bundle_and_replaces_them_on_a_new_one(
        node: str, authority: SpiffeAuthority, files: dict[str, Path], tmp_path: Path) -> None:
    bundle, labels = tmp_path / "bundle.pem", tmp_path / "labels.json"
    bundle.write_bytes(authority.bundle_pem())
    labels.write_text(json.dumps({"site.example.org/n": 1}))
    with wfm(authority) as w:
        argv = args({**files, "bundle": bundle}, w.url, "--labels-file", str(labels))
        with daemon(node, argv) as proc:
            w.wait_for(1)
            bundle.write_text(json.dumps({"keys": []}))  # no X.509 anchor: refused, R1 kept (MTB-06)
            time.sleep(0.5)
            labels.write_text(json.dumps({"site.example.org/n": 2}))
            w.wait_for(2)
            bundle.write_bytes(authority.bundle_pem(rotation="R2"))  # replaces R1: this WFM (R1) now fails
            time.sleep(0.5)
            labels.write_text(json.dumps({"site.example.org/n": 3}))
            assert proc.wait(timeout=10) == 3
    assert [e.status for e in w.seen] == [201, 200], proc.stderr
    assert "keeping the current SVID and anchors: no usable bundle" in proc.stderr
    assert "refused the WFM: UNABLE_TO_GET_ISSUER_CERT_LOCALLY" in proc.stderr
