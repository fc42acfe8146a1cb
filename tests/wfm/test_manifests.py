"""The WFM's fast manifest path says exactly what ``schemas.validate`` says (it only answers sooner)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from margo_conformance import schemas
from margo_conformance.wfm.manifests import ManifestJudge, fast_manifest_validator

from .helpers import MANIFEST, gateway_manifest

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16),
                    st.sampled_from(["", "amd64", "x86_64", "gpu", "GPU", "oci", "helm", "a/b", "a b", "16Gi"]),
                    st.lists(st.sampled_from([{"cores": 1}, {"type": "usb"}, "oci", 3, {}]), max_size=3),
                    st.just({}), st.just({"cores": "4"}))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from([MANIFEST, gateway_manifest("gw")])))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["foo", "x-ok-extensions", "x-Bad", "cpu"]))] = copy.deepcopy(draw(_VALUES))
        else:
            parent[path[-1]] = copy.deepcopy(draw(_VALUES))
    return doc


def test_the_fast_validator_exists_for_the_default_profile() -> None:
    assert fast_manifest_validator() is not None


@settings(max_examples=300, deadline=None)
@given(doc=mutated_manifests())
def test_fast_path_agrees_with_the_core(doc: Any) -> None:
    judge = ManifestJudge()
    body = json.dumps(doc).encode()
    assert judge.schema_errors(body, doc) == schemas.validate("device-capabilities-manifest", doc)
    assert judge.semantic_findings(body, doc) == schemas.semantic_findings(doc)
    assert judge.schema_errors(body, doc) == schemas.validate("device-capabilities-manifest", doc)  # cached


def test_cache_is_bounded() -> None:
    judge = ManifestJudge(cache_size=8)
    for i in range(50):
        doc = copy.deepcopy(MANIFEST)
        doc["properties"]["serialNumber"] = str(i)
        judge.schema_errors(json.dumps(doc).encode(), doc)
    assert len(judge._cache) <= 8
