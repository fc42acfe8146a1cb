"""Trust (TLS-02/03/04, CERT-06/07): the device refuses every server chain that does not verify against the
WFM root CA alone, sends no HTTP request then, and each TLS defect accepts exactly the one case it names."""

from __future__ import annotations

import pytest

from margo_conformance.device import WfmNotTrusted, WfmTlsFailed
from margo_conformance.pki import TestCA

#: server certificate the WFM presents -> what OpenSSL says when the device refuses it
REFUSALS = {
    "untrusted-ca": "unable to get local issuer certificate",
    "missing-intermediate": "unable to get local issuer certificate",
    "expired": "certificate has expired",
    "wrong-host": "mismatch",  # "IP address mismatch" for 127.0.0.1
}


def _refused_before_any_request(out, expected_reason: str) -> None:
    assert isinstance(out.error, WfmNotTrusted), out.error
    assert expected_reason in str(out.error)
    assert out.http == []  # no application request reached the WFM
    assert len(out.handshake_failures) == 1  # refused once, not retried
    assert out.result is None


@pytest.mark.parametrize("server_cert", sorted(REFUSALS))
def test_clean_device_refuses(run_device, wfm, server_cert: str) -> None:
    wfm.reconfigure_tls(server_cert)
    _refused_before_any_request(run_device(), REFUSALS[server_cert])


def test_root_ca_is_the_only_anchor_after_download(run_device, wfm) -> None:
    """CERT-07: after the bootstrap download the device trusts the downloaded root alone."""
    assert run_device(ca_file=None, bootstrap_ca_file=wfm.ca_file).error is None
    wfm.reconfigure_tls("untrusted-ca")
    _refused_before_any_request(run_device(ca_file=None, bootstrap_ca_file=wfm.ca_file), REFUSALS["untrusted-ca"])


def test_clean_device_refuses_tls12_only_server(run_device, wfm) -> None:
    wfm.reconfigure_tls("valid", min_version="1.2", max_version="1.2")
    out = run_device()
    assert isinstance(out.error, WfmTlsFailed) and out.http == [] and len(out.handshake_failures) == 1


# -- each TLS defect: accepts its own case, still refuses the others ----------------------------------------

@pytest.mark.parametrize("defect, accepted, still_refused", [
    ("tls-no-verify", ["untrusted-ca", "expired", "wrong-host"], []),
    ("tls-no-hostname", ["wrong-host"], ["untrusted-ca", "expired"]),
    ("tls-accept-expired", ["expired"], ["untrusted-ca", "wrong-host"]),
])
def test_tls_defect_accepts_only_what_it_names(run_device, wfm, defect: str, accepted: list[str],
                                                still_refused: list[str]) -> None:
    for i, choice in enumerate(accepted):
        wfm.reconfigure_tls(choice)
        out = run_device(defect, state=f"ok{i}")
        assert out.error is None, (choice, out.error)
        assert [o.route for o in out.http] == ["onboarding", "capabilities"]
    for i, choice in enumerate(still_refused):
        wfm.reconfigure_tls(choice)
        _refused_before_any_request(run_device(defect, state=f"no{i}"), REFUSALS[choice])


def test_tls12_defect_accepts_tls12(run_device, wfm) -> None:
    wfm.reconfigure_tls("valid", min_version="1.2", max_version="1.2")
    out = run_device("tls12-allowed")
    assert out.error is None, out.error
    assert {o.tls.version for o in out.http} == {"TLSv1.2"}
    wfm.reconfigure_tls("untrusted-ca", min_version="1.2", max_version="1.2")  # the chain is still verified
    _refused_before_any_request(run_device("tls12-allowed", state="s2"), REFUSALS["untrusted-ca"])


def test_bootstrap_tofu_defect_downloads_over_an_unverified_channel(run_device, wfm, tmp_path) -> None:
    other = TestCA("A bootstrap CA that did not issue the WFM chain").write_cert_pem(tmp_path / "other.pem")
    out = run_device("bootstrap-tofu", ca_file=None, bootstrap_ca_file=other)
    assert out.error is None, out.error
    assert [(o.route, o.signed) for o in out.http] == [("certificate", False), ("onboarding", True),
                                                       ("capabilities", True)]
    # later connections are verified against the downloaded root: only the bootstrap check was switched off
    wfm.reconfigure_tls("untrusted-ca")
    _refused_before_any_request(run_device("bootstrap-tofu", ca_file=None, bootstrap_ca_file=other),
                                REFUSALS["untrusted-ca"])
