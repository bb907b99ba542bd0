"""Work package endpoints: collections, single GET/PATCH/DELETE, create, forms and schemas."""

from __future__ import annotations

import orjson
from aiohttp import web

from . import _render_wp as rw
from ._data import ADD_WP, DELETE_WP, EDIT_WP, VIEW_WP, Project, WorkPackage
from ._errors import ApiError, invalid_query, missing_permission, not_found
from ._http import (
    collection_response,
    count_elements,
    ctx_of,
    hal,
    int_param,
    json_body,
    record_notification,
    state_of,
)
from ._query import (
    PAGED_COLLECTION_KEYS,
    apply_select,
    check_select,
    page_params,
    paginated,
    parse_filter_list,
    parse_select,
    parse_sort,
    render_filters,
)
from ._render import Ctx, JsonDict, to_query
from ._schema import payload, wp_schema
from ._validate import commit_create, commit_update, may_commit, validate
from ._wp_query import (
    DEFAULT_WP_FILTERS,
    WP_SORT_KEYS,
    sort_work_packages,
    wp_filter_predicates,
)
from ._writes import Draft, apply_body, check_lock_version, edit_draft, new_draft

WP_NOT_FOUND = "work package"

_WP_ELEMENT_KEYS = {
    "_type",
    "id",
    "lockVersion",
    "subject",
    "description",
    "scheduleManually",
    "startDate",
    "dueDate",
    "date",
    "derivedStartDate",
    "derivedDueDate",
    "estimatedTime",
    "derivedEstimatedTime",
    "remainingTime",
    "derivedRemainingTime",
    "duration",
    "ignoreNonWorkingDays",
    "spentTime",
    "percentageDone",
    "derivedPercentageDone",
    "createdAt",
    "updatedAt",
    "self",
    "schema",
    "attachments",
    "addAttachment",
    "fileLinks",
    "update",
    "updateImmediately",
    "delete",
    "logTime",
    "move",
    "copy",
    "pdf",
    "atom",
    "availableRelationCandidates",
    "customFields",
    "configureForm",
    "activities",
    "availableWatchers",
    "relations",
    "revisions",
    "watch",
    "unwatch",
    "watchers",
    "addWatcher",
    "removeWatcher",
    "addRelation",
    "addChild",
    "changeParent",
    "addComment",
    "previewMarkup",
    "timeEntries",
    "children",
    "ancestors",
    "category",
    "type",
    "priority",
    "project",
    "status",
    "author",
    "responsible",
    "assignee",
    "version",
    "parent",
    "customActions",
}
_WP_COLLECTION_KEYS = PAGED_COLLECTION_KEYS | {
    "createWorkPackage",
    "createWorkPackageImmediate",
    "schemas",
    "representations",
}


def visible_wp(ctx: Ctx, wp_id: int) -> WorkPackage:
    wp = ctx.store.work_packages.get(wp_id)
    if wp is None or not ctx.can_see_wp(wp):
        raise not_found(WP_NOT_FOUND)
    return wp


def permitted_wp(ctx: Ctx, wp_id: int, permission: str, action: str) -> WorkPackage:
    """A work package the user may act on: 404 if they cannot see it, else 403 if not allowed."""
    wp = visible_wp(ctx, wp_id)
    if not ctx.can(permission, wp.project_id):
        raise missing_permission(action)
    return wp


def visible_project(ctx: Ctx, ref: str) -> Project:
    project = ctx.store.project_by_ref(ref)
    if project is None or VIEW_WP not in ctx.perms(project.id):
        raise not_found("project")
    return project


# ---------------------------------------------------------------------------------------------
# Collections


