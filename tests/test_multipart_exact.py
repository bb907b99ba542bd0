"""Multipart bodies byte for byte: part headers, quoting, boundaries, sizes, chunking,
progress, and every kind of source (bytes, paths, file objects, streams)."""

from __future__ import annotations

import errno
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from openproject_async._multipart import CHUNK, FileSource, MultipartBody, guess_type


class Pipe(io.RawIOBase):
    """A binary stream that cannot seek (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class Reader:
    """A file-like object with only ``read`` (no mode, no name, no seekable)."""

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks

    def read(self, size: int = -1) -> Any:
        return self.chunks.pop(0) if self.chunks else b""


async def collect(source: FileSource) -> list[bytes]:
    return [chunk async for chunk in source.chunks()]


# -- quoting and header values ------------------------------------------------------------------


async def test_names_are_quoted_strings_without_line_breaks() -> None:
    body = MultipartBody(
        [('we"ird\\name', b"v", None)],
        FileSource(b"x"),
        file_name='a\\b"c\rd\ne',
        file_type="text/plain",
        file_field="upload",
        boundary="B",
    )
    assert await body.read() == (
        b'--B\r\nContent-Disposition: form-data; name="we%22ird\\\\name"\r\n\r\nv\r\n'
        b'--B\r\nContent-Disposition: form-data; name="upload"; filename="a\\\\b%22c d e"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--B--\r\n"
    )


async def test_utf8_names_go_as_they_are() -> None:
    body = MultipartBody([], FileSource(b""), file_name="Übersicht.pdf", boundary="B")
    assert await body.read() == (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="'
        + "Übersicht.pdf".encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n'
    )


@pytest.mark.parametrize("bad", ["text/plain\rX: y", "text/plain\nX: y"])
def test_media_types_with_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain line breaks") as file_part:
        MultipartBody([], FileSource(b""), file_name="x", file_type=bad)
    assert str(file_part.value) == f"content_type must not contain line breaks: {bad!r}"
    with pytest.raises(ValueError, match="must not contain line breaks") as field_part:
        MultipartBody([("metadata", b"{}", bad)])
    assert str(field_part.value) == f"metadata must not contain line breaks: {bad!r}"


async def test_media_types_are_latin1_on_the_wire() -> None:
    body = MultipartBody([("m", b"", "text/é")], boundary="B")
    assert await body.read() == (
        b'--B\r\nContent-Disposition: form-data; name="m"\r\nContent-Type: text/\xe9\r\n\r\n\r\n'
        b"--B--\r\n"
    )


# -- bodies without a file, sizes, headers ------------------------------------------------------


async def test_fields_only() -> None:
    body = MultipartBody([("a", b"1", "application/json"), ("b", b"", None)], boundary="Q")
    wire = await body.read()
    assert wire == (
        b'--Q\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: application/json\r\n'
        b'\r\n1\r\n--Q\r\nContent-Disposition: form-data; name="b"\r\n\r\n\r\n--Q--\r\n'
    )
    assert (body.size, body.rewindable) == (len(wire), True)
    assert body.headers() == {
        "Content-Type": "multipart/form-data; boundary=Q",
        "Content-Length": str(len(wire)),
    }
    assert await MultipartBody([], boundary="E").read() == b"--E--\r\n"
    assert MultipartBody([], boundary="E").size == 7


def test_the_default_boundary_is_random_and_long() -> None:
    one, two = MultipartBody([]), MultipartBody([])
    assert re.fullmatch(r"openproject-async-[0-9a-f]{32}", one.boundary)
    assert one.boundary != two.boundary
    assert one.content_type == f"multipart/form-data; boundary={one.boundary}"


async def test_a_stream_of_unknown_size_has_no_content_length() -> None:
    body = MultipartBody([("m", b"{}", None)], FileSource(Pipe(b"abc")), boundary="B")
    assert (body.size, body.rewindable) == (None, False)
    assert body.headers() == {"Content-Type": "multipart/form-data; boundary=B"}
    assert await body.read() == (
        b'--B\r\nContent-Disposition: form-data; name="m"\r\n\r\n{}\r\n'
        b'--B\r\nContent-Disposition: form-data; name="file"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nabc\r\n--B--\r\n"
    )


async def test_progress_counts_the_file_bytes_only() -> None:
    calls: list[tuple[int, int | None]] = []
    data = b"x" * (CHUNK + 5)
    body = MultipartBody(
        [("m", b"{}", None)],
        FileSource(data),
        file_name="f",
        boundary="B",
        progress=lambda done, total: calls.append((done, total)),
    )
    chunks = [chunk async for chunk in body]
    assert [len(c) for c in chunks] == [len(body._head), CHUNK, 5, len(b"\r\n--B--\r\n")]
    assert calls == [(CHUNK, CHUNK + 5), (CHUNK + 5, CHUNK + 5)]
    calls.clear()
    piped = MultipartBody([], FileSource(Pipe(b"ab")), progress=lambda d, t: calls.append((d, t)))
    await piped.read()
    assert calls == [(2, None)]


# -- sources ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
async def test_bytes_like_sources(kind: Any) -> None:
    source = FileSource(kind(b"abc"))
    assert (source.size, source.name, source.rewindable) == (3, None, True)
    assert await collect(source) == [b"abc"]
    assert await collect(source) == [b"abc"]
    assert await collect(FileSource(b"")) == []


async def test_bytes_are_sent_in_chunks() -> None:
    assert CHUNK == 256 * 1024  # memory per upload: one chunk
    data = bytes(range(256)) * (CHUNK // 128) + b"z"
    assert len(data) == 2 * CHUNK + 1
    chunks = await collect(FileSource(data))
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, 1]
    assert b"".join(chunks) == data


async def test_paths_as_str_and_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    data = os.urandom(CHUNK + 3)
    path.write_bytes(data)
    for given in (path, str(path)):
        source = FileSource(given)
        assert (source.size, source.name, source.rewindable) == (CHUNK + 3, "data.bin", True)
        chunks = await collect(source)
        assert [len(c) for c in chunks] == [CHUNK, 3]
        assert b"".join(chunks) == data
        assert b"".join(await collect(source)) == data  # read again from the start


def test_a_missing_path_or_a_directory_is_file_not_found(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.bin", tmp_path):
        with pytest.raises(FileNotFoundError) as info:
            FileSource(path)
        assert (info.value.errno, info.value.strerror, info.value.filename) == (
            errno.ENOENT,
            os.strerror(errno.ENOENT),
            str(path),
        )


async def test_a_seekable_file_object_is_sent_from_where_it_stood(tmp_path: Path) -> None:
    fh = io.BytesIO(b"0123456789")
    fh.seek(3)
    source = FileSource(fh)
    assert (source.size, source.name, source.rewindable) == (7, None, True)
    assert fh.tell() == 3  # measuring put it back
    assert await collect(source) == [b"3456789"]
    assert await collect(source) == [b"3456789"]  # rewound to where it stood
    path = tmp_path / "dir" / "named.txt"
    path.parent.mkdir()
    path.write_bytes(b"abc")
    with path.open("rb") as opened:
        named = FileSource(opened)
        assert (named.name, named.size) == ("named.txt", 3)
    with path.open("rb") as raw, os.fdopen(raw.fileno(), "rb", closefd=False) as by_fd:
        assert FileSource(by_fd).name is None  # its name is the descriptor, an int


async def test_a_stream_is_sent_once_and_has_no_size() -> None:
    source = FileSource(Pipe(b"streamed"))
    assert (source.size, source.rewindable, source.name) == (None, False, None)
    assert b"".join(await collect(source)) == b"streamed"
    reader = FileSource(Reader([b"ab", bytearray(b"cd")]))  # no mode: taken as binary
    assert (reader.size, reader.rewindable) == (None, False)
    assert await collect(reader) == [b"ab", b"cd"]
    assert [type(c) for c in await collect(FileSource(Reader([bytearray(b"x")])))] == [bytes]


async def test_text_file_objects_are_refused(tmp_path: Path) -> None:
    wanted = "the file object must be opened in binary mode ('rb')"
    with pytest.raises(TypeError) as info:
        FileSource(io.StringIO("x"))
    assert str(info.value) == wanted
    path = tmp_path / "t.txt"
    path.write_text("x")
    with path.open("r") as text, pytest.raises(TypeError) as opened:
        FileSource(text)
    assert str(opened.value) == wanted
    fake = Reader(["text"])
    fake.mode = "r"  # type: ignore[attr-defined]
    with pytest.raises(TypeError) as by_mode:
        FileSource(fake)
    assert str(by_mode.value) == wanted
    with pytest.raises(TypeError) as late:  # found out only when reading
        await collect(FileSource(Reader(["text"])))
    assert str(late.value) == wanted


def test_other_sources_are_refused_naming_the_call() -> None:
    with pytest.raises(TypeError) as info:
        FileSource(12)
    assert str(info.value) == (
        "upload takes the file as bytes, a path (str or os.PathLike) or a binary file object, "
        "not int"
    )
    with pytest.raises(TypeError, match=r"^addAttachment takes the file as bytes"):
        FileSource(object(), "addAttachment")


def test_media_types_are_guessed_from_the_name() -> None:
    assert guess_type("a.txt") == "text/plain"
    assert guess_type("scan.PDF") == "application/pdf"
    assert guess_type("Makefile") == "application/octet-stream"
