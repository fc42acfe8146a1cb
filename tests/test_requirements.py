"""Requirement catalog: complete for the HTTPSIG profile, levels mapped as decided, loader strict, CLI usable.

The catalog merges every profile folder (profiles/<name>/requirements.yaml); the HTTPSIG assertions here are
about that profile's rows (tests/test_profiles.py covers the MIAF rows)."""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from margo_conformance.cli import app as cli_app
from margo_conformance.errors import ConfigError
from margo_conformance.requirements import DEFAULT_VERDICT, LEVELS, Catalog, load_catalog
from margo_conformance.resources import PROJECT_ROOT, REQUIREMENTS_FILE

PROFILE = "httpsig-2026h1"

# Every row of DIGEST.md section 1 whose Profile column contains H (read by hand; ERR-05 is "M (and sensible
# for H)" and is included on purpose).
EXPECTED_IDS = (
    [f"GEN-{i:02d}" for i in range(1, 8)]
    + [f"TLS-{i:02d}" for i in range(1, 7)]
    + [f"CERT-{i:02d}" for i in range(1, 13)]
    + [f"ONB-{i:02d}" for i in range(1, 17)]
    + [f"SIG-{i:02d}" for i in range(1, 16)]
    + [f"DIG-{i:02d}" for i in range(1, 8)]
    + ["ERR-01", "ERR-02", "ERR-04", "ERR-05"]
    + [f"CAP-{i:02d}" for i in range(1, 22)]
)
# MIAF-only rows must not leak into the HTTPSIG catalog.
# ERR-04 (retry semantics) is MIAF text too, but the device-role retry scenario applies it to H as a SHOULD.
MIAF_ONLY = ["TLS-M1", "TLS-M5", "CERT-M1", "ONB-M1", "SIG-M1", "DIG-M1", "ERR-03", "ERR-06", "ERR-07",
             "ERR-08", "CAP-M1", "CAP-M2", "ID-01", "ID-09", "TB-01", "TB-05"]  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# ------------------------------------------------------------------------------------------ content


def test_catalog_holds_exactly_the_httpsig_rows_in_digest_order(catalog: Catalog) -> None:
    assert [r.id for r in catalog.select(profile=PROFILE)] == EXPECTED_IDS
    assert len(catalog.select(profile=PROFILE)) == 88
    assert catalog.ids(profile=PROFILE) == set(EXPECTED_IDS)
    for rid in MIAF_ONLY:
        assert rid not in catalog


def test_every_entry_is_complete(catalog: Catalog) -> None:
    for r in catalog:
        assert r.level in LEVELS and r.binds in ("wfm", "device", "both")
        assert len(r.profiles) == 1 and r.profiles[0] in {p.name for p in catalog.profiles()}
        assert r.text and "\n" not in r.text and len(r.text) <= 200, r.id
        assert r.sources and r.source == ", ".join(r.sources)
        assert all(re.fullmatch(r"[^\s@]+@[0-9a-f]{8}", s) for s in r.sources), r.id
        assert r.verdict_level in ("MUST", "SHOULD", "MAY")
        if r.verdict_level != DEFAULT_VERDICT[r.level]:
            assert r.note, f"{r.id}: a departure from the default verdict needs a note"


def test_texts_are_our_own_wording() -> None:
    digest = PROJECT_ROOT.parent / "shared" / "spec" / "DIGEST.md"
    if not digest.is_file():
        pytest.skip("shared/spec/DIGEST.md is not beside the checkout")
    miaf = digest.parent / "miaf-rc3" / "DIGEST.md"
    text = digest.read_text() + (miaf.read_text() if miaf.is_file() else "")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and re.fullmatch(r"[A-Z]+-M?\d{2}", cells[1]):
            rows[cells[1]] = cells[2]
    for r in load_catalog():
        assert r.id in rows, f"{r.id} is not a DIGEST row"
        assert r.text != rows[r.id] and r.text not in rows[r.id], r.id


