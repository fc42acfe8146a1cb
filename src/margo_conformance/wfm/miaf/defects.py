"""The named defects of the reference MIAF WFM (profile miaf-rc3): each breaks exactly one WFM-binding rule.

Registered in the WFM registry (``margo_conformance.defects.defects_for("wfm")``) with ``profile="miaf-rc3"``, so
``margo-conformance defects --role wfm --profile miaf-rc3`` lists them and the MIAF kill matrix runs them.

How each one is narrowed to its requirement:

- The recognition defects (another trust domain, two URI SANs, ``cA=true``, ``cRLSign``, another ``wfm-id``)
  relax ONE step of the client-SVID check and then treat the leaf as the canonical client ID it imitates
  (``spiffe://<td>/margo/wfm/<wfm-id>/client/<id>``), so the accepted-client policy sees a listed client and the
  request is served: a WFM that skips a step does exactly that. Every other step still refuses.
- ``miaf-no-client-cert-accepted`` requests the certificate but does not require it; a certificate-less caller is
  served as one anonymous caller outside the policy (a listener that forgot to demand authentication).
- ``miaf-unlisted-client-accepted`` skips the allow-list but still refuses retired clients, so MID-12 stays intact;
  ``miaf-retired-client-served`` is the converse; MID-12 (and MTLS-08's re-evaluation) are SHOULDs, so it is
  strict-only: a default run names the deviation, ``--strict`` fails.
- ``miaf-leaf-without-intermediate`` (``whole_run``): a conformant client cannot finish a handshake with it, so
  only the chain scenario can judge anything; the kill matrix should expect every other scenario broken.
- ``miaf-cross-client-delete`` looks a DELETE up among the caller's records first and, when none matches, among
  everyone's; PUTs stay scoped. ``miaf-records-keyed-by-device-id`` drops the caller from the key altogether,
  which necessarily breaks every scoping row (named in ``related``).
"""

from __future__ import annotations

from ...defects import Defect

PROFILE = "miaf-rc3"

NO_CLIENT_CERT_ACCEPTED = "miaf-no-client-cert-accepted"
FOREIGN_TRUST_DOMAIN_ACCEPTED = "miaf-foreign-trust-domain-accepted"
TWO_URI_SANS_ACCEPTED = "miaf-two-uri-sans-accepted"
CA_LEAF_ACCEPTED = "miaf-ca-leaf-accepted"
CRL_SIGN_ACCEPTED = "miaf-crl-sign-accepted"
OTHER_WFM_ID_ACCEPTED = "miaf-other-wfm-id-accepted"
UNLISTED_CLIENT_ACCEPTED = "miaf-unlisted-client-accepted"
RETIRED_CLIENT_SERVED = "miaf-retired-client-served"
RECORDS_KEYED_BY_DEVICE_ID = "miaf-records-keyed-by-device-id"
CROSS_CLIENT_DELETE = "miaf-cross-client-delete"
CALLER_FROM_REQUEST = "miaf-caller-from-request"
PLAIN_TEXT_ERRORS = "miaf-plain-text-errors"
WRONG_PROBLEM_TYPE = "miaf-wrong-problem-type"
RETRYABLE_4XX = "miaf-retryable-4xx"
CHILD_WITHOUT_GATEWAY_ACCEPTED = "miaf-child-without-gateway-accepted"
CREATE_200 = "miaf-create-200"
TLS11_ACCEPTED = "miaf-tls11-accepted"
LEAF_WITHOUT_INTERMEDIATE = "miaf-leaf-without-intermediate"
SERVER_SVID_WRONG_WFM_ID = "miaf-server-svid-wrong-wfm-id"
RSA2048_ACCEPTED = "miaf-rsa2048-accepted"
MAINTENANCE_WITHOUT_RETRY_AFTER = "miaf-maintenance-without-retry-after"
RATE_LIMIT_NOT_RETRYABLE = "miaf-rate-limit-not-retryable"


def _d(name: str, requirement: str, description: str, *, related: tuple[str, ...] = (),
       strict_only: bool = False, whole_run: bool = False) -> Defect:
    return Defect(name=name, role="wfm", requirement=requirement, description=description, related=related,
                  profile=PROFILE, strict_only=strict_only, whole_run=whole_run)


