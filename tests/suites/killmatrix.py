"""Running a conformance suite against the builtin reference and reading what it concluded.

Shared by the suite self-tests: the clean reference must pass; each named defect must fail the suite on
its own requirement, and on nothing unrelated (the kill matrix).

Each suite's clean run starts the command cold, exactly as a user does; the defect runs go through the warm
runner (``warm_runner.py``: the same command, forked from a process that has imported its libraries once), which
saves about 2 s of a 7 s run on 2 busy cores. ``MARGO_SELFTEST_COLD=1`` runs them all cold.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from margo_conformance.resources import PROJECT_ROOT

RUN_TIMEOUT_S = 300
#: ``MARGO_SELFTEST_COLD=1``: every run starts the command cold, as a user does (no warm runner).
COLD = os.environ.get("MARGO_SELFTEST_COLD") == "1"


@dataclass
class SuiteRun:
    exit_code: int
    summary: dict[str, Any]
    output: Path
    log: str

    @property
    def failed_scenarios(self) -> list[dict[str, Any]]:
        return [s for s in self.summary["scenarios"] if s["outcome"] == "failed"]

    def requirement(self, req_id: str) -> dict[str, Any]:
        return next(r for r in self.summary["requirements"] if r["id"] == req_id)

    def unrelated_failures(self, *req_ids: str) -> list[str]:
        """Failed scenarios that neither carry one of the requirements' tags nor failed on a verdict naming one."""
        stray = []
        wanted = set(req_ids)
        for s in self.failed_scenarios:
            failing = {r for v in s["verdicts"] if not v["passed"] for r in v["requirements"]}
            if not wanted & (set(s["requirements"]) | failing):
                stray.append(f"{s['name']}: {s['message'][:200]}")
        return stray


def run_suite(role: str, output: Path, *, defects: tuple[str, ...] = (), strict: bool = False,
              extra: tuple[str, ...] = (), sut: str = "builtin", env: dict[str, str] | None = None,
              timeout_s: float = RUN_TIMEOUT_S, cold: bool = False) -> SuiteRun:
    """``margo-conformance run`` with these options; on the warm runner (``warm_runner.py``) unless ``cold``."""
    argv = ["run", "--role", role, "--sut", sut, "--output", str(output), *extra]
    for defect in defects:
        argv += ["--defect", defect]
    if strict:
        argv.append("--strict")
    if cold or COLD:
        done = subprocess.run([sys.executable, "-m", "margo_conformance", *argv], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
        exit_code, log = done.returncode, done.stdout[-4000:] + done.stderr[-4000:]
    else:
        exit_code, log = _warm().run(argv, dict(os.environ if env is None else env), output.parent, timeout_s)
    summary_file = output / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return SuiteRun(exit_code, summary, output, log)


class _WarmRunner:
    """This test process's warm runner (one run at a time, as the tests of one xdist worker run)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("warm_runner.py"))],
                                      cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._lock = threading.Lock()
        atexit.register(self.close)

    def run(self, argv: list[str], env: dict[str, str], log_dir: Path, timeout_s: float) -> tuple[int, str]:
        log = log_dir / f"{Path(argv[argv.index('--output') + 1]).name}.log"
        request = {"argv": argv, "env": env, "cwd": str(PROJECT_ROOT), "log": str(log), "timeout_s": timeout_s}
        with self._lock:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            reply = self._proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"the warm runner stopped (exit {self._proc.poll()})")
        answer = json.loads(reply)
        text = log.read_text(errors="replace") if log.exists() else ""
        if answer["timed_out"]:
            text += f"\n[killed after {timeout_s:g} s]"
        return int(answer["exit_code"]), text[-8000:]

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()


_RUNNER: _WarmRunner | None = None


def _warm() -> _WarmRunner:
    global _RUNNER
    if _RUNNER is None or _RUNNER._proc.poll() is not None:
        _RUNNER = _WarmRunner()
    return _RUNNER


def assert_default_run_names_the_deviation(role: str, defect: Any, output: Path) -> None:
    """The default-run half of a strict-only defect (the kill matrix runs the --strict half on the whole suite):
    only the scenarios of its requirement, which is where a deviation could wrongly turn into a failure."""
    tags = ("--tags", "req_" + defect.requirement.replace("-", "_"))
    run = run_suite(role, output, defects=(defect.name,), extra=tags)
    assert run.exit_code == 0, f"{defect.name} failed a default run:\n{run.log}"
    row = run.requirement(defect.requirement)
    assert row["verdict"] in ("DEVIATION", "ADVISORY"), f"{defect.name}: {defect.requirement} is {row['verdict']}"
    assert run.failed_scenarios == [], defect.name
