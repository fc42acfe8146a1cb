"""Pre-flight: before a suite starts, do once what every scenario will need, and stop with one line if it fails.

A vendor SUT that is down, speaks plain HTTP, hangs after the TLS handshake, sits behind a wrong path
prefix, or presents a certificate that does not chain would otherwise break every scenario one timeout at a
time (issue 11). The WFM pre-flight connects, completes the TLS handshake with the trust the run will use
(the configured root CA, host name checked; or none yet when the root is to be downloaded) and asks the
Certificate API, all within one ``request_timeout_s``. The device pre-flight checks that the launch
commands and operator hooks name programs that exist. Each problem is one line that names the likely
cause and the SUT-file key to look at.

``Unreachable`` problems end the run with exit 3, ``Unusable`` ones (configuration) with exit 2.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .patterns import CERTIFICATE_PATH, ONBOARDING_PATH
from .sut import MTLS_OPERATOR_ACTIONS, SutConfig, WfmTarget, command_words


@dataclass(frozen=True)
class Problem:
    """Why the run cannot start: ``exit_code`` 3 (the SUT cannot be reached or used) or 2 (configuration)."""

    exit_code: int
    message: str


def check(sut: SutConfig) -> Problem | None:
    """The first reason this SUT cannot be certified at all, or None."""
    if sut.builtin:
        return None
    if sut.wfm is not None and sut.wfm.wfm_id is not None:  # a WFM certified over mutual TLS with SVIDs
        return check_commands(sut) or check_mtls_wfm(sut)
    if sut.wfm is not None:
        return check_commands(sut) or check_wfm(sut.wfm)
    return check_commands(sut)


# --- commands ---------------------------------------------------------------------------------


def check_commands(sut: SutConfig) -> Problem | None:
    """Every launch command and operator hook names a program that exists (else exit 2, naming the key)."""
    templates: list[tuple[str, str]] = []
    if sut.device is not None:
        for key in ("launch", "launch_bootstrap", "launch_gateway"):
            value = getattr(sut.device, key)
            if value:
                templates.append((f"device.{key}", value))
    if sut.wfm is not None:
        hooks = sut.wfm.operator
        for action in ("approve", "reject", "revoke", "trust_issuer", "approve_pending", "reject_pending",
                       *MTLS_OPERATOR_ACTIONS):
            value = getattr(hooks, action)
            if value:
                templates.append((f"wfm.operator.{action}", value))
    for key, template in templates:
        program = command_words(template)[0]
        if _relative_program(program):
            return Problem(2, f"{key}: {program!r} is a relative path; give the program's absolute path (a launched "
                              "device runs in its scenario's state directory)")
        if not _is_program(program):
            return Problem(2, f"{key}: command not found: {program!r} (not on PATH and not a file; give the full "
                              "path, or write {harness} for this harness's own command)")
    return None


def _is_program(word: str) -> bool:
    if "/" in word:
        path = Path(word)
        return path.is_file() and _executable(path)
    return shutil.which(word) is not None


def _relative_program(word: str) -> bool:
    """``./agent`` or ``bin/agent``: it would resolve against a directory the user does not control (a launched
    device runs in its scenario's state directory), so it must be absolute or a name on PATH."""
    return "/" in word and not Path(word).is_absolute()


def _executable(path: Path) -> bool:
    import os

    return os.access(path, os.X_OK)


# --- the WFM ----------------------------------------------------------------------------------


def check_wfm(target: WfmTarget) -> Problem | None:
    """TCP, TLS with the run's trust, then the Certificate API, all within ``request_timeout_s``."""
    parts = urlsplit(target.base_url)
    host, port = parts.hostname or "", parts.port or 443
    where = f"{host}:{port}"
    timeout = target.request_timeout_s
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(0.05, deadline - time.monotonic())

    try:
        raw = socket.create_connection((host, port), timeout=left())
    except TimeoutError:
        return Problem(3, f"SUT unreachable: no answer from {where} within {timeout:g} s (wfm.base_url)")
    except OSError as exc:
        return Problem(3, f"SUT unreachable: cannot connect to {where} ({exc.strerror or exc}) (wfm.base_url)")
    with raw:
        problem = _handshake(raw, target, where, left, timeout)
    return problem or _certificate_api(target, left)


def _context(target: WfmTarget) -> ssl.SSLContext:
    if target.ca_file is None:  # the root is downloaded later; TLS-06 judges the chain against it
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=_pem(target.ca_file))
    return ctx


