"""File storages and the file links of work packages (the ``storages`` module of the real server).

``GET/POST /api/v3/work_packages/{id}/file_links``, ``GET/DELETE /api/v3/file_links/{id}``
and ``GET /api/v3/storages/{id}``. The create body is a Collection of file links
(``_embedded.elements``), created all or nothing, at most 20; a link that exists already
(same storage and origin id) is returned instead of duplicated. The answer is 201 with the
collection of the links of the request. Listing needs ``view_file_links`` (without it the
list is empty, as on the real server), creating and deleting ``manage_file_links``.
"""

from __future__ import annotations

from aiohttp import web

from ._data import MANAGE_FILE_LINKS, VIEW_FILE_LINKS, FileLink, Storage, WorkPackage, utcnow
from ._errors import ApiError, constraint, invalid_body, missing_permission, validation_failed
from ._http import by_id, ctx_of, hal, int_param, required_json_body
from ._query import paged_collection
from ._render import Ctx, JsonDict, fmt_dt, link
from ._workpackages import visible_wp
from ._writes import parse_href

MAX_FILE_LINKS_PER_REQUEST = 20
STORAGE_TYPE_NEXTCLOUD = "urn:openproject-org:api:v3:storages:Nextcloud"
VIEW_ALLOWED = "urn:openproject-org:api:v3:file-links:permission:ViewAllowed"


def storage(ctx: Ctx, s: Storage) -> JsonDict:
    return {
        "_type": "Storage",
        "id": s.id,
        "name": s.name,
        "createdAt": fmt_dt(s.created_at),
        "updatedAt": fmt_dt(s.created_at),
        "_links": {
            "self": link(f"{ctx.api}/storages/{s.id}", s.name),
            "type": link(STORAGE_TYPE_NEXTCLOUD, "Nextcloud"),
            "origin": link(s.host),
        },
    }


def file_link(ctx: Ctx, f: FileLink) -> JsonDict:
    store = ctx.store
    s = store.storages[f.storage_id]
    wp = store.work_packages[f.container_id]
    creator = store.users.get(f.creator_id)
    api = ctx.api
    links: JsonDict = {"self": link(f"{api}/file_links/{f.id}", f.origin_name)}
    if ctx.can(MANAGE_FILE_LINKS, wp.project_id):
        links["delete"] = {"href": f"{api}/file_links/{f.id}", "method": "delete"}
    links["creator"] = link(f"{api}/users/{f.creator_id}", creator.name if creator else None)
    links["status"] = link(VIEW_ALLOWED, "View allowed")
    links["originOpen"] = link(f"{s.host}/index.php/f/{f.origin_id}?openfile=1")
    links["staticOriginOpen"] = link(f"{api}/file_links/{f.id}/open")
    links["originOpenLocation"] = link(f"{s.host}/index.php/f/{f.origin_id}?openfile=0")
    links["staticOriginOpenLocation"] = link(f"{api}/file_links/{f.id}/open?location=true")
    links["staticOriginDownload"] = link(f"{api}/file_links/{f.id}/download")
    links["storage"] = link(f"{api}/storages/{s.id}", s.name)
    links["container"] = link(f"{api}/work_packages/{wp.id}", wp.subject)
    return {
        "_type": "FileLink",
        "id": f.id,
        "createdAt": fmt_dt(f.created_at),
        "updatedAt": fmt_dt(f.created_at),
        "originData": {
            "id": f.origin_id,
            "name": f.origin_name,
            "mimeType": f.origin_mime_type,
            "createdAt": f.origin_created_at,
            "lastModifiedAt": f.origin_updated_at,
            "createdByName": f.origin_created_by_name,
            "lastModifiedByName": f.origin_last_modified_by_name,
        },
        "_links": links,
    }


def visible_file_links(ctx: Ctx, wp: WorkPackage) -> list[FileLink]:
    """The file links of ``wp`` in storages of its project ([] without ``view_file_links``)."""
    if not ctx.can(VIEW_FILE_LINKS, wp.project_id):
        return []
    enabled = set(ctx.store.projects[wp.project_id].storage_ids)
    return [
        f
        for f in ctx.store.file_links.values()
        if f.container_id == wp.id and f.storage_id in enabled
    ]


