"""Is the fleet load generator the bottleneck? Figures for issue 13, run on demand (not a test).

1. Signed requests a load process prepares per second (an httpx request with a capabilities manifest body,
   Content-Digest and an RFC 9421 signature through the one signing path, ``sign_httpx_request``), next to the
   raw ``cryptography`` ECDSA P-256 sign rate measured in the same run. Aim: at least half.
2. The onboardings per second a 2-process fleet drives when ``--storm`` devices all start at once.
3. What ``margo-conformance load`` drives against the builtin reference WFM with 1, 2 and 4 processes
   (``--runs``, ``--duration``): onboardings/s, PUTs/s, p95 latency, violations.

    .venv/bin/python benchmarks/load_generator.py                      # both parts, 60-second runs
    .venv/bin/python benchmarks/load_generator.py --runs 2 --duration 20
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from margo_conformance.device.simulated import SimulatedDevice
from margo_conformance.httpsig.auth import SigningOptions, signature_fields
from margo_conformance.pki import TestCA


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def generator_figures(seconds: float) -> dict[str, float]:
    identity = TestCA("bench CA").issue_client_cert("bench-device")
    key = identity.key
    device = SimulatedDevice("https://wfm.example.com", ssl.create_default_context(), identity=identity)
    body = json.dumps(device.manifest("line3-ipc-07")).encode()  # a realistic body; nothing is sent
    url = "https://wfm.example.com/api/v1/clients/6f1c2a0e-3b7d-4d5e-9a61-0c2f6d9b4e11/capabilities/line3-ipc-07"
    client = httpx.Client()
    options = SigningOptions(key)
    parsed = httpx.URL(url)
    base = b'"@method": PUT\n"@target-uri": ' + url.encode() + b'\n"content-digest": sha-256=:x:\n"@signature-params": ()'

    def sign_only() -> None:  # what the generator adds: digest, signature base, ECDSA, the fields
        signature_fields("PUT", url, body, options)

    def prepare() -> None:  # the same, plus the HTTP client's request object, as the device's wire does it
        signed = signature_fields("PUT", str(parsed), body, options)
        client.build_request("PUT", parsed, content=signed.body,
                             headers={"Content-Type": "application/json", **signed.headers})

    raw = rate(lambda: key.sign(base, ec.ECDSA(hashes.SHA256())), seconds)  # type: ignore[union-attr]
    signed_rate = rate(sign_only, seconds)
    prepared = rate(prepare, seconds)
    return {"raw_ecdsa_p256_signs_per_s": round(raw), "signatures_per_s": round(signed_rate),
            "signatures_share_of_raw": round(signed_rate / raw, 3), "signed_httpx_requests_per_s": round(prepared),
            "requests_share_of_raw": round(prepared / raw, 3)}


def fleet_run(processes: int, duration: float, devices: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "margo_conformance", "load", "--processes", str(processes), "--devices",
                str(devices), "--spawn-rate", str(devices), "--report-every", "0.5", "--reports", "100000",
                "--duration", str(duration), "--quiet", "--output", out]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 180)
        summary = json.loads((Path(out) / "load-summary.json").read_text())
    routes = {r["route"]: r for r in summary["routes"]}
    return {
        "processes": processes, "exit_code": done.returncode, "duration_s": summary["run"]["duration_s"],
        "onboardings_per_s": routes["onboarding POST"]["rate_per_s"],
        "peak_onboardings_per_s": max((p["onboardings_per_s"] for p in summary["timeline"]), default=0),
        "puts_per_s": routes["capabilities PUT"]["rate_per_s"],
        "p95_put_ms": routes["capabilities PUT"]["latency_ms"]["p95"],
        "p95_onboarding_ms": routes["onboarding POST"]["latency_ms"]["p95"],
        "violations": summary["result"]["violations"], "allowed": summary["result"]["allowed"],
    }


def onboarding_storm(processes: int, devices: int) -> dict[str, object]:
    """Every device at once, one report each: how many onboardings per second the fleet gets through."""
    with tempfile.TemporaryDirectory() as out:
        argv = [sys.executable, "-m", "margo_conformance", "load", "--processes", str(processes), "--devices",
                str(devices), "--spawn-rate", str(devices), "--reports", "1", "--report-every", "0.1",
                "--fault-share", "0", "--duration", "120", "--quiet", "--output", out]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=400)
        summary = json.loads((Path(out) / "load-summary.json").read_text())
    onboarding = next(r for r in summary["routes"] if r["route"] == "onboarding POST")
    return {"processes": processes, "exit_code": done.returncode, "devices": devices,
            "onboarded": onboarding["expected"], "duration_s": summary["run"]["duration_s"],
            "finished_by": summary["run"]["finished_by"],
            "onboardings_per_s": round(onboarding["expected"] / summary["run"]["duration_s"], 1),
            "p95_onboarding_ms": onboarding["latency_ms"]["p95"], "violations": summary["result"]["violations"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per generator measurement")
    parser.add_argument("--runs", default="1,2,4", help="process counts of the fleet runs ('' to skip)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per fleet run")
    parser.add_argument("--devices", type=int, default=400, help="devices per fleet run")
    parser.add_argument("--storm", type=int, default=1000, help="devices of the 2-process onboarding storm (0: skip)")
    args = parser.parse_args()
    print(json.dumps({"generator": generator_figures(args.seconds)}, indent=2), flush=True)
    if args.storm:
        print(json.dumps({"onboarding_storm": onboarding_storm(2, args.storm)}), flush=True)
    for processes in [int(p) for p in args.runs.split(",") if p]:
        print(json.dumps({"fleet": fleet_run(processes, args.duration, args.devices)}), flush=True)


if __name__ == "__main__":
    main()
