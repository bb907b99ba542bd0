"""``filters`` and ``sortBy`` of the projects collection (``GET /api/v3/projects``).

Every filter the Projects chapter lists: ``active``, ``ancestor``,
``available_project_attributes``, ``created_at``, ``latest_activity_at``,
``name_and_identifier``, ``parent_id``, ``principal``, ``storage_id``, ``storage_url``,
``type_id``, ``user_action``, ``id``, ``visible`` (plus ``name``); and every order:
``id``, ``name``, ``typeahead`` (hierarchy, then name), ``created_at``, ``public``,
``latest_activity_at``, ``required_disk_space``. Unknown filters, operators or orders
answer 400 ``InvalidQuery``. Ties are broken by id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ._data import ADD_WP, EDIT_PROJECT, VIEW_WP, Project, Store
from ._errors import invalid_query
from ._query import Filter, parse_sort, ruby_to_i
from ._render import Ctx, project_ancestors
from ._wp_query import _parse_instant

Predicate = Callable[[Project], bool]

SORT_KEYS = frozenset(
    {
        "id",
        "name",
        "typeahead",
        "created_at",
        "public",
        "latest_activity_at",
        "required_disk_space",
    }
)

# user_action values (capability ids) -> the permission they stand for
_ACTIONS = {
    "work_packages/read": VIEW_WP,
    "work_packages/create": ADD_WP,
    "projects/update": EDIT_PROJECT,
}

_OPERATORS: dict[str, frozenset[str]] = {
    "active": frozenset({"=", "!"}),
    "ancestor": frozenset({"=", "!"}),
    "available_project_attributes": frozenset({"=", "!"}),
    "created_at": frozenset({">t-", "<t-", "t-", "t", "w", "=d", "<>d"}),
    "latest_activity_at": frozenset({">t-", "<t-", "t-", "t", "w", "=d", "<>d"}),
    "name_and_identifier": frozenset({"=", "!", "~", "!~", "**"}),
    "name": frozenset({"=", "!", "~", "!~"}),
    "parent_id": frozenset({"=", "!"}),
    "principal": frozenset({"=", "!"}),
    "storage_id": frozenset({"=", "!"}),
    "storage_url": frozenset({"=", "!"}),
    "type_id": frozenset({"=", "!"}),
    "user_action": frozenset({"=", "&="}),
    "id": frozenset({"=", "!"}),
    "visible": frozenset({"="}),
}


def latest_activity_at(store: Store, p: Project) -> datetime:
    """The project's last change or the last change of one of its work packages."""
    times = [w.updated_at for w in store.work_packages.values() if w.project_id == p.id]
    return max([p.updated_at, *times])


def required_disk_space(store: Store, p: Project) -> int:
    """Bytes of the attachments of the project's work packages."""
    ids = {w.id for w in store.work_packages.values() if w.project_id == p.id}
    return sum(len(a.content) for a in store.attachments.values() if a.container_id in ids)


def _ints(name: str, values: list[str], ctx: Ctx) -> set[int]:
    out: set[int] = set()
    for v in values:
        if v == "me":
            out.add(ctx.user.id)
        elif v.isdigit():
            out.add(int(v))
        else:
            raise invalid_query(f"Filters {name} Values is invalid.")
    if not out:
        raise invalid_query(f"Filters {name} Values can't be blank.")
    return out