@pytest.mark.parametrize(
    ("rid", "level", "verdict", "binds", "qs"),
    [
        ("TLS-02", "MUST", "MUST", "both", ("Q-08",)),  # MUST (prose) vs SHOULD (yaml)
        ("TLS-04", "MUST", "MUST", "device", ("Q-07",)),  # IMPL/MUST
        ("SIG-07", "MUST", "MUST", "both", ("Q-05", "Q-32")),  # MUST/MAY: all four for the WFM
        ("SIG-08", "SILENT", "MAY", "both", ("Q-02",)),
        ("SIG-10", "MUST", "MUST", "wfm", ("Q-26", "Q-27")),  # MUST (401) / EX (body)
        ("SIG-15", "CONTRADICTION", "MAY", "both", ()),
        ("DIG-04", "CONTRADICTION", "MAY", "both", ("Q-11",)),
        ("DIG-05", "SILENT", "MAY", "both", ("Q-10",)),
        ("CERT-01", "IMPL", "MUST", "wfm", ()),  # IMPL route counts as MUST
        ("CERT-04", "MUST", "MUST", "wfm", ("Q-09",)),  # MUST (ambiguous)
        ("CERT-06", "MUST", "MUST", "device", ("Q-31",)),  # MAY/MUST
        ("CERT-10", "INFORMATIVE", "MAY", "device", ()),
        ("CERT-12", "MAY", "MAY", "wfm", ("Q-12",)),
        ("ONB-02", "IMPL", "MUST", "both", ("Q-15",)),
        ("ONB-03", "MUST", "MUST", "both", ()),
        ("ONB-04", "EX", "MAY", "device", ("Q-21",)),
        ("ONB-06", "MUST", "MUST", "both", ("Q-03",)),
        ("ONB-16", "INFORMATIVE", "MAY", "wfm", ()),
        ("ERR-01", "IMPL", "SHOULD", "wfm", ("Q-27",)),
        ("ERR-02", "SHOULD", "SHOULD", "wfm", ("Q-27", "Q-29", "Q-30")),
        ("ERR-05", "MUST", "SHOULD", "device", ()),  # MIAF text, only "sensible for H"
        ("CAP-13", "MUST", "MUST", "both", ()),
        ("CAP-16", "IMPL", "SHOULD", "device", ("Q-19",)),
        ("CAP-17", "MUST", "MUST", "both", ()),
        ("CAP-20", "SILENT", "MAY", "both", ("Q-18",)),
    ],
)  # fmt: skip
def test_level_mapping_decisions(catalog: Catalog, rid: str, level: str, verdict: str, binds: str, qs: tuple) -> None:
    r = catalog.get(rid)
    assert (r.level, r.verdict_level, r.binds, r.interpretations) == (level, verdict, binds, qs)


def test_mixed_digest_levels_are_kept_for_traceability(catalog: Catalog) -> None:
    assert catalog.get("TLS-02").digest_level == "MUST (prose) vs SHOULD (yaml)"
    assert catalog.get("SIG-07").digest_level == "MUST/MAY"
    assert "sensible for H" in (catalog.get("ERR-05").note or "")
    assert catalog.get("GEN-02").digest_level is None


HARNESS_QUESTIONS = ["Q-H01", "Q-H02", "Q-H03", "Q-H04", "Q-H05"]


def test_questions_and_profile(catalog: Catalog) -> None:
    # Q-01..Q-33 are DIGEST section 6; Q-H01.. are harness-numbered positions, in a form the DIGEST never uses.
    assert [q.id for q in catalog.questions(profile=PROFILE)] == [f"Q-{i:02d}" for i in range(1, 34)] + HARNESS_QUESTIONS
    for qid in HARNESS_QUESTIONS:
        assert "harness-numbered" in catalog.question(qid).summary
    assert "revoked" in catalog.question("Q-33").summary
    q = catalog.question("Q-08")
    assert "1.2" in q.summary and q.position
    assert q.get("question") == q.summary and q.get("position") == q.position and q.get("nope") is None
    with pytest.raises(KeyError, match="Q-99"):
        catalog.question("Q-99")
    profile = catalog.profile(PROFILE)
    assert profile.baseline_commit == "35b9aa41478734f136b675fa219cfba0e790acc3"
    assert [p.name for p in catalog.profiles()] == [PROFILE, "miaf-rc3"]
    used = {q for r in catalog for q in r.interpretations}
    assert used <= {q.id for q in catalog.questions()}
    assert [q.id for q in catalog.interpretations_of(["SIG-11", "TLS-02"])] == ["Q-08", "Q-14", "Q-25"]


