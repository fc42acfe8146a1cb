"""Persistence: an onboarding storm loses and duplicates nothing, and a restart keeps everything."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from margo_conformance.pki import TestCA
from margo_conformance.wfm import WfmConfig, WfmServer
from margo_conformance.wfm.store import Store

from .helpers import Device, client_for, manifest


@pytest.mark.slow  # 200 onboardings and a restart
def test_200_concurrent_onboardings_survive_a_restart(tmp_path: Path, wfm_ca: TestCA) -> None:
    config = WfmConfig(observe=False)
    certs = [wfm_ca.issue_client_cert(f"storm-{i}") for i in range(200)]
    with WfmServer(config, ca=wfm_ca, data_dir=tmp_path) as server:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        with httpx.Client(verify=server.client_ssl_context(), timeout=30, limits=limits) as http:
            devices = [Device(server, http, cert) for cert in certs]
            with ThreadPoolExecutor(32) as pool:
                responses = list(pool.map(lambda d: d.onboard(), devices))
        assert [r.status_code for r in responses] == [201] * 200
        ids = [r.json()["clientId"] for r in responses]
        assert len(set(ids)) == 200
        first_port = server.port

    with WfmServer(config, ca=wfm_ca, data_dir=tmp_path) as server:  # a new process would see the same
        records = server.store.clients()
        assert sorted(r.client_id for r in records) == sorted(ids)
        assert all(r.state == "approved" for r in records)
        by_id = {r.client_id: r for r in records}
        for cert, client_id in zip(certs, ids):
            assert by_id[client_id].certificates[0].der == cert.cert_der()
        with client_for(server) as http:
            for cert, client_id in list(zip(certs, ids))[:20]:
                device = Device(server, http, cert, client_id)
                assert device.put().status_code == 201  # verified with the certificate bound before the restart
                again = device.onboard()
                assert again.status_code == 201 and again.json()["clientId"] == client_id
        audit = server.store.audit_entries(10_000)
        assert sum(1 for e in audit if e.path == "/api/v1/onboarding" and e.status == 201) >= 200
    assert first_port  # the restart listened on a new port; the data did not care


def test_concurrent_onboardings_of_one_certificate_make_one_client(make_wfm, wfm_ca: TestCA) -> None:
    server = make_wfm()
    cert = wfm_ca.issue_client_cert("twin")
    with client_for(server) as http:
        device = Device(server, http, cert)
        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(lambda _: device.onboard(), range(32)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["clientId"] for r in responses}) == 1
    assert len(server.store.clients()) == 1


def test_capabilities_and_states_survive_a_restart(tmp_path: Path, wfm_ca: TestCA) -> None:
    with WfmServer(ca=wfm_ca, data_dir=tmp_path) as server, client_for(server) as http:
        kept = Device(server, http, wfm_ca.issue_client_cert("kept"))
        revoked = Device(server, http, wfm_ca.issue_client_cert("revoked"))
        assert kept.onboard().status_code == revoked.onboard().status_code == 201
        assert kept.put(doc=manifest(memory="8Gi")).status_code == 201
        server.operator.revoke(revoked.client_id)
    with WfmServer(ca=wfm_ca, data_dir=tmp_path) as server, client_for(server) as http:
        assert json.loads(server.store.capabilities(kept.client_id, "line3-ipc-07"))["properties"]["memory"] == "8Gi"
        kept.wfm, kept.http = server, http
        revoked.wfm, revoked.http = server, http
        assert kept.put().status_code == 200  # an update, not a creation: the document survived
        assert revoked.put().status_code == 403


def test_standalone_identity_is_reused_after_a_restart(tmp_path: Path) -> None:
    """Without a given CA the server makes one, keeps its chain in DATA_DIR/tls and presents it again."""
    with WfmServer(data_dir=tmp_path) as first:
        root = first.identity.root
        assert (tmp_path / "ca.pem").read_bytes() == first.identity.root_pem()
        assert oct((tmp_path / "tls" / "server.key").stat().st_mode & 0o777) == "0o600"
        assert oct((tmp_path / "admin.json").stat().st_mode & 0o777) == "0o600"
    with WfmServer(data_dir=tmp_path) as second:
        assert second.identity.root == root
        with client_for(second) as http:  # trusts only the saved root
            assert http.get(second.base_url + "/api/v1/onboarding/certificate").status_code == 200


def test_store_rejects_a_foreign_schema_version(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    store._db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    store.close()
    with pytest.raises(RuntimeError, match="schema version"):
        Store.in_dir(tmp_path)
