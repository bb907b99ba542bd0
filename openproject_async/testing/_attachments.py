"""Attachments: multipart uploads (``metadata`` then ``file``), downloads, deletion."""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser
from typing import Any

import orjson
from aiohttp import web

from . import _render_wp as rw
from ._data import (
    EDIT_WP,
    Attachment,
    WorkPackage,
    utcnow,
)
from ._errors import (
    ApiError,
    invalid_body,
    missing_permission,
    not_found,
)
from ._http import (
    collection_response,
    ctx_of,
    hal,
    int_param,
)
from ._render import NULL_LINK, Ctx, JsonDict, fmt_dt, formattable
from ._storage import FakeStorage, PendingUpload, StoredObject
from ._workpackages import permitted_wp, visible_wp

# ---------------------------------------------------------------------------------------------
# Attachments

_HEADER_PARSER = BytesHeaderParser()


def parse_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/form-data body into (headers, content) parts, in order."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise invalid_body("The multipart request has no boundary.")
    delimiter = b"--" + match.group(1).encode()
    parts: list[tuple[dict[str, str], bytes]] = []
    chunks = body.split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise invalid_body("The multipart request is malformed.")
        headers = {k.lower(): v for k, v in _HEADER_PARSER.parsebytes(head + b"\r\n\r\n").items()}
        parts.append((headers, content.removesuffix(b"\r\n")))
    return parts


def _disposition(headers: dict[str, str]) -> dict[str, str]:
    value = headers.get("content-disposition", "")
    params: dict[str, str] = {}
    for item in value.split(";")[1:]:
        key, _, val = item.strip().partition("=")
        params[key.lower()] = val.strip().strip('"')
    return params


async def _upload(request: web.Request, container: WorkPackage | None) -> Attachment:
    ctx = ctx_of(request)
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "TypeNotSupported",
            f"Expected CONTENT-TYPE to be multipart/form-data but got {content_type}.",
        )
    parts = parse_multipart(await request.read(), content_type)
    names = [_disposition(h).get("name") for h, _ in parts]
    if names != ["metadata", "file"]:
        raise invalid_body(
            "The request body must be a multipart form with exactly two parts, 'metadata' "
            f"followed by 'file'; got {names}."
        )
    (_, meta_raw), (file_headers, content) = parts
    try:
        metadata = orjson.loads(meta_raw)
    except orjson.JSONDecodeError:
        raise invalid_body("The metadata part is not valid JSON.") from None
    if not isinstance(metadata, dict):
        raise invalid_body("The metadata part was not a single JSON object.")
    if "filename" not in _disposition(file_headers):
        raise invalid_body("The file part has no filename in its Content-Disposition.")
    file_name = metadata.get("fileName")
    if not isinstance(file_name, str) or not file_name.strip():
        raise ApiError(
            422, "PropertyConstraintViolation", "File name can't be blank.", attribute="fileName"
        )
    description = metadata.get("description")
    if isinstance(description, dict):
        description = description.get("raw")
    attachment = Attachment(
        id=ctx.store.next_id("attachment"),
        container_id=container.id if container else 0,
        file_name=file_name,
        content_type=file_headers.get("content-type", "application/octet-stream"),
        content=content,
        description="" if description is None else str(description),
        author_id=ctx.user.id,
        created_at=utcnow(),
    )
    ctx.store.attachments[attachment.id] = attachment
    return attachment