def test_code_questions_list_preferred_and_alternative_answers(catalog: Catalog) -> None:
    q17 = catalog.question("Q-17")
    assert (q17.preferred, q17.alternatives) == ((404,), (401,))
    assert [q17.choice(c) for c in (404, 401, 403)] == ["preferred", "alternative", "other"]
    assert catalog.question("Q-14").preferred == (401,) and 400 in catalog.question("Q-14").alternatives
    assert catalog.question("Q-16").alternatives == () and set(catalog.question("Q-16").preferred) == {400, 403}


def test_role_levels(catalog: Catalog) -> None:
    assert str(catalog.get("GEN-03").level_for("wfm")) == "SHOULD"
    assert str(catalog.get("GEN-03").level_for("device")) == "MUST"
    cap20 = catalog.get("CAP-20").level_for("device")
    assert (cap20.level, cap20.by) == ("MUST", "Q-18")
    assert str(catalog.get("SIG-10").level_for("wfm")) == "MUST"


def test_a_role_level_above_the_text_needs_the_interpretation_it_rests_on(tmp_path) -> None:
    import yaml

    from margo_conformance.resources import PROFILES_DIR

    data = yaml.safe_load((PROFILES_DIR / PROFILE / "requirements.yaml").read_text())
    data["profiles"] = {PROFILE: {"title": "t", "baseline_commit": "35b9aa41478734f136b675fa219cfba0e790acc3"}}
    entry = next(r for r in data["requirements"] if r["id"] == "CAP-20")
    entry["role_levels"] = {"device": "MUST"}
    bad = tmp_path / "catalog.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="name the interpretation it rests on"):
        load_catalog(bad)


def test_queries(catalog: Catalog) -> None:
    wfm = catalog.ids(binds="wfm")
    assert "CERT-01" in wfm and "GEN-01" in wfm and "SIG-01" not in wfm  # both applies to each role
    assert catalog.ids(binds="both") == {r.id for r in catalog if r.binds == "both"}
    assert catalog.ids(level="MUST") == {r.id for r in catalog if r.level == "MUST"}
    must_verdict = catalog.ids(verdict_level="MUST")
    assert "CERT-01" in must_verdict and "CERT-01" not in catalog.ids(level="MUST")
    assert catalog.ids(level="SHOULD", profile=PROFILE) == {"ERR-02"}
    assert catalog.strongest_verdict("ERR-02", "SIG-10") == "MUST"
    assert catalog.strongest_verdict("ERR-02", "SIG-04") == "SHOULD"
    assert "SIG-11" in catalog and "SIG-99" not in catalog
    with pytest.raises(KeyError, match="did you mean"):
        catalog.get("SIG-1")
    with pytest.raises(ConfigError, match="unknown level"):
        catalog.ids(level="must-ish")
    with pytest.raises(ConfigError, match="unknown profile"):
        catalog.ids(profile="nope")


def test_load_catalog_is_cached_and_reloads_a_changed_file(tmp_path: Path) -> None:
    assert load_catalog() is load_catalog(REQUIREMENTS_FILE)
    path = _write(tmp_path, _base())
    first = load_catalog(path)
    data = _base()
    data["requirements"].append({**_REQ, "id": "GEN-02"})
    path.write_text(yaml.safe_dump(data) + "\n# changed\n")
    assert len(load_catalog(path)) == len(first) + 1


# ------------------------------------------------------------------------------------------ loader defects

_REQ: dict[str, Any] = {
    "id": "GEN-01",
    "level": "MUST",
    "verdict_level": "MUST",
    "binds": "both",
    "profiles": [PROFILE],
    "text": "One line.",
    "source": ["api-requirements-and-security.md@35b9aa41"],
    "interpretations": ["Q-01"],
}


def _base() -> dict[str, Any]:
    return {
        "profiles": {PROFILE: {"title": "t", "baseline_commit": "35b9aa41478734f136b675fa219cfba0e790acc3"}},
        "questions": [{"id": "Q-01", "summary": "s", "position": "p"}],
        "requirements": [dict(_REQ)],
    }