def _pem(path: Path) -> str:
    from .pki import decode_certificate
    from cryptography.hazmat.primitives import serialization

    cert = decode_certificate(path.read_bytes(), strict=False).certificate
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _server_name(target: WfmTarget) -> str:
    return target.server_name or urlsplit(target.base_url).hostname or ""


def _handshake(raw: socket.socket, target: WfmTarget, where: str, left: object, timeout: float) -> Problem | None:
    ctx = _context(target)
    raw.settimeout(left())  # type: ignore[operator]
    try:
        with ctx.wrap_socket(raw, server_hostname=_server_name(target)):
            return None
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return Problem(3, f"SUT unusable: the WFM's certificate does not name {_server_name(target)!r} "
                              f"({reason}); set wfm.server_name to a name it carries")
        return Problem(3, f"SUT unusable: the WFM's certificate does not chain to wfm.ca ({reason}); "
                          "is wfm.ca the WFM's root CA?")
    except TimeoutError:
        return Problem(3, f"SUT unusable: {where} accepted the connection but completed no TLS handshake within "
                          f"{timeout:g} s (not a TLS server, or it hangs); check wfm.base_url")
    except ssl.SSLError as exc:
        text = f"{exc.reason or ''} {exc}".upper()
        if any(marker in text for marker in ("WRONG_VERSION_NUMBER", "RECORD_LAYER", "HTTP_REQUEST",
                                             "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL")):
            return Problem(3, f"SUT unusable: {where} does not speak TLS (plain HTTP?); wfm.base_url must be the "
                              "WFM's https:// endpoint")
        return Problem(3, f"SUT unusable: the TLS handshake with {where} failed ({exc.reason or exc})")
    except OSError as exc:
        return Problem(3, f"SUT unusable: {where} dropped the connection during the TLS handshake "
                          f"({exc.strerror or exc}); is it a TLS server?")


