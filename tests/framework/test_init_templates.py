"""``margo-conformance init`` writes SUT files with exactly the keys ``load_sut`` accepts (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app
from margo_conformance.cli.init import template_text
from margo_conformance.sut import load_sut

#: Every key path the SUT-file parser accepts, per role (sut.py); the templates must show each one.
ACCEPTED = {
    "wfm": {"sut.role", "sut.name", "sut.profile", "sut.vendor", "sut.product", "sut.version", "wfm.base_url", "wfm.ca", "wfm.server_name",
            "wfm.request_timeout_s", "wfm.operator.trust_issuer", "wfm.operator.approve", "wfm.operator.reject",
            "wfm.operator.revoke", "wfm.operator.approve_pending", "wfm.operator.reject_pending",
            "wfm.operator.timeout_s"},
    "device": {"sut.role", "sut.name", "sut.profile", "sut.vendor", "sut.product", "sut.version", "device.mode", "device.launch", "device.launch_bootstrap",
               "device.launch_gateway", "device.timeout_s", "device.parallel", "device.env.ACME_LOG_LEVEL"},
}


def _uncommented(text: str) -> str:
    """The template with every optional table and key switched on."""
    return re.sub(r"^# (\[[\w.]+\]|[A-Za-z_]+ = )", r"\1", text, flags=re.M)


def _keys(text: str) -> set[str]:
    import tomllib

    def walk(prefix: str, table: dict) -> set[str]:
        out = set()
        for key, value in table.items():
            path = f"{prefix}{key}"
            out |= walk(path + ".", value) if isinstance(value, dict) else {path}
        return out

    return walk("", tomllib.loads(text))


@pytest.mark.parametrize("role", ["wfm", "device"])
def test_the_template_loads_as_written_and_with_every_option(role: str, tmp_path: Path) -> None:
    plain, full = tmp_path / "plain.toml", tmp_path / "full.toml"
    plain.write_text(template_text(role))
    full.write_text(_uncommented(template_text(role)))
    assert load_sut(plain).role == role
    if role == "wfm":
        assert load_sut(full).wfm.operator.has("reject_pending")
    else:
        assert load_sut(full).device.launch_gateway
    assert _keys(full.read_text()) == ACCEPTED[role]


def test_init_writes_the_file_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["init", "--role", "device"])
    assert first.exit_code == 0 and (tmp_path / "device-sut.toml").read_text() == template_text("device")
    again = runner.invoke(app, ["init", "--role", "device"])
    assert again.exit_code == 2 and "exists" in again.output
    assert runner.invoke(app, ["init", "--role", "toaster"]).exit_code == 2


def test_version_flag() -> None:
    from margo_conformance import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"margo-conformance {__version__}"
