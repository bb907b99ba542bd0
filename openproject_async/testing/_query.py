"""Query parameters of collections: pagination, ``filters``, ``sortBy`` and ``select``.

Pagination follows ``OffsetPaginatedCollection`` exactly: ``offset`` is a 1-based page
number (Ruby ``to_i``; <= 0 -> 1), ``pageSize`` is capped at the maximum, ``-1`` means the
maximum and ``0`` loads no elements (but still counts). Links re-render the query with
sorted, CGI-escaped keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

import orjson
from aiohttp import web

from ._errors import ApiError, invalid_query
from ._http import count_elements, state_of
from ._render import JsonDict, to_query

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20

_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def ruby_to_i(value: str | None) -> int:
    """``String#to_i``: the leading integer, 0 for garbage."""
    if value is None:
        return 0
    match = _INT_PREFIX.match(value)
    return int(match.group(1)) if match else 0


def page_params(
    query: Mapping[str, str], max_page_size: int, default: int = DEFAULT_PAGE_SIZE
) -> tuple[int, int]:
    page = ruby_to_i(query.get("offset"))
    if page <= 0:
        page = 1
    if "pageSize" in query:
        size = ruby_to_i(query["pageSize"])
        if size == -1 or size > max_page_size:
            size = max_page_size
        elif size < 0:
            size = 0
    else:
        size = default
    return page, min(size, max_page_size)


def paged_links(
    base_href: str, params: Mapping[str, Any], page: int, size: int, total: int
) -> JsonDict:
    def make(p: int | str, s: int | str) -> str:
        return f"{base_href}?{to_query({**params, 'offset': p, 'pageSize': s})}"

    links: JsonDict = {
        "self": {"href": make(page, size)},
        "jumpTo": {"href": make("{offset}", size), "templated": True},
        "changeSize": {"href": make(page, "{size}"), "templated": True},
    }
    if page > 1:
        links["previousByOffset"] = {"href": make(page - 1, size)}
    if page * size < total:
        links["nextByOffset"] = {"href": make(page + 1, size)}
    return links


def paginated(
    type_name: str,
    elements_of: Callable[[int, int], list[JsonDict]],
    total: int,
    base_href: str,
    params: Mapping[str, Any],
    page: int,
    size: int,
) -> JsonDict:
    """An offset paginated collection; ``elements_of(start, stop)`` renders one slice."""
    start = (page - 1) * size
    elements = elements_of(start, start + size) if size > 0 and start < total else []
    return {
        "_type": type_name,
        "total": total,
        "count": len(elements),
        "pageSize": size,
        "offset": page,
        "_embedded": {"elements": elements},
        "_links": paged_links(base_href, params, page, size, total),
    }


PAGED_COLLECTION_KEYS = frozenset(
    {
        "_type",
        "total",
        "count",
        "pageSize",
        "offset",
        "elements",
        "self",
        "jumpTo",
        "changeSize",
        "previousByOffset",
        "nextByOffset",
    }
)
"""What ``select`` may name at the top of any paginated collection."""


def paged_collection(
    request: web.Request,
    items: Sequence[T],
    render: Callable[[T], JsonDict],
    base_href: str,
    params: Mapping[str, Any],
    type_name: str = "Collection",
) -> JsonDict:
    """The page of ``items`` the request's ``offset``/``pageSize`` ask for, counted for latency.

    Every paginated list pages and counts the same way; only what it lists differs.
    """
    page, size = page_params(request.query, state_of(request).config.max_page_size)
    doc = paginated(
        type_name,
        lambda start, stop: [render(item) for item in items[start:stop]],
        len(items),
        base_href,
        params,
        page,
        size,
    )
    count_elements(request, doc["count"])
    return doc


# ---------------------------------------------------------------------------------------------
# JSON query props


