"""The ``run`` command: options in, exit code out (the work is in ``runner``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..runner import RunOptions, run


def app(
    role: str = typer.Option(..., "--role", help="wfm: certify a WFM (the harness plays the device); "
                             "device: certify a device client (the harness plays the WFM)"),
    sut: str = typer.Option("builtin", "--sut", help="'builtin' (the reference implementation) or a SUT TOML file"),
    profile: Optional[str] = typer.Option(None, "--profile", help="spec profile (default: the SUT file's sut.profile; "
                                          "with --sut builtin the default profile); 'margo-conformance requirements "
                                          "--profiles' lists them"),
    defect: list[str] = typer.Option([], "--defect", help="with --sut builtin: run the reference with this defect"),
    keyword: Optional[str] = typer.Option(None, "-k", help="select scenarios by name (pytest -k expression)"),
    tags: Optional[str] = typer.Option(None, "--tags", help="select scenarios by tag (pytest -m expression, "
                                       "e.g. 'req_SIG_11 or level_MUST')"),
    output: Optional[Path] = typer.Option(None, "--output", help="output directory (default reports/<time>-<role>/)"),
    strict: bool = typer.Option(False, "--strict", help="SHOULD failures fail the run"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="one line per scenario (requirement IDs, verdict, "
                                 "why), and short tracebacks of scenarios that broke"),
    debug: bool = typer.Option(False, "--debug", help="pytest's own output with full tracebacks (harness debugging)"),
    lab: Optional[str] = typer.Option(None, "--lab", help="the lab that runs the certification (reports, record)"),
    engineer: Optional[str] = typer.Option(None, "--engineer", help="who runs it (reports, record)"),
    sign_key: Optional[Path] = typer.Option(None, "--sign-key", help="the lab's PEM private key (EC P-256/P-384, "
                                            "RSA, Ed25519) that signs the certification record"),
    sign_cert: Optional[Path] = typer.Option(None, "--sign-cert", help="the lab's X.509 certificate (PEM, leaf first) "
                                             "for --sign-key; it goes into the record, the key never does"),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="device role: launches of the device side by side "
                                       "(default: the cores); 1 for a device that cannot run twice on one machine "
                                       "(or [device] parallel = false in the SUT file)"),
) -> None:
    """Certify a SUT: run the role's Gherkin suite, write summary.md, summary.json, junit.xml and allure-results/.

    Exit codes: 0 every MUST the run judged passed (PASS; PASS WITH GAPS when MUST rows went untested;
    PARTIAL for a -k/--tags selection) · 1 a MUST failed, a scenario could not be judged, the run was
    interrupted, or the harness failed (HARNESS ERROR) · 2 usage or configuration error, or nothing matched the selection · 3 the SUT cannot be
    reached or used (pre-flight), or it stopped answering during the run.
    """
    code = run(RunOptions(role=role, sut=sut, profile=profile, defects=list(defect), keyword=keyword,
                          tags=tags, output=output, strict=strict, verbose=verbose, debug=debug, lab=lab,
                          engineer=engineer, sign_key=sign_key, sign_cert=sign_cert, jobs=jobs))
    raise typer.Exit(code)
