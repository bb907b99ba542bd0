"""Attachment upload: the two-part ``multipart/form-data`` request of PROTOCOL.md section 9.

Exactly two parts, in this order: ``metadata`` (``application/json``,
``{"fileName": ..., "description": {"raw": ...}}``) and ``file`` (the file's media type,
with a ``filename`` in its ``Content-Disposition``; the server ignores that name — the
metadata ``fileName`` wins). The body is built in memory as bytes: OpenProject caps
attachment sizes (``attachment_max_size``, a few MB by default), and a body of bytes can
be sent again after a redirect. An upload is a create: it is never retried on its own.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from . import _sansio
from ._links import Link
from ._registry import ActionCall, special_link
from ._resource import Resource

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


def _quote(value: str) -> str:
    """A quoted-string for a Content-Disposition parameter (RFC 7578: UTF-8 as is)."""
    cleaned = value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")
    return f'"{cleaned}"'


def _header_value(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain line breaks: {value!r}")
    return value


def multipart_body(
    content: bytes,
    *,
    file_name: str,
    content_type: str,
    description: str | None = None,
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """``(body, content_type_header)`` of the upload request (sans I/O)."""
    metadata: dict[str, Any] = {"fileName": file_name}
    if description is not None:
        metadata["description"] = {"raw": description}
    meta = _sansio.dumps(metadata)
    while True:
        b = boundary or f"openproject-async-{secrets.token_hex(16)}"
        if b.encode() not in content and b.encode() not in meta:
            break
        if boundary is not None:
            raise ValueError("the boundary occurs in the content")
    crlf = b"\r\n"
    dash = b"--" + b.encode()
    parts = [
        dash,
        b'Content-Disposition: form-data; name="metadata"',
        b"Content-Type: application/json",
        b"",
        meta,
        dash,
        b'Content-Disposition: form-data; name="file"; filename=' + _quote(file_name).encode(),
        b"Content-Type: " + _header_value(content_type, "content_type").encode("latin-1"),
        b"",
        content,
        dash + b"--",
        b"",
    ]
    return crlf.join(parts), f"multipart/form-data; boundary={b}"


async def _read(source: Source) -> tuple[bytes, str | None]:
    """The content and, when the source has one, its file name."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return await asyncio.to_thread(path.read_bytes), path.name
    read = getattr(source, "read", None)
    if callable(read):
        data = await asyncio.to_thread(read)
        if not isinstance(data, bytes | bytearray):
            raise TypeError("the file object must be opened in binary mode ('rb')")
        name = getattr(source, "name", None)
        return bytes(data), Path(name).name if isinstance(name, str) else None
    raise TypeError(
        "addAttachment takes the file as bytes, a path (str or os.PathLike) or a binary "
        f"file object, not {type(source).__name__}"
    )


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
) -> Resource | None:
    """POST ``source`` to the ``addAttachment`` link; returns the Attachment resource.

    ``file_name`` defaults to the path's (or file object's) name and is required for
    bytes; ``content_type`` is guessed from the name (``application/octet-stream`` when
    unknown); ``description`` is optional.
    """
    content, own_name = await _read(source)
    name = file_name or own_name
    if not name:
        raise TypeError("give file_name= when uploading bytes")
    ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    body, header = multipart_body(
        content, file_name=name, content_type=ctype, description=description
    )
    op = resource.session
    doc = await op.request(
        link.method,
        link.href or "",
        data=body,
        headers={"Content-Type": header},
        params=params or None,
        retry=False if retry is None else retry,
    )
    return None if doc is None else op.wrap(doc)


@special_link(lambda link: link.rel == "addAttachment")
async def _add_attachment(resource: Resource, link: Link, call: ActionCall) -> Resource | None:
    """``addAttachment(path_or_bytes, file_name=, content_type=, description=)``."""
    return await upload(
        resource, link, *call.args, params=call.query, retry=call.retry, **call.kwargs
    )
