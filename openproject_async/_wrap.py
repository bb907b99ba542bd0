"""Pick the wrapper class for a document by what it is, not by a model per type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._collection import Collection
from ._forms import Form
from ._resource import Resource
from ._schema import Schema
from .errors import ProtocolError

if TYPE_CHECKING:
    from ._session import OpenProject


def wrap(op: OpenProject, doc: Any) -> Resource:
    """Form for ``_type: Form``, Schema for ``Schema``, Collection for anything with
    ``_embedded.elements``, else Resource. (Error documents never get here: decoding
    raised them already.)"""
    if not isinstance(doc, dict):
        raise ProtocolError(f"expected a HAL object, got {type(doc).__name__}")
    kind = doc.get("_type")
    if kind == "Form":
        return Form(op, doc)
    if kind == "Schema":
        return Schema(op, doc)
    embedded = doc.get("_embedded")
    if isinstance(embedded, dict) and "elements" in embedded:
        return Collection(op, doc)
    return Resource(op, doc)
