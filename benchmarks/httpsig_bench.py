"""How fast the Margo signer and verifier are, next to raw ``cryptography`` ECDSA P-256 in the same run.

Run on demand (``make bench`` or ``.venv/bin/python benchmarks/httpsig_bench.py``); not a test, because
timings depend on the machine. The issue's target: at least half the raw rate for both directions. The
workload is the simulated device's and WFM's: P-256, a 1 KiB JSON body, Content-Digest + signature,
verification with the full Margo policy (digest recomputed, created window, every finding).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from margo_conformance.httpsig import sign_request, verify_request

URL = "https://wfm.example.com/api/v1/clients/6f1c2a0e-3b7d-4d5e-9a61-0c2f6d9b4e11/capabilities/line3-ipc-07"


def one_kib_json() -> bytes:
    """A JSON body of exactly 1024 bytes, shaped like a capabilities manifest."""
    doc = {"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
           "properties": {"id": "line3-ipc-07", "vendor": "Acme", "notes": ""}}
    pad = 1024 - len(json.dumps(doc, separators=(",", ":")).encode())
    doc["properties"]["notes"] = "x" * pad  # type: ignore[index]
    body = json.dumps(doc, separators=(",", ":")).encode()
    assert len(body) == 1024, len(body)
    return body


def _round(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over one round of about ``seconds``."""
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn()
        count += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def paired_rates(raw: Callable[[], object], ours: Callable[[], object], seconds: float,
                 rounds: int = 5) -> tuple[float, float]:
    """Best-of-``rounds`` rates of the two functions, measured in alternating rounds.

    Alternating keeps a burst of load from another process on the machine from landing on one side of the
    comparison only; best-of is the usual estimator for "how fast can this code go" under noise.
    """
    for fn in (raw, ours):
        for _ in range(50):
            fn()
    best_raw = best_ours = 0.0
    for _ in range(rounds):
        best_raw = max(best_raw, _round(raw, seconds / rounds))
        best_ours = max(best_ours, _round(ours, seconds / rounds))
    return best_raw, best_ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per side and row (default 2)")
    args = parser.parse_args()

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    body = one_kib_json()
    created = int(time.time())
    signed = sign_request("PUT", URL, body, key, created=created)
    base = signed.signature_base.encode()  # type: ignore[union-attr]
    der = key.sign(base, ec.ECDSA(hashes.SHA256()))
    check = verify_request("PUT", URL, signed.headers, signed.body, public, now=created)
    assert check.valid and not check.findings, check.findings

    rows = [
        ("sign", *paired_rates(lambda: key.sign(base, ec.ECDSA(hashes.SHA256())),
                               lambda: sign_request("PUT", URL, body, key, created=created), args.seconds)),
        ("verify", *paired_rates(lambda: public.verify(der, base, ec.ECDSA(hashes.SHA256())),
                                 lambda: verify_request("PUT", URL, signed.headers, signed.body, public, now=created),
                                 args.seconds)),
    ]
    print(f"P-256, {len(body)}-byte JSON body, Margo profile (digest + signature); "
          f"best of 5 alternating rounds, {args.seconds:g} s per side and row")
    print(f"{'operation':<10}{'raw cryptography /s':>22}{'margo httpsig /s':>20}{'ratio':>8}")
    for name, raw, ours in rows:
        print(f"{name:<10}{raw:>22,.0f}{ours:>20,.0f}{ours / raw:>8.2f}")
    print("target: ratio >= 0.50 (at least half the raw rate)")


if __name__ == "__main__":
    main()
