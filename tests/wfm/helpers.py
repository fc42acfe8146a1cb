"""A small signed client for the WFM tests: onboard, report, delete, with one fault when asked.

It signs with the core signer (``httpsig.sign_request``) and sends with httpx over TLS trusting only the run's
root CA, every call with a timeout; the tests then assert the status *and* the check that produced it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import httpx

from margo_conformance.httpsig import Fault, sign_request
from margo_conformance.pki import IssuedCert, PrivateKey, TestCA
from margo_conformance.wfm import WfmServer

TIMEOUT = httpx.Timeout(10.0)
CHECK = "x-margo-check"
PROBLEM = "https://docs.margo.org/specification/problems/"

MANIFEST: dict[str, Any] = {
    "apiVersion": "device.margo.org/v1alpha1",
    "kind": "DeviceCapabilitiesManifest",
    "properties": {
        "id": "line3-ipc-07",
        "vendor": "Acme Industrial Computing",
        "modelNumber": "IPC-4410",
        "serialNumber": "AC4410-000917",
        "cpus": [{"cores": 4, "architecture": "amd64"}],
        "memory": "16Gi",
        "storage": "256Gi",
        "peripherals": [{"type": "gpu", "manufacturer": "NVIDIA", "model": "T1000"}],
        "interfaces": [{"type": "ethernet"}],
        "otelCollector": True,
        "supportedRuntimes": ["oci"],
        "supportedDeploymentTypes": ["compose", "helm"],
    },
    "x-acme-extensions": {"firmware": "2.4.1"},
}


def manifest(device_id: str = "line3-ipc-07", **props: Any) -> dict[str, Any]:
    doc = copy.deepcopy(MANIFEST)
    doc["properties"]["id"] = device_id
    doc["properties"].update(props)
    return doc


def gateway_manifest(device_id: str) -> dict[str, Any]:
    return {"apiVersion": "device.margo.org/v1alpha1", "kind": "DeviceCapabilitiesManifest",
            "properties": {"id": device_id, "vendor": "Acme", "modelNumber": "GW-10", "serialNumber": "GW10-0042"}}


def onboarding_body(cert_value: str) -> dict[str, str]:
    return {"apiVersion": "onboarding.margo.org/v1alpha1", "kind": "OnboardingRequest", "certificate": cert_value}


def check_of(response: httpx.Response) -> str | None:
    return response.headers.get(CHECK)


def problem_type(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    return response.json().get("type")


def verdict(response: httpx.Response) -> tuple[int, str | None]:
    """(status, check): what every test asserts."""
    return response.status_code, check_of(response)


@dataclass
class Device:
    """One device client of a WFM under test."""

    wfm: WfmServer
    http: httpx.Client
    cert: IssuedCert
    client_id: str | None = None

    @property
    def key(self) -> PrivateKey:
        return self.cert.key

    def url(self, path: str) -> str:
        return self.wfm.base_url + path

    def send(self, method: str, path: str, body: bytes | None = None, *, fault: Fault | str | None = None,
             key: PrivateKey | None = None, headers: dict[str, str] | None = None, sign: bool = True,
             content_type: str | None = "application/json", **sign_kwargs: Any) -> httpx.Response:
        url = self.url(path)
        extra = dict(headers or {})
        if sign:
            signed = sign_request(method, url, body, key or self.key, fault=fault, **sign_kwargs)
            extra = {**signed.headers, **extra}
            body = signed.body
        if content_type and body:
            extra.setdefault("Content-Type", content_type)
        return self.http.request(method, url, content=body or b"", headers=extra)

    def onboard(self, *, cert_value: str | None = None, body: dict[str, Any] | bytes | None = None,
                fault: Fault | str | None = None, key: PrivateKey | None = None, **kw: Any) -> httpx.Response:
        payload = body if body is not None else onboarding_body(cert_value or self.cert.b64_der())
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response = self.send("POST", "/api/v1/onboarding", raw, fault=fault, key=key, **kw)
        if response.status_code in (200, 201) and response.headers.get("content-type") == "application/json":
            self.client_id = response.json()["clientId"]
        return response

    def caps_path(self, device_id: str, client_id: str | None = None) -> str:
        return f"/api/v1/clients/{client_id or self.client_id}/capabilities/{device_id}"

    def put(self, device_id: str = "line3-ipc-07", doc: Any = None, *, client_id: str | None = None,
            raw: bytes | None = None, **kw: Any) -> httpx.Response:
        body = raw if raw is not None else json.dumps(doc if doc is not None else manifest(device_id)).encode()
        return self.send("PUT", self.caps_path(device_id, client_id), body, **kw)

    def delete(self, device_id: str = "line3-ipc-07", *, client_id: str | None = None, **kw: Any) -> httpx.Response:
        return self.send("DELETE", self.caps_path(device_id, client_id), None, **kw)


def new_device(wfm: WfmServer, http: httpx.Client, ca: TestCA, name: str = "device", *,
               onboard: bool = True, **cert_kwargs: Any) -> Device:
    device = Device(wfm, http, ca.issue_client_cert(name, **cert_kwargs))
    if onboard:
        response = device.onboard()
        assert response.status_code == 201, response.text
    return device


def client_for(wfm: WfmServer) -> httpx.Client:
    return httpx.Client(verify=wfm.client_ssl_context(), timeout=TIMEOUT)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(wfm: WfmServer, data: bytes, *, timeout: float = 10.0) -> RawResponse:
    """Send exact bytes over a fresh TLS connection (no client-side normalisation) and read one response."""
    import http.client
    import socket
    import ssl

    ctx = wfm.client_ssl_context()
    with socket.create_connection(("127.0.0.1", wfm.port), timeout=timeout) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="127.0.0.1") as tls:
            try:
                tls.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the server answered (e.g. 413) and closed before reading everything: read the answer
            method = data.split(b" ", 1)[0].decode("latin-1")
            response = http.client.HTTPResponse(tls, method=method)
            response.begin()
            body = response.read()
            return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def raw_signed(device: Device, method: str, target: str, body: bytes = b"", *, fault: Fault | None = None,
               extra: dict[str, str] | None = None) -> bytes:
    """The bytes of a request to ``target`` (sent exactly as given), signed over that exact target."""
    url = f"https://127.0.0.1:{device.wfm.port}{target}"
    signed = sign_request(method, url, body, device.key, fault=fault)
    headers = {"Host": f"127.0.0.1:{device.wfm.port}", **signed.headers, **(extra or {})}
    if signed.body:
        headers.setdefault("Content-Type", "application/json")
    headers["Content-Length"] = str(len(signed.body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + signed.body
