"""Profiles as data: both folders load, the API answers from them, and a broken profile.yaml is a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from margo_conformance.errors import ConfigError
from margo_conformance.profiles import (
    Profile,
    UnknownProfile,
    applies_to,
    known_profiles,
    load_profile,
    parse_profile,
)
from margo_conformance.requirements import load_catalog
from margo_conformance.resources import PROFILES_DIR

MIAF, HTTPSIG = "miaf-rc3", "httpsig-2026h1"


@pytest.fixture(scope="module")
def miaf() -> Profile:
    return load_profile(MIAF)


@pytest.fixture(scope="module")
def httpsig() -> Profile:
    return load_profile(HTTPSIG)


def test_known_profiles_are_the_folders() -> None:
    assert known_profiles() == (HTTPSIG, MIAF)
    assert load_profile(MIAF) is load_profile(MIAF)  # cached


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(UnknownProfile) as err:
        load_profile("miaf-rc9")
    assert isinstance(err.value, ConfigError)
    assert "'miaf-rc9'" in str(err.value) and HTTPSIG in str(err.value) and MIAF in str(err.value)
    assert "did you mean miaf-rc3" in str(err.value)


def test_miaf_profile_data(miaf: Profile) -> None:
    assert miaf.spec == "margo/specification@5c690f364f9ec47f4c5e7ebc492c21995eb4bae7" == miaf.baseline
    assert miaf.authenticator == "mtls-svid" and miaf.schema_set == MIAF
    assert set(miaf.routes) == {"capabilities.put", "capabilities.delete"}
    put = miaf.route("capabilities.put")
    assert (put.method, put.template, put.codes) == ("PUT", "/api/v1/capabilities/{deviceId}",
                                                     (200, 201, 400, 403, 404, 422))
    assert miaf.route("capabilities.delete").codes == (204, 403, 404)
    assert put.path(deviceId="gw1/devA") == "/api/v1/capabilities/gw1/devA"  # raw slash
    assert put.matches("PUT", "/api/v1/capabilities/gw1/devA?x=1") == {"deviceId": "gw1/devA"}
    assert put.matches("DELETE", "/api/v1/capabilities/gw1") is None
    assert miaf.route_of("DELETE", "/api/v1/capabilities/d1").key == "capabilities.delete"
    assert miaf.route_of("POST", "/api/v1/onboarding") is None
    with pytest.raises(KeyError, match="capabilities.put"):
        miaf.route("onboarding.post")
    assert {n: (p.status, p.uri) for n, p in miaf.problem_types.items()} == {
        n: (s, f"https://docs.margo.org/specification/problem-types#{n}")
        for n, s in (("invalid-request", 400), ("not-authorized", 403), ("gateway-not-found", 404),
                     ("device-not-found", 404), ("semantic-error", 422))}
    assert miaf.problem_type_named("https://docs.margo.org/specification/problem-types#not-authorized").status == 403
    assert miaf.problem_type_named("https://docs.margo.org/specification/problem-types/not-authorized") is None
    assert miaf.problem_type_alias("https://docs.margo.org/specification/problem-types/not-authorized").name \
        == "not-authorized"


def test_miaf_retry_table_is_the_mrty_rows(miaf: Profile) -> None:
    for status, req in ((429, "MRTY-01"), (503, "MRTY-02")):
        rule = miaf.retry_rule(status)
        assert (rule.retryable, rule.backoff, rule.retry_after, rule.requirement) == (True, "exponential", "must", req)
    assert miaf.retry_rule(500).retry_after == "should"
    other = miaf.retry_rule(404)
    assert (other.retryable, other.backoff, other.retry_after, other.requirement) == (False, "none", "n/a", "MRTY-04")
    assert miaf.retry_rule(201) is None


def test_shared_rules_bind_each_profile_to_its_own_rows(miaf: Profile, httpsig: Profile) -> None:
    gw = miaf.rule("gateway-before-child")
    assert (gw.requirements, gw.status, gw.problem_type, gw.question) == (("MCAP-08",), 404, "gateway-not-found",
                                                                          "Q-48")
    assert miaf.rule("route-scoping").problem_type == "device-not-found"
    assert httpsig.rule("gateway-before-child").requirements == ("CAP-13",)
    for name in ("gateway-before-child", "capabilities-schema", "problem-body", "route-scoping"):
        assert set(miaf.rule(name).requirements) <= load_catalog().ids(profile=MIAF)
        assert set(httpsig.rule(name).requirements) <= load_catalog().ids(profile=HTTPSIG)
    with pytest.raises(KeyError, match="known rules: .*gateway-before-child"):
        miaf.rule("nope")


def test_a_case_narrows_its_rule_and_overrides_what_it_names(miaf: Profile, httpsig: Profile) -> None:
    scoping = miaf.rule("route-scoping")
    child = scoping.case("another-clients-child")
    assert (child.requirements, child.status, child.problem_type) == (("MID-08", "MCAP-08"), 404, "gateway-not-found")
    owner = scoping.case("owners-delete")
    assert (owner.status, owner.question, owner.status_by_question) == (204, "Q-64", False)
    schema = httpsig.rule("capabilities-schema")
    assert schema.status_by_question and schema.question == "Q-H02"
    vendor = schema.case("missing-vendor")
    assert (vendor.requirements, vendor.body, vendor.status) == (("CAP-09",), "manifest-missing-properties-vendor", 422)
    assert miaf.rule("capabilities-schema").case("missing-vendor").body == "missing-vendor"
    assert not miaf.rule("gateway-before-child").status_by_question  # the text states the 404 (Q-48: top level)
    with pytest.raises(KeyError, match="has no case 'nope'; known cases: another-clients-delete"):
        scoping.case("nope")


def test_miaf_fixture_catalogue(miaf: Profile) -> None:
    client, wfm = miaf.fixtures["client"], miaf.fixtures["wfm"]
    assert client["C-NOCERT"]["expected"] == "reject" and client["C-OK"]["expected"] == "accept"
    assert client["C-NODS"]["expected"] == "record" and "C-ROT" in client and "W-AIA" in wfm
    assert len(client) == 37 and len(wfm) == 14
    assert miaf.fixture_expectations["C-2URI"] == "reject" and miaf.fixture_expectations["W-OK"] == "accept"
    assert miaf.fixture("C-RSA2048")["question"] == "Q-57" and miaf.fixture("W-CA")["requirements"] == ["SVID-04"]
    with pytest.raises(KeyError, match="C-NOPE"):
        miaf.fixture("C-NOPE")


def test_httpsig_profile_data(httpsig: Profile) -> None:
    assert httpsig.spec == "margo/specification@35b9aa41478734f136b675fa219cfba0e790acc3"
    assert httpsig.authenticator == "httpsig" and httpsig.retry == {} and httpsig.retry_rule(503) is None
    assert [r.title for r in httpsig.routes.values()] == ["certificate GET", "onboarding POST", "capabilities PUT",
                                                         "capabilities DELETE"]
    assert httpsig.route_titled("capabilities PUT").template == "/api/v1/clients/{clientId}/capabilities/{deviceId}"
    put = httpsig.route("capabilities.put")
    assert put.matches("PUT", "/api/v1/clients/c1/capabilities/gw/dev") == {"clientId": "c1", "deviceId": "gw/dev"}
    assert httpsig.problem_type("signature-verification-failed").uri == \
        "https://docs.margo.org/specification/problems/signature-verification-failed"


def test_the_catalog_spec_commit_is_the_profiles() -> None:
    catalog = load_catalog()
    for name in known_profiles():
        assert catalog.profile(name).baseline == load_profile(name).spec


@pytest.mark.parametrize(("tags", "profile", "runs"), [
    ((), MIAF, True),  # untagged: shared
    (("profile:miaf-rc3", "req:MTLS-02"), MIAF, True),
    (("@profile:miaf-rc3",), HTTPSIG, False),
    (("profile:httpsig-2026h1", "profile:miaf-rc3"), HTTPSIG, True),
])
def test_applies_to(tags: tuple[str, ...], profile: str, runs: bool) -> None:
    assert applies_to(profile, tags) is runs
    assert load_profile(profile).applies_to(tags) is runs


# --- strict loading --------------------------------------------------------------------------------------


def _copy(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / MIAF
    shutil.copytree(PROFILES_DIR / MIAF, folder)
    data = yaml.safe_load((folder / "profile.yaml").read_text())
    mutate(data)
    (folder / "profile.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.update(authenticator="mtls"), "authenticator must be one of httpsig, mtls-svid"),
    (lambda d: d["spec"].update(commit="5c690f36"), "full 40-hex commit"),
    (lambda d: d.update(name="other"), "must be the folder's name"),
    (lambda d: d.update(extra=1), "unknown keys"),
    (lambda d: d.update(schema_set="nope"), "schema_set 'nope' has no folder"),
    (lambda d: d["routes"]["capabilities.put"].update(method="FETCH"), "method must be one of"),
    (lambda d: d["routes"]["capabilities.put"].update(codes=[2000]), "must be an HTTP status code"),
    (lambda d: d["rules"]["route-scoping"].update(requirements=["CAP-06"]), "not a requirement row of profile miaf"),
    (lambda d: d["rules"]["route-scoping"].update(problem_type="gone"), "not in this profile's registry"),
    (lambda d: d["rules"]["route-scoping"].update(question="Q-99"), "question 'Q-99' is not in the catalog"),
    (lambda d: d["retry"][429].update(backoff="linear"), "retry 429: needs retryable"),
    (lambda d: d["rules"]["route-scoping"]["cases"]["owners-delete"].update(requirements=["MID-11"]),
     "case owners-delete: requirements must be some of the rule's"),
    (lambda d: d["rules"]["route-scoping"]["cases"]["owners-delete"].update(problem_type="gone"),
     "case owners-delete: problem_type 'gone' is not in this profile's registry"),
    (lambda d: d["rules"]["route-scoping"]["cases"].update(loose="x"), "case loose must be a mapping"),
    (lambda d: d["rules"]["route-scoping"].update(status_by_question="yes"), "status_by_question must be true or false"),
    (lambda d: d["fixtures"]["client"]["C-OK"].update(expected="maybe"), "fixture C-OK: expected"),
])
def test_a_broken_profile_is_a_config_error_naming_the_key(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        parse_profile(_copy(tmp_path, mutate))


def test_every_shipped_profile_parses_against_the_catalog() -> None:
    for name in known_profiles():
        assert parse_profile(PROFILES_DIR / name).name == name


def test_the_fixture_catalogue_agrees_with_the_pki_fixtures() -> None:
    """The profile's catalogue (data) and the minted fixtures (pki.spiffe) name the same fixtures with the same
    expectation; skipped until the pki module is merged."""
    spiffe = pytest.importorskip("margo_conformance.pki.spiffe")
    miaf = load_profile(MIAF)
    for group, minted in (("client", spiffe.CLIENT_FIXTURES), ("wfm", spiffe.WFM_FIXTURES)):
        data = miaf.fixtures[group]
        assert list(minted) == list(data), group
        assert {n: s.expected for n, s in minted.items()} == {n: b["expected"] for n, b in data.items()}, group
