"""Self-tests of the MIAF device-role suite (profile miaf-rc3): the reference MIAF device passes; each of its
defects is caught on its own requirement.

Each run is ``margo-conformance run --role device --sut builtin --profile miaf-rc3`` in a subprocess, as a user
would, with three recordings side by side (--jobs 3: most MIAF recordings wait out a Retry-After, a backoff, a
bundle refresh or an SVID's expiry rather than compute). To keep CI lean the kill matrix runs each defect over the
shared nominal recording (every scenario tagged @recording:nominal: one launch) plus the scenarios of its own
requirement(s), not over the whole suite: a stray failure is looked for where the defect can show, the nominal run
and its own rows. The clean device runs the whole suite once.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from margo_conformance.defects import defects_for, of_profile

from .killmatrix import SuiteRun, run_suite

PROFILE = "miaf-rc3"
MIAF_DEVICE_DEFECTS = of_profile(defects_for("device"), PROFILE)
BASE = ("--profile", PROFILE, "--jobs", "3")
#: Scenarios of the nominal recording and of no other launch: where a defect of the nominal run shows.
NOMINAL = "recording"


def _tags(*requirements: str) -> tuple[str, ...]:
    marks = [NOMINAL] + ["req_" + r.replace("-", "_") for r in requirements]
    return ("--tags", " or ".join(dict.fromkeys(marks)))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    return run_suite("device", tmp_path_factory.mktemp("device-miaf-clean"), extra=BASE, cold=True)


def test_reference_miaf_device_passes_every_scenario(clean_run: SuiteRun) -> None:
    assert clean_run.exit_code == 0, clean_run.log
    counts = clean_run.summary["counts"]["scenarios"]
    assert counts["failed"] == counts["broken"] == 0, counts
    # Port 443 may be taken (another run side by side) or privileged here: that one scenario may say so.
    untested = [s["message"] for s in clean_run.summary["scenarios"] if s["outcome"] == "not_tested"]
    assert all("443" in m for m in untested) and len(untested) <= 1, untested
    assert counts["passed"] >= 38, counts
    assert clean_run.summary["profile"]["id"] == PROFILE


def test_every_device_binding_must_row_is_judged_or_says_why_not(clean_run: SuiteRun) -> None:
    """A MUST row of the MIAF catalog that binds the device is PASS in the clean run, or NOT TESTED with the reason
    the suite gives for it (attestation, or ``checks.miaf_device.DEVICE_NOT_TESTED``)."""
    from margo_conformance.checks.miaf_device import DEVICE_NOT_TESTED
    from margo_conformance.requirements import load_catalog

    rows = {r["id"]: r for r in clean_run.summary["requirements"]}
    musts = [r for r in load_catalog().all() if PROFILE in r.profiles and r.binds in ("device", "both")
             and r.verdict_level == "MUST"]
    unexplained = [r.id for r in musts if rows[r.id]["verdict"] != "PASS"
                   and r.verified_by == "scenario" and r.id not in DEVICE_NOT_TESTED]
    assert unexplained == [], f"device-binding MUST rows neither judged nor explained: {unexplained}"


def test_the_nominal_recording_is_one_launch_shared_by_its_scenarios(clean_run: SuiteRun) -> None:
    """Every scenario tagged @recording:nominal carries the one shared recording as its evidence."""
    carrying = set()
    for result in (clean_run.output / "allure-results").glob("*-result.json"):
        data = json.loads(result.read_text())
        names = [a["name"] for step in data.get("steps", []) for a in step.get("attachments", [])]
        names += [a["name"] for a in data.get("attachments", [])]
        if any("shared recording 'nominal'" in n for n in names):
            carrying.add(data["name"])
    assert len(carrying) >= 10, carrying


def test_the_run_record_holds_every_connection_and_request(clean_run: SuiteRun) -> None:
    har = json.loads((clean_run.output / "evidence" / "exchanges.har").read_text())
    kinds = {e["_observation"]["kind"] for e in har["log"]["entries"]}
    assert {"http", "tls-handshake", "tls-failure"} <= kinds, kinds


_RUNS: dict[str, SuiteRun] = {}


def defect_run(defect, tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """One run per defect in this worker, shared by the kill matrix and the tests that read it more closely."""
    if defect.name not in _RUNS:
        _RUNS[defect.name] = run_suite("device", tmp_path_factory.mktemp(f"device-miaf-{defect.name}"),
                                       defects=(defect.name,), strict=defect.strict_only,
                                       extra=BASE + _tags(defect.requirement, *defect.related))
    return _RUNS[defect.name]


@pytest.mark.parametrize("defect", MIAF_DEVICE_DEFECTS, ids=[d.name for d in MIAF_DEVICE_DEFECTS])
def test_kill_matrix(defect, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = defect_run(defect, tmp_path_factory)
    assert run.exit_code == 1, f"{defect.name} was not caught (exit {run.exit_code}):\n{run.log}"
    row = run.requirement(defect.requirement)
    # A must defect fails on the must axis; a strict-only one (run with --strict) on the axis of its question/SHOULD.
    axes = ("interpretation", "advisory") if defect.strict_only else ("must",)
    assert row["verdict"] == "FAIL" and row["axis"] in axes, \
        f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis: {row['reason']}"
    assert run.unrelated_failures(defect.requirement, *defect.related) == [], defect.name
    broken = [f"{s['name']}: {s['message'][:200]}" for s in run.summary["scenarios"] if s["outcome"] == "broken"]
    assert broken == [], f"{defect.name} broke scenarios: {broken}"


def test_the_builtin_device_given_its_bundle_as_a_file_through_a_sut_file(tmp_path: Path) -> None:
    """bundle = "file": the same device launched from a SUT file with {bundle_file}; the bundle scenarios say
    NOT TESTED (the device does not fetch its bundle), the others pass. The SVID is renewed through a hook
    (svid_rotation = "hook": the harness rewrites the files, then runs rotate_svid) and the labels change runs
    change_capabilities."""
    sut = tmp_path / "device-miaf.toml"
    sut.write_text(textwrap.dedent("""\
        [sut]
        role = "device"
        profile = "miaf-rc3"
        name = "reference MIAF device, bundle as a file"
        [device]
        launch = "{harness} device run --profile miaf-rc3 --wfm-url {wfm_url} --svid-cert {svid_cert} --svid-key {svid_key} --svid-chain {svid_chain} --bundle-file {bundle_file} --device-id {device_id} --labels-file {labels_file} --watch --timeout 5"
        bundle = "file"
        svid_rotation = "hook"
        rotate_svid = "/usr/bin/env true {svid_cert} {svid_key} {svid_chain}"
        change_capabilities = "/usr/bin/env true {labels_file}"
        timeout_s = 30
        """))
    run = run_suite("device", tmp_path / "out", sut=str(sut),
                    extra=("--jobs", "3", "--tags", "recording or req_MCAP_02 or req_MTLS_08 or req_MTB_01"))
    assert run.exit_code == 0, run.log
    by_name = {s["name"]: s for s in run.summary["scenarios"]}
    mtb01 = by_name["The device does not trust an MIS origin its initial trust does not cover"]
    assert mtb01["outcome"] == "not_tested" and 'bundle = "file"' in mtb01["message"]
    passed = {s["name"] for s in run.summary["scenarios"] if s["outcome"] == "passed"}
    assert len(passed) >= 12, [(s["name"], s["outcome"]) for s in run.summary["scenarios"]]
    assert {"After its SVID is renewed the device connects again with the new one",
            "A changed capability is reported again"} <= passed


@pytest.mark.parametrize("defect", [d for d in MIAF_DEVICE_DEFECTS if d.strict_only],
                         ids=[d.name for d in MIAF_DEVICE_DEFECTS if d.strict_only])
def test_strict_only_defect_passes_a_default_run_with_the_deviation_named(defect, tmp_path: Path) -> None:
    """The default-run half of a strict-only defect (a SHOULD or a position of ours): only its requirement's
    scenarios, where a deviation could wrongly turn into a failure."""
    tags = ("--tags", "req_" + defect.requirement.replace("-", "_"))
    run = run_suite("device", tmp_path, defects=(defect.name,), extra=BASE + tags)
    assert run.exit_code == 0, f"{defect.name} failed a default run:\n{run.log}"
    row = run.requirement(defect.requirement)
    assert row["verdict"] in ("DEVIATION", "ADVISORY"), f"{defect.name}: {defect.requirement} is {row['verdict']} on the {row['axis']} axis"
    assert run.failed_scenarios == [], defect.name


def test_a_defect_of_the_nominal_run_fails_the_scenario_judging_it_there_and_nothing_else(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """otel-false shows only in the manifests of the nominal run: the one scenario that judges MCAP-15 from the shared
    recording fails, on MCAP-15 alone; every other scenario judging the same recording passes."""
    defect = next(d for d in MIAF_DEVICE_DEFECTS if d.name == "otel-false")
    run = defect_run(defect, tmp_path_factory)
    failed = {s["name"]: {r for v in s["verdicts"] if not v["passed"] for r in v["requirements"]}
              for s in run.failed_scenarios}
    assert failed == {"The manifest's id, hosting fields, labels and extensions follow device-capabilities.md":
                      {"MCAP-15"}}, failed
    passed = [s for s in run.summary["scenarios"] if s["outcome"] == "passed"]
    assert len(passed) >= 9, [(s["name"], s["outcome"]) for s in run.summary["scenarios"]]
