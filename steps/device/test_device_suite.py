"""Binds every feature of features/device/ to the steps of this directory (run by margo-conformance run)."""

from pytest_bdd import scenarios

from margo_conformance.resources import FEATURES_DIR

scenarios(str(FEATURES_DIR / "device"))
