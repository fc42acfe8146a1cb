"""SUT configuration: the TOML file that tells the harness what it certifies and how to reach it.

Validation is strict and every error names the key and the problem (``ConfigError``, exit code 2):
an unknown key, a wrong type, a missing required key, an unreadable file. ``builtin`` configurations
for the reference implementations are built in code, not read from a file.

Example (role wfm)::

    [sut]
    role = "wfm"
    name = "Acme WFM 2.3"
    profile = "httpsig-2026h1"

    [wfm]
    base_url = "https://127.0.0.1:8443"     # may carry a path prefix before /api/v1
    ca = "download"                         # or a path to the WFM root CA (PEM or DER)
    server_name = "localhost"               # optional: TLS host name to verify when base_url uses an IP
    request_timeout_s = 10

    [wfm.operator]                          # optional; placeholders are substituted
    approve = "acme-cli approve {client_id}"
    reject = "acme-cli reject {client_id}"
    revoke = "acme-cli revoke {client_id}"
    approve_pending = "acme-cli approve --sha256 {fingerprint}"   # a held onboarding request (ONB-10)
    reject_pending = "acme-cli reject --sha256 {fingerprint}"

Example (role device)::

    [sut]
    role = "device"
    name = "Acme Edge Agent 1.4"

    [device]
    mode = "launch"                         # or "manual"
    launch = "acme-agent --wfm-url {wfm_url} --ca-file {ca_file} --state-dir {state_dir}"
    timeout_s = 30
"""

from __future__ import annotations

import shlex
import string
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import DEFAULT_PROFILE
from ..errors import ConfigError

KNOWN_PROFILES = ("httpsig-2026h1",)  # kept for old imports; the profile folders are the truth (known_profiles)


def known_profiles() -> tuple[str, ...]:
    """The profile folders (``profiles/<name>/``): a SUT file may name any of them."""
    from ..profiles import known_profiles as known

    return known()

ROLES = ("wfm", "device")

#: A word of its own in a command: this harness's own command line (the Python running it, ``-m
#: margo_conformance``), so SUT files that drive the reference implementations work without PATH.
HARNESS_PLACEHOLDER = "{harness}"
#: Placeholders an operator hook may use, and those a device launch command may use.
OPERATOR_PLACEHOLDERS = frozenset({"client_id", "cert_file", "fingerprint", "ca_file", "harness",
                                   # mutual-TLS profiles: the SPIFFE ID of a client, the bundle, the WFM's SVID
                                   "spiffe_id", "bundle_file", "svid_cert", "svid_key", "svid_chain"})
#: Operator hooks of a WFM certified over mutual TLS with SVIDs (the harness is the MIS, Q-40).
MTLS_OPERATOR_ACTIONS = ("trust_bundle", "add_client", "retire_client", "install_wfm_svid", "maintenance_on",
                         "maintenance_off")
LAUNCH_PLACEHOLDERS = frozenset(
    {"wfm_url", "ca_file", "bootstrap_url", "bootstrap_ca_file", "state_dir", "host", "port", "harness"}
)
#: A mutual-TLS (MIAF) device's launch placeholders: its SVID files, its trust anchors and where to fetch them,
#: the initial trust for the MIS origin, the IDs, and the labels file the harness changes (MCAP-02).
MIAF_LAUNCH_PLACEHOLDERS = frozenset(
    {"wfm_url", "host", "port", "state_dir", "harness", "svid_cert", "svid_key", "svid_chain", "bundle_file",
     "bundle_jwks", "discovery_url", "bundle_url", "mis_ca_file", "mis_pin", "wfm_spiffe_id", "trust_domain",
     "device_id", "labels_file"}
)
#: [device] bundle: how a MIAF device gets its trust bundle; svid_rotation: how the harness renews its SVID.
BUNDLE_MODES = ("file", "discovery", "url")
SVID_ROTATION_MODES = ("file", "hook", "none")


def harness_command() -> list[str]:
    """What ``{harness}`` stands for: the harness run by the interpreter running it now."""
    return [sys.executable, "-m", "margo_conformance"]


