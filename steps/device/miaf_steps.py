"""Steps of the MIAF device-role features (``features/device/miaf/``): the harness plays the WFM, the MIS and a sink.

Given steps set up the recording on a ``SimulatedMiafWfm`` slot (``slot.setup``: the WFM fixture, TLS cap, faults,
MIS variants and the plan of ``miaf_recordings.py``); the When step takes the recording (shared when tagged
``@recording:nominal``); Then steps judge it with ``checks.miaf_device``. A Given step the SUT file cannot support
(no gateway launch, no SVID rotation, a bundle given as a file) raises NotTested with the reason.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pytest_bdd import parsers, then, when

from margo_conformance.checks import miaf_device as checks
from margo_conformance.errors import HarnessError
from margo_conformance.pytest_plugin import RunState, note_stop
from margo_conformance.report.allure_helpers import attach_exchange, attach_text
from margo_conformance.verdict import Blocked, Judge, NotTested
from margo_conformance.wfm.miaf.simulated import SimulatedMiafWfm

from ..reqtext import requirements
from . import miaf_recordings as mr
from .context import DeviceScenario
from .recordings import Recordings, check_shared, is_shared, recording_key, setup_step

#: Timing scenarios use short delays (the digest's MRTY-06 says Retry-After 10 s): 1-2 s keep a run short; the
#: measurement tolerance is the digest's 100 ms.
TOLERANCE_S = 0.1
#: Q-46 says a resend within max(60 s, twice the polling interval) is a retry; a run watches 3 s.
RESEND_WINDOW_S = 3.0
#: Rows a W-* fixture also tests beyond the profile's fixture catalogue: a chain that does not validate (W-R2,
#: W-LEAFONLY, W-AIA) breaks RFC 5280 path validation (MTLS-07); a DNS SAN that matches the URL host must not stand
#: in for the SPIFFE ID (W-DNSONLY, W-DNS-WRONGID: MID-05); two URI SANs leave no single WFM ID to recognise (MID-04).
EXTRA_FIXTURE_REQUIREMENTS = {"W-R2": ("MTLS-07",), "W-LEAFONLY": ("MTLS-07",), "W-AIA": ("MTLS-07",),
                              "W-DNSONLY": ("MID-05",), "W-DNS-WRONGID": ("MID-04",), "W-2URI": ("MID-04", "SVID-06"),
                              "W-CA": ("SVID-06",), "W-KCS": ("SVID-06",)}
SVID_LINT_RULES = ("MTLS-03", "SVID-02", "SVID-03", "SVID-04", "SVID-05", "SVID-07", "SVID-13", "SVID-15", "SVID-18",
                   "MID-06")


def _rec(scenario: DeviceScenario) -> mr.MiafRecording:
    rec = scenario.recording
    if not isinstance(rec, mr.MiafRecording):
        raise HarnessError("needs a MIAF device run: add 'When the device runs ...'")
    return rec


# --- the simulated MIAF world (recording setup) ------------------------------------------------------------------


@setup_step("the simulated MIAF WFM presents W-OK, its SVID without a DNS SAN")
def _(scenario: DeviceScenario) -> None:
    """The nominal world: nothing to change (the shared recording sets nothing up)."""


@setup_step(parsers.parse('the simulated MIAF WFM presents the fixture "{fixture}"'))
def _(scenario: DeviceScenario, fixture: str) -> None:
    scenario.setup.append(lambda slot: setattr(slot.setup, "wfm_fixture", fixture))


@setup_step("the simulated MIAF WFM listens on port 443 and the device is given a URL without a port")
def _(scenario: DeviceScenario) -> None:
    scenario.setup.append(lambda slot: setattr(slot.setup, "port", 443))
    scenario.setup.append(lambda slot: _plan(slot, done=lambda p: bool(checks.http(p.wfm())), window_s=6.0))


@setup_step(parsers.parse("the WFM offers only TLS {version}"))
def _(scenario: DeviceScenario, version: str) -> None:
    if version not in ("1.1", "1.2"):
        raise HarnessError(f"no TLS cap {version!r}: 1.1 or 1.2")
    scenario.setup.append(lambda slot: setattr(slot.setup, "tls", version))


def _problem(status: int, *, retryable: bool, strategy: str, after: int | None, problem_type: str) -> dict:
    doc = {"type": problem_type, "title": "Service Unavailable" if status == 503 else "Too Many Requests"
           if status == 429 else "Semantic Error", "status": status, "detail": "injected by the harness",
           "retryable": retryable, "backoffStrategy": strategy}
    if after is not None:
        doc["retryAfterSeconds"] = after
    return doc


@setup_step(parsers.parse("the WFM answers the first capabilities report with {status:d}, Retry-After {header:d} "
                          "and retryAfterSeconds {member:d}"))
def _(scenario: DeviceScenario, status: int, header: int, member: int) -> None:
    def fault(slot: SimulatedMiafWfm) -> None:
        assert slot.server is not None
        slot.server.faults.respond(status, _problem(status, retryable=True, strategy="exponential", after=member,
                                                    problem_type="about:blank"),
                                   headers={"retry-after": str(header)}, route="capabilities")
    scenario.setup.append(lambda slot: slot.setup.faults.append(fault))
    scenario.setup.append(lambda slot: _plan(slot, done=mr.puts_at_least(2), window_s=header + 4.0))
    scenario.retry_after_s = float(header)  # a long launch: scheduled early (recordings.expected_wait_s)


@setup_step(parsers.parse("the WFM answers the first {count:d} capabilities reports with 503, Retry-After {header:d} "
                          "and backoffStrategy {strategy}"))
def _(scenario: DeviceScenario, count: int, header: int, strategy: str) -> None:
    def fault(slot: SimulatedMiafWfm) -> None:
        assert slot.server is not None
        slot.server.faults.respond(503, _problem(503, retryable=True, strategy=strategy, after=header,
                                                 problem_type="about:blank"),
                                   headers={"retry-after": str(header)}, count=count, route="capabilities")
    scenario.setup.append(lambda slot: slot.setup.faults.append(fault))
    scenario.setup.append(lambda slot: _plan(slot, done=mr.puts_at_least(count + 1),
                                             window_s=header * (2 ** count) + 4.0))
    scenario.retry_after_s = float(header * (2 ** count - 1))


@setup_step("the WFM refuses the first capabilities report with 422, retryable false and a vendor problem type")
def _(scenario: DeviceScenario) -> None:
    def fault(slot: SimulatedMiafWfm) -> None:
        assert slot.server is not None
        slot.server.faults.respond(422, _problem(422, retryable=False, strategy="none", after=None,
                                                 problem_type=slot.sink.url("problems/vendor-x")),
                                   route="capabilities")
    scenario.setup.append(lambda slot: slot.setup.faults.append(fault))
    scenario.setup.append(lambda slot: _plan(slot, done=mr.quiet_after(422, RESEND_WINDOW_S), window_s=8.0))
    _lasts(scenario, RESEND_WINDOW_S)


def _plan(slot: SimulatedMiafWfm, *, stages: list[mr.Stage] | None = None, done=None, window_s: float = 6.0) -> None:
    slot.setup.stages.extend(stages or [])
    if done is not None:
        slot.setup.done = done
    slot.setup.window_s = window_s


def _lasts(scenario: DeviceScenario, seconds: float) -> None:
    """The recording lasts at least ``seconds`` whatever the device does: the scheduler starts it early."""
    scenario.min_duration_s = max(scenario.min_duration_s, seconds)


def _capability_change_supported(scenario: DeviceScenario) -> None:
    target = scenario.device.target
    if target.change_capabilities:
        return
    if scenario.device.builtin_argv is not None or "{labels_file}" in (target.launch or ""):
        return
    raise NotTested("the SUT file has no device.change_capabilities command and its launch command does not use "
                    "{labels_file}: the harness cannot make the device's capabilities change (MCAP-02)")


@setup_step("the device's labels change after its first accepted report")
def _(scenario: DeviceScenario) -> None:
    _capability_change_supported(scenario)
    stage = mr.Stage("labels", mr.after_first_report, mr.change_labels())
    scenario.setup.append(lambda slot: _plan(slot, stages=[stage], done=mr.after_report_since("labels")))


#: The device's first SVID in the renewal scenario expires this many seconds after it is minted, so the run sees
#: whether a connection authenticated with it is kept in use past its expiry (MTLS-08, recorded). The device must
#: report once before then: a launch under load takes 1 to 2 s.
OLD_SVID_LIFETIME_S = 6.0


@setup_step("the harness renews the device's SVID after its first accepted report")
def _(scenario: DeviceScenario) -> None:
    target = scenario.device.target
    if target.svid_rotation == "none":
        raise NotTested("the SUT file says svid_rotation = \"none\": the harness cannot renew the device's SVID "
                        "(MTLS-08)")

    def rotate(p: mr.Progress) -> None:
        p.slot.rotate_device_svid()
        if target.svid_rotation == "hook":
            p.hook("rotate_svid", target.rotate_svid)

    def renewed_connection_and_old_expired(p: mr.Progress) -> bool:
        new = p.slot.issued_leaves[-1]
        renewed = any(checks.leaf_der(o) == new for o in checks.handshakes(p.wfm()) if o.started_at >= p.since("svid"))
        return renewed and time.time() > checks.not_after(p.slot.issued_leaves[0]) + 0.5

    def plan(slot: Any) -> None:
        slot.setup.device_svid_lifetime_s = OLD_SVID_LIFETIME_S
        _plan(slot, stages=[stage], done=renewed_connection_and_old_expired, window_s=OLD_SVID_LIFETIME_S + 4.0)

    stage = mr.Stage("svid", mr.after_first_report, rotate)
    scenario.setup.append(plan)
    _lasts(scenario, OLD_SVID_LIFETIME_S)


def _bundle_over_https(scenario: DeviceScenario, *, discovery: bool = False) -> None:
    mode = scenario.device.target.bundle
    if discovery and mode != "discovery":
        raise NotTested(f"the SUT file says bundle = {mode!r}: the device does not use trust bundle discovery")
    if mode == "file":
        raise NotTested("the SUT file says bundle = \"file\": the device does not fetch its trust bundle from the MIS")


def _fail_closed(slot: SimulatedMiafWfm) -> None:
    _plan(slot, done=lambda p: p.refused_or_sent(wfm_attempt=False), window_s=6.0)


@setup_step("the MIS origin presents a certificate from a CA the device was never given")
def _(scenario: DeviceScenario) -> None:
    _bundle_over_https(scenario)
    scenario.setup.append(lambda slot: slot.setup.mis.append(lambda svc: setattr(svc, "untrusted", True)))
    scenario.setup.append(_fail_closed)


@setup_step("the discovery document gives an http:// trustBundleUri")
def _(scenario: DeviceScenario) -> None:
    _bundle_over_https(scenario, discovery=True)

    def http_uri(slot: SimulatedMiafWfm) -> None:
        def change(svc) -> None:
            svc.set_discovery({"trustDomain": slot.trust_domain, "trustBundleUri": slot.sink.url("bundle.json")})
        slot.setup.mis.append(change)
    scenario.setup.append(http_uri)
    scenario.setup.append(_fail_closed)


_NO_ANCHORS = {"no keys": lambda slot: {"keys": []},
               "only jwt-svid keys": lambda slot: {"keys": [{"use": "jwt-svid", "kty": "EC", "crv": "P-256",
                                                             "kid": "jwt-1", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                                             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}


@setup_step(parsers.parse("the MIS serves a bundle with {what} from the start"))
def _(scenario: DeviceScenario, what: str) -> None:
    _bundle_over_https(scenario)
    make = _NO_ANCHORS[what]
    scenario.setup.append(lambda slot: setattr(slot.setup, "bundle", make(slot)))
    scenario.setup.append(_fail_closed)


#: The refresh hint the MIS gives in the bundle scenarios (seconds; the digest's example says 60).
REFRESH_HINT_S = 1


def _refreshing(scenario: DeviceScenario, refreshes: int) -> None:
    """The MIS hints a refresh every REFRESH_HINT_S, and the scenario waits for ``refreshes`` of them."""
    scenario.setup.append(lambda slot: setattr(slot.setup, "refresh_hint", REFRESH_HINT_S))
    _lasts(scenario, refreshes * REFRESH_HINT_S)


@setup_step(parsers.parse("after the first accepted report the MIS serves a bundle with {what}"))
def _(scenario: DeviceScenario, what: str) -> None:
    _bundle_over_https(scenario)
    _capability_change_supported(scenario)
    make = _NO_ANCHORS[what]
    stages = [mr.Stage("empty-bundle", mr.after_first_report, lambda p: p.slot.bundle_service.set_bundle(make(p.slot))),
              mr.Stage("labels", mr.after_refresh("empty-bundle"), mr.change_labels())]
    _refreshing(scenario, 1)
    scenario.setup.append(lambda slot: _plan(slot, stages=stages, done=mr.after_report_since("labels")))


def _serve(rotation: str, fixture: str):
    def act(p: mr.Progress) -> None:
        p.slot.bundle_service.set_bundle(p.slot.authority.spiffe_bundle(rotation=rotation, refresh_hint=REFRESH_HINT_S))  # type: ignore[arg-type]
        p.slot.present(fixture)
    return act


@setup_step("the MIS rotates the bundle from R1 to R1+R2 while the WFM moves to an SVID under R2, then to R2 alone "
            "while the WFM goes back to an SVID under R1")
def _(scenario: DeviceScenario) -> None:
    _bundle_over_https(scenario)
    _capability_change_supported(scenario)
    second = {"org.margo-conformance/site": "lab-3"}
    stages = [mr.Stage("R1+R2", mr.after_first_report, _serve("R1+R2", "W-R2")),
              mr.Stage("labels", mr.after_refresh("R1+R2"), mr.change_labels()),
              mr.Stage("R2", mr.after_report_since("labels"), _serve("R2", "W-OK")),
              mr.Stage("labels-2", mr.after_refresh("R2"), mr.change_labels(second))]
    _refreshing(scenario, 2)
    scenario.setup.append(lambda slot: _plan(slot, stages=stages, done=_request_or_quiet_since("labels-2"),
                                             window_s=5.0))


def _request_or_quiet_since(label: str):
    """Complete at the device's first request after stage ``label``, or 2 s after it without one (refused)."""
    import time

    def done(p: mr.Progress) -> bool:
        since = p.since(label)
        return any(o.started_at >= since for o in checks.http(p.wfm())) or time.time() - since > 2 * mr.QUIET_S
    return done


