"""Roll-up of scenario verdicts into requirement verdicts (summary.json), on synthetic run records.

The rules under test (DIGEST 6.1, report/summary.py): only a check bound to a requirement can make it PASS;
a failure lands on its axis (FAIL / DEVIATION / ADVISORY, all FAIL with --strict); a scenario tag alone or an
observation proves nothing; NOT TESTED always says why.
"""

from __future__ import annotations

from margo_conformance.report.summary import build_summary, rollup_requirements, validate_summary
from margo_conformance.requirements import load_catalog
from margo_conformance.run_record import RunRecord, ScenarioRecord, SutDescription

CATALOG = load_catalog()
PROFILE = "httpsig-2026h1"


def scenario(name: str, reqs: list[str], outcome: str, verdicts: list[dict], message: str = "",
             cause: str | None = None) -> dict:
    return {"id": name, "name": name, "requirements": reqs, "outcome": outcome, "message": message,
            "verdicts": verdicts, "cause": cause}


def verdict(reqs: list[str], passed: bool, axis: str | None, level: str = "MUST", *, kind: str = "check",
            qs: tuple[str, ...] = (), choice: str | None = None) -> dict:
    return {"requirements": reqs, "passed": passed, "axis": axis, "level": level, "what": "x", "expected": 1,
            "observed": 2, "kind": kind, "interpretations": list(qs),
            "details": {"choice": choice} if choice else {}}


def rows(scenarios: list[dict], role: str = "wfm", strict: bool = False) -> dict[str, dict]:
    return {r["id"]: r for r in rollup_requirements(CATALOG, PROFILE, role, scenarios, strict=strict)}


def test_must_failure_fails_the_requirement_and_names_the_scenario() -> None:
    r = rows([scenario("s1", ["SIG-10"], "failed", [verdict(["SIG-10"], False, "must")])])["SIG-10"]
    assert (r["verdict"], r["axis"]) == ("FAIL", "must") and r["scenarios"] == ["s1"] and "s1" in r["reason"]


def test_an_advisory_failure_of_a_must_requirement_is_not_a_pass() -> None:
    s = [scenario("s1", ["GEN-03"], "passed", [verdict(["GEN-03"], False, "advisory", "SHOULD")])]
    r = rows(s)["GEN-03"]
    assert (r["verdict"], r["axis"]) == ("ADVISORY", "advisory")
    assert rows(s, strict=True)["GEN-03"]["verdict"] == "FAIL"


def test_an_advisory_beside_a_passed_check_still_is_not_a_pass() -> None:
    s = [scenario("s1", ["CERT-05"], "passed", [verdict(["CERT-05"], True, None),
                                                verdict(["CERT-05"], False, "advisory", "MUST")])]
    assert rows(s)["CERT-05"]["verdict"] == "ADVISORY"


def test_interpretation_failure_is_a_named_deviation_unless_strict() -> None:
    s = [scenario("s1", ["SIG-14"], "passed", [verdict(["SIG-14"], True, None),
                                               verdict(["SIG-14"], False, "interpretation", qs=("Q-17",),
                                                       choice="alternative")])]
    r = rows(s)["SIG-14"]
    assert (r["verdict"], r["axis"]) == ("DEVIATION", "interpretation")
    assert "Q-17" in r["reason"] and "alternative" in r["reason"]
    assert rows(s, strict=True)["SIG-14"]["verdict"] == "FAIL"


def test_the_strongest_axis_wins() -> None:
    s = [scenario("s1", ["SIG-12"], "failed", [verdict(["SIG-12"], False, "interpretation", qs=("Q-14",)),
                                               verdict(["SIG-12"], False, "must")])]
    assert (rows(s)["SIG-12"]["verdict"], rows(s)["SIG-12"]["axis"]) == ("FAIL", "must")


def test_a_tag_without_a_bound_check_is_not_tested_not_pass() -> None:
    # ONB-09 tagged on a passed scenario whose checks bound only ONB-08: the tag proves nothing.
    r = rows([scenario("s1", ["ONB-08", "ONB-09"], "passed", [verdict(["ONB-08"], True, None)])])
    assert r["ONB-08"]["verdict"] == "PASS"
    assert r["ONB-09"]["verdict"] == "NOT TESTED" and "no check bound to it ran" in r["ONB-09"]["reason"]


