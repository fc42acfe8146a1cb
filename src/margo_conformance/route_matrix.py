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

from . import DEFAULT_PROFILE
from .basis import Basis

#: The profile whose routes and refusals this matrix holds (the generated feature is tagged with it).
PROFILE = DEFAULT_PROFILE


def _title(key: str) -> str:
    """A route's title (how the matrix, its feature and reports name it), from the profile's routes."""
    from .profiles import load_profile

    return load_profile(PROFILE).route(key).title


ONBOARDING, PUT, DELETE = (_title(k) for k in ("onboarding.post", "capabilities.put", "capabilities.delete"))


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
class Guard:
    """A named MUST that a row made by analogy can still break, judged by a check of its own (DIGEST 6.1 rule 3):
    the row's own refusal is an interpretation, but what it protects is not."""

    requirement: str
    #: What the guard checks, for the scenario step.
    summary: str


@dataclass(frozen=True)
class Expect:
    """What the WFM owes one faulty request on one kind of route, and where that comes from."""

    requirements: tuple[str, ...]
    #: Whether the text names this route, state or fault for the requirement, or the row carries a rule over.
    basis: Basis
    #: The status the spec states for this refusal (must axis), or None.
    status: int | None = None
    #: The question whose preferred code is judged when the spec states none (interpretation axis).
    question: str | None = None
    #: A question on which refusing at all rests (the refusal check moves to the interpretation axis).
    refusal_by: str | None = None
    #: Set on a row by analogy whose case can still break a named MUST.
    guard: Guard | None = None

    def __post_init__(self) -> None:
        if (self.status is None) == (self.question is None):
            raise ValueError("an expectation names either the stated status or the question of the code")
        if self.basis.by_analogy and not (self.question == self.refusal_by == self.basis.question):
            raise ValueError("a row by analogy judges both its refusal and its code under the basis question "
                             f"({self.basis.question}), DIGEST 6.1 rule 3")
        if self.guard is not None and not self.basis.by_analogy:
            raise ValueError("only a row by analogy needs a guard: a row the text names is judged at its own level")

    @classmethod
    def by_analogy(cls, requirements: tuple[str, ...], basis: Basis, guard: Guard | None = None) -> Expect:
        question = basis.question
        return cls(requirements, basis, question=question, refusal_by=question, guard=guard)


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


# What the text names for each route (the yaml at 35b9aa41): the onboarding POST answers 201, 400 (invalid
# certificate) and 403 (untrusted or rejected) and "MUST be authenticated" (ONB-06); PUT and DELETE list 400
# (digest), 401 (signature), 403 (untrusted or revoked) and 404 (unknown client). A code the text states
# for one route only is carried to another by a question (interpretation axis), never by assumption.
_YAML_CLIENT = "the yaml lists it on PUT and DELETE"

# which key verifies onboarding, and unsigned onboarding is refused only in our (strict) reading.
_UNSIGNED_ONBOARDING = Expect(
    ("ONB-06",), Basis.text('ONB-06 "requests to this endpoint MUST be authenticated" with HTTP Message '
                            "Signatures; with no clientId yet, refusing rests on Q-03 (which key)"),
    question="Q-03", refusal_by="Q-03")
_UNSIGNED_CLIENT = Expect(
    ("SIG-12",), Basis.text('SIG-12 "an unsigned request to a protected endpoint must fail"; the yaml protects '
                            "PUT and DELETE (global security); no code is stated (Q-14)"), question="Q-14")
_BAD_SIGNATURE_ONBOARDING = Expect(
    ("ONB-06",), Basis.text("ONB-06 (c) a signature that does not verify with the body certificate's key is "
                            "refused; onboarding lists no 401, so the code rests on Q-03"), question="Q-03")
_BAD_SIGNATURE_CLIENT = Expect(
    ("SIG-09", "SIG-10"), Basis.text("SIG-09 process a request only if its signature verifies with the "
                                     f"clientId's certificate; SIG-10 401 on a mismatch, {_YAML_CLIENT}"),
    status=401)
_COMPONENTS_ONBOARDING = Expect(
    ("ONB-06",), Basis.text('ONB-06 the onboarding request is signed like every request, and SIG-02 every '
                            'signature covers "@method", "@target-uri" and content-digest; the code rests on Q-03'),
    question="Q-03")
_COMPONENTS_CLIENT = Expect(
    ("SIG-09", "SIG-10"), Basis.text('SIG-02 every signature covers "@method", "@target-uri" and content-digest; '
                                     f"SIG-09 verification of that signature; SIG-10 401, {_YAML_CLIENT}"),
    status=401)
_OUTSIDE_WINDOW = Expect(
    ("SIG-11",), Basis.text("SIG-11 the WFM MUST reject requests whose created is outside the window (every "
                            "signed request, onboarding included); no code is stated (Q-14)"), question="Q-14")
