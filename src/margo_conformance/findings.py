"""A finding: one stated fact about a message, with a stable code a person and a test can rely on.

Codes are kebab-case and never change meaning once published (reports and vendor tickets quote them).
Severity ``error`` makes a verdict fail; ``warning`` is reported (advisory / interpretation axis).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str
    severity: Severity = "error"
    #: The requirement ID this finding speaks to, when the checker knows it (e.g. "DIG-01").
    requirement: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]