def test_an_observation_never_makes_a_pass() -> None:
    r = rows([scenario("s1", ["SIG-11"], "passed", [verdict(["SIG-11"], True, None, kind="observation")])])["SIG-11"]
    assert r["verdict"] == "NOT TESTED" and "observation" in r["reason"]
    assert r["checks"] == {"passed": 0, "failed": 0, "observations": 1}


def test_pass_needs_a_passed_check_and_no_failed_one() -> None:
    r = rows([scenario("s1", ["SIG-10"], "passed", [verdict(["SIG-10"], True, None)])])["SIG-10"]
    assert r["verdict"] == "PASS" and r["checks"]["passed"] == 1


def test_not_tested_not_applicable_and_attestation() -> None:
    r = rows([scenario("s1", ["SIG-13"], "not_tested", [], "NOT TESTED: needs a hook", cause="not_tested")])
    assert r["SIG-13"]["verdict"] == "NOT TESTED" and "needs a hook" in r["SIG-13"]["reason"]
    assert r["SIG-01"]["verdict"] == "NOT APPLICABLE"  # binds the device; this is a WFM run
    assert rows([], role="device")["GEN-05"]["reason"].startswith("verified by the vendor's attestation")
    assert r["TLS-06"]["verdict"] == "NOT TESTED" and "no scenario" in r["TLS-06"]["reason"]


def test_a_broken_scenario_leaves_its_requirement_not_tested() -> None:
    r = rows([scenario("s1", ["TLS-06"], "broken", [], "SutTimeout: no answer", cause="broken")])["TLS-06"]
    assert r["verdict"] == "NOT TESTED" and "SutTimeout" in r["reason"]


def test_role_levels_come_from_the_catalog() -> None:
    assert rows([], role="wfm")["GEN-03"]["verdict_level"] == "SHOULD"
    assert rows([], role="device")["GEN-03"]["verdict_level"] == "MUST"


# --- build_summary: a pure function of the run record ------------------------------------------------


def record(*scenarios: ScenarioRecord, strict: bool = False) -> RunRecord:
    rec = RunRecord(sut=SutDescription("sut", "wfm", "builtin"), profile=PROFILE, strict=strict, started_at=0.0)
    for s in scenarios:
        rec.scenarios[s.id] = s
    return rec


def sr(name: str, outcome: str, cause: str | None, verdicts: list[dict], reqs: tuple[str, ...] = ("SIG-10",)) -> ScenarioRecord:
    s = ScenarioRecord(id=name, feature="f", feature_file="f.feature", name=name, requirements=list(reqs),
                       level="MUST", interpretations=[])
    s.finish(outcome, cause, "" if outcome == "passed" else f"{outcome} message")  # type: ignore[arg-type]
    s.verdicts = verdicts
    return s


def test_unreachable_is_read_from_the_cause_not_the_message() -> None:
    summary = build_summary(record(sr("a", "broken", "unreachable", []), sr("b", "broken", "unreachable", [])),
                            CATALOG, finished_at=1.0)
    assert (summary["result"]["verdict"], summary["result"]["exit_code"]) == ("UNREACHABLE", 3)
    summary = build_summary(record(sr("a", "broken", "unreachable", []), sr("b", "broken", "broken", [])),
                            CATALOG, finished_at=1.0)
    assert (summary["result"]["verdict"], summary["result"]["exit_code"]) == ("INCOMPLETE", 1)


def test_a_deviation_passes_the_run_and_is_listed_by_question() -> None:
    dev = verdict(["SIG-14"], False, "interpretation", qs=("Q-17",), choice="alternative")
    summary = build_summary(record(sr("a", "passed", None, [verdict(["SIG-14"], True, None), dev], ("SIG-14",))),
                            CATALOG, finished_at=1.0)
    assert summary["result"]["exit_code"] == 0
    assert summary["deviations"][0]["interpretations"] == ["Q-17"]
    assert summary["deviations"][0]["choice"] == "alternative"
    q17 = next(q for q in summary["interpretations"] if q["id"] == "Q-17")
    assert q17["preferred"] == [404] and q17["alternatives"] == [401] and q17["observed"]
    assert summary["counts"]["requirements"]["DEVIATION"] == 1
    assert validate_summary(summary) == []


