"""The ``margo-conformance`` command: one sub-command group per job, each defined in its own module.

Exit codes (DESIGN.md section 5): 0 all MUST checks passed / valid, 1 a MUST failed / invalid,
2 usage or configuration error, 3 the SUT could not be reached.
"""

from __future__ import annotations

import importlib
import sys

import typer

from .. import __version__

_app = typer.Typer(
    name="margo-conformance",
    help="Conformance test harness for Margo Device Client Onboarding.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: (sub-command, module that defines ``app``); each module owns its command group.
_SUBCOMMANDS: list[tuple[str, str]] = [
    ("httpsig", "margo_conformance.httpsig.cli"),
    ("requirements", "margo_conformance.cli.requirements"),
    ("defects", "margo_conformance.cli.defects"),
    ("run", "margo_conformance.cli.run"),
    ("report", "margo_conformance.cli.report"),
    ("device", "margo_conformance.device.cli"),
    ("wfm", "margo_conformance.wfm.cli"),
    ("init", "margo_conformance.cli.init"),
    ("load", "margo_conformance.cli.load"),
    ("record", "margo_conformance.cli.record"),
    ("rejudge", "margo_conformance.cli.rejudge"),
    ("pki", "margo_conformance.cli.pki"),
]


_registered: set[str] = set()


def _register(only: str | None = None) -> None:
    """Add the sub-command groups; with ``only``, just that one (a command imports what it needs, no more)."""
    for name, module_name in _SUBCOMMANDS:
        if (only is not None and name != only) or name in _registered:
            continue
        _registered.add(name)
        module = importlib.import_module(module_name)
        sub = getattr(module, "app")
        if isinstance(sub, typer.Typer):
            _app.add_typer(sub, name=name)
        else:  # a plain function: a single command
            _app.command(name=name)(sub)


@_app.command()
def version() -> None:
    """Print the harness version."""
    typer.echo(__version__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"margo-conformance {__version__}")
        raise typer.Exit(0)


@_app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="print the harness version and exit"),
) -> None:
    """Conformance test harness for Margo Device Client Onboarding.

    Exit codes: 0 pass / valid, 1 a MUST failed / invalid, 2 usage or configuration error, 3 the SUT could not
    be reached. Start with 'margo-conformance init --role wfm' (or device) to write a SUT file.
    """


def main() -> None:
    wanted = sys.argv[1] if len(sys.argv) > 1 else None
    if wanted == "load" and "--help" not in sys.argv:
        # Locust runs on gevent, which must patch the standard library before anything imports ssl or sockets.
        from gevent import monkey

        monkey.patch_all()
    _register(wanted if wanted in dict(_SUBCOMMANDS) else None)
    _app()


def __getattr__(name: str) -> object:
    """``from margo_conformance.cli import app`` (tests, embedding) gets the app with every command."""
    if name == "app":
        _register()
        return _app
    raise AttributeError(name)


if __name__ == "__main__":
    main()
