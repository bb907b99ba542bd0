"""Files end to end against the built-in server and its fake object storage: every upload
path (container, containerless, direct to storage) and every download path (to a path, a
file object, memory, a stream), redirects of ``/content`` to the storage origin, digests,
atomic writes, claiming containerless attachments on create and on update.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openproject_async import Attachment, OpenProject
from openproject_async.errors import DigestMismatch, NotFound, ProtocolError
from openproject_async.testing import FakeOpenProject, Fault

API = "/api/v3"
MIB = 1024 * 1024
SIZES = [0, 1, MIB + 1]
#: the session's default answer cap (``max_response_size``, 64 MiB) when it has none yet
DEFAULT_CAP = 64 * MIB


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=5, direct_uploads=True) as fake:
        fake.direct_uploads = False  # switched on by the tests that want it
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_key) as session:
        yield session


def names(directory: Path) -> list[str]:
    """The names in a directory (temporary files included), sorted."""
    return sorted(p.name for p in directory.iterdir())


def payload(size: int, seed: int = 0) -> bytes:
    """Reproducible random bytes (the same for the same size and seed)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


async def download_every_way(att: Attachment, tmp_path: Path, expected: bytes) -> None:
    target = tmp_path / "out.bin"
    assert await att.download(target) == len(expected)
    assert target.read_bytes() == expected
    sink = io.BytesIO()
    assert await att.download(sink) == len(expected)
    assert sink.getvalue() == expected
    assert await att.download() == expected
    assert b"".join([chunk async for chunk in att.stream()]) == expected
    assert [n for n in names(tmp_path) if n.startswith(".")] == []  # no temporary file left


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("redirect", [False, True], ids=["direct-content", "redirected"])
async def test_upload_to_a_container_and_back(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path, size: int, redirect: bool
) -> None:
    content = payload(size, 1)
    source = tmp_path / "upload" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(content)
    server.content_redirect = redirect
    wp = await op.get(f"{API}/work_packages/1")
    att = await wp.addAttachment(source, description="log")
    assert isinstance(att, Attachment)
    assert (att.fileName, att.fileSize, att.description["raw"]) == ("data.bin", size, "log")
    assert att.digest == {"algorithm": "md5", "hash": hashlib.md5(content).hexdigest()}
    stored = server.store.attachments[att.id]
    assert (stored.container_id, stored.content) == (1, content)
    upload = next(r for r in server.requests if r.path.endswith("/work_packages/1/attachments"))
    assert upload.headers["Content-Length"] == str(len(upload.body))
    assert "Transfer-Encoding" not in upload.headers
    await download_every_way(att, tmp_path, content)


@pytest.mark.parametrize("size", SIZES)
async def test_containerless_upload_from_bytes_and_back(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path, size: int
) -> None:
    content = payload(size, 2)
    att = await op.upload(content, file_name="notes.txt")
    assert isinstance(att, Attachment)
    assert (att.fileName, att.contentType, att.fileSize) == ("notes.txt", "text/plain", size)
    assert server.store.attachments[att.id].container_id == 0
    assert [r.path for r in server.requests if r.method == "POST"] == [f"{API}/attachments"]
    await download_every_way(att, tmp_path, content)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("redirect", [False, True], ids=["direct-content", "redirected"])
async def test_direct_upload_through_the_storage_and_back(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path, size: int, redirect: bool
) -> None:
    server.direct_uploads = True
    server.content_redirect = redirect
    content = payload(size, 3)
    wp = await op.get(f"{API}/work_packages/2")
    assert wp.data["_links"]["prepareAttachment"] == {
        "href": f"{API}/work_packages/2/attachments/prepare",
        "method": "post",
    }
    with io.BytesIO(content) as fh:
        att = await wp.addAttachment(fh, file_name="scan.pdf", description="signed")
    assert isinstance(att, Attachment)
    assert (att.fileName, att.contentType, att.fileSize) == ("scan.pdf", "application/pdf", size)
    stored = server.store.attachments[att.id]
    assert (stored.container_id, stored.content, stored.description) == (2, content, "signed")
    api_calls = [(r.method, r.path) for r in server.requests if "attachments" in r.path]
    assert api_calls[:2] == [
        ("POST", f"{API}/work_packages/2/attachments/prepare"),
        ("GET", f"{API}/attachments/{att.id}/uploaded"),
    ]
    prepare = next(r for r in server.requests if r.path.endswith("/prepare"))
    assert b'"fileSize":%d' % size in prepare.body
    storage = server.storage
    assert storage is not None
    to_storage = [r for r in storage.requests if r.method == "POST"]
    assert [(r.path, r.status) for r in to_storage] == [("/upload", 201)]
    assert "Authorization" not in to_storage[0].headers
    assert to_storage[0].headers["Content-Length"] != "0"
    await download_every_way(att, tmp_path, content)


