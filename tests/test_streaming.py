"""Streamed exchanges without sockets (``MockTransport``): what goes to which origin, the
cross-origin policy, multipart bodies as they go on the wire, error answers."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from openproject_async import Attachment, HttpRequest, HttpResponse, OpenProject
from openproject_async._multipart import FileSource, MultipartBody
from openproject_async.errors import URN_PREFIX, CrossOriginRefused, NotFound
from openproject_async.testing import MockTransport

BASE = "https://op.test"
STORAGE = "https://bucket.storage.test"
CONTENT = b"remote bytes"


def attachment_doc(**extra: Any) -> dict[str, Any]:
    return {
        "_type": "Attachment",
        "id": 7,
        "fileName": "r.bin",
        "digest": {"algorithm": "md5", "hash": hashlib.md5(CONTENT).hexdigest()},
        "_links": {
            "self": {"href": "/api/v3/attachments/7"},
            "staticDownloadLocation": {"href": "/api/v3/attachments/7/content"},
        },
        **extra,
    }


def handler(request: HttpRequest) -> HttpResponse:
    if request.url.host == "bucket.storage.test":
        return HttpResponse(200, {"Content-Type": "application/octet-stream"}, body=CONTENT)
    if request.url.path == "/api/v3/attachments/7/content":
        return HttpResponse(302, {"Location": f"{STORAGE}/a/7?X-Amz-Signature=abc"})
    error = {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound", "message": "gone"}
    return HttpResponse.json(error, 404)


async def test_a_redirected_download_sends_credentials_only_to_the_server() -> None:
    transport = MockTransport(handler)
    async with OpenProject(
        BASE,
        token="t0ken",
        headers={"X-Tenant": "a", "Cookie": "c=1"},
        timeout=5,
        transport=transport,
    ) as op:
        att = op.wrap(attachment_doc())
        assert isinstance(att, Attachment)
        assert await att.download() == CONTENT
    first, second = transport.requests
    assert (str(first.url), first.headers["Authorization"]) == (
        f"{BASE}/api/v3/attachments/7/content",
        "Bearer t0ken",
    )
    assert (first.headers["X-Tenant"], first.headers["Cookie"], first.headers["Accept"]) == (
        "a",
        "c=1",
        "*/*",
    )
    assert str(second.url) == f"{STORAGE}/a/7?X-Amz-Signature=abc"
    assert {"Authorization", "X-Tenant", "Cookie"} & set(second.headers) == set()
    # a total limit would cut off large files: only connect and between-reads limits
    assert [(r.timeout.connect, r.timeout.total) for r in (first, second)] == [(5, None)] * 2


async def test_the_cross_origin_policy_applies_to_download_redirects() -> None:
    transport = MockTransport(handler)
    async with OpenProject(BASE, token="t", cross_origin="refuse", transport=transport) as op:
        att = op.wrap(attachment_doc())
        assert isinstance(att, Attachment)
        with pytest.raises(CrossOriginRefused, match="redirected from"):
            await att.download()
    assert len(transport.requests) == 1


async def test_an_error_answer_to_a_download_is_its_typed_error() -> None:
    async with OpenProject(BASE, token="t", transport=MockTransport(handler)) as op:
        att = op.wrap(attachment_doc(_links={"self": {"href": "/api/v3/attachments/8"}}))
        assert isinstance(att, Attachment)
        with pytest.raises(NotFound):
            await att.download()


async def test_a_multipart_body_on_the_wire() -> None:
    body = MultipartBody(
        [("metadata", b'{"fileName":"a\\"b.txt"}', "application/json"), ("key", b"k", None)],
        FileSource(b"content"),
        file_name='a"b.txt',
        file_type="text/plain",
        boundary="XyZ",
    )
    wire = await body.read()
    assert wire == (
        b'--XyZ\r\nContent-Disposition: form-data; name="metadata"\r\n'
        b"Content-Type: application/json\r\n\r\n"
        b'{"fileName":"a\\"b.txt"}\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a%22b.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"content\r\n--XyZ--\r\n"
    )
    assert body.size == len(wire)
    assert body.headers() == {
        "Content-Type": "multipart/form-data; boundary=XyZ",
        "Content-Length": str(len(wire)),
    }
    assert await body.read() == wire  # produced again from the start
    with pytest.raises(ValueError, match="must not contain line breaks"):
        MultipartBody([], FileSource(b""), file_name="x", file_type="text/plain\r\nX: y")
