"""``margo-conformance load``: the fleet load mode on Locust (the work is in ``load/run.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def app(
    sut: str = typer.Option("builtin", "--sut", help="'builtin' (the reference WFM, started for the run) or a SUT "
                            "TOML file of role wfm"),
    devices: int = typer.Option(50, "--devices", help="simulated devices in the fleet (identities minted up front)"),
    spawn_rate: float = typer.Option(10.0, "--spawn-rate", help="devices started per second"),
    duration: float = typer.Option(60.0, "--duration", help="the run ends after this many seconds at the latest"),
    report_every: float = typer.Option(1.0, "--report-every", help="seconds between a device's capability PUTs"),
    reports: int = typer.Option(5, "--reports", help="capability PUTs per device before its DELETE"),
    processes: int = typer.Option(1, "--processes", help="load processes on this machine (K > 1: a master and K "
                                  "workers on loopback)"),
    master: bool = typer.Option(False, "--master", help="be the master of workers started elsewhere"),
    worker: bool = typer.Option(False, "--worker", help="be a worker of the master at --master-host"),
    master_host: str = typer.Option("127.0.0.1", "--master-host", help="--worker: the master's address; --master: "
                                    "the address to listen on"),
    master_port: int = typer.Option(5557, "--master-port", help="the master's port"),
    expect_workers: int = typer.Option(1, "--expect-workers", help="--master: start once this many workers connected"),
    output: Optional[Path] = typer.Option(None, "--output", help="output directory (default reports/<time>-load/)"),
    max_violation_rate: float = typer.Option(0.0, "--max-violation-rate", help="share of answers that may violate "
                                             "the profile before the run fails (default 0)"),
    fault_share: float = typer.Option(0.05, "--fault-share", help="extra PUTs that must be refused (wrong-key "
                                      "signatures; under mutual TLS, clients of another trust domain or without a "
                                      "certificate), as a share of the reports"),
    defect: list[str] = typer.Option([], "--defect", help="with --sut builtin: run the reference WFM with this defect"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress line and no console summary"),
    profile: Optional[str] = typer.Option(None, "--profile", help="spec profile (default: the SUT file's "
                                          "sut.profile; with --sut builtin the default profile); its authenticator "
                                          "picks the fleet: signed-request devices or SVID clients in mutual TLS"),
) -> None:
    """Load a WFM with a fleet of simulated devices and judge every answer under load.

    Exit codes: 0 the violation rate is within --max-violation-rate · 1 it is above (or no device onboarded)
    · 2 usage error · 3 the WFM cannot be reached (the same pre-flight as 'run').
    """
    from ..load.run import LoadOptions, run_load

    code = run_load(LoadOptions(sut=sut, devices=devices, spawn_rate=spawn_rate, duration_s=duration,
                                report_every_s=report_every, reports=reports, processes=processes, master=master,
                                worker=worker, master_host=master_host, master_port=master_port,
                                expect_workers=expect_workers, output=output, max_violation_rate=max_violation_rate,
                                fault_share=fault_share, defects=list(defect), quiet=quiet,
                                profile=profile))
    raise typer.Exit(code)
