"""The simulated device the WFM-role steps drive: correct requests by default, one deliberate fault on demand.

It is not a second client: it builds and sends through ``Wire`` (the reference client's code) and signs
with the core ``sign_request``. What it adds is a small explicit surface for the scenarios:

- each forge fault of the core (``fault=Fault.X``) on any request;
- ``key=``: sign correctly, but with another key (another client's key on this client's URL);
- ``client_id=``: any clientId in the path (``unknown_client_id()`` gives one the WFM never issued);
- ``replay(exchange)``: the earlier request again, byte for byte;
- ``onboard()`` twice: re-onboarding with the same certificate;
- ``onboard(cert=issue_certificate(defect=...))``, ``cert_form=``, ``certificate=`` (``non_certificates()``);
- ``send_sample(sample)``: a sample payload of ``fixtures/payloads``;
- ``body_form=``: the same document in another encoding or content type.

Every method returns the ``Exchange``; transport failures raise ``wire.WfmUnreachable`` /
``WfmNotTrusted`` / ``WfmTimeout`` (each carries its Exchange): the harness could not judge.
"""

from __future__ import annotations

import copy
import secrets
import ssl
import time
from dataclasses import replace
from typing import Any, Callable, Mapping

import httpx

from ..errors import HarnessError
from ..evidence import Exchange
from ..httpsig import Fault
from ..payloads import Sample
from ..pki import CertDefect, CertEncoding, IssuedCert, KeyType, PrivateKey, TestCA, decode_certificate
from . import manifest as mf
from .api import CERTIFICATE_PATH, ONBOARDING_PATH, capabilities_path, certificate_value, onboarding_body
from .bodies import BodyForm, encode_body
from .wire import Signer, Wire

_SIGNING_OPTIONS = frozenset({"algorithm", "keyid", "label", "include_alg", "created_offset_s"})
from ..patterns import DEVICE_ID_RE as _DEVICE_ID  # noqa: E402

#: bytes are sent as they are; any other value is a JSON document encoded per ``body_form``.
Body = Any


