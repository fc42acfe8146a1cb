"""--profile on every command, feature selection by @profile tags, and reports that name the profile's spec.

An unknown profile is a usage error (exit 2, one line naming the known profiles) on run, requirements, defects,
wfm serve and load; a run whose profile has no scenario of the role's suite ends NO SCENARIOS (exit 2), never
PASS; the plugin leaves out the scenarios of other profiles without counting them as a -k/--tags selection.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app as cli_app
from margo_conformance.profiles import known_profiles, load_profile
from margo_conformance.pytest_plugin import select_profile, tag_marks
from margo_conformance.resources import FEATURES_DIR, PROJECT_ROOT

runner = CliRunner()
KNOWN = ("httpsig-2026h1", "miaf-rc3")


@pytest.mark.parametrize("args", [
    ["run", "--role", "wfm", "--sut", "builtin", "--profile", "nope"],
    ["run", "--role", "device", "--sut", "builtin", "--profile", "nope"],
    ["requirements", "--profile", "nope"],
    ["requirements", "--questions", "--profile", "nope"],
    ["defects", "--role", "wfm", "--profile", "nope"],
    ["wfm", "serve", "--data-dir", "unused", "--profile", "nope"],
    ["load", "--profile", "nope"],
], ids=["run-wfm", "run-device", "requirements", "questions", "defects", "wfm-serve", "load"])
def test_an_unknown_profile_is_a_usage_error_naming_the_known_ones(args: list[str]) -> None:
    if args[0] == "load":  # gevent patches the process it runs in: never in the test process
        done = subprocess.run([sys.executable, "-m", "margo_conformance", *args], capture_output=True, text=True,
                              timeout=60)
        code, stderr, output = done.returncode, done.stderr, done.stdout + done.stderr
    else:
        result = runner.invoke(cli_app, args)
        code, stderr, output = result.exit_code, result.stderr, result.output
    assert code == 2, output
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output and "Result: PASS" not in output
    assert "unknown profile 'nope'" in lines[0] and all(name in lines[0] for name in KNOWN)


def test_a_sut_file_with_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    sut = tmp_path / "wfm.toml"
    sut.write_text('[sut]\nrole = "wfm"\nname = "x"\nprofile = "nope"\n[wfm]\nbase_url = "https://127.0.0.1:1"\n')
    result = runner.invoke(cli_app, ["run", "--role", "wfm", "--sut", str(sut)])
    assert result.exit_code == 2 and "sut.profile: unknown profile 'nope'" in result.stderr
    assert all(name in result.stderr for name in KNOWN)


def test_requirements_lists_only_the_chosen_profiles_rows() -> None:
    miaf = json.loads(runner.invoke(cli_app, ["requirements", "--json", "--profile", "miaf-rc3"]).stdout)
    assert len(miaf) == 103 and {tuple(r["profiles"]) for r in miaf} == {("miaf-rc3",)}
    assert [r["id"] for r in miaf][:2] == ["MGEN-01", "MGEN-02"] and miaf[-1]["id"] == "MRTY-09"
    table = runner.invoke(cli_app, ["requirements", "--profile", "miaf-rc3", "--binds", "wfm"]).stdout
    assert "MTLS-02" in table and "SIG-11" not in table and "MRTY-06" not in table  # MRTY-06 binds the device
    questions = json.loads(runner.invoke(cli_app, ["requirements", "--questions", "--json", "--profile",
                                                   "miaf-rc3"]).stdout)
    assert [q["id"] for q in questions] == ["Q-19"] + [f"Q-{i}" for i in range(40, 67)] + ["Q-H06"]  # Q-19 applies unchanged
    everything = json.loads(runner.invoke(cli_app, ["requirements", "--json", "--all-profiles"]).stdout)
    assert len(everything) == 88 + 103
    listed = runner.invoke(cli_app, ["requirements", "--profiles"]).stdout.splitlines()
    assert [line.split()[0] for line in listed] == list(KNOWN)
    assert "margo/specification@5c690f364f9ec47f4c5e7ebc492c21995eb4bae7" in listed[1]


def test_attestation_and_lab_precondition_rows_are_marked() -> None:
    from margo_conformance.requirements import load_catalog

    catalog = load_catalog()
    by = {r.id: r.verified_by for r in catalog.select(profile="miaf-rc3") if r.verified_by != "scenario"}
    assert {"MGEN-06": "attestation", "MTLS-10": "lab-precondition", "SVID-17": "attestation",
            "MRTY-09": "attestation"}.items() <= by.items()
    assert {r.id for r in catalog.select(profile="miaf-rc3", verdict_level="MUST")} >= set(by)


def test_defects_are_listed_per_profile() -> None:
    every = json.loads(runner.invoke(cli_app, ["defects", "--role", "wfm", "--json"]).stdout)
    for name in KNOWN:
        result = runner.invoke(cli_app, ["defects", "--role", "wfm", "--json", "--profile", name])
        assert result.exit_code == 0
        listed = json.loads(result.stdout)
        assert all(d["profile"] == name for d in listed)
        assert [d["name"] for d in listed] == [d["name"] for d in every if d["profile"] == name]
    assert any(d["name"] == "sig-any-key" and d["profile"] == "httpsig-2026h1" for d in every)


def test_the_listing_marks_the_strict_only_defects() -> None:
    """A strict-only defect passes a default run (its deviation named): the listing says so, so nobody expects a FAIL."""
    for role, strict, must in (("wfm", "tls12-accepted", "sig-any-key"), ("device", "tls12-allowed", "tls-no-verify")):
        lines = runner.invoke(cli_app, ["defects", "--role", role, "--profile", "httpsig-2026h1"]).stdout.splitlines()
        by_name = {line.split()[0]: line for line in lines}
        assert by_name[strict].endswith(" [strict only]") and not by_name[must].endswith("]"), lines


def test_every_profile_has_a_suite_for_both_roles() -> None:
    """Issue 20 gave the device role its miaf-rc3 suite (features/device/miaf/): no shipped profile is left without
    scenarios for a role any more, so the NO SCENARIOS end (exit 2, never PASS) has no natural trigger here; the
    device-role MIAF suite's own tests run it (tests/suites/test_device_miaf_suite.py)."""
    for role in ("wfm", "device"):
        texts = [f.read_text() for f in (FEATURES_DIR / role).rglob("*.feature")]
        for name in KNOWN:
            assert any(t.startswith(f"@profile:{name}") for t in texts), (role, name)

