"""Roll-up of scenario verdicts into requirement verdicts (summary.json), on synthetic scenarios."""

from __future__ import annotations

from margo_conformance.report.summary import rollup_requirements
from margo_conformance.requirements import load_catalog

CATALOG = load_catalog()
PROFILE = "httpsig-2026h1"


def scenario(name: str, reqs: list[str], outcome: str, verdicts: list[dict], message: str = "") -> dict:
    return {"id": name, "name": name, "requirements": reqs, "outcome": outcome, "message": message, "verdicts": verdicts}


def verdict(reqs: list[str], passed: bool, axis: str | None, level: str = "MUST") -> dict:
    return {"requirements": reqs, "passed": passed, "axis": axis, "level": level, "what": "x", "expected": 1, "observed": 2}


def rows(scenarios: list[dict], role: str = "wfm", strict: bool = False) -> dict[str, dict]:
    return {r["id"]: r for r in rollup_requirements(CATALOG, PROFILE, role, scenarios, strict=strict)}


def test_must_failure_fails_the_requirement_and_names_the_scenario() -> None:
    r = rows([scenario("s1", ["SIG-10"], "failed", [verdict(["SIG-10"], False, "must")])])["SIG-10"]
    assert (r["verdict"], r["axis"]) == ("FAIL", "must") and r["scenarios"] == ["s1"] and "s1" in r["reason"]


def test_advisory_subcheck_of_a_must_is_a_note_unless_strict() -> None:
    s = [scenario("s1", ["ONB-02"], "passed", [verdict(["ONB-02"], True, None), verdict(["ONB-02"], False, "advisory", "SHOULD")])]
    r = rows(s)["ONB-02"]
    assert r["verdict"] == "PASS" and r["reason"].startswith("advisory")
    assert rows(s, strict=True)["ONB-02"]["verdict"] == "FAIL"


def test_should_requirement_fails_on_its_own_advisory() -> None:
    r = rows([scenario("s1", ["ERR-02"], "passed", [verdict(["ERR-02"], False, "advisory", "SHOULD")])])["ERR-02"]
    assert (r["verdict"], r["axis"]) == ("FAIL", "advisory")


def test_not_tested_not_applicable_and_attestation() -> None:
    r = rows([scenario("s1", ["SIG-13"], "not_tested", [], "NOT TESTED: needs a hook")])
    assert r["SIG-13"]["verdict"] == "NOT TESTED" and "needs a hook" in r["SIG-13"]["reason"]
    assert r["SIG-01"]["verdict"] == "NOT APPLICABLE"  # binds the device; this is a WFM run
    assert rows([], role="device")["GEN-05"]["reason"].startswith("verified by the vendor's attestation")
    assert r["TLS-06"]["verdict"] == "NOT TESTED" and "no scenario" in r["TLS-06"]["reason"]


def test_a_broken_scenario_leaves_its_requirement_not_tested() -> None:
    r = rows([scenario("s1", ["TLS-06"], "broken", [], "SutTimeout: no answer")])["TLS-06"]
    assert r["verdict"] == "NOT TESTED" and "SutTimeout" in r["reason"]
