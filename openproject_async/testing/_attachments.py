"""Attachments: multipart uploads (``metadata`` then ``file``), downloads, deletion."""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser

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
from ._render import Ctx
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
