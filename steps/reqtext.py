"""The requirement reference at the end of a Then step: "(SIG-10)", "(SIG-09, SIG-10)", "(CAP-08, advisory)".

Shared by both roles' steps, so the step text binds a check to its requirements. How a failure counts is the
catalog's business (DIGEST 6.1), never the step's: a trailing "advisory" or "informational" is a word for
the reader, and a static test (tests/framework/test_step_bindings.py) checks it agrees with the catalog.
"""

from __future__ import annotations

import re

from margo_conformance.errors import HarnessError

from margo_conformance.patterns import REQUIREMENT_ID

REQ = re.compile(rf"(?P<reqs>{REQUIREMENT_ID}(?:, {REQUIREMENT_ID})*)(?:, (?P<mode>advisory|informational))?")


def requirements(text: str) -> tuple[str, ...]:
    """The requirement IDs of a step's "(...)" text."""
    m = REQ.fullmatch(text.strip())
    if m is None:
        raise HarnessError(f"step names no requirement in the form (ID), (ID, ID) or (ID, advisory): {text!r}")
    return tuple(m["reqs"].split(", "))


def requirement(text: str) -> str:
    """The single requirement of a step text (the first one when it names several)."""
    return requirements(text)[0]
