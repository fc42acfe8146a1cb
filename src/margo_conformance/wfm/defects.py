"""The named defects of the reference WFM: each makes the server violate exactly one requirement.

The WFM-role suite is proven against them (DESIGN.md section 7): run clean, every scenario passes; run with
one defect, the scenarios tagged with its requirement fail, for the intended reason. Where a defect could
also trip a neighbouring requirement, it is narrowed on purpose and the description says how:

- ``sig-any-key`` skips the cryptographic check of capability requests, but still refuses a signature by
  the key of *another onboarded client*, so that it breaks SIG-09 and not ONB-14 (``sig-cross-client``).
- ``capability-enums-unchecked`` ignores only ``enum`` failures under ``/properties``; missing required
  fields (CAP-09) and unknown root members (CAP-08) are still refused.
- ``client-id-not-url-safe`` uses '+' and '=' but never '/', so the id still routes and later requests
  work: only ONB-11 breaks, not every capability scenario.
- ``client-id-shared`` keys clients by certificate subject: a second, different certificate with the same
  subject gets the first one's clientId; each bound certificate still verifies on that id, so signed
  requests keep working, and certificates with distinct subjects are unaffected.
"""

from __future__ import annotations

from ..defects import Defect

UNSIGNED_ACCEPTED = "unsigned-accepted"
ONBOARDING_UNSIGNED_ACCEPTED = "onboarding-unsigned-accepted"
DIGEST_UNCHECKED = "digest-unchecked"
CREATED_WINDOW_IGNORED = "created-window-ignored"
SIG_ANY_KEY = "sig-any-key"
SIG_CROSS_CLIENT = "sig-cross-client"
ONBOARDING_200 = "onboarding-200"
CAPABILITIES_CREATE_200 = "capabilities-create-200"
BAD_CERT_ACCEPTED = "onboarding-bad-cert-accepted"
CLIENT_ID_NOT_URL_SAFE = "client-id-not-url-safe"
CLIENT_ID_SHARED = "client-id-shared"
CAPABILITY_ENUMS_UNCHECKED = "capability-enums-unchecked"
ROOT_CA_LINE_BREAKS = "root-ca-line-breaks"
TLS_CLIENT_CERT_REQUIRED = "tls-client-cert-required"
SERVER_CHAIN_FOREIGN = "server-chain-foreign"
MALFORMED_JSON_500 = "malformed-json-500"
TLS12_ACCEPTED = "tls12-accepted"
REVOKED_ACCEPTED = "revoked-accepted"
REVOKED_REONBOARD_FRESH_CLIENT = "revoked-reonboard-fresh-client"
REVOKED_REONBOARD_201 = "revoked-reonboard-201"
UNKNOWN_CLIENT_401 = "unknown-client-401"
CHILD_BEFORE_PARENT_ACCEPTED = "child-before-parent-accepted"
EXTENSIONS_REJECTED = "extensions-rejected"
DEVICE_ID_MISMATCH_ACCEPTED = "device-id-mismatch-accepted"
SIG_UNCHECKED_ON_DELETE = "sig-unchecked-on-delete"
UNSIGNED_400 = "unsigned-400"
ONBOARDING_RACE_500 = "onboarding-race-500"


def _d(name: str, requirement: str, description: str, *, strict_only: bool = False) -> Defect:
    return Defect(name=name, role="wfm", requirement=requirement, description=description, strict_only=strict_only)


