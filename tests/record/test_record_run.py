"""Issue 21 acceptance: one signed record of a failing WFM run (builtin, one defect), shared by every test here.

It verifies; one changed byte in any file, an added or removed file, a swapped signer certificate each make
``record verify`` fail with a line naming it; the DSSE signature verifies with the openssl CLI over a PAE this
test builds itself; the HAR is valid against npm har-schema and read by haralyzer; no file holds a private key;
re-judging with today's harness changes nothing, and a check made stricter changes exactly its own verdicts.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.pki import TestCA

from .har_schema import har_errors

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEFECT = "unsigned-accepted"  # fails SIG-12


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A lab CA, the lab's signing certificate (P-256) and another lab's, made for this run only."""
    d = tmp_path_factory.mktemp("lab")
    ca = TestCA("Test Lab Root CA")
    (d / "ca.pem").write_bytes(ca.cert_pem())
    signer, other = ca.issue_client_cert("Test Lab Signer"), ca.issue_client_cert("Another Lab Signer")
    cert, key = signer.write_files(d, "lab")
    other_cert, _ = other.write_files(d, "other")
    return {"ca": d / "ca.pem", "cert": cert, "key": key, "other": other_cert, "other_key": d / "other.key"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, lab: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("run") / "wfm"
    proc = subprocess.run(
        [sys.executable, "-m", "margo_conformance", "run", "--role", "wfm", "--sut", "builtin", "--defect", DEFECT,
         "--output", str(out), "--lab", "Test Lab", "--engineer", "A. Tester",
         "--sign-key", str(lab["key"]), "--sign-cert", str(lab["cert"])],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "signed by CN=Test Lab Signer" in proc.stdout
    return out


def _verify(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`margo-conformance record verify`, in-process (the CLI is typer; a subprocess per call costs ~0.5 s)."""
    from margo_conformance.cli import app

    result = CliRunner().invoke(app, ["record", "verify", str(directory), *args])
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def copy(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run_dir, target)
    return target


def test_record_of_a_failing_run_verifies(run_dir: Path, lab: dict[str, Path]) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["result"]["verdict"] == "FAIL"
    for option in (("--cert", str(lab["cert"])), ("--trust-anchor", str(lab["ca"]))):
        proc = _verify(run_dir, *option)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("OK:")
    record = json.loads((run_dir / "record.json").read_text())
    listed = {f["path"] for f in record["files"]}
    assert {"summary.json", "summary.md", "junit.xml", "evidence/exchanges.har", "evidence/checks.json"} <= listed
    assert record["identity"]["run"]["lab"] == "Test Lab" and record["identity"]["catalog"]["digest"]
    sig12 = next(r for r in record["result"]["requirements"] if r["id"] == "SIG-12")
    assert sig12["verdict"] == "FAIL"


@pytest.mark.parametrize("name", ["summary.json", "junit.xml", "evidence/exchanges.har", "evidence/checks.json",
                                  "record.json", "allure-results/environment.properties"])
def test_one_changed_byte_is_named(copy: Path, lab: dict[str, Path], name: str) -> None:
    path = copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    proc = _verify(copy, "--cert", str(lab["cert"]))
    assert proc.returncode == 1
    assert f"changed: {name} has SHA-256" in proc.stdout
    assert sum(1 for line in proc.stdout.splitlines() if line.startswith(("changed", "added", "removed"))) == 1


def test_added_and_removed_files_are_named(copy: Path, lab: dict[str, Path]) -> None:
    (copy / "evidence" / "extra.txt").write_text("not part of the run\n")
    (copy / "summary.md").unlink()
    proc = _verify(copy, "--cert", str(lab["cert"]))
    assert proc.returncode == 1
    assert "added: evidence/extra.txt is in the directory but not in the record" in proc.stdout
    assert "removed: summary.md is in the record but not in the directory" in proc.stdout


def test_swapped_signer_certificate_is_named(copy: Path, lab: dict[str, Path]) -> None:
    # Another lab's certificate given to the verifier.
    proc = _verify(copy, "--cert", str(lab["other"]))
    assert proc.returncode == 1
    assert re.search(r"^signer certificate: the record names CN=Test Lab Signer.*not the given certificate "
                     r"CN=Another Lab Signer", proc.stdout, re.M)
    assert "signature: the DSSE signature over the statement does not verify" in proc.stdout
    # The certificate inside the record swapped for another one that chains to the same lab CA.
    envelope_path = copy / "record.dsse.json"
    envelope = json.loads(envelope_path.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["signer"]["certificate"] = lab["other"].read_text()
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    envelope_path.write_text(json.dumps(envelope))
    proc = _verify(copy, "--trust-anchor", str(lab["ca"]))
    assert proc.returncode == 1
    assert "signature: the DSSE signature over the statement does not verify with the record's signer certificate " \
           "(CN=Another Lab Signer" in proc.stdout


def test_signature_verifies_with_openssl(run_dir: Path, lab: dict[str, Path], tmp_path: Path) -> None:
    """Not our code: the PAE is built here from the DSSE spec, the signature checked by `openssl dgst`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl CLI on this machine")
    envelope = json.loads((run_dir / "record.dsse.json").read_text())
    payload, payload_type = base64.b64decode(envelope["payload"]), envelope["payloadType"].encode()
    pae = b"DSSEv1 " + str(len(payload_type)).encode() + b" " + payload_type + b" " + \
        str(len(payload)).encode() + b" " + payload
    (tmp_path / "pae.bin").write_bytes(pae)
    (tmp_path / "sig.der").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))  # ECDSA: DER already
    pub = subprocess.run([openssl, "x509", "-in", str(lab["cert"]), "-pubkey", "-noout"], capture_output=True,
                         check=True).stdout
    (tmp_path / "pub.pem").write_bytes(pub)
    ok = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                         str(tmp_path / "sig.der"), str(tmp_path / "pae.bin")], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
    (tmp_path / "pae.bin").write_bytes(pae.replace(b"FAIL", b"PASS", 1))
    bad = subprocess.run([openssl, "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                          str(tmp_path / "sig.der"), str(tmp_path / "pae.bin")], capture_output=True, text=True)
    assert bad.returncode == 1
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert {s["name"] for s in statement["subject"]} >= {"record.json", "evidence/exchanges.har"}


def test_har_is_valid_har_and_read_by_haralyzer(run_dir: Path) -> None:
    from haralyzer import HarEntry, HarParser

    har_path = run_dir / "evidence" / "exchanges.har"
    document = json.loads(har_path.read_text())
    assert har_errors(document) == []
    parser = HarParser.from_file(str(har_path))
    assert parser.version == "1.2" and parser.creator["name"] == "margo-conformance"
    entries = [HarEntry(e) for e in document["log"]["entries"]]
    assert len(entries) > 50
    statuses = {e.response.status for e in entries}
    assert 201 in statuses and 401 in statuses
    judged = [e for e in document["log"]["entries"] if any("SIG-12" in j["requirements"] for j in e["_judgedBy"])]
    assert judged and all(j["check"].startswith("margo_conformance.checks.wfm:") for e in judged for j in e["_judgedBy"])
    assert any(e["request"]["method"] == "PUT" and e["response"]["status"] == 201 for e in judged)  # the defect


def test_no_private_key_in_any_file(run_dir: Path) -> None:
    base64_pem = re.compile(rb"LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}")
    for path in run_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert b"PRIVATE KEY" not in data, path
        for token in base64_pem.findall(data):
            assert b"PRIVATE KEY" not in base64.b64decode(token + b"=" * (-len(token) % 4)), path
    redacted = [e for e in json.loads((run_dir / "evidence" / "exchanges.har").read_text())["log"]["entries"]
                if e.get("_redacted")]
    assert redacted, "the pem-private-key scenario's request must be in the HAR, redacted"


def test_rejudge_with_todays_harness_changes_nothing(run_dir: Path) -> None:
    from margo_conformance.cli import app

    result = CliRunner().invoke(app, ["rejudge", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "No verdict changed." in result.output
    assert "Result: FAIL (unchanged)" in result.output
    # The one exchange whose request held a (throwaway) private key cannot be re-judged byte for byte: said so.
    assert re.search(r"^cannot re-judge \w+ \[c\d+\]: the record lacks the exact bytes of exchange e\d+",
                     result.output, re.M)


def test_a_stricter_check_changes_exactly_its_own_verdicts(run_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path, lab: dict[str, Path]) -> None:
    from margo_conformance.checks import wfm as wfm_checks
    from margo_conformance.cli import app
    from margo_conformance.verdict import Verdict, check

    original = wfm_checks.client_id_url_safe

    @check("ONB-11")
    def client_id_url_safe(client_id: str | None) -> Verdict:  # stricter: at most 8 characters
        verdict = original(client_id)
        ok = verdict.passed and len(client_id or "") <= 8
        return Verdict.of(ok, verdict.what, expected="URL-safe, at most 8 characters", observed=client_id)

    monkeypatch.setattr(wfm_checks, "client_id_url_safe", client_id_url_safe)
    calls = [c for c in json.loads((run_dir / "evidence" / "checks.json").read_text())["calls"]
             if c["check"].endswith(":client_id_url_safe")]
    assert calls
    out = tmp_path / "rejudged"
    result = CliRunner().invoke(app, ["rejudge", str(run_dir), "--write", "--output", str(out),
                                      "--sign-key", str(lab["key"]), "--sign-cert", str(lab["cert"])])
    assert result.exit_code == 1, result.output
    check_lines = [line for line in result.output.splitlines() if line.startswith("check ")]
    assert len(check_lines) == len(calls)
    assert all(":client_id_url_safe [" in line and "passed -> failed (must axis)" in line for line in check_lines)
    requirement_lines = [line for line in result.output.splitlines() if re.match(r"^[A-Z]+-\d+: ", line)]
    assert requirement_lines and all(line.startswith("ONB-11: PASS -> FAIL") for line in requirement_lines)
    # The new record names the one it re-judged, and verifies on its own.
    record = json.loads((out / "record.json").read_text())
    from margo_conformance.record.manifest import sha256_file

    assert record["rejudged"]["record_digest"]["sha256"] == sha256_file(run_dir / "record.dsse.json")
    assert record["rejudged"]["changed_requirements"] == ["ONB-11"]
    proc = _verify(out, "--cert", str(lab["cert"]))
    assert proc.returncode == 0, proc.stdout
    assert _verify(run_dir, "--cert", str(lab["cert"])).returncode == 0  # the original was not touched


def test_unsigned_record_says_so(copy: Path) -> None:
    from margo_conformance.record.manifest import write_record

    write_record(copy, None)
    proc = _verify(copy)
    assert proc.returncode == 1
    assert proc.stdout.startswith("signature: the record is UNSIGNED")
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("changed", "added", "removed"))]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _verify(tmp_path / "missing").returncode == 2
    proc = _verify(tmp_path)
    assert proc.returncode == 2 and "record.dsse.json: cannot be read" in proc.stderr
    (tmp_path / "record.dsse.json").write_text("{not json")
    assert _verify(tmp_path).returncode == 2


def test_rejudge_warns_about_changed_evidence_and_reports_a_call_that_judges_now(copy: Path) -> None:
    """A call that was NOT TESTED in the run and judges now is a change; a changed file is warned about first."""
    from margo_conformance.cli import app

    checks_path, summary_path = copy / "evidence" / "checks.json", copy / "summary.json"
    checks, summary = json.loads(checks_path.read_text()), json.loads(summary_path.read_text())
    scenario = next(s for s in summary["scenarios"] if s["outcome"] == "passed" and s["verdicts"])
    origin = checks["verdict_calls"][scenario["id"]][-1]
    del scenario["verdicts"][-1]
    checks["verdict_calls"][scenario["id"]].pop()
    call = next(c for c in checks["calls"] if c["id"] == origin)
    call["outcome"] = {"not_tested": "pretend the run could not judge this"}
    checks_path.write_text(json.dumps(checks))
    summary_path.write_text(json.dumps(summary))
    result = CliRunner().invoke(app, ["rejudge", str(copy)])
    assert result.exit_code == 1, result.output
    assert "warning: changed: evidence/checks.json" in result.output
    assert re.search(rf"^check .*\[{origin}, .*\]: NOT TESTED: pretend the run could not judge this -> passed",
                     result.output, re.M), result.output
