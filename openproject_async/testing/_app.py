"""The aiohttp application: routes and middlewares (request log, faults, workers, auth, errors)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from . import _attachments as att
from . import _extras as x
from . import _jobs, _notifications
from . import _memberships as mem
from . import _projects as prj
from . import _resources as res
from . import _storages as sto
from . import _workpackages as wps
from ._auth import authenticate, oauth_token
from ._errors import ApiError, PlainTextError, error_body
from ._faults import Fault
from ._http import (
    CTX_KEY,
    ELEMENTS_KEY,
    STATE,
    RecordedRequest,
    ServerState,
    error_response,
    hal,
)
from ._render import Ctx
from ._webhooks import events_middleware

log = logging.getLogger("openproject_async.testing")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON_TYPES = ("application/json", "application/hal+json")
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})
_PROXY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def _close_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


# ---------------------------------------------------------------------------------------------
# Middlewares (outermost first)


@web.middleware
async def record_and_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log the request, inject faults, and model a pool of workers with latency."""
    state = request.app[STATE]
    body = await request.read()
    record = RecordedRequest(
        method=request.method,
        path=request.path,
        query=request.query_string,
        headers=CIMultiDict(request.headers),
        body=body,
        peer=_peer(request),
    )
    state.requests.append(record)
    fault = state.faults.pick(request.method, request.path)
    if fault is None:
        response = await _serve(state, request, handler)
        record.status = response.status
        if state.config.compress and isinstance(response, web.Response):
            response.enable_compression()  # gzip/deflate when Accept-Encoding asks for it
        return response
    record.fault = fault.kind
    if fault.kind == "status":
        response = _status_fault(fault)
    elif fault.kind == "throttle":
        response = _throttled()
    elif fault.kind == "drop":
        _close_connection(request)
        return web.Response(status=499)
    elif fault.kind == "hang":
        await _hang(state, request)
        _close_connection(request)
        return web.Response(status=499)
    elif fault.kind == "drop_after":
        response = await _serve(state, request, handler)
        _close_connection(request)
        return web.Response(status=499)
    else:  # truncate
        response = await _serve(state, request, handler)
        return await _truncate(request, response, record)
    record.status = response.status
    return response


def _peer(request: web.Request) -> tuple[str, int] | None:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None


async def _hang(state: ServerState, request: web.Request) -> None:
    """Wait until the server closes or the client goes away."""
    while not state.closing.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.closing.wait(), 0.1)


async def _serve(state: ServerState, request: web.Request, handler: Handler) -> web.StreamResponse:
    semaphore = state.semaphore
    if semaphore is not None:
        await semaphore.acquire()
    state.active += 1
    state.peak_concurrency = max(state.peak_concurrency, state.active)
    try:
        response = await handler(request)
        config = state.config
        delay = config.latency + config.latency_per_element * request.get(ELEMENTS_KEY, 0)
        if delay > 0:
            await asyncio.sleep(delay)
        return response
    finally:
        state.active -= 1
        if semaphore is not None:
            semaphore.release()


def _status_fault(fault: Fault) -> web.Response:
    status = fault.status
    if status in _PROXY_PAGES:
        title = _PROXY_PAGES[status]
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}"
            "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return web.Response(text=page, status=status, content_type="text/html")
    if status == 500:
        body = error_body(
            "InternalServerError",
            "An internal server error occurred. This is not your fault.",
        )
    else:
        body = error_body("InternalServerError", f"The server answered with status {status}.")
    return hal(body, status)