@setup_step("the MIS answers bundle refreshes with 304, then with 404")
def _(scenario: DeviceScenario) -> None:
    _bundle_over_https(scenario)
    _capability_change_supported(scenario)

    def second_fetch(p: mr.Progress) -> bool:
        return len([o for o in p.mis() if o.kind == "http" and o.route == "bundle"]) >= 2

    def not_found(p: mr.Progress) -> bool:
        return any(o.status == 404 for o in p.bundle_fetches_since("404"))

    stages = [mr.Stage("404", lambda p: second_fetch(p) and mr.after_first_report(p),
                       lambda p: p.slot.bundle_service.missing.add("bundle")),
              mr.Stage("labels", not_found, mr.change_labels())]
    _refreshing(scenario, 2)
    scenario.setup.append(lambda slot: _plan(slot, stages=stages, done=mr.after_report_since("labels")))


# --- running the device -----------------------------------------------------------------------------------------


def _run(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings, until: str) -> None:
    key = recording_key(request.node, sharing=recordings.sharing)
    check_shared(scenario, key)
    reach = recordings.until.get(key, until)
    recording = recordings.observatory.take(key, lambda slot: mr.record(scenario, slot, reach, key))
    scenario.use(recording, is_shared(key))
    for o in recording.mis_observations:
        attach_exchange(o, f"MIS origin: {o.summary()}")
    if recording.sink_hits:
        attach_text("\n".join(h.summary() for h in recording.sink_hits), "sink: fetches of URIs nothing should fetch")
    stop = mr.stop_point(recording)
    note_stop(request.config, request.node.nodeid, stop)
    if mr.satisfied(recording, until):
        return
    broken = f"HarnessError: the device did not get as far as {mr.NEEDS[until]}: {scenario.explain()}"
    if recording.run.stopped_by in ("exit", "condition"):  # it stopped, or stalled where a check can say why
        raise Blocked(stop, broken)
    raise HarnessError(broken.removeprefix("HarnessError: "))


