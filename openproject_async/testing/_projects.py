"""Endpoints of the Projects chapter: the collection, a project, its forms and writes,
project statuses, and the principals a project offers (assignees, responsibles).

* ``GET /api/v3/projects`` -- every documented filter and order (``_project_query``),
  ``select``; archived projects are listed for admins only.
* ``GET /api/v3/projects/schema``, ``POST /api/v3/projects/form`` and ``POST
  /api/v3/projects`` (201; creating needs the global ``add_project``: admins here),
  ``POST /api/v3/projects/{id}/form`` and ``PATCH /api/v3/projects/{id}`` (``edit_project``),
  ``DELETE /api/v3/projects/{id}`` (admins; 204 -- ``Projects::ScheduleDeletionService``
  archives the project, queues ``DeleteProjectJob`` and answers at once; here the job has
  run when the answer arrives: the project and its subprojects, work packages, categories
  and versions are gone).
* ``GET /api/v3/project_statuses/{code}`` -- 404 for an unknown code.
* ``available_assignees`` needs ``add_work_packages`` in the project (403 without it);
  ``available_responsibles`` only ``view_work_packages``. Both list the same principals:
  active members whose role may be assigned work (``Principal.possible_assignee``).
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from . import _project_forms as pf
from . import _render as r
from ._data import ADD_WP, EDIT_PROJECT, PROJECT_STATUSES, VIEW_WP, Project, utcnow
from ._errors import ApiError, missing_permission, multiple, not_found, validation_failed
from ._http import ctx_of, hal, int_param, json_body, required_json_body
from ._project_query import filter_projects, sort_projects
from ._query import parse_filter_list
from ._render import Ctx, JsonDict
from ._resources import paged_list
from ._workpackages import visible_wp

# ---------------------------------------------------------------------------------------------
# Reading


def _visible(ctx: Ctx) -> list[Project]:
    return [p for p in ctx.store.projects.values() if r.project_visible(ctx, p)]


def visible_project(ctx: Ctx, ref: str) -> Project:
    """A project by id or identifier; 404 when it does not exist or is invisible."""
    project = ctx.store.project_by_ref(ref)
    if project is None or not r.project_visible(ctx, project):
        raise not_found("project")
    return project


async def list_projects(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    filters = parse_filter_list(request.query.get("filters"))
    projects = filter_projects(ctx, _visible(ctx), filters or [])
    sort = request.query.get("sortBy")
    projects = sort_projects(ctx, projects, sort)
    return paged_list(
        request,
        projects,
        lambda p: r.project(ctx, p),
        f"{ctx.api}/projects",
        filters,
        representations="projects",
        extra_params={"sortBy": sort} if sort is not None else None,
    )


async def get_project(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(r.project(ctx, visible_project(ctx, request.match_info["project"])))


async def project_schema(request: web.Request) -> web.Response:
    return hal(pf.schema(ctx_of(request), None, standalone=True))


async def available_parent_projects(request: web.Request) -> web.Response:
    """Projects that may become the parent (of the project ``of``: not itself or below)."""
    ctx = ctx_of(request)
    candidates = _visible(ctx)
    of = request.query.get("of")
    href = f"{ctx.api}/projects/available_parent_projects"
    params: dict[str, str] = {}
    if of is not None:
        child = visible_project(ctx, of)
        candidates = [
            p
            for p in candidates
            if p.id != child.id
            and child.id not in {a.id for a in r.project_ancestors(ctx.store, p)}
        ]
        params["of"] = of
    return paged_list(
        request, candidates, lambda p: r.project(ctx, p), href, None, extra_params=params
    )


async def get_project_status(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    code = request.match_info["code"]
    if code not in PROJECT_STATUSES:
        raise ApiError(404, "NotFound", "The requested resource could not be found.")
    return hal(r.project_status(ctx, code))


async def available_assignees(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    if "project" in request.match_info:
        project = visible_project(ctx, request.match_info["project"])
        if not ctx.can(ADD_WP, project.id):
            raise missing_permission("see the available assignees of this project")
        href = f"{ctx.api}/projects/{project.id}/available_assignees"
    else:
        wp = visible_wp(ctx, int_param(request))
        project = store.projects[wp.project_id]
        href = f"{ctx.api}/work_packages/{wp.id}/available_assignees"
    users = [store.users[u] for u in store.assignable_user_ids(project.id)]
    return paged_list(request, users, lambda u: r.user(ctx, u), href, None)


async def available_responsibles(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    project = visible_project(ctx, request.match_info["project"])
    if not ctx.can(VIEW_WP, project.id):
        raise missing_permission("see the available responsibles of this project")
    users = [store.users[u] for u in store.assignable_user_ids(project.id)]
    href = f"{ctx.api}/projects/{project.id}/available_responsibles"
    return paged_list(request, users, lambda u: r.user(ctx, u), href, None)


# ---------------------------------------------------------------------------------------------
# Forms and writes


def _new_project(ctx: Ctx) -> Project:
    defaults = [t.id for t in ctx.store.types.values() if t.is_default]
    now = utcnow()
    return Project(0, "", "", "", defaults, {}, created_at=now, updated_at=now)


def _form(ctx: Ctx, project: Project, changes: pf.Changes, *, creating: bool) -> JsonDict:
    errors = pf.validate(ctx, project, changes, creating=creating)
    grouped: dict[str, list[JsonDict]] = {}
    for error in errors:
        grouped.setdefault(error["_embedded"]["details"]["attribute"], []).append(error)
    href = f"{ctx.api}/projects/form" if creating else f"{ctx.api}/projects/{project.id}/form"
    links: JsonDict = {
        "self": {"href": href, "method": "post"},
        "validate": {"href": href, "method": "post"},
    }
    if not errors:
        links["commit"] = (
            {"href": f"{ctx.api}/projects", "method": "post"}
            if creating
            else {"href": f"{ctx.api}/projects/{project.id}", "method": "patch"}
        )
    return {
        "_type": "Form",
        "_embedded": {
            "payload": pf.payload(ctx, project, changes),
            "schema": pf.schema(ctx, None if creating else project),
            "validationErrors": {
                k: v[0] if len(v) == 1 else multiple(v) for k, v in grouped.items()
            },
        },
        "_links": links,
    }


def _may_create(ctx: Ctx) -> None:
    if not ctx.user.admin:
        raise missing_permission("create projects")


def _editable(ctx: Ctx, request: web.Request) -> Project:
    project = visible_project(ctx, request.match_info["project"])
    if not ctx.can(EDIT_PROJECT, project.id) and not ctx.user.admin:
        raise missing_permission("edit this project")
    return project


async def create_form(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    _may_create(ctx)
    changes = pf.parse_body(ctx, await json_body(request))
    return hal(_form(ctx, _new_project(ctx), changes, creating=True))


async def create_project(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    _may_create(ctx)
    changes = pf.parse_body(ctx, await required_json_body(request))
    project = _new_project(ctx)
    errors = pf.validate(ctx, project, changes, creating=True)
    if errors:
        raise validation_failed(errors)
    pf.apply(project, changes)
    project.id = ctx.store.next_id("project")
    ctx.store.projects[project.id] = project
    return hal(r.project(ctx, project), status=201)


async def update_form(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = _editable(ctx, request)
    changes = pf.parse_body(ctx, await json_body(request))
    return hal(_form(ctx, project, changes, creating=False))


async def patch_project(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = _editable(ctx, request)
    changes = pf.parse_body(ctx, await json_body(request))
    errors = pf.validate(ctx, replace(project), changes, creating=False)
    if errors:
        raise validation_failed(errors)
    pf.apply(project, changes)
    if changes.values:
        now = utcnow()
        project.updated_at = max(now, project.updated_at)
    return hal(r.project(ctx, project))


async def delete_project(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    project = visible_project(ctx, request.match_info["project"])
    if not ctx.user.admin:
        raise missing_permission("delete this project")
    ctx.store.remove_project(project.id)
    return web.Response(status=204)
