"""``margo-conformance device run``: the typer entry of the reference device client.

The program itself (options, exit codes) is ``program.py``, plain argparse, so that a launch of the reference
device (``python -m margo_conformance.device run``) does not import typer; this command forwards its
arguments there unchanged.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="The reference device client (WFM client of a Margo device).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.command("run", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(ctx: typer.Context) -> None:
    """Onboard to a WFM and report capabilities, as a conformant device client (or a named defective one).
    Its options: margo-conformance device run --help."""
    from .program import main

    raise typer.Exit(main(ctx.args))
