"""In-app notifications of the fake server (``/api/v3/notifications``).

A comment that mentions a user creates a ``mentioned`` notification for that user, as
the real server does (``<mention data-type="user" data-id="N">`` tags, ``user#N`` and
``user:"login"``), when the user may see the work package and is not the author.

Endpoints (``notifications_api.rb``): the collection (the current user's notifications,
newest first; filters ``id``, ``readIAN``, ``reason``, ``resourceId``, ``resourceType``,
``project``), one notification, ``POST .../{id}/read_ian|unread_ian`` and the bulk
``POST /notifications/read_ian|unread_ian`` (filters in the query string); the POSTs
answer 204 and bump ``updatedAt``. A notification links ``readIAN`` only while unread and
``unreadIAN`` only while read.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from . import _render as render
from . import _render_wp as rw
from ._data import VIEW_WP, Activity, Store, utcnow
from ._errors import invalid_query, not_found
from ._http import ctx_of, hal, int_param
from ._query import Filter, paged_collection, parse_filter_list, render_filters
from ._render import Ctx, JsonDict, fmt_dt, link

REASONS = (
    "mentioned",
    "assigned",
    "watched",
    "responsible",
    "commented",
    "created",
    "processed",
    "prioritized",
    "scheduled",
    "subscribed",
    "dateAlert",
    "shared",
    "reminder",
)

_MENTION_TAG = re.compile(r"<mention\b[^>]*>", re.IGNORECASE)
_DATA_ID = re.compile(r'data-id="(\d+)"')
_USER_HASH = re.compile(r"\buser#(\d+)\b")
_USER_LOGIN = re.compile(r'\buser:"(.+?)"')


@dataclass(slots=True)
class Notification:
    id: int
    recipient_id: int
    reason: str
    work_package_id: int
    project_id: int
    actor_id: int | None
    activity_id: int | None
    created_at: datetime
    updated_at: datetime
    read_ian: bool = False


_NOTIFICATIONS: weakref.WeakKeyDictionary[Store, dict[int, Notification]] = (
    weakref.WeakKeyDictionary()
)


def notifications_of(store: Store) -> dict[int, Notification]:
    """The notifications of a store, by id (the live dict)."""
    found = _NOTIFICATIONS.get(store)
    if found is None:
        found = _NOTIFICATIONS[store] = {}
    return found


def mentioned_user_ids(store: Store, text: str) -> list[int]:
    """The users a comment mentions, in order of first mention."""
    found: list[int] = []
    for tag in _MENTION_TAG.findall(text):
        ident = _DATA_ID.search(tag)
        if 'data-type="user"' in tag and ident is not None:
            found.append(int(ident.group(1)))
    found.extend(int(m) for m in _USER_HASH.findall(text))
    logins = {u.login: u.id for u in store.users.values()}
    found.extend(logins[name] for name in _USER_LOGIN.findall(text) if name in logins)
    return list(dict.fromkeys(found))


def notify_mentions(store: Store, activity: Activity) -> list[Notification]:
    """Create the ``mentioned`` notifications for a new comment; the ones created."""
    wp = store.work_packages.get(activity.work_package_id)
    if wp is None or not activity.comment:
        return []
    created = []
    items = notifications_of(store)
    for user_id in mentioned_user_ids(store, activity.comment):
        user = store.users.get(user_id)
        if (
            user is None
            or user.id == activity.user_id
            or user.status != "active"
            or not store.allowed(user, VIEW_WP, wp.project_id)
        ):
            continue
        now = utcnow()
        item = Notification(
            id=store.next_id("notification"),
            recipient_id=user.id,
            reason="mentioned",
            work_package_id=wp.id,
            project_id=wp.project_id,
            actor_id=activity.user_id,
            activity_id=activity.id,
            created_at=now,
            updated_at=now,
        )
        items[item.id] = item
        created.append(item)
    return created


def render_notification(ctx: Ctx, n: Notification) -> JsonDict:
    """``NotificationRepresenter``."""
    store = ctx.store
    api = ctx.api
    href = f"{api}/notifications/{n.id}"
    links: JsonDict = {"self": link(href)}
    if n.read_ian:
        links["unreadIAN"] = {"href": f"{href}/unread_ian", "method": "post"}
    else:
        links["readIAN"] = {"href": f"{href}/read_ian", "method": "post"}
    embedded: JsonDict = {}
    actor = store.users.get(n.actor_id) if n.actor_id is not None else None
    links["actor"] = link(f"{api}/users/{actor.id}", actor.name) if actor else {"href": None}
    if actor is not None:
        embedded["actor"] = render.user(ctx, actor)
    project = store.projects.get(n.project_id)
    if project is not None:
        links["project"] = link(f"{api}/projects/{project.id}", project.name)
        embedded["project"] = render.project(ctx, project)
    activity = store.activities.get(n.activity_id) if n.activity_id is not None else None
    if activity is not None:
        links["activity"] = link(f"{api}/activities/{activity.id}")
        embedded["activity"] = rw.activity(ctx, activity)
    else:
        links["activity"] = {"href": None}
    wp = store.work_packages.get(n.work_package_id)
    if wp is not None:
        links["resource"] = link(f"{api}/work_packages/{wp.id}", wp.subject)
        if ctx.can_see_wp(wp):
            embedded["resource"] = rw.work_package(ctx, wp)
    embedded["details"] = []
    links["details"] = []
    return {
        "_type": "Notification",
        "id": n.id,
        "readIAN": n.read_ian,
        "reason": n.reason,
        "createdAt": fmt_dt(n.created_at),
        "updatedAt": fmt_dt(n.updated_at),
        "_embedded": embedded,
        "_links": links,
    }


def _ids(name: str, values: list[str]) -> set[int]:
    if not values or not all(v.isdigit() for v in values):
        raise invalid_query(f"Filters {name} Values is invalid.")
    return {int(v) for v in values}


def _predicate(
    store: Store, name: str, op: str, values: list[str]
) -> Callable[[Notification], bool]:
    if op not in ("=", "!"):
        raise invalid_query(f"Filters {name} Operator is not set to one of the allowed values.")
    test: Callable[[Notification], bool]
    if name == "readIAN":
        if len(values) != 1 or values[0] not in ("t", "f", "true", "false"):
            raise invalid_query("Filters Read Values is invalid.")
        wanted = values[0] in ("t", "true")
        test = lambda n: n.read_ian == wanted  # noqa: E731
    elif name == "reason":
        if not values or any(v not in REASONS for v in values):
            raise invalid_query("Filters Reason Values is invalid.")
        test = lambda n: n.reason in values  # noqa: E731
    elif name == "id":
        ids = _ids(name, values)
        test = lambda n: n.id in ids  # noqa: E731
    elif name == "resourceId":
        ids = _ids(name, values)
        test = lambda n: n.work_package_id in ids  # noqa: E731
    elif name == "resourceType":
        test = lambda n: "WorkPackage" in values  # noqa: E731
    elif name == "project":
        ids = _ids(name, values)
        test = lambda n: n.project_id in ids  # noqa: E731
    else:
        raise invalid_query(f"Filters {name} filter does not exist.")
    if op == "!":
        return lambda n: not test(n)
    return test


def _selected(request: web.Request) -> tuple[list[Notification], list[Filter] | None]:
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters"))
    tests = [_predicate(ctx.store, *f) for f in filters or []]
    items = [
        n
        for n in notifications_of(ctx.store).values()
        if n.recipient_id == ctx.user.id and all(t(n) for t in tests)
    ]
    return items, filters


async def list_notifications(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    items, filters = _selected(request)
    items.sort(key=lambda n: n.id, reverse=True)
    params = {"filters": render_filters(filters)} if filters is not None else {}
    doc = paged_collection(
        request, items, lambda n: render_notification(ctx, n), f"{ctx.api}/notifications", params
    )
    doc["_embedded"]["detailsSchemas"] = []
    return hal(doc)


def _own(request: web.Request) -> Notification:
    ctx = ctx_of(request)
    item = notifications_of(ctx.store).get(int_param(request))
    if item is None or item.recipient_id != ctx.user.id:
        raise not_found("notification")
    return item


async def get_notification(request: web.Request) -> web.Response:
    return hal(render_notification(ctx_of(request), _own(request)))


def _mark(items: list[Notification], read: bool) -> None:
    now = utcnow()
    for item in items:
        item.read_ian = read
        item.updated_at = now


async def read_one(request: web.Request) -> web.Response:
    _mark([_own(request)], True)
    return web.Response(status=204)


async def unread_one(request: web.Request) -> web.Response:
    _mark([_own(request)], False)
    return web.Response(status=204)


async def read_bulk(request: web.Request) -> web.Response:
    _mark(_selected(request)[0], True)
    return web.Response(status=204)


async def unread_bulk(request: web.Request) -> web.Response:
    _mark(_selected(request)[0], False)
    return web.Response(status=204)


def add_routes(app: web.Application, api: str) -> None:
    """Register the notification endpoints under ``api``."""
    n = f"{api}/notifications"
    route = app.router.add_route
    route("GET", n, list_notifications)
    route("POST", f"{n}/read_ian", read_bulk)
    route("POST", f"{n}/unread_ian", unread_bulk)
    route("GET", f"{n}/{{id}}", get_notification)
    route("POST", f"{n}/{{id}}/read_ian", read_one)
    route("POST", f"{n}/{{id}}/unread_ian", unread_one)
