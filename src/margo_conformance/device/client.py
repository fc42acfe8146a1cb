"""The reference device client: trust, onboarding, capability reporting, with retries and a state directory.

Standalone (``margo-conformance device run``) it is what a WFM vendor points at their server, and the
system under test of the device-role self-tests (with named defects, each one ``Behaviour`` switch). It
sends through ``Wire``, the same code the simulated device uses.

Error policy (ERR-04 read for the client): a 4xx ends the attempt with a message naming the problem type;
429 and 5xx answers are retried no sooner than ``Retry-After`` with bounded exponential backoff; connection
errors and timeouts are retried with backoff; an untrusted server certificate is final at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cryptography import x509

from ..errors import ConfigError, HarnessError, SutUnreachable
from ..evidence import Exchange
from ..httpsig import MARGO_ALGORITHMS, default_algorithm, sign_request
from ..pki import CertEncoding, IssuedCert, KeyType, PrivateKey, cached_key, generate_key, key_type_of
from . import manifest as mf
from .api import (CERTIFICATE_PATH, ONBOARDING_PATH, Problem, capabilities_path, certificate_value, onboarding_body,
                  problem_of, retry_after_s)
from .bodies import json_bytes
from .defects import Behaviour, behaviour_for
from .identity import DeviceState, StateDir
from .trust import bootstrap_context, client_context, decode_downloaded_root, load_ca_file
from .wire import Signer, WfmNotTrusted, WfmTimeout, WfmTlsFailed, WfmUnreachable, Wire

log = logging.getLogger("margo_conformance.device")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class WfmRefused(Exception):
    """The WFM answered, and the answer ends the attempt (a 4xx, or a 2xx the device cannot use).

    Not a HarnessError: for the reference device this is an outcome (exit code 1), not a broken run.
    """

    def __init__(self, message: str, exchange: Exchange, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.problem = problem


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` in all, delays doubling from ``base_delay_s`` up to ``max_delay_s``."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    #: A Retry-After longer than this ends the attempt instead of waiting (the device is not a daemon).
    max_retry_after_s: float = 300.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * (2 ** attempt))


from ..patterns import DEVICE_ID_RE as _DEVICE_ID  # noqa: E402  (CAP-10)


def _device_id_from(identity: IssuedCert) -> str:
    """The certificate's common name when it is a valid deviceId (CAP-10), else one derived from the key."""
    names = identity.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    return cn if _DEVICE_ID.match(cn) else f"margo-ref-{identity.spki_sha256_hex()[:12]}"


def check_signing(key: PrivateKey, algorithm: str | None, behaviour: Behaviour) -> str:
    """The algorithm to use with ``key``; a dry run through the core signer proves that it (and the
    fault of a signature defect) fits the key, else ConfigError."""
    algorithm = algorithm or default_algorithm(key)
    try:
        sign_request("PUT", "https://wfm.invalid/", b"{}", key, algorithm=algorithm,
                     fault=behaviour.signature_fault or behaviour.signature_fault_after_onboarding)
    except ValueError as exc:
        raise ConfigError(f"cannot sign with a {key_type_of(key).value} key this way: {exc}") from None
    return algorithm


