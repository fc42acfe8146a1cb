"""``margo-conformance load``: start the WFM (builtin) or check it (pre-flight), run the fleet on Locust, judge.

Modes, as Locust has them:

- local, ``--processes 1``: one process runs every user (LocalRunner);
- local, ``--processes K``: this process is the master and starts K worker processes on loopback;
- ``--master``: this process is the master and waits for ``--expect-workers`` workers started elsewhere
  (``margo-conformance load --worker --master-host H --sut FILE`` on each machine);
- ``--worker``: connect to a master, run the users it assigns, report the tally, exit when it quits.

The master merges the workers' tallies (Locust's ``report_to_master`` / ``worker_report`` events) with its
statistics and writes one summary. The run ends at ``--duration`` or when every device is done, whichever is
first. Exit codes: 0 the violation rate is within ``--max-violation-rate``, 1 it is not (or nothing was
measured), 2 usage error, 3 the WFM cannot be reached (pre-flight, same checks as ``run``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import serialization

import gevent
from locust.env import Environment
from locust.stats import stats_history

from .. import preflight
from ..errors import ConfigError, HarnessError
from ..sut import SutConfig, load_sut
from .classify import ROUTES, Tally
from .fleet import DeviceUser, FleetSettings, configure

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
#: How long the master waits for its workers to connect.
WORKER_WAIT_S = 60.0
#: How often the progress line and the time series are sampled.
SAMPLE_EVERY_S = 1.0
DEFAULT_MASTER_PORT = 5557


@dataclass
class LoadOptions:
    sut: str = "builtin"
    devices: int = 50
    spawn_rate: float = 10.0
    duration_s: float = 60.0
    report_every_s: float = 1.0
    reports: int = 5
    processes: int = 1
    master: bool = False
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    expect_workers: int = 1
    output: Path | None = None
    max_violation_rate: float = 0.0
    fault_share: float = 0.05
    defects: list[str] = field(default_factory=list)
    quiet: bool = False
    #: The spec profile (None: the SUT file's sut.profile; the default profile for --sut builtin).
    profile: str | None = None
    #: The profile's authenticator kind, set once the profile is known: it picks the fleet (signed-request
    #: devices for "httpsig", SVID clients in mutual TLS for "mtls-svid"), never the profile's name.
    authenticator: str = "httpsig"

    def validate(self) -> None:
        if self.profile is not None:
            from ..profiles import check_profile_name

            check_profile_name(self.profile)  # one line naming the known profiles (exit 2)
        if self.master and self.worker:
            raise ConfigError("--master and --worker exclude each other")
        for name, value in (("--devices", self.devices), ("--processes", self.processes),
                            ("--expect-workers", self.expect_workers), ("--reports", self.reports)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        for name, fvalue in (("--spawn-rate", self.spawn_rate), ("--duration", self.duration_s),
                             ("--report-every", self.report_every_s)):
            if fvalue <= 0:
                raise ConfigError(f"{name} must be greater than 0, got {fvalue:g}")
        if not 0 <= self.max_violation_rate <= 1 or not 0 <= self.fault_share <= 1:
            raise ConfigError("--max-violation-rate and --fault-share are shares between 0 and 1")
        if self.worker and self.sut == "builtin":
            raise ConfigError("--worker needs --sut FILE: the WFM the master's fleet loads (a builtin WFM runs "
                              "where the master is)")
        if self.defects and self.sut != "builtin":
            raise ConfigError("--defect applies only to --sut builtin (the reference WFM)")
        if (self.master or self.worker) and self.processes != 1:
            raise ConfigError("--processes starts local workers; with --master or --worker, start each worker "
                              "yourself")


#: The authenticator kinds a load fleet exists for.
FLEET_KINDS = ("httpsig", "mtls-svid")


def _check_profile(opts: LoadOptions, sut_profile: str, *, builtin: bool) -> Any:
    """--profile must agree with a vendor's SUT file, and the fleet must speak the profile's authenticator;
    sets ``opts.authenticator`` and returns the profile."""
    from .. import DEFAULT_PROFILE
    from ..profiles import load_profile

    if opts.profile and not builtin and opts.profile != sut_profile:
        raise ConfigError(f"--profile {opts.profile} but the SUT file says sut.profile = {sut_profile!r}")
    profile = load_profile(opts.profile or (DEFAULT_PROFILE if builtin else sut_profile))
    if profile.authenticator not in FLEET_KINDS:  # picked by authenticator kind, never by profile name
        raise ConfigError(f"load: profile {profile.name}: no load fleet for authenticator "
                          f"{profile.authenticator!r} yet")
    opts.authenticator = profile.authenticator
    return profile


def _check_one_trust_domain(opts: LoadOptions, sut: SutConfig) -> None:
    """With operator hooks the harness is the MIS and each load process would mint (and install) a trust domain
    of its own, replacing the others' bundle and WFM SVID; only a vendor's signing CA ([identity]) is shared."""
    if opts.authenticator == "mtls-svid" and sut.identity is None and (opts.processes > 1 or opts.master or opts.worker):
        raise ConfigError("a load spread over several processes needs [identity] ca_cert/ca_key in the SUT file (one "
                          "signing CA for every process); with operator hooks, run one process (--processes 1)")


# --- the WFM under load ---------------------------------------------------------------------------------


class _ServedWfm:
    """A reference WFM served by ``margo-conformance wfm serve`` in a process of its own, for the fleet to load."""

    proc: subprocess.Popen[bytes]
    log: IO[bytes]

    def _spawn(self, argv: list[str], work: Path, *, ready: Callable[[], bool]) -> None:
        """Start ``argv`` and wait (30 s at most) until ``ready()``; a process that exits or never gets ready is a
        HarnessError naming its log."""
        self.log = open(work / "wfm.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HarnessError(f"the builtin reference WFM did not start (see {work / 'wfm.log'})")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class BuiltinWfm(_ServedWfm):
    """The reference WFM as its own process (never in-process: gevent patches threads and sockets here)."""

    def __init__(self, defects: list[str], work: Path) -> None:
        from ..defects import defects_for

        known = {d.name for d in defects_for("wfm")}
        unknown = [d for d in defects if d not in known]
        if unknown:
            raise ConfigError(f"--defect: unknown wfm defect {', '.join(unknown)}; see 'margo-conformance defects "
                              "--role wfm'")
        self.data = work / "wfm-data"
        self.port = _free_port()
        argv = [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--host", "127.0.0.1", "--port",
                str(self.port), "--data-dir", str(self.data), "--trust", "auto"]
        for defect in defects:
            argv += ["--defect", defect]
        self._spawn(argv, work, ready=lambda: (self.data / "admin.json").exists())
        self.sut_file = work / "builtin-wfm.toml"
        self.sut_file.write_text(
            f'[sut]\nrole = "wfm"\nname = "margo-conformance reference WFM'
            f'{" (defects: " + ", ".join(defects) + ")" if defects else ""}"\n\n'
            f'[wfm]\nbase_url = "https://127.0.0.1:{self.port}"\nca = "{self.data / "ca.pem"}"\n'
            f'server_name = "localhost"\nrequest_timeout_s = 10\n')



class BuiltinMiafWfm(_ServedWfm):
    """The reference WFM of a mutual-TLS profile as its own process, set up like a vendor's with ``[identity]``:
    a signing CA made here issues its SVID and every fleet client, and its policy accepts the whole client
    namespace of the trust domain (Q-65), so hundreds of clients need no operator call each."""

    def __init__(self, defects: list[str], work: Path, profile: str) -> None:
        from ..defects import defects_for, of_profile
        from ..pki import TestCA
        from ..pki.spiffe import DEFAULT_WFM_ID, TRUST_DOMAIN, SpiffeAuthority

        known = {d.name for d in of_profile(defects_for("wfm"), profile)}
        unknown = [d for d in defects if d not in known]
        if unknown:
            raise ConfigError(f"--defect: unknown {profile} wfm defect {', '.join(unknown)}; see 'margo-conformance "
                              f"defects --role wfm --profile {profile}'")
        ident = work / "identity"
        ident.mkdir(mode=0o700)
        ca = TestCA(f"Margo conformance load signing CA {TRUST_DOMAIN}")
        ca_cert, ca_key = ident / "ca.pem", ident / "ca.key"
        ca.write_cert_pem(ca_cert)
        ca_key.touch(mode=0o600)
        ca_key.write_bytes(ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        authority = SpiffeAuthority.from_ca(ca_cert.read_bytes(), ca_key.read_bytes(), TRUST_DOMAIN)
        svid = authority.wfm_svid(DEFAULT_WFM_ID).write(ident, "wfm-svid")
        self.port = _free_port()
        argv = [sys.executable, "-m", "margo_conformance", "wfm", "serve", "--profile", profile, "--host",
                "127.0.0.1", "--port", str(self.port), "--data-dir", str(work / "wfm-data"), "--svid-cert",
                str(svid.cert), "--svid-key", str(svid.key), "--trust-bundle", str(ca_cert), "--policy-mode",
                "namespace"]
        for defect in defects:
            argv += ["--defect", defect]
        self._spawn(argv, work, ready=lambda: _listening(self.port))
        self.sut_file = work / "builtin-wfm.toml"
        self.sut_file.write_text(
            f'[sut]\nrole = "wfm"\nprofile = "{profile}"\nname = "margo-conformance reference WFM ({profile})'
            f'{" (defects: " + ", ".join(defects) + ")" if defects else ""}"\n\n'
            f'[wfm]\nbase_url = "https://127.0.0.1:{self.port}"\nwfm_id = "{DEFAULT_WFM_ID}"\n'
            f'trust_domain = "{TRUST_DOMAIN}"\npolicy_mode = "namespace"\nrequest_timeout_s = 10\n\n'
            f'[identity]\nca_cert = "{ca_cert}"\nca_key = "{ca_key}"\n')



def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_settings(sut: SutConfig, opts: LoadOptions) -> tuple[FleetSettings, Any]:
    """Where the fleet connects and with which trust: the configured root CA, or the downloaded one."""
    from ..sut.wfm import open_wfm_under_test

    assert sut.wfm is not None
    target = open_wfm_under_test(sut)  # a SUT file (builtin runs as a process with its own file)
    settings = FleetSettings(base_url=target.base_url, ssl_context=target.client_context(),
                             timeout_s=target.timeout_s, server_name=target.tls_name, reports=opts.reports, report_every_s=opts.report_every_s,
                             fault_share=opts.fault_share)
    return settings, target


def _configure_fleet(sut: SutConfig, opts: LoadOptions, work: Path, devices: int) -> tuple[Any, type]:
    """This process's fleet and its Locust user class, by the profile's authenticator kind."""
    if opts.authenticator == "mtls-svid":
        from ..sut.miaf_wfm import open_miaf_wfm_under_test
        from .svid_fleet import SvidClientUser, SvidFleetSettings, configure_svid

        target = open_miaf_wfm_under_test(sut)  # mints from [identity], or installs the bundle through hooks
        settings = SvidFleetSettings(target=target, reports=opts.reports, report_every_s=opts.report_every_s,
                                     fault_share=opts.fault_share)
        return configure_svid(settings, devices), SvidClientUser
    settings, target = fleet_settings(sut, opts)
    fleet = configure(settings, devices)
    _trust_fleet_ca(target, fleet, work)
    return fleet, DeviceUser


def _trust_fleet_ca(target: Any, fleet: Any, work: Path) -> None:
    """An allow-list WFM must know this process's device CA before its devices onboard (CERT-12)."""
    if target.operator.can("trust_issuer"):
        ca_file = work / f"fleet-ca-{id(fleet)}.pem"
        fleet.pool.ca.write_cert_pem(ca_file)
        target.operator.perform("trust_issuer", ca_file=str(ca_file))