_BAD_DIGEST_ONBOARDING = Expect(
    ("DIG-03",), Basis.text("DIG-03 the WFM recomputes the digest of the body it received for every signed "
                            "request; its 400 is stated for the capability routes only, so the code on onboarding "
                            "rests on Q-H03"), question="Q-H03")
_BAD_DIGEST_CLIENT = Expect(
    ("DIG-03",), Basis.text('DIG-03 a missing or invalid digest gets 400 "missing or invalid content-digest", '
                            "stated on the capabilities PUT"), status=400)
_TAMPERED_BODY_ONBOARDING = Expect(
    ("ONB-06", "DIG-03"), Basis.text("DIG-03 the digest is recomputed from the body received, and ONB-06 the "
                                     "onboarding signature must verify; which code comes first is Q-H01"),
    question="Q-H01")
_TAMPERED_BODY_CLIENT = Expect(
    ("SIG-09", "DIG-03"), Basis.text("SIG-09 a body changed after signing is refused, 400 (digest) or 401 "
                                     "(signature) as DIGEST 2.7 states; which one is Q-H01"), question="Q-H01")

FAULTS: tuple[Fault, ...] = (
    Fault("unsigned", "no signature at all", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("signature-without-input", "a Signature without Signature-Input", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("input-without-signature", "a Signature-Input without Signature", _UNSIGNED_ONBOARDING, _UNSIGNED_CLIENT),
    Fault("wrong-key", "signed by a key the WFM does not know", _BAD_SIGNATURE_ONBOARDING, _BAD_SIGNATURE_CLIENT),
    Fault("other-client-key", "signed by another onboarded client's key", None,
          Expect(("ONB-14", "SIG-10"), Basis.text("ONB-14 a request signed with another key on this client's URL "
                                                  f"gets 401; {_YAML_CLIENT}"), status=401)),
    Fault("component-missing", 'a signature that does not cover "@target-uri"', _COMPONENTS_ONBOARDING,
          _COMPONENTS_CLIENT),
    Fault("tampered-target-uri", "a signature made for another URL", _BAD_SIGNATURE_ONBOARDING,
          _BAD_SIGNATURE_CLIENT),
    Fault("created-stale", "created 600 s ago", _OUTSIDE_WINDOW, _OUTSIDE_WINDOW),
    Fault("created-future", "created 600 s ahead", _OUTSIDE_WINDOW, _OUTSIDE_WINDOW),
    Fault("unknown-client", "a clientId the WFM never issued", None,
          Expect(("SIG-14",), Basis.text(f"SIG-14 404 for an unknown clientId, {_YAML_CLIENT}; 401 first is "
                                         "Q-17"), question="Q-17")),
    Fault("digest-missing", "no Content-Digest", _BAD_DIGEST_ONBOARDING, _BAD_DIGEST_CLIENT, needs_body=True),
    Fault("digest-wrong", "a Content-Digest of other bytes", _BAD_DIGEST_ONBOARDING, _BAD_DIGEST_CLIENT,
          needs_body=True),
    Fault("digest-malformed", "a Content-Digest that is no Byte Sequence", _BAD_DIGEST_ONBOARDING,
          _BAD_DIGEST_CLIENT, needs_body=True),
    Fault("tampered-body", "a body changed after signing", _TAMPERED_BODY_ONBOARDING, _TAMPERED_BODY_CLIENT,
          needs_body=True),
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

#: Revocation must survive onboarding again: whatever the onboarding answer, the same certificate's signed
#: PUT and DELETE (with the clientId the WFM returned, else the revoked one) must not be served.
REVOCATION_HOLDS = Guard("SIG-13", "the certificate's signed capabilities PUT and DELETE stay refused")

#: What the WFM owes a correctly signed request of a client in an operator state, per (route, state).
STATE_REFUSAL: dict[tuple[str, str], Expect] = {
    (ONBOARDING, "revoked"): Expect.by_analogy(
        ("SIG-13",), Basis.analogy("Q-33", "SIG-13's 403 for a revoked certificate is stated for signed requests; "
                                           "onboarding lists 403 only for an untrusted or rejected certificate"),
        guard=REVOCATION_HOLDS),
    (ONBOARDING, "rejected"): Expect(
        ("ONB-09",), Basis.text('ONB-09 403 when "the operator rejects the client"'), status=403),
    **{(r, "revoked"): Expect(("SIG-13",), Basis.text(
        f'SIG-13 403 "client certificate is not trusted or has been revoked", {_YAML_CLIENT}'), status=403)
       for r in (PUT, DELETE)},
    **{(r, "rejected"): Expect(("SIG-13",), Basis.text(
        "SIG-13 403 for a certificate that is not trusted, on PUT and DELETE; CERT-12 an operator's rejection is "
        "how the WFM decides not to trust it"), status=403) for r in (PUT, DELETE)},
}


def state_refusal(route_name: str, state: str) -> Expect:
    try:
        return STATE_REFUSAL[(route(route_name).name, state)]
    except KeyError:
        raise KeyError(f"no operator-state row for the {route_name} in state {state!r}") from None


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
{profile_tag}
Feature: Every protected route refuses every faulty request
  The onboarding POST and the capabilities PUT and DELETE each face the request faults that apply to them
  (DIGEST 2.7, 6.1): a WFM that checks signatures on one route but not on another must fail. Refusing at
  all is judged on the must axis; the code on the must axis where the spec states it, else against the
  preferred code of the question named (interpretation axis). A client the operator revoked or rejected is
  refused with 403 on every route the text names for it.

  Every row says in its basis column where its level comes from (DIGEST 6.1 rule 3): "text" when the spec
  names that route, state or fault for the requirement; "analogy Q-NN" when the row carries a rule to a case
  the text does not name, judged on the interpretation axis, with a check of its own for the MUST it could
  still break.

  Background:
    Given the device knows the WFM root CA
"""


_LEVELS = ("MUST", "SHOULD", "MAY")


def _tags(expect: Expect) -> str:
    """@req per requirement (and guard), @level (the strongest catalog level for a WFM: Allure's severity),
    @interpretation per question."""
    from .requirements import load_catalog

    catalog = load_catalog()
    requirements = list(dict.fromkeys(expect.requirements + ((expect.guard.requirement,) if expect.guard else ())))
    levels = [catalog.get(r).level_for("wfm").level for r in requirements]
    level = min(levels, key=lambda lv: _LEVELS.index(lv) if lv in _LEVELS else 0)
    questions = dict.fromkeys(q for q in (expect.refusal_by, expect.question) if q)
    return " ".join([f"@req:{r}" for r in requirements] + [f"@level:{level}"]
                    + [f"@interpretation:{q}" for q in questions])


def _table(rows_: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows_) for i in range(len(rows_[0]))]
    return [indent + "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows_]


def _examples(expect: Expect, title: str, header: list[str], rows_: list[list[str]]) -> list[str]:
    """One Examples block whose tags are exactly its rows' requirements; each row ends with its basis."""
    table = [header + ["requirements", "basis"]]
    table += [row + [", ".join(expect.requirements), expect.basis.line()] for row in rows_]
    return ["", f"    {_tags(expect)}", f"    Examples: {title}", *_table(table, "      ")]


def render_feature() -> str:
    lines = [_HEADER.replace("{profile_tag}", f"@profile:{PROFILE}")]
    lines += [
        "  Scenario Outline: The <route> refuses <fault>",
        "    Given the device is ready to send the <route>",
        '    When the device sends the <route> with the fault "<fault>"',
        "    Then the WFM refuses it as the route matrix says (<requirements>)",
    ]
    for f in FAULTS:
        groups: dict[Expect, list[Route]] = {}
        for r in ROUTES:
            if (e := f.expect(r)) is not None:
                groups.setdefault(e, []).append(r)
        for expect, routes in groups.items():
            lines += _examples(expect, f.summary, ["route", "fault"], [[r.name, f.name] for r in routes])
    unguarded = [(r, s, e) for r in ROUTES for s in OPERATOR_STATES
                 if (e := STATE_REFUSAL.get((r.name, s.name))) is not None and e.guard is None]
    guarded = [(r, s, e) for r in ROUTES for s in OPERATOR_STATES
               if (e := STATE_REFUSAL.get((r.name, s.name))) is not None and e.guard is not None]
    lines += [
        "",
        "  Scenario Outline: A <state> client is refused on the <route>",
        "    Given the device is ready to send the <route>",
        "    And the operator has <state> the device's client",
        "    When the device sends the <route> correctly signed",
        "    Then the WFM refuses it as the route matrix says (<requirements>)",
    ]
    for r in ROUTES:
        for expect in dict.fromkeys(e for r2, _, e in unguarded if r2 == r):
            states = [s for r2, s, e in unguarded if r2 == r and e == expect]
            lines += _examples(expect, f"on the {r.name}", ["route", "state"], [[r.name, s.name] for s in states])
    if guarded:
        # One step judges both, so a refused-code deviation under --strict cannot skip the guard's MUST.
        lines += [
            "",
            "  Scenario Outline: A <state> client that sends the <route> again does not get a working client back",
            "    Given the device has reported its capabilities",
            "    And the operator has <state> the device's client",
            "    When the device sends the <route> correctly signed",
            "    Then the WFM's answer is judged as the route matrix says (<requirements>), and <guard>",
        ]
        for r, s, expect in guarded:
            assert expect.guard is not None
            guard = f"{expect.guard.summary} ({expect.guard.requirement})"
            lines += _examples(expect, f"{s.name} on the {r.name}", ["route", "state", "guard"],
                               [[r.name, s.name, guard]])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_feature())
