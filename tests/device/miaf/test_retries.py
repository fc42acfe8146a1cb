"""Answers and retries: Retry-After (delta and HTTP-date) over retryAfterSeconds, backoffStrategy, retryable
false never resent (MRTY-05..08, Q-45, Q-46), the problem type never dereferenced (MERR-07)."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from margo_conformance.device.miaf.defects import behaviour_for
from margo_conformance.device.miaf.retry import Backoff, advise
from margo_conformance.evidence import CapturedResponse

from .conftest import run_device, wfm
from .helpers import Origin

NOW = 1_800_000_000.0


def _answer(status: int, body: dict | None = None, **headers: str) -> CapturedResponse:
    hdrs = [(k.replace("_", "-"), v) for k, v in headers.items()]
    if body is not None:
        hdrs.append(("content-type", "application/problem+json"))
    return CapturedResponse(status, hdrs, json.dumps(body).encode() if body is not None else b"")


def _problem(status: int, retryable: bool, strategy: str, seconds: int | None = None) -> dict:
    doc = {"type": "about:blank", "title": "x", "status": status, "retryable": retryable, "backoffStrategy": strategy}
    if seconds is not None:
        doc["retryAfterSeconds"] = seconds
    return doc


CLEAN = behaviour_for()


@pytest.mark.parametrize(("answer", "retry", "delay"), [
    (_answer(503, _problem(503, True, "exponential", 9), retry_after="3"), True, 3.0),  # the header wins
    (_answer(503, _problem(503, True, "exponential", 4)), True, 4.0),  # no header: the member
    (_answer(429, _problem(429, True, "fixed"), retry_after=email.utils.formatdate(NOW + 7, usegmt=True)), True, 7.0),
    (_answer(503), True, 1.0),  # a bare 503: retried after the default second
    (_answer(422, _problem(422, False, "none")), False, 0.0),
    (_answer(500, _problem(500, True, "none")), False, 0.0),  # none = do not retry
    (_answer(409), False, 0.0),  # a 4xx without the members
    (_answer(201), False, 0.0),
])
def test_advice(answer: CapturedResponse, retry: bool, delay: float) -> None:
    advice = advise(answer, CLEAN, now=NOW)
    assert (advice.retry, advice.delay_s) == (retry, delay)


def test_backoff_exponential_doubles_fixed_keeps_and_retry_after_is_a_floor() -> None:
    exp = advise(_answer(503, _problem(503, True, "exponential"), retry_after="2"), CLEAN, now=NOW)
    fixed = advise(_answer(503, _problem(503, True, "fixed"), retry_after="2"), CLEAN, now=NOW)
    b = Backoff(CLEAN)
    assert [b.gap(exp) for _ in range(3)] == [2.0, 4.0, 8.0]
    b = Backoff(CLEAN)
    assert [b.gap(fixed) for _ in range(3)] == [2.0, 2.0, 2.0]
    b = Backoff(CLEAN)
    longer = advise(_answer(503, _problem(503, True, "exponential"), retry_after="10"), CLEAN, now=NOW)
    assert [b.gap(exp), b.gap(longer)] == [2.0, 10.0]
    assert [Backoff(behaviour_for(["no-backoff"])).gap(exp) for _ in range(2)] == [2.0, 2.0]
    assert Backoff(behaviour_for(["ignores-retry-after"])).gap(exp) == 0.2
    assert advise(_answer(422, _problem(422, False, "none")), behaviour_for(["retries-non-retryable"])).retry


def _gaps(peer) -> list[float]:
    starts = [e.started_at for e in peer.seen]
    return [b - a for a, b in zip(starts, starts[1:])]


def test_503_retry_after_is_honoured(authority, files) -> None:
    with wfm(authority) as peer:
        peer.server.faults.unavailable(retry_after=1, count=1)
        code, out = run_device(peer.url, *files.args())
    assert code == 0, out
    assert [s for _, _, s in peer.requests()] == [503, 201]
    assert _gaps(peer)[0] >= 0.95


def test_ignores_retry_after_comes_back_early(authority, files) -> None:
    with wfm(authority) as peer:
        peer.server.faults.unavailable(retry_after=1, count=1)
        code, _ = run_device(peer.url, *files.args(), "--defect", "ignores-retry-after")
    assert code == 0 and _gaps(peer)[0] < 0.9  # 0.2 s, where the clean device waits >= 1 s


@pytest.mark.parametrize(("defect", "second_gap"), [(None, 2.0), ("no-backoff", 1.0)])
def test_exponential_backoff_grows_the_gap(authority, files, defect, second_gap) -> None:
    with wfm(authority) as peer:
        peer.server.faults.unavailable(retry_after=1, count=2)
        code, out = run_device(peer.url, *files.args(), *(["--defect", defect] if defect else []))
    assert code == 0, out
    first, second = _gaps(peer)
    assert first >= 0.95 and second >= second_gap - 0.05
    assert defect is None or second < 1.9  # no-backoff: the gap did not grow


def test_http_date_retry_after_is_honoured(authority, files) -> None:
    with wfm(authority) as peer:
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        peer.server.faults.respond(503, _problem(503, True, "fixed"), headers={"Retry-After": when})
        code, out = run_device(peer.url, *files.args())
    assert code == 0, out
    assert peer.seen[1].started_at >= email.utils.parsedate_to_datetime(when).timestamp() - 0.1  # not before the date


@pytest.mark.parametrize(("defect", "puts"), [(None, 1), ("retries-non-retryable", 3)])
def test_422_with_retryable_false_is_not_resent(authority, files, defect, puts) -> None:
    with wfm(authority) as peer:
        peer.server.faults.respond(422, _problem(422, False, "none"), count=None)
        code, out = run_device(peer.url, *files.args(), "--attempts", "3", *(["--defect", defect] if defect else []))
    assert code == 1 and "refused: " in out and "Traceback" not in out
    assert len(peer.requests()) == puts


@pytest.mark.parametrize(("defect", "fetches"), [(None, 0), ("dereferences-problem-type", 1)])
def test_the_problem_type_is_never_fetched(authority, files, defect, fetches) -> None:
    with Origin() as sink, wfm(authority) as peer:
        problem = {**_problem(422, False, "none"), "type": f"http://127.0.0.1:{sink.port}/problems/x"}
        peer.server.faults.respond(422, problem)
        code, _ = run_device(peer.url, *files.args(), *(["--defect", defect] if defect else []))
    assert code == 1
    assert len(sink.gets("/problems/x")) == fetches