def command_words(template: str) -> list[str]:
    """A launch or hook command split into words like a POSIX shell would (quotes group, nothing else of a
    shell applies: no pipes, no variables, no globbing), with ``{harness}`` expanded."""
    words: list[str] = []
    for word in shlex.split(template):
        words.extend(harness_command() if word == HARNESS_PLACEHOLDER else [word])
    return words


def fill_command(template: str, values: dict[str, str]) -> list[str]:
    """``command_words`` with the placeholders filled in, word by word (a value with spaces stays one word)."""
    argv: list[str] = []
    for word in shlex.split(template):
        if word == HARNESS_PLACEHOLDER:
            argv.extend(harness_command())
        else:
            argv.append(word.format(**values))
    return argv


@dataclass(frozen=True)
class OperatorHooks:
    """Shell commands that make the WFM's operator decide (CERT-12, ONB-09, ONB-10, SIG-13)."""

    approve: str | None = None
    reject: str | None = None
    revoke: str | None = None
    #: Make the WFM trust a client-certificate issuer (allow-list trust policy).
    trust_issuer: str | None = None
    #: Decide an onboarding request the WFM holds for the operator (manual approval, ONB-10). The device has
    #: no clientId yet, so these name the certificate: {fingerprint} is the hex SHA-256 of its DER. A
    #: command that fails (no such pending request yet) is retried until ``timeout_s``.
    approve_pending: str | None = None
    reject_pending: str | None = None
    #: Mutual-TLS profiles (MIAF): install the harness's trust bundle ({bundle_file}, PEM anchors), put a client
    #: SPIFFE ID on the accepted-client policy or retire it ({spiffe_id}), install the WFM's own SVID that the
    #: harness minted ({svid_cert} leaf + intermediates, {svid_key}, {svid_chain} intermediates only).
    trust_bundle: str | None = None
    add_client: str | None = None
    retire_client: str | None = None
    install_wfm_svid: str | None = None
    #: Put the WFM into maintenance and back (its MI requests then get 503 + Retry-After, MRTY-02).
    maintenance_on: str | None = None
    maintenance_off: str | None = None
    timeout_s: float = 30.0

    def has(self, action: str) -> bool:
        return getattr(self, action, None) is not None


@dataclass(frozen=True)
class WfmTarget:
    base_url: str
    #: "download" (Certificate API, then TLS-06 checks the live chain against it) or a CA file path.
    ca: str = "download"
    server_name: str | None = None
    request_timeout_s: float = 10.0
    operator: OperatorHooks = field(default_factory=OperatorHooks)
    #: Mutual-TLS profiles: the WFM's <wfm-id> and trust domain (its SPIFFE ID spiffe://<td>/margo/wfm/<wfm-id>).
    wfm_id: str | None = None
    trust_domain: str | None = None
    #: Hooks mode: a CSR of the WFM's key, from which the harness (as MIS) mints the WFM's SVID (else a fresh key).
    svid_csr: Path | None = None
    #: The accepted-client policy the operator declares (Q-65): "allowlist", or "namespace" (whole client namespace).
    policy_mode: str = "allowlist"
    #: The rate limit the operator declares: requests per second one client may make (MRTY-01 burst test).
    rate_limit: int | None = None

    @property
    def ca_file(self) -> Path | None:
        return None if self.ca == "download" else Path(self.ca)


@dataclass(frozen=True)
class IdentitySource:
    """``[identity]``: a signing CA the vendor hands over; the harness mints every client SVID from it (Q-40).

    ``bundle`` holds the anchors the WFM's own SVID chains to, when they are not the signing CA itself."""

    ca_cert: Path
    ca_key: Path
    bundle: Path | None = None


