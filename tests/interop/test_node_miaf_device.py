"""The MIAF device-role suite certifies a WFM client it did not build (issue 20 acceptance, interop).

The device is ``node/miaf_client.mjs``: Node 20's ``tls``/``https`` with a hand-written SPIFFE check in
``checkServerIdentity``, launched by the harness through a SUT file (``bundle = "file"``, ``svid_rotation =
"file"``, the labels file as the capability-change trigger) as a vendor's agent would be. It passes; the same
client with ``--hostname-check`` (Node's default host-name verification instead of the SPIFFE ID) fails MID-05,
and only the scenarios that tell the two apart fail. What the client does not do (discovery, see-thru gateway)
shows as NOT TESTED with the suite's reason, never as a pass.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from margo_conformance.resources import PROJECT_ROOT
from margo_conformance.sut import load_sut

CLIENT = Path(__file__).parent / "node" / "miaf_client.mjs"
HARNESS_TIMEOUT_S = 600
LAUNCH_ARGS = ("--wfm-url {wfm_url} --svid-cert {svid_cert} --svid-key {svid_key} --svid-chain {svid_chain} "
               "--bundle-file {bundle_file} --wfm-spiffe-id {wfm_spiffe_id} --trust-domain {trust_domain} "
               "--device-id {device_id} --labels-file {labels_file} --state-dir {state_dir}")


def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH: the interop tests need Node 20, as `make test` does")
    return exe


def sut_file(directory: Path, *client_flags: str) -> Path:
    """The SUT file a vendor of this client would write (absolute paths: no shell runs the launch command)."""
    launch = f"{shlex.join([node(), str(CLIENT), *client_flags])} {LAUNCH_ARGS}"
    name = "Node 20 https MIAF client" + (f" ({' '.join(client_flags)})" if client_flags else "")
    sut = directory / "node-miaf-client.toml"
    sut.write_text(f"""[sut]
role = "device"
name = "{name} (interop test)"
profile = "miaf-rc3"
vendor = "Margo conformance interop tests"
product = "miaf_client.mjs"
version = "1"

[device]
mode = "launch"
launch = {json.dumps(launch)}
bundle = "file"
svid_rotation = "file"
timeout_s = 30
""")
    return sut


def run_harness(out: Path, *client_flags: str, select: tuple[str, ...] = ()) -> tuple[int, dict[str, Any], str]:
    out.mkdir()
    cmd = [sys.executable, "-m", "margo_conformance", "run", "--role", "device", "--profile", "miaf-rc3",
           "--sut", str(sut_file(out, *client_flags)), *select, "--output", str(out / "report")]
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=HARNESS_TIMEOUT_S,
                          check=False)
    summary_file = out / "report" / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return done.returncode, summary, done.stdout[-6000:] + done.stderr[-4000:]


def test_the_sut_file_of_the_node_client_is_a_valid_miaf_device_sut(tmp_path: Path) -> None:
    sut = load_sut(sut_file(tmp_path))
    assert (sut.role, sut.profile) == ("device", "miaf-rc3")
    assert sut.device is not None
    assert (sut.device.bundle, sut.device.svid_rotation, sut.device.launch_gateway) == ("file", "file", None)
