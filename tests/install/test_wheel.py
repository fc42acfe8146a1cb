"""The wheel is the product (issue 12): built from the checkout, installed into a fresh virtualenv outside it,
and used from a directory that is not the checkout, exactly as docs/CI.md tells a vendor's pipeline to.

One module-scoped install (the slow part: the dependencies come from the package index or pip's cache);
each test then runs the installed command from an empty working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from margo_conformance.report.summary import validate_summary
from margo_conformance.resources import checkout_root

CHECKOUT = checkout_root()
pytestmark = [pytest.mark.skipif(CHECKOUT is None, reason="builds the wheel from a checkout"),
              pytest.mark.timeout(900)]


@dataclass
class Installed:
    wheel: Path
    venv: Path
    install_s: float

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "margo-conformance"

    def package_files(self) -> set[str]:
        site = next((self.venv / "lib").glob("python3*/site-packages"))
        return {str(p.relative_to(site)) for p in (site / "margo_conformance").rglob("*")}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MARGO_CONFORMANCE_HOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    assert CHECKOUT is not None
    root = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(root / "dist"), str(CHECKOUT)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next((root / "dist").glob("margo_conformance-*.whl"))
    venv = root / "venv"
    started = time.monotonic()
    # A venv without its own pip, filled by this pip (``--python``): the same resolution from the same index, without
    # ensurepip and without byte-compiling every dependency (the first run compiles what it imports): 24 s -> 6 s.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                              "--no-compile", "--disable-pip-version-check", str(wheel)], capture_output=True,
                             text=True, timeout=600, env=_env())
    assert install.returncode == 0, install.stderr[-3000:]
    return Installed(wheel, venv, time.monotonic() - started)


def _run(installed: Installed, cwd: Path, *args: str, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed.command), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env or _env())


def test_the_wheel_carries_the_suites_data_and_no_bytecode(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for required in ("margo_conformance/_data/features/wfm/protected_routes.feature",
                     "margo_conformance/_data/steps/wfm/test_wfm_suite.py",
                     "margo_conformance/_data/steps/pytest.ini",
                     "margo_conformance/_data/schemas/report/summary.schema.json",
                     "margo_conformance/_data/profiles/httpsig-2026h1/requirements.yaml",
                     "margo_conformance/_data/profiles/miaf-rc3/profile.yaml",
                     "margo_conformance/_data/schemas/miaf-rc3/problem-details.schema.json",
                     "margo_conformance/_data/fixtures/sut/templates/wfm.toml",
                     "margo_conformance/_data/package.json"):
        assert required in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_requirements_and_init_from_an_empty_directory(installed: Installed, tmp_path: Path) -> None:
    catalog = _run(installed, tmp_path, "requirements", "--json")
    assert catalog.returncode == 0, catalog.stderr
    assert any(r["id"] == "SIG-11" for r in json.loads(catalog.stdout))
    assert _run(installed, tmp_path, "--version").stdout.startswith("margo-conformance ")
    init = _run(installed, tmp_path, "init", "--role", "wfm")
    assert init.returncode == 0 and (tmp_path / "wfm-sut.toml").exists()
    assert "Exit codes" in _run(installed, tmp_path, "run", "--help").stdout


@pytest.mark.parametrize("role", ["wfm", "device"])
def test_both_suites_run_from_the_installed_wheel(installed: Installed, tmp_path: Path, role: str) -> None:
    before = installed.package_files()
    done = _run(installed, tmp_path, "run", "--role", role, "--sut", "builtin")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    outputs = list((tmp_path / "reports").glob(f"*-{role}"))  # ./reports/<time>-<role>/ under the cwd
    assert len(outputs) == 1
    summary = json.loads((outputs[0] / "summary.json").read_text())
    assert validate_summary(summary) == [] and summary["result"]["verdict"] in ("PASS", "PASS WITH GAPS")
    assert (outputs[0] / "junit.xml").exists() and (outputs[0] / "summary.md").exists()
    assert installed.package_files() == before, "the run wrote into the installation"


def test_report_finds_allure_on_path_and_says_so_without_node(installed: Installed, tmp_path: Path) -> None:
    run = _run(installed, tmp_path, "run", "--role", "wfm", "--sut", "builtin", "-k", "Certificate",
               "--output", "out")
    assert run.returncode == 0, run.stdout[-2000:]
    no_node = _run(installed, tmp_path, "report", "out", env=_env(PATH=str(installed.venv / "bin")))
    assert no_node.returncode == 2
    lines = [line for line in no_node.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Node.js" in lines[0]
    assert (tmp_path / "out" / "summary.md").exists()
    node_bin = CHECKOUT / "node_modules" / ".bin"
    if not (node_bin / "allure").exists() or shutil.which("node") is None:
        pytest.skip("the pinned Allure CLI is not installed in the checkout (make setup-node)")
    path = f"{node_bin}{os.pathsep}{Path(shutil.which('node')).parent}{os.pathsep}/usr/bin:/bin"
    built = _run(installed, tmp_path, "report", "out", env=_env(PATH=path))
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / "allure-report" / "index.html").exists()
