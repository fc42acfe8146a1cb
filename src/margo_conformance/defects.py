"""Named defects of the reference implementations: how the harness proves it can fail.

Each defect makes the reference WFM or the reference device violate exactly one requirement
(DESIGN.md section 7). The WFM's list lives in ``wfm/defects.py``, the device's in
``device/defects.py``; both export ``DEFECTS: tuple[Defect, ...]``. The self-tests run each suite
against every defect (the kill matrix) and check that the named requirement fails, and only it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

import typer

Role = Literal["wfm", "device"]


@dataclass(frozen=True)
class Defect:
    name: str  # kebab-case, the value of --defect
    role: Role
    requirement: str  # the one requirement ID it breaks
    description: str  # what the implementation does wrong, in one sentence
    #: Requirements that break with it by necessity, named so the kill matrix can tell a consequence
    #: from a stray failure (a client that verifies no certificate also accepts an expired one: TLS-04).
    related: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["related"] = list(self.related)
        return data


_MODULES: dict[str, str] = {"wfm": "margo_conformance.wfm.defects", "device": "margo_conformance.device.defects"}


def defects_for(role: Role) -> tuple[Defect, ...]:
    """All defects of one role's reference implementation (empty while that role is not built)."""
    try:
        module = importlib.import_module(_MODULES[role])
    except ModuleNotFoundError:
        return ()
    return tuple(module.DEFECTS)


def get_defect(role: Role, name: str) -> Defect:
    for defect in defects_for(role):
        if defect.name == name:
            return defect
    known = ", ".join(d.name for d in defects_for(role)) or "none"
    raise KeyError(f"unknown {role} defect {name!r}; known: {known}")


def app(
    role: str = typer.Option(..., "--role", help="wfm or device"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the named defects of a reference implementation and the requirement each one breaks."""
    if role not in _MODULES:
        typer.echo(f"error: --role must be 'wfm' or 'device', not {role!r}", err=True)
        raise typer.Exit(2)
    found = defects_for(role)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in found], indent=2))
        return
    for d in found:
        typer.echo(f"{d.name:<36} {d.requirement:<8} {d.description}")
