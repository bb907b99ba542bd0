"""Streamed exchanges (downloads, uploads) over ``MockTransport``: exact hops and errors.

Re-authentication after a 401 (only for a body that can be sent again, only with the
session's credentials), redirects hop by hop (a stream body is not sent twice), the
bound on hops, error answers read up to a cap, transport failures, and every answer
released.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from yarl import URL

from openproject_async import Attachment, HttpRequest, HttpResponse, OpenProject
from openproject_async._streaming import ERROR_BODY_CAP, rewindable
from openproject_async.errors import (
    URN_PREFIX,
    ConnectionFailed,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    Unauthenticated,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
STORAGE = "https://bucket.storage.test"
CONTENT = "/api/v3/attachments/7/content"
UPLOAD = "/api/v3/attachments"

Handler = Callable[[HttpRequest], HttpResponse]


def error(name: str, status: int) -> HttpResponse:
    doc = {"_type": "Error", "errorIdentifier": URN_PREFIX + name, "message": name}
    return HttpResponse.json(doc, status)


ATTACHMENT = {
    "_type": "Attachment",
    "id": 7,
    "fileName": "r.bin",
    "_links": {"self": {"href": "/api/v3/attachments/7"}},
}


class Tokens:
    """An auth object: ``Bearer <token>``; a 401 moves on to the next token (if any)."""

    def __init__(self, *tokens: str, renew: bool = True) -> None:
        self.tokens = list(tokens)
        self.renew = renew
        self.invalidated: list[str | None] = []

    async def header(self, transport: Any, api_root: URL) -> str | None:
        return f"Bearer {self.tokens[0]}"

    async def invalidate(self, rejected: str | None) -> bool:
        self.invalidated.append(rejected)
        if self.renew and len(self.tokens) > 1:
            self.tokens.pop(0)
            return True
        return False


class Closing:
    """Answers from ``handler``, each counting its releases in ``closed``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed: list[str] = []
        self.mock = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        resp = self.handler(request)
        name = f"{request.method} {request.url.raw_path_qs} {resp.status}"

        async def close() -> None:
            self.closed.append(name)

        body = resp._body  # rebuilt with a close function
        return HttpResponse(resp.status, resp.headers, body=body, close=close)


def attachment(op: OpenProject) -> Attachment:
    att = op.wrap(dict(ATTACHMENT))
    assert isinstance(att, Attachment)
    return att


def sent(mock: MockTransport) -> list[tuple[str, str, str | None]]:
    return [(r.method, str(r.url), r.headers.get("Authorization")) for r in mock.requests]


# -- re-authentication ----------------------------------------------------------------------


async def test_a_download_answered_401_is_sent_again_with_a_fresh_token() -> None:
    answers = [error("Unauthenticated", 401), HttpResponse(200, body=b"data")]
    closing = Closing(lambda request: answers.pop(0))
    auth = Tokens("a", "b")
    async with OpenProject(BASE, auth=auth, transport=closing.mock) as op:
        assert await attachment(op).download(verify=False) == b"data"
        assert (op.stats["requests"], op.stats["reauthentications"]) == (2, 1)
    assert sent(closing.mock) == [
        ("GET", BASE + CONTENT, "Bearer a"),
        ("GET", BASE + CONTENT, "Bearer b"),
    ]
    assert auth.invalidated == ["Bearer a"]
    assert closing.closed == [f"GET {CONTENT} 401", f"GET {CONTENT} 200"]


async def test_a_second_401_is_raised_without_a_third_try() -> None:
    closing = Closing(lambda request: error("Unauthenticated", 401))
    auth = Tokens("a", "b", "c")
    async with OpenProject(BASE, auth=auth, transport=closing.mock) as op:
        with pytest.raises(Unauthenticated):
            await attachment(op).download(verify=False)
        assert (op.stats["requests"], op.stats["reauthentications"]) == (2, 1)
    assert auth.invalidated == ["Bearer a"]
    assert closing.closed == [f"GET {CONTENT} 401"] * 2


async def test_a_401_the_auth_cannot_help_with_is_raised_at_once() -> None:
    mock = MockTransport(lambda request: error("Unauthenticated", 401))
    auth = Tokens("a", renew=False)
    async with OpenProject(BASE, auth=auth, transport=mock) as op:
        with pytest.raises(Unauthenticated):
            await attachment(op).download(verify=False)
        assert op.stats["reauthentications"] == 0
    assert auth.invalidated == ["Bearer a"]
    assert len(mock.requests) == 1