def test_summary_of_a_failed_run_validates_and_names_the_failed_requirement() -> None:
    summary = build_summary(record(sr("a", "failed", "failed", [verdict(["SIG-10"], False, "must")])),
                            CATALOG, finished_at=1.0)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"], result["failed_musts"]) == ("FAIL", 1, ["SIG-10"])
    assert "SIG-10" in result["headline"]
    assert validate_summary(summary) == []


# --- the run's verdict: what was run, and what was not (issue 11) ---------------------------------------------


def _all_wfm_musts_passed() -> list[ScenarioRecord]:
    """One passed check for every MUST the WFM side is judged on, so that nothing but the case under test differs."""
    musts = [r.id for r in CATALOG.all() if PROFILE in r.profiles and r.binds_role("wfm")
             and str(r.level_for("wfm").level) == "MUST" and r.verified_by != "attestation"]
    return [sr(f"s-{req}", "passed", None, [verdict([req], True, None)], (req,)) for req in musts]


def test_a_run_that_judged_every_must_reads_pass() -> None:
    result = build_summary(record(*_all_wfm_musts_passed()), CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"], result["untested_musts"]) == ("PASS", 0, [])


def test_untested_musts_keep_the_result_from_reading_pass_and_are_named() -> None:
    scenarios = [s for s in _all_wfm_musts_passed() if s.id not in ("s-SIG-13", "s-ONB-09")]
    summary = build_summary(record(*scenarios), CATALOG, finished_at=1.0)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"]) == ("PASS WITH GAPS", 0)
    assert result["untested_musts"] == ["ONB-09", "SIG-13"]
    assert result["headline"].startswith("PASS, 2 MUST not tested: ONB-09, SIG-13")
    from margo_conformance.report.markdown import render_markdown

    md = render_markdown(summary)
    checklist = md.split("## Attestation checklist")[1]
    assert "- [ ] **ONB-09**" in checklist and "- [ ] **SIG-13**" in checklist
    assert validate_summary(summary) == []


def test_a_selection_is_partial_and_its_deselected_requirements_say_so() -> None:
    rec = record(sr("a", "passed", None, [verdict(["DIG-03"], True, None)], ("DIG-03",)))
    rec.selection = {"keyword": "digest", "tags": ""}
    rec.deselected = ["SIG-10"]
    summary = build_summary(rec, CATALOG, finished_at=1.0)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"]) == ("PARTIAL", 0) and "-k 'digest'" in result["headline"]
    sig10 = next(r for r in summary["requirements"] if r["id"] == "SIG-10")
    assert sig10["verdict"] == "NOT TESTED" and sig10["reason"].startswith("deselected")
    assert summary["run"]["selection"] == {"keyword": "digest", "tags": ""}
    assert "SIG-10" not in result["untested_musts"]  # left out on purpose, not a gap of the SUT
    assert validate_summary(summary) == []


def test_a_failed_must_in_a_selection_still_fails() -> None:
    rec = record(sr("a", "failed", "failed", [verdict(["DIG-03"], False, "must")], ("DIG-03",)))
    rec.selection = {"keyword": "", "tags": "req_DIG_03"}
    assert build_summary(rec, CATALOG, finished_at=1.0)["result"]["verdict"] == "FAIL"


def test_nothing_selected_is_a_usage_error() -> None:
    rec = record()
    rec.selection = {"keyword": "", "tags": "req_NONE"}
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("NO SCENARIOS", 2)


def test_an_interrupted_run_is_not_a_pass_and_an_aborted_one_is_unreachable() -> None:
    rec = record(sr("a", "passed", None, [verdict(["SIG-10"], True, None)]))
    rec.interrupted = "SIGTERM"
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("INTERRUPTED", 1) and "SIGTERM" in result["headline"]
    rec.interrupted, rec.aborted = None, "stopped early: the WFM stopped answering"
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("UNREACHABLE", 3)
    rec.scenarios["f"] = sr("f", "failed", "failed", [verdict(["SIG-10"], False, "must")])
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]  # an earlier failure stays named
    assert result["exit_code"] == 3 and "SIG-10" in result["headline"] and result["failed_musts"] == ["SIG-10"]


