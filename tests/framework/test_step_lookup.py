"""The cached step lookup (step_lookup.py) picks the same step definitions as pytest-bdd's own: per module
visibility, a module's own definition over its conftest's, and the step type."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

FEATURE = """\
Feature: lookup
  Scenario: a step defined in two places
    Given a value
    Then the value is {expected}
"""

CONFTEST = """\
import pytest
from pytest_bdd import given, then, parsers

from margo_conformance.step_lookup import install

install()


@pytest.fixture
def box():
    return {{}}


@given("a value")
def _(box):
    box["v"] = "{conftest_value}"


@then("a value")  # the same text as a Then step must never be picked for the Given
def _(box):
    box["v"] = "wrong type"


@then(parsers.parse("the value is {{expected}}"))
def _(box, expected):
    assert box["v"] == expected, box
"""


def _package(root: Path, name: str, *, conftest_value: str, override: str | None, expected: str) -> None:
    package = root / name
    package.mkdir()
    (package / "conftest.py").write_text(CONFTEST.format(conftest_value=conftest_value))
    (package / "lookup.feature").write_text(FEATURE.format(expected=expected))
    module = textwrap.dedent("""\
        from pytest_bdd import given, scenarios

        scenarios("lookup.feature")
        """)
    if override is not None:
        module += textwrap.dedent(f"""\


            @given("a value")
            def _(box):
                box["v"] = "{override}"
            """)
    (package / f"test_{name}.py").write_text(module)


def test_each_module_sees_its_own_step_definitions(tmp_path: Path) -> None:
    _package(tmp_path, "plain", conftest_value="from-conftest", override=None, expected="from-conftest")
    _package(tmp_path, "overridden", conftest_value="from-conftest", override="from-module", expected="from-module")
    _package(tmp_path, "other", conftest_value="other-conftest", override=None, expected="other-conftest")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-p", "no:randomly", "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout, done.stdout[-1000:]
