"""The offline Allure HTML report: one self-contained index.html built by the npm package ``allure`` (3.x).

The version is pinned in the project's package.json. The CLI is found, in this order: the checkout's
``node_modules`` (installed by ``make setup-node``, no network needed), an Allure 3 ``allure`` on PATH, or the
pinned version through ``npx`` (which downloads it once). Without Node.js the report cannot be built; the
run's summary.md, summary.json and junit.xml do not need it. The report opens from disk (``singleFile``), so
a reviewer can be sent one file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import ConfigError, HarnessError
from ..resources import PACKAGE_JSON, PROJECT_ROOT, checkout_root

ALLURE_BIN = (checkout_root() or PROJECT_ROOT) / "node_modules" / ".bin" / "allure"
BUILD_TIMEOUT_S = 300
VERSION_TIMEOUT_S = 20


def pinned_allure_version() -> str:
    """The Allure CLI version package.json pins (devDependencies.allure)."""
    return str(json.loads(PACKAGE_JSON.read_text())["devDependencies"]["allure"])


def find_allure() -> list[str]:
    """The command that runs the pinned Allure 3 CLI here; ConfigError (exit 2) with one line when there is none."""
    if ALLURE_BIN.exists() and shutil.which("node"):
        return [str(ALLURE_BIN)]
    if shutil.which("node") is None:
        raise ConfigError("Node.js is not on PATH: the HTML report needs Node 20 (the npm package allure); "
                          "summary.md, summary.json and junit.xml are written without it")
    on_path = shutil.which("allure")
    if on_path and _major_version([on_path]) == "3":
        return [on_path]
    npx = shutil.which("npx")
    if npx is None:
        raise ConfigError("neither the project's node_modules, an Allure 3 CLI on PATH, nor npx is available "
                          "to build the HTML report")
    return [npx, "--yes", f"allure@{pinned_allure_version()}"]


def _major_version(command: list[str]) -> str:
    try:
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().split(".")[0] if done.returncode == 0 else ""


def allure_config(name: str) -> dict[str, object]:
    return {"name": name, "plugins": {"awesome": {"options": {"singleFile": True, "reportName": name}}}}


def build_html(run_dir: Path, *, name: str | None = None) -> Path:
    """Build ``<run_dir>/allure-report/index.html`` from ``<run_dir>/allure-results``; return its path."""
    run_dir = run_dir.resolve()  # allure runs with run_dir as its working directory
    results = run_dir / "allure-results"
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ConfigError(f"{run_dir} holds no Allure results (expected {results}/*-result.json)")
    allure = find_allure()
    title = name or _title(run_dir)
    config = run_dir / "allurerc.json"
    config.write_text(json.dumps(allure_config(title), indent=2) + "\n")
    output = run_dir / "allure-report"
    if output.exists():
        shutil.rmtree(output)
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        done = subprocess.run([*allure, "generate", str(results), "--config", str(config), "-o", str(output)],
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