@when("the device runs until it has connected over mutual TLS")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, "connected")


@when("the device runs until it has reported its capabilities over mutual TLS")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, "reported")


@when("the device runs against the simulated MIAF WFM")
def _(request: pytest.FixtureRequest, scenario: DeviceScenario, recordings: Recordings) -> None:
    _run(request, scenario, recordings, "plan")


def _stage(scenario: DeviceScenario, label: str) -> float:
    """When stage ``label`` ran; a recording that never got there is blocked (the device stopped) or NOT TESTED."""
    rec = _rec(scenario)
    if label in rec.marks:
        return rec.marks[label]
    why = f"the recording never reached its '{label}' step (the device made no accepted report first)"
    if label == "svid":  # the renewal scenario's first SVID is short-lived: a slow device may not report in time
        why += f"; its first SVID was valid for {OLD_SVID_LIFETIME_S:g} s only, and a device that reports later cannot"
    raise Blocked(mr.stop_point(rec), f"HarnessError: {why}: {scenario.explain()}")


def _require_attempt(scenario: DeviceScenario, *, mis: bool = False) -> None:
    rec = _rec(scenario)
    if not rec.observations and not (mis and rec.mis_observations):
        raise HarnessError(f"the device made no connection attempt at all, so its refusal cannot be judged: "
                           f"{scenario.explain()}")


