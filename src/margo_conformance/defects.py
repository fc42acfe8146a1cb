"""Named defects of the reference implementations: how the harness proves it can fail.

Each defect makes the reference WFM or the reference device violate exactly one requirement
(DESIGN.md section 7). The WFM's list lives in ``wfm/defects.py``, the device's in
``device/defects.py``; both export ``DEFECTS: tuple[Defect, ...]``. The self-tests run each suite
against every defect (the kill matrix) and check that the named requirement fails, and only it.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from typing import Literal


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
    #: Shows only when requests overlap (a race, a lost write): the one-device-at-a-time suites cannot see it,
    #: the fleet load mode (``margo-conformance load``) must. The kill matrices leave these to the load tests.
    load_only: bool = False
    #: The profile whose reference implementation carries it (None: the default profile's).
    profile: str | None = None
    #: Breaks only a SHOULD or an interpretation (a question's position): a default run passes with the deviation
    #: named, ``--strict`` fails. The kill matrix runs it with ``--strict``.
    strict_only: bool = False
    #: Makes the implementation unreachable for a conformant peer (a server chain without its intermediate: every
    #: handshake fails), so the run judges the requirement and every other scenario is broken by necessity.
    whole_run: bool = False

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["related"] = list(self.related)
        data["load_only"] = self.load_only
        return data


#: role -> the modules whose ``DEFECTS`` make up that role's registry (one per profile's reference implementation).
_MODULES: dict[str, tuple[str, ...]] = {
    "wfm": ("margo_conformance.wfm.defects", "margo_conformance.wfm.miaf.defects"),
    "device": ("margo_conformance.device.defects", "margo_conformance.device.miaf.defects"),
}


def defects_for(role: Role) -> tuple[Defect, ...]:
    """All defects of one role's reference implementation (empty while that role is not built)."""
    found: list[Defect] = []
    for name in _MODULES[role]:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        found.extend(module.DEFECTS)
    return tuple(found)


def get_defect(role: Role, name: str) -> Defect:
    for defect in defects_for(role):
        if defect.name == name:
            return defect
    known = ", ".join(d.name for d in defects_for(role)) or "none"
    raise KeyError(f"unknown {role} defect {name!r}; known: {known}")


def profile_of(defect: Defect) -> str:
    """The profile whose reference implementation carries the defect (the default profile's when unstated)."""
    from . import DEFAULT_PROFILE

    return str(getattr(defect, "profile", None) or DEFAULT_PROFILE)


def of_profile(defects: tuple[Defect, ...], profile: str | None) -> tuple[Defect, ...]:
    """The defects of one profile's reference implementation (all of them for ``None``)."""
    return defects if profile is None else tuple(d for d in defects if profile_of(d) == profile)