async def test_a_401_to_a_request_sent_without_credentials_is_not_reauthenticated() -> None:
    mock = MockTransport(lambda request: error("Unauthenticated", 401))
    auth = Tokens("a", "b")
    async with OpenProject(BASE, auth=auth, transport=mock) as op:
        att = op.wrap({**ATTACHMENT, "_links": {"downloadLocation": {"href": f"{STORAGE}/7"}}})
        assert isinstance(att, Attachment)
        with pytest.raises(Unauthenticated):
            await att.download(verify=False)
    assert auth.invalidated == []
    assert sent(mock) == [("GET", f"{STORAGE}/7", None)]


class Pipe(io.RawIOBase):
    """A binary file object that cannot seek (a pipe): its body goes out once."""

    mode = "rb"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), len(self.data))
        buffer[:n], self.data = self.data[:n], self.data[n:]
        return n


async def test_a_401_to_an_upload_from_a_pipe_is_raised_without_sending_again() -> None:
    mock = MockTransport(lambda request: error("Unauthenticated", 401))
    auth = Tokens("a", "b")
    async with OpenProject(BASE, auth=auth, transport=mock) as op:
        with pytest.raises(Unauthenticated):
            await op.upload(Pipe(b"abc"), "a.txt")
    assert auth.invalidated == []
    assert len(mock.requests) == 1


async def test_a_401_to_an_upload_of_bytes_is_sent_again_with_a_fresh_token() -> None:
    answers = [error("Unauthenticated", 401), HttpResponse.json(ATTACHMENT, 201)]
    mock = MockTransport(lambda request: answers.pop(0))
    async with OpenProject(BASE, auth=Tokens("a", "b"), transport=mock) as op:
        att = await op.upload(b"abc", "a.txt")
    assert att["id"] == 7
    assert sent(mock) == [
        ("POST", BASE + UPLOAD, "Bearer a"),
        ("POST", BASE + UPLOAD, "Bearer b"),
    ]


# -- redirects ------------------------------------------------------------------------------


async def test_a_redirect_loop_stops_after_a_bounded_number_of_hops() -> None:
    closing = Closing(lambda request: HttpResponse(302, {"Location": CONTENT}))
    async with OpenProject(BASE, api_key="k", transport=closing.mock) as op:
        with pytest.raises(ProtocolError) as info:
            await attachment(op).download(verify=False)
        assert op.stats["requests"] == 22
    assert str(info.value) == f"more than 10 redirects; from {BASE}{CONTENT}"
    assert info.value.url == BASE + CONTENT
    assert len(closing.closed) == 22


async def test_a_redirect_without_location_is_a_protocol_error() -> None:
    closing = Closing(lambda request: HttpResponse.json({"_type": "Thing"}, 302))
    async with OpenProject(BASE, api_key="k", transport=closing.mock) as op:
        with pytest.raises(ProtocolError) as info:
            await attachment(op).download(verify=False)
    assert str(info.value).startswith(
        "unexpected status for an API answer (expected 2xx or an Error document); status 302"
    )
    assert (info.value.status, info.value.url) == (302, BASE + CONTENT)
    assert closing.closed == [f"GET {CONTENT} 302"]


async def test_a_307_of_an_upload_from_a_pipe_refuses_to_send_half_a_body() -> None:
    closing = Closing(lambda request: HttpResponse(307, {"Location": "/api/v3/elsewhere"}))
    async with OpenProject(BASE, api_key="k", transport=closing.mock) as op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(Pipe(b"abc"), "a.txt")
    assert str(info.value) == (
        f"POST was redirected (307) to {BASE}/api/v3/elsewhere, which needs the body sent "
        "again, but the body is a stream that was sent already; give a path or bytes, or "
        f"use the target URL directly; status 307; from {BASE}{UPLOAD}"
    )
    assert (info.value.status, info.value.url) == (307, BASE + UPLOAD)
    assert len(closing.mock.requests) == 1
    assert closing.closed == [f"POST {UPLOAD} 307"]


async def test_a_307_of_an_upload_of_bytes_sends_the_body_again_to_the_target() -> None:
    bodies: list[bytes] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        bodies.append(b"".join([c async for c in request.body]))
        if request.url.path == UPLOAD:
            return HttpResponse(307, {"Location": "/api/v3/uploads"})
        return HttpResponse.json(ATTACHMENT, 201)

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        assert (await op.upload(b"abc", "a.txt"))["id"] == 7
    assert [(r.method, r.url.path) for r in mock.requests] == [
        ("POST", UPLOAD),
        ("POST", "/api/v3/uploads"),
    ]
    assert bodies[0] == bodies[1]
    assert b"abc" in bodies[0]


async def test_a_redirect_of_a_download_to_another_origin_is_checked() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.host == "op.test":
            return HttpResponse(302, {"Location": f"{STORAGE}/x"})
        return HttpResponse(200, body=b"far")

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock, cross_origin="refuse") as op:
        with pytest.raises(Exception, match="redirected from") as info:
            await attachment(op).download(verify=False)
    assert type(info.value).__name__ == "CrossOriginRefused"
    assert len(mock.requests) == 1


