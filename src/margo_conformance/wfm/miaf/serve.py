"""What ``margo-conformance wfm serve --profile miaf-rc3`` runs, and the operator commands' data-dir access.

Without ``--svid-cert``/``--svid-key`` the command makes a development trust domain in the data directory
(``SpiffeAuthority``): ``bundle.pem`` and ``bundle.jwks.json``, the WFM's SVID (``wfm-svid.pem``/``.key``) and a
client SVID ``client-c1.pem``/``client-c1.key`` already on the policy, so a person can

    curl --cert D/client-c1.pem --key D/client-c1.key --cacert D/bundle.pem \
         -X PUT https://localhost:PORT/api/v1/capabilities/d1 -H 'content-type: application/json' -d @body.json

(curl checks the host name by default; the dev WFM SVID carries the DNS SAN ``localhost`` for that, beside its
SPIFFE ID, so the printed command uses ``https://localhost:PORT``; MIAF clients match the SPIFFE ID, Q-55). A restart with the same data directory reuses what is there. Keys are mode 0600;
nothing prints a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ...errors import ConfigError
from ...pki import IssuedCert
from ...pki.spiffe import DEFAULT_WFM_ID, TRUST_DOMAIN, SpiffeAuthority, SpiffeId, SpiffeIdError, client_spiffe_id
from .server import MiafOperator, check_bundle
from .store import DB_NAME, MiafStore

WFM_SVID_STEM = "wfm-svid"
DEV_CLIENT = "c1"


@dataclass(frozen=True)
class ServeSetup:
    svid: IssuedCert
    bundle_pem: bytes
    trust_domain: str
    wfm_id: str
    authority: SpiffeAuthority | None
    made: dict[str, Path]  # what a dev trust domain wrote: name -> path (printed)
    dev_client: str | None = None


def load_svid(cert: Path, key: Path) -> IssuedCert:
    try:
        certs = x509.load_pem_x509_certificates(cert.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read the SVID: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--svid-cert/--svid-key: not a PEM certificate chain and an unencrypted PEM key ({exc})") \
            from None
    return IssuedCert(certs[0], private, tuple(certs[1:]))  # type: ignore[arg-type]


def _wfm_identity(cert: x509.Certificate) -> tuple[str, str]:
    """(trust domain, wfm-id) of a WFM SVID leaf."""
    from ...pki.spiffe import uri_sans

    sans = uri_sans(cert)
    if len(sans) != 1:
        raise ConfigError(f"--svid-cert: a WFM SVID has exactly one URI SAN, this one has {len(sans)}")
    try:
        sid = SpiffeId.parse(sans[0])
    except SpiffeIdError as exc:
        raise ConfigError(f"--svid-cert: {sans[0]!r} is not a SPIFFE ID ({exc})") from None
    seg = sid.segments
    if len(seg) != 3 or seg[:2] != ("margo", "wfm"):
        raise ConfigError(f"--svid-cert: {sans[0]!r} is not a WFM SPIFFE ID spiffe://<td>/margo/wfm/<wfm-id>")
    return sid.trust_domain, seg[2]


def prepare(data_dir: Path, *, svid_cert: Path | None, svid_key: Path | None, trust_bundle: Path | None,
            wfm_id: str | None) -> ServeSetup:
    """The SVID, bundle and identity to serve with: the given files, or a dev trust domain made in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if (svid_cert is None) != (svid_key is None):
        raise ConfigError("--svid-cert and --svid-key go together")
    if svid_cert is not None and svid_key is not None:
        if trust_bundle is None:
            raise ConfigError("--svid-cert needs --trust-bundle (the PEM anchors client SVIDs chain to)")
        svid = load_svid(svid_cert, svid_key)
        td, own_id = _wfm_identity(svid.cert)
        if wfm_id is not None and wfm_id != own_id:
            raise ConfigError(f"--wfm-id {wfm_id!r} differs from the SVID's wfm-id {own_id!r}")
        bundle = _read_bundle(trust_bundle)
        return ServeSetup(svid, bundle, td, own_id, None, {})
    reused = _reuse_dev_domain(data_dir, trust_bundle, wfm_id)
    if reused is not None:
        return reused
    authority = SpiffeAuthority(TRUST_DOMAIN)
    wid = wfm_id or DEFAULT_WFM_ID
    try:
        svid = authority.wfm_svid(wid, dns_names=("localhost",))
    except ValueError as exc:
        raise ConfigError(f"--wfm-id: {exc}") from None
    made: dict[str, Path] = {}
    files = authority.write_bundle(data_dir)
    made["trust bundle (PEM)"], made["trust bundle (SPIFFE JWK Set)"] = files.pem, files.jwks
    if trust_bundle is not None:  # the operator's own anchors replace the dev bundle
        bundle = _read_bundle(trust_bundle)
    else:
        bundle = files.pem.read_bytes()
    wfm_files = svid.write(data_dir, WFM_SVID_STEM)
    made["WFM SVID"], made["WFM SVID key"] = wfm_files.cert, wfm_files.key
    client = authority.client_svid(DEV_CLIENT, wfm_id=wid)
    client_files = client.write(data_dir, f"client-{DEV_CLIENT}")
    made["client c1 SVID"], made["client c1 key"] = client_files.cert, client_files.key
    return ServeSetup(svid, bundle, TRUST_DOMAIN, wid, authority, made,
                      dev_client=client_spiffe_id(TRUST_DOMAIN, wid, DEV_CLIENT))


def _reuse_dev_domain(data_dir: Path, trust_bundle: Path | None, wfm_id: str | None) -> ServeSetup | None:
    """A dev trust domain an earlier ``serve`` made in ``data_dir`` (same SVID, same anchors), if complete."""
    cert, key, bundle = (data_dir / f"{WFM_SVID_STEM}.pem", data_dir / f"{WFM_SVID_STEM}.key", data_dir / "bundle.pem")
    if not (cert.exists() and key.exists() and bundle.exists()):
        return None
    svid = load_svid(cert, key)
    td, own_id = _wfm_identity(svid.cert)
    if wfm_id is not None and wfm_id != own_id:
        raise ConfigError(f"--wfm-id {wfm_id!r}: {data_dir} already holds a dev trust domain for wfm-id {own_id!r}; "
                          "use another --data-dir")
    made = {"trust bundle (PEM)": bundle, "WFM SVID": cert}
    client = data_dir / f"client-{DEV_CLIENT}.pem"
    if client.exists():
        made["client c1 SVID"], made["client c1 key"] = client, data_dir / f"client-{DEV_CLIENT}.key"
    return ServeSetup(svid, _read_bundle(trust_bundle or bundle), td, own_id, None, made,
                      dev_client=client_spiffe_id(td, own_id, DEV_CLIENT) if client.exists() else None)


def _read_bundle(path: Path) -> bytes:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the trust bundle {path}: {exc.strerror or exc}") from None
    try:
        check_bundle(pem)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return pem


def open_operator(data_dir: Path) -> MiafOperator:
    """The operator of an existing MIAF WFM data directory (ConfigError when there is none)."""
    if not (data_dir / DB_NAME).exists():
        raise ConfigError(f"{data_dir} holds no MIAF WFM database ({DB_NAME}); start 'wfm serve --profile miaf-rc3 "
                          f"--data-dir {data_dir}' once first")
    store = MiafStore.in_dir(data_dir)
    trust_domain, wfm_id = store.identity()
    return MiafOperator(store, trust_domain=trust_domain, wfm_id=wfm_id)