@dataclass
class DeviceConfig:
    """Everything ``device run`` takes; ``check`` turns usage mistakes into ConfigError (exit 2)."""

    wfm_url: str
    state_dir: Path
    ca_file: Path | None = None
    bootstrap_ca_file: Path | None = None
    #: Where the root CA is downloaded from (CERT-06); default: the WFM URL itself.
    bootstrap_url: str | None = None
    capabilities_file: Path | None = None
    gateway_children: int | Path | None = None
    key_type: str = "p256"
    algorithm: str | None = None
    cert_form: str = "der"  # der | pem: base64 of which encoding goes in the onboarding body
    cert_file: Path | None = None
    key_file: Path | None = None
    device_id: str | None = None
    defects: tuple[str, ...] = ()
    timeout_s: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def check(self) -> Behaviour:
        if not self.wfm_url.startswith("https://"):
            raise ConfigError(f"--wfm-url must be an https:// URL (TLS-01), not {self.wfm_url!r}")
        if self.bootstrap_url is not None and not self.bootstrap_url.startswith("https://"):
            raise ConfigError(f"--bootstrap-url must be an https:// URL, not {self.bootstrap_url!r}")
        if self.bootstrap_url is not None and self.bootstrap_ca_file is None:
            raise ConfigError("--bootstrap-url needs --bootstrap-ca-file (the CA that verifies that channel)")
        if (self.ca_file is None) == (self.bootstrap_ca_file is None):
            raise ConfigError("give exactly one of --ca-file (root CA out of band) or --bootstrap-ca-file "
                              "(download the root CA over a channel verified with that CA)")
        for name, path in (("--ca-file", self.ca_file), ("--bootstrap-ca-file", self.bootstrap_ca_file),
                           ("--capabilities", self.capabilities_file), ("--cert-file", self.cert_file),
                           ("--key-file", self.key_file)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{name}: file not found: {path}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError("--cert-file and --key-file go together")
        try:
            KeyType(self.key_type)
        except ValueError:
            raise ConfigError(
                f"--key-type must be one of p256, p384, rsa2048, rsa3072, not {self.key_type!r}") from None
        if self.cert_form not in ("der", "pem"):
            raise ConfigError(f"--cert-form must be der or pem, not {self.cert_form!r}")
        if self.algorithm is not None and self.algorithm not in MARGO_ALGORITHMS:
            raise ConfigError(f"--alg must be one of {', '.join(MARGO_ALGORITHMS)}, not {self.algorithm!r}")
        if self.device_id is not None and not _DEVICE_ID.match(self.device_id):
            raise ConfigError(f"--device-id {self.device_id!r} is not a deviceId (RFC 3986 unreserved characters, "
                              "'/' between gateway levels; CAP-10)")
        if self.timeout_s <= 0:
            raise ConfigError("--timeout must be positive")
        if isinstance(self.gateway_children, int) and self.gateway_children < 1:
            raise ConfigError("--gateway-children needs a positive count or a JSON file")
        if isinstance(self.gateway_children, Path) and not self.gateway_children.is_file():
            raise ConfigError(f"--gateway-children: file not found: {self.gateway_children}")
        behaviour = behaviour_for(self.defects)
        if self.cert_file is None and not StateDir(self.state_dir).has_identity():
            # before anything is generated: does the algorithm (and a defect's fault) fit the key type?
            check_signing(cached_key(self.key_type), self.algorithm, behaviour)
        return behaviour


@dataclass
class RunResult:
    client_id: str
    onboarded_now: bool
    reported: list[str]
    exchanges: list[Exchange]


class DeviceClient:
    """One device, one WFM. ``run()`` does trust -> onboarding (unless the state says done) -> report."""

    def __init__(self, config: DeviceConfig, *, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], float] = time.time) -> None:
        self.config = config
        self.behaviour = config.check()
        self.state_dir = StateDir(config.state_dir)
        self.exchanges: list[Exchange] = []
        self._sleep, self._now = sleep, now
        self._wire: Wire | None = None
        self.identity: IssuedCert | None = None
        self.algorithm: str | None = None
        self.state = DeviceState()

    # -- the whole run ------------------------------------------------------------------------------
    def run(self) -> RunResult:
        try:
            self.state = self.state_dir.load_state()
            self._check_state_belongs_here()
            self.identity = self._identity()
            self.algorithm = self._algorithm(self.identity.key)
            manifests = self._manifests()
            anchor = self.establish_trust()
            self._wire = Wire(self.config.wfm_url, client_context(anchor, self.behaviour),
                              timeout=self.config.timeout_s, now=self._now)
            onboarded_now = False
            if self.behaviour.report_before_onboarding and not self.state.client_id:
                self._report(manifests, client_id=self.device_id, tolerate_refusal=True,
                             why="before onboarding")
            client_id = self.state.client_id
            if client_id:
                log.info("onboarding: skipped, already onboarded as clientId %s (state in %s)",
                         client_id, self.state_dir.path)
            else:
                client_id = self.onboard()
                onboarded_now = client_id is not None
            if client_id is None:  # refused, and the 'continue-after-403' defect goes on anyway
                client_id = self.device_id
            path_id = self.device_id if self.behaviour.use_own_id_in_paths else client_id
            reported = self._report(manifests, client_id=path_id)
            return RunResult(client_id, onboarded_now, reported, self.exchanges)
        finally:
            if self._wire is not None:
                self._wire.close()

    @property
    def device_id(self) -> str:
        assert self.state.device_id is not None
        return self.state.device_id

    # -- identity and state -------------------------------------------------------------------------
    def _check_state_belongs_here(self) -> None:
        url = self.config.wfm_url.rstrip("/")
        if self.state.client_id and self.state.wfm_url and self.state.wfm_url != url:
            raise ConfigError(f"state directory {self.state_dir.path} belongs to the WFM at {self.state.wfm_url}; "
                              f"a device is managed by one WFM (GEN-07): use another --state-dir")

    def _identity(self) -> IssuedCert:
        sd = self.state_dir
        if self.config.cert_file is not None and self.config.key_file is not None:
            if self.state.client_id and sd.has_identity():
                current = sd.load_identity()
                imported = IssuedCert(cert=load_ca_file(self.config.cert_file), key=current.key)
                if imported.fingerprint_sha256() != current.fingerprint_sha256():
                    raise ConfigError("the state directory is onboarded with another certificate than --cert-file")
                identity = current
            else:
                identity = sd.import_identity(self.config.cert_file, self.config.key_file)
                log.info("identity: key and certificate from %s and %s", self.config.key_file, self.config.cert_file)
        elif sd.has_identity():
            identity = sd.load_identity()
            if sd.key_mode_too_open():
                log.warning("identity: %s is readable by others; it should be mode 0600", sd.path / "key.pem")
        else:
            identity = sd.create_identity(self.config.key_type, self.config.device_id)
            log.info("identity: generated a %s key and a certificate (%s) in %s", self.config.key_type,
                     identity.cert.subject.rfc4514_string(), sd.path)
        wanted = self.config.device_id or self.state.device_id or _device_id_from(identity)
        if wanted != self.state.device_id:
            self.state.device_id = wanted
            self.state_dir.save_state(self.state)
        return identity

    def _algorithm(self, key: PrivateKey) -> str:
        return check_signing(key, self.config.algorithm, self.behaviour)

    # -- trust --------------------------------------------------------------------------------------
    def establish_trust(self) -> x509.Certificate | None:
        """The WFM root CA: from --ca-file, from the state directory, or downloaded (bootstrap)."""
        if self.config.ca_file is not None:
            root = load_ca_file(self.config.ca_file)
            self.state_dir.store_root_ca(root)
            log.info("trust: WFM root CA %s from %s (out of band)", root.subject.rfc4514_string(), self.config.ca_file)
            return root
        stored = self.state_dir.load_root_ca()
        if stored is not None:
            log.info("trust: WFM root CA %s from the state directory (downloaded earlier)",
                     stored.subject.rfc4514_string())
            return stored
        assert self.config.bootstrap_ca_file is not None
        bootstrap_ca = load_ca_file(self.config.bootstrap_ca_file)
        with Wire(self.config.bootstrap_url or self.config.wfm_url, bootstrap_context(bootstrap_ca, self.behaviour),
                  timeout=self.config.timeout_s, now=self._now) as wire:
            exchange = self._call(wire, "root CA download", "GET", CERTIFICATE_PATH, None, signer=None)
        status = exchange.response.status if exchange.response else 0
        if status != 200:
            raise self._refusal("root CA download", exchange)
        body = exchange.response.json() if exchange.response else None
        try:
            root = decode_downloaded_root(body.get("certificate") if isinstance(body, dict) else None)
        except ValueError as exc:
            raise WfmRefused(f"root CA download: unusable answer: {exc}", exchange) from None
        self.state_dir.store_root_ca(root)
        verified = "verified with" if self.behaviour.verify_bootstrap_channel else "NOT verified (defect), meant for"
        log.info("trust: WFM root CA %s downloaded over a channel %s the bootstrap CA %s",
                 root.subject.rfc4514_string(), verified, bootstrap_ca.subject.rfc4514_string())
        return root

    # -- onboarding ---------------------------------------------------------------------------------
    def _signer(self, *, onboarded: bool) -> Signer:
        assert self.identity is not None
        b = self.behaviour
        if not onboarded and not b.sign_onboarding:  # the core's UNSIGNED keeps Content-Digest: one thing missing
            return Signer(self.identity.key, algorithm=self.algorithm).with_fault("unsigned")
        fault = b.signature_fault
        if onboarded and b.signature_fault_after_onboarding:
            fault = b.signature_fault_after_onboarding
        fault_key = generate_key(key_type_of(self.identity.key)) if fault == "wrong-key" else None
        return Signer(self.identity.key, algorithm=self.algorithm, created_offset_s=b.created_offset_s).with_fault(
            fault, fault_key=fault_key)

    def onboard(self) -> str | None:
        """POST /api/v1/onboarding signed with the certificate's key (ONB-06, Q-03); store the clientId.

        Returns None only when onboarding was refused and the 'continue-after-403' defect is set.
        """
        assert self.identity is not None and self._wire is not None
        form = self.behaviour.certificate_form
        if form == "base64-der" and self.config.cert_form == "pem":
            form = "base64-pem"
        body = json_bytes(onboarding_body(certificate_value(self.identity.cert, CertEncoding(form))))
        exchange = self._call(self._wire, "onboarding", "POST", ONBOARDING_PATH, body,
                              signer=self._signer(onboarded=False))
        assert exchange.response is not None
        status = exchange.response.status
        if not 200 <= status < 300:
            refusal = self._refusal("onboarding", exchange)
            if self.behaviour.continue_after_refusal:
                log.info("%s; continuing anyway (defect continue-after-403)", refusal)
                return None
            raise refusal
        answer = exchange.response.json()
        client_id = answer.get("clientId") if isinstance(answer, dict) else None
        if not isinstance(client_id, str) or not client_id:
            raise WfmRefused(f"onboarding: the WFM answered {status} without a clientId string (ONB-07)", exchange)
        if status != 201:  # lenient in what it accepts, but says so: a vendor should see the deviation
            log.warning("onboarding: the WFM answered %d where the spec defines 201 Created (ONB-07)", status)
        self.state_dir.record_onboarding(self.state, wfm_url=self.config.wfm_url.rstrip("/"), client_id=client_id,
                                         cert_sha256=self.identity.fingerprint_sha256())
        log.info("onboarding: %d, clientId %s (certificate sent as %s, signed %s)", status, client_id, form,
                 self.algorithm if self.behaviour.sign_onboarding else "NOT (defect)")
        return client_id

    # -- capabilities -------------------------------------------------------------------------------
    def _manifests(self) -> list[tuple[str, dict]]:
        """(path deviceId, manifest) in reporting order, with the defects' changes applied to the clean,
        validated form."""
        b, cfg = self.behaviour, self.config
        if cfg.capabilities_file is not None:
            base = mf.load_manifest_file(cfg.capabilities_file)
            base["properties"].setdefault("id", self.device_id)
            from ..schemas import validate  # only a vendor-given file is validated: keeps start-up lean

            problems = validate("device-capabilities-manifest", base)
            if problems:
                first = problems[0]
                raise ConfigError(f"capabilities file {cfg.capabilities_file} is not a valid manifest: "
                                  f"{first.pointer or '/'}: {first.message}"
                                  + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
            self.state.device_id = str(base["properties"]["id"])
        else:
            assert self.identity is not None
            base = mf.host_manifest(self.device_id, serial_number=self.identity.fingerprint_sha256()[:16],
                                    storage_path=self.state_dir.path)
        if cfg.gateway_children is None:
            hosting = [base]
            gateway = None
        else:
            gateway = mf.gateway_identity(base)
            if b.gateway_hosting_fields:
                gateway = mf.with_report_changes(gateway, hosting_fields_from=base)
            hosting = mf.child_manifests(base, cfg.gateway_children)
        out = [(m["properties"]["id"], mf.with_report_changes(m, architecture=b.architecture_override,
                                                               id_suffix=b.properties_id_suffix)) for m in hosting]
        if gateway is not None:
            first = (gateway["properties"]["id"], mf.with_report_changes(gateway, id_suffix=b.properties_id_suffix))
            out = out + [first] if b.children_before_gateway else [first] + out
        return out

    def _report(self, manifests: list[tuple[str, dict]], *, client_id: str, tolerate_refusal: bool = False,
                why: str = "") -> list[str]:
        assert self._wire is not None
        done: list[str] = []
        signer = self._signer(onboarded=True)
        for device_id, manifest in manifests:
            what = f"capability report for {device_id}" + (f" ({why})" if why else "")
            method, path = "PUT", capabilities_path(client_id, device_id)
            if self.behaviour.legacy_capabilities_post:  # defect: the route of the 2025 drafts
                method, path = "POST", f"/api/v1/clients/{client_id}/capabilities"
            exchange = self._call(self._wire, what, method, path, json_bytes(manifest), signer=signer)
            assert exchange.response is not None
            status = exchange.response.status
            if 200 <= status < 300:
                log.info("report: %s accepted with %d", what, status)
                if status not in (200, 201):
                    log.warning("report: %d where the spec defines 201 Created or 200 OK (CAP-05)", status)
                done.append(device_id)
                continue
            refusal = self._refusal(what, exchange)
            if tolerate_refusal:
                log.info("report: %s", refusal)
                continue
            raise refusal
        return done

    # -- the one place that sends and retries ------------------------------------------------------
    def _call(self, wire: Wire, what: str, method: str, path: str, body: bytes | None, *,
              signer: Signer | None) -> Exchange:
        policy = self.config.retry
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                exchange = wire.send(method, path, body, signer=signer, note=what,
                                     content_type=self.behaviour.body_content_type)
            except (WfmNotTrusted, WfmTlsFailed) as exc:  # retrying would not change the handshake
                self.exchanges.append(exc.exchange)
                raise
            except (WfmUnreachable, WfmTimeout) as exc:
                self.exchanges.append(exc.exchange)
                if last:
                    raise type(exc)(f"{what}: {exc} (gave up after {policy.attempts} attempts)", exc.exchange) from None
                delay = policy.backoff(attempt)
                log.info("%s: %s; retrying in %.1f s", what, exc, delay)
                self._sleep(delay)
                continue
            self.exchanges.append(exchange)
            assert exchange.response is not None
            status = exchange.response.status
            if status not in RETRY_STATUSES:
                return exchange
            wait = retry_after_s(exchange.response.header("retry-after"), self._now())
            if last or (wait is not None and wait > policy.max_retry_after_s):
                raise SutUnreachable(f"{what}: the WFM still answered {status} after {attempt + 1} attempt(s)"
                                     + (f" (Retry-After {wait:.0f} s is beyond the limit)" if wait else ""))
            delay = policy.backoff(attempt)
            if wait is not None:
                delay = max(delay, wait)
            if not self.behaviour.honour_retry_after:
                delay = 0.0
            log.info("%s: %d, retrying in %.1f s%s", what, status, delay,
                     f" (Retry-After {wait:.0f} s)" if wait is not None else "")
            self._sleep(delay)
        raise HarnessError(f"{what}: no attempt was made")  # attempts < 1

    def _refusal(self, what: str, exchange: Exchange) -> WfmRefused:
        assert exchange.response is not None
        problem = problem_of(exchange.response)
        return WfmRefused(f"{what}: the WFM refused with {problem}", exchange, problem)
