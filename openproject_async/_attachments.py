"""Attachment uploads: to a container, containerless, and direct (to object storage).

The upload request (PROTOCOL.md section 9) is ``multipart/form-data`` with exactly two
parts, in this order: ``metadata`` (``application/json``,
``{"fileName": ..., "description": {"raw": ...}}``) and ``file`` (the file's media type,
with a ``filename`` in its ``Content-Disposition``; the server ignores that name — the
metadata ``fileName`` wins). The body is streamed from the source (``_multipart``):
memory does not grow with the file. An upload is a create: it is never retried.

Direct uploads (the server's ``prepareAttachment`` link, object storage): POST the
metadata (with ``fileSize``) to the prepare link, which answers an ``AttachmentUpload``
whose ``addAttachment`` link is a form on the storage (``href`` and ``form_fields``);
POST those fields and the file there — without anything of the session's, neither
credentials nor headers —, then GET its ``completeUpload`` link for the Attachment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _sansio
from ._links import Link
from ._multipart import FileSource, MultipartBody, ProgressCallback, Source, guess_type
from ._policy import safe_url
from ._registry import ActionCall, special_link
from ._resource import Resource
from .errors import ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject

#: How much of an upload's answer (an Attachment document) is read.
ANSWER_CAP = 16 * 1024 * 1024

__all__ = ["Source", "upload", "upload_containerless"]


class _File:
    """The checked arguments of one upload."""

    __slots__ = ("description", "name", "progress", "source", "type")

    def __init__(
        self,
        source: Source,
        file_name: str | None,
        content_type: str | None,
        description: str | None,
        what: str,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.source = FileSource(source, what)
        self.progress = progress
        name = file_name or self.source.name
        if not name:
            raise TypeError("give file_name= when uploading bytes or an unnamed file object")
        self.name = name
        self.type = content_type or guess_type(name)
        self.description = description

    def metadata(self, *, with_size: bool = False) -> bytes:
        meta: dict[str, Any] = {"fileName": self.name}
        if with_size:
            meta["fileSize"] = self.source.size
            meta["contentType"] = self.type
        if self.description is not None:
            meta["description"] = {"raw": self.description}
        return _sansio.dumps(meta)


async def _post(
    op: OpenProject,
    href: str,
    body: MultipartBody,
    params: Mapping[str, Any] | None = None,
    *,
    credentials: bool = True,
) -> _sansio.Document | None:
    """POST a multipart body (streamed); the decoded answer (None: empty)."""
    async with op._stream(
        "POST",
        href,
        data=body,
        headers=body.headers(),
        params=params,
        credentials=credentials,
        follow=credentials,
    ) as answer:
        if not 200 <= answer.status < 300:
            raise ProtocolError(
                "the upload was answered with a redirect",
                status=answer.status,
                url=safe_url(answer.url),
            )
        raw = bytearray()
        async for chunk in answer.iter_chunks():
            raw += chunk
            if len(raw) > ANSWER_CAP:
                raise ProtocolError(
                    f"the answer to the upload is larger than {ANSWER_CAP} bytes",
                    url=safe_url(answer.url),
                )
        if not credentials:
            return None  # a storage's answer (XML, empty): its status is what counts
        ctype = answer.headers.get("Content-Type", "")
        url = safe_url(answer.url)
        return _sansio.decode(answer.status, ctype, bytes(raw), url=url)


async def _plain(
    op: OpenProject, href: str, file: _File, params: Mapping[str, Any] | None
) -> Resource | None:
    body = MultipartBody(
        [("metadata", file.metadata(), "application/json")],
        file.source,
        file_name=file.name,
        file_type=file.type,
        progress=file.progress,
    )
    doc = await _post(op, href, body, params)
    return None if doc is None else op.wrap(doc)


async def _direct(
    op: OpenProject, prepare_href: str, file: _File, params: Mapping[str, Any] | None
) -> Resource:
    """Prepare, upload to the storage's form, complete: the Attachment."""
    if file.source.size is None:
        raise TypeError(
            "a direct upload needs the file's size: give a path, bytes or a seekable file"
        )
    meta = MultipartBody([("metadata", file.metadata(with_size=True), "application/json")])
    prepared = await _post(op, prepare_href, meta, params)
    links = (prepared or {}).get("_links") or {}
    form = links.get("addAttachment") or {}
    complete = (links.get("completeUpload") or {}).get("href")
    target = form.get("href") if isinstance(form, dict) else None
    fields = form.get("form_fields") or {} if isinstance(form, dict) else {}
    if not isinstance(target, str) or not isinstance(complete, str) or not isinstance(fields, dict):
        raise ProtocolError(
            "the prepared upload has no usable addAttachment form or completeUpload link",
            url=safe_url(op.resolve(prepare_href)),
        )
    body = MultipartBody(
        [(str(k), str(v).encode(), None) for k, v in fields.items()],
        file.source,
        file_name=file.name,
        file_type=file.type,
        progress=file.progress,
    )
    await _post(op, target, body, credentials=False)
    return await op.get(complete)


async def upload(
    resource: Resource,
    link: Link,
    source: Source,
    *,
    file_name: str | None = None,
    content_type: str | None = None,
    description: str | None = None,
    params: Mapping[str, Any] | None = None,
    retry: bool | None = None,
    direct: bool | None = None,
    progress: ProgressCallback | None = None,
) -> Resource | None:
    """Upload ``source`` through ``link`` (``addAttachment`` or ``prepareAttachment``).

    ``file_name`` defaults to the path's (or file object's) name and is required for
    bytes; ``content_type`` is guessed from the name (``application/octet-stream`` when
    unknown); ``description`` is optional. When the resource also offers
    ``prepareAttachment`` (direct uploads to object storage) that is used, unless
    ``direct=False``. ``retry`` is accepted for symmetry: an upload is sent once.
    ``progress(bytes_sent, size_or_None)`` is called as the file goes out.
    """
    file = _File(source, file_name, content_type, description, link.rel, progress)
    op = resource.session
    prepare = link if link.rel == "prepareAttachment" else None
    if prepare is None and direct is not False:
        found = resource.links.get("prepareAttachment")
        prepare = found if isinstance(found, Link) else None
    if prepare is not None and direct is not False:
        return await _direct(op, prepare.href or "", file, params)
    return await _plain(op, link.href or "", file, params)


async def upload_containerless(
    op: OpenProject,
    source: Source,
    *,
    file_name: str | None = None,
    content_type: str | None = None,
    description: str | None = None,
    direct: bool = False,
    progress: ProgressCallback | None = None,
) -> Resource:
    """``POST /api/v3/attachments`` (or, ``direct=True``, ``/api/v3/attachments/prepare``)."""
    file = _File(source, file_name, content_type, description, "upload", progress)
    href = str(op.api_root) + "/attachments"
    if direct:
        return await _direct(op, href + "/prepare", file, None)
    att = await _plain(op, href, file, None)
    if att is None:
        raise ProtocolError("empty answer to the upload", url=safe_url(op.resolve(href)))
    return att


@special_link(lambda link: link.rel in ("addAttachment", "prepareAttachment"))
async def _add_attachment(resource: Resource, link: Link, call: ActionCall) -> Resource | None:
    """``addAttachment(path_or_bytes, file_name=, content_type=, description=)``."""
    return await upload(
        resource, link, *call.args, params=call.query, retry=call.retry, **call.kwargs
    )
