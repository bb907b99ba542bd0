"""Request bodies for actions that are not forms (watchers, comments, relations, ...).

The HAL rule of the usage guide: scalars at the root, references to other resources
under ``_links`` as ``{"href": ...}``. A reference is a :class:`Resource`, a
:class:`Link`, or — for the arguments an action documents as links (``to`` of
``addRelation``, ``user`` of ``addWatcher``...) — an href string; ``None`` unsets.
Forms place values by their schema instead (see ``_forms``); this module only knows
what PROTOCOL.md section 9 says about the fixed-shape actions:

* ``addWatcher``: the link's templated payload ``{"user": {"href": "/api/v3/users/{user_id}"}}``
  — give ``user=<resource|Link|href|id>`` or ``user_id=``.
* ``addComment``: ``comment="text"`` becomes ``{"comment": {"raw": "text"}}``; ``internal=``
  is sent only when given.
* ``addRelation``: ``to=<work package>``, ``type=``, ``lag=``, ``description=``.
* ``executeImmediately`` (a CustomAction's link): ``work_package=<resource>`` becomes
  ``{"lockVersion": n, "_links": {"workPackage": {"href": ...}}}``.
* Any PATCH to the resource itself (``updateImmediately``, ``changeParent``) gets the
  resource's ``lockVersion`` unless one is given.

Python keyword names are accepted in snake_case (``work_package=``) and sent camelCased
(``workPackage``), the API's spelling.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._links import Link, expand_payload

if TYPE_CHECKING:
    from ._resource import Resource

# Action arguments whose string value is a Formattable on the server ({"raw": ...}).
FORMATTABLE_ARGS: Mapping[str, frozenset[str]] = {
    "addComment": frozenset({"comment"}),
}

# Action arguments that are links: a plain href string goes under _links too.
LINK_ARGS: Mapping[str, frozenset[str]] = {
    "addRelation": frozenset({"to", "from"}),
    "addWatcher": frozenset({"user"}),
    "executeImmediately": frozenset({"workPackage"}),
}

_HREF_PREFIXES = ("/", "http://", "https://", "urn:")
_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``work_package`` -> ``workPackage`` (names starting with ``_`` stay as they are)."""
    if name.startswith("_") or "_" not in name:
        return name
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def looks_like_href(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_HREF_PREFIXES)


def href_of(value: Any) -> str | None:
    """The href a value stands for: a Resource's self link, a Link's href, else None."""
    if isinstance(value, Link):
        return value.href
    self_href = getattr(value, "href", None)
    if isinstance(self_href, str) and hasattr(value, "links"):
        return self_href
    return None


def is_reference(value: Any) -> bool:
    """A Resource, a Link, or a non-empty list of them."""
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
    if isinstance(value, Mapping) and "href" in value:
        return {"href": value["href"]}
    href = href_of(value)
    if href is None and not isinstance(value, Link):
        raise TypeError(
            f"cannot use {value!r} as a link: expected a resource, a Link, an href string or None"
        )
    return {"href": href}


def scalar(value: Any) -> Any:
    """JSON for a root value: dates ``YYYY-MM-DD``, datetimes ISO 8601 UTC with ``Z``,
    timedeltas as ISO 8601 durations (``PT1H30M``, ``P5D``)."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC)
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return iso_duration(value)
    if isinstance(value, list | tuple):
        return [scalar(v) for v in value]
    return value


def iso_duration(delta: _dt.timedelta) -> str:
    """ISO 8601 duration: ``P5D``, ``PT10H``, ``P1DT2H30M``, ``PT0S``."""
    total = delta.total_seconds()
    if total < 0:
        raise ValueError(f"negative duration {delta!r}")
    days, rest = divmod(round(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    if clock:
        out += "T" + clock
    return out if out != "P" else "PT0S"


def _id_from(ref: Any) -> Any:
    """The id a reference stands for: an int/str as is, a resource's ``id``, an href's tail."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str):
        return ref.rstrip("/").rsplit("/", 1)[-1] if looks_like_href(ref) else ref
    data = getattr(ref, "data", None)
    if isinstance(data, Mapping) and data.get("id") is not None:
        return data["id"]
    href = href_of(ref)
    return href.rstrip("/").rsplit("/", 1)[-1] if href else None


