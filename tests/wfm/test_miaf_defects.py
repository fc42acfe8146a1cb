"""Each named defect of the reference MIAF WFM changes exactly the behaviour it names.

One battery of probes (each a small exchange over real mutual TLS with an outcome that can be compared) runs
against the clean server and against a server with one defect; the probes whose outcome differs must be exactly
the ones the defect is about. A defect whose nature reaches further (a 201 answered 200 shows wherever a first
report is made) lists those probes too, and says so in its ``related`` requirements.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509

from margo_conformance.defects import defects_for, of_profile, profile_of
from margo_conformance.pki.spiffe import SpiffeAuthority, classify_wfm_svid
from margo_conformance.requirements import load_catalog
from margo_conformance.wfm.miaf import MiafWfmServer
from margo_conformance.wfm.miaf import defects as D

from .miaf_helpers import TD, WFM_ID, Identities, attempt, manifest, spiffe

Probe = Callable[[MiafWfmServer, Identities], Any]


def _status(r: Any) -> Any:
    return "tls-refused" if isinstance(r, str) else r.status_code


def _put(name: str, device: str, **kw: Any) -> Probe:
    return lambda w, ids: _status(attempt(ids, w.base_url, name, "PUT", device, manifest(device), **kw))


def _retired(w: MiafWfmServer, ids: Identities) -> Any:
    w.operator.add_client(spiffe("c5"))
    assert _put("c5", "p-ret")(w, ids) in (200, 201)
    w.operator.retire_client(spiffe("c5"))
    return _put("c5", "p-ret")(w, ids)


def _two_clients(w: MiafWfmServer, ids: Identities) -> Any:
    return _put("C-OK", "p-same")(w, ids), _put("C-OK2", "p-same")(w, ids)


def _cross_delete(w: MiafWfmServer, ids: Identities) -> Any:
    _put("C-OK", "p-cross")(w, ids)
    return _status(attempt(ids, w.base_url, "C-OK2", "DELETE", "p-cross"))


def _decoy(w: MiafWfmServer, ids: Identities) -> Any:
    attempt(ids, w.base_url, "C-OK", "PUT", "p-decoy", manifest("p-decoy"), headers={"X-Client-Id": "c2"})
    return _put("C-OK2", "p-decoy")(w, ids)


def _error(device: str, what: Callable[[Any], Any]) -> Probe:
    def probe(w: MiafWfmServer, ids: Identities) -> Any:
        r = attempt(ids, w.base_url, "C-OK", "DELETE", device)
        assert not isinstance(r, str)
        return what(r)
    return probe


def _json(r: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _type_422(w: MiafWfmServer, ids: Identities) -> Any:
    body = manifest("p-422")
    body["properties"]["cpus"] = [{"cores": 1, "architecture": "x86_64"}]
    r = attempt(ids, w.base_url, "C-OK", "PUT", "p-422", body)
    assert not isinstance(r, str) and r.status_code == 422
    return (_json(r) or {}).get("type")


def _handshake(ctx: ssl.SSLContext, port: int) -> tuple[str, bytes | None]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock, ctx.wrap_socket(sock) as tls:
            return "completed", tls.getpeercert(binary_form=True)
    except (ssl.SSLError, ConnectionError):
        return "refused", None


def _tls11(w: MiafWfmServer, ids: Identities) -> Any:
    ctx = ids.context("C-OK", seclevel0=True, min_version=ssl.TLSVersion.TLSv1_1, max_version=ssl.TLSVersion.TLSv1_1)
    return _handshake(ctx, w.port)[0]


def _verified_chain(w: MiafWfmServer, ids: Identities) -> Any:
    return _handshake(ids.context("C-OK", verify=True), w.port)[0]  # the bundle {R1} alone must do (SVID-08)


def _server_id(w: MiafWfmServer, ids: Identities) -> Any:
    _, der = _handshake(ids.context("C-OK"), w.port)
    assert der is not None
    shape = classify_wfm_svid(x509.load_der_x509_certificate(der), trust_domain=TD, wfm_id=WFM_ID)
    return shape.reason or shape.kind


def _maintenance(w: MiafWfmServer, ids: Identities) -> Any:
    w.operator.set_maintenance(True)
    try:
        r = attempt(ids, w.base_url, "C-OK", "PUT", "p-mnt", manifest("p-mnt"))
    finally:
        w.operator.set_maintenance(False)
    assert not isinstance(r, str)
    return r.status_code, r.headers.get("retry-after")


def _rate_limit(w: MiafWfmServer, ids: Identities) -> Any:
    w.operator.set_rate_limit(2)
    try:
        answers = [attempt(ids, w.base_url, "C-OK2", "PUT", "p-rate", manifest("p-rate")) for _ in range(3)]
    finally:
        w.operator.set_rate_limit(None)
    last = answers[-1]
    assert not isinstance(last, str)
    return last.status_code, last.headers.get("retry-after"), (_json(last) or {}).get("retryable")


PROBES: dict[str, Probe] = {
    "no-cert": _put("C-NOCERT", "p-nocert"),
    "ftd": _put("C-FTD", "p-ftd"),
    "2uri": _put("C-2URI", "p-2uri"),
    "ca": _put("C-CA", "p-ca"),
    "crl": _put("C-CRL", "p-crl"),
    "othwfm": _put("C-OTHWFM", "p-othwfm"),
    "nopol": _put("C-NOPOL", "p-nopol"),
    "rsa2048": _put("C-RSA2048", "p-rsa2048"),
    "retired": _retired,
    "two-clients-one-id": _two_clients,
    "cross-delete": _cross_delete,
    "decoy": _decoy,
    "error-media": _error("p-never-1", lambda r: r.headers.get("content-type")),
    "type-422": _type_422,
    "retryable-4xx": _error("p-never-2", lambda r: ((_json(r) or {}).get("retryable"),
                                                    (_json(r) or {}).get("backoffStrategy"))),
    "child-first": _put("C-OK", "p-gw/child"),
    "maintenance": _maintenance,
    "rate-limit": _rate_limit,
    "first-put": _put("C-OK", "p-first"),
    "tls11": _tls11,
    "verified-chain": _verified_chain,
    "server-id": _server_id,
}

#: defect -> the probes it must change (and no other).
EXPECTED: dict[str, set[str]] = {
    D.NO_CLIENT_CERT_ACCEPTED: {"no-cert"},
    D.FOREIGN_TRUST_DOMAIN_ACCEPTED: {"ftd"},
    D.TWO_URI_SANS_ACCEPTED: {"2uri"},
    D.CA_LEAF_ACCEPTED: {"ca"},
    D.CRL_SIGN_ACCEPTED: {"crl"},
    D.OTHER_WFM_ID_ACCEPTED: {"othwfm"},
    D.UNLISTED_CLIENT_ACCEPTED: {"nopol"},
    D.RETIRED_CLIENT_SERVED: {"retired"},
    D.RECORDS_KEYED_BY_DEVICE_ID: {"two-clients-one-id", "cross-delete", "decoy"},
    D.CROSS_CLIENT_DELETE: {"cross-delete"},
    D.CALLER_FROM_REQUEST: {"decoy"},
    D.PLAIN_TEXT_ERRORS: {"error-media", "retryable-4xx"},
    D.WRONG_PROBLEM_TYPE: {"type-422"},
    D.RETRYABLE_4XX: {"retryable-4xx"},
    D.CHILD_WITHOUT_GATEWAY_ACCEPTED: {"child-first"},
    D.CREATE_200: {"first-put", "two-clients-one-id", "decoy"},
    D.TLS11_ACCEPTED: {"tls11"},
    D.LEAF_WITHOUT_INTERMEDIATE: {"verified-chain"},
    D.SERVER_SVID_WRONG_WFM_ID: {"server-id"},
    D.RSA2048_ACCEPTED: {"rsa2048"},
    D.MAINTENANCE_WITHOUT_RETRY_AFTER: {"maintenance"},
    D.RATE_LIMIT_NOT_RETRYABLE: {"rate-limit"},
}


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    return Identities(SpiffeAuthority(TD), tmp_path_factory.mktemp("svids"), {})


def battery(ids: Identities, defects: tuple[str, ...] = ()) -> dict[str, Any]:
    a = ids.authority
    with MiafWfmServer(svid=a.wfm_svid(WFM_ID), bundle_pem=a.bundle_pem(), trust_domain=TD, wfm_id=WFM_ID,
                       defects=defects, authority=a) as wfm:
        for client_id in ("c1", "c2"):
            wfm.operator.add_client(spiffe(client_id))
        return {name: probe(wfm, ids) for name, probe in PROBES.items()}


@pytest.fixture(scope="module")
def clean(ids: Identities) -> dict[str, Any]:
    return battery(ids)


def test_the_clean_server_answers_every_probe_as_the_profile_wants(clean: dict[str, Any]) -> None:
    problem_json = "application/problem+json"
    assert clean == {
        "no-cert": "tls-refused", "ftd": 403, "2uri": 403, "ca": 403, "crl": 403, "othwfm": 403, "nopol": 403,
        "rsa2048": 403, "retired": 403, "two-clients-one-id": (201, 201), "cross-delete": 404, "decoy": 201,
        "error-media": problem_json, "type-422": "https://docs.margo.org/specification/problem-types#semantic-error",
        "retryable-4xx": (False, "none"), "child-first": 404, "first-put": 201, "tls11": "refused",
        "verified-chain": "completed", "server-id": "wfm", "maintenance": (503, "1"), "rate-limit": (429, "1", True),
    }


def test_every_defect_is_registered_for_the_profile_with_a_catalog_requirement() -> None:
    registered = of_profile(defects_for("wfm"), "miaf-rc3")
    assert {d.name for d in registered} == set(EXPECTED) == D.DEFECT_NAMES
    catalog = load_catalog()
    for d in registered:
        assert profile_of(d) == "miaf-rc3"
        row = catalog.get(d.requirement)
        assert "miaf-rc3" in row.profiles, d.name
        assert all("miaf-rc3" in catalog.get(r).profiles for r in d.related), d.name
    assert not {d.name for d in of_profile(defects_for("wfm"), "httpsig-2026h1")} & D.DEFECT_NAMES


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_defect_changes_exactly_its_behaviour(defect: str, ids: Identities, clean: dict[str, Any]) -> None:
    broken = battery(ids, (defect,))
    changed = {name for name in PROBES if broken[name] != clean[name]}
    assert changed == EXPECTED[defect], {n: (clean[n], broken[n]) for n in changed | EXPECTED[defect]}


def test_unknown_defect_is_a_configuration_error(ids: Identities) -> None:
    from margo_conformance.errors import ConfigError

    a = ids.authority
    with pytest.raises(ConfigError, match="unknown MIAF WFM defect"):
        MiafWfmServer(svid=a.wfm_svid(WFM_ID), bundle_pem=a.bundle_pem(), trust_domain=TD, wfm_id=WFM_ID,
                      defects=("nope",))
    with pytest.raises(ConfigError, match="SpiffeAuthority"):
        MiafWfmServer(svid=a.wfm_svid(WFM_ID), bundle_pem=a.bundle_pem(), trust_domain=TD, wfm_id=WFM_ID,
                      defects=(D.SERVER_SVID_WRONG_WFM_ID,))
