"""Clients of the reference MIAF WFM in tests: real mutual TLS with SVIDs minted by the harness's SpiffeAuthority."""

from __future__ import annotations

import json
import socket
import ssl
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from margo_conformance.pki.spiffe import SpiffeAuthority, Svid, client_spiffe_id

TD, WFM_ID = "harness.test", "wfm-h1"
BASE = "/api/v1/capabilities/"


def spiffe(client_id: str) -> str:
    return client_spiffe_id(TD, WFM_ID, client_id)


def manifest(device_id: str, **extra: Any) -> dict[str, Any]:
    return {"properties": {"id": device_id, "vendor": "acme", "modelNumber": "m1", "serialNumber": "s1"}, **extra}


def hosting(device_id: str) -> dict[str, Any]:
    doc = manifest(device_id)
    doc["properties"].update({"cpus": [{"cores": 2, "architecture": "arm64"}], "memory": "4Gi", "storage": "32Gi",
                              "peripherals": [], "interfaces": [{"type": "ethernet"}], "otelCollector": True,
                              "supportedRuntimes": ["oci"], "supportedDeploymentTypes": ["compose"]})
    return doc


@dataclass
class Identities:
    """SVID files written once per module: fixture name (or client id) -> (cert, key) paths; None = no cert."""

    authority: SpiffeAuthority
    directory: Path
    _files: dict[str, tuple[Path, Path] | None]

    def files(self, name: str) -> tuple[Path, Path] | None:
        if name not in self._files:
            if name.startswith("C-"):
                svid: Svid | None = self.authority.client_fixture(name)
            else:
                svid = self.authority.client_svid(name)
            if svid is None:
                self._files[name] = None
            else:
                written = svid.write(self.directory, name)
                self._files[name] = (written.cert, written.key)
        return self._files[name]

    def context(self, name: str, *, verify: bool = False, min_version: ssl.TLSVersion | None = None,
                max_version: ssl.TLSVersion | None = None, seclevel0: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False  # MIAF authenticates the WFM by SPIFFE ID
        if verify:
            ctx.load_verify_locations(cadata=self.authority.bundle_pem().decode())
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if seclevel0:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # TLS 1.1 probes are the point (MTLS-06)
            warnings.simplefilter("ignore", DeprecationWarning)
            if min_version is not None:
                ctx.minimum_version = min_version
            if max_version is not None:
                ctx.maximum_version = max_version
        files = self.files(name)
        if files is not None:
            ctx.load_cert_chain(str(files[0]), str(files[1]))
        return ctx

    @contextmanager
    def client(self, base_url: str, name: str, **tls: Any) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=base_url, verify=self.context(name, **tls), timeout=5.0) as client:
            yield client


def attempt(ids: Identities, base_url: str, name: str, method: str, device: str, body: Any = None,
            **kwargs: Any) -> httpx.Response | str:
    """One request on a fresh connection: the response, or "tls:<reason>" when the TLS layer refused."""
    try:
        with ids.client(base_url, name) as client:
            content = json.dumps(body).encode() if body is not None else None
            headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
            return client.request(method, BASE + device, content=content, headers=headers, **kwargs)
    except ssl.SSLError as exc:
        return f"tls:{exc.reason or type(exc).__name__}"
    except (httpx.TransportError, ConnectionError) as exc:
        return f"tls:{type(exc).__name__}"


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    doc = response.json()
    assert doc["status"] == response.status_code
    assert {"type", "title", "status"} <= set(doc)
    return doc  # type: ignore[no-any-return]


def raw_tls(port: int, ctx: ssl.SSLContext, payload: bytes) -> bytes:
    """Send raw bytes over TLS and read until the server closes (or 2 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        with ctx.wrap_socket(sock) as tls:
            tls.sendall(payload)
            chunks = []
            try:
                while chunk := tls.recv(65536):
                    chunks.append(chunk)
            except (TimeoutError, ssl.SSLError, ConnectionError):
                pass
            return b"".join(chunks)