DEFECTS: tuple[Defect, ...] = (
    _d(UNSIGNED_ACCEPTED, "SIG-12",
       "accepts capability requests that carry neither Signature nor Signature-Input"),
    _d(ONBOARDING_UNSIGNED_ACCEPTED, "ONB-06",
       "accepts an onboarding request that carries neither Signature nor Signature-Input", strict_only=True),
    _d(DIGEST_UNCHECKED, "DIG-03",
       "requires a well-formed Content-Digest but never compares it with the body received"),
    _d(CREATED_WINDOW_IGNORED, "SIG-11",
       "accepts any 'created' value, however old or far in the future"),
    _d(SIG_ANY_KEY, "SIG-09",
       "skips the cryptographic check of capability signatures (a key unknown to the WFM passes; "
       "another onboarded client's key is still refused)"),
    _d(SIG_CROSS_CLIENT, "ONB-14",
       "looks the verification key up by 'keyid' among all clients, so client A's signature is accepted "
       "on client B's URL"),
    _d(ONBOARDING_200, "ONB-07", "answers 200 instead of 201 to a successful onboarding"),
    _d(CAPABILITIES_CREATE_200, "CAP-05",
       "answers 200 instead of 201 to the first capabilities report of a device"),
    _d(BAD_CERT_ACCEPTED, "ONB-08",
       "accepts an onboarding 'certificate' that does not decode (and skips the signature it cannot check)"),
    _d(CLIENT_ID_NOT_URL_SAFE, "ONB-11",
       "issues clientIds in standard base64 with '+' and '=' (not URL-safe)"),
    _d(CLIENT_ID_SHARED, "ONB-11",
       "returns the same clientId to a different certificate that has the same subject (clients keyed by subject)"),
    _d(CAPABILITY_ENUMS_UNCHECKED, "CAP-14",
       "skips enum validation of the capabilities manifest (accepts architecture 'x86_64', type 'GPU')"),
    _d(ROOT_CA_LINE_BREAKS, "CERT-04",
       "serves the root CA base64 with a line break every 64 characters"),
    _d(TLS_CLIENT_CERT_REQUIRED, "TLS-05",
       "requests (and requires) a TLS client certificate in the handshake"),
    _d(SERVER_CHAIN_FOREIGN, "TLS-06",
       "serves a TLS chain from a CA other than the root CA it hands out on the Certificate API"),
    _d(MALFORMED_JSON_500, "ERR-01",
       "answers malformed JSON with 500 and a text/plain body instead of a 400 error document"),
    _d(TLS12_ACCEPTED, "TLS-02", "accepts TLS 1.2 handshakes (the profile requires TLS 1.3 or greater)",
       strict_only=True),
    _d(REVOKED_ACCEPTED, "SIG-13", "keeps accepting signed requests of a revoked client"),
    _d(REVOKED_REONBOARD_FRESH_CLIENT, "SIG-13",
       "lets a revoked certificate onboard again and gives it a fresh, working clientId (revocation undone)"),
    _d(REVOKED_REONBOARD_201, "SIG-13",
       "answers 201 with the revoked clientId when a revoked certificate onboards again, while its signed requests "
       "stay refused with 403 (a deviation from Q-33's preferred 4xx, not a failure of the must axis)",
       strict_only=True),
    _d(UNKNOWN_CLIENT_401, "SIG-14", "answers 401 instead of 404 for an unknown clientId", strict_only=True),
    _d(CHILD_BEFORE_PARENT_ACCEPTED, "CAP-13",
       "accepts a child device's capabilities before its parent gateway has reported"),
    _d(EXTENSIONS_REJECTED, "CAP-17",
       "refuses capabilities that carry an x-<name>-extensions member (422)"),
    _d(DEVICE_ID_MISMATCH_ACCEPTED, "CAP-20",
       "accepts capabilities whose properties.id differs from the {deviceId} in the path", strict_only=True),
    Defect(name=SIG_UNCHECKED_ON_DELETE, role="wfm", requirement="SIG-12",
           description="verifies signatures on PUT but not on DELETE: an unsigned, stale or foreign-key DELETE "
                       "answers 204",
           related=("SIG-09", "SIG-10", "SIG-11", "ONB-14")),
    Defect(name=UNSIGNED_400, role="wfm", requirement="SIG-12",
           description="answers 400 instead of 401 to a request without a complete signature, on every route "
                       "(a deviation from Q-14 and Q-03, not a failure of the must axis)",
           related=("ONB-06",), strict_only=True),
    Defect(name=ONBOARDING_RACE_500, role="wfm", requirement="ONB-07",
           description="answers 500 to an onboarding request that arrives while another one is still being "
                       "processed (a race under parallel onboarding; one device at a time never sees it)",
           load_only=True),
)

DEFECT_NAMES: frozenset[str] = frozenset(d.name for d in DEFECTS)
