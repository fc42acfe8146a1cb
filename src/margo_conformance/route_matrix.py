"""The refusals every protected WFM route owes, as data: route x request fault, route x operator state.

Issue 10: a WFM that verifies signatures on PUT but not on DELETE must not pass. So the negative signing
catalogue is not written per route: each route and each fault is one row here, the WFM-role feature
``features/wfm/protected_routes.feature`` is generated from these rows (``python -m
margo_conformance.route_matrix > features/wfm/protected_routes.feature``; a unit test fails when the file
is stale), and the steps read the expected outcome back from here.

What a row expects follows DIGEST 6.1: "refused at all" (a 4xx) is one check, on the must axis unless our
reading itself is the question (``refusal_by``: unsigned onboarding, Q-03); the code is a second check,
on the must axis where the spec states it (``status``), else on the interpretation axis against the
question's preferred code (``question``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

ONBOARDING = "onboarding POST"
PUT = "capabilities PUT"
DELETE = "capabilities DELETE"


@dataclass(frozen=True)
class Route:
    name: str
    #: The request has a body (so the Content-Digest faults apply).
    has_body: bool
    #: The URL names a clientId (so "another client's key" and "unknown clientId" apply).
    names_client: bool


ROUTES: tuple[Route, ...] = (
    Route(ONBOARDING, has_body=True, names_client=False),
    Route(PUT, has_body=True, names_client=True),
    Route(DELETE, has_body=False, names_client=True),
)


@dataclass(frozen=True)
class Expect:
    """What the WFM owes one faulty request on one kind of route."""

    requirements: tuple[str, ...]
    #: The status the spec states for this refusal (must axis), or None.
    status: int | None = None
    #: The question whose preferred code is judged when the spec states none (interpretation axis).
    question: str | None = None
    #: A question on which refusing at all rests (the refusal check moves to the interpretation axis).
    refusal_by: str | None = None

    def __post_init__(self) -> None:
        if (self.status is None) == (self.question is None):
            raise ValueError("an expectation names either the stated status or the question of the code")


@dataclass(frozen=True)
class Fault:
    name: str
    #: What the request does wrong, for the scenario title.
    summary: str
    #: Expectation on the onboarding route, and on the client routes (PUT, DELETE); None: does not apply.
    onboarding: Expect | None
    client: Expect | None
    needs_body: bool = False

    def expect(self, route: Route) -> Expect | None:
        if self.needs_body and not route.has_body:
            return None
        return self.client if route.names_client else self.onboarding


# which key verifies onboarding, and unsigned onboarding is refused only in our (strict) reading.
_UNSIGNED_ONBOARDING = Expect(("ONB-06",), question="Q-03", refusal_by="Q-03")
_UNSIGNED_CLIENT = Expect(("SIG-12",), question="Q-14")
_BAD_SIGNATURE_ONBOARDING = Expect(("ONB-06",), question="Q-03")
_BAD_SIGNATURE_CLIENT = Expect(("SIG-09", "SIG-10"), status=401)
_OUTSIDE_WINDOW = Expect(("SIG-11",), question="Q-14")
_BAD_DIGEST = Expect(("DIG-03",), status=400)

FAULTS: tuple[Fault, ...] = (
    Fault("unsigned", "no signature at all", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("signature-without-input", "a Signature without Signature-Input", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("input-without-signature", "a Signature-Input without Signature", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("wrong-key", "signed by a key the WFM does not know", _BAD_SIGNATURE_ONBOARDING, _BAD_SIGNATURE_CLIENT),
    Fault("other-client-key", "signed by another onboarded client's key", None,
          Expect(("ONB-14", "SIG-10"), status=401)),
    Fault("component-missing", 'a signature that does not cover "@target-uri"', _BAD_SIGNATURE_ONBOARDING,
          _BAD_SIGNATURE_CLIENT),
    Fault("tampered-target-uri", "a signature made for another URL", _BAD_SIGNATURE_ONBOARDING,
          _BAD_SIGNATURE_CLIENT),
    Fault("created-stale", "created 600 s ago", _OUTSIDE_WINDOW, _OUTSIDE_WINDOW),
    Fault("created-future", "created 600 s ahead", _OUTSIDE_WINDOW, _OUTSIDE_WINDOW),
    Fault("unknown-client", "a clientId the WFM never issued", None, Expect(("SIG-14",), question="Q-17")),
    Fault("digest-missing", "no Content-Digest", _BAD_DIGEST, _BAD_DIGEST, needs_body=True),
    Fault("digest-wrong", "a Content-Digest of other bytes", _BAD_DIGEST, _BAD_DIGEST, needs_body=True),
    Fault("digest-malformed", "a Content-Digest that is no Byte Sequence", _BAD_DIGEST, _BAD_DIGEST,
          needs_body=True),
    Fault("tampered-body", "a body changed after signing", Expect(("SIG-09", "DIG-03"), question="Q-33"),
          Expect(("SIG-09", "DIG-03"), question="Q-33"), needs_body=True),
)


@dataclass(frozen=True)
class OperatorState:
    """A client state the operator decides (CERT-12, ONB-09, SIG-13); the action reaches it."""

    name: str
    action: str


#: States an onboarded client can be put in. "pending" exists only before a clientId is issued, so it is
#: judged on the onboarding route alone (features/wfm/onboarding.feature, manual approval).
OPERATOR_STATES: tuple[OperatorState, ...] = (
    OperatorState("revoked", "revoke"),
    OperatorState("rejected", "reject"),
)
#: A client the operator turned away is refused with 403 on every route.
STATE_REFUSAL = {ONBOARDING: Expect(("ONB-09",), status=403), PUT: Expect(("SIG-13",), status=403),
                 DELETE: Expect(("SIG-13",), status=403)}


def route(name: str) -> Route:
    for r in ROUTES:
        if r.name == name:
            return r
    raise KeyError(f"unknown route {name!r}; known: {[r.name for r in ROUTES]}")


def fault(name: str) -> Fault:
    for f in FAULTS:
        if f.name == name:
            return f
    raise KeyError(f"unknown route fault {name!r}; known: {[f.name for f in FAULTS]}")


def expectation(route_name: str, fault_name: str) -> Expect:
    found = fault(fault_name).expect(route(route_name))
    if found is None:
        raise KeyError(f"the fault {fault_name!r} does not apply to the {route_name}")
    return found


def rows() -> list[tuple[Route, Fault, Expect]]:
    """Every applicable (route, fault) pair, faults in catalogue order."""
    return [(r, f, e) for f in FAULTS for r in ROUTES if (e := f.expect(r)) is not None]


# --- the generated feature -------------------------------------------------------------------------------

_HEADER = """\
# GENERATED from src/margo_conformance/route_matrix.py: do not edit. Regenerate with
#   python -m margo_conformance.route_matrix > features/wfm/protected_routes.feature
Feature: Every protected route refuses every faulty request
  The onboarding POST and the capabilities PUT and DELETE each face the request faults that apply to them
  (DIGEST 2.7, 6.1): a WFM that checks signatures on one route but not on another must fail. Refusing at
  all is judged on the must axis; the code on the must axis where the spec states it, else against the
  preferred code of the question named (interpretation axis). A client the operator revoked or rejected is
  refused with 403 on every route.

  Background:
    Given the device knows the WFM root CA
