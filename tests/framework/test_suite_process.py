"""The suite's pytest process keeps Python's bytecode outside the installation, and reuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from margo_conformance.runner import suite_env


def test_bytecode_goes_to_the_users_cache_even_under_dontwritebytecode(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = suite_env(tmp_path / "run")
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "cache" / "margo-conformance" / "pycache")
    assert env["TMPDIR"] == str(tmp_path / "run")