@dataclass(frozen=True)
class DeviceTarget:
    mode: str = "launch"  # "launch" | "manual"
    #: How to start the device with the WFM root CA given out of band ({ca_file}).
    launch: str | None = None
    #: Optional: how to start it so that it downloads the root CA over a bootstrap channel it trusts
    #: ({bootstrap_url}, {bootstrap_ca_file}); scenarios of CERT-06/CERT-07 need it.
    launch_bootstrap: str | None = None
    #: Optional: how to start it as a see-thru gateway with children (CAP-12, CAP-13).
    launch_gateway: str | None = None
    timeout_s: float = 30.0
    #: Extra environment for the launched process.
    env: dict[str, str] = field(default_factory=dict)
    #: False for a device that cannot run twice on one machine: the harness launches one at a time (``--jobs 1``).
    parallel: bool = True
    #: Mutual-TLS (MIAF) devices only. How the device gets its trust bundle: "file" ({bundle_file}/{bundle_jwks}),
    #: "discovery" ({discovery_url}) or "url" ({bundle_url}); one SUT declares one mode.
    bundle: str = "file"
    #: How the harness renews the device's SVID mid-run (MTLS-08): "file" (rewrites {svid_cert}, {svid_key} and
    #: {svid_chain} in place), "hook" (runs ``rotate_svid`` with the new files), "none" (NOT TESTED).
    svid_rotation: str = "none"
    rotate_svid: str | None = None
    #: Command that makes the device change a reported capability (MCAP-02) after the harness rewrote
    #: {labels_file}; None and no {labels_file} in the launch command: NOT TESTED.
    change_capabilities: str | None = None


@dataclass(frozen=True)
class SutConfig:
    role: str
    name: str
    profile: str = DEFAULT_PROFILE
    #: Who and what is certified ([sut] vendor / product / version, optional): shown in every report and in the
    #: certification record.
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    wfm: WfmTarget | None = None
    device: DeviceTarget | None = None
    #: True for the built-in reference implementation (``--sut builtin``).
    builtin: bool = False
    #: Defects the built-in reference runs with (``--defect``); empty for a vendor SUT.
    defects: tuple[str, ...] = ()
    source: str = "builtin"
    #: Mutual-TLS profiles: the vendor's signing CA ([identity]); None in hooks mode and for the builtin.
    identity: IdentitySource | None = None

    def describe(self) -> dict[str, str]:
        """Facts for reports (environment.properties); no secrets."""
        facts = {"sut.name": self.name, "sut.role": self.role, "sut.profile": self.profile, "sut.source": self.source}
        if self.wfm is not None:
            facts["wfm.base_url"] = self.wfm.base_url
            if self.wfm.wfm_id is not None:
                facts["wfm.wfm_id"] = self.wfm.wfm_id
                facts["wfm.trust_domain"] = str(self.wfm.trust_domain)
                facts["wfm.identity"] = "vendor signing CA ([identity])" if self.identity else "harness as MIS (hooks)"
            else:
                facts["wfm.ca"] = self.wfm.ca
        if self.device is not None:
            facts["device.mode"] = self.device.mode
            if self.device.launch:
                facts["device.launch"] = redact_command(self.device.launch)
        if self.defects:
            facts["sut.defects"] = ",".join(self.defects)
        facts.update({f"sut.{key}": value for key, value in self.certified().items() if value})
        return facts

    def certified(self) -> dict[str, str | None]:
        """vendor, product and version: who and what a certification names."""
        return {"vendor": self.vendor, "product": self.product, "version": self.version}


_SECRET_HINTS = ("token", "password", "secret", "apikey", "api-key", "key=")


def redact_command(command: str) -> str:
    """A launch or hook command with anything that looks like a secret value removed."""
    try:
        words = shlex.split(command)
    except ValueError:
        return "[unparseable command]"
    shown: list[str] = []
    hide_next = False
    for word in words:
        lowered = word.lower()
        if hide_next:
            shown.append("***")
            hide_next = False
        elif "=" in word and any(h in lowered.split("=", 1)[0] for h in _SECRET_HINTS[:5]):
            shown.append(word.split("=", 1)[0] + "=***")
        elif lowered.startswith("--") and any(h in lowered for h in _SECRET_HINTS[:5]):
            shown.append(word)
            hide_next = True
        else:
            shown.append(word)
    return shlex.join(shown)


# --- validation -------------------------------------------------------------------------------


