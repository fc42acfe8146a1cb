"""Issue 21, without a run: SUT identity keys, the catalog digest, the identity in every report, the HAR round
trip (bytes exact, raw files, redaction), argument capture and re-reading, records signed with RSA and checked
against an unrelated trust anchor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margo_conformance.errors import ConfigError
from margo_conformance.evidence import CapturedRequest, CapturedResponse, Exchange, TlsFacts
from margo_conformance.pki import KeyType, TestCA, non_certificates
from margo_conformance.record import har
from margo_conformance.record.capture import CheckRecorder, Decoder
from margo_conformance.catalog_digest import catalog_digest
from margo_conformance.requirements import load_catalog
from margo_conformance.sut import builtin_sut, load_sut

SUT = """
[sut]
role = "wfm"
name = "Acme WFM 2.3"
{extra}
[wfm]
base_url = "https://127.0.0.1:8443"
ca = "download"
"""


def _sut(tmp_path: Path, extra: str):
    path = tmp_path / "sut.toml"
    path.write_text(SUT.format(extra=extra))
    return load_sut(path)


def test_sut_identity_keys(tmp_path: Path) -> None:
    sut = _sut(tmp_path, 'vendor = "Acme Corp"\nproduct = "Acme WFM"\nversion = "2.3.0"\n')
    assert (sut.vendor, sut.product, sut.version) == ("Acme Corp", "Acme WFM", "2.3.0")
    assert sut.describe()["sut.version"] == "2.3.0"
    bare = _sut(tmp_path, "")
    assert (bare.vendor, bare.product, bare.version) == (None, None, None)


@pytest.mark.parametrize("line, key", [('vendor = ""', "sut.vendor"), ("version = 3", "sut.version"),
                                       ('product = "two\\nlines"', "sut.product"),
                                       (f'vendor = "{"x" * 201}"', "sut.vendor")])
def test_bad_identity_value_names_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _sut(tmp_path, line + "\n")


def test_builtin_sut_identity() -> None:
    from margo_conformance import __version__

    sut = builtin_sut("device")
    assert sut.vendor == "margo-conformance project" and sut.version == __version__
    assert "device" in (sut.product or "")


def test_catalog_digest_is_of_the_data_not_the_text() -> None:
    import dataclasses

    from margo_conformance.requirements import Catalog

    catalog = load_catalog()
    digest = catalog_digest(catalog)
    assert len(digest) == 64 and digest == catalog_digest(load_catalog())
    requirements = catalog.all()
    same = Catalog(list(requirements), catalog.questions(), list(catalog._profiles.values()))
    assert catalog_digest(same) == digest  # the data, not the file it came from
    changed = [dataclasses.replace(requirements[0], text=requirements[0].text + " (corrected)"), *requirements[1:]]
    assert catalog_digest(Catalog(changed, catalog.questions(), list(catalog._profiles.values()))) != digest


def _summary() -> dict:
    from margo_conformance.report.summary import build_summary
    from margo_conformance.run_record import RunRecord, SutDescription

    record = RunRecord(sut=SutDescription(name="Acme WFM", role="wfm", source="x.toml", vendor="Acme Corp",
                                          product="Acme WFM", version="2.3.0"),
                       profile="httpsig-2026h1", strict=False, started_at=1_700_000_000.0, lab="Test Lab",
                       engineer="A. Tester", catalog_digest=catalog_digest(load_catalog()))
    return build_summary(record, load_catalog(), finished_at=1_700_000_100.0)


def test_identity_in_summary_markdown_console_and_allure(tmp_path: Path) -> None:
    from margo_conformance.report.allure_env import write_environment
    from margo_conformance.report.console import render_console_summary
    from margo_conformance.report.markdown import render_markdown
    from margo_conformance.report.summary import validate_summary

    summary = _summary()
    assert validate_summary(summary) == []
    assert summary["sut"]["version"] == "2.3.0" and summary["run"]["lab"] == "Test Lab"
    assert summary["record"] == {"signed": False, "signer": None}
    md = render_markdown(summary)
    assert "**Certified:** Acme Corp Acme WFM 2.3.0" in md and "**Engineer:** A. Tester" in md
    assert f"**Catalog:** sha256 {catalog_digest(load_catalog())}" in md
    assert "2023-11-14T22:13:20Z to 2023-11-14T22:15:00Z" in md
    assert "**Record:** UNSIGNED" in md
    console = "\n".join(render_console_summary(summary))
    assert "Certified:    Acme Corp Acme WFM 2.3.0" in console and "catalog sha256" in console
    env = write_environment(tmp_path, summary).read_text()
    assert "sut.version=2.3.0" in env and "run.engineer=A. Tester" in env and "record.signer=unsigned" in env
    summary["record"] = {"signed": True, "signer": "CN=Lab (sha256 ab)"}
    assert "**Record:** signed by CN=Lab (sha256 ab)" in render_markdown(summary)


def _exchange(body: bytes, resp_body: bytes, header_value: str = "ok") -> Exchange:
    request = CapturedRequest("POST", "https://127.0.0.1:8443/api/v1/onboarding?x=1",
                              [("content-type", "application/json"), ("x-odd", header_value)], body,
                              target="/api/v1/onboarding?x=1")
    response = CapturedResponse(201, [("content-type", "application/octet-stream")], resp_body)
    return Exchange(request, response, tls=TlsFacts(version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256"),
                    signature_base_sent='"@method": POST', started_at=1_700_000_000.123456, elapsed_s=0.0421)


def test_har_round_trip_is_byte_exact_with_raw_files(tmp_path: Path) -> None:
    exchange = _exchange(b"\xff\xfe not utf-8", b"\x00\x01\x02binary", header_value="caf\u00e9")
    entry = har.entry_of(exchange, "e1", tmp_path / "raw")
    assert entry["_raw"]["requestBody"] == "raw/e1-request-body.bin"
    assert (tmp_path / "raw" / "e1-request-body.bin").read_bytes() == b"\xff\xfe not utf-8"
    assert "requestHeaders" in entry["_raw"]
    assert entry["response"]["content"]["encoding"] == "base64"
    assert entry["_tls"]["version"] == "TLSv1.3" and entry["_signatureBaseSent"] == '"@method": POST'
    back = har.exchange_from_entry(json.loads(json.dumps(entry)), tmp_path)
    assert back.request.body == exchange.request.body and back.response.body == exchange.response.body
    assert back.request.headers == exchange.request.headers and back.started_at == exchange.started_at
    assert back.request.target == exchange.request.target and back.tls == exchange.tls


def test_a_private_key_never_goes_into_the_har(tmp_path: Path) -> None:
    body = json.dumps({"certificate": non_certificates()["pem-private-key"]}).encode()
    entry = har.entry_of(_exchange(body, b"{}"), "e1", tmp_path / "raw")
    assert "PRIVATE" not in json.dumps(entry) and "LS0tLS1CRUdJTi" not in json.dumps(entry)
    assert entry["_redacted"] == ["request body"]
    with pytest.raises(har.MissingEvidence, match="held a private key"):
        har.exchange_from_entry(entry, tmp_path)


def test_recorder_encodes_arguments_and_decoder_reads_them_back(tmp_path: Path) -> None:
    from margo_conformance.checks import wfm as checks
    from margo_conformance import verdict

    recorder = CheckRecorder()
    recorder.scenario = "s1"
    cert = TestCA().cert
    exchange = _exchange(b'{"a": 1}', b'{"clientId": "abc"}')
    verdict.check_observer = recorder
    try:
        v1 = checks.status_is(exchange, 201)
        v2 = checks.is_ca_certificate(cert)
        v3 = checks.ids_differ("a", "b")
    finally:
        verdict.check_observer = None
    assert [v.origin for v in (v1, v2, v3)] == ["c1", "c2", "c3"]
    assert recorder.calls[0]["check"] == "margo_conformance.checks.wfm:status_is"
    assert recorder.calls[0]["args"] == [{"$exchange": "e1"}, 201]
    assert recorder.encode(object()) == {"$unrecorded": "builtins.object"}
    out = recorder.write(tmp_path, harness_version="0", role="wfm", profile="p")
    entries = json.loads((out / "exchanges.har").read_text())["log"]["entries"]
    assert entries[0]["_judgedBy"][0]["call"] == "c1"
    decoder = Decoder(out, entries)
    assert decoder.decode(recorder.calls[1]["args"][0]) == cert
    again = decoder.decode(recorder.calls[0]["args"][0])
    assert checks.status_is(again, 201).passed and again.response.json() == {"clientId": "abc"}
    with pytest.raises(har.MissingEvidence, match="builtins.object"):
        decoder.decode({"$unrecorded": "builtins.object"})


def _run_dir(tmp_path: Path) -> Path:
    """A minimal run directory: a summary and one evidence file."""
    run = tmp_path / "run"
    (run / "evidence").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps(_summary()))
    (run / "evidence" / "exchanges.har").write_text(json.dumps(har.har_document([], version="0")))
    return run


def test_rsa_signed_record_and_an_unrelated_anchor(tmp_path: Path) -> None:
    from margo_conformance.cli import app
    from margo_conformance.record.manifest import load_signing_identity, write_record

    ca, stranger = TestCA("Lab CA", key_type=KeyType.RSA2048), TestCA("Someone else's CA")
    cert, key = ca.issue_client_cert("RSA Lab Signer", key_type=KeyType.RSA2048).write_files(tmp_path, "rsa")
    run = _run_dir(tmp_path)
    write_record(run, load_signing_identity(key, cert))
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    (tmp_path / "stranger.pem").write_bytes(stranger.cert_pem())
    ok = CliRunner().invoke(app, ["record", "verify", str(run), "--trust-anchor", str(tmp_path / "ca.pem")])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, ["record", "verify", str(run), "--trust-anchor", str(tmp_path / "stranger.pem")])
    assert bad.exit_code == 1
    assert "signer certificate: CN=RSA Lab Signer" in bad.output and "does not chain to the given trust anchor" in bad.output
    assert "PRIVATE KEY" not in (run / "record.dsse.json").read_text() + (run / "record.json").read_text()


def test_signing_key_problems_are_usage_errors(tmp_path: Path) -> None:
    from margo_conformance.record.manifest import load_signing_identity

    ca = TestCA()
    cert, key = ca.issue_client_cert("A").write_files(tmp_path, "a")
    other_cert, _ = ca.issue_client_cert("B").write_files(tmp_path, "b")
    with pytest.raises(ConfigError, match="is not the key of --sign-key"):
        load_signing_identity(key, other_cert)
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_signing_identity(cert, cert)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_signing_identity(tmp_path / "none.key", cert)


def test_run_refuses_half_a_signing_identity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from margo_conformance.runner import RunOptions, run

    assert run(RunOptions(role="wfm", sign_key=tmp_path / "k.pem")) == 2
    assert "--sign-key and --sign-cert go together" in capsys.readouterr().err
    assert run(RunOptions(role="wfm", lab="two\nlines")) == 2
    assert "--lab" in capsys.readouterr().err


def test_rejudge_usage_errors(tmp_path: Path) -> None:
    from margo_conformance.cli import app

    assert CliRunner().invoke(app, ["rejudge", str(tmp_path / "missing")]).exit_code == 2
    result = CliRunner().invoke(app, ["rejudge", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory with evidence" in result.output
