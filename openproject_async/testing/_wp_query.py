"""Work package ``filters`` and ``sortBy`` (the operators a polling bot needs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ._data import CustomField, Store, User, WorkPackage
from ._errors import ApiError, invalid_query
from ._query import Filter, ruby_to_i

# ---------------------------------------------------------------------------------------------
# Work package filters

WpPredicate = Callable[[WorkPackage], bool]

WP_SORT_KEYS = {
    "id",
    "subject",
    "createdAt",
    "updatedAt",
    "priority",
    "status",
    "type",
    "assignee",
    "author",
    "responsible",
    "project",
    "startDate",
    "dueDate",
    "percentageDone",
    "estimatedTime",
    "version",
    "category",
    "parent",
}

DEFAULT_WP_FILTERS: list[Filter] = [("status", "o", [])]


def _ids(name: str, values: list[str], user: User | None = None) -> set[int | None]:
    result: set[int | None] = set()
    for v in values:
        if v == "me" and user is not None:
            result.add(user.id)
        elif v.isdigit():
            result.add(int(v))
        else:
            raise invalid_query(f"Filters {name.capitalize()} Values is invalid.")
    if not result:
        raise invalid_query(f"Filters {name.capitalize()} Values can't be blank.")
    return result


def _parse_instant(name: str, value: str, *, end_of_day: bool = False) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_query(f"Filters {name} Values is invalid.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _attr_getter(name: str) -> Callable[[WorkPackage], Any]:
    return {
        "project": lambda wp: wp.project_id,
        "type": lambda wp: wp.type_id,
        "status": lambda wp: wp.status_id,
        "priority": lambda wp: wp.priority_id,
        "assignee": lambda wp: wp.assignee_id,
        "assignedTo": lambda wp: wp.assignee_id,
        "author": lambda wp: wp.author_id,
        "responsible": lambda wp: wp.responsible_id,
        "version": lambda wp: wp.version_id,
        "category": lambda wp: wp.category_id,
        "parent": lambda wp: wp.parent_id,
        "id": lambda wp: wp.id,
    }[name]


_LIST_FILTER_OPS = {
    "project": {"=", "!"},
    "type": {"=", "!"},
    "priority": {"=", "!"},
    "assignee": {"=", "!", "*", "!*"},
    "assignedTo": {"=", "!", "*", "!*"},
    "author": {"=", "!"},
    "responsible": {"=", "!", "*", "!*"},
    "version": {"=", "!", "*", "!*"},
    "category": {"=", "!", "*", "!*"},
    "parent": {"=", "!", "*", "!*"},
    "id": {"=", "!"},
}
_DATE_OPS = {"<>d", ">=", "<=", "=d", ">t-", "<t-", "t-", "t", "w"}


def wp_filter_predicates(
    store: Store, user: User, filters: list[Filter], projects: dict[str, int]
) -> list[WpPredicate]:
    """Predicates for the filters; raises InvalidQuery for unknown filters/operators/values."""
    preds: list[WpPredicate] = []
    for name, op, values in filters:
        preds.append(_wp_predicate(store, user, name, op, values, projects))
    return preds


def _bad_operator(name: str) -> ApiError:
    return invalid_query(f"Filters {name} Operator is not set to one of the allowed values.")


def _wp_predicate(
    store: Store,
    user: User,
    name: str,
    op: str,
    values: list[str],
    projects: dict[str, int],
) -> WpPredicate:
    if name == "status":
        if op == "o":
            open_ids = store.open_status_ids()
            return lambda wp: wp.status_id in open_ids
        if op == "c":
            open_ids = store.open_status_ids()
            return lambda wp: wp.status_id not in open_ids
        if op == "*":
            return lambda wp: True
        if op in ("=", "!"):
            ids = _ids(name, values)
            return (
                (lambda wp: wp.status_id in ids)
                if op == "="
                else (lambda wp: wp.status_id not in ids)
            )
        raise _bad_operator(name)
    if name in _LIST_FILTER_OPS:
        if op not in _LIST_FILTER_OPS[name]:
            raise _bad_operator(name)
        get = _attr_getter(name)
        if op == "*":
            return lambda wp: get(wp) is not None
        if op == "!*":
            return lambda wp: get(wp) is None
        if name == "project":
            values = [str(projects.get(v, v)) if not v.isdigit() else v for v in values]
        ids = _ids(name, values, user)
        if op == "=":
            return lambda wp: get(wp) in ids
        return lambda wp: get(wp) not in ids
    if name in ("subject", "subjectOrId", "search"):
        needle = values[0].casefold() if values else ""
        if op == "~" or (op == "**" and name != "subject"):
            if name == "subject":
                return lambda wp: needle in wp.subject.casefold()
            return lambda wp: needle in wp.subject.casefold() or needle == str(wp.id)
        if op == "!~" and name == "subject":
            return lambda wp: needle not in wp.subject.casefold()
        if op == "=" and name == "subject":
            wanted = {v.casefold() for v in values}
            return lambda wp: wp.subject.casefold() in wanted
        raise _bad_operator(name)
    if name in ("updatedAt", "createdAt", "startDate", "dueDate"):
        return _date_predicate(name, op, values)
    if name.startswith("customField") and name[11:].isdigit():
        cf = store.custom_fields.get(int(name[11:]))
        if cf is None:
            raise invalid_query(f"Filters {name} filter does not exist.")
        return _cf_predicate(cf, name, op, values, user)
    raise invalid_query(f"Filters {name} filter does not exist.")


def _date_predicate(name: str, op: str, values: list[str]) -> WpPredicate:
    if op not in _DATE_OPS:
        raise _bad_operator(name)
    is_dt = name in ("updatedAt", "createdAt")
    now = datetime.now(UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    lo: datetime | None = None
    hi: datetime | None = None
    if op == "<>d":
        if len(values) != 2:
            raise invalid_query(f"Filters {name} Values is invalid.")
        lo = _parse_instant(name, values[0]) if values[0] else None
        hi = _parse_instant(name, values[1], end_of_day=True) if values[1] else None
    elif op == ">=":
        lo = _parse_instant(name, values[0]) if values else None
    elif op == "<=":
        hi = _parse_instant(name, values[0], end_of_day=True) if values else None
    elif op == "=d":
        if not values:
            raise invalid_query(f"Filters {name} Values is invalid.")
        lo = _parse_instant(name, values[0][:10])
        hi = lo + timedelta(days=1) - timedelta(microseconds=1)
    elif op in (">t-", "<t-", "t-"):
        days = ruby_to_i(values[0]) if values else 0
        point = today - timedelta(days=days)
        if op == ">t-":
            lo = point
        elif op == "<t-":
            hi = point - timedelta(microseconds=1)
        else:
            lo, hi = point, point + timedelta(days=1) - timedelta(microseconds=1)
    elif op == "t":
        lo, hi = today, today + timedelta(days=1) - timedelta(microseconds=1)
    else:  # "w": this week, Monday based
        lo = today - timedelta(days=today.weekday())
        hi = lo + timedelta(days=7) - timedelta(microseconds=1)

    if is_dt:
        attr = "updated_at" if name == "updatedAt" else "created_at"

        def check_dt(wp: WorkPackage) -> bool:
            value: datetime = getattr(wp, attr)
            return (lo is None or value >= lo) and (hi is None or value <= hi)

        return check_dt
    attr = "start_date" if name == "startDate" else "due_date"
    lo_s = lo.date().isoformat() if lo else None
    hi_s = hi.date().isoformat() if hi else None

    def check_date(wp: WorkPackage) -> bool:
        value: str | None = getattr(wp, attr)
        if value is None:
            return False
        return (lo_s is None or value >= lo_s) and (hi_s is None or value <= hi_s)

    return check_date


def _cf_predicate(
    cf: CustomField, name: str, op: str, values: list[str], user: User
) -> WpPredicate:
    cid = cf.id
    if op == "*":
        return lambda wp: wp.custom_values.get(cid) is not None
    if op == "!*":
        return lambda wp: wp.custom_values.get(cid) is None
    if op in ("=", "!"):
        ids = _ids(name, values, user)
        if op == "=":
            return lambda wp: wp.custom_values.get(cid) in ids
        return lambda wp: wp.custom_values.get(cid) not in ids
    if op in (">=", "<=") and cf.field_format == "int":
        if not values or not values[0].lstrip("-").isdigit():
            raise invalid_query(f"Filters {cf.name} Values is invalid.")
        bound = int(values[0])
        if op == ">=":
            return lambda wp: (v := wp.custom_values.get(cid)) is not None and v >= bound
        return lambda wp: (v := wp.custom_values.get(cid)) is not None and v <= bound
    raise _bad_operator(name)


def wp_sort_key(store: Store, attr: str) -> Callable[[WorkPackage], Any]:
    """A key function with NULLs sorting last ascending (first descending), as in PostgreSQL."""
    getter: Callable[[WorkPackage], Any]
    if attr == "id":
        getter = lambda wp: wp.id  # noqa: E731
    elif attr == "subject":
        getter = lambda wp: wp.subject.casefold()  # noqa: E731
    elif attr == "createdAt":
        getter = lambda wp: wp.created_at  # noqa: E731
    elif attr == "updatedAt":
        getter = lambda wp: wp.updated_at  # noqa: E731
    elif attr == "priority":
        getter = lambda wp: store.priorities[wp.priority_id].position  # noqa: E731
    elif attr == "status":
        getter = lambda wp: store.statuses[wp.status_id].position  # noqa: E731
    elif attr == "type":
        getter = lambda wp: store.types[wp.type_id].position  # noqa: E731
    elif attr == "project":
        getter = lambda wp: store.projects[wp.project_id].name  # noqa: E731
    elif attr in ("assignee", "author", "responsible"):
        field = {"assignee": "assignee_id", "author": "author_id", "responsible": "responsible_id"}[
            attr
        ]

        def getter(wp: WorkPackage) -> Any:
            uid = getattr(wp, field)
            return None if uid is None else store.users[uid].name

    elif attr in ("version", "category"):
        table: Mapping[int, Any] = store.versions if attr == "version" else store.categories
        field = f"{attr}_id"

        def getter(wp: WorkPackage) -> Any:
            ref = getattr(wp, field)
            return None if ref is None or ref not in table else table[ref].name

    elif attr.startswith("customField"):
        cid = int(attr[11:])
        getter = lambda wp: wp.custom_values.get(cid)  # noqa: E731
    else:
        field = {
            "startDate": "start_date",
            "dueDate": "due_date",
            "percentageDone": "percentage_done",
            "estimatedTime": "estimated_hours",
            "parent": "parent_id",
        }[attr]
        getter = lambda wp: getattr(wp, field)  # noqa: E731

    def key(wp: WorkPackage) -> tuple[bool, Any]:
        value = getter(wp)
        return (value is None, 0 if value is None else value)

    return key


def sort_work_packages(
    store: Store, wps: list[WorkPackage], sort: list[tuple[str, str]]
) -> list[WorkPackage]:
    if sort == [("id", "asc")]:
        return wps  # already in id order
    for attr, direction in reversed(sort):
        wps.sort(key=wp_sort_key(store, attr), reverse=direction == "desc")
    return wps