# --- the roll-up never claims more than it judged (issue 18, item 5) -------------------------------------------


def test_a_run_in_which_every_scenario_was_not_tested_never_reads_pass() -> None:
    summary = build_summary(record(sr("a", "not_tested", "not_tested", []),
                                   sr("b", "not_tested", "not_tested", [], ("ONB-09",))), CATALOG, finished_at=1.0)
    result = summary["result"]
    # Issue 19: a run that judged no requirement is never a pass of any kind (was PASS WITH GAPS, exit 0).
    assert (result["verdict"], result["exit_code"]) == ("INCOMPLETE", 1)
    assert summary["counts"]["requirements"]["PASS"] == 0
    gaps = len(result["untested_musts"])
    assert gaps > 0 and result["headline"] == (f"no requirement was judged ({gaps} MUST not tested); a run that "
                                               "judged no requirement certifies nothing")
    assert validate_summary(summary) == []


def test_a_run_whose_only_passes_bind_the_other_side_judged_nothing() -> None:
    # SIG-01 binds the device: in a WFM run its pass is NOT APPLICABLE, so no row of this run passed.
    summary = build_summary(record(sr("a", "passed", None, [verdict(["SIG-01"], True, None)], ("SIG-01",))),
                            CATALOG, finished_at=1.0)
    assert summary["counts"]["requirements"]["PASS"] == 0
    assert (summary["result"]["verdict"], summary["result"]["exit_code"]) == ("INCOMPLETE", 1)
    assert summary["result"]["headline"].startswith("no requirement was judged")


def test_a_profile_without_requirements_is_never_pass() -> None:
    rec = record(sr("a", "passed", None, [verdict(["SIG-10"], True, None)]))
    rec.profile = "nope"
    summary = build_summary(rec, CATALOG, finished_at=1.0)
    assert summary["requirements"] == []
    assert (summary["result"]["verdict"], summary["result"]["exit_code"]) == ("INCOMPLETE", 1)
    assert "no requirement was judged" in summary["result"]["headline"] and "'nope'" in summary["result"]["headline"]


def test_a_selection_that_passed_nothing_does_not_say_every_selected_must_passed() -> None:
    rec = record(sr("a", "not_tested", "not_tested", [], ("SIG-13",)))
    rec.selection = {"keyword": "revoked", "tags": ""}
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert result["verdict"] == "PARTIAL" and "passed" not in result["headline"]
    assert "no requirement was judged" in result["headline"]
    rec.scenarios["b"] = sr("b", "passed", None, [verdict(["DIG-03"], True, None)], ("DIG-03",))
    rec.deselected = [r.id for r in CATALOG.all() if r.id not in ("SIG-13", "DIG-03")]
    assert "; 1 requirement(s) passed, 1 MUST not tested (not a certification)" in \
        build_summary(rec, CATALOG, finished_at=1.0)["result"]["headline"]


def test_a_pass_from_a_scenario_that_broke_is_not_a_pass() -> None:
    broke = sr("broke", "broken", "broken", [verdict(["SIG-10"], True, None)])
    r = rows([broke.to_dict()])["SIG-10"]
    assert r["verdict"] == "NOT TESTED"
    assert "broke" in r["reason"] and "broken message" in r["reason"]
    completed = sr("completed", "passed", None, [verdict(["SIG-10"], True, None)])
    assert rows([broke.to_dict(), completed.to_dict()])["SIG-10"]["verdict"] == "PASS"


def test_a_failed_check_of_a_scenario_that_broke_still_shows() -> None:
    broke = sr("broke", "broken", "broken", [verdict(["GEN-03"], True, None),
                                            verdict(["GEN-03"], False, "advisory", "SHOULD")], ("GEN-03",))
    assert rows([broke.to_dict()])["GEN-03"]["verdict"] == "ADVISORY"


