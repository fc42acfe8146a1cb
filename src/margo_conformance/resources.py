"""Where the project's data lives: JSON Schemas, fixtures, features.

The data directories sit at the project root (DESIGN.md section 2), next to ``src/``.
The package is installed in editable mode by the Makefile, so they are found relative to this file;
``MARGO_CONFORMANCE_HOME`` overrides the root for unusual installs.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("MARGO_CONFORMANCE_HOME", Path(__file__).resolve().parents[2]))
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
PAYLOADS_DIR = FIXTURES_DIR / "payloads"
REQUIREMENTS_FILE = FIXTURES_DIR / "requirements.yaml"
FEATURES_DIR = PROJECT_ROOT / "features"
STEPS_DIR = PROJECT_ROOT / "steps"
