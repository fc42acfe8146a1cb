"""``python -m margo_conformance``: the same command as ``margo-conformance`` (what ``{harness}`` runs)."""

from .cli import main

main()
