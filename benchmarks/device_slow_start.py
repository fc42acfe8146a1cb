"""A device that takes seconds to start: the device-role run time with the old and the new scheduling.

A vendor's agent boots, opens its store and dials out before it sends anything. This wraps the reference
device in a script that sleeps ``--delay`` seconds (default 3) before it starts, describes it in a device SUT
file with launch commands (as a vendor would), and runs the device-role suite against it:

- old: one launch per scenario, one at a time (``--jobs 1`` and ``--margo-no-sharing``: how the suite ran
  before recordings were shared and made side by side);
- new: the default (the scenarios tagged ``@recording:nominal`` share one launch, the others run on ``--jobs``
  workers, default the cores).

    .venv/bin/python benchmarks/device_slow_start.py [--delay 3] [--repeat 2] [--jobs N] [--skip-old]

Prints each run's wall time and, per scheduling, the best and the spread. Both runs must reach the same
verdicts (the run's exit code is printed): a faster run that judges less is not faster.
"""

from __future__ import annotations

import argparse
import json
import stat
import sys
import tempfile
import time
from pathlib import Path

from margo_conformance.runner import RunOptions, run

WRAPPER = """#!{python}
# The reference device, started after a pause (a device that boots before it dials out).
import os, sys, time
time.sleep({delay})
os.execv({python!r}, [{python!r}, "-m", "margo_conformance.device", "run", *sys.argv[1:]])
"""

SUT = """[sut]
role = "device"
name = "reference device behind a {delay} s start"

[device]
mode = "launch"
launch = "{wrapper} --wfm-url {{wfm_url}} --ca-file {{ca_file}} --state-dir {{state_dir}} --timeout 5 --attempts 3"
launch_bootstrap = "{wrapper} --wfm-url {{wfm_url}} --bootstrap-url {{bootstrap_url}} --bootstrap-ca-file {{bootstrap_ca_file}} --state-dir {{state_dir}} --timeout 5 --attempts 3"
launch_gateway = "{wrapper} --wfm-url {{wfm_url}} --ca-file {{ca_file}} --state-dir {{state_dir}} --timeout 5 --attempts 3 --gateway-children 2"
timeout_s = 30
"""


def write_sut(directory: Path, delay: float) -> Path:
    wrapper = directory / "slow-device"
    wrapper.write_text(WRAPPER.format(python=sys.executable, delay=delay))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    sut = directory / "slow-device.toml"
    sut.write_text(SUT.format(delay=delay, wrapper=wrapper))
    return sut


def timed_run(sut: Path, output: Path, *, old: bool, jobs: int | None) -> tuple[float, int, dict[str, int]]:
    opts = RunOptions(role="device", sut=str(sut), output=output, jobs=1 if old else jobs,
                      extra_pytest_args=["--margo-no-sharing"] if old else [])
    started = time.monotonic()
    code = run(opts)
    elapsed = time.monotonic() - started
    summary = json.loads((output / "summary.json").read_text())
    return elapsed, code, summary["counts"]["scenarios"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=3.0, help="seconds the device sleeps before it starts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scheduling (the machine may be shared)")
    parser.add_argument("--jobs", type=int, default=None, help="workers of the new scheduling (default: the cores)")
    parser.add_argument("--skip-old", action="store_true", help="measure only the new scheduling")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="margo-bench-slow-") as tmp:
        directory = Path(tmp)
        sut = write_sut(directory, args.delay)
        for name in (("new",) if args.skip_old else ("old", "new")):
            for i in range(args.repeat):
                elapsed, code, counts = timed_run(sut, directory / f"{name}-{i}", old=name == "old", jobs=args.jobs)
                results.setdefault(name, []).append(elapsed)
                print(f"{name} run {i + 1}: {elapsed:.1f} s, exit {code}, scenarios {counts}", flush=True)
    print(f"\ndevice-role run, device start delayed {args.delay:g} s:")
    for name, times in results.items():
        label = ("old: --jobs 1, one launch per scenario" if name == "old"
                 else f"new: shared nominal recording, --jobs {args.jobs or 'cores'}")
        print(f"  {label:48} best {min(times):6.1f} s, spread {max(times) - min(times):5.1f} s over {len(times)} run(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
