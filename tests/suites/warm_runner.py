"""A warm process that runs ``margo-conformance run`` command lines for the suite self-tests.

The self-tests run the suites about 150 times (the kill matrices). Each cold run starts two interpreters (the
CLI, then the suite's pytest) that import the same libraries again: about 1 s of CPU before the first scenario.
This process imports them once, then forks one child per run. The child is the real command: it parses the
argv with the CLI (``margo_conformance.cli.main``), runs ``runner.run`` (preflight, output directory, record),
and only the last step differs: the suite's pytest runs in the child itself (``pytest.main`` with the argv and
environment the runner built) instead of in a new interpreter. The end-to-end tests that must see the command
exactly as a user does (``test_sut_paths``, the README walkthrough, the installed wheel) start it cold.

Protocol: one JSON object per line on stdin, ``{"argv", "env", "cwd", "log", "timeout_s"}``; one per line on
stdout, ``{"exit_code", "timed_out"}``. The child's stdout and stderr go to ``log``. EOF on stdin ends the process.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time

#: Imported before the first fork: what every suite run imports (the CLI, pytest and its plugins, both roles'
#: steps' libraries). Anything missing is simply imported by the child.
PRELOAD = (
    "margo_conformance.cli", "margo_conformance.cli.run", "margo_conformance.runner", "pytest", "pytest_bdd",
    "allure_pytest_bdd", "allure_commons", "margo_conformance.pytest_plugin", "margo_conformance.wfm.server",
    "margo_conformance.wfm.simulated", "margo_conformance.wfm.miaf.simulated", "margo_conformance.sut.device",
    "margo_conformance.sut.wfm", "margo_conformance.sut.miaf_wfm", "margo_conformance.checks.wfm",
    "margo_conformance.checks.device", "margo_conformance.checks.miaf_wfm", "margo_conformance.checks.miaf_device",
    "margo_conformance.device.simulated", "margo_conformance.record.manifest", "httpx", "jsonschema", "uvicorn",
)

#: Exit code reported for a run that outlived its timeout (the child's whole process group is killed).
TIMED_OUT = -9


def _pytest_in_process(cmd: list[str], env: dict[str, str]) -> int:
    """``runner._run_pytest`` in the child: the same argv and environment, without a new interpreter."""
    import tempfile

    import pytest

    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # TMPDIR is the run's own directory now
    args = cmd[cmd.index("pytest") + 1:]
    return int(pytest.main(args))


def _child(request: dict) -> None:
    """In the forked child: become the command, never return."""
    code = 70  # EX_SOFTWARE, if anything below raises
    try:
        os.setsid()  # its own process group: a timeout kills the run and every device it launched
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the request pipe
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(request["cwd"])
        sys.path[0] = request["cwd"]  # as ``python -m margo_conformance`` started there
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from margo_conformance import cli, runner

        runner._run_pytest = _pytest_in_process  # type: ignore[assignment]
        sys.argv = ["margo-conformance", *request["argv"]]
        try:
            cli.main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - reported in the log, the exit code says it failed
        print(f"warm runner: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"exit_code": os.waitstatus_to_exitcode(status), "timed_out": False}
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return {"exit_code": TIMED_OUT, "timed_out": True}
        time.sleep(0.02)


def main() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        out.write(json.dumps(_wait(pid, float(request["timeout_s"]))) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
