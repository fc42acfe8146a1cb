"""Placeholder: the signature doctor (`margo-conformance httpsig verify`) is being written."""
import typer

app = typer.Typer(help="RFC 9421 signature doctor.", no_args_is_help=True)
