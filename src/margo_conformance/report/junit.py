"""junit.xml with the requirement IDs in the test names, for CI dashboards that show only names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def _junit_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml derives them from a node id."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    module = path.replace("/", ".").removesuffix(".py")
    return ".".join([module, *parts[:-1]]), parts[-1]


def add_requirements_to_junit(path: Path, scenarios: dict[str, dict[str, Any]]) -> None:
    if not path.exists():
        return
    by_key = {_junit_key(nodeid): record for nodeid, record in scenarios.items()}
    tree = ET.parse(path)
    for case in tree.getroot().iter("testcase"):
        record = by_key.get((case.get("classname", ""), case.get("name", "")))
        if record and record["requirements"]:
            case.set("name", f"{case.get('name')} [{' '.join(record['requirements'])}]")
    tree.write(path, encoding="utf-8", xml_declaration=True)
