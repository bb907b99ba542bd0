"""Where each value of a write goes: the schema decides (root, ``_links``, ``_meta``).

A field with ``location: "_links"``, a field the form's payload keeps under ``_links``, a
field with allowed values, or a field of a resource type goes under ``_links`` as
``{"href": ...}``; ``location: "_meta"`` under ``_meta``; everything else at the root,
Formattables as ``{"raw": ...}``. Before any schema is known (the first request of a
create form) only the certain placements are made and the rest waits for the schema.

Placement is synchronous and makes no requests: a value given by name (``type="Task"``)
is turned into an href by the caller first (:func:`names_to_choose` lists them), and
:func:`place` is handed those ``choices``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _body
from .errors import UnknownField

if TYPE_CHECKING:
    from ._schema import Field, Schema

#: ``(field key, name) -> href`` for the allowed values given by name.
Choices = Mapping[tuple[str, str], str]

# Keys that name link fields on OpenProject's own resources. Used only to decide what to
# send in the very first request of a create form (before any schema is known): a string
# given for one of these is the name of an allowed value, not a scalar.
_LINK_KEYS = frozenset(
    {
        "type",
        "status",
        "priority",
        "project",
        "assignee",
        "responsible",
        "version",
        "category",
        "parent",
        "budget",
        "user",
        "principal",
        "activity",
        "workPackage",
        "definingProject",
        "roles",
    }
)

# Keys of Formattable properties on OpenProject's own resources (first request only).
_FORMATTABLE_KEYS = frozenset({"description", "comment", "statusExplanation"})

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if key in ("_links", "_meta") and isinstance(value, Mapping):
            merged = dict(out.get(key) or {})
            merged.update(value)
            out[key] = merged
        else:
            out[key] = value
    return out


def values_of(values: Mapping[str, Any], fields: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(values)
    if fields is not None:
        if not isinstance(fields, Mapping):
            raise TypeError(f"fields= must be a mapping of field names to values, got {fields!r}")
        out.update(fields)
    return out


def _guess(name: str, value: Any) -> str | None:
    """Placement before any schema is known: only what is certain, else None (wait)."""
    if not IDENTIFIER.match(name):
        return None  # a human name: needs the schema
    if _body.is_reference(value) or _body.looks_like_href(value):
        return "_links"
    if isinstance(value, str) and (name in _LINK_KEYS or name.startswith("customField")):
        return None  # probably the name of an allowed value
    if name in _FORMATTABLE_KEYS and isinstance(value, str):
        return "formattable"
    if value is None or name in _LINK_KEYS:
        return None
    return "root"


def names_to_choose(schema: Schema | None, values: Mapping[str, Any]) -> list[tuple[Field, str]]:
    """The ``(field, name)`` pairs :func:`place` needs hrefs for: names of allowed values."""
    if schema is None:
        return []
    out: list[tuple[Field, str]] = []
    for name, value in values.items():
        if name in ("_links", "_meta") and isinstance(value, Mapping):
            continue
        field = schema.find(name)
        if field is None or field.placement != "_links":
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, str) and not _body.looks_like_href(item):
                out.append((field, item))
    return out


def place(
    schema: Schema | None,
    values: Mapping[str, Any],
    pending: dict[str, Any] | None = None,
    *,
    choices: Choices | None = None,
) -> dict[str, Any]:
    """A request body for ``values``, placed by ``schema``.

    Names the schema does not have go to ``pending`` when given (a project or type change
    may add them), else raise UnknownField listing the schema's fields. Without a schema
    only certain placements are made (references under ``_links``, scalars of identifier
    names at the root); the rest goes to ``pending``. Values of link fields given by name
    take their href from ``choices`` (see :func:`names_to_choose`).
    """
    body: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("_links", "_meta") and isinstance(value, Mapping):
            body = merge(body, {name: value})
            continue
        field = schema.find(name) if schema is not None else None
        if field is None and name == "attachments":
            # claimed attachments: a link array the schema does not list (PROTOCOL.md 9)
            body.setdefault("_links", {})["attachments"] = _attachment_links(value)
            continue
        if field is None:
            if pending is None:
                raise UnknownField(
                    name, schema.available() if schema is not None else ["(no schema known)"]
                )
            if schema is None:
                _place_guessed(body, pending, name, value)
            else:
                pending[name] = value
            continue
        where = field.placement
        if where == "_links":
            body.setdefault("_links", {})[field.key] = _link_for(field, value, choices or {})
        elif where == "_meta":
            body.setdefault("_meta", {})[field.key] = _root_value(field, value)
        else:
            body[field.key] = _root_value(field, value)
    return body


def _place_guessed(body: dict[str, Any], pending: dict[str, Any], name: str, value: Any) -> None:
    """Place a value before any schema is known, where certain; else keep it pending."""
    where = _guess(name, value)
    if where is None:
        pending[name] = value
    elif where == "_links":
        body.setdefault("_links", {})[_body.camel(name)] = _body.link_value(value)
    elif where == "formattable":
        body[_body.camel(name)] = {"raw": value}
    else:
        body[_body.camel(name)] = _body.scalar(value)


def _attachment_links(value: Any) -> list[Any]:
    """``attachments=[...]``: the whole set the container keeps (it replaces the old one)."""
    if not isinstance(value, list | tuple):
        raise TypeError(
            "attachments= takes a list of attachments (resources, Links or hrefs): the "
            f"container's whole set, not {type(value).__name__}"
        )
    return [_body.link_value(v) for v in value]


def _link_for(field: Field, value: Any, choices: Choices) -> Any:
    if isinstance(value, list | tuple):
        return [_link_for(field, v, choices) for v in value]
    if isinstance(value, str) and not _body.looks_like_href(value):
        try:
            return {"href": choices[(field.key, value)]}
        except KeyError:
            raise LookupError(
                f"no href chosen for {value!r} ({field.name}): resolve names_to_choose() first"
            ) from None
    if isinstance(value, bool | int | float):
        raise TypeError(
            f"{field.name} ({field.key}) takes a link: give a resource, a Link, an href, "
            f"None or the name of an allowed value, not {value!r}"
        )
    return _body.link_value(value)


def _root_value(field: Field, value: Any) -> Any:
    if field.is_formattable:
        if isinstance(value, str) or value is None:
            return {"raw": value}
        return value
    if field.base_type == "Date" and hasattr(value, "date") and callable(value.date):
        value = value.date()  # a datetime for a Date field: its date
    return _body.scalar(value)


def references_only(values: Mapping[str, Any]) -> dict[str, Any]:
    links = {
        _body.camel(k): _body.link_value(v)
        for k, v in values.items()
        if IDENTIFIER.match(k) and (_body.is_reference(v) or _body.looks_like_href(v))
    }
    return {"_links": links} if links else {}