# -- direct uploads: a storage's form, no credentials, no redirects followed ----------------


def direct_handler(storage: HttpResponse) -> Handler:
    prepared = {
        "_type": "Attachment",
        "_links": {
            "addAttachment": {
                "href": f"{STORAGE}/upload",
                "form_fields": {"key": "k1"},
            },
            "completeUpload": {"href": "/api/v3/attachments/7/uploaded"},
        },
    }

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.host == "bucket.storage.test":
            return storage
        if request.url.path.endswith("/prepare"):
            return HttpResponse.json(prepared, 201)
        return HttpResponse.json(ATTACHMENT)

    return handler


async def test_a_direct_upload_goes_to_the_storage_without_credentials() -> None:
    mock = MockTransport(direct_handler(HttpResponse(204)))
    auth = Tokens("a", "b")
    async with OpenProject(
        BASE, auth=auth, transport=mock, cross_origin="refuse", headers={"X-Tenant": "t"}
    ) as op:
        att = await op.upload(b"abc", "a.txt", direct=True)
    assert att["id"] == 7
    assert sent(mock) == [
        ("POST", f"{BASE}{UPLOAD}/prepare", "Bearer a"),
        ("POST", f"{STORAGE}/upload", None),
        ("GET", f"{BASE}/api/v3/attachments/7/uploaded", "Bearer a"),
    ]
    assert "X-Tenant" not in mock.requests[1].headers
    assert mock.requests[0].headers["X-Tenant"] == "t"


async def test_a_storage_redirect_is_handed_back_not_followed() -> None:
    storage = HttpResponse(303, {"Location": f"{STORAGE}/done"})
    mock = MockTransport(direct_handler(storage))
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(ProtocolError) as info:
            await op.upload(b"abc", "a.txt", direct=True)
    assert str(info.value).startswith("the upload was answered with a redirect; status 303")
    assert [str(r.url) for r in mock.requests][1:] == [f"{STORAGE}/upload"]


async def test_a_storage_401_is_not_reauthenticated() -> None:
    mock = MockTransport(direct_handler(error("Unauthenticated", 401)))
    auth = Tokens("a", "b")
    async with OpenProject(BASE, auth=auth, transport=mock) as op:
        with pytest.raises(Unauthenticated):
            await op.upload(b"abc", "a.txt", direct=True)
    assert auth.invalidated == []
    assert len(mock.requests) == 2


# -- error answers and failures -------------------------------------------------------------


async def test_an_error_answer_is_read_up_to_the_cap_and_released() -> None:
    chunk = b"x" * (64 * 1024)  # 16 of these make the cap exactly
    pulled: list[int] = []
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield chunk

    async def close() -> None:
        closed.append(True)

    def handler(request: HttpRequest) -> HttpResponse:
        headers = {"Content-Type": "application/hal+json"}
        return HttpResponse(404, headers, chunks=chunks, close=close)

    async with OpenProject(BASE, api_key="k", transport=MockTransport(handler)) as op:
        with pytest.raises(ProtocolError) as info:
            await attachment(op).download(verify=False)
    assert 16 * len(chunk) == ERROR_BODY_CAP
    assert len(pulled) == 17  # one chunk past the cap, then no more
    assert closed == [True]
    assert info.value.status == 404
    assert info.value.snippet.startswith("xxxx")


async def test_an_error_document_of_a_download_is_its_typed_error() -> None:
    closing = Closing(lambda request: error("NotFound", 404))
    async with OpenProject(BASE, api_key="k", transport=closing.mock) as op:
        with pytest.raises(NotFound) as info:
            await attachment(op).download(verify=False)
    assert (info.value.status, info.value.message) == (404, "NotFound")
    assert closing.closed == [f"GET {CONTENT} 404"]


async def test_a_lost_connection_during_an_upload_is_an_unknown_outcome() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise ConnectionFailed("POST x: connection lost (ServerDisconnectedError)")

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(OutcomeUnknown) as info:
            await op.upload(b"abc", "a.txt")
        assert op.stats["requests"] == 1
    assert info.value.__context__ is None  # raised outside the except block
    assert len(mock.requests) == 1


async def test_a_lost_connection_during_a_download_is_raised_as_it_is() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        raise ConnectionFailed("GET x: connection lost (ServerDisconnectedError)")

    async with OpenProject(BASE, api_key="k", transport=MockTransport(handler)) as op:
        with pytest.raises(ConnectionFailed) as info:
            await attachment(op).download(verify=False)
    assert type(info.value) is ConnectionFailed
    assert str(info.value) == "GET x: connection lost (ServerDisconnectedError)"


