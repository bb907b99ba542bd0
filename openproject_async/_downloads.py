"""Attachment downloads: :class:`Attachment`, streamed, written atomically, digest-checked.

The content is at the attachment's ``staticDownloadLocation`` (``/api/v3/attachments/
{id}/content``). On local storage the server answers it directly; on object storage it
redirects (302) to a pre-signed URL on another origin, which is followed without
credentials, cookies or the session's headers (``_streaming``). The ``digest``
(``{"algorithm": "md5", "hash": ...}``) is checked when the server gives one.

A download to a path writes a temporary file in the target's directory and renames it
over the target at the end: an interrupted download, or one whose digest does not match,
leaves no file (and no half file) under the target name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import IO, Any, overload

from ._links import Link
from ._policy import safe_url
from ._registry import register_kind
from ._resource import Resource
from .errors import DigestMismatch, ProtocolError

#: Bytes gathered before one write to the target file.
WRITE_BUFFER = 1024 * 1024

#: The process's umask (read once: reading it means setting it), for the mode of new files.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

ProgressCallback = Callable[[int, int | None], None]
Target = str | os.PathLike[str] | IO[bytes]


class Attachment(Resource):
    """An attachment: its document, and its content through :meth:`download` / :meth:`stream`."""

    __slots__ = ()

    @property
    def content_href(self) -> str:
        """Where the content is: ``staticDownloadLocation``, else ``downloadLocation``."""
        for rel in ("staticDownloadLocation", "downloadLocation"):
            link = self.links.get(rel)
            if isinstance(link, Link) and link.href:
                return link.href
        if self.href:
            return self.href.rstrip("/") + "/content"
        raise ProtocolError("the attachment has no download location and no self link")

    def _digest(self) -> tuple[str, str] | None:
        digest = self.data.get("digest")
        if not isinstance(digest, dict):
            return None
        algorithm, expected = digest.get("algorithm"), digest.get("hash")
        if not isinstance(algorithm, str) or not isinstance(expected, str) or not expected:
            return None
        if algorithm.lower() not in hashlib.algorithms_available:
            return None
        return algorithm.lower(), expected.lower()

    async def stream(
        self, *, verify: bool = True, progress: ProgressCallback | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The content in chunks as they arrive.

        With ``verify`` (default) the digest is checked once the last chunk is through:
        :class:`~openproject_async.errors.DigestMismatch` is raised at the end.
        ``progress(bytes_so_far, total_or_None)`` is called after each chunk.
        """
        digest = self._digest() if verify else None
        hasher = hashlib.new(digest[0], usedforsecurity=False) if digest else None
        op = self.session
        async with op._stream("GET", self.content_href, headers={"Accept": "*/*"}) as answer:
            total = _length(answer.headers.get("Content-Length"))
            done = 0
            async for chunk in answer.iter_chunks():
                if hasher is not None:
                    hasher.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
                yield chunk
            url = safe_url(answer.url)
        if digest is not None and hasher is not None and hasher.hexdigest() != digest[1]:
            raise DigestMismatch(
                f"the content of {self.href or 'the attachment'} does not match its "
                f"{digest[0]} digest (expected {digest[1]}, got {hasher.hexdigest()})",
                algorithm=digest[0],
                expected=digest[1],
                actual=hasher.hexdigest(),
                url=url,
            )

    @overload
    async def download(
        self, target: None = None, *, verify: bool = True, progress: ProgressCallback | None = None
    ) -> bytes: ...

    @overload
    async def download(
        self, target: Target, *, verify: bool = True, progress: ProgressCallback | None = None
    ) -> int: ...

    async def download(
        self,
        target: Target | None = None,
        *,
        verify: bool = True,
        progress: ProgressCallback | None = None,
    ) -> bytes | int:
        """Download the content: to a path or binary file object (the bytes written), or,
        without a target, into memory (the bytes; at most the session's
        ``max_response_size``, else :class:`ProtocolError` — download to a file then).

        A path is written atomically (a temporary file renamed at the end); a failed or
        interrupted download, or a digest mismatch, leaves no file under that name.
        """
        if not (target is None or isinstance(target, str | os.PathLike) or _binary(target)):
            raise TypeError(
                "download() writes to a path (str or os.PathLike) or a binary file "
                f"object, not {type(target).__name__}"
            )
        chunks = self.stream(verify=verify, progress=progress)
        try:
            if target is None:
                return await _into_memory(self, chunks)
            if isinstance(target, str | os.PathLike):
                return await _to_path(Path(target), chunks)
            return await _to_file(target, chunks)
        finally:
            await chunks.aclose()  # the answer is released however this ends


def _binary(target: Any) -> bool:
    return callable(getattr(target, "write", None)) and not isinstance(target, io.TextIOBase)


def _mode(target: Path) -> int:
    """The mode for the new file: the replaced file's, else what a plain open() gives."""
    return target.stat().st_mode & 0o7777 if target.is_file() else 0o666 & ~_UMASK


def _length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _into_memory(att: Attachment, chunks: AsyncGenerator[bytes, None]) -> bytes:
    cap = getattr(att.session, "max_response_size", None)
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if cap is not None and len(data) > cap:
            raise ProtocolError(
                f"the attachment is larger than max_response_size ({cap} bytes): download "
                "it to a file (download(path)) or use stream()",
                url=safe_url(att.session.resolve(att.content_href)),
            )
    return bytes(data)


async def _to_file(fh: IO[bytes], chunks: AsyncGenerator[bytes, None]) -> int:
    written = 0
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= WRITE_BUFFER:
            written += await _write(fh, buffer)
            buffer = bytearray()
    if buffer:
        written += await _write(fh, buffer)
    return written


async def _write(fh: IO[bytes], data: bytearray) -> int:
    result: Any = await asyncio.to_thread(fh.write, bytes(data))
    if isinstance(result, str):  # pragma: no cover - text files refuse bytes already
        raise TypeError("the file object must be opened in binary mode ('wb')")
    return len(data)


async def _to_path(target: Path, chunks: AsyncGenerator[bytes, None]) -> int:
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            written = await _to_file(fh, chunks)
        os.chmod(tmp, await asyncio.to_thread(_mode, target))  # mkstemp made it 0600
        await asyncio.to_thread(os.replace, tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return written


register_kind(Attachment, type_name="Attachment")
