"""Scenarios written once for every profile (features/*/shared/): bound per profile, never by a profile's own tags.

A shared feature names no profile and no requirement: each scenario names a rule (``@rule:<name>``, on the scenario
or on each Examples block) and the plugin tags it with the rows the run profile binds to that rule (its case's rows
for an Examples row with a ``case`` column). Every rule and case a shared feature uses is bound by every profile,
and every body a case names is one the client adapter of that profile's authenticator can build.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from pytest_bdd.parser import FeatureParser

from margo_conformance.profiles import known_profiles, load_profile
from margo_conformance.pytest_plugin import bind_rules
from margo_conformance.resources import FEATURES_DIR, PROJECT_ROOT

SHARED = sorted(FEATURES_DIR.glob("*/shared/*.feature"))
_RULE_STEP = re.compile(r'the rule "(?P<rule>[^"<]+)"(?: binds the case "(?P<case>[^"<]+)")?')


def _parsed(path: Any) -> Any:
    return FeatureParser(str(path.parent), path.name).parse()


def _uses(path: Any, *, sent_only: bool = False) -> set[tuple[str, str | None]]:
    """(rule, case) pairs a shared feature's steps and Examples rows name (``sent_only``: the cases whose body a
    When step sends)."""
    used: set[tuple[str, str | None]] = set()
    for template in _parsed(path).scenarios.values():
        contexts = [c for ex in template.examples for c in ex.as_contexts()] or [{}]
        for context in contexts:
            for step in (template.render(context) if context else template).steps:
                for m in [] if sent_only else _RULE_STEP.finditer(step.name):
                    used.add((m["rule"], m["case"]))
                if m := re.search(r'the case "(?P<case>[^"]+)" of the rule "(?P<rule>[^"]+)"', step.name):
                    used.add((m["rule"], m["case"]))
    return used


def test_there_are_shared_features_for_the_wfm_role() -> None:
    assert {p.stem for p in SHARED if p.parent.parent.name == "wfm"} >= {
        "capabilities_schema", "gateway_before_child", "problem_bodies", "route_scoping"}


@pytest.mark.parametrize("path", SHARED, ids=[p.stem for p in SHARED])
def test_a_shared_feature_names_no_profile_and_no_requirement_and_each_scenario_a_rule(path: Any) -> None:
    feature = _parsed(path)
    assert not any(t.startswith(("profile:", "req:")) for t in feature.tags), feature.tags
    for template in feature.scenarios.values():
        assert not any(t.startswith(("profile:", "req:", "interpretation:")) for t in template.tags), template.name
        rule_tags = [t for t in template.tags if t.startswith("rule:")]
        for examples in template.examples:
            assert not any(t.startswith(("profile:", "req:")) for t in examples.tags), template.name
            assert rule_tags or any(t.startswith("rule:") for t in examples.tags), (template.name, examples.name)
        assert rule_tags or template.examples, template.name


@pytest.mark.parametrize("path", SHARED, ids=[p.stem for p in SHARED])
def test_a_shared_feature_says_how_it_is_bound(path: Any) -> None:
    feature = _parsed(path)
    text = " ".join(feature.description.split())
    assert "bound per profile" in text and "profile.yaml" in text, path.name
    for rule, _case in _uses(path):
        assert f'"{rule}"' in text, (path.name, rule)


@pytest.mark.parametrize("profile", known_profiles())
def test_every_rule_and_case_a_shared_feature_uses_is_bound_by_every_profile(profile: str) -> None:
    bound = load_profile(profile)
    for path in SHARED:
        for rule, case in _uses(path):
            binding = bound.rule(rule)  # KeyError names the profile and the rule
            if case is not None:
                assert binding.case(case).requirements, (profile, rule, case)


@pytest.mark.parametrize("profile", known_profiles())
def test_every_case_body_is_built_by_the_profiles_client_adapter(profile: str) -> None:
    """httpsig bodies are samples (or raw bytes) with apiVersion and kind; mtls-svid ones are rc.3 manifests
    without them. Chosen by the authenticator kind, never by the profile name."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    from margo_conformance.device import miaf_manifest
    from margo_conformance.payloads import get_sample
    from steps.wfm.clients import ADAPTERS, HttpsigClients

    bound = load_profile(profile)
    assert bound.authenticator in ADAPTERS
    bodies = {bound.rule(r).case(c).body for path in SHARED for r, c in _uses(path, sent_only=True) if c is not None}
    assert bodies and None not in bodies, bodies
    for name in bodies:
        if bound.authenticator == "httpsig":
            if name in HttpsigClients.RAW_BODIES:
                continue
            document = get_sample(name).document
            assert {"apiVersion", "kind"} <= set(document), name
        else:
            content = miaf_manifest.body(name, "dev-1")
            try:
                document = json.loads(content)
            except ValueError:
                continue  # a body that is not JSON on purpose (malformed-body)
            assert isinstance(document, dict) and not {"apiVersion", "kind"} & set(document), name


