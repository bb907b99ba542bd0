"""Uploads without sockets (``MockTransport``): exact multipart bodies and headers for every
upload path (to a container, containerless, direct to the object storage), what goes to the
storage (nothing of the session's), the answers an upload may get."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openproject_async import Attachment, HttpRequest, HttpResponse, OpenProject
from openproject_async._attachments import ANSWER_CAP
from openproject_async.errors import URN_PREFIX, NotFound, ProtocolError, UnprocessableContent
from openproject_async.testing import MockTransport

BASE = "https://op.test"
API = "/api/v3"
STORAGE = "https://bucket.storage.test"
BASIC = "Basic " + base64.b64encode(b"apikey:k").decode()
HAL_ACCEPT = "application/hal+json, application/json"


def attachment(att_id: int = 9, **extra: Any) -> dict[str, Any]:
    return {
        "_type": "Attachment",
        "id": att_id,
        "fileName": "a.txt",
        "_links": {"self": {"href": f"{API}/attachments/{att_id}"}},
        **extra,
    }


def work_package(*, direct: bool = False) -> dict[str, Any]:
    links: dict[str, Any] = {
        "self": {"href": f"{API}/work_packages/2"},
        "addAttachment": {"href": f"{API}/work_packages/2/attachments", "method": "post"},
    }
    if direct:
        links["prepareAttachment"] = {
            "href": f"{API}/work_packages/2/attachments/prepare",
            "method": "post",
        }
    return {"_type": "WorkPackage", "id": 2, "lockVersion": 1, "_links": links}


PREPARED = {
    "_type": "AttachmentUpload",
    "fileName": "scan.pdf",
    "_links": {
        "addAttachment": {
            "href": f"{STORAGE}/upload",
            "method": "post",
            "form_fields": {"key": "uploads/9/scan.pdf", "policy": 5, "x-amz-signature": "s1g"},
        },
        "completeUpload": {"href": f"{API}/attachments/9/uploaded"},
    },
}


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class Recorder:
    """Answers requests from ``answer(request)``; keeps every request with its body read."""

    def __init__(self, answer: Callable[[HttpRequest], HttpResponse]) -> None:
        self.answer = answer
        self.sent: list[Sent] = []
        self.transport = MockTransport(self.handle)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        body = request.body
        if body is not None and not isinstance(body, bytes):
            body = b"".join([chunk async for chunk in body])
        self.sent.append(Sent(request.method, str(request.url), dict(request.headers), body))
        return self.answer(request)


def default_answer(request: HttpRequest) -> HttpResponse:
    path = request.url.path
    if request.url.host == "bucket.storage.test":
        return HttpResponse(204)
    if path.endswith("/prepare"):
        return HttpResponse.json(PREPARED, 201)
    if request.method == "GET" and path == f"{API}/attachments/9/uploaded":
        return HttpResponse.json(attachment(fileName="scan.pdf"))
    if request.method == "POST" and path.endswith("attachments"):
        return HttpResponse.json(attachment(), 201)
    return HttpResponse.json({"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound"}, 404)


@pytest.fixture
def rec() -> Recorder:
    return Recorder(default_answer)


@pytest.fixture
async def op(rec: Recorder) -> AsyncIterator[OpenProject]:
    async with OpenProject(
        BASE, api_key="k", headers={"X-Extra": "1"}, retry=None, transport=rec.transport
    ) as session:
        yield session


def boundary_of(sent: Sent) -> str:
    found = re.fullmatch(
        r"multipart/form-data; boundary=(openproject-async-[0-9a-f]{32})",
        sent.headers["Content-Type"],
    )
    assert found is not None, sent.headers
    return found.group(1)


def wire(sent: Sent) -> bytes:
    """The body with its random boundary written as ``BOUNDARY``."""
    assert sent.body is not None
    return sent.body.replace(boundary_of(sent).encode(), b"BOUNDARY")


def multipart_headers(sent: Sent, *, session: bool) -> dict[str, str]:
    assert sent.body is not None
    expected = {
        "Accept": HAL_ACCEPT,
        "Content-Type": f"multipart/form-data; boundary={boundary_of(sent)}",
        "Content-Length": str(len(sent.body)),
    }
    if session:
        expected.update({"Authorization": BASIC, "X-Extra": "1"})
    return expected


def metadata_part(meta: bytes) -> bytes:
    return (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="metadata"\r\n'
        b"Content-Type: application/json\r\n\r\n" + meta + b"\r\n"
    )


def file_part(name: bytes, media_type: bytes, content: bytes) -> bytes:
    return (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\nContent-Type: '
        + media_type
        + b"\r\n\r\n"
        + content
        + b"\r\n--BOUNDARY--\r\n"
    )


# -- uploads to a container ---------------------------------------------------------------------


async def test_upload_from_a_path_to_a_container(
    rec: Recorder, op: OpenProject, tmp_path: Path
) -> None:
    path = tmp_path / "diagram.png"
    path.write_bytes(b"\x89PNG\r\n--BOUNDARY-ish")
    wp = op.wrap(work_package())
    progress: list[tuple[int, int | None]] = []
    att = await wp.addAttachment(
        path, description="The *plan*", notify=False, progress=lambda d, t: progress.append((d, t))
    )
    assert type(att) is Attachment
    assert att.href == f"{API}/attachments/9"
    [sent] = rec.sent
    assert (sent.method, sent.url) == (
        "POST",
        f"{BASE}{API}/work_packages/2/attachments?notify=false",
    )
    assert sent.headers == multipart_headers(sent, session=True)
    assert wire(sent) == metadata_part(
        b'{"fileName":"diagram.png","description":{"raw":"The *plan*"}}'
    ) + file_part(b"diagram.png", b"image/png", b"\x89PNG\r\n--BOUNDARY-ish")
    assert progress == [(20, 20)]


async def test_upload_from_bytes_needs_a_name_and_takes_a_media_type(
    rec: Recorder, op: OpenProject
) -> None:
    wp = op.wrap(work_package())
    with pytest.raises(TypeError) as info:
        await wp.addAttachment(b"x")
    assert str(info.value) == "give file_name= when uploading bytes or an unnamed file object"
    assert rec.sent == []
    await wp.addAttachment(b"hello", file_name='Über "v2".bin', content_type="x/y")
    [sent] = rec.sent
    assert sent.url == f"{BASE}{API}/work_packages/2/attachments"
    assert wire(sent) == metadata_part('{"fileName":"Über \\"v2\\".bin"}'.encode()) + file_part(
        "Über %22v2%22.bin".encode(), b"x/y", b"hello"
    )


async def test_upload_from_a_file_object_uses_its_name(rec: Recorder, op: OpenProject) -> None:
    fh = io.BytesIO(b"0123456789")
    fh.name = "/some/where/log.txt"
    fh.seek(4)
    await op.upload(fh, description="")
    [sent] = rec.sent
    assert (sent.method, sent.url) == ("POST", f"{BASE}{API}/attachments")
    assert sent.headers == multipart_headers(sent, session=True)
    assert wire(sent) == metadata_part(
        b'{"fileName":"log.txt","description":{"raw":""}}'
    ) + file_part(b"log.txt", b"text/plain", b"456789")


async def test_the_given_file_name_wins_over_the_path_name(
    rec: Recorder, op: OpenProject, tmp_path: Path
) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    await op.upload(str(path), "renamed.csv")
    assert wire(rec.sent[0]) == metadata_part(b'{"fileName":"renamed.csv"}') + file_part(
        b"renamed.csv", b"text/csv", b"abc"
    )


async def test_a_stream_goes_without_a_content_length(rec: Recorder, op: OpenProject) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = io.BytesIO(b"piped")

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: Any) -> int:
            chunk = self.data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    await op.upload(Pipe(), file_name="p.bin")  # type: ignore[arg-type]
    [sent] = rec.sent
    assert "Content-Length" not in sent.headers
    assert wire(sent).endswith(file_part(b"p.bin", b"application/octet-stream", b"piped"))


async def test_an_upload_is_sent_once() -> None:
    answers = Recorder(
        lambda r: HttpResponse.json(
            {"_type": "Error", "errorIdentifier": URN_PREFIX + "InternalServerError"}, 503
        )
    )
    async with OpenProject(BASE, api_key="k", transport=answers.transport) as session:
        wp = session.wrap(work_package())
        with pytest.raises(Exception, match="503"):
            await wp.addAttachment(b"x", file_name="x.txt", retry=True)
    assert len(answers.sent) == 1


# -- the answer to an upload --------------------------------------------------------------------


async def answering(response: HttpResponse) -> tuple[Recorder, OpenProject]:
    rec = Recorder(lambda r: response)
    return rec, OpenProject(BASE, api_key="k", retry=None, transport=rec.transport)


async def test_an_empty_answer() -> None:
    _rec, op = await answering(HttpResponse(204))
    async with op:
        wp = op.wrap(work_package())
        assert await wp.addAttachment(b"x", file_name="x.txt") is None
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt")
    assert str(info.value) == f"empty answer to the upload; from {BASE}{API}/attachments"
    assert info.value.url == f"{BASE}{API}/attachments"


async def test_an_answer_that_is_not_json_names_its_content_type() -> None:
    _rec, op = await answering(HttpResponse(201, {"Content-Type": "text/html"}, body=b"<p>ok</p>"))
    async with op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt")
    err = info.value
    assert (err.status, err.content_type, err.snippet, err.url) == (
        201,
        "text/html",
        "<p>ok</p>",
        f"{BASE}{API}/attachments",
    )
    _rec, op = await answering(HttpResponse(200, body=b"{}"))
    async with op:
        with pytest.raises(ProtocolError) as untyped:
            await op.upload(b"x", file_name="x.txt")
    assert untyped.value.content_type == ""


async def test_an_error_answer_is_its_typed_error() -> None:
    error = {
        "_type": "Error",
        "errorIdentifier": URN_PREFIX + "PropertyConstraintViolation",
        "message": "File is too large.",
    }
    _rec, op = await answering(HttpResponse.json(error, 422))
    async with op:
        with pytest.raises(UnprocessableContent) as info:
            await op.upload(b"x", file_name="x.txt")
    assert (info.value.status, info.value.message) == (422, "File is too large.")


async def test_the_answer_is_read_up_to_its_cap() -> None:
    def sized(size: int) -> HttpResponse:
        head, tail = b'{"_type":"Attachment","id":9,"pad":"', b'"}'
        doc = head + b"a" * (size - len(head) - len(tail)) + tail

        async def chunks() -> AsyncIterator[bytes]:
            yield doc[:1000]
            yield doc[1000:]

        return HttpResponse(201, {"Content-Type": "application/hal+json"}, chunks=chunks)

    _rec, op = await answering(sized(ANSWER_CAP))
    async with op:
        att = await op.upload(b"x", file_name="x.txt")
        assert (att.id, len(att.pad)) == (9, ANSWER_CAP - 38)
    _rec, op = await answering(sized(ANSWER_CAP + 1))
    async with op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt")
    assert str(info.value) == (
        f"the answer to the upload is larger than {ANSWER_CAP} bytes; from {BASE}{API}/attachments"
    )
    assert ANSWER_CAP == 16 * 1024 * 1024


# -- direct uploads -----------------------------------------------------------------------------


async def test_a_direct_upload_prepares_uploads_to_the_storage_and_completes(
    rec: Recorder, op: OpenProject
) -> None:
    wp = op.wrap(work_package(direct=True))
    with io.BytesIO(b"signed") as fh:
        att = await wp.addAttachment(fh, file_name="scan.pdf", description="contract", notify=False)
    assert type(att) is Attachment
    assert att.fileName == "scan.pdf"
    prepare, storage, complete = rec.sent
    assert (prepare.method, prepare.url) == (
        "POST",
        f"{BASE}{API}/work_packages/2/attachments/prepare?notify=false",
    )
    assert prepare.headers == multipart_headers(prepare, session=True)
    assert (
        wire(prepare)
        == metadata_part(
            b'{"fileName":"scan.pdf","fileSize":6,"contentType":"application/pdf",'
            b'"description":{"raw":"contract"}}'
        )
        + b"--BOUNDARY--\r\n"
    )
    # the storage's form: its fields in order, then the file; nothing of the session's
    assert (storage.method, storage.url) == ("POST", f"{STORAGE}/upload")
    assert storage.headers == multipart_headers(storage, session=False)
    assert wire(storage) == (
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="key"\r\n\r\nuploads/9/scan.pdf\r\n'
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="policy"\r\n\r\n5\r\n'
        b'--BOUNDARY\r\nContent-Disposition: form-data; name="x-amz-signature"\r\n\r\ns1g\r\n'
    ) + file_part(b"scan.pdf", b"application/pdf", b"signed")
    assert (complete.method, complete.url, complete.body) == (
        "GET",
        f"{BASE}{API}/attachments/9/uploaded",
        None,
    )
    assert complete.headers == {"Accept": HAL_ACCEPT, "Authorization": BASIC, "X-Extra": "1"}


async def test_direct_uploads_from_the_prepare_link_and_containerless(
    rec: Recorder, op: OpenProject
) -> None:
    wp = op.wrap(work_package(direct=True))
    await wp.prepareAttachment(b"abc", file_name="a.txt")
    att = await op.upload(b"abc", "a.txt", direct=True)
    assert type(att) is Attachment
    assert [(s.method, s.url) for s in rec.sent] == [
        ("POST", f"{BASE}{API}/work_packages/2/attachments/prepare"),
        ("POST", f"{STORAGE}/upload"),
        ("GET", f"{BASE}{API}/attachments/9/uploaded"),
        ("POST", f"{BASE}{API}/attachments/prepare"),
        ("POST", f"{STORAGE}/upload"),
        ("GET", f"{BASE}{API}/attachments/9/uploaded"),
    ]
    assert (
        wire(rec.sent[3])
        == metadata_part(b'{"fileName":"a.txt","fileSize":3,"contentType":"text/plain"}')
        + b"--BOUNDARY--\r\n"
    )


async def test_direct_false_keeps_the_plain_upload(rec: Recorder, op: OpenProject) -> None:
    wp = op.wrap(work_package(direct=True))
    await wp.addAttachment(b"abc", file_name="a.txt", direct=False)
    await wp.prepareAttachment(b"abc", file_name="a.txt", direct=False)
    await op.upload(b"abc", "a.txt")
    assert [(s.method, s.url) for s in rec.sent] == [
        ("POST", f"{BASE}{API}/work_packages/2/attachments"),
        ("POST", f"{BASE}{API}/work_packages/2/attachments/prepare"),  # as a plain upload
        ("POST", f"{BASE}{API}/attachments"),
    ]
    assert all(wire(s).endswith(file_part(b"a.txt", b"text/plain", b"abc")) for s in rec.sent)


async def test_a_prepare_link_that_is_a_link_array_is_not_used(
    rec: Recorder, op: OpenProject
) -> None:
    doc = work_package()
    doc["_links"]["prepareAttachment"] = [{"href": "/elsewhere", "method": "post"}]
    await op.wrap(doc).addAttachment(b"abc", file_name="a.txt")
    assert [(s.method, s.url) for s in rec.sent] == [
        ("POST", f"{BASE}{API}/work_packages/2/attachments")
    ]


async def test_a_direct_upload_needs_the_size(rec: Recorder, op: OpenProject) -> None:
    wp = op.wrap(work_package(direct=True))
    unsized = io.BufferedReader(io.BytesIO(b"abc"))  # type: ignore[arg-type]
    unsized.seekable = lambda: False  # type: ignore[method-assign]
    with pytest.raises(TypeError) as info:
        await wp.addAttachment(unsized, file_name="a.txt")
    assert str(info.value) == (
        "a direct upload needs the file's size: give a path, bytes or a seekable file"
    )
    assert rec.sent == []


@pytest.mark.parametrize(
    "links",
    [
        {},
        {"completeUpload": {"href": "/c"}},
        {"addAttachment": {"href": f"{STORAGE}/u"}},
        {"addAttachment": [], "completeUpload": {"href": "/c"}},
        {"addAttachment": [{"href": f"{STORAGE}/u"}], "completeUpload": {"href": "/c"}},
        {"addAttachment": f"{STORAGE}/u", "completeUpload": {"href": "/c"}},
        {"addAttachment": {"href": 5}, "completeUpload": {"href": "/c"}},
        {"addAttachment": {"href": f"{STORAGE}/u"}, "completeUpload": {"href": None}},
        {
            "addAttachment": {"href": f"{STORAGE}/u", "form_fields": ["a"]},
            "completeUpload": {"href": "/c"},
        },
    ],
)
async def test_an_unusable_prepared_upload_is_a_protocol_error(links: dict[str, Any]) -> None:
    recorder, op = await answering(
        HttpResponse.json({"_type": "AttachmentUpload", "_links": links}, 201)
    )
    async with op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt", direct=True)
    assert str(info.value) == (
        "the prepared upload has no usable addAttachment form or completeUpload link; "
        f"from {BASE}{API}/attachments/prepare"
    )
    assert len(recorder.sent) == 1


async def test_a_prepared_upload_without_form_fields_sends_the_file_alone() -> None:
    prepared = {
        "_type": "AttachmentUpload",
        "_links": {
            "addAttachment": {"href": f"{STORAGE}/u", "form_fields": None},
            "completeUpload": {"href": f"{API}/attachments/9/uploaded"},
        },
    }

    def answer(request: HttpRequest) -> HttpResponse:
        if request.url.path.endswith("/prepare"):
            return HttpResponse.json(prepared, 201)
        return default_answer(request)

    rec = Recorder(answer)
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        await op.upload(b"x", file_name="x.txt", direct=True)
    assert wire(rec.sent[1]) == file_part(b"x.txt", b"text/plain", b"x")


async def test_an_empty_answer_to_the_prepare_request() -> None:
    _rec, op = await answering(HttpResponse(204))
    async with op:
        with pytest.raises(ProtocolError, match="no usable addAttachment form"):
            await op.upload(b"x", file_name="x.txt", direct=True)


async def test_the_storage_answer_is_not_decoded_but_its_status_counts() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        if request.url.host == "bucket.storage.test":
            return HttpResponse(201, {"Content-Type": "application/xml"}, body=b"<PostResponse/>")
        return default_answer(request)

    rec = Recorder(answer)
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        att = await op.upload(b"x", file_name="x.txt", direct=True)
    assert att.id == 9


@pytest.mark.parametrize("status", [301, 303, 307])
async def test_a_redirect_from_the_storage_is_not_followed(status: int) -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        if request.url.host == "bucket.storage.test":
            return HttpResponse(status, {"Location": f"{BASE}/steal"})
        return default_answer(request)

    rec = Recorder(answer)
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt", direct=True)
    assert str(info.value) == (
        f"the upload was answered with a redirect; status {status}; from {STORAGE}/upload"
    )
    assert (info.value.status, info.value.url) == (status, f"{STORAGE}/upload")
    assert [s.url for s in rec.sent] == [f"{BASE}{API}/attachments/prepare", f"{STORAGE}/upload"]


async def test_an_error_from_the_storage_is_raised() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        if request.url.host == "bucket.storage.test":
            return HttpResponse(403, {"Content-Type": "application/xml"}, body=b"<Error/>")
        return default_answer(request)

    rec = Recorder(answer)
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"x", file_name="x.txt", direct=True)
    assert (info.value.status, info.value.url) == (403, f"{STORAGE}/upload")
    assert len(rec.sent) == 2  # not completed


async def test_upload_sources_are_named_by_the_call(op: OpenProject) -> None:
    wp = op.wrap(work_package())
    with pytest.raises(TypeError, match=r"^addAttachment takes the file as bytes"):
        await wp.addAttachment(12, file_name="a.txt")
    with pytest.raises(TypeError, match=r"^upload takes the file as bytes"):
        await op.upload(12, file_name="a.txt")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^prepareAttachment takes the file as bytes"):
        await op.wrap(work_package(direct=True)).prepareAttachment(12, file_name="a.txt")


async def test_a_missing_attachment_answer_is_its_error(rec: Recorder, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["addAttachment"]["href"] = f"{API}/work_packages/404/files"
    with pytest.raises(NotFound):
        await op.wrap(doc).addAttachment(b"x", file_name="x.txt")


async def test_only_attachment_links_upload(rec: Recorder, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["attachments"] = {"href": f"{API}/work_packages/2/attachments", "method": "post"}
    with pytest.raises(TypeError) as info:
        await op.wrap(doc).attachments(b"x", file_name="x.txt")
    assert str(info.value) == "'attachments' takes keyword arguments only"
    assert rec.sent == []


async def test_progress_of_direct_and_containerless_uploads(rec: Recorder, op: OpenProject) -> None:
    calls: list[tuple[int, int | None]] = []

    def progress(done: int, total: int | None) -> None:
        calls.append((done, total))

    await op.upload(b"abc", "a.bin", "x/y", progress=progress)
    await op.upload(b"abcd", "a.txt", direct=True, progress=progress)
    await op.wrap(work_package(direct=True)).addAttachment(b"ab", file_name="a", progress=progress)
    assert calls == [(3, 3), (4, 4), (2, 2)]
    assert wire(rec.sent[0]).endswith(file_part(b"a.bin", b"x/y", b"abc"))


async def test_direct_true_uses_the_prepare_link(rec: Recorder, op: OpenProject) -> None:
    wp = op.wrap(work_package(direct=True))
    await wp.addAttachment(b"abc", file_name="a.txt", direct=True)
    assert [(s.method, s.url) for s in rec.sent] == [
        ("POST", f"{BASE}{API}/work_packages/2/attachments/prepare"),
        ("POST", f"{STORAGE}/upload"),
        ("GET", f"{BASE}{API}/attachments/9/uploaded"),
    ]
    rec.sent.clear()
    await op.wrap(work_package()).addAttachment(b"abc", file_name="a.txt", direct=True)
    assert [(s.method, s.url) for s in rec.sent] == [
        ("POST", f"{BASE}{API}/work_packages/2/attachments")  # no prepare link: plain
    ]


def moving(request: HttpRequest) -> HttpResponse:
    if request.url.path == f"{API}/attachments":
        return HttpResponse(307, {"Location": "/moved"})
    return HttpResponse.json(attachment(), 201)


async def test_a_307_sends_the_upload_again(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"on disk")
    rec = Recorder(moving)
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        att = await op.upload(path)
    assert att.id == 9
    first, second = rec.sent
    assert (first.url, second.url) == (f"{BASE}{API}/attachments", f"{BASE}/moved")
    assert second.body == first.body
    assert wire(second).endswith(file_part(b"f.bin", b"application/octet-stream", b"on disk"))
    assert second.headers["Authorization"] == BASIC


async def test_a_307_of_a_stream_is_a_clear_error() -> None:
    rec = Recorder(moving)
    unsized = io.BufferedReader(io.BytesIO(b"abc"))  # type: ignore[arg-type]
    unsized.seekable = lambda: False  # type: ignore[method-assign]
    async with OpenProject(BASE, api_key="k", transport=rec.transport) as op:
        with pytest.raises(ProtocolError, match="the body is a stream that was sent already"):
            await op.upload(unsized, file_name="s.bin")
    assert len(rec.sent) == 1