def test_a_failed_check_of_a_requirement_of_the_other_side_is_not_hidden() -> None:
    # SIG-01 binds the device; a failed must-axis check bound to it in a WFM run is a FAIL, not NOT APPLICABLE.
    s = sr("a", "failed", "failed", [verdict(["SIG-01"], False, "must")], ("SIG-01",))
    r = rows([s.to_dict()])["SIG-01"]
    assert (r["verdict"], r["axis"]) == ("FAIL", "must") and "binds the device side" in r["reason"]
    result = build_summary(record(s), CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["failed_musts"]) == ("FAIL", ["SIG-01"])
    dev = sr("d", "passed", None, [verdict(["SIG-01"], False, "interpretation", qs=("Q-05",))], ("SIG-01",))
    assert rows([dev.to_dict()])["SIG-01"]["verdict"] == "DEVIATION"


def test_a_failure_with_no_requirement_row_is_a_harness_error_not_an_empty_fail() -> None:
    # XYZ-01 is in no catalog: the failed scenario has nothing to show under FAIL.
    summary = build_summary(record(sr("ghost", "failed", "failed", [verdict(["XYZ-01"], False, "must")], ("XYZ-01",))),
                            CATALOG, finished_at=1.0)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"], result["failed_musts"]) == ("HARNESS ERROR", 1, [])
    assert result["headline"].startswith("harness error") and "ghost" in result["headline"]
    assert validate_summary(summary) == []
    rec = record(sr("ghost", "failed", "failed", [verdict(["XYZ-01"], False, "must")], ("XYZ-01",)),
                 sr("real", "failed", "failed", [verdict(["SIG-10"], False, "must")]))
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]  # a real failure beside it: FAIL, both named
    assert (result["verdict"], result["failed_musts"]) == ("FAIL", ["SIG-10"])
    assert "harness error: 1 more scenario(s)" in result["headline"] and "ghost" in result["headline"]


def test_collection_errors_are_a_harness_error_not_an_interruption() -> None:
    rec = record()
    rec.collection_errors = ["steps/wfm/broken_steps.py:3: SyntaxError: invalid syntax"]
    summary = build_summary(rec, CATALOG, finished_at=1.0)
    result = summary["result"]
    assert (result["verdict"], result["exit_code"]) == ("HARNESS ERROR", 1)
    assert "steps/wfm/broken_steps.py:3" in result["headline"] and "SIG" not in result["headline"]
    assert validate_summary(summary) == []


def test_a_scenario_that_never_reached_its_call_phase_is_broken_with_the_cause() -> None:
    from margo_conformance.run_record import NO_CALL_PHASE

    s = ScenarioRecord(id="s", feature="f", feature_file="f.feature", name="s", requirements=["SIG-10"],
                       level="MUST", interpretations=[])
    assert s.settled() == ("broken", "broken", NO_CALL_PHASE)
    assert (s.to_dict()["outcome"], s.to_dict()["message"]) == ("broken", NO_CALL_PHASE)
    s.settle()  # what the plugin does at teardown
    assert (s.outcome, s.cause, s.message) == ("broken", "broken", NO_CALL_PHASE)


def test_the_baseline_is_the_profiles_own() -> None:
    from margo_conformance.requirements import Catalog, Profile

    lab = Profile(name="lab-2027", title="a test-only profile", baseline_commit="ab" * 20, repository="example/spec")
    catalog = Catalog(CATALOG.all(), CATALOG.questions(), [*CATALOG.profiles(), lab])
    rec = record(sr("a", "passed", None, [verdict(["SIG-10"], True, None)]))
    assert build_summary(rec, catalog, finished_at=1.0)["profile"]["baseline"] == \
        f"margo/specification@{CATALOG.profile(PROFILE).baseline_commit}"
    rec.profile = "lab-2027"
    summary = build_summary(rec, catalog, finished_at=1.0)
    assert summary["profile"] == {"id": "lab-2027", "baseline": "example/spec@" + "ab" * 20}