async def list_work_packages(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    state = state_of(request)
    store = ctx.store
    project: Project | None = None
    if "project" in request.match_info:
        project = visible_project(ctx, request.match_info["project"])
    query = request.query
    filters = parse_filter_list(query.get("filters"))
    if filters is None:
        filters = list(DEFAULT_WP_FILTERS)
    sort = parse_sort(query.get("sortBy"), WP_SORT_KEYS)
    select = parse_select(query.get("select"))
    if select is not None:
        check_select(select, _WP_COLLECTION_KEYS, _WP_ELEMENT_KEYS)
    page, size = page_params(query, state.config.max_page_size)
    identifiers = {p.identifier: p.id for p in store.projects.values()}
    preds = wp_filter_predicates(store, ctx.user, filters, identifiers)
    visible = store.visible_project_ids(ctx.user)
    if project is not None:
        visible &= {project.id}
    if not preds:
        matches = [wp for wp in store.work_packages.values() if wp.project_id in visible]
    elif len(preds) == 1:
        (pred,) = preds
        matches = [
            wp for wp in store.work_packages.values() if wp.project_id in visible and pred(wp)
        ]
    else:
        matches = [
            wp
            for wp in store.work_packages.values()
            if wp.project_id in visible and all(p(wp) for p in preds)
        ]
    matches = sort_work_packages(store, matches, sort)

    if project is None:
        base = f"{ctx.api}/work_packages"
        form_href = f"{ctx.api}/work_packages/form"
        can_add = bool(store.projects_allowing(ctx.user, ADD_WP))
    else:
        base = f"{ctx.api}/projects/{project.id}/work_packages"
        form_href = f"{base}/form"
        can_add = ctx.can(ADD_WP, project.id)
    params: dict[str, str] = {
        "filters": render_filters(filters),
        "sortBy": orjson.dumps([list(s) for s in sort]).decode(),
    }
    if "select" in query:
        params["select"] = query["select"]
    page_wps: list[WorkPackage] = []

    def render_slice(start: int, stop: int) -> list[JsonDict]:
        page_wps.extend(matches[start:stop])
        return [rw.work_package(ctx, wp) for wp in page_wps]

    doc = paginated("WorkPackageCollection", render_slice, len(matches), base, params, page, size)
    links = doc["_links"]
    if can_add:
        links["createWorkPackage"] = {"href": form_href, "method": "post"}
        links["createWorkPackageImmediate"] = {"href": base, "method": "post"}
    if page_wps:
        pairs: dict[str, None] = {}
        for wp in page_wps:
            pairs[f"{wp.project_id}-{wp.type_id}"] = None
        schema_filter = orjson.dumps([{"id": {"operator": "=", "values": list(pairs)}}]).decode()
        links["schemas"] = {
            "href": f"{ctx.api}/work_packages/schemas?{to_query({'filters': schema_filter})}"
        }
    self_query = links["self"]["href"].partition("?")[2]
    links["representations"] = [
        {
            "href": f"{ctx.root}/work_packages.{fmt}?{self_query}",
            "identifier": fmt,
            "type": mime,
            "title": fmt.upper() if fmt != "atom" else "Atom",
        }
        for fmt, mime in (
            ("pdf", "application/pdf"),
            ("csv", "text/csv"),
            ("atom", "application/atom+xml"),
        )
    ]
    count_elements(request, len(page_wps))
    if select is not None:
        doc = apply_select(doc, select)
    return hal(doc)


# ---------------------------------------------------------------------------------------------
# Single work package


async def get_work_package(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    return hal(rw.work_package(ctx, wp, embed=True))


async def _validated_edit(ctx: Ctx, request: web.Request) -> tuple[WorkPackage, Draft]:
    """An update and its form check the same things in the same order before they part."""
    wp = permitted_wp(ctx, int_param(request), EDIT_WP, "edit the content of the work package")
    body = await json_body(request)
    draft = edit_draft(wp)
    apply_body(ctx, draft, body)
    check_lock_version(body, wp)
    validate(ctx, draft)
    return wp, draft


async def patch_work_package(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp, draft = await _validated_edit(ctx, request)
    draft.raise_if_invalid()
    if commit_update(ctx, draft):
        record_notification(request)
    return hal(rw.work_package(ctx, wp, embed=True))


async def delete_work_package(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = permitted_wp(ctx, int_param(request), DELETE_WP, "delete the work package")
    store = ctx.store
    pending = [wp.id]
    while pending:
        current = pending.pop()
        pending.extend(store.children_of(current))
        store.remove_work_package(current)
    return web.Response(status=204)


async def create_work_package(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = _create_project(ctx, request)
    body = await json_body(request)
    draft = new_draft(ctx, project)
    apply_body(ctx, draft, body)
    if project is not None and draft.wp.project_id != project.id:
        draft.wp.project_id = project.id  # the URL decides in project-scoped creation
    validate(ctx, draft)
    draft.raise_if_invalid()
    wp = commit_create(ctx, draft)
    record_notification(request)
    return hal(rw.work_package(ctx, wp, embed=True), status=201)


def _create_project(ctx: Ctx, request: web.Request) -> Project | None:
    """The project of a project-scoped create URL (404 invisible / 403 not allowed)."""
    if "project" in request.match_info:
        project = visible_project(ctx, request.match_info["project"])
        if not ctx.can(ADD_WP, project.id):
            raise missing_permission("add work packages to this project")
        return project
    if not ctx.store.projects_allowing(ctx.user, ADD_WP):
        raise missing_permission("add work packages")
    return None


# ---------------------------------------------------------------------------------------------
# Forms


def _form(ctx: Ctx, draft: Draft, form_href: str, commit: JsonDict) -> JsonDict:
    store = ctx.store
    wp = draft.wp
    project = store.projects.get(wp.project_id)
    typ = store.types.get(wp.type_id)
    schema = wp_schema(ctx, project, typ, wp=draft.original, embed=True)
    schema_links = schema.pop("_links")
    if project is not None and typ is not None:
        schema["_links"] = {
            "baseSchema": {"href": f"{ctx.api}/work_packages/schemas/{project.id}-{typ.id}"}
        }
    else:
        schema["_links"] = schema_links
    if draft.original is not None:
        context = f"{ctx.api}/work_packages/{draft.original.id}"
    elif project is not None:
        context = f"{ctx.api}/projects/{project.id}"
    else:
        context = None
    links: JsonDict = {
        "self": {"href": form_href, "method": "post"},
        "validate": {"href": form_href, "method": "post"},
        "previewMarkup": {
            "href": f"{ctx.api}/render/markdown" + (f"?context={context}" if context else ""),
            "method": "post",
        },
    }
    if draft.valid and may_commit(ctx, draft):
        links["commit"] = commit
    if draft.creating and ctx.user.admin and project is not None and typ is not None:
        links.update(rw.configure_links(ctx, project, typ))
    return {
        "_type": "Form",
        "_embedded": {
            "payload": payload(
                ctx, wp, draft.overrides, draft.link_overrides, update=not draft.creating
            ),
            "schema": schema,
            "validationErrors": draft.validation_errors(),
        },
        "_links": links,
    }


async def create_form(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = _create_project(ctx, request)
    body = await json_body(request)
    draft = new_draft(ctx, project)
    apply_body(ctx, draft, body)
    if project is not None:
        form_href = f"{ctx.api}/projects/{project.id}/work_packages/form"
        commit_href = f"{ctx.api}/projects/{project.id}/work_packages"
    else:
        form_href = f"{ctx.api}/work_packages/form"
        commit_href = f"{ctx.api}/work_packages"
    validate(ctx, draft)
    return hal(_form(ctx, draft, form_href, {"href": commit_href, "method": "post"}))


async def update_form(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp, draft = await _validated_edit(ctx, request)
    href = f"{ctx.api}/work_packages/{wp.id}"
    return hal(_form(ctx, draft, href + "/form", {"href": href, "method": "patch"}))


# ---------------------------------------------------------------------------------------------
# Schemas


def _schema_for(ctx: Ctx, ident: str) -> JsonDict:
    project_ref, sep, type_ref = ident.partition("-")
    if not sep or not project_ref.isdigit() or not type_ref.isdigit():
        raise not_found("schema")
    project = ctx.store.projects.get(int(project_ref))
    typ = ctx.store.types.get(int(type_ref))
    if project is None or typ is None or VIEW_WP not in ctx.perms(project.id):
        raise not_found("schema")
    return wp_schema(ctx, project, typ)


async def get_schema(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(_schema_for(ctx, request.match_info["ident"]))


async def list_schemas(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters"))
    if not filters:
        raise invalid_query("Filters id filter is required.")
    ids: list[str] = []
    for name, op, values in filters:
        if name != "id":
            raise invalid_query(f"Filters {name} filter does not exist.")
        if op != "=":
            raise invalid_query("Filters id Operator is not set to one of the allowed values.")
        ids.extend(values)
    elements: list[JsonDict] = []
    for ident in ids:
        try:
            elements.append(_schema_for(ctx, ident))
        except ApiError:
            continue
    self_href = f"{ctx.api}/work_packages/schemas?" + to_query({"filters": render_filters(filters)})
    return collection_response(request, elements, self_href)
