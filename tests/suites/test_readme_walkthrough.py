"""The README's certification walkthrough passes as written (issue 11).

The test reads the shell block after the ``<!-- walkthrough`` marker in README.md and runs its lines
verbatim from the project root, with a PATH that does not hold the virtualenv: the ``wfm serve`` line in the
background, then each ``run`` line. Both runs must pass, and the operator scenarios of the WFM run must have
been judged through the example file's hooks, not skipped.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from margo_conformance.resources import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


def walkthrough_commands() -> list[str]:
    text = README.read_text()
    block = re.search(r"<!-- walkthrough.*?-->\s*```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no walkthrough block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": "/usr/bin:/bin"}


def _run_outputs(before: set[Path]) -> list[Path]:
    return sorted(set((PROJECT_ROOT / "reports").glob("*-*")) - before)


def test_the_walkthrough_has_a_server_and_two_runs() -> None:
    commands = walkthrough_commands()
    assert [c.split()[1:3] for c in commands] == [["wfm", "serve"], ["run", "--role"], ["run", "--role"]]


@pytest.mark.skipif(not (PROJECT_ROOT / ".venv" / "bin" / "margo-conformance").exists(),
                    reason="the walkthrough uses the Makefile's virtualenv (.venv)")
def test_the_readme_walkthrough_passes_as_written() -> None:
    serve, *runs = walkthrough_commands()
    data_dir = Path(shlex.split(serve)[shlex.split(serve).index("--data-dir") + 1])
    shutil.rmtree(data_dir, ignore_errors=True)
    server = subprocess.Popen(shlex.split(serve), cwd=PROJECT_ROOT, env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    before = set((PROJECT_ROOT / "reports").glob("*-*"))
    try:
        deadline = time.monotonic() + 30
        while not (data_dir / "admin.json").exists():
            assert server.poll() is None and time.monotonic() < deadline, "wfm serve did not start"
            time.sleep(0.1)
        for command in runs:
            done = subprocess.run(shlex.split(command), cwd=PROJECT_ROOT, env=_env(), capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}"
            assert "Traceback" not in done.stdout + done.stderr
        outputs = _run_outputs(before)
        assert [p.name.rsplit("-", 1)[1] for p in outputs] == ["wfm", "device"] or len(outputs) == 2
        wfm = json.loads(next(p for p in outputs if p.name.endswith("-wfm")).joinpath("summary.json").read_text())
        rows = {r["id"]: r for r in wfm["requirements"]}
        # the example's hooks ran: revocation, the untrusted issuer and the held request were judged
        assert rows["SIG-13"]["verdict"] == rows["ONB-09"]["verdict"] == rows["ONB-10"]["verdict"] == "PASS"
        assert wfm["counts"]["scenarios"]["broken"] == wfm["counts"]["scenarios"]["not_tested"] == 0
        gen03 = rows["GEN-03"]  # port 8443, not 443: an advisory (SHOULD on the WFM side), never a PASS
        assert (gen03["verdict"], gen03["axis"]) == ("ADVISORY", "advisory")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
        for output in _run_outputs(before):
            shutil.rmtree(output, ignore_errors=True)
