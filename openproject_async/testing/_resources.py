"""Endpoints around work packages: root, users, projects, statuses & co, custom actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from . import _render as r
from . import _render_wp as rw
from ._data import ADD_WP, EDIT_WP, MOVE_WP, VIEW_WP, User
from ._errors import (
    ApiError,
    invalid_query,
    not_found,
    resource_type_mismatch,
    update_conflict,
)
from ._http import (
    by_id,
    collection_response,
    ctx_of,
    hal,
    int_param,
    json_body,
    record_notification,
)
from ._query import (
    PAGED_COLLECTION_KEYS,
    Filter,
    apply_select,
    check_select,
    paged_collection,
    parse_filter_list,
    parse_select,
    render_filters,
)
from ._render import Ctx, JsonDict
from ._workpackages import permitted_wp, visible_project, visible_wp
from ._writes import parse_href

# ---------------------------------------------------------------------------------------------
# Root and configuration


async def root(request: web.Request) -> web.Response:
    """``RootRepresenter``: only these links (no ``projects``, ``users``, ``queries``...);
    ``coreVersion`` is shown to admins only."""
    ctx = ctx_of(request)
    api = ctx.api
    doc: JsonDict = {"_type": "Root", "instanceName": "OpenProject (in-memory fake)"}
    if ctx.user.admin:
        doc["coreVersion"] = "16.0.0"
    doc["_links"] = {
        "self": {"href": api},
        "configuration": {"href": f"{api}/configuration"},
        "memberships": {"href": f"{api}/memberships"},
        "priorities": {"href": f"{api}/priorities"},
        "relations": {"href": f"{api}/relations"},
        "statuses": {"href": f"{api}/statuses"},
        "time_entries": {"href": f"{api}/time_entries"},
        "types": {"href": f"{api}/types"},
        "user": r.link(f"{api}/users/{ctx.user.id}", ctx.user.name),
        "userPreferences": {"href": f"{api}/my_preferences"},
        "workPackages": {"href": f"{api}/work_packages"},
    }
    return hal(doc)


async def configuration(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    host = request.host
    return hal(
        {
            "_type": "Configuration",
            "maximumAttachmentFileSize": 5 * 1024 * 1024,
            "hostName": host,
            "perPageOptions": [20, 100],
            "durationFormat": "hours_only",
            "activeFeatureFlags": [],
            "_links": {
                "self": {"href": f"{ctx.api}/configuration"},
                "userPreferences": {"href": f"{ctx.api}/my_preferences"},
            },
        }
    )


async def my_preferences(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(
        {
            "_type": "UserPreferences",
            "commentSortDescending": False,
            "hideMail": True,
            "timeZone": "Etc/UTC",
            "warnOnLeavingUnsaved": True,
            "_links": {
                "self": {"href": f"{ctx.api}/my_preferences"},
                "user": r.link(f"{ctx.api}/users/{ctx.user.id}", ctx.user.name),
            },
        }
    )


# ---------------------------------------------------------------------------------------------
# Paginated lists of simple resources


def paged_list(
    request: web.Request,
    items: Sequence[Any],
    render: Callable[[Any], JsonDict],
    base_href: str,
    filters: list[Filter] | None,
    representations: str | None = None,
    extra_params: dict[str, str] | None = None,
) -> web.Response:
    """A paginated list; ``representations`` names the HTML export path (``projects``);
    ``extra_params`` are kept in the links (``sortBy``)."""
    params: dict[str, str] = dict(extra_params or {})
    if filters is not None:
        params["filters"] = render_filters(filters)
    select = parse_select(request.query.get("select"))
    if "select" in request.query:
        params["select"] = request.query["select"]
    doc = paged_collection(request, items, render, base_href, params)
    if representations:
        self_query = doc["_links"]["self"]["href"].partition("?")[2]
        doc["_links"]["representations"] = [
            {
                "href": f"{ctx_of(request).root}/{representations}.{fmt}?{self_query}",
                "identifier": fmt,
                "type": mime,
                "title": fmt.upper(),
            }
            for fmt, mime in (("csv", "text/csv"), ("xls", "application/vnd.ms-excel"))
        ]
    if select is not None:
        top = PAGED_COLLECTION_KEYS | ({"representations"} if representations else set())
        check_select(select, top, _element_keys(doc))
        doc = apply_select(doc, select)
    return hal(doc)


def _element_keys(doc: JsonDict) -> set[str]:
    keys: set[str] = set()
    for element in doc["_embedded"]["elements"]:
        keys.update(k for k in element if k != "_links")
        keys.update(element.get("_links", {}))
    return keys or {"*"}


_STATUS_CODES = {"active": "1", "registered": "2", "locked": "3", "invited": "4"}


def _user_check(ctx: Ctx, name: str, op: str, values: list[str]) -> Callable[[User], bool]:
    store = ctx.store
    positive = op == "="
    if name == "status" and op in ("=", "!"):
        wanted = set(values)
        return lambda u: (_STATUS_CODES.get(u.status) in wanted) == positive
    if name == "type" and op in ("=", "!"):
        is_user = "User" in values
        return lambda u: is_user == positive
    if name == "member" and op in ("=", "!", "*"):
        if op == "*":
            return lambda u: any(u.id in p.members for p in store.projects.values())
        pids = {int(v) for v in values if v.isdigit()}

        def member(u: User) -> bool:
            hit = any(u.id in store.projects[p].members for p in pids if p in store.projects)
            return hit == positive

        return member
    if name == "id" and op in ("=", "!"):
        ids = {ctx.user.id if v == "me" else int(v) for v in values if v == "me" or v.isdigit()}
        return lambda u: (u.id in ids) == positive
    if name in ("name", "any_name_attribute") and op in ("~", "**"):
        needle = (values[0] if values else "").casefold()
        return lambda u: needle in u.name.casefold() or needle in u.login.casefold()
    if name == "login" and op == "=":
        logins = set(values)
        return lambda u: u.login in logins
    if name in ("status", "type", "member", "id", "name", "any_name_attribute", "login"):
        raise invalid_query(f"Filters {name} Operator is not set to one of the allowed values.")
    raise invalid_query(f"Filters {name} filter does not exist.")


def _user_filters(ctx: Ctx, filters: list[Filter]) -> Callable[[User], bool]:
    checks = [_user_check(ctx, name, op, values) for name, op, values in filters]
    return lambda u: all(c(u) for c in checks)


def _visible_users(ctx: Ctx) -> list[User]:
    """Users the current user may see: everyone sharing a project (admins see all)."""
    store = ctx.store
    if ctx.user.admin:
        return list(store.users.values())
    visible = {ctx.user.id}
    for project in store.projects.values():
        if ctx.user.id in project.members:
            visible.update(project.members)
    return [u for u in store.users.values() if u.id in visible]


async def list_users(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    path = "principals" if request.path.endswith("/principals") else "users"
    filters = parse_filter_list(request.query.get("filters"))
    check = _user_filters(ctx, filters or [])
    users = [u for u in _visible_users(ctx) if check(u)]
    return paged_list(request, users, lambda u: r.user(ctx, u), f"{ctx.api}/{path}", filters)


async def get_user(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    ref = request.match_info["id"]
    if ref == "me":
        return hal(r.user(ctx, ctx.user))
    if not ref.isdigit():
        raise not_found("user")
    user = next((u for u in _visible_users(ctx) if u.id == int(ref)), None)
    if user is None:
        raise not_found("user")
    return hal(r.user(ctx, user))


# ---------------------------------------------------------------------------------------------
# Statuses, types, priorities, custom options/actions


async def list_statuses(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    items = [r.status(ctx, s) for s in ctx.store.statuses.values()]
    return collection_response(request, items, f"{ctx.api}/statuses")


async def get_status(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.status(ctx, by_id(request, ctx.store.statuses, "status")))


async def list_types(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if "project" in request.match_info:
        project = visible_project(ctx, request.match_info["project"])
        types = [ctx.store.types[t] for t in project.type_ids]
        href = f"{ctx.api}/projects/{project.id}/types"
    else:
        types = list(ctx.store.types.values())
        href = f"{ctx.api}/types"
    items = [r.type_(ctx, t) for t in types]
    return collection_response(request, items, href)


async def get_type(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.type_(ctx, by_id(request, ctx.store.types, "type")))


async def list_priorities(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    items = [r.priority(ctx, p) for p in ctx.store.priorities.values()]
    return collection_response(request, items, f"{ctx.api}/priorities")


async def get_priority(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.priority(ctx, by_id(request, ctx.store.priorities, "priority")))


async def get_custom_option(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.custom_option(ctx, by_id(request, ctx.store.custom_options, "custom option")))


async def get_custom_action(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.custom_action(ctx, by_id(request, ctx.store.custom_actions, "custom action")))


async def execute_custom_action(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    action = by_id(request, store.custom_actions, "custom action")
    body = await json_body(request)
    links = body.get("_links")
    href = None
    if isinstance(links, dict) and isinstance(links.get("workPackage"), dict):
        href = links["workPackage"].get("href")
    parsed = parse_href(ctx, href) if isinstance(href, str) else None
    if parsed is None or parsed[0] != "work_packages" or not parsed[1].isdigit():
        raise resource_type_mismatch("workPackage", f"{ctx.api}/work_packages/:id", str(href))
    wp = permitted_wp(ctx, int(parsed[1]), EDIT_WP, "execute this custom action")
    lock = body.get("lockVersion")
    if (
        isinstance(lock, bool)
        or not isinstance(lock, int | str)
        or str(lock) != str(wp.lock_version)
    ):
        raise update_conflict()
    details: list[str] = []
    for attr, value in action.changes.items():
        if getattr(wp, attr) != value:
            setattr(wp, attr, value)
            details.append(f"{attr.removesuffix('_id').capitalize()} changed by {action.name}")
    store.touch(wp)
    store.journal(wp, ctx.user.id, comment="", details=details or [f"{action.name} executed"])
    record_notification(request)
    return hal(rw.work_package(ctx, wp, embed=True))


# ---------------------------------------------------------------------------------------------
# Projects and their sub-resources


async def project_categories(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = visible_project(ctx, request.match_info["project"])
    items = [
        r.category(ctx, c) for c in ctx.store.categories.values() if c.project_id == project.id
    ]
    return collection_response(request, items, f"{ctx.api}/projects/{project.id}/categories")


async def project_versions(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = visible_project(ctx, request.match_info["project"])
    items = [r.version(ctx, v) for v in ctx.store.versions.values() if v.project_id == project.id]
    return collection_response(request, items, f"{ctx.api}/projects/{project.id}/versions")


async def available_projects(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    if "id" in request.match_info:
        wp = visible_wp(ctx, int_param(request))
        projects = [p for p in ctx.store.projects_allowing(ctx.user, MOVE_WP)]
        if ctx.store.projects[wp.project_id] not in projects:
            projects.insert(0, ctx.store.projects[wp.project_id])
        href = f"{ctx.api}/work_packages/{wp.id}/available_projects"
    else:
        projects = ctx.store.projects_allowing(ctx.user, ADD_WP)
        href = f"{ctx.api}/work_packages/available_projects"
    return paged_list(request, projects, lambda p: r.project(ctx, p), href, None)


async def get_category(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    item = ctx.store.categories.get(int_param(request))
    if item is None or VIEW_WP not in ctx.perms(item.project_id):
        raise not_found("category")
    return hal(r.category(ctx, item))


async def get_version(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    item = ctx.store.versions.get(int_param(request))
    if item is None or VIEW_WP not in ctx.perms(item.project_id):
        raise not_found("version")
    return hal(r.version(ctx, item))


async def version_projects(request: web.Request) -> web.Response:
    """``availableInProjects`` of a version: versions are not shared here (``sharing: none``),
    so that is the defining project."""
    ctx = ctx_of(request)
    item = ctx.store.versions.get(int_param(request))
    if item is None or VIEW_WP not in ctx.perms(item.project_id):
        raise not_found("version")
    projects = [ctx.store.projects[item.project_id]]
    href = f"{ctx.api}/versions/{item.id}/projects"
    return paged_list(request, projects, lambda p: r.project(ctx, p), href, None)


# ---------------------------------------------------------------------------------------------
# Markdown preview


async def render_markdown(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("text/plain"):
        raise ApiError(
            415,
            "TypeNotSupported",
            f"Expected Content-Type to be 'text/plain' but got '{content_type}'.",
        )
    context = request.query.get("context")
    if context is not None:
        parsed = parse_href(ctx, context)
        ok = False
        if parsed is not None and parsed[1].isdigit():
            if parsed[0] == "work_packages":
                wp = ctx.store.work_packages.get(int(parsed[1]))
                ok = wp is not None and ctx.can_see_wp(wp)
            elif parsed[0] == "projects":
                ok = int(parsed[1]) in ctx.store.visible_project_ids(ctx.user)
        if not ok:
            raise ApiError(
                400,
                "InvalidRenderContext",
                f"Could not render markdown string in the given context '{context}'.",
            )
    text = (await request.read()).decode("utf-8", "replace")
    return web.Response(text=r.markdown_html(text), content_type="text/html", charset="utf-8")
