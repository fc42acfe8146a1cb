"""Throughput of the reference WFM: onboardings per second and signed capability PUTs per second.

Run on demand (not a test; figures depend on the machine):

    .venv/bin/python benchmarks/wfm_throughput.py [--onboardings 4000] [--puts 20000] [--concurrency 32]

What it measures, honestly:

- the standalone server, started as its own process exactly like ``margo-conformance wfm serve`` (TLS 1.3,
  SQLite WAL in a temporary data directory, audit log on, no observation);
- a client in this process with ``--concurrency`` keep-alive TLS connections, each sending its next request
  as soon as the previous answer is read;
- every request is signed *before* the clock starts (the signer's cost is not the server's), and every
  request is real: distinct certificates for onboarding (each a new client: decode, RFC 5280 lint, signature
  with the submitted key, insert), full manifests for the PUTs (digest, client lookup, signature with the
  bound key, state, schema, semantics, upsert; the first PUT of each device creates, the rest replace);
- "zero errors": every answer must be 201 (onboarding) or 201/200 (PUT); anything else is counted and
  makes the run fail (exit 1).

The target of issue 3: >= 500 onboardings/s and >= 1,000 signed PUTs/s with 32 clients on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509

from margo_conformance.httpsig import sign_request
from margo_conformance.pki import TestCA
from margo_conformance.wfm.tls import client_context

MANIFEST = {
    "apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
    "properties": {
        "id": "", "vendor": "Acme Industrial Computing", "modelNumber": "IPC-4410", "serialNumber": "AC4410-000917",
        "cpus": [{"cores": 4, "architecture": "amd64"}, {"cores": 1.5, "architecture": "amd64"}],
        "memory": "16Gi", "storage": "256Gi",
        "peripherals": [{"type": "gpu", "manufacturer": "NVIDIA", "model": "T1000"}],
        "interfaces": [{"type": "ethernet"}, {"type": "rs232"}], "otelCollector": True,
        "supportedRuntimes": ["oci"], "supportedDeploymentTypes": ["compose", "helm"],
    },
    "x-acme-extensions": {"firmware": "2.4.1"},
}


def build_request(method: str, base_url: str, path: str, body: bytes, key: object) -> bytes:
    signed = sign_request(method, base_url + path, body, key)  # type: ignore[arg-type]
    host = base_url.split("://", 1)[1].split("/", 1)[0]
    head = [f"{method} {base_url.split(host, 1)[1]}{path} HTTP/1.1", f"Host: {host}",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in signed.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run_phase(host: str, port: int, ctx: ssl.SSLContext, requests: list[list[bytes]]) -> dict[str, object]:
    """Each inner list is one connection's requests, sent one after the other (keep-alive)."""
    statuses: list[int] = []
    latencies: list[float] = []
    bodies: list[list[bytes]] = [[] for _ in requests]  # per connection, in request order

    async def connection(index: int, batch: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
        try:
            for request in batch:
                started = time.perf_counter()
                writer.write(request)
                status, body = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                statuses.append(status)
                bodies[index].append(body)
        finally:
            writer.close()

    # connect first (handshakes are not what is measured), then go
    started = time.perf_counter()
    await asyncio.gather(*(connection(i, batch) for i, batch in enumerate(requests)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"count": len(statuses), "elapsed_s": elapsed, "per_s": len(statuses) / elapsed,
            "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
            "p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
            "bodies": bodies}


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--port", "0", "--data-dir", str(data_dir)]
    if os.environ.get("WFM_BENCH_SERVER"):  # e.g. a profiling wrapper taking the data dir as its argument
        cmd = [sys.executable, os.environ["WFM_BENCH_SERVER"], str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("WFM listening on "):
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line.split()[-1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(proc: subprocess.Popen[str], coro_factory) -> dict[str, object]:  # type: ignore[no-untyped-def]
    server_before, client_before = cpu_seconds(proc.pid), sum(os.times()[:2])
    result = asyncio.run(coro_factory())
    result["server_cpu_s"] = cpu_seconds(proc.pid) - server_before
    result["client_cpu_s"] = sum(os.times()[:2]) - client_before
    return result


def split(items: list[bytes], n: int) -> list[list[bytes]]:
    return [items[i::n] for i in range(n)]


def split_items(items: list, n: int) -> list[list]:  # type: ignore[type-arg]
    return [items[i::n] for i in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onboardings", type=int, default=4000)
    parser.add_argument("--puts", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--devices-per-client", type=int, default=4)
    parser.add_argument("--distinct-bodies", action="store_true",
                        help="a different serialNumber in every PUT (defeats the WFM's manifest verdict cache)")
    args = parser.parse_args()
    conc = args.concurrency

    with tempfile.TemporaryDirectory(prefix="margo-wfm-bench-") as tmp:
        proc, base_url = start_server(Path(tmp))
        try:
            authority = base_url.split("://", 1)[1]
            host, port = authority.rsplit(":", 1)[0], int(authority.rsplit(":", 1)[1].split("/")[0])
            root = x509.load_pem_x509_certificate((Path(tmp) / "ca.pem").read_bytes())
            ctx = client_context(root)
            device_ca = TestCA("bench device CA")

            print(f"server {base_url}; preparing {args.onboardings} onboardings ...", flush=True)
            certs = [device_ca.issue_client_cert(f"bench-{i}") for i in range(args.onboardings)]
            onboard_requests = [build_request("POST", base_url, "/api/v1/onboarding", json.dumps(
                {"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest",
                 "certificate": c.b64_der()}).encode(), c.key) for c in certs]
            onboarding = measured(proc, lambda: run_phase(host, port, ctx, split(onboard_requests, conc)))
            answers = onboarding.pop("bodies")
            report("onboardings", onboarding, {201})
            # the first onboarded client of each connection reports capabilities on one connection
            clients = [(split_certs[0], json.loads(batch[0])["clientId"])
                       for split_certs, batch in zip(split_items(certs, conc), answers)]  # type: ignore[arg-type]

            # each connection: one client reporting a few devices over and over
            print(f"preparing {args.puts} signed PUTs ...", flush=True)
            batches: list[list[bytes]] = []
            per_conn = args.puts // conc
            for cert, client_id in clients:
                batch = []
                for j in range(per_conn):
                    device_id = f"dev-{j % args.devices_per_client}"
                    doc = json.loads(json.dumps(MANIFEST))
                    doc["properties"]["id"] = device_id
                    if args.distinct_bodies:
                        doc["properties"]["serialNumber"] = f"AC4410-{client_id[:8]}-{j:07d}"
                    body = json.dumps(doc).encode()
                    batch.append(build_request("PUT", base_url, f"/api/v1/clients/{client_id}/capabilities/{device_id}",
                                               body, cert.key))
                batches.append(batch)
            puts = measured(proc, lambda: run_phase(host, port, ctx, batches))
            puts.pop("bodies")
            report("signed PUTs", puts, {200, 201})
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    ok = set(onboarding["statuses"]) <= {201} and set(puts["statuses"]) <= {200, 201}  # type: ignore[arg-type]
    print("zero errors" if ok else "ERRORS: see the status counts above")
    return 0 if ok else 1


def report(what: str, result: dict[str, object], good: set[int]) -> None:
    errors = sum(n for s, n in result["statuses"].items() if s not in good)  # type: ignore[union-attr]
    print(f"{what:>12}: {result['count']} in {result['elapsed_s']:.2f} s = {result['per_s']:.0f}/s  "
          f"p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  statuses {result['statuses']}  "
          f"errors {errors}", flush=True)
    count = result["count"] or 1  # type: ignore[operator]
    print(f"{'':>12}  CPU: server {result['server_cpu_s']:.2f} s ({1e3 * result['server_cpu_s'] / count:.2f} ms/request), "
          f"client {result['client_cpu_s']:.2f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