# --- running ------------------------------------------------------------------------------------------


def run_load(opts: LoadOptions) -> int:
    try:
        opts.validate()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    work = Path(tempfile.mkdtemp(prefix="margo-load-"))
    builtin: BuiltinWfm | BuiltinMiafWfm | None = None
    try:
        if opts.sut == "builtin":
            profile = _check_profile(opts, "", builtin=True)
            if profile.authenticator == "mtls-svid":
                builtin = BuiltinMiafWfm(opts.defects, work, profile.name)
            else:
                builtin = BuiltinWfm(opts.defects, work)
            sut_path = builtin.sut_file
        else:
            sut_path = Path(opts.sut).resolve()
        sut = load_sut(sut_path)
        if sut.role != "wfm":
            raise ConfigError(f"load certifies a WFM; the SUT file says sut.role = {sut.role!r}")
        if builtin is None:
            _check_profile(opts, sut.profile, builtin=False)
            _check_one_trust_domain(opts, sut)
        problem = preflight.check(sut)
        if problem is not None:
            print(problem.message if problem.exit_code == EXIT_UNREACHABLE else f"error: {problem.message}",
                  file=sys.stderr)
            return problem.exit_code
        if opts.worker:
            return _run_worker(opts, sut, work)
        return _run_measured(opts, sut, sut_path, work)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        if builtin is not None:
            builtin.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run_worker(opts: LoadOptions, sut: SutConfig, work: Path) -> int:
    fleet, user_class = _configure_fleet(sut, opts, work, opts.devices)  # the master may give any share
    env = Environment(user_classes=[user_class], events=None)
    env.events.report_to_master.add_listener(lambda client_id, data: data.__setitem__("margo", fleet.tally.take()))
    runner = env.create_worker_runner(opts.master_host, opts.master_port)
    runner.greenlet.join()
    return EXIT_PASS