def parse_json_param(raw: str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_query(f"{what} could not be parsed as JSON: {exc.msg}.") from None


Filter = tuple[str, str, list[str]]  # (name, operator, values)


def parse_filter_list(raw: str | None) -> list[Filter] | None:
    """The generic shape check: a JSON array of single-key objects."""
    if raw is None:
        return None
    data = parse_json_param(raw, "Filters")
    if not isinstance(data, list):
        raise invalid_query("Filters must be a JSON array of filter objects.")
    result: list[Filter] = []
    for item in data:
        if not isinstance(item, dict) or len(item) != 1:
            raise invalid_query("Filters each filter must be an object with exactly one key.")
        ((name, spec),) = item.items()
        if not isinstance(spec, dict) or not isinstance(spec.get("operator"), str):
            raise invalid_query(f"Filters {name} Operator can't be blank.")
        values = spec.get("values")
        if values is None:
            values = []
        if not isinstance(values, list):
            raise invalid_query(f"Filters {name} Values is invalid.")
        result.append((name, spec["operator"], [str(v) for v in values]))
    return result


def render_filters(filters: list[Filter]) -> str:
    """The filters as the server re-renders them in links (compact JSON)."""
    return orjson.dumps(
        [{name: {"operator": op, "values": values}} for name, op, values in filters]
    ).decode()


def parse_sort(raw: str | None, keys: set[str]) -> list[tuple[str, str]]:
    if raw is None:
        return [("id", "asc")]
    data = parse_json_param(raw, "Sort by")
    if not isinstance(data, list):
        raise invalid_query("Sort by must be a JSON array of [attribute, direction] pairs.")
    result: list[tuple[str, str]] = []
    for pair in data:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(p, str) for p in pair)
        ):
            raise invalid_query("Sort by must be a JSON array of [attribute, direction] pairs.")
        attr, direction = pair
        if attr not in keys and not re.fullmatch(r"customField\d+", attr):
            raise invalid_query(f"Sort by {attr} is not a valid sort criterion.")
        if direction not in ("asc", "desc"):
            raise invalid_query(f"Sort by direction {direction} is not valid.")
        result.append((attr, direction))
    return result


# ---------------------------------------------------------------------------------------------
# select= (signaling)

SelectTree = dict[str, "SelectTree"]


def parse_select(raw: str | None) -> SelectTree | None:
    """``nested_from_csv``: ``a,b/c`` -> ``{"a": {}, "b": {"c": {}}}`` (``["a","b/c"]`` too)."""
    if raw is None:
        return None
    tree: SelectTree = {}
    text = raw.strip().removeprefix("[").removesuffix("]")
    for item in text.split(","):
        path = item.strip().replace('"', "").replace("'", "")
        if not path:
            continue
        node = tree
        for part in path.split("/"):
            node = node.setdefault(part, {})
    return tree


def check_select(tree: SelectTree, top: AbstractSet[str], element: AbstractSet[str]) -> None:
    def bad(name: str) -> ApiError:
        return ApiError(400, "InvalidSignal", f"The select is not supported: {name}.")

    for key, sub in tree.items():
        if key == "elements":
            for ekey, esub in sub.items():
                if (
                    ekey != "*"
                    and ekey not in element
                    and not re.fullmatch(r"customField\d+", ekey)
                ):
                    raise bad(f"elements/{ekey}")
                if esub:
                    raise bad(f"elements/{ekey}/{next(iter(esub))}")
        elif key != "*" and key not in top:
            raise bad(key)


def apply_select(doc: JsonDict, tree: SelectTree) -> JsonDict:
    """Keep only the selected properties; links are atomic, ``_links``/``_embedded`` implicit."""
    wildcard = "*" in tree
    out: JsonDict = {}
    for key, value in doc.items():
        if key == "_links":
            kept = {k: v for k, v in value.items() if wildcard or k in tree}
            if kept:
                out["_links"] = kept
        elif key == "_embedded":
            kept_embedded: JsonDict = {}
            for k, v in value.items():
                if k not in tree:
                    continue
                sub = tree[k]
                if isinstance(v, list):
                    kept_embedded[k] = [
                        apply_select(e, sub) if sub and isinstance(e, dict) else e for e in v
                    ]
                elif isinstance(v, dict) and sub:
                    kept_embedded[k] = apply_select(v, sub)
                else:
                    kept_embedded[k] = v
            if kept_embedded:
                out["_embedded"] = kept_embedded
        elif wildcard or key in tree:
            out[key] = value
    return out
