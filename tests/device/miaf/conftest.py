"""Fixtures of the reference MIAF device tests: one SPIFFE authority per module, the device's files, the
reference MIAF WFM as the device's peer (``observer=`` sees every request), and the command run in-process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.cli import app
from margo_conformance.pki.spiffe import SpiffeAuthority, Svid, client_spiffe_id
from margo_conformance.profiles import load_profile
from margo_conformance.wfm.miaf import MiafWfmServer
from margo_conformance.device.miaf.command import MiafOptions, config_of
from margo_conformance.device.miaf.device import MiafDevice, ReportFailed

TD, WFM_ID = "harness.test", "wfm-h1"
PROFILE = load_profile("miaf-rc3")
runner = CliRunner()


@dataclass(frozen=True)
class DeviceFiles:
    dir: Path
    cert: Path
    key: Path
    chain: Path
    bundle_pem: Path
    bundle_jwks: Path

    def args(self, *, bundle: str = "jwks") -> list[str]:
        return ["--svid-cert", str(self.cert), "--svid-key", str(self.key), "--svid-chain", str(self.chain),
                "--bundle-file", str(self.bundle_jwks if bundle == "jwks" else self.bundle_pem)]


@pytest.fixture(scope="module")
def authority() -> SpiffeAuthority:
    return SpiffeAuthority(TD)


@pytest.fixture(scope="module")
def files(authority: SpiffeAuthority, tmp_path_factory: pytest.TempPathFactory) -> DeviceFiles:
    d = tmp_path_factory.mktemp("device")
    svid = authority.client_svid("dut1", wfm_id=WFM_ID)
    written = Svid(svid.cert, svid.key, ()).write(d, "dut1")  # leaf only in the cert file ...
    (d / "dut1-chain.pem").write_bytes(svid.chain_pem()[len(svid.cert_pem()):])  # ... intermediates beside it
    bundle = authority.write_bundle(d)
    return DeviceFiles(d, written.cert, written.key, d / "dut1-chain.pem", bundle.pem, bundle.jwks)


@dataclass
class Peer:
    server: MiafWfmServer
    seen: list

    @property
    def url(self) -> str:
        return f"https://localhost:{self.server.port}"

    def requests(self) -> list[tuple[str, str, int | None]]:
        return [(e.method, e.target, e.status) for e in self.seen]


@contextmanager
def wfm(authority: SpiffeAuthority, svid=None, **kwargs) -> Iterator[Peer]:
    """The reference MIAF WFM presenting ``svid`` (W-OK: no DNS SAN), dut1 and dut9 on its policy."""
    seen: list = []
    server = MiafWfmServer(svid=svid or authority.wfm_svid(WFM_ID), bundle_pem=authority.bundle_pem(),
                           trust_domain=TD, wfm_id=WFM_ID, observer=seen.append, **kwargs)
    with server:
        for client in ("dut1", "dut9"):
            server.operator.add_client(client_spiffe_id(TD, WFM_ID, client))
        yield Peer(server, seen)


def run_device(url: str, *args: str) -> tuple[int, str]:
    """``device run --profile miaf-rc3`` in-process; (exit code, stdout + stderr)."""
    result = runner.invoke(app, ["device", "run", "--profile", "miaf-rc3", "--wfm-url", url, "--timeout", "5",
                                 *args])
    return result.exit_code, result.output


class Watching:
    """A --watch device on a thread (the same MiafDevice the command runs), stopped like SIGTERM stops it."""

    def __init__(self, opts: MiafOptions) -> None:
        self.stop = threading.Event()
        self.device = MiafDevice(config_of(PROFILE, opts), stop=self.stop)
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            try:
                self.device.start()
            except ReportFailed:  # as the command does with --watch: logged, still watching
                pass
            self.device.watch()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            self.error = exc
        finally:
            self.done.set()

    def __enter__(self) -> Watching:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(10)
        self.device.close()


def options(url: str, files: DeviceFiles, **kw) -> MiafOptions:
    base = dict(wfm_url=url, svid_cert=files.cert, svid_key=files.key, svid_chain=files.chain,
                bundle_file=files.bundle_jwks, watch=True, timeout=5.0)
    base.update(kw)
    return MiafOptions(**base)


def body_of(exchange) -> dict:
    return json.loads(exchange.body)
