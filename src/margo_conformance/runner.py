"""``margo-conformance run``: certify one SUT with the Gherkin suite of its role.

The run is pytest-bdd underneath (``steps/<role>/`` binds ``features/<role>/``) with our plugin loaded;
this module only validates the options, checks that a vendor SUT is reachable at all, assembles the
pytest arguments and turns the written ``summary.json`` into the exit code of DESIGN.md section 5:
0 every MUST scenario passed, 1 a MUST failed (or a scenario broke), 2 usage or configuration error,
3 the SUT could not be reached at all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from . import DEFAULT_PROFILE, preflight
from .defects import defects_for, of_profile
from .profiles import check_profile_name
from .errors import ConfigError
from .resources import PROJECT_ROOT, STEPS_DIR
from .sut import SutConfig, builtin_sut, load_sut
from .sut.device import LAUNCHED_DIR_ENV, stop_left_behind

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
    #: pytest's own output and full tracebacks (for debugging the harness, not for reading a verdict).
    debug: bool = False
    extra_pytest_args: list[str] = field(default_factory=list)
    #: Who runs the certification (reports and the certification record).
    lab: str | None = None
    engineer: str | None = None
    #: The lab's PEM key and X.509 certificate that sign the record (both or neither); without them it is unsigned.
    sign_key: Path | None = None
    sign_cert: Path | None = None
    #: Device role: launches side by side (None: the cores; 1: one at a time).
    jobs: int | None = None


def resolve_sut(opts: RunOptions) -> SutConfig:
    """Validate --role/--sut/--defect together; every problem is a ConfigError (exit 2)."""
    if opts.role not in ("wfm", "device"):
        raise ConfigError(f"--role must be 'wfm' or 'device', not {opts.role!r}")
    if opts.profile is not None:
        check_profile_name(opts.profile)  # UnknownProfile: one line naming the known profiles (exit 2)
    if opts.sut == "builtin":
        profile = opts.profile or DEFAULT_PROFILE
        known = {d.name for d in of_profile(defects_for(opts.role), profile)}  # type: ignore[arg-type]
        unknown = [d for d in opts.defects if d not in known]
        if unknown:
            raise ConfigError(
                f"--defect: unknown {opts.role} defect {', '.join(unknown)} of profile {profile}; "
                f"see 'margo-conformance defects --role {opts.role} --profile {profile}'"
            )
        sut = builtin_sut(opts.role, defects=tuple(opts.defects), profile=profile)
    else:
        if opts.defects:
            raise ConfigError("--defect applies only to --sut builtin (the reference implementations)")
        sut = load_sut(opts.sut)
        if sut.role != opts.role:
            raise ConfigError(f"--role {opts.role} but the SUT file says sut.role = {sut.role!r}")
    if opts.profile and opts.profile != sut.profile and not sut.builtin:
        raise ConfigError(f"--profile {opts.profile} but the SUT file says sut.profile = {sut.profile!r}")
    if opts.tags:
        check_tag_expression(opts.tags)
    if opts.jobs is not None and opts.jobs < 1:
        raise ConfigError(f"--jobs must be 1 or more, not {opts.jobs}")
    return sut


def check_tag_expression(expression: str) -> None:
    """A malformed --tags expression is a usage error (exit 2), found before anything starts."""
    from _pytest.mark.expression import Expression  # pytest's own parser of -m, so we judge exactly as it will

    try:
        Expression.compile(expression)
    except SyntaxError as exc:
        raise ConfigError(f"--tags: not a valid selection expression: {expression!r} ({exc.msg}, column "
                          f"{exc.offset}); e.g. 'req_SIG_11 or level_MUST'") from None


def default_output(role: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / "reports" / f"{stamp}-{role}"


def pytest_args(opts: RunOptions, output: Path) -> list[str]:
    args = [
        str(STEPS_DIR / opts.role),
        "--rootdir", str(PROJECT_ROOT),
        "-c", str(STEPS_DIR / "pytest.ini"),
        "-p", "margo_conformance.pytest_plugin",
        "-p", "no:cacheprovider",
        # Steps judge through the Judge, never a bare assert: pytest's assertion rewriting of every plugin module
        # (uncached, with PYTHONDONTWRITEBYTECODE) was the largest part of a run's start-up.
        "--assert=plain",
        "-p", "no:locust",  # Locust's pytest plugin is for locustfiles; the suites never load gevent
        # Plugins of the test tools installed beside the harness, which a conformance run never uses (their imports
        # cost most of a second at every run's start).
        "-p", "no:faker", "-p", "no:anyio", "-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:xdist.looponfail",
        # pytest's report of exceptions raised in __del__: it runs gc.collect() several times at the end, 0.4 s of
        # every run, for warnings a conformance run never shows.
        "-p", "no:unraisableexception",
        "--margo-role", opts.role,
        "--margo-sut", opts.sut if opts.sut == "builtin" else str(Path(opts.sut).resolve()),
        "--margo-output", str(output),
        "--alluredir", str(output / "allure-results"),
        "--junitxml", str(output / "junit.xml"),
        "-o", "junit_suite_name=margo-conformance-" + opts.role,
        "--margo-console", "pytest" if opts.debug else ("lines" if opts.verbose else "progress"),
    ]
    for defect in opts.defects:
        args += ["--margo-defect", defect]
    for option, value in (("--margo-lab", opts.lab), ("--margo-engineer", opts.engineer)):
        if value:
            args += [option, value]
    if opts.profile:
        args += ["--margo-profile", opts.profile]
    if opts.jobs is not None:
        args += ["--margo-jobs", str(opts.jobs)]
    if opts.strict:
        args.append("--margo-strict")
    if opts.keyword:
        args += ["-k", opts.keyword]
    if opts.tags:
        args += ["-m", opts.tags]
    if opts.debug:
        args += ["-v", "--tb=long", "-rfE"]
    else:
        # A person reads our lines and the summary block; harness tracebacks only with -v (short) or --debug.
        args += ["-q", "--no-header", "-rN", "--disable-warnings", "--show-capture=no",
                 "--tb=short" if opts.verbose else "--tb=no"]
    return args + opts.extra_pytest_args


def run(opts: RunOptions) -> int:
    try:
        sut = resolve_sut(opts)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        signing = _signing_identity(opts)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problem = preflight.check(sut)
    if problem is not None:
        print(problem.message if problem.exit_code == EXIT_UNREACHABLE else f"error: {problem.message}",
              file=sys.stderr)
        return problem.exit_code
    output = (opts.output or default_output(opts.role)).resolve()
    output.mkdir(parents=True, exist_ok=True)
    summary_file = output / "summary.json"
    # One run per output directory: results of an earlier run would be counted again (Allure, JUnit).
    for stale in ("allure-results", "allure-report", "evidence"):
        shutil.rmtree(output / stale, ignore_errors=True)
    for stale_file in ("summary.json", "summary.md", "junit.xml", "requirements.html", "allurerc.json",
                       "record.json", "record.dsse.json"):
        (output / stale_file).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", *pytest_args(opts, output)]
    if signing is not None:
        cmd += ["--margo-signer", signing.describe()]
    # Everything a run puts in the temp folder (CAs, device state dirs, the builtin WFM's data) lives in one
    # directory of its own, removed at the end whatever happened.
    run_tmp = Path(tempfile.mkdtemp(prefix="margo-run-"))
    try:
        returncode = _run_pytest(cmd, env=suite_env(run_tmp))
    finally:
        _stop_left_behind(run_tmp)
        shutil.rmtree(run_tmp, ignore_errors=True)
    if returncode == 4:
        print("error: pytest refused the options (see above)", file=sys.stderr)
        return EXIT_USAGE
    if returncode == 3:  # pytest's INTERNALERROR: our bug, never a verdict
        print("error: the harness failed internally (see the INTERNALERROR above); please report it", file=sys.stderr)
        return EXIT_FAIL
    if not summary_file.exists():
        print(f"error: the run stopped before writing {summary_file} (pytest exit {returncode})", file=sys.stderr)
        return EXIT_FAIL
    summary = json.loads(summary_file.read_text())
    if returncode == 5 or summary["result"]["verdict"] == "NO SCENARIOS":
        print(f"error: {summary['result']['headline']}", file=sys.stderr)
        return EXIT_USAGE
    try:
        _write_record(output, signing)
    except (OSError, ValueError) as exc:
        print(f"error: the certification record could not be written: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return int(summary["result"]["exit_code"])


def _signing_identity(opts: RunOptions) -> object | None:
    """The lab's signing key and certificate (both or neither), read before the run so a bad file is exit 2;
    --lab and --engineer are checked here too (one line of printable text: they are quoted in the record)."""
    for option, value in (("--lab", opts.lab), ("--engineer", opts.engineer)):
        if value is not None and (not value.strip() or len(value) > 200 or not value.isprintable()):
            raise ConfigError(f"{option}: must be one line of printable text, 1 to 200 characters (got {value!r:.60})")
    if (opts.sign_key is None) != (opts.sign_cert is None):
        raise ConfigError("--sign-key and --sign-cert go together (the lab's key and its X.509 certificate)")
    if opts.sign_key is None or opts.sign_cert is None:
        return None
    from .record.manifest import load_signing_identity

    return load_signing_identity(opts.sign_key, opts.sign_cert)


def _write_record(output: Path, signing: object | None) -> None:
    """The certification record (record.json, record.dsse.json) over every file the run wrote: docs/RECORD.md."""
    from .record.manifest import write_record

    record, envelope = write_record(output, signing)  # type: ignore[arg-type]
    if signing is not None:
        print(f"Record: {envelope} signed by {signing.describe()}")  # type: ignore[attr-defined]
    else:
        print(f"Record: {envelope} UNSIGNED (give --sign-key and --sign-cert to sign it)")


def _stop_left_behind(run_tmp: Path) -> None:
    """A suite stopped normally has stopped its devices; one that was killed outright (a second Ctrl-C, or no
    orderly stop within STOP_GRACE_S) cannot have: their process groups are noted under the run's temp folder."""
    count = stop_left_behind(run_tmp / "launched")
    if count:
        print(f"Stopped {count} device process(es) the suite left running.", file=sys.stderr)


