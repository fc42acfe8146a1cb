"""Static test of the suites (no suite run): a requirement tag or citation must be backed by a check.

DIGEST 6.1 rule 2: a requirement is PASS only when a check bound to it ran and passed; a scenario tag alone
proves nothing. So, for every scenario of both roles:

- every ``@req:ID`` tag (on the scenario or on its Examples block) must be bound by at least one of its
  steps (background included);
- every requirement ID a step cites in its closing "(...)" must be bound by that step's code.

What a step's code binds is read from its source: the IDs of its step text when it calls ``requirements()``
(all of them) or ``requirement()`` (the first), requirement-ID string literals it passes (``bound_to("SIG-09")``),
and the IDs stamped by the ``@check`` decorators of the ``checks`` functions it calls, following calls into
helper functions of the steps package.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.parser import FeatureParser, Step
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from margo_conformance.checks import wfm as wfm_checks
from margo_conformance.requirements import REQUIREMENT_ID
from margo_conformance.resources import FEATURES_DIR, PROJECT_ROOT

ROLES = ("wfm", "device")
_ID = re.compile(REQUIREMENT_ID)
_CITATION = re.compile(r"\(([^()]*)\)\s*$")


def _load_step_modules(role: str) -> list[StepFunctionContext]:
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    for path in sorted((PROJECT_ROOT / "steps" / role).glob("*.py")):
        if path.stem not in ("__init__",) and not path.stem.startswith("test_"):
            importlib.import_module(f"steps.{role}.{path.stem}")
    return [c for c in step_function_context_registry.values()
            if getattr(c.step_func, "__module__", "").startswith((f"steps.{role}.", "steps.reqtext"))]


def _scenarios(role: str) -> Iterator[tuple[str, set[str], list[Step]]]:
    """(name, tags, steps) of every scenario, one per Examples row for an outline."""
    for path in sorted((FEATURES_DIR / role).glob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for template in feature.scenarios.values():
            tags = set(template.tags) | set(feature.tags)
            if not template.examples:
                yield f"{path.name}: {template.name}", tags, template.steps
                continue
            for examples in template.examples:
                for context in examples.as_contexts():
                    rendered = template.render(context)
                    yield f"{path.name}: {rendered.name} {context}", tags | set(examples.tags), rendered.steps


def _step_def(contexts: list[StepFunctionContext], step: Step) -> StepFunctionContext:
    matches = [c for c in contexts if c.type in (None, step.type) and c.parser.is_matching(step.name)]
    if not matches:
        raise AssertionError(f"no step definition for {step.type} {step.name!r}")
    return matches[0]


def _cited(step_name: str) -> set[str]:
    m = _CITATION.search(step_name)
    return set(_ID.findall(m.group(1))) if m else set()


@cache
def _code_binds(func: Callable[..., Any]) -> tuple[frozenset[str], str]:
    """(IDs the code binds on its own, how it binds the step text: "all", "first" or "")."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return frozenset(), ""
    ids: set[str] = set()
    text_mode = ""
    globals_ = getattr(func, "__globals__", {})
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ID.fullmatch(node.value):
            ids.add(node.value)
        if isinstance(node, ast.Call):
            target = _resolve(node.func, globals_)
            name = getattr(target, "__name__", None)
            module = getattr(target, "__module__", None) or ""
            if name == "requirements" and module == "steps.reqtext":
                text_mode = "all"
            elif name == "requirement" and module == "steps.reqtext":
                text_mode = text_mode or "first"
            elif target is not None:
                stamped = getattr(target, "requirements", None)
                if isinstance(stamped, tuple):
                    ids.update(stamped)
                if (getattr(target, "__module__", None) or "").startswith("steps.") and target is not func:
                    inner_ids, inner_mode = _code_binds(target)
                    ids |= inner_ids
                    text_mode = text_mode or inner_mode
    return frozenset(ids), text_mode


def _resolve(node: ast.AST, globals_: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return globals_.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, globals_)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _bound_by(context: StepFunctionContext, step: Step) -> set[str]:
    ids, mode = _code_binds(context.step_func)
    cited = sorted(_cited(step.name), key=step.name.index)
    if mode == "all":
        return set(ids) | set(cited)
    if mode == "first" and cited:
        return set(ids) | {cited[0]}
    return set(ids)


def _problems(role: str) -> list[str]:
    contexts = _load_step_modules(role)
    problems = []
    for name, tags, steps in _scenarios(role):
        bound: set[str] = set()
        for step in steps:
            ids = _bound_by(_step_def(contexts, step), step)
            bound |= ids
            if step.type == "then" and (missing := _cited(step.name) - ids):
                problems.append(f"{name}: step {step.name!r} cites {sorted(missing)} but its code does not bind them")
        tagged = {t.split(":", 1)[1] for t in tags if t.startswith("req:")}
        if unbound := tagged - bound:
            problems.append(f"{name}: tagged {sorted(unbound)} but no step binds them (bound: {sorted(bound)})")
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_every_requirement_tag_and_citation_is_bound_by_a_check(role: str) -> None:
    problems = _problems(role)
    assert not problems, f"{len(problems)} unbound requirement references:\n" + "\n".join(problems)


def _step_binding_nothing(judge: Any, scenario: Any) -> None:
    judge(wfm_checks.status_is(scenario.last, 200))


def _step_binding_by_decorator(judge: Any, value: str) -> None:
    judge(wfm_checks.strict_base64(value))


def _step_binding_a_literal(judge: Any, scenario: Any) -> None:
    judge(wfm_checks.status_is(scenario.last, 200).bound_to("SIG-09"))


def test_the_analysis_sees_check_decorators_literals_and_step_text() -> None:
    """The analysis itself can fail: a step whose code binds nothing binds nothing."""
    step_binding_nothing, step_binding_by_decorator = _step_binding_nothing, _step_binding_by_decorator
    assert _code_binds(_step_binding_a_literal) == (frozenset({"SIG-09"}), "")
    assert _code_binds(step_binding_nothing) == (frozenset(), "")
    assert _code_binds(step_binding_by_decorator)[0] == {"CERT-04"}
    assert _cited("the WFM answers 401 (SIG-12, SIG-10)") == {"SIG-12", "SIG-10"}
    assert _cited("the TLS handshake succeeds (TLS-M1, advisory)") == {"TLS-M1"}