# --- judging: transport and the device's SVID ---------------------------------------------------------------------


@then("the device presented a client certificate on every connection (MTLS-01)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.client_certificate_on_every_connection(scenario.observations))


@then("its chain reached the bundle's anchor through the intermediate it sent (SVID-08, MTB-03)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.chain_reaches_the_anchor(scenario.observations))


@then("it called with the SVID the harness issued it (MGEN-04)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.issued_svid_used(scenario.observations, _rec(scenario).issued_leaves))


@then("TLS 1.3 was negotiated (MTLS-04)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.tls13_negotiated(scenario.observations))


@then("every request is HTTP/1.1 (MGEN-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.http11_only(scenario.observations))


@then(parsers.parse("the device's X.509-SVID passes the SVID rules ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    rec = _rec(scenario)
    judge.all(*(checks.device_svid_lint(scenario.observations, r, rec.trust_domain, rec.wfm_id).bound_to(r)
                for r in requirements(req)))


@then("the device reached the WFM on port 443 through a URL without a port (MGEN-03)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    _require_attempt(scenario)
    judge(checks.reached_on_default_port(scenario.observations))


@then("no handshake with the TLS-1.1-only WFM completed (MTLS-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    _require_attempt(scenario)
    judge(checks.tls11_never_completed(scenario.observations))


@then("a TLS 1.2 handshake, if the device completed one, follows RFC 9325 (MTLS-05)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    _require_attempt(scenario)
    judge(checks.tls12_fallback_follows_rfc9325(scenario.observations))


# --- judging: the WFM's identity ------------------------------------------------------------------------------------


@then("the device reported its capabilities to W-OK, reached by a host name its SVID does not carry "
      "(MID-04, MID-05, MGEN-08, SVID-12)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    obs = scenario.observations
    if not checks.handshakes(obs) and checks.failures(obs) and all(
            any(r in (o.tls.error or "") for r in (*checks.NO_CLIENT_CERT, checks.MISSING_INTERMEDIATE,
                                                   "certificate verify failed"))
            for o in checks.failures(obs)):
        raise NotTested("the WFM refused the device's own certificate (MTLS-01, SVID-08 judge that), so the device's "
                        "recognition of the WFM could not be observed")
    judge(checks.wfm_recognised_by_spiffe_id(obs, _rec(scenario).url_host))


@then(parsers.parse('the device proceeded to report to the WFM presenting "{fixture}" ({req})'))
def _(scenario: DeviceScenario, judge: Judge, fixture: str, req: str) -> None:
    judge(checks.wfm_accepted(scenario.observations, fixture).bound_to(*requirements(req)))


@then(parsers.parse('the device sent no HTTP request to the WFM presenting "{fixture}"'))
def _(scenario: DeviceScenario, judge: Judge, run: RunState, fixture: str) -> None:
    from margo_conformance.profiles import load_profile

    _require_attempt(scenario)
    entry = load_profile(run.profile).fixtures["wfm"][fixture]
    reqs = tuple(dict.fromkeys([*entry["requirements"], *EXTRA_FIXTURE_REQUIREMENTS.get(fixture, ())]))
    verdicts = [checks.refused_before_http(scenario.observations, fixture).bound_to(*reqs)]
    if fixture == "W-AIA":
        verdicts.append(checks.no_out_of_band_fetch(_rec(scenario).sink_hits))
    judge.all(*verdicts)


# --- judging: capabilities ----------------------------------------------------------------------------------------------


@then("the first MI request is the capabilities PUT (MCAP-01)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.capabilities_first(scenario.observations))


@then("only the MIAF capability routes are used, with PUT or DELETE (MCAP-03)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.miaf_routes_only(scenario.observations))


@then("every deviceId matches the DeviceId pattern (MCAP-04)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.device_id_syntax(scenario.observations))


@then("every capabilities PUT is labelled application/json (MGEN-07)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.json_content_type(scenario.observations))


@then(parsers.parse("every manifest matches the rc.3 capabilities schema ({req})"))
def _(scenario: DeviceScenario, judge: Judge, run: RunState, req: str) -> None:
    from margo_conformance.profiles import load_profile

    schema_set = load_profile(run.profile).schema_set
    verdicts = [checks.manifest_schema(scenario.observations, r, schema_set).bound_to(r) for r in requirements(req)]
    if "MCAP-12" in requirements(req):
        verdicts.append(checks.no_legacy_root_members(scenario.observations, schema_set))
    judge.all(*verdicts)


@then("every manifest's properties.id equals the path deviceId (MCAP-14)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.manifest_id_matches_path(scenario.observations))


@then("a hosting device reports every hosting field, otelCollector true (MCAP-15)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.hosting_fields_complete(scenario.observations))


@then("memory and storage use binary units without a space (MCAP-17, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.binary_units(scenario.observations))


@then("custom runtimes or deployment types come with labels (MCAP-21)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.custom_needs_labels(scenario.observations))


@then("extensions sit at the document root, named x-<name>-extensions (MCAP-27)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.extensions_at_root(scenario.observations))


@then("each child was reported after its gateway (MCAP-08)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.gateway_before_children(scenario.observations))


@then("the non-hosting gateway reported identity fields only, its children full manifests (MCAP-23)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.gateway_identity_only(scenario.observations))


@then("the device reported its changed labels (MCAP-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    changed = _stage(scenario, "labels")
    judge(checks.capabilities_resent_after_change(scenario.observations, changed, _rec(scenario).labels))


# --- judging: errors and retries ----------------------------------------------------------------------------------------


@then(parsers.parse("the retry came no sooner than the Retry-After header's {seconds:d} s (MRTY-06, MRTY-05)"))
def _(scenario: DeviceScenario, judge: Judge, seconds: int) -> None:
    judge(checks.retry_after_honoured(scenario.observations, float(seconds), TOLERANCE_S))


@then(parsers.parse("the {count:d} retries followed {strategy} backoff from {seconds:d} s (MRTY-08)"))
def _(scenario: DeviceScenario, judge: Judge, count: int, strategy: str, seconds: int) -> None:
    judge(checks.backoff_applied(scenario.observations, strategy, float(seconds), count, TOLERANCE_S))


@then("the refused report was not sent again (MRTY-07)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.not_resent_after_non_retryable(scenario.observations, RESEND_WINDOW_S))


@then("the problem type URI was never fetched and the device kept running (MERR-07)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    rec = _rec(scenario)
    refused = [o for o in checks.puts(rec.observations) if o.status == 422]
    if not refused:
        raise NotTested("the device sent no capabilities report, so it never got the 422 problem")
    problem_type = (refused[0].response.json() or {}).get("type", "?") if refused[0].response else "?"
    judge.all(checks.problem_type_not_dereferenced(rec.sink_hits, problem_type),
              checks.healthy_after_problem(rec.run.stopped_by, rec.run.exit_code))


# --- judging: the trust bundle ------------------------------------------------------------------------------------------


@then(parsers.parse("the device sent nothing to the WFM ({req})"))
def _(scenario: DeviceScenario, judge: Judge, req: str) -> None:
    _require_attempt(scenario, mis=True)
    judge(checks.no_wfm_request(scenario.observations, "when its trust material is not acceptable")
          .bound_to(*requirements(req)))


@then("the device did contact the MIS origin (MTB-01)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.mis_contacted(_rec(scenario).mis_observations))


@then("the http:// bundle URI was never fetched (MTB-04)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.http_bundle_uri_not_fetched(_rec(scenario).sink_hits))


@then("the device kept its previous anchors and reported again (MTB-06)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    since = _stage(scenario, "labels")
    judge(checks.reported_after(scenario.observations, since, "a report after an anchor-less bundle was served")
          .bound_to("MTB-06"))


@then("a WFM SVID under R2 was accepted while the bundle held R1 and R2 (SVID-11)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    since = _stage(scenario, "labels")
    judge(checks.reported_after(scenario.observations, since, "a report to a WFM under R2 with bundle {R1,R2}")
          .bound_to("SVID-11", "MTB-02"))


@then("a WFM SVID under R1 was refused once the bundle held R2 alone (MTB-02)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    since = _stage(scenario, "labels-2")
    judge(checks.not_reported_after(scenario.observations, since, "a report to a WFM under R1 with bundle {R2}")
          .bound_to("MTB-02"))


@then("bundle refreshes carried If-None-Match with the ETag served (MTB-05, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    judge(checks.if_none_match_sent(_rec(scenario).mis_observations))


@then("after a 404 on refresh the device kept its bundle and reported again (MTB-05)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    since = _stage(scenario, "labels")
    judge(checks.reported_after(scenario.observations, since, "a report after the bundle refresh got 404")
          .bound_to("MTB-05"))


# --- judging: SVID rotation -------------------------------------------------------------------------------------------


@then("the next connection presented the renewed SVID (MTLS-08, advisory)")
def _(scenario: DeviceScenario, judge: Judge) -> None:
    rotated = _stage(scenario, "svid")
    rec = _rec(scenario)
    judge(checks.new_svid_on_next_connection(scenario.observations, rotated, rec.issued_leaves[-1]))
    old = [o for o in checks.http(scenario.observations) if o.started_at >= rotated
           and checks.leaf_der(next((h for h in checks.handshakes(scenario.observations)
                                     if h.connection_id == o.connection_id), o)) == rec.issued_leaves[0]]
    judge.note("requests after the renewal on a connection authenticated with the old SVID",
               [f"#{o.seq} {o.request.method} {o.request.target}" for o in old] or "none", requirements=["MTLS-08"])
    expired_at = checks.not_after(rec.issued_leaves[0])
    judge.note(f"requests on a connection authenticated with the old SVID after it expired ({OLD_SVID_LIFETIME_S:g} s "
               "lifetime)", [f"#{o.seq} {o.request.method} {o.request.target}" for o in old if o.started_at > expired_at]
               or "none", requirements=["MTLS-08"])