def fill_template_vars(
    variables: list[str], kwargs: dict[str, Any], refs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Take the template variables out of ``kwargs``.

    ``x_id`` may be given as ``x=<resource|Link|href|id>``: the id is taken from it and
    ``x`` is consumed too (recorded in ``refs`` so a payload can use the reference's own
    href).
    """
    values: dict[str, Any] = {}
    for name in variables:
        if name in kwargs:
            values[name] = kwargs.pop(name)
        elif name.endswith("_id") and name[:-3] in kwargs:
            ref = kwargs[name[:-3]]
            ident = _id_from(ref)
            if ident is not None:
                values[name] = ident
                kwargs.pop(name[:-3])
                if refs is not None:
                    refs[name[:-3]] = ref
    return values


def _payload_link(key: str, value: Any, refs: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """A templated ``{"href": ".../{x_id}"}`` in a payload: the given reference's own href
    when there is one, else the template filled."""
    ref = refs.get(key)
    if ref is not None and (is_reference(ref) or looks_like_href(ref)):
        return link_value(ref)
    return expand_payload(value, values)


def action_body(
    resource: Resource | None,
    rel: str,
    link: Link,
    kwargs: dict[str, Any],
    template_values: Mapping[str, Any],
    refs: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The JSON body for the action link ``rel`` from keyword arguments.

    The link's ``payload`` (templates filled) is the starting point; keyword arguments
    override or extend it. ``None`` when there is nothing to send (e.g. DELETE).
    """
    refs = refs or {}
    kwargs = {camel(k): v for k, v in kwargs.items()}
    body: dict[str, Any] = {}
    if rel == "executeImmediately":
        body.update(_custom_action_body(kwargs))
    payload = link.payload
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if key == "_links" and isinstance(value, Mapping):
                body["_links"] = {
                    k: _payload_link(k, v, refs, template_values) for k, v in value.items()
                }
            elif isinstance(value, Mapping) and "href" in value:
                body[key] = _payload_link(key, value, refs, template_values)
            else:
                body[key] = expand_payload(value, template_values)
    link_args = LINK_ARGS.get(rel, frozenset())
    formattable = FORMATTABLE_ARGS.get(rel, frozenset())
    payload_keys = payload.keys() if isinstance(payload, Mapping) else ()
    for key, value in kwargs.items():
        if key in ("_links", "_meta") and isinstance(value, Mapping):
            merged = dict(body.get(key) or {})
            merged.update(value)
            body[key] = merged
        elif key in payload_keys and isinstance(payload[key], Mapping) and "href" in payload[key]:
            body[key] = link_value(value)  # a link at the root, where the payload has it
        elif is_reference(value) or (
            key in link_args and (value is None or isinstance(value, str))
        ):
            body.setdefault("_links", {})[key] = link_value(value)
        elif key in formattable and isinstance(value, str):
            body[key] = {"raw": value}
        else:
            body[key] = scalar(value)
    if (
        resource is not None
        and link.method == "PATCH"
        and link.href is not None
        and link.href == resource.href
        and "lockVersion" in resource
        and "lockVersion" not in body
    ):
        body["lockVersion"] = resource["lockVersion"]
    if not body and payload is None:
        return None
    return body


def _custom_action_body(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``work_package=<resource>`` -> ``lockVersion`` + ``_links.workPackage``."""
    wp = kwargs.pop("workPackage", None)
    if wp is None:
        return {}
    lock = kwargs.pop("lockVersion", None)
    data = getattr(wp, "data", None)
    if lock is None and isinstance(data, Mapping):
        lock = data.get("lockVersion")
    if lock is None:
        raise TypeError(
            "executing a custom action needs the work package's lockVersion: pass the work "
            "package resource as work_package=, or lock_version= with its href"
        )
    return {"lockVersion": lock, "_links": {"workPackage": link_value(wp)}}