def _write(tmp_path: Path, data: dict[str, Any] | str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_minimal_catalog_loads(tmp_path: Path) -> None:
    c = load_catalog(_write(tmp_path, _base()))
    assert c.get("GEN-01").interpretations == ("Q-01",)
    assert c.get("GEN-01").source == "api-requirements-and-security.md@35b9aa41"


def test_verdict_level_defaults_from_level(tmp_path: Path) -> None:
    data = _base()
    data["requirements"] = [{k: v for k, v in {**_REQ, "level": "IMPL"}.items() if k != "verdict_level"},
                            {**{k: v for k, v in _REQ.items() if k != "verdict_level"}, "id": "GEN-02", "level": "EX"}]  # fmt: skip
    c = load_catalog(_write(tmp_path, data))
    assert (c.get("GEN-01").verdict_level, c.get("GEN-02").verdict_level) == ("MUST", "MAY")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"level": "MUSTNT"}, "unknown level 'MUSTNT'"),
        ({"binds": "server"}, "unknown binds 'server'"),
        ({"profiles": ["miaf-rc3"]}, "unknown profile 'miaf-rc3'"),
        ({"profiles": []}, "non-empty list"),
        ({"interpretations": ["Q-33"]}, "interpretation Q-33 is not defined"),
        ({"interpretations": ["Q8"]}, "malformed interpretation ID 'Q8'"),
        ({"id": "SIG11"}, "malformed ID 'SIG11'"),
        ({"id": "sig-11"}, "malformed ID"),
        ({"verdict_level": "MUSTY"}, "unknown verdict_level"),
        ({"level": "SHOULD", "verdict_level": "MUST"}, "stronger than level SHOULD"),
        ({"level": "EX", "verdict_level": "SHOULD"}, "stronger than level EX"),
        ({"verdict_level": "SHOULD"}, "say why in note"),
        ({"text": "two\nlines"}, "one non-empty line"),
        ({"text": ""}, "one non-empty line"),
        ({"source": ["api-requirements-and-security.md"]}, "is not file@commit"),
        ({"source": []}, "source must be"),
        ({"colour": "red"}, "unknown keys \\['colour'\\]"),
    ],
)
def test_loader_rejects_a_bad_entry(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    data = _base()
    data["requirements"] = [{**_REQ, **change}]
    with pytest.raises(ConfigError, match=message):
        load_catalog(_write(tmp_path, data))


def test_loader_names_a_missing_key(tmp_path: Path) -> None:
    data = _base()
    data["requirements"] = [{k: v for k, v in _REQ.items() if k != "binds"}]
    with pytest.raises(ConfigError, match="requirement GEN-01: missing binds"):
        load_catalog(_write(tmp_path, data))


def test_loader_rejects_duplicate_ids(tmp_path: Path) -> None:
    data = _base()
    data["requirements"] = [dict(_REQ), {**_REQ, "text": "Another line."}]
    with pytest.raises(ConfigError, match=r"duplicate requirement ID GEN-01 \(entries #1 and #2\)"):
        load_catalog(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["questions"].append({"id": "Q-01", "summary": "s", "position": "p"}), "duplicate question ID Q-01"),
        (lambda d: d["questions"].append({"id": "Q1", "summary": "s", "position": "p"}), "malformed ID 'Q1'"),
        (lambda d: d["questions"].append({"id": "Q-02", "summary": "s"}), "Q-02 needs a one-line position"),
        (lambda d: d["profiles"][PROFILE].update(baseline_commit="35b9aa41"), "full 40-hex commit"),
        (lambda d: d.pop("profiles"), "'profiles' must be a non-empty mapping"),
        (lambda d: d.update(requirements=[]), "'requirements' must be a non-empty list"),
        (lambda d: d.update(extra=1), "unknown top-level keys"),
    ],
)
def test_loader_rejects_bad_questions_profiles_and_layout(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _base()
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        load_catalog(_write(tmp_path, data))


def test_loader_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the requirement catalog"):
        load_catalog(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(_write(tmp_path, "requirements: [\n  - id: GEN-01\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_catalog(_write(tmp_path, "- just\n- a list\n", "list.yaml"))


# ------------------------------------------------------------------------------------------ CLI

runner = CliRunner()


def test_cli_table_lists_the_profile() -> None:
    result = runner.invoke(cli_app, ["requirements", "--profile", PROFILE])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["ID", "LEVEL", "COUNTS", "BINDS", "READINGS"]
    listed = [line.split()[0] for line in lines[1:] if re.match(r"^[A-Z]+-\d{2}\s", line)]
    assert listed == EXPECTED_IDS
    tls02 = next(line for line in lines if line.startswith("TLS-02"))
    assert tls02.split()[1:5] == ["MUST", "MUST", "both", "Q-08"]
    assert lines[-1] == f"88 requirements (profile {PROFILE})"


def test_cli_json_is_the_catalog() -> None:
    result = runner.invoke(cli_app, ["requirements", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [d["id"] for d in data] == EXPECTED_IDS
    sig11 = next(d for d in data if d["id"] == "SIG-11")
    assert sig11["level"] == "MUST" and sig11["binds"] == "wfm" and sig11["profiles"] == [PROFILE]
    assert sig11["interpretations"] == ["Q-14", "Q-25"] and sig11["verdict_level"] == "MUST"
    assert sig11["source"] == "api-requirements-and-security.md@35b9aa41" and sig11["text"]


def test_cli_filters() -> None:
    result = runner.invoke(cli_app, ["requirements", "--json", "--binds", "device", "--level", "must"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data and all(d["level"] == "MUST" and d["binds"] in ("device", "both") for d in data)
    assert {"SIG-01", "CAP-11", "ONB-06"} <= {d["id"] for d in data} and "SIG-11" not in {d["id"] for d in data}
    result = runner.invoke(cli_app, ["requirements", "--json", "--counts-as", "SHOULD"])
    assert [d["id"] for d in json.loads(result.stdout)] == ["ERR-01", "ERR-02", "ERR-04", "ERR-05", "CAP-16"]
    result = runner.invoke(cli_app, ["requirements", "--questions", "--json"])
    assert [q["id"] for q in json.loads(result.stdout)] == [f"Q-{i:02d}" for i in range(1, 34)] + HARNESS_QUESTIONS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--binds", "server"], "--binds must be one of wfm, device, both"),
        (["--level", "MOST"], "unknown level 'MOST'"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(cli_app, ["requirements", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_reads_another_catalog_and_reports_its_defects(tmp_path: Path) -> None:
    data = _base()
    data["requirements"][0]["level"] = "MUSTNT"
    result = runner.invoke(cli_app, ["requirements", "--catalog", str(_write(tmp_path, data))])
    assert result.exit_code == 2 and "unknown level 'MUSTNT'" in result.stderr


def test_the_report_schema_uses_the_one_id_patterns() -> None:
    """summary.schema.json cannot import Python: it must spell the patterns of ``patterns.py`` exactly."""
    import json

    from margo_conformance.patterns import QUESTION_ID, REQUIREMENT_ID
    from margo_conformance.resources import SCHEMAS_DIR

    defs = json.loads((SCHEMAS_DIR / "report" / "summary.schema.json").read_text())["$defs"]
    assert defs["requirementId"]["pattern"] == f"^{REQUIREMENT_ID}$"
    assert defs["questionId"]["pattern"] == f"^{QUESTION_ID}$"


def test_every_id_shape_of_the_catalog_parses_in_steps_and_tags() -> None:
    from margo_conformance.pytest_plugin import REQ_TAG
    from steps.reqtext import requirements

    assert requirements("TLS-M1, SIG-11, advisory") == ("TLS-M1", "SIG-11")
    assert REQ_TAG.fullmatch("req:TLS-M1")["id"] == "TLS-M1"


# ------------------------------------------------------------------------------------------ IDs the code cites

_ID_TEXT = re.compile(r"\b(?:[A-Z]{2,5}-(?:M\d{1,2}|\d{2}))\b")
#: Calls whose string arguments are requirement references: ``bound_to("SIG-09")``, ``requirement(s)("...")``,
#: ``@check("SIG-09", ...)``, the route matrix's ``Expect(("SIG-10",), ...)``; and any ``requirements=(...)``
#: keyword (``Judge.note``).
_CITING_CALLS = {"check", "bound_to", "requirement", "requirements", "Expect"}


def _cited_ids_in_python(path: Path) -> set[str]:
    """Requirement IDs a Python file cites in string literals passed to the citing calls (see above)."""
    from margo_conformance.patterns import REQUIREMENT_ID_RE

    found: set[str] = set()

    def literals(node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                text = sub.value
                found.update({text} if REQUIREMENT_ID_RE.match(text) else set(_ID_TEXT.findall(text)))

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in _CITING_CALLS:
            for arg in node.args:
                literals(arg)
        for kw in node.keywords:
            if kw.arg == "requirements":
                literals(kw.value)
    return found


def _cited_ids_in_feature(path: Path) -> set[str]:
    """``@req:ID`` tags and the "(ID, ID)" a step line ends with."""
    ids: set[str] = set()
    for line in path.read_text().splitlines():
        ids.update(re.findall(r"@req:(\S+)", line))
        if cited := re.search(r"\(([^()]*)\)\s*$", line.strip()):
            ids.update(_ID_TEXT.findall(cited.group(1)))
    return ids


def _cited_ids() -> dict[str, set[str]]:
    """Every requirement ID the suites cite, by file (relative to the project)."""
    from margo_conformance.resources import FEATURES_DIR

    src = PROJECT_ROOT / "src" / "margo_conformance"
    files = [*sorted((src / "checks").glob("*.py")), *sorted((PROJECT_ROOT / "steps").rglob("*.py")),
             src / "route_matrix.py"]
    cited = {str(f.relative_to(PROJECT_ROOT)): _cited_ids_in_python(f) for f in files}
    cited.update({str(f.relative_to(PROJECT_ROOT)): _cited_ids_in_feature(f)
                  for f in sorted(FEATURES_DIR.rglob("*.feature"))})
    return cited


def test_every_requirement_id_the_suites_cite_is_in_the_catalog(catalog: Catalog) -> None:
    """An ID the catalog does not hold has no row to report under: the judge would break the scenario at run
    time; this finds it before any run, naming the file."""
    cited = _cited_ids()
    assert sum(len(ids) for ids in cited.values()) > 100  # the scan sees the suites (not an empty pass)
    unknown = [f"{file}: {rid}" for file, ids in cited.items() for rid in sorted(ids) if rid not in catalog]
    assert not unknown, "requirement IDs not in the catalog (profiles/*/requirements.yaml):\n" + "\n".join(unknown)


def test_the_id_scan_sees_decorators_bindings_notes_and_tags(tmp_path: Path) -> None:
    code = tmp_path / "steps.py"
    code.write_text(textwrap.dedent('''
        @check("SIG-98", interpretations=("Q-05",))
        def c(x): ...
        judge(c(x).bound_to("ONB-97"))
        judge.note("x", 1, requirements=("CAP-96",))
        requirements("TLS-95, GEN-94, advisory")
        Expect(("DIG-93",), status=400)
        other("SIG-92")
    '''))
    assert _cited_ids_in_python(code) == {"SIG-98", "ONB-97", "CAP-96", "TLS-95", "GEN-94", "DIG-93"}
    feature = tmp_path / "x.feature"
    feature.write_text("  @req:SIG-91 @level:MUST\n  Scenario: s\n    Then the WFM answers 401 (SIG-90, advisory)\n")
    assert _cited_ids_in_feature(feature) == {"SIG-91", "SIG-90"}


def test_every_question_id_the_suites_cite_is_in_the_catalog(catalog: Catalog) -> None:
    """A Q-ID a check, step, route-matrix row or feature rests on must be a catalog question: the summary reads
    its position, and a typo would otherwise surface only in a run that fails on it."""
    from margo_conformance.patterns import QUESTION_ID
    from margo_conformance.resources import FEATURES_DIR

    src = PROJECT_ROOT / "src" / "margo_conformance"
    files = [*sorted((src / "checks").glob("*.py")), *sorted((PROJECT_ROOT / "steps").rglob("*.py")),
             src / "route_matrix.py", *sorted(FEATURES_DIR.rglob("*.feature"))]
    cited = {f"{p.relative_to(PROJECT_ROOT)}: {q}" for p in files
             for q in re.findall(rf"\b{QUESTION_ID}\b", p.read_text())}
    assert len(cited) > 20  # the scan sees the suites
    unknown = sorted(c for c in cited if c.rpartition(": ")[2] not in {q.id for q in catalog.questions()})
    assert not unknown, "questions not in the catalog (profiles/*/requirements.yaml):\n" + "\n".join(unknown)
