"""Downloads without sockets (``MockTransport``): where the content is, digests, progress,
the memory cap, buffered writes to file objects, atomic writes to paths (temporary file,
mode, nothing left behind), and that the answer is released however a download ends."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openproject_async import Attachment, HttpRequest, HttpResponse, OpenProject
from openproject_async._downloads import WRITE_BUFFER
from openproject_async.errors import URN_PREFIX, DigestMismatch, NotFound, ProtocolError
from openproject_async.testing import MockTransport

BASE = "https://op.test"
API = "/api/v3"
STORAGE = "https://bucket.storage.test"
CONTENT = b"the content"
MD5 = hashlib.md5(CONTENT).hexdigest()
BASIC = "Basic " + base64.b64encode(b"apikey:k").decode()


def attachment_doc(
    links: dict[str, Any] | None = None, digest: Any = "md5", **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_type": "Attachment",
        "id": 7,
        "_links": links
        if links is not None
        else {
            "self": {"href": f"{API}/attachments/7"},
            "staticDownloadLocation": {"href": f"{API}/attachments/7/content"},
        },
        **extra,
    }
    if digest == "md5":
        doc["digest"] = {"algorithm": "md5", "hash": MD5}
    elif digest is not None:
        doc["digest"] = digest
    return doc


class Served:
    """Answers every request with ``content`` (in ``chunks`` when given); records them."""

    def __init__(
        self,
        content: bytes = CONTENT,
        chunks: list[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.content = content
        self.chunk_list = chunks
        self.headers = headers if headers is not None else {"Content-Type": "text/plain"}
        self.requests: list[HttpRequest] = []
        self.closed = 0
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        parts = self.chunk_list if self.chunk_list is not None else [self.content]

        async def chunks() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        async def close() -> None:
            self.closed += 1

        return HttpResponse(200, self.headers, chunks=chunks, close=close)

    def session(self, **options: Any) -> OpenProject:
        return OpenProject(BASE, api_key="k", transport=self.transport, **options)


def names(directory: Path) -> list[str]:
    """The names in a directory (temporary files included), sorted."""
    return sorted(p.name for p in directory.iterdir())


def wrap(op: OpenProject, doc: dict[str, Any]) -> Attachment:
    att = op.wrap(doc)
    assert type(att) is Attachment
    return att


# -- where the content is -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("links", "href"),
    [
        (
            {
                "self": {"href": "/a/1"},
                "staticDownloadLocation": {"href": "/static"},
                "downloadLocation": {"href": "/dl"},
            },
            "/static",
        ),
        (
            {
                "self": {"href": "/a/1"},
                "staticDownloadLocation": {"href": None},
                "downloadLocation": {"href": "/dl"},
            },
            "/dl",
        ),
        ({"self": {"href": "/a/1"}, "downloadLocation": {"href": "/dl"}}, "/dl"),
        ({"self": {"href": "/a/1/"}, "staticDownloadLocation": [{"href": "/s"}]}, "/a/1/content"),
        ({"self": {"href": "/a/1"}, "downloadLocation": {"href": ""}}, "/a/1/content"),
    ],
)
async def test_content_href(links: dict[str, Any], href: str) -> None:
    async with Served().session() as op:
        assert wrap(op, attachment_doc(links)).content_href == href


async def test_no_download_location_and_no_self_link() -> None:
    async with Served().session() as op:
        att = wrap(op, attachment_doc({}))
        with pytest.raises(ProtocolError) as info:
            _ = att.content_href
    assert str(info.value) == "the attachment has no download location and no self link"


async def test_the_content_is_asked_for_as_anything() -> None:
    served = Served()
    async with served.session(headers={"X-Extra": "1"}) as op:
        assert await wrap(op, attachment_doc()).download() == CONTENT
    [sent] = served.requests
    assert (sent.method, str(sent.url), sent.body) == (
        "GET",
        f"{BASE}{API}/attachments/7/content",
        None,
    )
    assert dict(sent.headers) == {"Accept": "*/*", "X-Extra": "1", "Authorization": BASIC}
    assert served.closed == 1


# -- digests ------------------------------------------------------------------------------------


async def test_a_mismatch_names_both_hashes_and_the_url() -> None:
    served = Served(b"tampered")
    async with served.session() as op:
        att = wrap(op, attachment_doc())
        with pytest.raises(DigestMismatch) as info:
            await att.download()
        assert await att.download(verify=False) == b"tampered"
    actual = hashlib.md5(b"tampered").hexdigest()
    err = info.value
    assert (err.algorithm, err.expected, err.actual, err.url) == (
        "md5",
        MD5,
        actual,
        f"{BASE}{API}/attachments/7/content",
    )
    assert str(err) == (
        f"the content of {API}/attachments/7 does not match its md5 digest "
        f"(expected {MD5}, got {actual}); from {BASE}{API}/attachments/7/content"
    )


async def test_a_mismatch_of_an_attachment_without_self_link() -> None:
    async with Served(b"x").session() as op:
        att = wrap(op, attachment_doc({"downloadLocation": {"href": "/files/1"}}))
        with pytest.raises(DigestMismatch) as info:
            await att.download()
    assert str(info.value).startswith("the content of the attachment does not match its md5")


async def test_the_url_of_a_mismatch_is_where_the_content_came_from() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.host == "op.test":
            return HttpResponse(302, {"Location": f"{STORAGE}/a/7?X-Amz-Signature=s3cr3t&v=1"})
        return HttpResponse(200, {"Content-Type": "text/plain"}, body=b"other")

    transport = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", headers={"X-Extra": "1"}, transport=transport) as op:
        with pytest.raises(DigestMismatch) as info:
            await wrap(op, attachment_doc()).download()
    assert info.value.url == f"{STORAGE}/a/7?X-Amz-Signature=***&v=1"
    first, second = transport.requests
    assert dict(first.headers) == {"Accept": "*/*", "X-Extra": "1", "Authorization": BASIC}
    assert dict(second.headers) == {"Accept": "application/hal+json, application/json"}


@pytest.mark.parametrize(
    "digest",
    [
        {"algorithm": "MD5", "hash": MD5.upper()},
        {"algorithm": "sha256", "hash": hashlib.sha256(CONTENT).hexdigest()},
    ],
)
async def test_digests_are_compared_without_case(digest: dict[str, str]) -> None:
    async with Served().session() as op:
        assert await wrap(op, attachment_doc(digest=digest)).download() == CONTENT


@pytest.mark.parametrize(
    "digest",
    [
        None,
        "md5:abc",
        {"algorithm": "md5", "hash": ""},
        {"algorithm": "md5"},
        {"hash": MD5},
        {"algorithm": 5, "hash": "abc"},
        {"algorithm": "md5", "hash": 5},
        {"algorithm": "no-such-hash", "hash": "abc"},
    ],
)
async def test_digests_that_cannot_be_checked_are_not(digest: Any) -> None:
    async with Served(b"anything").session() as op:
        assert await wrap(op, attachment_doc(digest=digest)).download() == b"anything"


async def test_a_sha256_mismatch_is_named() -> None:
    digest = {"algorithm": "SHA256", "hash": "AB" * 32}
    async with Served().session() as op:
        with pytest.raises(DigestMismatch) as info:
            await wrap(op, attachment_doc(digest=digest)).download()
    assert (info.value.algorithm, info.value.expected) == ("sha256", "ab" * 32)


# -- streaming and progress ---------------------------------------------------------------------


async def test_stream_hands_out_the_chunks_and_reports_progress() -> None:
    served = Served(chunks=[b"the ", b"", b"content"], headers={"Content-Length": "11"})
    calls: list[tuple[int, int | None]] = []
    async with served.session() as op:
        att = wrap(op, attachment_doc())
        got = [c async for c in att.stream(progress=lambda d, t: calls.append((d, t)))]
    assert got == [b"the ", b"", b"content"]
    assert calls == [(4, 11), (4, 11), (11, 11)]
    assert served.closed == 1


@pytest.mark.parametrize("length", [None, "eleven", ""])
async def test_progress_without_a_usable_length(length: str | None) -> None:
    headers = {} if length is None else {"Content-Length": length}
    calls: list[tuple[int, int | None]] = []
    async with Served(headers=headers).session() as op:
        await wrap(op, attachment_doc()).download(progress=lambda d, t: calls.append((d, t)))
    assert calls == [(11, None)]


async def test_a_stream_checks_the_digest_at_the_end() -> None:
    async with Served(chunks=[b"a", b"b"]).session() as op:
        got: list[bytes] = []

        async def consume() -> None:
            async for chunk in wrap(op, attachment_doc()).stream():
                got.append(chunk)

        with pytest.raises(DigestMismatch):
            await consume()
        assert got == [b"a", b"b"]  # every chunk first
        assert [c async for c in wrap(op, attachment_doc()).stream(verify=False)] == [b"a", b"b"]


# -- into memory --------------------------------------------------------------------------------


async def test_memory_downloads_are_capped_by_max_response_size() -> None:
    async with Served(chunks=[b"1234", b"5"]).session(max_response_size=5) as op:
        att = wrap(op, attachment_doc(digest=None))
        assert await att.download() == b"12345"  # exactly the cap
        op.max_response_size = 4
        with pytest.raises(ProtocolError) as info:
            await att.download()
        op.max_response_size = None
        assert await att.download() == b"12345"
    assert str(info.value) == (
        "the attachment is larger than max_response_size (4 bytes): download it to a file "
        f"(download(path)) or use stream(); from {BASE}{API}/attachments/7/content"
    )
    assert info.value.url == f"{BASE}{API}/attachments/7/content"


# -- to a file object ---------------------------------------------------------------------------


class Sink:
    """A binary file object that records its writes."""

    def __init__(self, fail: bool = False) -> None:
        self.writes: list[bytes] = []
        self.fail = fail

    def write(self, data: bytes) -> int:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.writes.append(data)
        return len(data)


async def test_writes_to_a_file_object_are_buffered() -> None:
    chunks = [b"a" * (WRITE_BUFFER - 1), b"b", b"c" * 5, b"d" * WRITE_BUFFER, b"e"]
    served = Served(chunks=chunks)
    sink = Sink()
    async with served.session() as op:
        written = await wrap(op, attachment_doc(digest=None)).download(sink)  # type: ignore[arg-type]
    assert written == 2 * WRITE_BUFFER + 6
    assert [len(w) for w in sink.writes] == [WRITE_BUFFER, WRITE_BUFFER + 5, 1]
    assert b"".join(sink.writes) == b"".join(chunks)
    assert [type(w) for w in sink.writes] == [bytes] * 3
    assert WRITE_BUFFER == 1024 * 1024


async def test_an_empty_download_writes_nothing() -> None:
    sink = Sink()
    async with Served(b"").session() as op:
        att = wrap(
            op, attachment_doc(digest={"algorithm": "md5", "hash": hashlib.md5().hexdigest()})
        )
        assert await att.download(sink) == 0  # type: ignore[arg-type]
        assert await att.download(io.BytesIO()) == 0
    assert sink.writes == []


async def test_a_failed_write_releases_the_answer_at_once() -> None:
    served = Served()
    async with served.session() as op:
        with pytest.raises(OSError, match="No space left"):
            await wrap(op, attachment_doc()).download(Sink(fail=True))  # type: ignore[arg-type]
        assert served.closed == 1


@pytest.mark.parametrize(("target", "name"), [(io.StringIO(), "StringIO"), (12, "int")])
async def test_download_targets_are_checked(target: Any, name: str) -> None:
    served = Served()
    async with served.session() as op:
        with pytest.raises(TypeError) as info:
            await wrap(op, attachment_doc()).download(target)
    assert str(info.value) == (
        f"download() writes to a path (str or os.PathLike) or a binary file object, not {name}"
    )
    assert served.requests == []


# -- to a path ----------------------------------------------------------------------------------


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


async def test_a_path_is_written_through_a_temporary_file(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def look(done: int, total: int | None) -> None:
        seen.append(names(tmp_path))

    target = tmp_path / "out.bin"
    async with Served(chunks=[b"the ", b"content"]).session() as op:
        assert await wrap(op, attachment_doc()).download(target, progress=look) == 11
        assert await wrap(op, attachment_doc()).download(str(target)) == 11
    assert target.read_bytes() == CONTENT
    assert names(tmp_path) == ["out.bin"]
    [temporary] = seen[0]
    assert temporary.startswith(".out.bin.")
    assert temporary.endswith(".part")
    assert seen[1] == [temporary]
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()


async def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    async with Served().session() as op:
        await wrap(op, attachment_doc()).download(target)
    assert target.read_bytes() == CONTENT
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert oct(target.stat().st_mode) == oct(stat.S_IFREG | 0o640)


async def test_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with Served().session() as op:
        assert await wrap(op, attachment_doc()).download("rel.bin") == 11
    assert names(tmp_path) == ["rel.bin"]


@pytest.mark.parametrize("existing", [False, True])
async def test_a_failed_download_leaves_the_target_as_it_was(
    tmp_path: Path, existing: bool
) -> None:
    target = tmp_path / "out.bin"
    if existing:
        target.write_bytes(b"previous")
    served = Served(b"tampered")
    async with served.session() as op:
        with pytest.raises(DigestMismatch):
            await wrap(op, attachment_doc()).download(target)

    class Stop(Exception):
        pass

    def stop(done: int, total: int | None) -> None:
        raise Stop

    async with Served().session() as op:
        with pytest.raises(Stop):
            await wrap(op, attachment_doc()).download(target, progress=stop)
    assert names(tmp_path) == (["out.bin"] if existing else [])
    if existing:
        assert target.read_bytes() == b"previous"
    assert served.closed == 1


async def test_an_error_answer_leaves_no_file(tmp_path: Path) -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        error = {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound", "message": "gone"}
        return HttpResponse.json(error, 404)

    async with OpenProject(BASE, api_key="k", transport=MockTransport(handler)) as op:
        with pytest.raises(NotFound):
            await wrap(op, attachment_doc()).download(tmp_path / "x.bin")
    assert names(tmp_path) == []


async def test_a_failed_cleanup_does_not_hide_the_failure(tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def remove_and_stop(done: int, total: int | None) -> None:
        for name in names(tmp_path):
            (tmp_path / name).unlink()
        raise Stop

    async with Served().session() as op:
        with pytest.raises(Stop):
            await wrap(op, attachment_doc()).download(tmp_path / "x.bin", progress=remove_and_stop)
    assert names(tmp_path) == []


async def test_a_file_object_that_writes_text_is_refused() -> None:
    class TextLike:
        def write(self, data: bytes) -> str:
            return "written"

    async with Served().session() as op:
        with pytest.raises(TypeError) as info:
            await wrap(op, attachment_doc()).download(TextLike())  # type: ignore[arg-type]
    assert str(info.value) == "the file object must be opened in binary mode ('wb')"
