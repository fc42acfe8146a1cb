"""The names the spec and our catalog use, each defined once: routes, DeviceIds, requirement and question IDs.

Everything that builds or parses one of these (the reference WFM's routing and checks, the device client,
the simulated WFM's observations, the steps, the catalog and payload loaders, the report schema's
``requirementId``) imports it from here, so a change of the API or of the ID scheme is one edit.
"""

from __future__ import annotations

import re

# --- routes of the Workload Management API (default profile) ----------------------------------------------

API_PREFIX = "/api/v1"
CERTIFICATE_PATH = f"{API_PREFIX}/onboarding/certificate"  # CERT-01
ONBOARDING_PATH = f"{API_PREFIX}/onboarding"  # ONB-01
CLIENTS_PREFIX = f"{API_PREFIX}/clients/"
#: The capabilities resource (CAP-04, CAP-06): both path parameters verbatim.
CAPABILITIES_TEMPLATE = f"{API_PREFIX}/clients/{{clientId}}/capabilities/{{deviceId}}"
#: A capabilities path of the current API: group 1 clientId, group 2 deviceId (which may hold '/').
CAPABILITIES_PATH_RE = re.compile(rf"^{re.escape(CLIENTS_PREFIX)}([^/]+)/capabilities/(.+)$")
#: Any capabilities write, the 2025 drafts' ``POST .../capabilities`` without a deviceId included (CAP-04
#: must see it to name it), anywhere in a path that may carry a prefix and a query.
ANY_CAPABILITIES_PATH_RE = re.compile(rf"{re.escape(CLIENTS_PREFIX)}[^/?]+/capabilities(?:/[^?]*)?(?:\?.*)?$")


def capabilities_path(client_id: str, device_id: str) -> str:
    """``/api/v1/clients/{clientId}/capabilities/{deviceId}``: both verbatim (ONB-13, CAP-10)."""
    return CAPABILITIES_TEMPLATE.format(clientId=client_id, deviceId=device_id)


# --- identifiers -------------------------------------------------------------------------------------------

#: DeviceId of the yaml (CAP-10): RFC 3986 unreserved characters, '/' between hierarchy levels.
DEVICE_ID = r"[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*"
DEVICE_ID_RE = re.compile(rf"^{DEVICE_ID}$")

#: A requirement ID as the catalog writes it (SIG-11, TLS-M1).
REQUIREMENT_ID = r"[A-Z]{2,5}-(?:M\d{1,2}|\d{2})"
REQUIREMENT_ID_RE = re.compile(rf"^{REQUIREMENT_ID}$")
#: An interpretation (open question) ID: Q-01 .. Q-99 are the DIGEST's own numbers; Q-H01 .. Q-H99 are positions
#: this harness numbered itself (DIGEST states them without a number, or they are ours), kept apart so that a
#: question the DIGEST adds later can never collide with one of ours (the DIGEST's Q-33 once did).
QUESTION_ID = r"Q-H?\d{2}"
QUESTION_ID_RE = re.compile(rf"^{QUESTION_ID}$")


def question_sort_key(qid: str) -> tuple[bool, int]:
    """The DIGEST's questions in number order, then the harness-numbered ones (Q-33 before Q-H01)."""
    number = qid.split("-", 1)[1]
    return number.startswith("H"), int(number.lstrip("H"))
