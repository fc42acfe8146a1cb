"""The offline Allure HTML report: one self-contained index.html built by the npm package ``allure`` (3.x).

The package is pinned in the project's package.json and installed by the Makefile (``npm ci``); building
needs no network. The report opens from disk (``singleFile``), so a reviewer can be sent one file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ConfigError, HarnessError
from ..resources import PROJECT_ROOT

ALLURE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "allure"
BUILD_TIMEOUT_S = 300


def allure_config(name: str) -> dict[str, object]:
    return {"name": name, "plugins": {"awesome": {"options": {"singleFile": True, "reportName": name}}}}


def build_html(run_dir: Path, *, name: str | None = None) -> Path:
    """Build ``<run_dir>/allure-report/index.html`` from ``<run_dir>/allure-results``; return its path."""
    run_dir = run_dir.resolve()  # allure runs with run_dir as its working directory
    results = run_dir / "allure-results"
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ConfigError(f"{run_dir} holds no Allure results (expected {results}/*-result.json)")
    if not ALLURE_BIN.exists():
        raise ConfigError(f"the npm package allure is not installed ({ALLURE_BIN} is missing); "
                          "run 'make report' or 'npm ci' in the project directory first")
    if shutil.which("node") is None:
        raise ConfigError("Node.js is not on PATH; the HTML report needs Node 20 (the npm package allure)")
    title = name or _title(run_dir)
    config = run_dir / "allurerc.json"
    config.write_text(json.dumps(allure_config(title), indent=2) + "\n")
    output = run_dir / "allure-report"
    if output.exists():
        shutil.rmtree(output)
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        done = subprocess.run([str(ALLURE_BIN), "generate", str(results), "--config", str(config), "-o", str(output)],
                              cwd=run_dir, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"allure generate did not finish within {BUILD_TIMEOUT_S} s") from None
    index = output / "index.html"
    if done.returncode != 0 or not index.exists():
        raise HarnessError(f"allure generate failed (exit {done.returncode}): {(done.stderr or done.stdout)[-500:]}")
    return index


def _title(run_dir: Path) -> str:
    summary = run_dir / "summary.json"
    try:
        data = json.loads(summary.read_text())
        return f"Margo conformance: {data['sut']['name']} ({data['sut']['role']}, {data['profile']['id']})"
    except (OSError, ValueError, KeyError):
        return "Margo conformance"