def _miaf_rows() -> list[Any]:
    from margo_conformance.requirements import load_catalog

    return load_catalog().select(profile="miaf-rc3")


# --- the plugin: tags to marks, selection by profile -----------------------------------------------------


def test_the_profile_tag_becomes_a_profile_mark() -> None:
    marks = tag_marks("profile:miaf-rc3")
    assert marks is not None and marks[0].mark.name == "profile" and marks[0].mark.args == ("miaf-rc3",)
    assert tag_marks("profile:Not A Name") is None


class _Item:
    def __init__(self, name: str, *profiles: str) -> None:
        self.name = name
        self.stash = pytest.Stash()
        self._marks = [pytest.mark.profile(p).mark for p in profiles]

    def iter_markers(self, name: str | None = None) -> Any:
        return iter([m for m in self._marks if name is None or m.name == name])


def test_select_profile_keeps_tagged_and_shared_scenarios_and_reports_the_rest_deselected() -> None:
    items: list[Any] = [_Item("h", "httpsig-2026h1"), _Item("m", "miaf-rc3"), _Item("shared"),
                        _Item("both", "httpsig-2026h1", "miaf-rc3")]
    deselected: list[Any] = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    select_profile(config, items, "miaf-rc3")  # type: ignore[arg-type]
    assert [i.name for i in items] == ["m", "shared", "both"] and [i.name for i in deselected] == ["h"]


def test_every_feature_names_its_profile_at_feature_level() -> None:
    """A feature without a @profile tag runs in every profile (shared): only those of a ``shared`` folder are
    written for that (tests/framework/test_shared_rules.py); every other one names its profile."""
    for feature in sorted(FEATURES_DIR.rglob("*.feature")):
        if feature.parent.name == "shared":
            continue
        lines = [ln.strip() for ln in feature.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        tags = lines[0].split() if lines[0].startswith("@") else []
        assert any(t.startswith("@profile:") and t[len("@profile:"):] in known_profiles() for t in tags), feature


# --- JUnit and the route vocabularies --------------------------------------------------------------------


def test_junit_carries_the_profile_and_its_spec(tmp_path: Path) -> None:
    from margo_conformance.report.junit import rewrite_junit

    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0"?><testsuites><testsuite name="s"><testcase classname="c" name="t"/>'
                    "</testsuite></testsuites>")
    rewrite_junit(path, {}, {"margo.profile": "miaf-rc3", "margo.spec": "margo/specification@5c690f36"})
    rewrite_junit(path, {}, {"margo.profile": "miaf-rc3", "margo.spec": "margo/specification@5c690f36"})  # idempotent
    props = [(p.get("name"), p.get("value")) for p in ET.parse(path).getroot().iter("property")]
    assert props == [("margo.profile", "miaf-rc3"), ("margo.spec", "margo/specification@5c690f36")]