async def list_wp_attachments(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = visible_wp(ctx, int_param(request))
    items = [
        rw.attachment(ctx, a) for a in ctx.store.attachments.values() if a.container_id == wp.id
    ]
    return collection_response(request, items, f"{ctx.api}/work_packages/{wp.id}/attachments")


async def add_wp_attachment(request: web.Request) -> web.Response:
    """201 Created, as every ``Endpoints::Create`` (the docs list 200)."""
    ctx = ctx_of(request)
    wp = permitted_wp(ctx, int_param(request), EDIT_WP, "add attachments to this work package")
    attachment = await _upload(request, wp)
    ctx.store.touch(wp)
    ctx.store.journal(wp, ctx.user.id, comment="", details=[f"File {attachment.file_name} added"])
    return hal(rw.attachment(ctx, attachment, embed=True), status=201)


async def add_attachment(request: web.Request) -> web.Response:
    """Containerless upload (claimed later via ``_links.attachments`` of a WP write)."""
    ctx = ctx_of(request)
    attachment = await _upload(request, None)
    return hal(rw.attachment(ctx, attachment, embed=True), status=201)


def _visible_attachment(ctx: Ctx, attachment_id: int) -> Attachment:
    attachment = ctx.store.attachments.get(attachment_id)
    if attachment is None:
        raise not_found("attachment")
    if attachment.container_id == 0:
        if attachment.author_id != ctx.user.id:
            raise not_found("attachment")
        return attachment
    wp = ctx.store.work_packages.get(attachment.container_id)
    if wp is None or not ctx.can_see_wp(wp):
        raise not_found("attachment")
    return attachment


async def get_attachment(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    return hal(rw.attachment(ctx, _visible_attachment(ctx, int_param(request)), embed=True))


async def attachment_content(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    attachment = _visible_attachment(ctx, int_param(request))
    redirect = content_redirect(ctx, attachment)
    if redirect is not None:
        return redirect
    return web.Response(
        body=attachment.content,
        content_type=attachment.content_type.split(";")[0],
        headers={"Content-Disposition": f'attachment; filename="{attachment.file_name}"'},
    )


async def delete_attachment(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    attachment = _visible_attachment(ctx, int_param(request))
    wp = ctx.store.work_packages.get(attachment.container_id)
    if wp is not None and not ctx.can(EDIT_WP, wp.project_id):
        raise missing_permission("delete this attachment")
    del ctx.store.attachments[attachment.id]
    return web.Response(status=204)


# ---------------------------------------------------------------------------------------------
# Direct uploads (prepare -> storage -> uploaded) and content from the storage


def _storage(ctx: Ctx) -> FakeStorage | None:
    storage = getattr(ctx.store, "storage", None)
    return storage if isinstance(storage, FakeStorage) else None


def _metadata_only(parts: list[tuple[dict[str, str], bytes]]) -> dict[str, Any]:
    names = [_disposition(h).get("name") for h, _ in parts]
    if names != ["metadata"]:
        raise invalid_body(f"The prepare request takes one part, 'metadata'; got {names}.")
    try:
        metadata = orjson.loads(parts[0][1])
    except orjson.JSONDecodeError:
        raise invalid_body("The metadata part is not valid JSON.") from None
    if not isinstance(metadata, dict):
        raise invalid_body("The metadata part was not a single JSON object.")
    return metadata


async def _prepare(request: web.Request, container: WorkPackage | None) -> web.Response:
    ctx = ctx_of(request)
    storage = _storage(ctx)
    if storage is None or not storage.direct_uploads:
        raise ApiError(
            422, "PropertyConstraintViolation", "Direct uploads are not enabled.", attribute="base"
        )
    content_type = request.headers.get("Content-Type", "")
    metadata = _metadata_only(parse_multipart(await request.read(), content_type))
    file_name = metadata.get("fileName")
    if not isinstance(file_name, str) or not file_name.strip():
        raise ApiError(
            422, "PropertyConstraintViolation", "File name can't be blank.", attribute="fileName"
        )
    size = metadata.get("fileSize")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ApiError(
            422, "PropertyConstraintViolation", "File size is invalid.", attribute="fileSize"
        )
    description = metadata.get("description")
    att = Attachment(
        id=ctx.store.next_id("attachment"),
        container_id=container.id if container else 0,
        file_name=file_name,
        content_type=str(metadata.get("contentType") or "application/octet-stream"),
        content=b"",
        description=str(description.get("raw") or "") if isinstance(description, dict) else "",
        author_id=ctx.user.id,
        created_at=utcnow(),
    )
    key = f"uploads/{att.id}/{file_name}"
    storage.pending[att.id] = PendingUpload(att, key)
    api = ctx.api
    links: JsonDict = {
        "self": {"href": f"{api}/attachments/{att.id}", "title": file_name},
        "author": {"href": f"{api}/users/{ctx.user.id}", "title": ctx.user.name},
        "container": {"href": f"{api}/work_packages/{container.id}"} if container else NULL_LINK,
        "addAttachment": storage.upload_form(key),
        "delete": {"href": f"{api}/attachments/{att.id}/upload", "method": "delete"},
        "staticDownloadLocation": {"href": f"{api}/attachments/{att.id}/content"},
        "downloadLocation": {"href": storage.presigned_url(key)},
        "completeUpload": {"href": f"{api}/attachments/{att.id}/uploaded"},
    }
    doc: JsonDict = {
        "_type": "AttachmentUpload",
        "id": att.id,
        "fileName": file_name,
        "description": formattable(att.description, "plain"),
        "createdAt": fmt_dt(att.created_at),
        "_links": links,
    }
    return hal(doc, status=201)


async def prepare_attachment(request: web.Request) -> web.Response:
    """``POST /api/v3/attachments/prepare``: a containerless direct upload."""
    return await _prepare(request, None)


async def prepare_wp_attachment(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    wp = permitted_wp(ctx, int_param(request), EDIT_WP, "add attachments to this work package")
    return await _prepare(request, wp)


async def upload_finished(request: web.Request) -> web.Response:
    """``GET /api/v3/attachments/{id}/uploaded``: 404 until the file is on the storage."""
    ctx = ctx_of(request)
    storage = _storage(ctx)
    pending = storage.pending.get(int_param(request)) if storage is not None else None
    if pending is None or storage is None or pending.attachment.author_id != ctx.user.id:
        raise not_found("attachment")
    stored = storage.objects.get(pending.key)
    if stored is None:
        raise not_found("attachment")
    att = pending.attachment
    att.content = stored.content
    del storage.pending[att.id]
    ctx.store.attachments[att.id] = att
    wp = ctx.store.work_packages.get(att.container_id)
    if wp is not None:
        ctx.store.touch(wp)
        ctx.store.journal(wp, ctx.user.id, comment="", details=[f"File {att.file_name} added"])
    return hal(rw.attachment(ctx, att))


def content_redirect(ctx: Ctx, attachment: Attachment) -> web.Response | None:
    """With ``content_redirect`` on: 302 to a pre-signed storage URL (as with fog storage)."""
    storage = _storage(ctx)
    if storage is None or not storage.content_redirect:
        return None
    key = f"attachments/{attachment.id}/{attachment.file_name}"
    storage.objects[key] = StoredObject(attachment.content, attachment.content_type)
    return web.Response(
        status=302,
        headers={"Location": storage.presigned_url(key), "Cache-Control": "public, max-age=290"},
    )