def pycache_dir() -> Path:
    """Where the processes of a run keep Python's bytecode: the user's cache, never the installation."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "margo-conformance" / "pycache"


def suite_env(run_tmp: Path) -> dict[str, str]:
    """The environment of the suite's pytest and of every process it starts (a launched device too).

    Bytecode goes to ``pycache_dir()`` (PYTHONPYCACHEPREFIX), so an installed harness still writes nothing into
    its installation, yet no process compiles the harness again, nor does pytest assertion-rewrite the step
    modules again, even where PYTHONDONTWRITEBYTECODE is set (a device launch of the builtin reference paid about
    half a second for that)."""
    env = {**os.environ, "TMPDIR": str(run_tmp), LAUNCHED_DIR_ENV: str(run_tmp / "launched")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache_dir())
    return env


#: After a forwarded stop signal, how long the suite gets to stop the device and write its summaries.
STOP_GRACE_S = 30.0


def _run_pytest(cmd: list[str], env: dict[str, str]) -> int:
    """Run the suite in its own process group, so that Ctrl-C reaches it once, through us: SIGINT and SIGTERM
    are forwarded (the plugin turns SIGTERM into an orderly stop that still writes the summaries); a second
    signal, or a suite that does not stop within STOP_GRACE_S, ends it hard."""
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True)
    received: list[float] = []  # when each stop signal arrived

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(time.monotonic())
        _signal(proc, signal.SIGKILL if len(received) > 1 else signal.Signals(signum))

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if received and time.monotonic() - received[0] > STOP_GRACE_S:
                    _signal(proc, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
