"""Placeholder: `margo-conformance requirements` is being written."""
import typer

app = typer.Typer(help="List the requirement catalog.", no_args_is_help=True)