DEFECTS: tuple[Defect, ...] = (
    _d(NO_CLIENT_CERT_ACCEPTED, "MTLS-02",
       "requests a client certificate but does not require one, and serves a certificate-less caller"),
    _d(FOREIGN_TRUST_DOMAIN_ACCEPTED, "SVID-10",
       "ignores the trust domain of the client's SPIFFE ID (C-FTD, other.test chained to R1, is served as c1)",
       related=("MTLS-02",)),
    _d(TWO_URI_SANS_ACCEPTED, "SVID-02",
       "accepts a client SVID with several URI SANs and takes the first one as the caller",
       related=("SVID-01", "SVID-06", "MTLS-02")),
    _d(CA_LEAF_ACCEPTED, "SVID-04", "accepts a client leaf whose basic constraints say cA=true",
       related=("SVID-06",)),
    _d(CRL_SIGN_ACCEPTED, "SVID-05",
       "accepts a client leaf whose key usage contains cRLSign (keyCertSign on a non-CA leaf is still refused by "
       "OpenSSL's strict X.509 checks in the handshake)", related=("SVID-06",)),
    _d(OTHER_WFM_ID_ACCEPTED, "MID-01",
       "recognises …/margo/wfm/<any wfm-id>/client/<id> as its own client <id> (another WFM's client is served)",
       related=("MID-02",)),
    _d(UNLISTED_CLIENT_ACCEPTED, "MID-11",
       "serves any well-formed client SVID of its namespace although the policy is an allow-list (retired clients "
       "are still denied)", related=("MCAP-07", "MERR-10")),
    _d(RETIRED_CLIENT_SERVED, "MID-12",
       "keeps serving a client the operator retired (the policy entry is kept, its state ignored)",
       related=("MTLS-08",), strict_only=True),
    _d(RECORDS_KEYED_BY_DEVICE_ID, "MID-09",
       "keys capability records by deviceId alone: two clients reporting one deviceId share (and overwrite) "
       "one record", related=("MID-08",)),
    _d(CROSS_CLIENT_DELETE, "MID-08",
       "serves a DELETE of a deviceId the caller never reported by deleting another client's record of it",
       related=("MCAP-08",)),
    _d(CALLER_FROM_REQUEST, "MID-07",
       "takes the caller from an X-Client-Id header, a clientId query parameter or a clientId member of an "
       "x-*-extensions object when the request carries one, instead of from the certificate"),
    _d(PLAIN_TEXT_ERRORS, "MERR-01",
       "answers 404 and 405 with a text/plain sentence (a web framework's default not-found and method handlers) "
       "instead of an application/problem+json document"),
    _d(WRONG_PROBLEM_TYPE, "MERR-04",
       "labels a 422 semantic error with the problem type invalid-request (a registered type of another status)"),
    _d(RETRYABLE_4XX, "MRTY-04",
       "marks every 4xx problem retryable: true with backoffStrategy exponential"),
    _d(CHILD_WITHOUT_GATEWAY_ACCEPTED, "MCAP-08",
       "accepts a child device's capabilities before (or without) its top-level gateway's",
       related=("MID-08",)),
    _d(CREATE_200, "MCAP-05", "answers 200 instead of 201 to the first capabilities report of a device (every "
       "scenario whose point is the 201 sees it)"),
    _d(TLS11_ACCEPTED, "MTLS-06", "accepts TLS 1.1 handshakes (TLS 1.0 is still refused)"),
    _d(LEAF_WITHOUT_INTERMEDIATE, "SVID-08",
       "presents its WFM SVID without the intermediate, so a client holding only the bundle cannot build the chain "
       "(every connection of a conformant client fails: SVID-08 is judged, every other scenario is broken)",
       related=("MTB-03",), whole_run=True),
    _d(SERVER_SVID_WRONG_WFM_ID, "MTLS-11",
       "presents a validly issued WFM SVID of another wfm-id (…/margo/wfm/other-wfm) as its server certificate",
       related=("MID-03", "MGEN-04")),
    _d(RSA2048_ACCEPTED, "SVID-15",
       "accepts an RSA-2048 client SVID (Q-57: a verifier should refuse keys below the permitted 3072 bits)",
       strict_only=True),
    _d(MAINTENANCE_WITHOUT_RETRY_AFTER, "MRTY-02",
       "answers 503 in maintenance mode without a Retry-After header (the problem body still says retryable)"),
    _d(RATE_LIMIT_NOT_RETRYABLE, "MRTY-01",
       "answers a client over its rate limit with 429 and Retry-After, but marks the problem retryable: false with "
       "backoffStrategy none"),
)

DEFECT_NAMES: frozenset[str] = frozenset(d.name for d in DEFECTS)
#: The contract's name for this list (MIAF-CONTRACT section 3).
MIAF_WFM_DEFECTS = DEFECTS