@pytest.mark.parametrize("size", SIZES)
async def test_direct_containerless_upload(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path, size: int
) -> None:
    server.direct_uploads = True
    content = payload(size, 4)
    path = tmp_path / "in" / "image.png"
    path.parent.mkdir()
    path.write_bytes(content)
    att = await op.upload(path, direct=True)
    assert (att.fileName, att.contentType) == ("image.png", "image/png")
    assert server.store.attachments[att.id].container_id == 0
    assert [r.path for r in server.requests if r.method == "POST"] == [f"{API}/attachments/prepare"]
    assert isinstance(att, Attachment)
    await download_every_way(att, tmp_path, content)


async def test_the_container_upload_stays_plain_when_asked(
    server: FakeOpenProject, op: OpenProject
) -> None:
    server.direct_uploads = True
    wp = await op.get(f"{API}/work_packages/2")
    att = await wp.addAttachment(b"x", file_name="x.txt", direct=False)
    assert att.fileSize == 1
    assert [r.path for r in server.requests if r.method == "POST"] == [
        f"{API}/work_packages/2/attachments"
    ]


async def test_a_download_larger_than_the_answer_cap_goes_to_a_file(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    cap = getattr(op, "max_response_size", None) or DEFAULT_CAP
    content = os.urandom(cap + 1)
    att_id = (await op.upload(b"placeholder", file_name="big.bin")).id
    server.store.attachments[att_id].content = content
    att = await op.get(f"{API}/attachments/{att_id}", expect=Attachment)
    target = tmp_path / "big.bin"
    assert await att.download(target) == cap + 1
    assert target.stat().st_size == cap + 1
    digest = hashlib.md5(target.read_bytes()).hexdigest()
    assert digest == att.digest["hash"] == hashlib.md5(content).hexdigest()


async def test_a_download_into_memory_is_capped(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    att = await op.upload(payload(5000), file_name="a.bin")
    op.max_response_size = 4096  # type: ignore[attr-defined]  # (hardening adds the setting)
    with pytest.raises(ProtocolError, match=r"larger than max_response_size \(4096 bytes\)"):
        await att.download()
    assert await att.download(tmp_path / "a.bin") == 5000  # files are not capped


# -- redirects and credentials ----------------------------------------------------------------


async def test_content_redirect_to_the_storage_carries_no_credentials(
    server: FakeOpenProject, tmp_path: Path
) -> None:
    server.content_redirect = True
    secret_cookie = "_open_project_session=s3cr3t"
    async with OpenProject(
        server.url, api_key=server.api_key, headers={"Cookie": secret_cookie, "X-Extra": "1"}
    ) as op:
        att = await op.upload(b"content", file_name="c.txt")
        server.clear_requests()
        assert await att.download(tmp_path / "c.txt") == 7
    content_call = server.requests[-1]
    assert content_call.path == f"{API}/attachments/{att.id}/content"
    assert content_call.status == 302
    assert content_call.headers["Authorization"].startswith("Basic ")
    assert content_call.headers["Cookie"] == secret_cookie
    storage = server.storage
    assert storage is not None
    (fetch,) = [r for r in storage.requests if r.method == "GET"]
    assert fetch.path == f"/bucket/attachments/{att.id}/c.txt"
    assert fetch.status == 200
    assert {"Authorization", "Cookie", "X-Extra"} & set(fetch.headers) == set()
    assert (tmp_path / "c.txt").read_bytes() == b"content"


async def test_direct_upload_to_the_storage_carries_no_credentials(
    server: FakeOpenProject,
) -> None:
    server.direct_uploads = True
    async with OpenProject(
        server.url, api_key=server.api_key, headers={"Cookie": "a=b", "X-Extra": "1"}
    ) as op:
        await op.upload(b"abc", file_name="a.txt", direct=True)
    storage = server.storage
    assert storage is not None
    (upload,) = storage.requests
    assert {"Authorization", "Cookie", "X-Extra"} & set(upload.headers) == set()
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")


# -- digests and atomic writes ----------------------------------------------------------------


async def test_a_digest_mismatch_raises_and_leaves_no_file(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    att = await op.upload(b"original", file_name="o.txt")
    server.store.attachments[att.id].content = b"tampered"
    target = tmp_path / "o.txt"
    with pytest.raises(DigestMismatch) as caught:
        await att.download(target)
    err = caught.value
    assert (err.algorithm, err.expected, err.actual) == (
        "md5",
        hashlib.md5(b"original").hexdigest(),
        hashlib.md5(b"tampered").hexdigest(),
    )
    assert err.url == f"{server.url}{API}/attachments/{att.id}/content"
    assert names(tmp_path) == []
    with pytest.raises(DigestMismatch):
        await att.download()
    assert await att.download(target, verify=False) == 8  # asked not to check


async def test_an_interrupted_download_leaves_the_target_as_it_was(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    att = await op.upload(payload(3 * MIB), file_name="big.bin")
    target = tmp_path / "big.bin"
    target.write_bytes(b"previous version")

    class Stop(Exception):
        pass

    def stop_midway(done: int, total: int | None) -> None:
        assert total == 3 * MIB
        if done > MIB:
            raise Stop

    with pytest.raises(Stop):
        await att.download(target, progress=stop_midway)
    assert target.read_bytes() == b"previous version"
    assert names(tmp_path) == ["big.bin"]
    fresh = tmp_path / "fresh.bin"
    with pytest.raises(Stop):
        await att.download(fresh, progress=stop_midway)
    assert not fresh.exists()
    assert names(tmp_path) == ["big.bin"]


async def test_a_connection_cut_mid_download_leaves_no_file(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    att = await op.upload(payload(MIB + 1), file_name="cut.bin")
    server.faults.add(Fault("truncate", path=r"/content$", times=1))
    target = tmp_path / "cut.bin"
    with pytest.raises(ProtocolError, match="the answer was cut off") as caught:
        await att.download(target)
    assert caught.value.transient is True
    assert names(tmp_path) == []
    assert await att.download(target) == MIB + 1  # the next try is whole
    assert target.read_bytes() == payload(MIB + 1)


async def test_prepare_attachment_is_an_upload_too(
    server: FakeOpenProject, op: OpenProject
) -> None:
    server.direct_uploads = True
    wp = await op.get(f"{API}/work_packages/2")
    att = await wp.prepareAttachment(b"direct", file_name="d.txt")
    assert (att.fileName, att.fileSize) == ("d.txt", 6)
    assert server.store.attachments[att.id].content == b"direct"


async def test_a_download_that_fails_on_the_server_leaves_no_file(
    server: FakeOpenProject, op: OpenProject, tmp_path: Path
) -> None:
    att = await op.upload(b"abc", file_name="a.txt")
    del server.store.attachments[att.id]
    with pytest.raises(NotFound):
        await att.download(tmp_path / "a.txt")
    assert names(tmp_path) == []


async def test_download_targets_are_checked(op: OpenProject) -> None:
    att = await op.upload(b"abc", file_name="a.txt")
    wanted = r"a path \(str or os.PathLike\) or a binary file object, not StringIO"
    with pytest.raises(TypeError, match=wanted):
        await att.download(io.StringIO())


# -- claiming ---------------------------------------------------------------------------------


async def test_claim_on_create(server: FakeOpenProject, op: OpenProject) -> None:
    first = await op.upload(b"one", file_name="one.txt")
    second = await op.upload(b"two", file_name="two.txt")
    project = await op.get(f"{API}/projects/1")
    new = await project.submit(
        "createWorkPackage", subject="with files", type="Task", attachments=[first, second]
    )
    commit = next(r for r in reversed(server.requests) if r.method == "POST" and r.status == 201)
    assert commit.json()["_links"]["attachments"] == [
        {"href": f"{API}/attachments/{first.id}"},
        {"href": f"{API}/attachments/{second.id}"},
    ]
    owned = {a.id for a in server.store.attachments.values() if a.container_id == new.id}
    assert owned == {first.id, second.id}


async def test_claim_on_update_replaces_the_set(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/3")
    existing = await wp.addAttachment(b"old", file_name="old.txt")
    added = await op.upload(b"new", file_name="new.txt")
    wp = await wp.refresh()
    saved = await wp.save(attachments=[existing, added])
    assert saved.id == 3
    owned = {a.id for a in server.store.attachments.values() if a.container_id == 3}
    assert owned == {existing.id, added.id}
    patch = next(r for r in reversed(server.requests) if r.method == "PATCH")
    assert patch.json()["_links"]["attachments"] == [
        {"href": f"{API}/attachments/{existing.id}"},
        {"href": f"{API}/attachments/{added.id}"},
    ]


async def test_attachments_must_be_a_list(op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/3")
    with pytest.raises(TypeError, match="attachments= takes a list"):
        await wp.save(attachments=f"{API}/attachments/1")


# -- sources ----------------------------------------------------------------------------------


async def test_upload_sources_are_checked(op: OpenProject, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="give file_name="):
        await op.upload(b"x")
    with pytest.raises(FileNotFoundError, match=r"No such file or directory: '.*missing\.bin'"):
        await op.upload(tmp_path / "missing.bin")
    with pytest.raises(TypeError, match="binary mode"):
        await op.upload(io.StringIO("x"), file_name="a.txt")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="upload takes the file as bytes, a path"):
        await op.upload(12, file_name="a.txt")  # type: ignore[arg-type]


def test_attachment_is_the_wrapper_of_attachment_documents(op: OpenProject) -> None:
    doc: dict[str, Any] = {"_type": "Attachment", "id": 1, "_links": {"self": {"href": "/x"}}}
    att = op.wrap(doc)
    assert type(att) is Attachment
    assert att.content_href == "/x/content"


# -- redirects of uploads ---------------------------------------------------------------------


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


@pytest.fixture
async def redirecting() -> AsyncIterator[tuple[str, list[bytes]]]:
    """``POST /api/v3/attachments`` answers 307 to ``/moved``, which takes the upload."""
    bodies: list[bytes] = []

    async def moved(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.json_response(
            {"_type": "Attachment", "id": 9, "_links": {"self": {"href": f"{API}/attachments/9"}}},
            status=201,
        )

    async def first(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=307, headers={"Location": "/moved"})

    app = web.Application(client_max_size=16 * MIB)
    app.router.add_post(f"{API}/attachments", first)
    app.router.add_post("/moved", moved)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield str(test_server.make_url("")), bodies
    finally:
        await test_server.close()


async def test_a_307_resends_an_upload_from_a_path(
    redirecting: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    url, bodies = redirecting
    path = tmp_path / "f.bin"
    path.write_bytes(payload(MIB + 1))
    async with OpenProject(url, api_key="k") as op:
        att = await op.upload(path)
    assert att.id == 9
    (body,) = bodies
    assert payload(MIB + 1) in body
    assert body.count(b'name="file"') == 1


async def test_a_307_of_an_upload_from_a_stream_is_a_clear_error(
    redirecting: tuple[str, list[bytes]],
) -> None:
    url, bodies = redirecting
    async with OpenProject(url, api_key="k") as op:
        with pytest.raises(ProtocolError, match="the body is a stream that was sent already"):
            await op.upload(Pipe(b"streamed"), file_name="s.bin")  # type: ignore[arg-type]
    assert bodies == []


# -- the README's example -----------------------------------------------------------------------


async def test_the_readme_files_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    expected = [line[2:] for line in block.splitlines() if line.startswith("# ") and "[" in line]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build.log").write_bytes(b"all tests ok\n\n")
    code = compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    async with (
        FakeOpenProject(seed_size=3) as fake,
        OpenProject(fake.url, api_key=fake.api_key) as session,
    ):
        project = await session.get(f"{API}/projects/1")
        result = eval(code, {"op": session, "project": project})
        if result is not None:
            await result
    assert capsys.readouterr().out.splitlines() == expected
    assert (tmp_path / "copy.log").read_bytes() == b"all tests ok\n\n"
