"""httpx requests and responses, and library errors, as evidence: shared by the httpsig device's ``Wire``, the
harness's mutual-TLS client (``mtls/wire.py``) and the reference MIAF device (``device/miaf/wire.py``)."""

from __future__ import annotations

import httpx
from cryptography import x509

from ..evidence import CapturedRequest, TlsFacts
from ..pki import describe_certificate


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    cur: BaseException | None = exc
    last = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        last = cur
        cur = cur.__cause__ or cur.__context__
    return last


def _tls_facts(response: httpx.Response) -> TlsFacts | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    chain: list[dict[str, object]] = []
    der = ssl_object.getpeercert(True)  # the low-level object takes no keywords
    if der:
        chain.append(dict(describe_certificate(x509.load_der_x509_certificate(der))))
    return TlsFacts(version=ssl_object.version(), cipher=cipher[0] if cipher else None,
                    alpn=ssl_object.selected_alpn_protocol(), peer_chain=chain)


def _capture(request: httpx.Request, body: bytes) -> CapturedRequest:
    return CapturedRequest(
        method=request.method,
        url=str(request.url),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
        target=request.url.raw_path.decode("ascii"),
    )
