"""Steps of features/wfm/miaf/transient_errors.feature: driving a MIAF WFM into 503 and 429 (MRTY-01/02).

A conformant WFM answers these only when it is in such a state, so the harness needs the operator to put it
there: the hooks ``maintenance_on`` / ``maintenance_off`` for 503, and a declared per-client rate limit
(``[wfm] rate_limit``) that a burst from one client exceeds for 429. Without either, the scenario is NOT TESTED.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_bdd import given, then, when

from margo_conformance.checks import miaf_wfm as checks
from margo_conformance.device.miaf_manifest import body
from margo_conformance.verdict import Judge, NotTested

from .miaf_context import MiafScenario
from .miaf_steps import route_path

#: The burst sends at most this many times the declared limit before it concludes the WFM does not limit.
BURST_FACTOR = 3


@given("the operator has put the WFM into maintenance")
def _(miaf: MiafScenario, request: pytest.FixtureRequest) -> None:
    operator = miaf.wfm.operator
    if not (operator.can("maintenance_on") and operator.can("maintenance_off")):
        raise NotTested("needs the operator hooks wfm.operator.maintenance_on and maintenance_off (MRTY-02): a "
                        "conformant WFM answers 503 only when it is unavailable")
    operator.perform("maintenance_on")
    request.addfinalizer(lambda: operator.perform("maintenance_off"))  # the next scenario finds it serving


@given("a new client on the policy")
def _(miaf: MiafScenario) -> None:
    miaf.fresh = miaf.wfm.new_client(f"burst-{miaf.suffix}")


@when("that client sends capability reports faster than the declared rate limit")
def _(miaf: MiafScenario, miaf_profile: Any) -> None:
    """Up to BURST_FACTOR x limit PUTs on one kept-alive connection, as fast as this machine sends them; the
    first 429 ends the burst and is what the Then steps judge. A burst that could not even send limit + 1
    requests within one second proves nothing about the WFM: NOT TESTED, never a failure."""
    limit = miaf.wfm.rate_limit
    if limit is None:
        raise NotTested("the operator declared no rate limit ([wfm] rate_limit, requests per second per client): "
                        "a conformant WFM answers 429 only beyond one (MRTY-01)")
    device_id = miaf.device_id("burst")
    path = route_path(miaf_profile, "capabilities.put", device_id)
    content = body("valid", device_id)
    wire = miaf.wire("fresh")
    started = time.monotonic()
    sent_in_first_second = 0
    exchange = None
    for sent in range(1, BURST_FACTOR * limit + 1):
        exchange = wire.send("PUT", path, content, note=f"burst request {sent}")
        if time.monotonic() - started <= 1.0:
            sent_in_first_second = sent
        if exchange.response is None or exchange.response.status == 429:
            break
    assert exchange is not None
    status = exchange.response.status if exchange.response is not None else None
    if status != 429 and sent_in_first_second <= limit:
        raise NotTested(f"this machine sent only {sent_in_first_second} requests in the first second, not more than "
                        f"the declared {limit}; the burst cannot tell whether the WFM limits")
    miaf.record(exchange, f"burst: request {sent} ({sent_in_first_second} in the first second, limit {limit}/s)")


@then("the problem type is about:blank or the vendor's own (MERR-05)")
def _(miaf: MiafScenario, miaf_profile: Any, judge: Judge) -> None:
    judge(checks.about_blank_where_no_margo_type_applies(miaf.last, miaf_profile))