def _range(name: str, op: str, values: list[str]) -> tuple[datetime | None, datetime | None]:
    now = datetime.now(UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    if op == "<>d":
        if len(values) != 2:
            raise invalid_query(f"Filters {name} Values is invalid.")
        lo = _parse_instant(name, values[0]) if values[0] else None
        hi = _parse_instant(name, values[1], end_of_day=True) if values[1] else None
        return lo, hi
    if op == "=d":
        if not values:
            raise invalid_query(f"Filters {name} Values is invalid.")
        day = _parse_instant(name, values[0][:10])
        return day, day + timedelta(days=1) - tick
    if op in (">t-", "<t-", "t-"):
        point = today - timedelta(days=ruby_to_i(values[0]) if values else 0)
        if op == ">t-":
            return point, None
        if op == "<t-":
            return None, point - tick
        return point, point + timedelta(days=1) - tick
    if op == "t":
        return today, today + timedelta(days=1) - tick
    monday = today - timedelta(days=today.weekday())  # "w"
    return monday, monday + timedelta(days=7) - tick


def _predicate(ctx: Ctx, name: str, op: str, values: list[str]) -> Predicate:
    store = ctx.store
    allowed = _OPERATORS.get(name)
    if allowed is None:
        raise invalid_query(f"Filters {name} filter does not exist.")
    if op not in allowed:
        raise invalid_query(f"Filters {name} Operator is not set to one of the allowed values.")
    positive = op != "!"
    if name == "active":
        wanted = values[:1] == ["t"]
        return lambda p: (p.active == wanted) == positive
    if name in ("created_at", "latest_activity_at"):
        lo, hi = _range(name, op, values)

        def in_range(p: Project) -> bool:
            value = p.created_at if name == "created_at" else latest_activity_at(store, p)
            return (lo is None or value >= lo) and (hi is None or value <= hi)

        return in_range
    if name in ("name_and_identifier", "name"):
        needle = (values[0] if values else "").casefold()

        def text(p: Project) -> bool:
            names = [p.name.casefold()]
            if name == "name_and_identifier":
                names.append(p.identifier.casefold())
            if op in ("=", "!"):
                return (needle in names) == positive
            return any(needle in n for n in names) == (op != "!~")

        return text
    if name == "storage_url":
        hosts = {v.rstrip("/") for v in values}
        ids = {s.id for s in store.storages.values() if s.host in hosts}
        return lambda p: bool(ids & set(p.storage_ids)) == positive
    if name == "available_project_attributes":
        return lambda p: not positive  # no project attributes are activated anywhere
    if name == "user_action":
        perms = [_ACTIONS.get(v) for v in values]
        if not values:
            raise invalid_query(f"Filters {name} Values can't be blank.")

        def can(p: Project) -> bool:
            granted = ctx.perms(p.id)
            hits = [perm is not None and perm in granted for perm in perms]
            return all(hits) if op == "&=" else any(hits)

        return can
    ids = _ints(name, values, ctx)
    if name == "id":
        return lambda p: (p.id in ids) == positive
    if name == "ancestor":
        return lambda p: bool(ids & {a.id for a in project_ancestors(store, p)}) == positive
    if name == "parent_id":
        return lambda p: (p.parent_id in ids) == positive
    if name == "principal":
        return lambda p: bool(ids & set(p.members)) == positive
    if name == "storage_id":
        return lambda p: bool(ids & set(p.storage_ids)) == positive
    if name == "type_id":
        return lambda p: bool(ids & set(p.type_ids)) == positive
    # visible: projects that one of the given users may see
    users = [store.users[u] for u in ids if u in store.users]
    return lambda p: any(VIEW_WP in store.permissions(u, p.id) for u in users)


def filter_projects(ctx: Ctx, projects: list[Project], filters: list[Filter]) -> list[Project]:
    checks = [_predicate(ctx, name, op, values) for name, op, values in filters]
    return [p for p in projects if all(check(p) for check in checks)]


def _sort_value(store: Store, attr: str, p: Project) -> Any:
    if attr == "name":
        return p.name.casefold()
    if attr == "typeahead":
        return [a.name.casefold() for a in project_ancestors(store, p)] + [p.name.casefold()]
    if attr == "created_at":
        return p.created_at
    if attr == "public":
        return p.public
    if attr == "latest_activity_at":
        return latest_activity_at(store, p)
    if attr == "required_disk_space":
        return required_disk_space(store, p)
    return p.id


def sort_projects(ctx: Ctx, projects: list[Project], raw: str | None) -> list[Project]:
    """Sorted by the ``sortBy`` pairs (default ``[["id","asc"]]``), ties by id."""
    orders = parse_sort(raw, set(SORT_KEYS))
    result = sorted(projects, key=lambda p: p.id)
    for attr, direction in reversed(orders):
        result.sort(key=lambda p: _sort_value(ctx.store, attr, p), reverse=direction == "desc")
    return result
