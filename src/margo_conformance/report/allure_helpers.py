"""Evidence into Allure: exchanges, verdicts, certificate summaries, schema errors (never key material).

Every function here is a no-op when no Allure results directory is configured, so steps can call them
unconditionally. Text passes through ``evidence.redact`` before it is attached.
"""

from __future__ import annotations

import json
from typing import Any

import allure

from ..evidence import Exchange, redact
from ..verdict import RecordedVerdict


def attach_text(text: str, name: str) -> None:
    allure.attach(redact(text), name=name, attachment_type=allure.attachment_type.TEXT)


def attach_json(data: Any, name: str) -> None:
    allure.attach(redact(json.dumps(data, indent=2, default=str)), name=name,
                  attachment_type=allure.attachment_type.JSON)


def attach_exchange(exchange: Exchange, name: str = "exchange") -> None:
    """The request and response as text, the signature bases and the findings (DESIGN.md section 6)."""
    attach_text(exchange.to_text(), name)


def attach_verdict(record: RecordedVerdict) -> None:
    verdict = record.verdict
    state = "passed" if verdict.passed else f"FAILED ({record.axis})"
    title = f"check {state}: {' '.join(verdict.requirements)} {verdict.what}"
    attach_json(record.to_dict(), title[:200])
