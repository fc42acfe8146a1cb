"""Step definitions found once per test module, not once per step of every scenario.

pytest-bdd finds the definition of each Gherkin step by going through every fixture name of the session and
asking pytest which definitions the test may see (``pytest_bdd.scenario.find_fixturedefs_for_step``): about 80
names for each of the ~1200 steps of a WFM run, most of a second of every run and of every kill-matrix run.
Which step definitions a test sees depends only on where it sits (its module and that module's conftests),
and a suite run collects one module per role whose step definitions do not change while it runs. So the
visible step definitions are listed once per module, and each distinct step (type, text) is matched against
that list once. Matching itself (type, then the step's parser) is exactly pytest-bdd's.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

_installed = False


def install() -> None:
    """Replace pytest-bdd's lookup with the cached one (idempotent)."""
    global _installed
    if _installed:
        return
    # The module, not the ``scenario`` function that pytest_bdd's package namespace exports under the same name.
    bdd = importlib.import_module("pytest_bdd.scenario")
    visible: dict[tuple[int, str], list[tuple[Any, Any]]] = {}
    found: dict[tuple[int, str, Any, str], tuple[Any, ...]] = {}

    def step_definitions(fixturemanager: Any, node: Any, module: str) -> list[tuple[Any, Any]]:
        key = (id(fixturemanager), module)
        if key not in visible:
            seen: set[int] = set()
            definitions = []
            for name in bdd.get_fixture_names(fixturemanager=fixturemanager):
                for fixturedef in bdd.getfixturedefs(fixturemanager, name, node) or []:
                    context = bdd.step_function_context_registry.get(fixturedef.func)
                    if context is not None and id(fixturedef) not in seen:  # a step injected now shows twice
                        seen.add(id(fixturedef))
                        definitions.append((fixturedef, context))
            visible[key] = definitions
        return visible[key]

    def find_fixturedefs_for_step(step: Any, fixturemanager: Any, node: Any) -> Iterable[Any]:
        module = node.nodeid.split("::", 1)[0]
        key = (id(fixturemanager), module, step.type, step.name)
        if key not in found:
            found[key] = tuple(
                fixturedef for fixturedef, context in step_definitions(fixturemanager, node, module)
                if (context.type is None or context.type == step.type) and context.parser.is_matching(step.name))
        return found[key]

    bdd.find_fixturedefs_for_step = find_fixturedefs_for_step
    _installed = True
