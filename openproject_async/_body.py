"""Building request bodies from keyword arguments (before any schema is known).

Scalars go to the root, resources and links under ``_links`` as ``{"href": ...}`` —
the HAL rule the usage guide spells out. Forms refine this with their schema
(see ``_forms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._links import Link, expand_payload

# Non-form actions whose string arguments are Formattables on the server ({"raw": ...}).
FORMATTABLE_ARGS: Mapping[str, frozenset[str]] = {
    "addComment": frozenset({"comment"}),
    "addAttachment": frozenset({"description"}),
}


def href_of(value: Any) -> str | None:
    """The href a value stands for: a Resource's self link, a Link's href, else None."""
    if isinstance(value, Link):
        return value.href
    self_href = getattr(value, "href", None)
    if isinstance(self_href, str) and hasattr(value, "links"):
        return self_href
    return None


def is_reference(value: Any) -> bool:
    if isinstance(value, Link) or (hasattr(value, "links") and hasattr(value, "href")):
        return True
    return isinstance(value, list | tuple) and bool(value) and all(is_reference(v) for v in value)


def link_value(value: Any) -> Any:
    """``{"href": ...}`` (or a list of them) for a resource, Link, href string or None."""
    if value is None:
        return {"href": None}
    if isinstance(value, list | tuple):
        return [link_value(v) for v in value]
    if isinstance(value, str):
        return {"href": value}
    href = href_of(value)
    if href is None and not isinstance(value, Link):
        raise TypeError(f"cannot use {value!r} as a link: expected a resource, Link or href")
    return {"href": href}


def fill_template_vars(variables: list[str], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the template variables out of ``kwargs``.

    ``user_id`` may be given as ``user=<resource>``: a missing ``x_id`` is taken from the
    ``id`` of a resource passed as ``x``.
    """
    values: dict[str, Any] = {}
    for name in variables:
        if name in kwargs:
            values[name] = kwargs.pop(name)
        elif name.endswith("_id") and name[:-3] in kwargs:
            ref = kwargs[name[:-3]]
            ident = getattr(ref, "id", None) if not isinstance(ref, int | str) else ref
            if ident is None and (h := href_of(ref)):
                ident = h.rstrip("/").rsplit("/", 1)[-1]
            if ident is not None:
                values[name] = ident
    return values


def action_body(
    rel: str, payload: Any, kwargs: dict[str, Any], template_values: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The JSON body for an action link with optional (templated) ``payload``."""
    body: dict[str, Any] = {}
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if key in kwargs and isinstance(value, Mapping) and "href" in value:
                body[key] = link_value(kwargs.pop(key))
            elif key == "_links" and isinstance(value, Mapping):
                body["_links"] = dict(expand_payload(value, template_values))
            else:
                body[key] = expand_payload(value, template_values)
    formattable = FORMATTABLE_ARGS.get(rel, frozenset())
    for key, value in kwargs.items():
        if is_reference(value):
            body.setdefault("_links", {})[key] = link_value(value)
        elif key in formattable and isinstance(value, str):
            body[key] = {"raw": value}
        else:
            body[key] = value
    if not body and payload is None:
        return None
    return body
