"""The ``margo-conformance`` command: one sub-command group per job, each defined in its own module.

Exit codes (DESIGN.md section 5): 0 all MUST checks passed / valid, 1 a MUST failed / invalid,
2 usage or configuration error, 3 the SUT could not be reached.
"""

from __future__ import annotations

import importlib

import typer

from . import __version__

app = typer.Typer(
    name="margo-conformance",
    help="Conformance test harness for Margo Device Client Onboarding.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: (sub-command, module that defines ``app``); each module owns its command group.
_SUBCOMMANDS: list[tuple[str, str]] = [
    ("httpsig", "margo_conformance.httpsig.cli"),
    ("requirements", "margo_conformance.requirements_cli"),
    ("defects", "margo_conformance.defects"),
    ("run", "margo_conformance.run_cli"),
    ("report", "margo_conformance.report_cli"),
    ("device", "margo_conformance.device.cli"),
    ("wfm", "margo_conformance.wfm.cli"),
]


def _register() -> None:
    for name, module_name in _SUBCOMMANDS:
        module = importlib.import_module(module_name)
        sub = getattr(module, "app")
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        else:  # a plain function: a single command
            app.command(name=name)(sub)


@app.command()
def version() -> None:
    """Print the harness version."""
    typer.echo(__version__)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
