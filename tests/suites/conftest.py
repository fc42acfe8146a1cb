"""Fixtures of the suite self-tests: the reference WFM started standalone, as a vendor's WFM would run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from margo_conformance.resources import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standalone_wfm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The reference WFM as its own process under manual approval: (base URL, data dir)."""
    data = tmp_path_factory.mktemp("wfm-data")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "margo_conformance", "wfm", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(data), "--trust", "manual",
                             "--approval-timeout", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 30
    while not (data / "admin.json").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the standalone WFM did not start")
        time.sleep(0.1)
    try:
        yield f"https://127.0.0.1:{port}", data
    finally:
        proc.terminate()
        proc.wait(10)
