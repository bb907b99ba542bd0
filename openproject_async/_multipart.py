"""``multipart/form-data`` bodies sent as a stream: the file is read from disk in chunks.

A :class:`MultipartBody` is an async iterable of bytes with a known ``size`` when the
file's size is known (then it goes out with a ``Content-Length``: object storages refuse
chunked uploads), and ``rewindable`` when it can be produced again from the start (a
path, bytes, a seekable file object): a 307/308 redirect or a re-authentication may then
send it again. Memory stays at one chunk whatever the file's size.
"""

from __future__ import annotations

import asyncio
import errno
import io
import mimetypes
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import IO, Any

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]

#: ``progress(file_bytes_sent, file_size_or_None)``, called as the file goes out.
ProgressCallback = Callable[[int, int | None], None]

#: Bytes read from a file at a time.
CHUNK = 256 * 1024


def _quote(value: str) -> str:
    """A quoted-string for a Content-Disposition parameter (RFC 7578: UTF-8 as is)."""
    cleaned = value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")
    return f'"{cleaned}"'


def _header_value(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain line breaks: {value!r}")
    return value


class FileSource:
    """Where the file's bytes come from: bytes, a path, or a binary file object."""

    __slots__ = ("_data", "_file", "_path", "_start", "name", "rewindable", "size")

    def __init__(self, source: Any, what: str = "upload") -> None:
        self._data: bytes | None = None
        self._path: Path | None = None
        self._file: IO[bytes] | None = None
        self._start: int | None = None
        self.name: str | None = None
        self.size: int | None = None
        self.rewindable = True
        if isinstance(source, bytes | bytearray | memoryview):
            self._data = bytes(source)
            self.size = len(self._data)
        elif isinstance(source, str | os.PathLike):
            self._path = Path(source)
            if not self._path.is_file():
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self._path))
            self.size = self._path.stat().st_size
            self.name = self._path.name
        elif callable(getattr(source, "read", None)):
            if isinstance(source, io.TextIOBase) or "b" not in getattr(source, "mode", "b"):
                raise TypeError("the file object must be opened in binary mode ('rb')")
            self._file = source
            name = getattr(source, "name", None)
            self.name = Path(name).name if isinstance(name, str) else None
            self._measure(source)
        else:
            raise TypeError(
                f"{what} takes the file as bytes, a path (str or os.PathLike) or a binary "
                f"file object, not {type(source).__name__}"
            )

    def _measure(self, fh: IO[bytes]) -> None:
        seekable = getattr(fh, "seekable", None)
        if callable(seekable) and seekable():
            self._start = fh.tell()
            self.size = fh.seek(0, os.SEEK_END) - self._start
            fh.seek(self._start)
        else:
            self.rewindable = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The content, one chunk at a time (from the start again on every call)."""
        if self._data is not None:
            for i in range(0, len(self._data), CHUNK):
                yield self._data[i : i + CHUNK]
            return
        if self._path is not None:
            fh = await asyncio.to_thread(self._path.open, "rb")
            try:
                async for chunk in _read_chunks(fh):
                    yield chunk
            finally:
                fh.close()
            return
        assert self._file is not None
        if self._start is not None:
            await asyncio.to_thread(self._file.seek, self._start)
        async for chunk in _read_chunks(self._file):
            yield chunk


async def _read_chunks(fh: IO[bytes]) -> AsyncIterator[bytes]:
    while True:
        chunk = await asyncio.to_thread(fh.read, CHUNK)
        if not isinstance(chunk, bytes | bytearray):
            raise TypeError("the file object must be opened in binary mode ('rb')")
        if not chunk:
            return
        yield bytes(chunk)


def guess_type(name: str) -> str:
    """The media type for a file name (``application/octet-stream`` when unknown)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class MultipartBody:
    """Fields (name, value, media type or None) in order, then the file part, if any."""

    __slots__ = (
        "_head",
        "_progress",
        "_source",
        "_tail",
        "boundary",
        "content_type",
        "rewindable",
        "size",
    )

    def __init__(
        self,
        fields: Sequence[tuple[str, bytes, str | None]],
        source: FileSource | None = None,
        *,
        file_name: str = "",
        file_type: str = "application/octet-stream",
        file_field: str = "file",
        boundary: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._progress = progress
        b = boundary or f"openproject-async-{secrets.token_hex(16)}"
        self.boundary = b
        self.content_type = f"multipart/form-data; boundary={b}"
        dash = b"--" + b.encode()
        head = bytearray()
        for name, value, media_type in fields:
            head += dash + b"\r\nContent-Disposition: form-data; name=" + _quote(name).encode()
            if media_type:
                head += b"\r\nContent-Type: " + _header_value(media_type, name).encode("latin-1")
            head += b"\r\n\r\n" + value + b"\r\n"
        if source is not None:
            head += (
                dash
                + b"\r\nContent-Disposition: form-data; name="
                + _quote(file_field).encode()
                + b"; filename="
                + _quote(file_name).encode()
                + b"\r\nContent-Type: "
                + _header_value(file_type, "content_type").encode("latin-1")
                + b"\r\n\r\n"
            )
        self._head = bytes(head)
        self._tail = (b"\r\n" if source is not None else b"") + dash + b"--\r\n"
        self._source = source
        known = source is None or source.size is not None
        extra = source.size if source is not None and source.size is not None else 0
        self.size = len(self._head) + extra + len(self._tail) if known else None
        self.rewindable = source is None or source.rewindable

    def headers(self) -> dict[str, str]:
        """``Content-Type`` (with the boundary) and, when known, ``Content-Length``."""
        out = {"Content-Type": self.content_type}
        if self.size is not None:
            out["Content-Length"] = str(self.size)
        return out

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._head
        if self._source is not None:
            sent = 0
            async for chunk in self._source.chunks():
                yield chunk
                sent += len(chunk)
                if self._progress is not None:
                    self._progress(sent, self._source.size)
        yield self._tail

    async def read(self) -> bytes:
        """The whole body (tests, small bodies)."""
        return b"".join([chunk async for chunk in self])
