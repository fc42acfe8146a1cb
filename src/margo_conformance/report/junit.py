"""junit.xml that CI tools understand: the SUT failed (<failure>) is kept apart from "the harness could not
judge" (<error>), NOT TESTED is <skipped> with its reason, the class is the feature and the test name starts
with the requirement IDs (CI dashboards show names, not properties).

pytest writes the file; this rewrites each <testcase> from the run record, which knows what pytest does not:
a scenario that raised a harness or transport error is *broken*, whatever exception type carried it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

_RESULT_TAGS = ("failure", "error", "skipped")


def _junit_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml derives them from a node id."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    module = path.replace("/", ".").removesuffix(".py")
    return ".".join([module, *parts[:-1]]), parts[-1]


def test_name(record: dict[str, Any]) -> str:
    return f"{' '.join(record['requirements'])} {record['name']}".strip()


def rewrite_junit(path: Path, scenarios: dict[str, dict[str, Any]],
                  properties: dict[str, str] | None = None) -> None:
    """Rewrite each <testcase> from the run record; ``properties`` (the profile and its spec commit) become
    <property> elements of every <testsuite>, so a CI dashboard shows what the verdicts were judged against."""
    if not path.exists():
        return
    by_key = {_junit_key(nodeid): record for nodeid, record in scenarios.items()}
    tree = ET.parse(path)
    for suite in tree.getroot().iter("testsuite"):
        for case in suite.iter("testcase"):
            record = by_key.get((case.get("classname", ""), case.get("name", "")))
            if record is None:
                continue
            case.set("classname", record["feature"] or record["feature_file"] or case.get("classname", ""))
            case.set("name", test_name(record))
            _set_result(case, record)
        cases = list(suite.iter("testcase"))
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
        suite.set("tests", str(len(cases)))
        if properties:
            _set_properties(suite, properties)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _set_properties(suite: ET.Element, properties: dict[str, str]) -> None:
    element = suite.find("properties")
    if element is None:
        element = ET.Element("properties")
        suite.insert(0, element)
    for name, value in properties.items():
        for old in [p for p in element.findall("property") if p.get("name") == name]:
            element.remove(old)
        ET.SubElement(element, "property", {"name": name, "value": value})


def _set_result(case: ET.Element, record: dict[str, Any]) -> None:
    """One result element per case, from the record's outcome (pytest may have written a teardown error too)."""
    old = [child for child in case if child.tag in _RESULT_TAGS]
    detail = "\n".join(child.text or "" for child in old if child.text)
    for child in old:
        case.remove(child)
    outcome, message = record["outcome"], record.get("message", "")
    if outcome == "passed":
        return
    tag = {"failed": "failure", "broken": "error", "not_tested": "skipped"}[outcome]
    element = ET.Element(tag, {"message": (message or outcome)[:500]})
    if tag == "error":
        element.set("type", f"broken ({record.get('cause') or 'broken'})")
    elif tag == "failure":
        element.set("type", "requirement failed")
    if tag != "skipped":
        element.text = _failure_text(record) or detail
    # result elements come before system-out/system-err
    case.insert(0, element)


def _failure_text(record: dict[str, Any]) -> str:
    lines = []
    for v in record.get("verdicts", []):
        if not v["passed"] and v.get("kind", "check") == "check":
            lines.append(f"[{' '.join(v['requirements'])}] {v['what']}: expected {v['expected']!r}, observed "
                         f"{v['observed']!r} (axis {v['axis']})")
    return "\n".join(lines)
