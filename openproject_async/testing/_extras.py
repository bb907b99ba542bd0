"""Watchers, activities (comments), relations and attachments of work packages."""

from __future__ import annotations

from aiohttp import web

from . import _render as r
from . import _render_wp as rw
from ._data import (
    ADD_NOTES,
    ADD_WATCHERS,
    DELETE_WATCHERS,
    MANAGE_RELATIONS,
    RELATION_TYPES,
    VIEW_WATCHERS,
    Relation,
    WorkPackage,
    utcnow,
)
from ._errors import (
    ApiError,
    invalid_body,
    invalid_query,
    missing_permission,
    not_found,
    resource_type_mismatch,
)
from ._http import (
    collection_response,
    ctx_of,
    hal,
    int_param,
    json_body,
    record_notification,
    required_json_body,
)
from ._query import paged_collection, parse_filter_list, render_filters
from ._render import Ctx, JsonDict
from ._workpackages import permitted_wp, visible_wp
from ._writes import parse_href

# ---------------------------------------------------------------------------------------------
# Watchers


async def list_watchers(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = permitted_wp(
        ctx, int_param(request), VIEW_WATCHERS, "view the watchers of this work package"
    )
    users = [ctx.store.users[u] for u in wp.watcher_ids if u in ctx.store.users]
    items = [r.user(ctx, u) for u in users]
    return collection_response(request, items, f"{ctx.api}/work_packages/{wp.id}/watchers")


async def add_watcher(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    wp = visible_wp(ctx, int_param(request))
    body = await required_json_body(request)
    user_link = body.get("user")
    href = user_link.get("href") if isinstance(user_link, dict) else None
    if not isinstance(href, str):
        raise invalid_body("The request body did not contain a user link.")
    parsed = parse_href(ctx, href)
    if parsed is None or parsed[0] != "users" or not parsed[1].isdigit():
        raise resource_type_mismatch("user", f"{ctx.api}/users/:id", href)
    user_id = int(parsed[1])
    if user_id != ctx.user.id and not ctx.can(ADD_WATCHERS, wp.project_id):
        raise missing_permission("add watchers to this work package")
    user = store.users.get(user_id)
    if user is None or not store.permissions(user, wp.project_id):
        raise ApiError(
            422,
            "PropertyConstraintViolation",
            "User is not allowed to view this resource.",
            attribute="user",
        )
    if user_id in wp.watcher_ids:
        return hal(r.user(ctx, user), status=200)
    wp.watcher_ids.append(user_id)
    return hal(r.user(ctx, user), status=201)


async def remove_watcher(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    user_id = int_param(request, "user_id")
    if user_id != ctx.user.id and not ctx.can(DELETE_WATCHERS, wp.project_id):
        raise missing_permission("remove watchers from this work package")
    if user_id not in ctx.store.users:
        raise not_found("user")
    if user_id in wp.watcher_ids:
        wp.watcher_ids.remove(user_id)
    return web.Response(status=204)


async def available_watchers(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    wp = permitted_wp(ctx, int_param(request), ADD_WATCHERS, "add watchers to this work package")
    users = [
        u
        for u in store.users.values()
        if u.id not in wp.watcher_ids and store.permissions(u, wp.project_id)
    ]
    href = f"{ctx.api}/work_packages/{wp.id}/available_watchers"
    return hal(paged_collection(request, users, lambda u: r.user(ctx, u), href, {}))


# ---------------------------------------------------------------------------------------------
# Activities


async def list_activities(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    items = [rw.activity(ctx, a) for a in ctx.store.journals_of(wp)]
    return collection_response(request, items, f"{ctx.api}/work_packages/{wp.id}/activities")


def _comment_text(body: JsonDict) -> str:
    comment = body.get("comment")
    raw = comment.get("raw") if isinstance(comment, dict) else comment
    return "" if raw is None else str(raw)


async def add_comment(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = permitted_wp(ctx, int_param(request), ADD_NOTES, "add comments to this work package")
    body = await json_body(request)
    text = _comment_text(body)
    if not text.strip():
        raise ApiError(
            422, "PropertyConstraintViolation", "Comment can't be blank.", attribute="comment"
        )
    activity = ctx.store.journal(
        wp, ctx.user.id, comment=text, details=[], internal=bool(body.get("internal", False))
    )
    record_notification(request)
    return hal(rw.activity(ctx, activity, embed=True), status=201)


def _visible_activity(ctx: Ctx, activity_id: int) -> tuple[WorkPackage, int]:
    activity = ctx.store.activities.get(activity_id)
    wp = ctx.store.work_packages.get(activity.work_package_id) if activity else None
    if activity is None or wp is None or not ctx.can_see_wp(wp):
        raise not_found("activity")
    return wp, activity.id


async def get_activity(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    _, activity_id = _visible_activity(ctx, int_param(request))
    return hal(rw.activity(ctx, ctx.store.activities[activity_id], embed=True))


async def patch_activity(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp, activity_id = _visible_activity(ctx, int_param(request))
    activity = ctx.store.activities[activity_id]
    if activity.user_id != ctx.user.id or not ctx.can(ADD_NOTES, wp.project_id):
        raise missing_permission("edit this comment")
    body = await json_body(request)
    for key in body:
        if key not in ("comment", "_links", "_meta"):
            raise ApiError(
                422,
                "PropertyIsReadOnly",
                f"The {key} of an activity can't be changed.",
                attribute=key,
            )
    if "comment" in body:
        activity.comment = _comment_text(body)
        activity.updated_at = utcnow()
    return hal(rw.activity(ctx, activity, embed=True))


# ---------------------------------------------------------------------------------------------
# Relations


def _visible_relation(ctx: Ctx, relation_id: int) -> Relation:
    relation = ctx.store.relations.get(relation_id)
    if relation is None or not _both_visible(ctx, relation):
        raise not_found("relation")
    return relation


def _managed_relation(ctx: Ctx, relation_id: int) -> Relation:
    """A relation the user may change: rights are checked on its ``from`` work package."""
    relation = _visible_relation(ctx, relation_id)
    source = ctx.store.work_packages[relation.from_id]
    if not ctx.can(MANAGE_RELATIONS, source.project_id):
        raise missing_permission("manage relations of this work package")
    return relation


async def list_wp_relations(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    items = [
        rw.relation(ctx, rel)
        for rel in rw.relations_of(ctx.store, wp.id)
        if _both_visible(ctx, rel)
    ]
    return collection_response(request, items, f"{ctx.api}/work_packages/{wp.id}/relations")


def _both_visible(ctx: Ctx, rel: Relation) -> bool:
    store = ctx.store
    return all(
        (wp := store.work_packages.get(w)) is not None and ctx.can_see_wp(wp)
        for w in (rel.from_id, rel.to_id)
    )


async def list_relations(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters")) or []
    rels = [rel for rel in ctx.store.relations.values() if _both_visible(ctx, rel)]
    for name, op, values in filters:
        ids = {int(v) for v in values if v.isdigit()}
        if name in ("from", "to", "involved", "id") and op in ("=", "!"):

            def hit(rel: Relation, name: str = name, ids: set[int] = ids) -> bool:
                if name == "involved":
                    return rel.from_id in ids or rel.to_id in ids
                return {"from": rel.from_id, "to": rel.to_id, "id": rel.id}[name] in ids

            rels = [rel for rel in rels if hit(rel) == (op == "=")]
        elif name == "type" and op in ("=", "!"):
            rels = [rel for rel in rels if (rel.type in values) == (op == "=")]
        else:
            raise invalid_query(f"Filters {name} filter does not exist.")
    params = {"filters": render_filters(filters)}
    return hal(
        paged_collection(
            request, rels, lambda rel: rw.relation(ctx, rel), f"{ctx.api}/relations", params
        )
    )


def _relation_fields(body: JsonDict) -> tuple[str | None, int | None, str | None]:
    rel_type = body.get("type")
    if rel_type is not None and rel_type not in RELATION_TYPES:
        raise ApiError(
            422,
            "PropertyConstraintViolation",
            "Type is not set to one of the allowed values.",
            attribute="type",
        )
    lag = body.get("lag")
    if lag is not None and (isinstance(lag, bool) or not isinstance(lag, int)):
        raise ApiError(422, "PropertyConstraintViolation", "Lag is not a number.", attribute="lag")
    description = body.get("description")
    return rel_type, lag, None if description is None else str(description)


async def create_relation(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    wp = permitted_wp(
        ctx, int_param(request), MANAGE_RELATIONS, "manage relations of this work package"
    )
    body = await json_body(request)
    rel_type, lag, description = _relation_fields(body)
    links = body.get("_links")
    to = links.get("to") if isinstance(links, dict) else None
    href = to.get("href") if isinstance(to, dict) else None
    if not isinstance(href, str):
        raise ApiError(422, "PropertyConstraintViolation", "To can't be blank.", attribute="to")
    parsed = parse_href(ctx, href)
    if parsed is None or parsed[0] != "work_packages" or not parsed[1].isdigit():
        raise resource_type_mismatch("to", f"{ctx.api}/work_packages/:id", href)
    target = store.work_packages.get(int(parsed[1]))
    if target is None or not ctx.can_see_wp(target):
        raise ApiError(422, "PropertyConstraintViolation", "To does not exist.", attribute="to")
    if target.id == wp.id:
        raise ApiError(
            422,
            "PropertyConstraintViolation",
            "To cannot be the same work package.",
            attribute="to",
        )
    for rel in store.relations.values():
        if {rel.from_id, rel.to_id} == {wp.id, target.id}:
            raise ApiError(
                422,
                "PropertyConstraintViolation",
                "Base Relation already exists.",
                attribute="base",
            )
    relation = Relation(
        id=store.next_id("relation"),
        from_id=wp.id,
        to_id=target.id,
        type=rel_type or "relates",
        lag=lag,
        description=description,
    )
    store.relations[relation.id] = relation
    return hal(rw.relation(ctx, relation, embed=True), status=201)


async def get_relation(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(rw.relation(ctx, _visible_relation(ctx, int_param(request)), embed=True))


async def patch_relation(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    relation = _managed_relation(ctx, int_param(request))
    body = await json_body(request)
    rel_type, lag, description = _relation_fields(body)
    if rel_type is not None:
        relation.type = rel_type
    if "lag" in body:
        relation.lag = lag
    if "description" in body:
        relation.description = description
    return hal(rw.relation(ctx, relation, embed=True))


async def delete_relation(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    relation = _managed_relation(ctx, int_param(request))
    del ctx.store.relations[relation.id]
    return web.Response(status=204)


# ---------------------------------------------------------------------------------------------
# Small read-only lists


async def relation_candidates(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    needle = request.query.get("query", "").casefold()
    candidates = [
        other
        for other in ctx.store.work_packages.values()
        if other.id != wp.id
        and other.project_id == wp.project_id
        and (not needle or needle in other.subject.casefold() or needle == str(other.id))
    ]
    params = {k: v for k, v in request.query.items() if k in ("query", "type")}
    doc = paged_collection(
        request,
        candidates,
        lambda c: rw.work_package(ctx, c),
        f"{ctx.api}/work_packages/{wp.id}/available_relation_candidates",
        params,
        "WorkPackageCollection",
    )
    return hal(doc)


async def list_revisions(request: web.Request) -> web.Response:
    """``RevisionsByWorkPackageAPI``: a plain Collection of the repository revisions that
    mention the work package, only those of projects where the user has
    ``view_changesets`` (none otherwise: an empty collection, not an error). The fake has
    no repositories, so the collection is always empty."""
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    return hal(r.collection([], f"{ctx.api}/work_packages/{wp.id}/revisions"))
