"""Where the suites' data live: features, steps, JSON Schemas, fixtures (payloads, SUT examples), profiles.

In the repository they sit at the top level next to ``src/`` (DESIGN.md section 2), and an editable install
reads them there. The wheel carries the same directories inside the package (``margo_conformance/_data/``,
hatchling ``force-include``); ``importlib.resources`` finds them. ``MARGO_CONFORMANCE_HOME`` overrides both.
Nothing is ever written here: a run writes to its ``--output`` directory (default ``./reports/``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: The repository checkout this package runs from, or None when it runs from an installed wheel.
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _data_root() -> Path:
    override = os.environ.get("MARGO_CONFORMANCE_HOME")
    if override:
        return Path(override)
    packaged = resources.files("margo_conformance").joinpath("_data")
    if packaged.is_dir():
        return Path(str(packaged))
    return _SOURCE_ROOT


#: The directory holding features/, steps/, schemas/, fixtures/ and profiles/ (the checkout, or the wheel's _data/).
PROJECT_ROOT = _data_root()
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
PAYLOADS_DIR = FIXTURES_DIR / "payloads"
#: One folder per spec profile: ``profiles/<name>/profile.yaml`` (routes, codes, registry, ...) and
#: ``requirements.yaml`` (its catalog rows and questions). ``margo_conformance.profiles`` reads them.
PROFILES_DIR = PROJECT_ROOT / "profiles"
#: The default source of the requirement catalog: every profile folder's ``requirements.yaml`` (the name is
#: kept from when the catalog was one file, fixtures/requirements.yaml; ``load_catalog`` also reads one file).
REQUIREMENTS_FILE = PROFILES_DIR
FEATURES_DIR = PROJECT_ROOT / "features"
STEPS_DIR = PROJECT_ROOT / "steps"
#: The project's package.json (it pins the Allure CLI the HTML report is built with).
PACKAGE_JSON = PROJECT_ROOT / "package.json"


def checkout_root() -> Path | None:
    """The repository checkout when running from one (its node_modules hold the pinned Allure CLI)."""
    return _SOURCE_ROOT if (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "src").is_dir() else None
