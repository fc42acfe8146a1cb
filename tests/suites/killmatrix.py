"""Running a conformance suite against the builtin reference and reading what it concluded.

Shared by the suite self-tests: the clean reference must pass; each named defect must fail the suite on
its own requirement, and on nothing unrelated (the kill matrix).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from margo_conformance.resources import PROJECT_ROOT

RUN_TIMEOUT_S = 300


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
              timeout_s: float = RUN_TIMEOUT_S) -> SuiteRun:
    cmd = [sys.executable, "-m", "margo_conformance", "run", "--role", role, "--sut", sut,
           "--output", str(output), *extra]
    for defect in defects:
        cmd += ["--defect", defect]
    if strict:
        cmd.append("--strict")
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s, check=False,
                          env=env)
    summary_file = output / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return SuiteRun(done.returncode, summary, output, done.stdout[-4000:] + done.stderr[-4000:])


def assert_default_run_names_the_deviation(role: str, defect: Any, output: Path) -> None:
    """The default-run half of a strict-only defect (the kill matrix runs the --strict half on the whole suite):
    only the scenarios of its requirement, which is where a deviation could wrongly turn into a failure."""
    tags = ("--tags", "req_" + defect.requirement.replace("-", "_"))
    run = run_suite(role, output, defects=(defect.name,), extra=tags)
    assert run.exit_code == 0, f"{defect.name} failed a default run:\n{run.log}"
    row = run.requirement(defect.requirement)
    assert row["verdict"] in ("DEVIATION", "ADVISORY"), f"{defect.name}: {defect.requirement} is {row['verdict']}"
    assert run.failed_scenarios == [], defect.name
