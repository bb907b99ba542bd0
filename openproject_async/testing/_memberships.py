"""Memberships and roles, plus the (empty) queries and time entries lists the root links to."""

from __future__ import annotations

from aiohttp import web

from . import _render as r
from ._data import VIEW_WP, Project, Role, User
from ._errors import invalid_query, not_found
from ._http import by_id, ctx_of, hal, int_param, state_of
from ._query import page_params, paged_collection, paginated, parse_filter_list, render_filters
from ._render import Ctx, JsonDict


def membership_id(project_id: int, user_id: int) -> int:
    """Memberships are not stored; their ids are derived from project and user."""
    return project_id * 1000 + user_id


def _role(ctx: Ctx, role: Role) -> JsonDict:
    return {
        "_type": "Role",
        "id": role.id,
        "name": role.name,
        "_links": {"self": r.link(f"{ctx.api}/roles/{role.id}", role.name)},
    }


def _membership(
    ctx: Ctx, project: Project, user: User, role: Role, *, embed: bool = False
) -> JsonDict:
    """``MembershipRepresenter``; ``embed`` (single GET) adds ``_embedded.project``,
    ``principal`` and ``roles``."""
    mid = membership_id(project.id, user.id)
    doc: JsonDict = {
        "_type": "Membership",
        "id": mid,
        "createdAt": r.fmt_dt(project.created_at),
        "updatedAt": r.fmt_dt(project.created_at),
    }
    if embed:
        doc["_embedded"] = {
            "project": r.project(ctx, project),
            "principal": r.user(ctx, user),
            "roles": [_role(ctx, role)],
        }
    doc["_links"] = {
        "self": r.link(f"{ctx.api}/memberships/{mid}", user.name),
        "schema": {"href": f"{ctx.api}/memberships/schema"},
        "project": r.link(f"{ctx.api}/projects/{project.id}", project.name),
        "principal": r.link(f"{ctx.api}/users/{user.id}", user.name),
        "roles": [r.link(f"{ctx.api}/roles/{role.id}", role.name)],
    }
    return doc


def _visible_memberships(ctx: Ctx) -> list[tuple[Project, User, Role]]:
    store = ctx.store
    result = []
    for project in store.projects.values():
        if VIEW_WP not in ctx.perms(project.id):
            continue
        for user_id, role_id in sorted(project.members.items()):
            result.append((project, store.users[user_id], store.roles[role_id]))
    return result


async def list_memberships(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters"))
    items = _visible_memberships(ctx)
    for name, op, values in filters or []:
        if name not in ("project", "principal", "role") or op not in ("=", "!"):
            raise invalid_query(f"Filters {name} filter does not exist.")
        ids = {int(v) for v in values if v.isdigit()}
        index = {"project": 0, "principal": 1, "role": 2}[name]
        items = [m for m in items if (m[index].id in ids) == (op == "=")]
    params = {"filters": render_filters(filters)} if filters is not None else {}
    href = f"{ctx.api}/memberships"
    return hal(paged_collection(request, items, lambda m: _membership(ctx, *m), href, params))


async def get_membership(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wanted = int_param(request)
    for membership in _visible_memberships(ctx):
        if membership_id(membership[0].id, membership[1].id) == wanted:
            return hal(_membership(ctx, *membership, embed=True))
    raise not_found("membership")


async def get_role(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(_role(ctx, by_id(request, ctx.store.roles, "role")))


async def list_roles(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    items = [_role(ctx, role) for role in ctx.store.roles.values()]
    return hal(r.collection(items, f"{ctx.api}/roles"))


async def list_queries(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.collection([], f"{ctx.api}/queries"))


async def list_time_entries(request: web.Request) -> web.Response:
    """No time is ever logged here: an empty paginated collection."""
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters"))
    state = state_of(request)
    page, size = page_params(request.query, state.config.max_page_size)
    params = {"filters": render_filters(filters)} if filters is not None else {}
    return hal(
        paginated("Collection", lambda a, b: [], 0, f"{ctx.api}/time_entries", params, page, size)
    )
