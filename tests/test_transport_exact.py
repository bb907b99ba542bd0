"""The transport seam, exactly: ``HttpResponse``, the size cap as the session reads an
answer, and ``AiohttpTransport`` against raw servers on 127.0.0.1 (a few milliseconds
each): what goes on the wire, and which error each kind of failure becomes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from openproject_async import AiohttpTransport, HttpRequest, HttpResponse, OpenProject
from openproject_async._policy import Timeouts
from openproject_async.errors import (
    ConnectionFailed,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"

# -- HttpResponse ---------------------------------------------------------------------------


async def test_a_response_from_bytes() -> None:
    resp = HttpResponse(201, {"X-A": "1"}, body=b"abc")
    assert (resp.status, resp.headers["x-a"]) == (201, "1")
    assert await resp.read() == b"abc"
    assert [c async for c in resp.iter_chunks()] == [b"abc"]
    await resp.aclose()


async def test_a_response_without_body_has_no_chunks() -> None:
    resp = HttpResponse(204, [("X-A", "1"), ("X-A", "2")])
    assert resp.headers.getall("X-A") == ["1", "2"]  # type: ignore[attr-defined]
    assert await resp.read() == b""
    assert [c async for c in resp.iter_chunks()] == []


async def test_a_response_keeps_a_header_proxy_as_it_is() -> None:
    proxy = CIMultiDictProxy(CIMultiDict({"A": "1"}))
    assert HttpResponse(200, proxy).headers is proxy


async def test_a_streamed_response_reads_through_its_functions_and_closes_once() -> None:
    calls: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        calls.append("chunks")
        yield b"a"
        yield b"b"

    async def read() -> bytes:
        calls.append("read")
        return b"whole"

    async def close() -> None:
        calls.append("close")

    streamed = HttpResponse(200, chunks=chunks, close=close)
    assert await streamed.read() == b"ab"
    assert [c async for c in streamed.iter_chunks()] == [b"a", b"b"]
    await streamed.aclose()
    await streamed.aclose()
    both = HttpResponse(200, read=read, chunks=chunks)
    assert await both.read() == b"whole"
    assert [c async for c in HttpResponse(200, read=read).iter_chunks()] == [b"whole"]
    assert calls == ["chunks", "chunks", "close", "read", "read"]


def test_a_json_response() -> None:
    resp = HttpResponse.json({"a": 1}, 202, {"X-A": "1"})
    assert resp.status == 202
    assert dict(resp.headers) == {
        "Content-Type": "application/hal+json; charset=utf-8",
        "X-A": "1",
    }
    assert resp._body == b'{"a":1}'
    plain = HttpResponse.json([], content_type="application/json")
    assert (plain.status, dict(plain.headers)) == (200, {"Content-Type": "application/json"})


# -- the size cap, as the session reads an answer ------------------------------------------


class Counted:
    """An answer of ``size`` bytes in chunks of ``chunk``, recording how it was read."""

    def __init__(self, size: int, chunk: int, headers: dict[str, str] | None = None) -> None:
        self.size, self.chunk = size, chunk
        self.headers = {"Content-Type": "application/hal+json", **(headers or {})}
        self.log: list[str] = []

    def body(self) -> bytes:
        return b'{"a":"' + b"x" * (self.size - 8) + b'"}'

    def response(self) -> HttpResponse:
        body = self.body()

        async def read() -> bytes:
            self.log.append("read")
            return body

        async def chunks() -> AsyncIterator[bytes]:
            try:
                for i in range(0, len(body), self.chunk):
                    self.log.append("chunk")
                    yield body[i : i + self.chunk]
            finally:
                self.log.append("stopped")

        return HttpResponse(200, self.headers, read=read, chunks=chunks)


async def get_with_cap(answer: Counted, cap: int | None) -> dict[str, Any] | None:
    mock = MockTransport(lambda request: answer.response())
    async with OpenProject(BASE, api_key="k", transport=mock, max_response_size=cap) as op:
        return await op.request("GET", "/api/v3/x")


@pytest.mark.parametrize("size", [100, 99])
async def test_an_answer_up_to_the_cap_is_read(size: int) -> None:
    answer = Counted(size, 30)
    doc = await get_with_cap(answer, 100)
    assert doc is not None
    assert len(doc["a"]) == size - 8
    assert answer.log == ["chunk"] * 4 + ["stopped"]


async def test_an_answer_over_the_cap_stops_reading_there() -> None:
    answer = Counted(101, 30)
    with pytest.raises(ResponseTooLarge) as info:
        await get_with_cap(answer, 100)
    assert answer.log == ["chunk"] * 4 + ["stopped"]  # no fifth chunk; the source closed
    err = info.value
    assert str(err) == (
        "the answer is larger than max_response_size (100 bytes); reading stopped there; "
        f"status 200; from {BASE}/api/v3/x"
    )
    assert (err.limit, err.status, err.url) == (100, 200, f"{BASE}/api/v3/x")


async def test_a_cap_of_none_reads_the_whole_body_at_once() -> None:
    answer = Counted(500, 30)
    await get_with_cap(answer, None)
    assert answer.log == ["read"]


@pytest.mark.parametrize(
    ("headers", "log"),
    [
        ({"Content-Length": "100"}, ["read"]),  # declared within the cap: read whole
        ({"Content-Length": "100", "Content-Encoding": " Identity "}, ["read"]),
        ({"Content-Length": "101"}, ["chunk"] * 4 + ["stopped"]),  # it lies: counted
        ({"Content-Length": "100", "Content-Encoding": "gzip"}, ["chunk"] * 4 + ["stopped"]),
        ({"Content-Length": "+100"}, ["chunk"] * 4 + ["stopped"]),
        ({"Content-Length": ""}, ["chunk"] * 4 + ["stopped"]),
    ],
)
async def test_a_declared_length_within_the_cap_is_read_whole(
    headers: dict[str, str], log: list[str]
) -> None:
    answer = Counted(100, 30, headers)
    await get_with_cap(answer, 100)
    assert answer.log == log


# -- AiohttpTransport on the wire ------------------------------------------------------------

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


class RawServer:
    """``serve`` on 127.0.0.1; on exit every connection is closed and every handler ended."""

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: list[asyncio.Task[None]] = []
        self.release = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        with contextlib.suppress(Exception):
            await self.serve(reader, writer)

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        self.server.close()
        for writer in self.writers:
            writer.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()


def request(url: str, **kw: Any) -> HttpRequest:
    return HttpRequest(kw.pop("method", "GET"), URL(url), kw.pop("headers", {}), **kw)


async def test_the_default_transport_sends_its_user_agent_and_no_cookies() -> None:
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            heads.append(await read_head(reader))
            writer.write(
                b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: s=1; Path=/\r\n"
                b"Content-Length: 2\r\n\r\nok"
            )
            await writer.drain()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            first = await transport.handle(request(f"{url}/a", headers={"X-A": "1"}))
            assert (first.status, first.headers["Location"]) == (302, "/elsewhere")
            assert await first.read() == b"ok"
            second = await transport.handle(request(f"{url}/b"))
            await second.aclose()
            assert transport.resends == 0
        finally:
            await transport.aclose()
    lines = [h.decode().lower().split("\r\n") for h in heads]
    assert lines[0][0] == "get /a http/1.1"
    assert "user-agent: openproject-async/0.1" in lines[0]
    assert "x-a: 1" in lines[0]
    assert lines[1][0] == "get /b http/1.1"  # the redirect was not followed
    assert not any(line.startswith("cookie") for line in lines[1])


async def test_a_session_made_here_is_closed_and_a_given_one_is_not() -> None:
    own = AiohttpTransport()
    http = own.http
    assert own.http is http  # made once
    await own.aclose()
    assert http.closed
    await own.aclose()  # idempotent
    async with aiohttp.ClientSession() as given:
        transport = AiohttpTransport(session=given)
        assert transport.http is given
        await transport.aclose()
        assert not given.closed


async def test_the_connection_limit_of_the_session_made_here() -> None:
    transport = AiohttpTransport(limit=3)
    try:
        connector = transport.http.connector
        assert connector is not None
        assert (connector.limit, connector.limit_per_host) == (3, 3)
        assert isinstance(transport.http.cookie_jar, aiohttp.DummyCookieJar)
    finally:
        await transport.aclose()
    default = AiohttpTransport()
    try:
        assert default.http.connector is not None
        assert default.http.connector.limit == 16
    finally:
        await default.aclose()


async def test_a_refused_connection_is_connection_failed_before_send() -> None:
    async with RawServer(read_head) as url:  # type: ignore[arg-type]
        pass  # closed: nothing listens there now
    transport = AiohttpTransport()
    try:
        with pytest.raises(ConnectionFailed) as info:
            await transport.handle(request(f"{url}/x?token=secret", method="POST"))
    finally:
        await transport.aclose()
    err = info.value
    assert str(err).startswith(f"POST {url}/x")
    assert str(err).endswith("cannot connect to the server (ClientConnectorError)")
    assert (err.before_send, err.transient, err.method) == (True, True, "POST")
    assert err.url == f"{url}/x?token=***"
    assert err.__cause__ is None
    assert err.__context__ is None


async def test_an_answer_that_never_comes_is_a_request_timeout() -> None:
    server: RawServer

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        with contextlib.suppress(TimeoutError):  # a hang guard: no answer, then no connection
            await asyncio.wait_for(server.release.wait(), 5)
        writer.close()

    server = RawServer(serve)
    transport = AiohttpTransport()
    async with server as url:
        try:
            with pytest.raises(RequestTimeout) as info:
                await transport.handle(request(f"{url}/x", timeout=Timeouts(read=0.05)))
            with pytest.raises(RequestTimeout) as total:
                await transport.handle(request(f"{url}/y", timeout=Timeouts(read=5, total=0.05)))
            with pytest.raises(RequestTimeout) as read:
                await transport.handle(request(f"{url}/z", timeout=Timeouts(read=0.05, total=9)))
        finally:
            await transport.aclose()
    assert str(info.value) == f"GET {url}/x: no answer after 0.05s"
    assert (info.value.timeout, info.value.before_send, info.value.method) == (0.05, False, "GET")
    assert str(total.value) == f"GET {url}/y: no answer after 0.05s"
    assert (total.value.timeout, total.value.url) == (0.05, f"{url}/y")
    assert str(read.value) == f"GET {url}/z: no answer after 0.05s"  # the read limit ran out
    assert (read.value.timeout, read.value.url) == (0.05, f"{url}/z")


async def drain(resp: HttpResponse) -> bytes:
    return b"".join([c async for c in resp.iter_chunks()])


@pytest.mark.parametrize("how", ["read", "chunks"])
async def test_a_body_cut_off_is_a_transient_protocol_error(how: str) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        writer.close()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            resp = await transport.handle(request(f"{url}/x"))
            with pytest.raises(ProtocolError) as info:
                await (resp.read() if how == "read" else drain(resp))
        finally:
            await transport.aclose()
    err = info.value
    assert str(err) == f"the answer was cut off (ClientPayloadError); status 200; from {url}/x"
    assert (err.transient, err.status, err.url) == (True, 200, f"{url}/x")


async def test_a_connection_closed_without_an_answer_is_connection_lost() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.close()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            with pytest.raises(ConnectionFailed) as info:
                await transport.handle(request(f"{url}/x", method="PATCH"))
        finally:
            await transport.aclose()
    assert str(info.value) == f"PATCH {url}/x: connection lost (ServerDisconnectedError)"
    assert (info.value.before_send, info.value.method) == (False, "PATCH")
    assert info.value.url == f"{url}/x"


async def test_a_get_whose_connection_dropped_is_sent_again_by_aiohttp_and_counted() -> None:
    served: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            served.append(1)
            if len(served) % 2:  # every other request: the connection drops unanswered
                writer.close()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            for name in ("a", "b"):
                resp = await transport.handle(request(f"{url}/{name}"))
                assert (resp.status, await resp.read()) == (200, b"ok")
        finally:
            await transport.aclose()
    assert len(served) == 4
    assert transport.resends == 2


async def test_answers_on_a_kept_alive_connection_are_no_resends() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            await read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            for name in ("a", "b", "c"):
                resp = await transport.handle(request(f"{url}/{name}"))
                assert (resp.status, await resp.read()) == (200, b"ok")
        finally:
            await transport.aclose()
    assert transport.resends == 0


async def test_a_tls_failure_is_connection_failed_and_not_worth_a_retry() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")  # not TLS
        await writer.drain()
        writer.close()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        tls = url.replace("http://", "https://")
        try:
            with pytest.raises(ConnectionFailed) as info:
                await transport.handle(request(f"{tls}/x"))
        finally:
            await transport.aclose()
    err = info.value
    assert str(err) == f"GET {tls}/x: cannot connect to the server (ClientConnectorSSLError)"
    assert (err.before_send, err.transient, err.url, err.method) == (True, False, f"{tls}/x", "GET")


class SlowConnector(aiohttp.TCPConnector):
    """A connector whose connections take a second to open."""

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1)
        raise AssertionError("the connect timeout should have stopped this")


async def test_a_connection_not_made_in_time_is_a_connect_timeout() -> None:
    if not hasattr(aiohttp.TCPConnector, "_create_connection"):  # pragma: no cover
        pytest.skip("aiohttp's connector has no _create_connection")
    async with aiohttp.ClientSession(connector=SlowConnector()) as http:
        transport = AiohttpTransport(session=http)
        with pytest.raises(RequestTimeout) as info:
            await transport.handle(
                request("http://127.0.0.1:9/x", method="POST", timeout=Timeouts(connect=0.05))
            )
    err = info.value
    assert str(err) == (
        "POST http://127.0.0.1:9/x: could not connect within the connect timeout"
    )
    assert (err.before_send, err.timeout, err.url, err.method) == (
        True,
        0.05,
        "http://127.0.0.1:9/x",
        "POST",
    )


async def test_an_answer_streams_in_chunks_to_its_end() -> None:
    body = bytes(range(256)) * 16384  # 4 MiB: more than aiohttp buffers at once

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

    transport = AiohttpTransport()
    async with RawServer(serve) as url:
        try:
            resp = await transport.handle(request(f"{url}/x"))
            chunks = [c async for c in resp.iter_chunks()]
            again = await transport.handle(request(f"{url}/y"))
            whole = await again.read()
        finally:
            await transport.aclose()
    assert b"".join(chunks) == body
    assert len(chunks) > 1  # as they arrived, not read whole first
    assert whole == body


async def test_closing_an_answer_unread_gives_its_connection_back() -> None:
    big = b"x" * (4 * 1024 * 1024)  # not received whole: the connection stays busy

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            path = (await read_head(reader)).split()[1]
            body = big if path == b"/a" else b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()

    transport = AiohttpTransport(limit=1)  # one connection: the second request needs it
    async with RawServer(serve) as url:
        try:
            first = await transport.handle(request(f"{url}/a"))
            await first.aclose()
            second = await asyncio.wait_for(transport.handle(request(f"{url}/b")), 5)
            assert await second.read() == b"ok"
        finally:
            await transport.aclose()