@pytest.fixture
def plugin_marks(request: pytest.FixtureRequest) -> None:
    """The marks a conformance run registers (``pytest_configure`` of the plugin), for --strict-markers here."""
    from margo_conformance.requirements import load_catalog

    catalog = load_catalog()
    names = ["rule", "interpretation", *(f"req_{r.id.replace('-', '_')}" for r in catalog.all()),
             *(f"q_{q.id.replace('-', '_')}" for q in catalog.questions())]
    for name in names:
        request.config.addinivalue_line("markers", f"{name}: registered by the conformance plugin in a run")


class _Item:
    """Enough of a pytest item for the plugin's rule binding: marks, an Examples row."""

    def __init__(self, rule: str, case: str | None = None) -> None:
        self.nodeid = f"shared::{rule}::{case}"
        self._marks = [pytest.mark.rule(rule).mark]
        if case is not None:
            self.callspec = type("CallSpec", (), {"params": {"_pytest_bdd_example": {"rule": rule, "case": case}}})()

    def iter_markers(self, name: str | None = None) -> Any:
        return iter([m for m in self._marks if name is None or m.name == name])

    def add_marker(self, marker: Any) -> None:
        self._marks.append(getattr(marker, "mark", marker))

    def values(self, name: str) -> list[Any]:
        return [m.args[0] for m in self._marks if m.name == name]


@pytest.mark.parametrize(("profile", "rule", "case", "rows", "question"), [
    ("httpsig-2026h1", "gateway-before-child", None, ["CAP-13"], []),
    ("miaf-rc3", "gateway-before-child", None, ["MCAP-08"], ["Q-48"]),
    ("httpsig-2026h1", "capabilities-schema", "architecture-not-in-enum", ["CAP-14"], ["Q-H02"]),
    ("miaf-rc3", "capabilities-schema", "architecture-not-in-enum", ["MCAP-09", "MCAP-16"], ["Q-52"]),
    ("httpsig-2026h1", "malformed-body", "not-json", ["CAP-07", "ERR-01"], ["Q-H05"]),
    ("miaf-rc3", "route-scoping", None, ["MID-08", "MCAP-08", "MCAP-10"], ["Q-64"]),
])
def test_the_plugin_tags_a_shared_scenario_with_the_run_profiles_rows(profile: str, rule: str, case: str | None,
                                                                        rows: list[str], question: list[str],
                                                                        plugin_marks: None) -> None:
    item = _Item(rule, case)
    bind_rules([item], profile)  # type: ignore[list-item]
    assert item.values("requirement") == rows
    assert item.values("interpretation") == question
    assert all(any(m.name == "req_" + r.replace("-", "_") for m in item._marks) for r in rows)  # --tags selects them


def test_a_rule_or_case_the_profile_does_not_bind_is_a_usage_error(plugin_marks: None) -> None:
    with pytest.raises(pytest.UsageError, match="binds no rule 'nope'"):
        bind_rules([_Item("nope")], "miaf-rc3")  # type: ignore[list-item]
    with pytest.raises(pytest.UsageError, match="has no case 'nope'"):
        bind_rules([_Item("capabilities-schema", "nope")], "httpsig-2026h1")  # type: ignore[list-item]