@dataclass
class Sample:
    t_s: float
    rates: dict[str, float]
    p95_ms: dict[str, float | None]
    users: int


def _run_measured(opts: LoadOptions, sut: SutConfig, sut_path: Path, work: Path) -> int:
    from .report import write_outputs

    tally = Tally()
    workers: list[subprocess.Popen[bytes]] = []
    if opts.processes == 1 and not opts.master:
        fleet, user_class = _configure_fleet(sut, opts, work, opts.devices)
        env = Environment(user_classes=[user_class])
        tally = fleet.tally
        runner: Any = env.create_local_runner()
        expected_workers = 0
    else:
        env = Environment(user_classes=[_user_class(opts)])  # the master runs no user; workers use the same class
        bind_host = opts.master_host if opts.master else "127.0.0.1"
        port = opts.master_port if opts.master else _free_port()
        runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=port)
        env.events.worker_report.add_listener(lambda client_id, data: tally.merge(data.get("margo") or {}))
        expected_workers = opts.expect_workers if opts.master else opts.processes
        if not opts.master:
            workers = [_start_worker(opts, sut_path, port, work, n) for n in range(opts.processes)]
        _wait_for_workers(runner, expected_workers, workers, work)
    gevent.spawn(stats_history, runner)
    started = time.time()
    samples: list[Sample] = []
    runner.start(opts.devices, spawn_rate=opts.spawn_rate)
    finished_by = _watch(runner, env, opts, started, samples, tally)
    runner.quit()
    for proc in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    ended = time.time()
    output = (opts.output or Path.cwd() / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-load").resolve()
    summary = write_outputs(output, env=env, sut=sut, opts=opts, tally=tally, samples=samples, started=started,
                            ended=ended, finished_by=finished_by, workers=expected_workers)
    if not opts.quiet:
        for line in summary["console"]:
            print(line)
    return int(summary["result"]["exit_code"])


def _user_class(opts: LoadOptions) -> type:
    if opts.authenticator == "mtls-svid":
        from .svid_fleet import SvidClientUser

        return SvidClientUser
    return DeviceUser


def _start_worker(opts: LoadOptions, sut_path: Path, port: int, work: Path, n: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "margo_conformance", "load", "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(port), "--sut", str(sut_path),
            # the pool a worker mints up front: its even share (Locust spreads users evenly); more are minted on demand
            "--devices", str(-(-opts.devices // opts.processes) + 1),
            "--report-every", str(opts.report_every_s), "--reports", str(opts.reports),
            "--fault-share", str(opts.fault_share)]
    log = open(work / f"worker-{n}.log", "wb")  # noqa: SIM115 (the process owns it until it exits)
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_workers(runner: Any, expected: int, workers: list[subprocess.Popen[bytes]], work: Path) -> None:
    deadline = time.monotonic() + WORKER_WAIT_S
    while len(runner.clients.ready) < expected:
        dead = [n for n, p in enumerate(workers) if p.poll() is not None]
        if dead:
            log = (work / f"worker-{dead[0]}.log").read_text(errors="replace").strip().splitlines()
            raise HarnessError(f"worker {dead[0]} exited before the load started (exit code "
                               f"{workers[dead[0]].returncode}): {log[-1] if log else 'no output'}")
        if time.monotonic() > deadline:
            raise HarnessError(f"only {len(runner.clients.ready)} of {expected} workers connected within "
                               f"{WORKER_WAIT_S:g} s")
        gevent.sleep(0.2)


def _watch(runner: Any, env: Environment, opts: LoadOptions, started: float, samples: list[Sample],
           tally: Tally) -> str:
    """Sample every second, print the progress line, and say why the run ended."""
    spawned = False
    while True:
        gevent.sleep(SAMPLE_EVERY_S)
        elapsed = time.time() - started
        rates = {route: _entry(env, route).current_rps for route in ROUTES}
        p95 = {route: _entry(env, route).get_current_response_time_percentile(0.95) for route in ROUTES}
        users = runner.user_count
        samples.append(Sample(round(elapsed, 1), rates, p95, users))
        spawned = spawned or users >= opts.devices or elapsed > opts.devices / opts.spawn_rate + 2
        if not opts.quiet:
            print(_progress(elapsed, users, rates, p95, env, tally, svid=opts.authenticator == "mtls-svid"),
                  file=sys.stderr, flush=True)
        if elapsed >= opts.duration_s:
            return "duration"
        if spawned and users == 0:
            return "every device done"


def _entry(env: Environment, route: str) -> Any:
    method = {"onboarding POST": "POST", "capabilities PUT": "PUT", "capabilities DELETE": "DELETE"}[route]
    return env.stats.get(route, method)


def _progress(elapsed: float, users: int, rates: dict[str, float], p95: dict[str, float | None],
              env: Environment, tally: Tally, *, svid: bool = False) -> str:
    put_p95 = p95.get("capabilities PUT")
    # an SVID fleet (mutual TLS) has no onboarding: its members are WFM clients
    who = f"clients {users:>5}" if svid else f"devices {users:>5}  onboardings/s {rates['onboarding POST']:7.1f}"
    return (f"t={elapsed:5.1f}s {who}  "
            f"PUTs/s {rates['capabilities PUT']:7.1f}  p95 PUT {put_p95 or 0:5.0f} ms  "
            f"requests {env.stats.total.num_requests}  failures {env.stats.total.num_failures}")