async def test_a_download_answer_is_released_when_the_reader_stops_early() -> None:
    closing = Closing(lambda request: HttpResponse(200, body=b"abcdef"))
    async with OpenProject(BASE, api_key="k", transport=closing.mock) as op:
        stream = attachment(op).stream(verify=False)
        assert await stream.__anext__() == b"abcdef"
        await stream.aclose()
    assert closing.closed == [f"GET {CONTENT} 200"]


# -- which bodies can be sent again ---------------------------------------------------------


class Marked:
    def __init__(self, value: Any) -> None:
        self.rewindable = value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, True),
        (b"x", True),
        (bytearray(b"x"), True),
        ("x", True),
        (Marked(True), True),
        (Marked(1), True),
        (Marked(False), False),
        (Marked(None), False),
        (object(), False),
        (io.BytesIO(b"x"), False),
    ],
)
def test_rewindable(data: Any, expected: bool) -> None:
    assert rewindable(data) is expected


# -- headers per hop, counters, statuses, hints, logs -----------------------------------------


async def test_the_callers_headers_go_to_the_first_hop_and_the_server_only() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/direct":
            return HttpResponse(200, body=b"direct")
        if request.url.host == "op.test":
            return HttpResponse(302, {"Location": f"{STORAGE}/after"})
        return HttpResponse(200, body=b"moved")

    mock = MockTransport(handler)
    async with OpenProject(BASE, token="t", transport=mock, headers={"X-Tenant": "a"}) as op:
        assert await attachment(op).download(verify=False) == b"moved"
        far = op.wrap({**ATTACHMENT, "_links": {"downloadLocation": {"href": f"{STORAGE}/direct"}}})
        assert isinstance(far, Attachment)
        assert await far.download(verify=False) == b"direct"
    hal = "application/hal+json, application/json"
    assert [(str(r.url), dict(r.headers)) for r in mock.requests] == [
        (BASE + CONTENT, {"Accept": "*/*", "X-Tenant": "a", "Authorization": "Bearer t"}),
        (f"{STORAGE}/after", {"Accept": hal}),  # not the first hop, not the server
        (f"{STORAGE}/direct", {"Accept": "*/*"}),  # the first hop: the caller's headers
    ]


async def test_reauthentications_add_up_over_the_session() -> None:
    answers = [
        error("Unauthenticated", 401),
        HttpResponse(200, body=b"1"),
        error("Unauthenticated", 401),
        HttpResponse(200, body=b"2"),
    ]
    mock = MockTransport(lambda request: answers.pop(0))
    async with OpenProject(BASE, auth=Tokens("a", "b", "c"), transport=mock) as op:
        assert await attachment(op).download(verify=False) == b"1"
        assert await attachment(op).download(verify=False) == b"2"
        assert (op.stats["requests"], op.stats["reauthentications"]) == (4, 2)


@pytest.mark.parametrize("status", [300, 199])
async def test_a_status_outside_2xx_that_is_no_redirect_is_an_error(status: int) -> None:
    mock = MockTransport(lambda request: HttpResponse(status, body=b"x"))
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(ProtocolError) as info:
            await attachment(op).download(verify=False)
    assert info.value.status == status


async def test_a_401_to_a_download_carries_the_credentials_hint() -> None:
    mock = MockTransport(lambda request: error("Unauthenticated", 401))
    async with OpenProject(BASE, token="0" * 64, transport=mock) as op:
        with pytest.raises(Unauthenticated) as info:
            await attachment(op).download(verify=False)
    assert str(info.value).endswith(
        "; hint: this token looks like an API key (hex, no 'opapi-' prefix); pass it as "
        "api_key= (sent as Basic auth with the user 'apikey')"
    )


async def test_each_hop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="openproject_async")

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.name == "content":
            return HttpResponse(302, {"Location": "/api/v3/files/7?token=s"})
        raise ConnectionFailed("GET x: connection lost (ServerDisconnectedError)")

    async with OpenProject(BASE, api_key="k", transport=MockTransport(handler)) as op:
        with pytest.raises(ConnectionFailed):
            await attachment(op).download(verify=False)
    hops = [r for r in caplog.records if r.levelname == "DEBUG" and " -> " in r.getMessage()]
    assert [h.getMessage().split(" in ")[0] for h in hops] == [
        f"GET {BASE}{CONTENT} -> 302",
        f"GET {BASE}/api/v3/files/7?token=*** -> ConnectionFailed",
    ]
    assert [h.getMessage().endswith("s") for h in hops] == [True, True]  # no "(retry n)"
    assert [(h.method, h.url, h.status, h.retries) for h in hops] == [  # type: ignore[attr-defined]
        ("GET", f"{BASE}{CONTENT}", 302, 0),
        ("GET", f"{BASE}/api/v3/files/7?token=***", None, 0),
    ]
    assert all(0 <= h.duration < 60 for h in hops)  # type: ignore[attr-defined]
