"""A SPIFFE trust domain made by the openssl CLI alone (R1 -> I1 -> WFM and client leaves), from a config
written here: URI SAN, critical KU digitalSignature, EKU serverAuth+clientAuth, cA=false. Used by the interop
tests so that the harness meets SVIDs it did not mint. Keys stay in the given directory."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

OPENSSL = shutil.which("openssl")
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

_CA = """\
basicConstraints = critical, CA:true, pathlen:{pathlen}
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
_LEAF = """\
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = URI:{uri}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def config(wfm_uri: str, client_uris: dict[str, str]) -> str:
    sections = ["[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nO = openssl interop (test only)\n",
                "[root]\n" + _CA.format(pathlen=1),
                "[inter]\n" + _CA.format(pathlen=0) + "authorityKeyIdentifier = keyid\n",
                "[wfm]\n" + _LEAF.format(uri=wfm_uri)]
    sections += [f"[{name}]\n" + _LEAF.format(uri=uri) for name, uri in client_uris.items()]
    return "\n".join(sections)


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)
    if done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)}: {done.stderr}")


def _leaf(tmp: Path, name: str) -> None:
    openssl("req", "-new", *EC, "-config", "svid.cnf", "-subj", f"/O=openssl interop/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=tmp)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "i1.pem", "-CAkey", "i1.key", "-CAcreateserial",
            "-days", "1", "-sha256", "-extfile", "svid.cnf", "-extensions", name, "-out", f"{name}-leaf.pem", cwd=tmp)
    # what a TLS peer presents: the leaf and I1 (SVID-08); R1 stays in the bundle
    (tmp / f"{name}.pem").write_bytes((tmp / f"{name}-leaf.pem").read_bytes() + (tmp / "i1.pem").read_bytes())


def make_trust_domain(tmp: Path, wfm_uri: str, client_uris: dict[str, str]) -> Path:
    """Write r1.pem/.key, i1.pem/.key, wfm.pem/.key and <client>.pem/.key (leaf + I1) into ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "svid.cnf").write_text(config(wfm_uri, client_uris))
    openssl("req", "-x509", *EC, "-config", "svid.cnf", "-extensions", "root", "-subj", "/O=openssl interop/CN=R1",
            "-days", "30", "-keyout", "r1.key", "-out", "r1.pem", cwd=tmp)
    openssl("req", "-new", *EC, "-config", "svid.cnf", "-subj", "/O=openssl interop/CN=I1",
            "-keyout", "i1.key", "-out", "i1.csr", cwd=tmp)
    openssl("x509", "-req", "-in", "i1.csr", "-CA", "r1.pem", "-CAkey", "r1.key", "-CAcreateserial", "-days", "30",
            "-sha256", "-extfile", "svid.cnf", "-extensions", "inter", "-out", "i1.pem", cwd=tmp)
    for name in ("wfm", *client_uris):
        _leaf(tmp, name)
    return tmp
