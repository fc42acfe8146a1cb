"""Conformance test harness for Margo Device Client Onboarding (profile httpsig-2026h1)."""

import sys

__version__ = "0.1.0"

# jsonschema's format checker imports rfc3987_syntax (used only for the "iri" and "iri-reference"
# formats) when it is installed, and that module builds a parser grammar at import time: about 1.5 s in
# every process, paid by every CLI call and every launch of the reference device. No schema of ours uses
# those two formats (tests/test_schemas.py checks it), so it is kept out; every format we use stays checked.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

#: The default spec profile (the one run when neither --profile nor [sut] profile names one); every profile's data,
#: its spec commit included, is its folder profiles/<name>/ (margo_conformance.profiles).
DEFAULT_PROFILE = "httpsig-2026h1"