def _certificate_api(target: WfmTarget, left: object) -> Problem | None:
    import httpx

    url = target.base_url + CERTIFICATE_PATH
    try:
        with httpx.Client(verify=_context(target), timeout=left()) as client:  # type: ignore[operator]
            response = client.get(url, extensions={"sni_hostname": _server_name(target)})
    except httpx.TimeoutException:
        return Problem(3, f"SUT unusable: GET {url}: the TLS handshake completed, then no HTTP answer within "
                          f"{target.request_timeout_s:g} s (the server hangs after the handshake)")
    except httpx.RemoteProtocolError as exc:
        return Problem(3, f"SUT unusable: GET {url}: the answer is not HTTP ({exc})")
    except httpx.TransportError as exc:
        return Problem(3, f"SUT unusable: GET {url}: {type(exc).__name__}: {exc or 'connection closed'}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no Content-Type"
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 404:
        if target.ca_file is not None and _onboarding_route_exists(target, left):
            return None  # only the Certificate API is missing: CERT-01 judges that, the rest can be tested
        return Problem(3, f"SUT unusable: GET {url} answered 404 ({content_type}): is the path prefix of "
                          f"wfm.base_url right? The harness appends {CERTIFICATE_PATH} to it")
    if isinstance(body, dict) or target.ca_file is not None:
        return None  # what the answer holds is the suite's to judge (CERT-01..05)
    return Problem(3, f"SUT unusable: GET {url} answered {response.status_code} ({content_type}), not the "
                      "Certificate API's JSON, so the root CA cannot be downloaded; configure wfm.ca with the root "
                      "CA file to test the rest")


def _onboarding_route_exists(target: WfmTarget, left: object) -> bool:
    """Tells a WFM without a Certificate API from a wrong path prefix: an empty onboarding POST is refused
    (400, 401, ...) where the route exists, 404 where it does not. Nothing is onboarded by it."""
    import httpx

    try:
        with httpx.Client(verify=_context(target), timeout=left()) as client:  # type: ignore[operator]
            response = client.post(target.base_url + ONBOARDING_PATH, json={},
                                   extensions={"sni_hostname": _server_name(target)})
    except httpx.HTTPError:
        return False
    return response.status_code != 404


# --- a WFM over mutual TLS with SVIDs (MIAF) -------------------------------------------------------------


def check_mtls_wfm(sut: SutConfig) -> Problem | None:
    """Dead, not TLS, or alive. With a vendor signing CA ([identity]) the harness also tries its clean client
    SVID C-OK at once: a WFM that refuses it has no trust set up for the harness, and nothing could be judged.
    (In hooks mode the trust is installed at the start of the run; the same check runs there, see
    ``clean_client_problem``.)"""
    assert sut.wfm is not None
    parts = urlsplit(sut.wfm.base_url)
    host, port = parts.hostname or "", parts.port or 443
    where = f"{host}:{port}"
    timeout = sut.wfm.request_timeout_s
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        return Problem(3, f"SUT unreachable: no answer from {where} within {timeout:g} s (wfm.base_url)")
    except OSError as exc:
        return Problem(3, f"SUT unreachable: cannot connect to {where} ({exc.strerror or exc}) (wfm.base_url)")
    from .mtls.wire import handshake

    # Is it TLS at all? A handshake without a client certificate: a refusal is an answer (alive), so is success.
    probe = handshake(sut.wfm.base_url, None, None, timeout=timeout, verify=False, first_read=False)
    if probe.silence is not None:
        return Problem(3, f"SUT unusable: {where} accepted the connection but completed no TLS handshake "
                          f"({probe.silence}); check wfm.base_url")
    if probe.refusal is not None and probe.refusal.alert is None and "WRONG_VERSION" in probe.refusal.detail.upper():
        return Problem(3, f"SUT unusable: {where} does not speak TLS (plain HTTP?); wfm.base_url must be the "
                          "WFM's https:// endpoint")
    if sut.identity is None:
        return None
    from .sut.miaf_wfm import open_miaf_wfm_under_test

    target = open_miaf_wfm_under_test(sut)
    try:
        message = clean_client_problem(target)
    finally:
        target.close()
    return Problem(3, message) if message else None


def clean_client_problem(target: object) -> str | None:
    """One line when the WFM refuses the harness's clean client SVID C-OK (its trust or policy is not set up) or
    presents a server SVID the bundle does not anchor; None when C-OK gets an HTTP answer other than 403.

    The probe is a DELETE of a device id no one reported: a conformant WFM answers 404 and changes nothing."""
    import secrets

    from .device.wire import WfmNotTrusted, WfmUnreachable
    from .errors import SutTimeout

    wfm = target  # a sut.miaf_wfm.MiafWfmUnderTest
    identity = wfm.identity("C-OK")  # type: ignore[attr-defined]
    who = f"the harness's clean client SVID C-OK ({identity.spiffe_id})"
    try:
        with wfm.wire(identity) as wire:  # type: ignore[attr-defined]
            exchange = wire.send("DELETE", f"/api/v1/capabilities/preflight-{secrets.token_hex(4)}",
                                 note="pre-flight: trust set up?")
    except WfmNotTrusted as exc:
        return (f"SUT unusable: the WFM's own SVID does not validate against the trust bundle ({exc}); with "
                "[identity], set identity.bundle to the anchors its SVID chains to; with hooks, check install_wfm_svid")
    except SutTimeout:
        return f"SUT unusable: {who} got no answer within the request timeout (wfm.request_timeout_s)"
    except WfmUnreachable as exc:
        return f"SUT unreachable: {exc} (wfm.base_url)"
    if exchange.refusal is not None:
        return (f"SUT unusable: the WFM refuses {who} ({exchange.refusal.describe()}): its trust is not set up for "
                "the harness; install the bundle ([identity] ca_cert, or the trust_bundle hook) and put the client on "
                "its accepted-client policy (add_client)")
    if exchange.response is not None and exchange.response.status == 403:
        return (f"SUT unusable: the WFM denies {who} with 403: it is not on the accepted-client policy; configure "
                "wfm.operator.add_client, or declare wfm.policy_mode = \"namespace\" if the WFM accepts the whole namespace")
    return None