"""


_LEVELS = ("MUST", "SHOULD", "MAY")


def _tags(expect: Expect) -> str:
    """@req per requirement, @level (the strongest catalog level for a WFM: Allure's severity), @interpretation."""
    from .requirements import load_catalog

    catalog = load_catalog()
    levels = [catalog.get(r).level_for("wfm").level for r in expect.requirements]
    level = min(levels, key=lambda lv: _LEVELS.index(lv) if lv in _LEVELS else 0)
    questions = dict.fromkeys(q for q in (expect.refusal_by, expect.question) if q)
    return " ".join([f"@req:{r}" for r in expect.requirements] + [f"@level:{level}"]
                    + [f"@interpretation:{q}" for q in questions])


def _table(rows_: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows_) for i in range(len(rows_[0]))]
    return [indent + "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows_]


def render_feature() -> str:
    lines = [_HEADER]
    lines += [
        "  Scenario Outline: The <route> refuses <fault>",
        "    Given the device is ready to send the <route>",
        '    When the device sends the <route> with the fault "<fault>"',
        "    Then the WFM refuses it as the route matrix says (<requirements>)",
    ]
    for f in FAULTS:
        applicable = [(r, e) for r in ROUTES if (e := f.expect(r)) is not None]
        # One Examples block per (fault, expectation), so each block's tags are exactly its rows' requirements.
        groups: dict[Expect, list[Route]] = {}
        for r, e in applicable:
            groups.setdefault(e, []).append(r)
        for expect, routes in groups.items():
            lines += ["", f"    {_tags(expect)}", f"    Examples: {f.summary}"]
            lines += _table([["route", "fault", "requirements"]]
                            + [[r.name, f.name, ", ".join(expect.requirements)] for r in routes], "      ")
    lines += [
        "",
        "  Scenario Outline: A <state> client is refused on the <route>",
        "    Given the device is ready to send the <route>",
        "    And the operator has <state> the device's client",
        "    When the device sends the <route> correctly signed",
        "    Then the WFM refuses it as the route matrix says (<requirements>)",
    ]
    for r in ROUTES:
        expect = STATE_REFUSAL[r.name]
        lines += ["", f"    {_tags(expect)}", f"    Examples: on the {r.name}"]
        lines += _table([["route", "state", "requirements"]]
                        + [[r.name, s.name, ", ".join(expect.requirements)] for s in OPERATOR_STATES], "      ")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_feature())