def _throttled() -> web.Response:
    reset = math.ceil(time.time()) + 1
    return hal(
        error_body("Throttled", "You have reached the request limit for this resource."),
        429,
        headers={"RateLimit-Limit": "6", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
    )


async def _truncate(
    request: web.Request, response: web.StreamResponse, record: RecordedRequest
) -> web.StreamResponse:
    body = response.body if isinstance(response, web.Response) else None
    payload = body if isinstance(body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(payload)
    record.status = response.status
    await stream.prepare(request)
    await stream.write(payload[: len(payload) // 2])
    await asyncio.sleep(0)
    _close_connection(request)
    return stream


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except PlainTextError as exc:
        return web.Response(text=exc.text, status=exc.status, content_type="text/plain")
    except web.HTTPNotFound:
        return _not_found(request)
    except web.HTTPMethodNotAllowed:
        # API::V3::Root ends with ``route :any, "*path" { raise API::Errors::NotFound }``:
        # Grape tries that catch-all before its own 405, so a known path with a method it
        # does not serve answers the same HAL 404 as an unknown path
        return _not_found(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("fake OpenProject: unhandled error in %s %s", request.method, request.path)
        return hal(
            error_body(
                "InternalServerError",
                "An internal server error occurred. This is not your fault.",
            ),
            500,
        )


def _not_found(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.path.startswith(state.api):
        return hal(error_body("NotFound", "The requested resource could not be found."), 404)
    return web.Response(text="Not found", status=404, content_type="text/plain")


@web.middleware
async def auth_and_content_type(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    path = request.path
    if not path.startswith(state.api):
        return await handler(request)  # /oauth/token and unknown non-API paths
    user = authenticate(request, state)
    request[CTX_KEY] = Ctx(state.store, user, state.root)
    if request.method in _WRITE_METHODS:
        _enforce_content_type(request, path)
    return await handler(request)


def _enforce_content_type(request: web.Request, path: str) -> None:
    content_type = request.headers.get("Content-Type")
    if not content_type:
        raise PlainTextError(406, "Missing content-type header")
    lowered = content_type.lower()
    if path.endswith("/render/markdown") or path.endswith("/render/plain"):
        return  # the endpoint checks for text/plain itself
    if lowered.startswith(_JSON_TYPES):
        return
    if lowered.startswith("multipart/form-data") and path.endswith(
        ("/attachments", "/attachments/prepare")
    ):
        return
    raise ApiError(
        415,
        "TypeNotSupported",
        f"Expected CONTENT-TYPE to be (application/json, application/hal+json) but got "
        f"({content_type}).",
    )


# ---------------------------------------------------------------------------------------------
# Routes


def build_app(state: ServerState) -> web.Application:
    app = web.Application(
        middlewares=[record_and_fault, errors, auth_and_content_type, events_middleware],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE] = state
    api = state.api

    def route(method: str, path: str, handler: Handler) -> None:
        if method == "GET":  # Grape answers HEAD for every GET route
            app.router.add_get(path, handler, allow_head=True)
        else:
            app.router.add_route(method, path, handler)


    route("POST", f"{state.root}/oauth/token", oauth_token)
    route("GET", api, res.root)
    route("GET", api + "/", res.root)
    route("GET", f"{api}/configuration", res.configuration)
    route("GET", f"{api}/my_preferences", res.my_preferences)

    route("GET", f"{api}/users", res.list_users)
    route("GET", f"{api}/principals", res.list_users)
    route("GET", f"{api}/users/{{id}}", res.get_user)
    route("GET", f"{api}/statuses", res.list_statuses)
    route("GET", f"{api}/statuses/{{id}}", res.get_status)
    route("GET", f"{api}/types", res.list_types)
    route("GET", f"{api}/types/{{id}}", res.get_type)
    route("GET", f"{api}/priorities", res.list_priorities)
    route("GET", f"{api}/priorities/{{id}}", res.get_priority)
    route("GET", f"{api}/categories/{{id}}", res.get_category)
    route("GET", f"{api}/versions/{{id}}", res.get_version)
    route("GET", f"{api}/versions/{{id}}/projects", res.version_projects)
    route("GET", f"{api}/custom_options/{{id}}", res.get_custom_option)
    route("GET", f"{api}/custom_actions/{{id}}", res.get_custom_action)
    route("POST", f"{api}/custom_actions/{{id}}/execute", res.execute_custom_action)
    route("POST", f"{api}/render/markdown", res.render_markdown)

    route("GET", f"{api}/projects", prj.list_projects)
    route("POST", f"{api}/projects", prj.create_project)
    route("POST", f"{api}/projects/form", prj.create_form)
    route("GET", f"{api}/projects/schema", prj.project_schema)
    route("GET", f"{api}/projects/available_parent_projects", prj.available_parent_projects)
    route("GET", f"{api}/project_statuses/{{code}}", prj.get_project_status)
    for scope in ("projects", "workspaces"):
        p = f"{api}/{scope}/{{project}}"
        if scope == "projects":
            route("GET", p, prj.get_project)
            route("PATCH", p, prj.patch_project)
            route("DELETE", p, prj.delete_project)
            route("POST", f"{p}/form", prj.update_form)
            route("GET", f"{p}/categories", res.project_categories)
            route("GET", f"{p}/versions", res.project_versions)
            route("GET", f"{p}/types", res.list_types)
            route("GET", f"{p}/available_assignees", prj.available_assignees)
            route("GET", f"{p}/available_responsibles", prj.available_responsibles)
        route("GET", f"{p}/work_packages", wps.list_work_packages)
        route("POST", f"{p}/work_packages", wps.create_work_package)
        route("POST", f"{p}/work_packages/form", wps.create_form)

    w = f"{api}/work_packages"
    route("GET", w, wps.list_work_packages)
    route("POST", w, wps.create_work_package)
    route("POST", f"{w}/form", wps.create_form)
    route("GET", f"{w}/schemas", wps.list_schemas)
    route("GET", f"{w}/schemas/{{ident}}", wps.get_schema)
    route("GET", f"{w}/available_projects", res.available_projects)
    route("GET", f"{w}/{{id}}", wps.get_work_package)
    route("PATCH", f"{w}/{{id}}", wps.patch_work_package)
    route("DELETE", f"{w}/{{id}}", wps.delete_work_package)
    route("POST", f"{w}/{{id}}/form", wps.update_form)
    route("GET", f"{w}/{{id}}/available_projects", res.available_projects)
    route("GET", f"{w}/{{id}}/available_assignees", prj.available_assignees)
    route("GET", f"{w}/{{id}}/available_watchers", x.available_watchers)
    route("GET", f"{w}/{{id}}/available_relation_candidates", x.relation_candidates)
    route("GET", f"{w}/{{id}}/watchers", x.list_watchers)
    route("POST", f"{w}/{{id}}/watchers", x.add_watcher)
    route("DELETE", f"{w}/{{id}}/watchers/{{user_id}}", x.remove_watcher)
    route("GET", f"{w}/{{id}}/activities", x.list_activities)
    route("POST", f"{w}/{{id}}/activities", x.add_comment)
    route("GET", f"{w}/{{id}}/relations", x.list_wp_relations)
    route("POST", f"{w}/{{id}}/relations", x.create_relation)
    route("GET", f"{w}/{{id}}/attachments", att.list_wp_attachments)
    route("POST", f"{w}/{{id}}/attachments", att.add_wp_attachment)
    route("POST", f"{w}/{{id}}/attachments/prepare", att.prepare_wp_attachment)
    route("GET", f"{w}/{{id}}/revisions", x.list_revisions)
    route("GET", f"{w}/{{id}}/file_links", sto.list_file_links)
    route("POST", f"{w}/{{id}}/file_links", sto.create_file_links)
    route("GET", f"{api}/file_links/{{id}}", sto.get_file_link)
    route("DELETE", f"{api}/file_links/{{id}}", sto.delete_file_link)
    route("GET", f"{api}/storages/{{id}}", sto.get_storage)

    route("GET", f"{api}/memberships", mem.list_memberships)
    route("GET", f"{api}/memberships/{{id}}", mem.get_membership)
    route("GET", f"{api}/roles", mem.list_roles)
    route("GET", f"{api}/roles/{{id}}", mem.get_role)
    route("GET", f"{api}/queries", mem.list_queries)
    route("GET", f"{api}/time_entries", mem.list_time_entries)
    route("GET", f"{api}/activities/{{id}}", x.get_activity)
    route("PATCH", f"{api}/activities/{{id}}", x.patch_activity)
    route("GET", f"{api}/relations", x.list_relations)
    route("GET", f"{api}/relations/{{id}}", x.get_relation)
    route("PATCH", f"{api}/relations/{{id}}", x.patch_relation)
    route("DELETE", f"{api}/relations/{{id}}", x.delete_relation)
    route("POST", f"{api}/attachments", att.add_attachment)
    route("POST", f"{api}/attachments/prepare", att.prepare_attachment)
    route("GET", f"{api}/attachments/{{id}}/uploaded", att.upload_finished)
    route("GET", f"{api}/attachments/{{id}}", att.get_attachment)
    route("GET", f"{api}/attachments/{{id}}/content", att.attachment_content)
    route("DELETE", f"{api}/attachments/{{id}}", att.delete_attachment)
    _notifications.add_routes(app, api)
    _jobs.add_routes(app, api)
    return app
