"""``python -m margo_conformance.device run ...``: the reference device without loading the rest of the CLI.

The device-role suite launches the reference device once per scenario; importing only what the device
needs halves its start-up time.
"""

from .cli import app

if __name__ == "__main__":
    app(prog_name="margo-conformance device")