def test_the_allure_environment_stamps_the_summarys_baseline(tmp_path) -> None:
    from margo_conformance.report.allure_env import write_environment

    summary = build_summary(record(), CATALOG, finished_at=1.0)
    summary["profile"] = {"id": "lab-2027", "baseline": "example/spec@" + "ab" * 20}
    env = write_environment(tmp_path, summary).read_text()
    assert "spec.baseline=example/spec@" + "ab" * 20 in env.splitlines() and "profile=lab-2027" in env.splitlines()


def test_a_pass_with_a_deviation_names_it_and_never_says_every_requirement_passed() -> None:
    """Issue 18 (Q-33): a WFM that answers 201 to a revoked certificate's onboarding passes a default run, and the
    headline says which requirement deviated instead of "every requirement this suite judges passed"."""
    scenarios = [s for s in _all_wfm_musts_passed() if s.id != "s-SIG-13"]
    dev = verdict(["SIG-13"], False, "interpretation", qs=("Q-33",), choice="other")
    scenarios.append(sr("q33", "passed", None, [dev, verdict(["SIG-13"], True, None)], ("SIG-13",)))
    result = build_summary(record(*scenarios), CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("PASS", 0)
    assert result["headline"] == ("no MUST failed; 1 deviation(s) from our reading: SIG-13 "
                                  "(reported; they fail only --strict)")
    clean = build_summary(record(*_all_wfm_musts_passed()), CATALOG, finished_at=1.0)["result"]
    assert clean["headline"] == "every requirement this suite judges passed"


# --- issue 19: a run lists only its profile's rows; lab preconditions; nothing judged is never a pass ----------


def test_a_miaf_run_lists_only_miaf_rows_and_marks_attestation_and_lab_preconditions() -> None:
    rec = record(sr("a", "passed", None, [verdict(["MTLS-02"], True, None)], ("MTLS-02",)))
    rec.profile = "miaf-rc3"
    summary = build_summary(rec, CATALOG, finished_at=1.0)
    ids = {r["id"] for r in summary["requirements"]}
    assert ids == CATALOG.ids(profile="miaf-rc3") and "SIG-10" not in ids
    by_id = {r["id"]: r for r in summary["requirements"]}
    assert by_id["MTLS-02"]["verdict"] == "PASS"
    assert (by_id["MTLS-10"]["verdict"], by_id["MTLS-10"]["reason"]) == (
        "NOT TESTED", "a lab precondition the operator sets up, not a behaviour of the SUT a scenario can judge")
    assert by_id["MRTY-09"]["verdict"] == "NOT APPLICABLE"  # binds the device; attestation shows on a device run
    assert summary["profile"]["baseline"] == "margo/specification@5c690f364f9ec47f4c5e7ebc492c21995eb4bae7"
    assert summary["result"]["verdict"] == "PASS WITH GAPS" and "MTLS-10" in summary["result"]["untested_musts"]
    assert validate_summary(summary) == []


def test_a_run_that_judged_nothing_is_incomplete_whatever_the_cause() -> None:
    # Only observations (no check) in a MIAF run: no row judged, so the run is not a pass of any kind.
    rec = record(sr("a", "passed", None, [verdict(["MTLS-02"], True, None, kind="observation")], ("MTLS-02",)))
    rec.profile = "miaf-rc3"
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("INCOMPLETE", 1)
    assert result["headline"].startswith("no requirement was judged") and "PASS" not in result["headline"]
    from margo_conformance.report.console import render_console_summary

    lines = render_console_summary(build_summary(rec, CATALOG, finished_at=1.0))
    assert "Result: INCOMPLETE  (exit code 1)" in lines and not any(ln.startswith("Result: PASS") for ln in lines)


def test_no_scenario_of_the_profile_names_the_profile_not_a_selection() -> None:
    rec = record()
    rec.profile = "miaf-rc3"
    result = build_summary(rec, CATALOG, finished_at=1.0)["result"]
    assert (result["verdict"], result["exit_code"]) == ("NO SCENARIOS", 2)
    assert result["headline"] == "no scenario of the wfm suite applies to profile miaf-rc3"