async def list_file_links(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    items = visible_file_links(ctx, wp)
    href = f"{ctx.api}/work_packages/{wp.id}/file_links"
    return hal(paged_collection(request, items, lambda f: file_link(ctx, f), href, {}))


def _optional_text(data: JsonDict, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _parse_element(ctx: Ctx, index: int, element: object, project_id: int) -> tuple[int, JsonDict]:
    """(storage id, originData) of one element; raises the 422 the real contract gives."""
    if not isinstance(element, dict):
        raise invalid_body(f"The file link at index {index} is not a JSON object.")
    origin = element.get("originData")
    links = element.get("_links")
    errors: list[JsonDict] = []
    if not isinstance(origin, dict):
        origin = {}
    if origin.get("id") in (None, ""):
        errors.append(constraint("originId", "Origin can't be blank."))
    if not origin.get("name"):
        errors.append(constraint("originName", "Origin name can't be blank."))
    storage_id: int | None = None
    if isinstance(links, dict):
        storage_link = links.get("storage")
        url_link = links.get("storageUrl")
        if isinstance(storage_link, dict) and isinstance(storage_link.get("href"), str):
            parsed = parse_href(ctx, storage_link["href"])
            if parsed is not None and parsed[0] == "storages" and parsed[1].isdigit():
                storage_id = int(parsed[1])
        elif isinstance(url_link, dict) and isinstance(url_link.get("href"), str):
            host = url_link["href"].rstrip("/")
            storage_id = next((s.id for s in ctx.store.storages.values() if s.host == host), None)
    if storage_id is None or storage_id not in ctx.store.projects[project_id].storage_ids:
        errors.append(constraint("storage", "Storage does not exist."))
    if errors:
        raise validation_failed(errors)
    assert storage_id is not None
    return storage_id, origin


async def create_file_links(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    store = ctx.store
    wp = visible_wp(ctx, int_param(request))
    if not ctx.can(MANAGE_FILE_LINKS, wp.project_id):
        raise missing_permission("manage file links of this work package")
    body = await required_json_body(request)
    embedded = body.get("_embedded")
    elements = embedded.get("elements") if isinstance(embedded, dict) else None
    if not isinstance(elements, list):
        raise invalid_body("The request body is not a Collection of file links.")
    if len(elements) > MAX_FILE_LINKS_PER_REQUEST:
        raise ApiError(
            422,
            "PropertyConstraintViolation",
            f"At most {MAX_FILE_LINKS_PER_REQUEST} file links can be created at once.",
            attribute="elements",
        )
    parsed = [_parse_element(ctx, i, e, wp.project_id) for i, e in enumerate(elements)]
    result: list[FileLink] = []
    now = utcnow()
    for storage_id, origin in parsed:  # all valid: now create (all or nothing)
        origin_id = str(origin["id"])
        existing = next(
            (
                f
                for f in store.file_links.values()
                if (f.container_id, f.storage_id, f.origin_id) == (wp.id, storage_id, origin_id)
            ),
            None,
        )
        if existing is None:
            existing = FileLink(
                id=store.next_id("file_link"),
                storage_id=storage_id,
                container_id=wp.id,
                creator_id=ctx.user.id,
                origin_id=origin_id,
                origin_name=str(origin["name"]),
                origin_mime_type=_optional_text(origin, "mimeType"),
                origin_created_by_name=_optional_text(origin, "createdByName"),
                origin_last_modified_by_name=_optional_text(origin, "lastModifiedByName"),
                origin_created_at=_optional_text(origin, "createdAt"),
                origin_updated_at=_optional_text(origin, "lastModifiedAt"),
                created_at=now,
            )
            store.file_links[existing.id] = existing
        result.append(existing)
    href = f"{ctx.api}/work_packages/{wp.id}/file_links"
    doc = paged_collection(request, result, lambda f: file_link(ctx, f), href, {})
    return hal(doc, status=201)


def _visible_file_link(ctx: Ctx, request: web.Request) -> FileLink:
    f = ctx.store.file_links.get(int_param(request))
    if f is None:
        raise ApiError(404, "NotFound", "The requested resource could not be found.")
    wp = ctx.store.work_packages.get(f.container_id)
    if wp is None or not ctx.can(VIEW_FILE_LINKS, wp.project_id):
        raise ApiError(404, "NotFound", "The requested resource could not be found.")
    return f


async def get_file_link(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(file_link(ctx, _visible_file_link(ctx, request)))


async def delete_file_link(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    f = _visible_file_link(ctx, request)
    if not ctx.can(MANAGE_FILE_LINKS, ctx.store.work_packages[f.container_id].project_id):
        raise missing_permission("delete this file link")
    del ctx.store.file_links[f.id]
    return web.Response(status=204)


async def get_storage(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    s = by_id(request, ctx.store.storages, "storage")
    visible = {p.id for p in ctx.store.projects.values() if s.id in p.storage_ids}
    if not any(ctx.perms(pid) for pid in visible):
        raise ApiError(404, "NotFound", "The requested resource could not be found.")
    return hal(storage(ctx, s))
