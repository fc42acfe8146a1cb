"""``python -m margo_conformance.device run ...``: the reference device without loading the rest of the CLI.

The device-role suite launches the reference device once per recording; importing only what the device needs
(no typer, no pydantic: ``program.py``) keeps each launch short. The arguments are those of
``margo-conformance device run``.
"""

import sys

# httpx imports its own command line (click, rich, pygments: about 50 ms) whenever those are installed, and falls
# back to a stub when that import fails; the device never runs httpx's CLI, so it takes the stub (a None entry in
# sys.modules makes the import fail).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from .program import PROG, main  # noqa: E402

if __name__ == "__main__":
    if sys.argv[1:2] != ["run"]:
        print(f"usage: {PROG} [options] (see --help)", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