class _Section:
    """Reads one TOML table, remembering which keys were used so unknown ones can be named."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"[{path}] must be a table, not {type(data).__name__}")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}"

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"{self._key(key)}: required key is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(f"{self._key(key)}: expected {_kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise ConfigError(f"{self._key(key)}: expected {_kind_name(kinds)}, got {type(value).__name__} {value!r}")
        return value

    def table(self, key: str) -> _Section | None:
        self.seen.add(key)
        if key not in self.data:
            return None
        return _Section(self.data[key], key if self.path == "root" else self._key(key))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(f"[{self.path}]: unknown key {', '.join(repr(k) for k in unknown)}")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_placeholders(key: str, template: str, allowed: frozenset[str]) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{key}: malformed placeholder in {template!r} ({exc})") from None
    unknown = sorted(f for f in fields if f not in allowed)
    if unknown:
        raise ConfigError(
            f"{key}: unknown placeholder {', '.join('{' + u + '}' for u in unknown)}; "
            f"allowed: {', '.join('{' + a + '}' for a in sorted(allowed))}"
        )
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"{key}: cannot be split into words ({exc})") from None
    if not words:
        raise ConfigError(f"{key}: empty command")
    if any(HARNESS_PLACEHOLDER in w and w != HARNESS_PLACEHOLDER for w in words):
        raise ConfigError(f"{key}: {HARNESS_PLACEHOLDER} must be a word of its own (it stands for several words)")


def _positive(key: str, value: float) -> float:
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {value!r}")
    return float(value)


def _parse_wfm(section: _Section, base_dir: Path, *, mtls: bool = False) -> WfmTarget:
    base_url = section.get("base_url", str, required=True)
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"wfm.base_url: must be an https:// URL with a host, got {base_url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"wfm.base_url: must not carry a query or fragment, got {base_url!r}")
    ca = section.get("ca", str, "download")
    if ca != "download":
        ca_path = (base_dir / ca).resolve()
        if not ca_path.is_file():
            raise ConfigError(f"wfm.ca: file not found: {ca_path}")
        ca = str(ca_path)
    server_name = section.get("server_name", str)
    timeout = _positive("wfm.request_timeout_s", section.get("request_timeout_s", (int, float), 10))
    hooks = OperatorHooks()
    op = section.table("operator")
    if op is not None:
        values: dict[str, Any] = {}
        for action in ("approve", "reject", "revoke", "trust_issuer", "approve_pending", "reject_pending",
                       *MTLS_OPERATOR_ACTIONS):
            command = op.get(action, str)
            if command is not None:
                _check_placeholders(f"wfm.operator.{action}", command, OPERATOR_PLACEHOLDERS)
                values[action] = command
        values["timeout_s"] = _positive("wfm.operator.timeout_s", op.get("timeout_s", (int, float), 30))
        op.finish()
        hooks = OperatorHooks(**values)
    mtls_keys = _parse_mtls_wfm(section, base_dir, ca_given="ca" in section.data, mtls=mtls)
    section.finish()
    return WfmTarget(base_url=base_url.rstrip("/"), ca=ca, server_name=server_name,
                     request_timeout_s=timeout, operator=hooks, **mtls_keys)


#: SPIFFE trust-domain names: lower-case letters, digits, dots, dashes, underscores (SVID-03).
_TRUST_DOMAIN = r"^[a-z0-9._-]+$"
#: wfm-id segment: letters, digits, dots, dashes, underscores, never "." or ".." (MID-06, Q-49).
_SEGMENT = r"^[A-Za-z0-9._-]+$"


def _parse_mtls_wfm(section: _Section, base_dir: Path, *, ca_given: bool, mtls: bool) -> dict[str, Any]:
    """The [wfm] keys of a mutual-TLS profile; under another profile they are an error naming the profile."""
    import re

    keys = ("wfm_id", "trust_domain", "svid_csr", "policy_mode", "rate_limit")
    if not mtls:
        given = [k for k in keys if k in section.data]
        if given:
            raise ConfigError(f"wfm.{given[0]}: only for a mutual-TLS profile (such as sut.profile = 'miaf-rc3')")
        return {}
    if ca_given:
        raise ConfigError("wfm.ca: not used under a mutual-TLS profile; the WFM is validated against the trust "
                          "bundle ([identity] ca_cert / bundle, or the harness's own in hooks mode)")
    wfm_id = section.get("wfm_id", str, required=True)
    if not re.fullmatch(_SEGMENT, wfm_id) or wfm_id in (".", ".."):
        raise ConfigError(f"wfm.wfm_id: letters, digits, '.', '-', '_' only, not '.' or '..' (MID-06), got {wfm_id!r}")
    trust_domain = section.get("trust_domain", str, required=True)
    if not re.fullmatch(_TRUST_DOMAIN, trust_domain):
        raise ConfigError(f"wfm.trust_domain: a lower-case SPIFFE trust domain name, got {trust_domain!r}")
    csr = section.get("svid_csr", str)
    csr_path = None
    if csr is not None:
        csr_path = (base_dir / csr).resolve()
        if not csr_path.is_file():
            raise ConfigError(f"wfm.svid_csr: file not found: {csr_path}")
    policy_mode = section.get("policy_mode", str, "allowlist")
    if policy_mode not in ("allowlist", "namespace"):
        raise ConfigError(f"wfm.policy_mode: 'allowlist' or 'namespace' (Q-65), got {policy_mode!r}")
    rate_limit = section.get("rate_limit", int)
    if rate_limit is not None and (isinstance(rate_limit, bool) or rate_limit < 1):
        raise ConfigError(f"wfm.rate_limit: a positive number of requests per second per client, got {rate_limit!r}")
    return {"wfm_id": wfm_id, "trust_domain": trust_domain, "svid_csr": csr_path, "policy_mode": policy_mode,
            "rate_limit": rate_limit}


def _parse_identity(section: _Section | None, hooks: OperatorHooks, base_dir: Path) -> IdentitySource | None:
    """[identity] (a vendor's signing CA) or the hooks that let the harness be the MIS; exactly one of the two."""
    if section is None:
        missing = [a for a in ("trust_bundle", "add_client", "install_wfm_svid") if not hooks.has(a)]
        if missing:
            raise ConfigError("a mutual-TLS WFM needs either [identity] ca_cert + ca_key (a signing CA the harness "
                              "mints client SVIDs from) or the operator hooks trust_bundle, add_client and "
                              f"install_wfm_svid; missing: {', '.join('wfm.operator.' + m for m in missing)}")
        return None
    paths: dict[str, Path] = {}
    for key, required in (("ca_cert", True), ("ca_key", True), ("bundle", False)):
        value = section.get(key, str, required=required)
        if value is None:
            continue
        path = (base_dir / value).resolve()
        if not path.is_file():
            raise ConfigError(f"identity.{key}: file not found: {path}")
        paths[key] = path
    section.finish()
    _check_signing_ca(paths["ca_cert"], paths["ca_key"])
    return IdentitySource(**paths)


def _check_signing_ca(cert_path: Path, key_path: Path) -> None:
    """The CA certificate must be a CA and the key must be its key; neither file's content is ever echoed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        raise ConfigError(f"identity.ca_cert: {cert_path} is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"identity.ca_key: {key_path} is not an unencrypted PEM private key") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ConfigError(f"identity.ca_cert: {cert_path} is not a CA certificate (basicConstraints cA=TRUE)")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, pub) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, pub):
        raise ConfigError("identity.ca_key: the key does not belong to identity.ca_cert")


def is_mtls_profile(profile: str) -> bool:
    """Whether the profile authenticates clients by mutual TLS with SVIDs (its authenticator kind, not its name)."""
    from ..profiles import load_profile

    return load_profile(profile).authenticator == "mtls-svid"


def _parse_device(section: _Section, *, mtls: bool = False) -> DeviceTarget:
    placeholders = MIAF_LAUNCH_PLACEHOLDERS if mtls else LAUNCH_PLACEHOLDERS
    mode = section.get("mode", str, "launch")
    if mode not in ("launch", "manual"):
        raise ConfigError(f"device.mode: must be 'launch' or 'manual', got {mode!r}")
    launch = section.get("launch", str)
    if mode == "launch":
        if not launch:
            raise ConfigError("device.launch: required when device.mode = 'launch'")
        _check_placeholders("device.launch", launch, placeholders)
    variants: dict[str, str | None] = {}
    for key in ("launch_bootstrap", "launch_gateway"):
        variants[key] = section.get(key, str)
        if variants[key] is not None:
            if mtls and key == "launch_bootstrap":
                raise ConfigError("device.launch_bootstrap: a mutual-TLS profile has no bootstrap channel (the device "
                                  "holds its SVID before its first call); use device.bundle instead")
            _check_placeholders(f"device.{key}", variants[key], placeholders)
    if mtls:
        variants.update(_parse_miaf_device(section, launch or "", placeholders))
    else:
        for key in ("bundle", "svid_rotation", "rotate_svid", "change_capabilities"):
            if key in section.data:
                raise ConfigError(f"device.{key}: only for a mutual-TLS profile (sut.profile = 'miaf-rc3')")
    timeout = _positive("device.timeout_s", section.get("timeout_s", (int, float), 30))
    parallel = section.get("parallel", bool, True)
    env_section = section.table("env")
    env: dict[str, str] = {}
    if env_section is not None:
        for key in list(env_section.data):
            env[key] = env_section.get(key, str)
        env_section.finish()
    section.finish()
    return DeviceTarget(mode=mode, launch=launch, timeout_s=timeout, env=env, parallel=parallel, **variants)


def _parse_miaf_device(section: _Section, launch: str, placeholders: frozenset[str]) -> dict[str, Any]:
    """[device] bundle, svid_rotation, rotate_svid, change_capabilities of a mutual-TLS device, checked together."""
    bundle = section.get("bundle", str, "file")
    if bundle not in BUNDLE_MODES:
        raise ConfigError(f"device.bundle: must be one of {', '.join(BUNDLE_MODES)}, got {bundle!r}")
    needs = {"file": ("bundle_file", "bundle_jwks"), "discovery": ("discovery_url",), "url": ("bundle_url",)}[bundle]
    used = {name for _, name, _, _ in string.Formatter().parse(launch) if name}
    if launch and not used & set(needs):
        raise ConfigError(f"device.bundle = {bundle!r}: device.launch must use "
                          f"{' or '.join('{' + n + '}' for n in needs)}")
    if bundle in ("discovery", "url") and launch and not used & {"mis_ca_file", "mis_pin"}:
        raise ConfigError(f"device.bundle = {bundle!r}: device.launch must give the MIS origin's initial trust "
                          "({mis_ca_file} or {mis_pin}; MTB-01: no trust on first use)")
    if launch and not {"svid_cert", "svid_key"} <= used:
        raise ConfigError("device.launch: a mutual-TLS device is given its X.509-SVID: use {svid_cert} and {svid_key} "
                          "(and {svid_chain} when the certificate file must not carry the intermediates)")
    rotation = section.get("svid_rotation", str, "none")
    if rotation not in SVID_ROTATION_MODES:
        raise ConfigError(f"device.svid_rotation: must be one of {', '.join(SVID_ROTATION_MODES)}, got {rotation!r}")
    rotate = section.get("rotate_svid", str)
    if rotation == "hook" and not rotate:
        raise ConfigError("device.rotate_svid: required when device.svid_rotation = 'hook'")
    if rotate is not None:
        if rotation != "hook":
            raise ConfigError("device.rotate_svid: only with device.svid_rotation = 'hook'")
        _check_placeholders("device.rotate_svid", rotate, placeholders)
    change = section.get("change_capabilities", str)
    if change is not None:
        _check_placeholders("device.change_capabilities", change, placeholders)
    return {"bundle": bundle, "svid_rotation": rotation, "rotate_svid": rotate, "change_capabilities": change}


#: The [sut] keys that name who and what is certified; each one line of printable text (quoted in signed records).
CERTIFIED_KEYS = ("vendor", "product", "version")
CERTIFIED_MAX_LENGTH = 200


def parse_sut(data: dict[str, Any], *, base_dir: Path, source: str) -> SutConfig:
    """Validate a parsed TOML document into a SutConfig: [sut] vendor / product / version here, the rest in
    ``_parse_sut``."""
    from dataclasses import replace

    sut = data.get("sut") if isinstance(data, dict) else None
    if not isinstance(sut, dict) or not any(key in sut for key in CERTIFIED_KEYS):
        return _parse_sut(data, base_dir=base_dir, source=source)
    certified = {key: _certified_value(key, sut[key]) for key in CERTIFIED_KEYS if key in sut}
    rest = {**data, "sut": {k: v for k, v in sut.items() if k not in CERTIFIED_KEYS}}
    return replace(_parse_sut(rest, base_dir=base_dir, source=source), **certified)


def _certified_value(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ConfigError(f"sut.{key}: expected a string, got {type(value).__name__} {value!r}")
    if not value.strip() or len(value) > CERTIFIED_MAX_LENGTH or not value.isprintable():
        raise ConfigError(f"sut.{key}: must be one line of printable text, 1 to {CERTIFIED_MAX_LENGTH} characters "
                          f"(got {value!r:.60})")
    return value.strip()


def _parse_sut(data: dict[str, Any], *, base_dir: Path, source: str) -> SutConfig:
    """Validate a parsed TOML document into a SutConfig (paths resolve relative to ``base_dir``)."""
    root = _Section(data, "root")
    sut = root.table("sut")
    if sut is None:
        raise ConfigError("[sut]: required table is missing")
    role = sut.get("role", str, required=True)
    if role not in ROLES:
        raise ConfigError(f"sut.role: must be 'wfm' or 'device', got {role!r}")
    name = sut.get("name", str, required=True)
    if not name.strip():
        raise ConfigError("sut.name: must not be empty")
    profile = sut.get("profile", str, DEFAULT_PROFILE)
    from ..profiles import known_profiles  # the profile folders (profiles/<name>/), not a list kept here

    if profile not in known_profiles():
        raise ConfigError(f"sut.profile: unknown profile {profile!r}; known profiles: {', '.join(known_profiles())}")
    sut.finish()
    wfm_section = root.table("wfm")
    device_section = root.table("device")
    identity_section = root.table("identity")
    operator_alias = root.table("operator")
    root.finish()
    if role == "wfm":
        if wfm_section is None:
            raise ConfigError("[wfm]: required table is missing for sut.role = 'wfm'")
        if device_section is not None:
            raise ConfigError("[device]: not allowed for sut.role = 'wfm'")
        mtls = is_mtls_profile(profile)
        if not mtls and (identity_section is not None or operator_alias is not None):
            raise ConfigError(f"[{'identity' if identity_section is not None else 'operator'}]: only for a mutual-TLS "
                              f"profile (sut.profile = 'miaf-rc3'); this file says {profile!r}")
        if operator_alias is not None:  # [operator] at the top level: the MIAF contract's spelling of [wfm.operator]
            if "operator" in wfm_section.data:
                raise ConfigError("[operator] and [wfm.operator]: give the operator hooks in one of them")
            wfm_section.data["operator"] = operator_alias.data
        target = _parse_wfm(wfm_section, base_dir, mtls=mtls)
        identity = _parse_identity(identity_section, target.operator, base_dir) if mtls else None
        return SutConfig(role=role, name=name, profile=profile, wfm=target, source=source, identity=identity)
    if device_section is None:
        raise ConfigError("[device]: required table is missing for sut.role = 'device'")
    if wfm_section is not None:
        raise ConfigError("[wfm]: not allowed for sut.role = 'device'")
    return SutConfig(role=role, name=name, profile=profile, source=source,
                     device=_parse_device(device_section, mtls=is_mtls_profile(profile)))


def load_sut(path: Path | str) -> SutConfig:
    """Read and validate a SUT file; every problem is a ConfigError naming the key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"SUT file {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"SUT file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"SUT file {path}: not valid TOML ({exc})") from None
    return parse_sut(data, base_dir=path.resolve().parent, source=str(path))


def builtin_sut(role: str, *, defects: tuple[str, ...] = (), profile: str = DEFAULT_PROFILE) -> SutConfig:
    """The reference implementation of a role; its address is known only once it has started."""
    if role not in ROLES:
        raise ConfigError(f"--role: must be 'wfm' or 'device', got {role!r}")
    label = "reference WFM" if role == "wfm" else "reference device"
    name = f"margo-conformance {label}" + (f" (defects: {', '.join(defects)})" if defects else "")
    return _certified_builtin(SutConfig(role=role, name=name, profile=profile, builtin=True, defects=defects,
                                        source="builtin"), label)


def _certified_builtin(sut: SutConfig, label: str) -> SutConfig:
    """The reference implementations name themselves: this project, their name, the harness version."""
    from dataclasses import replace

    from .. import __version__

    return replace(sut, vendor="margo-conformance project", product=f"margo-conformance {label}", version=__version__)
