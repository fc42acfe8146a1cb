"""The load mode's judgement of single answers and its reports, without Locust (issue 13)."""

from __future__ import annotations

import json
import pytest

from margo_conformance.load.classify import DELETE, ONBOARDING, PUT, Tally, classify, retry_after_seconds
from margo_conformance.load.report import render_markdown, timeline_svg, validate_load_summary

GOOD_ONBOARDING = json.dumps({"clientId": "c-123"}).encode()


@pytest.mark.parametrize(("route", "must_fail", "status", "retry_after", "body", "klass", "reason"), [
    (ONBOARDING, False, 201, None, GOOD_ONBOARDING, "expected", "201 with clientId"),
    (ONBOARDING, False, 201, None, b"{}", "violation", "onboarding answer breaks its schema"),
    (ONBOARDING, False, 201, None, b"not json", "violation", "onboarding answer is not JSON"),
    (ONBOARDING, False, 200, None, GOOD_ONBOARDING, "violation", "onboarding answered 200, not 201"),
    (PUT, False, 201, None, b"", "expected", "201"),
    (PUT, False, 200, None, b"", "expected", "200"),
    (DELETE, False, 204, None, b"", "expected", "204"),
    (PUT, True, 401, None, b"", "expected", "refused (401)"),
    (PUT, True, 201, None, b"", "violation", "accepted a request that must fail (201)"),
    (PUT, False, 401, None, b"", "violation", "refused a correct request (401)"),
    (PUT, False, 500, None, b"", "violation", "server error 500"),
    (PUT, False, 503, "2", b"", "allowed", "503 with Retry-After"),
    (ONBOARDING, False, 429, "1", b"", "allowed", "429 with Retry-After"),
    (PUT, False, 429, None, b"", "violation", "429 without Retry-After"),
    (PUT, True, 503, None, b"", "violation", "503 without Retry-After"),
])
def test_classify(route, must_fail, status, retry_after, body, klass, reason) -> None:
    verdict = classify(route, must_fail=must_fail, status=status, retry_after=retry_after, body=body)
    assert (verdict.klass, verdict.reason) == (klass, reason)


def test_no_answer_is_a_violation() -> None:
    verdict = classify(PUT, must_fail=False, status=None, error="timeout: ReadTimeout")
    assert verdict.klass == "violation" and "timeout" in verdict.reason


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT") == 1.0  # a date: present, wait a second


def test_tallies_merge_like_workers_report_them() -> None:
    a, b, master = Tally(), Tally(), Tally()
    a.add(PUT, classify(PUT, must_fail=False, status=201), 201)
    b.add(PUT, classify(PUT, must_fail=False, status=500), 500, "https://margo.example/problems/internal")
    master.merge(a.take())
    master.merge(b.to_dict())
    assert a.total() == 0  # taken
    assert master.total() == 2 and master.total("violation") == 1 and master.violation_rate() == 0.5
    assert master.to_dict()[PUT]["status"] == {"201": 1, "500": 1}


def _summary() -> dict:
    route = {"route": PUT, "count": 10, "rate_per_s": 2.0, "latency_ms": {"p50": 5.0, "p95": 9.0, "p99": 12.0},
             "expected": 9, "allowed": 0, "violations": 1, "by_status": {"201": 9, "500": 1}, "by_problem_type": {},
             "violation_reasons": {"server error 500": 1}}
    return {"schema_version": 1, "harness": {"name": "margo-conformance", "version": "0"},
            "sut": {"name": "x", "base_url": "https://127.0.0.1:1", "defects": []},
            "run": {"started_at": "2026-12-03T00:00:00Z", "finished_at": "2026-12-03T00:00:10Z", "duration_s": 10,
                    "finished_by": "duration", "devices": 2, "spawn_rate": 1, "report_every_s": 1,
                    "reports_per_device": 5, "fault_share": 0.05, "processes": 1, "max_violation_rate": 0},
            "result": {"verdict": "FAIL", "exit_code": 1, "headline": "1 violation", "answers": 10, "violations": 1,
                       "violation_rate": 0.1, "allowed": 0},
            "totals": {"requests": 10, "failures": 1, "rate_per_s": 1.0, "onboardings_per_s": 0.2},
            "routes": [route],
            "timeline": [{"t_s": 1.0, "users": 2, "onboardings_per_s": 1.0, "puts_per_s": 2.0, "p95_put_ms": 9.0}]}


def test_the_summary_schema_markdown_and_plot() -> None:
    summary = _summary()
    assert validate_load_summary(summary) == []
    summary["result"]["verdict"] = "MAYBE"
    assert validate_load_summary(summary)
    md = render_markdown(_summary())
    assert "| capabilities PUT | 10 | 2.0 | 5 | 9 | 12 | 9 | 0 | 1 |" in md and "server error 500 (x1)" in md
    svg = timeline_svg(_summary()["timeline"])
    assert svg.startswith("<svg") and svg.count("<polyline") == 3


def test_the_classifier_never_loads_locust() -> None:
    import sys

    assert "locust" not in sys.modules  # importing it would monkey-patch the test process (gevent)


def test_a_tls_refusal_is_an_answer_expected_for_a_client_that_must_be_refused() -> None:
    from margo_conformance.load.classify import PUT, classify

    refused = classify(PUT, must_fail=True, status=None, refusal="certificate_required")
    assert refused.klass == "expected" and "TLS" in refused.reason
    wrongly = classify(PUT, must_fail=False, status=None, refusal="unknown_ca")
    assert wrongly.klass == "violation" and "unknown_ca" in wrongly.reason
    assert classify(PUT, must_fail=True, status=None, error="connection refused").klass == "violation"
