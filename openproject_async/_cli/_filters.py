"""The ``--filter``, ``--sort`` and ``--select`` mini-languages.

Filters (each ``--filter`` adds one; they are ANDed by the server):

==========================  =====================================================
``status=o``, ``status=c``  open / closed work packages (value-less operators)
``assignee=*``              set at all; ``assignee=!*``: not set
``assignee=me``             ``=`` with values (``type=1,2``: any of 1 and 2)
``type!=1,2``               ``!`` (none of)
``subject~text``            contains; ``subject!~text``: does not contain
``updatedAt>=2025-01-01``   on or after (dates/date-times: ``<>d`` with an open end;
                            numbers: ``>=``); ``<=`` likewise
``name:operator:v1,v2``     any operator as is (``createdAt:>t-:7``)
``[{...}]`` / ``{...}``     raw JSON: a list of filter objects, or one
==========================  =====================================================
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ._common import EXIT_USAGE, CliError

Filter = dict[str, dict[str, Any]]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE = re.compile(rf"^\s*({_NAME})\s*(!~|!=|>=|<=|~|=|!)\s*(.*?)\s*$", re.DOTALL)
_EXPLICIT = re.compile(rf"^\s*({_NAME}):([^:\s]+)(?::(.*))?$", re.DOTALL)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
_VALUELESS_ANY = frozenset({"*", "!*"})
_VALUELESS_STATUS = frozenset({"o", "c"})

FILTER_SYNTAX = (
    "NAME=VALUE[,VALUE...], NAME!=VALUE, NAME~TEXT, NAME!~TEXT, NAME>=VALUE, NAME<=VALUE, "
    "NAME=* / NAME=!* (set / not set), status=o / status=c (open / closed), "
    "NAME:OPERATOR[:VALUE,...], or raw JSON ([{...}] or {...})"
)


def _one(name: str, operator: str, values: list[str]) -> Filter:
    return {name: {"operator": operator, "values": values}}


def _check_raw(doc: Any, text: str) -> list[Filter]:
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        ok = (
            isinstance(item, dict)
            and len(item) == 1
            and isinstance(next(iter(item.values())), dict)
            and "operator" in next(iter(item.values()))
        )
        if not ok:
            raise CliError(
                f"cannot read filter {text!r}: raw JSON must be a filter object "
                '{"NAME": {"operator": "...", "values": [...]}} or a list of them',
                EXIT_USAGE,
            )
    return list(items)


def parse_filter(text: str) -> list[Filter]:
    """One ``--filter`` argument as a list of filter objects (raw JSON may hold several)."""
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise CliError(
                f"cannot read filter {text!r}: invalid JSON ({exc})", EXIT_USAGE
            ) from None
        return _check_raw(doc, text)
    explicit = _EXPLICIT.match(stripped)
    if explicit:
        name, operator, rest = explicit.groups()
        values = [v.strip() for v in rest.split(",")] if rest else []
        return [_one(name, operator, values)]
    simple = _SIMPLE.match(stripped)
    if not simple:
        raise CliError(f"cannot read filter {text!r}: expected {FILTER_SYNTAX}", EXIT_USAGE)
    name, operator, value = simple.groups()
    if operator in ("~", "!~"):
        if not value:
            raise CliError(f"filter {text!r}: {operator} needs a text", EXIT_USAGE)
        return [_one(name, operator, [value])]
    if operator in (">=", "<="):
        if not value:
            raise CliError(f"filter {text!r}: {operator} needs a value", EXIT_USAGE)
        if _DATE.match(value):  # OpenProject filters dates with "<>d" (between), open ended
            return [_one(name, "<>d", [value, ""] if operator == ">=" else ["", value])]
        return [_one(name, operator, [value])]
    negate = operator in ("!=", "!")
    if value in _VALUELESS_ANY and not negate:
        return [_one(name, value, [])]
    if value in _VALUELESS_STATUS and name == "status" and not negate:
        return [_one(name, value, [])]
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not values:
        raise CliError(f"filter {text!r}: no value after {operator}", EXIT_USAGE)
    return [_one(name, "!" if negate else "=", values)]


def parse_filters(items: list[str] | None) -> list[Filter] | None:
    """Every ``--filter`` (None when none was given)."""
    if not items:
        return None
    out: list[Filter] = []
    for item in items:
        out.extend(parse_filter(item))
    return out


def parse_sort(text: str | None) -> list[list[str]] | None:
    """``updatedAt:desc,id`` or ``-updatedAt,id`` -> ``[["updatedAt","desc"],["id","asc"]]``."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise CliError(
                f"cannot read --sort {text!r}: invalid JSON ({exc})", EXIT_USAGE
            ) from None
        if not isinstance(doc, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in doc
        ):
            raise CliError(
                f'cannot read --sort {text!r}: raw JSON must be [["attribute", "asc"|"desc"], ...]',
                EXIT_USAGE,
            )
        return [list(p) for p in doc]
    out: list[list[str]] = []
    for part in stripped.split(","):
        part = part.strip()
        direction = "asc"
        if part.startswith("-"):
            part, direction = part[1:], "desc"
        elif ":" in part:
            part, _, direction = part.partition(":")
            direction = direction.strip().lower()
        if direction not in ("asc", "desc") or not re.fullmatch(_NAME, part.strip()):
            raise CliError(
                f"cannot read --sort {text!r}: expected ATTRIBUTE[:asc|:desc] or -ATTRIBUTE, "
                "comma separated, or raw JSON",
                EXIT_USAGE,
            )
        out.append([part.strip(), direction])
    return out


def select_names(text: str | None) -> list[str] | None:
    """The property names of a plain ``--select id,subject`` (None for paths)."""
    if text is None or "/" in text or "*" in text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()] or None


def parse_select(text: str | None) -> str | None:
    """``id,subject`` -> ``*,elements/id,elements/subject`` (paths with ``/`` or ``*`` as is)."""
    if text is None or not text.strip():
        return None
    if "/" in text or "*" in text:
        return text.strip()
    names = [n.strip() for n in text.split(",") if n.strip()]
    return ",".join(["*", *(f"elements/{n}" for n in names)])
