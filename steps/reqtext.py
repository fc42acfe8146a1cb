"""The requirement reference at the end of a Then step: "(SIG-10)", "(SIG-09, SIG-10)", "(CAP-08, advisory)".

Shared by both roles' steps, so the step text is the one place that binds a check to its requirements
and says how a failure counts (advisory: SHOULD, informational: MAY).
"""

from __future__ import annotations

import re

from margo_conformance.errors import HarnessError

REQ = re.compile(r"(?P<reqs>[A-Z]+-\d+(?:, [A-Z]+-\d+)*)(?:, (?P<mode>advisory|informational))?")
MODE_LEVEL = {None: None, "advisory": "SHOULD", "informational": "MAY"}


def requirements(text: str) -> tuple[tuple[str, ...], str | None]:
    """(requirement IDs, level override or None) of a step's "(...)" text."""
    m = REQ.fullmatch(text.strip())
    if m is None:
        raise HarnessError(f"step names no requirement in the form (ID), (ID, ID) or (ID, advisory): {text!r}")
    return tuple(m["reqs"].split(", ")), MODE_LEVEL[m["mode"]]


def requirement(text: str) -> tuple[str, str | None]:
    """The single requirement of a step text (the first one when it names several)."""
    reqs, level = requirements(text)
    return reqs[0], level
