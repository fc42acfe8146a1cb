"""Allure's environment.properties (who was certified, how) and categories.json (failures by kind)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import __version__

#: Failure kinds, first match wins; messages start with "[REQ-IDS] what: expected ..., observed ...". The ID
#: families of every profile are listed (HTTPSIG: TLS, CERT, ...; MIAF: MTLS, SVID, MID, MTB, MCAP).
CATEGORIES: list[dict[str, Any]] = [
    {"name": "SUT unreachable", "matchedStatuses": ["broken"], "messageRegex": r"(?s).*(SutUnreachable|SutTimeout).*"},
    {"name": "TLS", "matchedStatuses": ["failed"], "messageRegex": r"(?s)^\[[^\]]*\b(TLS-\d+|GEN-02|MTLS-\d+|MGEN-02)\b.*"},
    {"name": "Certificate", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s)^\[[^\]]*\b(CERT-\d+|ONB-0[58]|SVID-\d+|MID-0[1-6]|MTB-\d+)\b.*"},
    {"name": "Digest", "matchedStatuses": ["failed"], "messageRegex": r"(?s)^\[[^\]]*\bDIG-\d+\b.*"},
    {"name": "Signature", "matchedStatuses": ["failed"], "messageRegex": r"(?s)^\[[^\]]*\b(SIG-\d+|ONB-06|ONB-14)\b.*"},
    {"name": "Schema", "matchedStatuses": ["failed"],
     "messageRegex": r"(?s)^\[[^\]]*\b(CAP-(0[89]|1[0-7]|20)|ONB-0[234]|MCAP-(1[2-9]|2[0-2]))\b.*"},
    {"name": "Status code", "matchedStatuses": ["failed"], "messageRegex": r"(?s).*\bstatus\b.*"},
    {"name": "Other requirement failures", "matchedStatuses": ["failed"]},
    {"name": "Harness could not judge", "matchedStatuses": ["broken"]},
]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", " ").replace("=", "\\=").replace(":", "\\:")


def write_environment(allure_dir: Path, summary: dict[str, Any]) -> Path:
    facts = {
        "harness.version": __version__,
        "spec.baseline": summary["profile"]["baseline"],  # the run's profile's, from the catalog
        "profile": summary["profile"]["id"],
        **summary["sut"]["facts"],
        **{f"sut.{k}": v for k in ("vendor", "product", "version") if (v := summary["sut"].get(k))},
        **{f"run.{k}": v for k in ("started_at", "finished_at", "lab", "engineer") if (v := summary["run"].get(k))},
        **({"catalog.sha256": d} if (d := (summary.get("catalog") or {}).get("digest")) else {}),
        **({"record.signer": (summary["record"].get("signer") or "unsigned")} if summary.get("record") else {}),
    }
    lines = [f"{_escape(k)}={_escape(str(v))}" for k, v in sorted(facts.items())]
    path = allure_dir / "environment.properties"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_categories(allure_dir: Path) -> Path:
    path = allure_dir / "categories.json"
    path.write_text(json.dumps(CATEGORIES, indent=2) + "\n")
    return path