def test_the_httpsig_paths_of_patterns_are_the_profiles_routes() -> None:
    """patterns.py still spells the HTTPSIG paths (the reference WFM, device client and checks import them); until
    they read the profile, they must agree with it."""
    from margo_conformance import patterns, route_matrix
    from margo_conformance.load import classify

    httpsig = load_profile("httpsig-2026h1")
    assert httpsig.route("certificate.get").template == patterns.CERTIFICATE_PATH
    assert httpsig.route("onboarding.post").template == patterns.ONBOARDING_PATH
    assert httpsig.route("capabilities.put").template == patterns.CAPABILITIES_TEMPLATE
    assert httpsig.route("capabilities.delete").template == patterns.CAPABILITIES_TEMPLATE
    titles = [httpsig.route(k).title for k in ("onboarding.post", "capabilities.put", "capabilities.delete")]
    assert [r.name for r in route_matrix.ROUTES] == titles and list(classify.ROUTES) == titles


# --- nothing outside a profile's own modules branches on its name -----------------------------------------


def _branches_on_a_profile_name(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """Profile names used as data a decision reads: an operand of a comparison (``== "miaf-rc3"``, ``in (...)``),
    a key of a dict, or a module-level constant. A name inside a message (a call argument, an f-string) is not
    a branch and is not reported."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def named(node: ast.AST) -> list[tuple[int, str]]:
        return [(n.lineno, n.value) for n in ast.walk(node) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and any(name in n.value for name in names)
                and not n.value.lstrip().startswith(("@profile:", "profile:"))]

    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found += [hit for part in (node.left, *node.comparators) if not isinstance(part, ast.JoinedStr)
                      for hit in named(part)]
        elif isinstance(node, ast.Dict):
            found += [hit for key in node.keys if key is not None for hit in named(key)]
        elif isinstance(node, ast.MatchValue):
            found += named(node)
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            found += named(statement.value)
    return sorted(set(found))


def test_no_code_outside_the_profiles_branches_on_a_profile_name() -> None:
    """A profile name a decision reads is a branch on it: code asks the profile (its authenticator kind, its
    routes, its registry) instead. Only the one default may name one."""
    allowed = {("src/margo_conformance/__init__.py", "httpsig-2026h1"),  # DEFAULT_PROFILE
               # A constant nothing reads any more (validation asks profiles.known_profiles()); left in place so
               # that branches editing the same line merge; delete it at the merge.
               ("src/margo_conformance/sut/__init__.py", "httpsig-2026h1"),
               # The reference MIAF WFM is that profile's own implementation: it names the profile it implements
               # (its defects' registry tag, the server's default profile), and nothing else reads the name.
               ("src/margo_conformance/wfm/miaf/defects.py", "miaf-rc3"),
               ("src/margo_conformance/wfm/miaf/server.py", "miaf-rc3")}
    names = set(known_profiles())
    found = []
    for root in ("src", "steps"):
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            rel = path.relative_to(PROJECT_ROOT).as_posix()
            if rel.startswith("src/margo_conformance/profiles/"):
                continue
            for line, value in _branches_on_a_profile_name(path, names):
                if not any((rel, n) in allowed for n in names if n in value):
                    found.append(f"{rel}:{line}: {value[:80]!r}")
    assert found == [], "code that branches on a profile name (ask the profile instead):\n" + "\n".join(found)


def test_the_branch_finder_sees_comparisons_dict_keys_and_constants(tmp_path: Path) -> None:
    code = tmp_path / "m.py"
    code.write_text('KINDS = ("miaf-rc3",)\n'
                    'def f(p):\n'
                    '    """miaf-rc3 in a docstring is prose."""\n'
                    '    if p == "miaf-rc3":\n'
                    '        return {"httpsig-2026h1": 1}\n'
                    '    raise ValueError(f"profile {p}: see miaf-rc3")\n')
    assert [line for line, _ in _branches_on_a_profile_name(code, set(KNOWN))] == [1, 4, 5]
