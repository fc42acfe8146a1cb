"""``python -m margo_conformance.device run ...``: the reference device without loading the rest of the CLI.

The device-role suite launches the reference device once per scenario; importing only what the device
needs halves its start-up time. The arguments are those of ``margo-conformance device``.
"""

import sys

import typer

from .cli import app


def main() -> None:
    root = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(app, name="device")
    root(args=["device", *sys.argv[1:]], prog_name="margo-conformance")


if __name__ == "__main__":
    main()
