"""Background jobs of the fake server: project copy and ``/api/v3/job_statuses/{id}``.

``POST /api/v3/projects/{id}/copy`` (admins; body: the new project's ``name`` and
optional ``identifier``) checks the body, then answers like the real server's
``DelayedModify``: a redirect (302) to ``/api/v3/job_statuses/{jobId}``. The job then
takes a moment: each GET of its status moves it on (``in_queue``, ``in_process``, ...)
until, after ``steps`` reads (``server.job_steps``, default 2), it has finished. On success
the copy exists (the project, its members and its work packages) and the status'
``payload`` links it, as ``CopyProjectJob`` does; an identifier that is taken by then
makes it end with ``status: "failure"`` and the error in ``message``.
"""

from __future__ import annotations

import re
import uuid
import weakref
from dataclasses import dataclass, field, replace

from aiohttp import web

from ._data import Project, Store, WorkPackage, utcnow
from ._errors import ApiError, missing_permission, not_found
from ._http import ctx_of, hal, json_body
from ._render import Ctx, JsonDict, link

FINISHED = frozenset({"success", "failure", "error", "cancelled"})


@dataclass
class Job:
    id: str
    user_id: int
    source_id: int
    name: str
    identifier: str
    steps: int
    reads: int = 0
    status: str = "in_queue"
    message: str | None = None
    payload: JsonDict | None = None
    result_id: int | None = None


@dataclass
class Jobs:
    steps: int = 2
    items: dict[str, Job] = field(default_factory=dict)


_JOBS: weakref.WeakKeyDictionary[Store, Jobs] = weakref.WeakKeyDictionary()


def jobs_of(store: Store) -> Jobs:
    """The jobs of a store (made on first use)."""
    jobs = _JOBS.get(store)
    if jobs is None:
        jobs = _JOBS[store] = Jobs()
    return jobs


def _identifier(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100] or "project"


async def copy_project(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    source = store.project_by_ref(request.match_info["project"])
    if source is None or not (ctx.user.admin or ctx.user.id in source.members):
        raise not_found("project")
    if not ctx.user.admin:
        raise missing_permission("copy this project")
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(422, "PropertyConstraintViolation", "Name can't be blank.", attribute="name")
    identifier = body.get("identifier")
    if identifier is not None and not isinstance(identifier, str):
        raise ApiError(
            422, "PropertyConstraintViolation", "Identifier is invalid.", attribute="identifier"
        )
    jobs = jobs_of(store)
    job = Job(
        id=str(uuid.uuid4()),
        user_id=ctx.user.id,
        source_id=source.id,
        name=name.strip(),
        identifier=identifier or _identifier(name),
        steps=jobs.steps,
    )
    jobs.items[job.id] = job
    location = f"{ctx.api}/job_statuses/{job.id}"
    return web.Response(status=302, headers={"Location": location})


def _advance(ctx: Ctx, job: Job, actor_id: int) -> None:
    if job.status in FINISHED:
        return
    job.reads += 1
    if job.reads < job.steps:
        job.status = "in_queue" if job.reads == 1 else "in_process"
        return
    store = ctx.store
    taken = any(p.identifier == job.identifier for p in store.projects.values())
    if taken:
        job.status = "failure"
        job.message = "Identifier has already been taken."
        return
    copy = _copy(store, job)
    job.status = "success"
    job.result_id = copy.id
    job.payload = {
        "title": "Copy project",
        "redirect": f"{ctx.root}/projects/{copy.identifier}",
        "_links": {"project": {"href": f"{ctx.api}/projects/{copy.id}"}},
    }
    from ._webhooks import hub_of, project_event

    hub = hub_of(store)
    hub.root = ctx.root
    project_event(hub, "created", copy.id, actor_id)


def _copy(store: Store, job: Job) -> Project:
    source = store.projects[job.source_id]
    new_id = max(store.projects, default=0) + 1
    copy = replace(
        source,
        id=new_id,
        identifier=job.identifier,
        name=job.name,
        type_ids=list(source.type_ids),
        members=dict(source.members),
        created_at=utcnow(),
    )
    store.projects[new_id] = copy
    ids: dict[int, int] = {}
    originals = [w for w in store.work_packages.values() if w.project_id == source.id]
    for wp in originals:
        clone: WorkPackage = replace(
            wp,
            id=0,
            project_id=new_id,
            parent_id=None,
            lock_version=0,
            custom_values=dict(wp.custom_values),
            watcher_ids=list(wp.watcher_ids),
        )
        ids[wp.id] = store.add_work_package(clone).id
    for wp in originals:
        if wp.parent_id in ids:
            store.set_parent(store.work_packages[ids[wp.id]], ids[wp.parent_id])
    return copy


def render_job(ctx: Ctx, job: Job) -> JsonDict:
    """``JobStatusRepresenter``."""
    return {
        "_type": "JobStatus",
        "jobId": job.id,
        "status": job.status,
        "message": job.message,
        "payload": job.payload,
        "_links": {"self": link(f"{ctx.api}/job_statuses/{job.id}")},
    }


async def get_job_status(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    job = jobs_of(ctx.store).items.get(request.match_info["id"])
    if job is None or job.user_id != ctx.user.id:
        raise not_found("job status")
    _advance(ctx, job, ctx.user.id)
    return hal(render_job(ctx, job))


def add_routes(app: web.Application, api: str) -> None:
    """Register project copy and the job status endpoint under ``api``."""
    app.router.add_route("POST", f"{api}/projects/{{project}}/copy", copy_project)
    app.router.add_route("GET", f"{api}/job_statuses/{{id}}", get_job_status)