class SimulatedDevice:
    """One simulated device client of a WFM under test (role ``wfm``)."""

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext, *, identity: IssuedCert | None = None,
                 device_ca: TestCA | None = None, key_type: KeyType | str = KeyType.P256,
                 algorithm: str | None = None, include_alg: bool = False, keyid: str | None = None,
                 cert_form: CertEncoding | str = CertEncoding.B64_DER, device_id: str = "sim-device-1",
                 timeout: float = 10.0, now: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None, server_name: str | None = None) -> None:
        """``identity`` defaults to a fresh key of ``key_type`` with a clean certificate from ``device_ca``
        (the issuer a WFM may be told to trust; a fresh TestCA when not given)."""
        self.device_ca = device_ca or TestCA("Margo simulated device manufacturer CA")
        self.identity = identity or self.device_ca.issue_client_cert(device_id, key_type=KeyType(key_type))
        self.cert_form = CertEncoding(cert_form)
        self.device_id = device_id
        self.client_id: str | None = None
        self.exchanges: list[Exchange] = []
        self._signer = Signer(self.identity.key, algorithm=algorithm, keyid=keyid, include_alg=include_alg)
        self._wire = Wire(base_url, ssl_context, timeout=timeout, now=now, transport=transport,
                          server_name=server_name)

    # -- identity helpers -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._wire.base_url

    def issue_certificate(self, *, defect: CertDefect | str | None = None, key_type: KeyType | str | None = None,
                          common_name: str | None = None) -> IssuedCert:
        """Another certificate from this device's CA, with at most one ``pki`` defect (for onboarding)."""
        return self.device_ca.issue_client_cert(
            common_name or self.device_id, key_type=KeyType(key_type or self.identity.key_type),
            defect=CertDefect(defect) if defect is not None else None)

    def require_client_id(self) -> str:
        if self.client_id is None:
            raise HarnessError("needs an onboarded simulated device: add 'Given the device is onboarded'")
        return self.client_id

    @staticmethod
    def unknown_client_id() -> str:
        """A well-formed clientId no WFM issued (SIG-14: expect 404)."""
        return f"unknown-{secrets.token_hex(8)}"

    def manifest(self, device_id: str | None = None, *, identity_only: bool = False,
                 **properties: Any) -> dict[str, Any]:
        """A valid manifest whose ``properties.id`` equals ``device_id`` (CAP-20): a hosting device, or with
        ``identity_only`` a see-thru gateway that hosts nothing (CAP-12); ``properties`` override members."""
        device_id = device_id or self.device_id
        doc: dict[str, Any] = {
            "apiVersion": mf.API_VERSION, "kind": mf.KIND,
            "properties": {
                "id": device_id, "vendor": "Margo Conformance", "modelNumber": "simulated-device",
                "serialNumber": f"SIM-{self.identity.fingerprint_sha256()[:12]}",
                "cpus": [{"cores": 4, "architecture": "amd64"}], "memory": "8Gi", "storage": "64Gi",
                "peripherals": [], "interfaces": [{"type": "ethernet"}], "otelCollector": True,
                "supportedRuntimes": ["oci"], "supportedDeploymentTypes": ["compose"],
            },
        }
        if identity_only:
            doc = mf.gateway_identity(doc)
        doc["properties"].update(properties)
        return doc

    # -- requests ---------------------------------------------------------------------------------
    def send(self, method: str, path: str, body: Body = None, *, fault: Fault | str | None = None,
             key: PrivateKey | None = None, fault_key: PrivateKey | None = None, fault_arg: str | None = None,
             headers: Mapping[str, str] | None = None, content_type: str | None = "application/json",
             body_form: BodyForm | str = BodyForm.JSON, sign: bool = True, note: str = "",
             **signing: Any) -> Exchange:
        """Any request: ``body`` as bytes (sent as is) or a JSON value (encoded per ``body_form``, which
        then sets the Content-Type). Signed with this device's key unless ``key`` names another one (then
        with that key's natural algorithm and keyid), or ``sign=False``; ``fault`` is one core forge fault.

        ``signing`` varies a correct signature: ``algorithm``, ``keyid``, ``label``, ``include_alg``,
        ``created_offset_s`` (e.g. -30: signed 30 seconds ago).
        """
        unknown = set(signing) - _SIGNING_OPTIONS
        if unknown:
            raise TypeError(f"unknown signing options {sorted(unknown)}; known: {sorted(_SIGNING_OPTIONS)}")
        if body is not None and not isinstance(body, bytes):
            body, content_type = encode_body(body, body_form)
        signer = None
        if sign:
            signer = self._signer
            if key is not None and key is not self.identity.key:  # another key: its natural algorithm and keyid
                signer = replace(signer, key=key, algorithm=None, keyid=None)
            signer = replace(signer, **signing).with_fault(fault, fault_key=fault_key, fault_arg=fault_arg)
        elif fault is not None:
            raise HarnessError("a signature fault needs a signed request (sign=True)")
        exchange = self._wire.send(method, path, body, signer=signer, content_type=content_type,
                                   headers=headers, note=note)
        self.exchanges.append(exchange)
        return exchange

    def get_root_ca(self, *, sign: bool = False) -> Exchange:
        """GET /api/v1/onboarding/certificate, unsigned by default (CERT-02)."""
        return self.send("GET", CERTIFICATE_PATH, sign=sign, note="root CA download")

    def root_ca_of(self, exchange: Exchange):  # -> x509.Certificate
        """The certificate a Certificate API answer carries (either base64 form, Q-09); HarnessError if none."""
        body = exchange.response.json() if exchange.response is not None else None
        value = body.get("certificate") if isinstance(body, dict) else None
        try:
            return decode_certificate(value, strict=False).certificate
        except (ValueError, TypeError) as exc:
            raise HarnessError(f"the Certificate API answer holds no certificate: {exc}") from None

    def onboard(self, *, cert: IssuedCert | None = None, cert_form: CertEncoding | str | None = None,
                certificate: str | None = None, key: PrivateKey | None = None, fault: Fault | str | None = None,
                fault_key: PrivateKey | None = None, fault_arg: str | None = None,
                body_override: Body = None, body_form: BodyForm | str = BodyForm.JSON,
                sign: bool = True, **signing: Any) -> Exchange:
        """POST /api/v1/onboarding, signed with the key of the certificate sent (Q-03).

        ``cert``: another certificate (a ``pki`` variant); ``cert_form``: its wire encoding;
        ``certificate``: the literal field value (a non-certificate); ``body_override``: the whole body.
        On 201 for this device's own identity the clientId is kept (``client_id``). Calling it again is
        re-onboarding with the same certificate (Q-13).
        """
        sent = cert or self.identity
        value = certificate if certificate is not None else certificate_value(sent.cert, cert_form or self.cert_form)
        body = body_override if body_override is not None else onboarding_body(value)
        exchange = self.send("POST", ONBOARDING_PATH, body, key=key if key is not None else sent.key,
                             fault=fault, fault_key=fault_key, fault_arg=fault_arg, body_form=body_form,
                             sign=sign, note="onboarding", **signing)
        if sent is self.identity and exchange.response is not None and exchange.response.status == 201:
            answer = exchange.response.json()
            if isinstance(answer, dict) and isinstance(answer.get("clientId"), str):
                self.client_id = answer["clientId"]
        return exchange

    def put_capabilities(self, device_id: str | None = None, manifest: Body = None, *,
                         client_id: str | None = None, key: PrivateKey | None = None,
                         fault: Fault | str | None = None, fault_key: PrivateKey | None = None,
                         fault_arg: str | None = None, body_form: BodyForm | str = BodyForm.JSON,
                         headers: Mapping[str, str] | None = None, **signing: Any) -> Exchange:
        """PUT /api/v1/clients/{clientId}/capabilities/{deviceId}; a valid manifest when none is given."""
        device_id = device_id or self.device_id
        body = manifest if manifest is not None else self.manifest(device_id)
        return self.send("PUT", capabilities_path(client_id or self.require_client_id(), device_id), body,
                         key=key, fault=fault, fault_key=fault_key, fault_arg=fault_arg, body_form=body_form,
                         headers=headers, note=f"capabilities {device_id}", **signing)

    def delete_capabilities(self, device_id: str | None = None, *, client_id: str | None = None,
                            key: PrivateKey | None = None, fault: Fault | str | None = None,
                            fault_key: PrivateKey | None = None, fault_arg: str | None = None,
                            **signing: Any) -> Exchange:
        device_id = device_id or self.device_id
        return self.send("DELETE", capabilities_path(client_id or self.require_client_id(), device_id),
                         key=key, fault=fault, fault_key=fault_key, fault_arg=fault_arg,
                         note=f"delete capabilities {device_id}", **signing)

    def replay(self, exchange: Exchange) -> Exchange:
        """The earlier request again, byte for byte (same created, same signature): Q-25 / SIG-11 probes."""
        again = self._wire.resend(exchange.request, note=f"replay of {exchange.request.method} {exchange.request.url}")
        again.signature_base_sent = exchange.signature_base_sent
        self.exchanges.append(again)
        return again

    def send_sample(self, sample: Sample, *, device_id: str | None = None, client_id: str | None = None,
                    fault: Fault | str | None = None) -> Exchange:
        """Send a sample payload to the route its schema belongs to, correctly signed.

        Manifests go to PUT capabilities at ``device_id`` (default: the sample's ``properties.id`` when that
        is a valid deviceId, so only the body is wrong; else this device's id). Onboarding requests go to
        POST onboarding, with a string ``certificate`` replaced by this device's fresh one (the samples'
        keys were discarded) in the same base64 form.
        """
        doc = copy.deepcopy(sample.document)
        if sample.schema == "device-capabilities-manifest":
            if device_id is None:
                props = doc.get("properties") if isinstance(doc, dict) else None
                pid = props.get("id") if isinstance(props, dict) else None
                device_id = pid if isinstance(pid, str) and _DEVICE_ID.match(pid) else self.device_id
            return self.put_capabilities(device_id, doc if doc is not None else b"null", client_id=client_id,
                                         fault=fault)
        if sample.schema == "onboarding-request":
            if isinstance(doc, dict) and isinstance(doc.get("certificate"), str):
                form = CertEncoding.B64_PEM if doc["certificate"].startswith("LS0t") else CertEncoding.B64_DER
                doc["certificate"] = certificate_value(self.identity.cert, form)
            return self.onboard(body_override=doc if doc is not None else b"null", fault=fault)
        raise HarnessError(f"sample {sample.name!r} ({sample.schema}) is a response body; a device does not send it")

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> SimulatedDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
