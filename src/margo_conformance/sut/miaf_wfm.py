"""A WFM certified over mutual TLS with X.509-SVIDs (MIAF), as the WFM-role MIAF steps see it.

The harness is the MIS of its test trust domain (Q-40): it mints the WFM's SVID and every client fixture.
Three sources, one shape:

- ``--sut builtin``: the reference MIAF WFM (``wfm.miaf.MiafWfmServer``) started in-process on loopback with
  the requested defects, its SVID minted here, bundle {R1}, C-OK and C-OK2 on its accepted-client policy;
- a vendor WFM with ``[identity] ca_cert/ca_key``: the harness mints client SVIDs from the vendor's signing CA
  (which the WFM already trusts, and which issued the WFM's own SVID);
- a vendor WFM with operator hooks: the harness mints a fresh trust domain, installs bundle {R1}
  (``trust_bundle``), the WFM's SVID (``install_wfm_svid``) and its clients (``add_client``).
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import HarnessError
from ..mtls import ClientIdentity, MtlsWire
from ..verdict import NotTested
from . import SutConfig
from .operator_hooks import CallableOperator, CommandOperator, Operator

#: Client fixture names the policy holds (C-OK, C-OK2) and the one it must not (C-NOPOL): DIGEST section 2.
ON_POLICY = ("C-OK", "C-OK2")
#: Fixtures defined by the harness's own intermediate I1 (left out, or expired): a vendor's signing CA that signs
#: leaves directly has no intermediate, so they cannot be made and are NOT TESTED (Q-40).
NEED_INTERMEDIATE = ("C-LEAFONLY", "C-IEXP", "C-AIA")
#: The builtin WFM's declared rate limit (requests per second per client): far above what any scenario but the
#: burst sends, so the limit shows only where the burst test looks for it (MRTY-01).
BUILTIN_RATE_LIMIT = 100


@dataclass
class MiafWfmUnderTest:
    base_url: str
    trust_domain: str
    wfm_id: str
    authority: Any  # pki.spiffe.SpiffeAuthority
    #: The anchors the harness validates the WFM's SVID against (R1, or the vendor's CA / bundle).
    bundle_pem: bytes
    operator: Operator
    timeout_s: float
    policy_mode: str = "allowlist"
    #: Requests per second per client the operator declared (None: no burst test, MRTY-01 NOT TESTED).
    rate_limit: int | None = None
    facts: dict[str, str] = field(default_factory=dict)
    #: Where the client SVIDs are written (a per-run temp dir; keys 0600, never in a report).
    identity_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="margo-svids-")))
    #: Whether the harness minted this trust domain itself (negative fixtures that need I1/R2 then exist).
    harness_is_mis: bool = True
    _identities: dict[str, ClientIdentity | None] = field(default_factory=dict)
    _server: Any = None

    # --- identities --------------------------------------------------------------------------------

    def spiffe_id_of(self, client_id: str) -> str:
        from ..pki.spiffe import client_spiffe_id

        return client_spiffe_id(self.trust_domain, self.wfm_id, client_id)

    @property
    def wfm_spiffe_id(self) -> str:
        from ..pki.spiffe import wfm_spiffe_id

        return wfm_spiffe_id(self.trust_domain, self.wfm_id)

    def identity(self, fixture: str) -> ClientIdentity | None:
        """The client identity of a C-* fixture (None for C-NOCERT), minted once per run.

        NOT TESTED when this trust domain cannot make it (a vendor CA has no intermediate for C-IEXP)."""
        if fixture not in self._identities:
            if fixture in NEED_INTERMEDIATE and getattr(self.authority, "intermediate", None) is None:
                raise NotTested(f"{fixture} needs an intermediate CA between the anchor and the leaf; the signing CA "
                                "of [identity] signs leaves directly (Q-40: only the harness as MIS can make it)")
            try:
                svid = self.authority.client_fixture(fixture, wfm_id=self.wfm_id)
            except (KeyError, ValueError, NotImplementedError) as exc:
                raise NotTested(f"the harness cannot mint {fixture} in this trust domain ({exc})") from None
            self._identities[fixture] = None if svid is None else ClientIdentity.from_svid(svid, self.identity_dir,
                                                                                          fixture)
        return self._identities[fixture]

    def new_client(self, client_id: str, *, on_policy: bool = True) -> ClientIdentity:
        """A fresh client SVID (…/client/<client_id>), added to the accepted-client policy when asked."""
        svid = self.authority.client_svid(client_id, wfm_id=self.wfm_id)
        identity = ClientIdentity.from_svid(svid, self.identity_dir, f"client-{client_id}")
        if on_policy:
            self.add_client(identity.spiffe_id or self.spiffe_id_of(client_id))
        return identity

    def add_client(self, spiffe_id: str) -> None:
        if not self.operator.can("add_client"):
            raise NotTested("needs the operator hook wfm.operator.add_client to put a new client on the policy")
        self.operator.perform("add_client", spiffe_id=spiffe_id)

    def retire_client(self, spiffe_id: str) -> None:
        if not self.operator.can("retire_client"):
            raise NotTested("needs the operator hook wfm.operator.retire_client (MID-12)")
        self.operator.perform("retire_client", spiffe_id=spiffe_id)

    def wire(self, identity: ClientIdentity | None, **tls: Any) -> MtlsWire:
        """A client connection pool presenting ``identity``; NOT TESTED when this harness's TLS library refuses
        to present that certificate at all (OpenSSL rejects some fixtures, e.g. a key usage it cannot sign with)."""
        try:
            return MtlsWire(self.base_url, identity, self.bundle_pem, timeout=self.timeout_s, **tls)
        except ssl.SSLError as exc:
            name = identity.name if identity is not None else "no certificate"
            raise NotTested(f"this harness's TLS library refuses to present {name} ({exc.reason or exc})") from None

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def open_miaf_wfm_under_test(sut: SutConfig) -> MiafWfmUnderTest:
    """Start (builtin) or set up (vendor: [identity] or hooks) the MIAF WFM; the caller closes it."""
    if sut.builtin:
        return _start_builtin(sut)
    assert sut.wfm is not None and sut.wfm.trust_domain and sut.wfm.wfm_id
    if sut.identity is not None:
        return _from_vendor_ca(sut)
    return _with_hooks(sut)


def _start_builtin(sut: SutConfig) -> MiafWfmUnderTest:
    from ..pki.spiffe import DEFAULT_WFM_ID, TRUST_DOMAIN, SpiffeAuthority
    from ..wfm.miaf import MiafWfmServer

    authority = SpiffeAuthority(TRUST_DOMAIN)
    bundle = authority.bundle_pem(rotation="R1")
    server = MiafWfmServer(svid=authority.wfm_svid(DEFAULT_WFM_ID), bundle_pem=bundle, trust_domain=TRUST_DOMAIN,
                           wfm_id=DEFAULT_WFM_ID, defects=sut.defects, authority=authority,
                           rate_limit=BUILTIN_RATE_LIMIT).start()
    op = server.operator
    operator = CallableOperator({
        "add_client": lambda spiffe_id="", **_: str(op.add_client(spiffe_id)),
        "retire_client": lambda spiffe_id="", **_: str(op.retire_client(spiffe_id)),
        "trust_bundle": lambda bundle_file="", **_: str(op.set_trust_bundle(Path(bundle_file).read_bytes())),
        "maintenance_on": lambda **_: str(op.set_maintenance(True)),
        "maintenance_off": lambda **_: str(op.set_maintenance(False)),
    })
    target = MiafWfmUnderTest(base_url=server.base_url, trust_domain=TRUST_DOMAIN, wfm_id=DEFAULT_WFM_ID,
                              authority=authority, bundle_pem=bundle, operator=operator, timeout_s=10.0,
                              rate_limit=BUILTIN_RATE_LIMIT, _server=server)
    for fixture in ON_POLICY:
        identity = target.identity(fixture)
        assert identity is not None
        op.add_client(identity.spiffe_id or "")
    target.facts = {"wfm.base_url": server.base_url, "wfm.spiffe_id": target.wfm_spiffe_id,
                    "wfm.identity": "harness as MIS (builtin): bundle {R1}, C-OK and C-OK2 on the policy"}
    return target


def _from_vendor_ca(sut: SutConfig) -> MiafWfmUnderTest:
    from ..pki.spiffe import SpiffeAuthority

    assert sut.wfm is not None and sut.identity is not None
    ident = sut.identity
    authority = SpiffeAuthority.from_ca(ident.ca_cert.read_bytes(), ident.ca_key.read_bytes(), sut.wfm.trust_domain)
    bundle = (ident.bundle or ident.ca_cert).read_bytes()
    target = MiafWfmUnderTest(base_url=sut.wfm.base_url, trust_domain=sut.wfm.trust_domain or "",
                              wfm_id=sut.wfm.wfm_id or "", authority=authority, bundle_pem=bundle,
                              operator=CommandOperator(sut.wfm.operator), timeout_s=sut.wfm.request_timeout_s,
                              policy_mode=sut.wfm.policy_mode, rate_limit=sut.wfm.rate_limit, harness_is_mis=False)
    _put_baseline_clients_on_policy(target)
    target.facts = {"wfm.base_url": target.base_url, "wfm.spiffe_id": target.wfm_spiffe_id,
                    "wfm.identity": "vendor signing CA ([identity]); Q-40: fixtures needing R2 or I1 are NOT TESTED"}
    return target


def _with_hooks(sut: SutConfig) -> MiafWfmUnderTest:
    from ..pki.spiffe import SpiffeAuthority

    assert sut.wfm is not None
    authority = SpiffeAuthority(sut.wfm.trust_domain or "")
    operator = CommandOperator(sut.wfm.operator)
    target = MiafWfmUnderTest(base_url=sut.wfm.base_url, trust_domain=sut.wfm.trust_domain or "",
                              wfm_id=sut.wfm.wfm_id or "", authority=authority,
                              bundle_pem=authority.bundle_pem(rotation="R1"), operator=operator,
                              timeout_s=sut.wfm.request_timeout_s, policy_mode=sut.wfm.policy_mode,
                              rate_limit=sut.wfm.rate_limit)
    if sut.wfm.svid_csr is not None:
        svid = authority.wfm_svid_from_csr(sut.wfm.svid_csr.read_bytes(), target.wfm_id)
    else:
        svid = authority.wfm_svid(target.wfm_id)
    files = svid.write(target.identity_dir, "wfm-svid")
    bundle_files = authority.write_bundle(target.identity_dir, rotation="R1")
    operator.perform("trust_bundle", bundle_file=str(bundle_files.pem))
    operator.perform("install_wfm_svid", svid_cert=str(files.cert),
                     svid_key="" if getattr(svid, "key", None) is None else str(files.key), svid_chain=str(files.chain))
    _put_baseline_clients_on_policy(target)
    target.facts = {"wfm.base_url": target.base_url, "wfm.spiffe_id": target.wfm_spiffe_id,
                    "wfm.identity": "harness as MIS (operator hooks): bundle {R1} and the WFM SVID installed"}
    return target


def _put_baseline_clients_on_policy(target: MiafWfmUnderTest) -> None:
    """C-OK and C-OK2 on the accepted-client policy (hook add_client), unless the operator declared that the
    whole client namespace is accepted (Q-65), where nothing needs adding."""
    if target.policy_mode == "namespace" or not target.operator.can("add_client"):
        return
    for fixture in ON_POLICY:
        identity = target.identity(fixture)
        if identity is None or identity.spiffe_id is None:
            raise HarnessError(f"{fixture} has no SPIFFE ID")
        target.add_client(identity.spiffe_id)
