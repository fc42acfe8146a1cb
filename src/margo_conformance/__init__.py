"""Conformance test harness for Margo Device Client Onboarding (profile httpsig-2026h1)."""

__version__ = "0.1.0"

#: The spec text the default profile is read from (DIGEST section 0).
SPEC_BASELINE = "margo/specification@35b9aa41478734f136b675fa219cfba0e790acc3"
DEFAULT_PROFILE = "httpsig-2026h1"
