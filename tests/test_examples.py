"""Every example document in ../shared that is a resource loads and traverses.

Skipped when ../shared is absent; the project's own fixtures live in tests/docs.py.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from openproject_async import Collection, Form, Link, OpenProject, Resource, Schema
from openproject_async._links import template_variables
from openproject_async._sansio import error_from_document
from openproject_async.errors import APIError, LinkError, ProtocolError

from .conftest import SHARED_EXAMPLES

FILES = sorted(SHARED_EXAMPLES.glob("*.json")) if SHARED_EXAMPLES.is_dir() else []


def _load(path: Path) -> object:
    doc = orjson.loads(path.read_bytes())
    if isinstance(doc, dict):
        doc.pop("_reconstructed_from", None)
    return doc


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_example_loads_and_traverses(path: Path, shared_examples: Path) -> None:
    doc = _load(path)
    if not isinstance(doc, dict):
        pytest.skip("not a JSON object (e.g. the plain-text 406 body)")
    if doc.get("_type") == "Error":
        err = error_from_document(doc, 400)
        assert isinstance(err, APIError)
        assert err.identifier == doc["errorIdentifier"]
        return
    if "_links" not in doc and "_embedded" not in doc:
        pytest.skip("a request body, not a resource")
    async with OpenProject("https://op.example.com", api_key="k") as op:
        res = op.wrap(doc)
        assert isinstance(res, Resource)
        if doc.get("_type") == "Form":
            assert isinstance(res, Form)
            assert res.is_valid == ("commit" in doc["_links"])
            assert isinstance(res.schema, Schema)
            for err in res.errors.values():
                assert err.identifier
        if isinstance(res, Collection):
            raw = doc["_embedded"]["elements"]
            if all(isinstance(e, dict) for e in raw):
                assert len(res.elements) == len(raw)
                assert all(isinstance(e, Resource) for e in res.elements)
            else:  # the docs abbreviate some elements to strings
                with pytest.raises(ProtocolError, match="element"):
                    res.elements  # noqa: B018
        for rel, link in res.links.items():
            for lk in link if isinstance(link, list) else [link]:
                assert lk.rel == rel
                assert lk.method in {"GET", "POST", "PATCH", "DELETE", "PUT"}
                if lk.href and lk.templated:
                    values = {v: 1 for v in lk.variables}
                    assert template_variables(lk.expand(**values)) == []
        # every embedded resource that is the linked one is followed without a request
        for rel, emb in res.embedded.items():
            link = res.links.get(rel)
            if not isinstance(emb, dict) or not isinstance(link, Link):
                continue
            self_href = emb.get("_links", {}).get("self", {}).get("href")
            if self_href in (None, link.href):
                try:
                    followed = await res.follow(rel)
                except LinkError:
                    continue
                assert followed is None or isinstance(followed, Resource)
        assert op.stats["requests"] == 0
