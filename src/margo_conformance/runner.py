"""``margo-conformance run``: certify one SUT with the Gherkin suite of its role.

The run is pytest-bdd underneath (``steps/<role>/`` binds ``features/<role>/``) with our plugin loaded;
this module only validates the options, checks that a vendor SUT is reachable at all, assembles the
pytest arguments and turns the written ``summary.json`` into the exit code of DESIGN.md section 5:
0 every MUST scenario passed, 1 a MUST failed (or a scenario broke), 2 usage or configuration error,
3 the SUT could not be reached at all.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .defects import defects_for
from .errors import ConfigError
from .resources import PROJECT_ROOT, STEPS_DIR
from .sut import SutConfig, builtin_sut, load_sut

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


@dataclass
class RunOptions:
    role: str
    sut: str = "builtin"
    profile: str | None = None
    defects: list[str] = field(default_factory=list)
    keyword: str | None = None
    tags: str | None = None
    output: Path | None = None
    strict: bool = False
    verbose: bool = False
    extra_pytest_args: list[str] = field(default_factory=list)


def resolve_sut(opts: RunOptions) -> SutConfig:
    """Validate --role/--sut/--defect together; every problem is a ConfigError (exit 2)."""
    if opts.role not in ("wfm", "device"):
        raise ConfigError(f"--role must be 'wfm' or 'device', not {opts.role!r}")
    if opts.sut == "builtin":
        known = {d.name for d in defects_for(opts.role)}  # type: ignore[arg-type]
        unknown = [d for d in opts.defects if d not in known]
        if unknown:
            raise ConfigError(
                f"--defect: unknown {opts.role} defect {', '.join(unknown)}; "
                f"see 'margo-conformance defects --role {opts.role}'"
            )
        sut = builtin_sut(opts.role, defects=tuple(opts.defects))
    else:
        if opts.defects:
            raise ConfigError("--defect applies only to --sut builtin (the reference implementations)")
        sut = load_sut(opts.sut)
        if sut.role != opts.role:
            raise ConfigError(f"--role {opts.role} but the SUT file says sut.role = {sut.role!r}")
    if opts.profile and opts.profile != sut.profile and not sut.builtin:
        raise ConfigError(f"--profile {opts.profile} but the SUT file says sut.profile = {sut.profile!r}")
    return sut


def probe_wfm(base_url: str, timeout_s: float) -> str | None:
    """None when something accepts TCP connections at the WFM's address, else one line saying why not."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 443
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"SUT unreachable: no answer from {host}:{port} within {timeout_s:g} s"
    except OSError as exc:
        return f"SUT unreachable: cannot connect to {host}:{port} ({exc.strerror or exc})"


def default_output(role: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return PROJECT_ROOT / "reports" / f"{stamp}-{role}"


def pytest_args(opts: RunOptions, output: Path) -> list[str]:
    args = [
        str(STEPS_DIR / opts.role),
        "--rootdir", str(PROJECT_ROOT),
        "-c", str(STEPS_DIR / "pytest.ini"),
        "-p", "margo_conformance.pytest_plugin",
        "-p", "no:cacheprovider",
        "--margo-role", opts.role,
        "--margo-sut", opts.sut,
        "--margo-output", str(output),
        "--alluredir", str(output / "allure-results"),
        "--junitxml", str(output / "junit.xml"),
        "-o", "junit_suite_name=margo-conformance-" + opts.role,
    ]
    for defect in opts.defects:
        args += ["--margo-defect", defect]
    if opts.profile:
        args += ["--margo-profile", opts.profile]
    if opts.strict:
        args.append("--margo-strict")
    if opts.keyword:
        args += ["-k", opts.keyword]
    if opts.tags:
        args += ["-m", opts.tags]
    args.append("-v" if opts.verbose else "-q")
    return args + opts.extra_pytest_args


def run(opts: RunOptions) -> int:
    try:
        sut = resolve_sut(opts)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if sut.role == "wfm" and sut.wfm is not None:
        problem = probe_wfm(sut.wfm.base_url, min(sut.wfm.request_timeout_s, 10.0))
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_UNREACHABLE
    output = (opts.output or default_output(opts.role)).resolve()
    output.mkdir(parents=True, exist_ok=True)
    summary_file = output / "summary.json"
    # One run per output directory: results of an earlier run would be counted again (Allure, JUnit).
    for stale in ("allure-results", "allure-report"):
        shutil.rmtree(output / stale, ignore_errors=True)
    for stale_file in ("summary.json", "summary.md", "junit.xml", "requirements.html", "allurerc.json"):
        (output / stale_file).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *pytest_args(opts, output)]
    completed = subprocess.run(cmd, cwd=PROJECT_ROOT, check=False)
    if completed.returncode == 5 or not summary_file.exists():
        if completed.returncode == 5:
            print("error: no scenario matched the selection (-k / --tags)", file=sys.stderr)
        else:
            print(f"error: the run stopped before writing {summary_file} (pytest exit {completed.returncode})",
                  file=sys.stderr)
        return EXIT_USAGE
    summary = json.loads(summary_file.read_text())
    return int(summary["result"]["exit_code"])
