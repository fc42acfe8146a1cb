"""``python -m margo_conformance.device run ...``: the reference device without loading the rest of the CLI.

The device-role suite launches the reference device once per recording; importing only what the device needs
(no typer, no pydantic: ``program.py``) keeps each launch short. The arguments are those of
``margo-conformance device run``.
"""

import sys

from .program import PROG, main

if __name__ == "__main__":
    if sys.argv[1:2] != ["run"]:
        print(f"usage: {PROG} [options] (see --help)", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
