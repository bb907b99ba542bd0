"""Retries, timeouts, limits, cancellation and faults against real sockets on 127.0.0.1.

Two kinds of server: ``RawServer`` (asyncio streams: exact control over dropped
connections, truncated bodies and servers that never answer) and aiohttp's own
``TestServer`` (ordinary handlers). No aioresponses here: it fakes the transport.
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openproject_async import OpenProject, RetryPolicy
from openproject_async.errors import (
    APIError,
    ConnectionFailed,
    InvalidHref,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    SessionClosed,
    Throttled,
    TimeoutOutcomeUnknown,
    TransportError,
)

from .tasks import library_tasks

HAL = "application/hal+json"
FAST = RetryPolicy(attempts=4, deadline=10.0, backoff=0.001, max_backoff=0.005, max_wait_hint=0.01)


def hal(doc: Any) -> bytes:
    return orjson.dumps(doc)


def error_doc(ident: str, message: str = "nope") -> dict[str, Any]:
    return {
        "_type": "Error",
        "errorIdentifier": f"urn:openproject-org:api:v3:errors:{ident}",
        "message": message,
    }


# -- a raw HTTP/1.1 server ---------------------------------------------------------------


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class Reply:
    """What the raw server does with a request.

    mode: ``ok`` answer; ``drop`` close the connection without answering (after reading
    the request); ``hang`` never answer (wait until the client goes away); ``truncate``
    send the headers and half the announced body, then close; ``garbage`` answer with
    something that is not HTTP.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "ok"
    content_type: str = HAL


Responder = Callable[[RawRequest], Awaitable[Reply]]


class RawServer:
    """A tiny keep-alive HTTP/1.1 server whose every answer is decided by ``respond``."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[RawRequest] = []
        self.open_connections = 0
        self.connections = 0
        self.client_gone = asyncio.Event()  # a hung request saw the client close
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        self.connections += 1
        number = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                req = RawRequest(method, path, headers, body, number)
                self.requests.append(req)
                reply = await self.respond(req)
                if reply.mode == "drop":
                    return
                if reply.mode == "garbage":  # not HTTP at all: aiohttp's ClientResponseError
                    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                    await writer.drain()
                    return
                if reply.mode == "hang":
                    with contextlib.suppress(ConnectionError):
                        while await reader.read(1024):
                            pass
                    self.client_gone.set()
                    return
                announced = len(reply.body)
                payload = reply.body if reply.mode == "ok" else reply.body[: announced // 2]
                if method == "HEAD":
                    payload = b""
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                writer.write(
                    (
                        f"HTTP/1.1 {reply.status} X\r\nContent-Type: {reply.content_type}\r\n"
                        f"Content-Length: {announced}\r\n{extra}\r\n"
                    ).encode()
                    + payload
                )
                await writer.drain()
                if reply.mode == "truncate":
                    return
        finally:
            self.open_connections -= 1
            writer.close()


def script(*replies: Reply, then: Reply | None = None) -> Responder:
    """Answer with ``replies`` in order, then ``then`` (default: 200 with a small document)."""
    queue = list(replies)
    last = then or Reply(body=hal({"_type": "Thing", "id": 1}))

    async def respond(req: RawRequest) -> Reply:
        return queue.pop(0) if queue else last

    return respond


@contextlib.asynccontextmanager
async def raw(*replies: Reply, then: Reply | None = None) -> AsyncIterator[RawServer]:
    async with RawServer(script(*replies, then=then)) as server:
        yield server


def unavailable(status: int = 503, **headers: str) -> Reply:
    ident = {503: "InternalServerError", 429: "Throttled"}.get(status, "InternalServerError")
    return Reply(status=status, body=hal(error_doc(ident)), headers=headers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def eventually(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Let the loop run until ``predicate()`` holds (a hang guard, not a timing assertion)."""
    for _ in range(5000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{what} never became true")


# -- retries ---------------------------------------------------------------------------


async def test_get_503_is_retried_and_succeeds() -> None:
    async with raw(unavailable(), unavailable(502), unavailable(504)) as server:
        async with OpenProject(server.url, api_key="k", retry=FAST) as op:
            doc = await op.request("GET", "/api/v3/things/1")
            assert doc == {"_type": "Thing", "id": 1}
            assert op.stats["retries"] == 3
            assert op.stats["requests"] == 4
    assert [r.method for r in server.requests] == ["GET"] * 4


async def test_throttled_waits_for_ratelimit_reset_capped() -> None:
    # OpenProject's Throttled: 429 with RateLimit-Reset in epoch seconds, no Retry-After.
    # The reset is an hour away; max_wait_hint=0.01 caps the wait. If the cap did not
    # apply, the hour-long wait would end past the deadline and Throttled would be raised.
    reset = str(int(time.time()) + 3600)
    async with raw(unavailable(429, **{"RateLimit-Reset": reset, "RateLimit-Remaining": "0"})) as s:
        async with OpenProject(s.url, api_key="k", retry=FAST) as op:
            doc = await op.request("POST", "/api/v3/work_packages/form")
            assert doc == {"_type": "Thing", "id": 1}
            assert op.stats["retries"] == 1
    assert [r.method for r in s.requests] == ["POST", "POST"]


async def test_wait_longer_than_the_deadline_gives_up_at_once() -> None:
    policy = RetryPolicy(attempts=50, deadline=1.0, backoff=0.001, max_wait_hint=5.0)
    async with raw(then=unavailable(503, **{"Retry-After": "3"})) as server:
        async with OpenProject(server.url, retry=policy) as op:
            with pytest.raises(APIError) as info:
                await op.request("GET", "/api/v3/things/1")
    assert info.value.status == 503
    assert info.value.retry_after == 3.0
    assert info.value.attempts == 1
    assert len(server.requests) == 1


async def test_attempts_are_bounded() -> None:
    async with raw(then=unavailable()) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(APIError) as info:
                await op.request("GET", "/api/v3/things/1")
    assert info.value.attempts == FAST.attempts
    assert len(server.requests) == FAST.attempts


@pytest.mark.parametrize(
    ("method", "path", "retried"),
    [
        ("GET", "/api/v3/work_packages/1", True),
        ("HEAD", "/api/v3/work_packages/1", True),
        ("DELETE", "/api/v3/work_packages/1", True),
        ("POST", "/api/v3/work_packages/form", True),
        ("POST", "/api/v3/projects/1/work_packages/form", True),
        ("POST", "/api/v3/work_packages/1/form", True),
        ("POST", "/api/v3/work_packages", False),  # create
        ("POST", "/api/v3/work_packages/1/activities", False),  # comment
        ("POST", "/api/v3/work_packages/1/watchers", False),
        ("PATCH", "/api/v3/work_packages/1", False),
    ],
)
async def test_which_requests_are_retried(method: str, path: str, retried: bool) -> None:
    async with raw(unavailable()) as server:
        async with OpenProject(server.url, api_key="k", retry=FAST) as op:
            if retried:
                await op.request(method, path)
            else:
                with pytest.raises(APIError) as info:
                    await op.request(method, path)
                assert info.value.status == 503
    assert len(server.requests) == (2 if retried else 1)


async def test_retry_true_opts_a_create_in_and_false_opts_a_get_out() -> None:
    async with raw(unavailable(), unavailable()) as server:
        async with OpenProject(server.url, api_key="k", retry=FAST) as op:
            with pytest.raises(APIError):
                await op.request("GET", "/api/v3/work_packages/1", retry=False)
            created = await op.request("POST", "/api/v3/work_packages", json={}, retry=True)
    assert created == {"_type": "Thing", "id": 1}
    assert [r.method for r in server.requests] == ["GET", "POST", "POST"]


async def test_retry_none_on_the_session_disables_retries() -> None:
    async with raw(unavailable()) as server:
        async with OpenProject(server.url, retry=None) as op:
            with pytest.raises(APIError):
                await op.request("GET", "/api/v3/work_packages/1")
    assert len(server.requests) == 1


async def test_session_rejects_a_non_policy_retry() -> None:
    with pytest.raises(TypeError, match="RetryPolicy or None"):
        OpenProject("http://127.0.0.1:1", retry=True)  # type: ignore[arg-type]


async def test_html_502_from_a_proxy_is_retried() -> None:
    page = Reply(status=502, body=b"<html>Bad gateway</html>", content_type="text/html")
    async with raw(page) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            assert await op.request("GET", "/api/v3/things/1") == {"_type": "Thing", "id": 1}


async def test_other_errors_are_not_retried() -> None:
    async with raw(Reply(status=404, body=hal(error_doc("NotFound")))) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(APIError) as info:
                await op.request("GET", "/api/v3/things/1")
    assert info.value.status == 404
    assert len(server.requests) == 1


# -- lost connections and bodies ---------------------------------------------------------


async def test_create_whose_answer_is_lost_is_not_sent_again() -> None:
    async with raw(Reply(mode="drop")) as server:
        async with OpenProject(server.url, api_key="k", retry=FAST) as op:
            with pytest.raises(OutcomeUnknown) as info:
                await op.request("POST", "/api/v3/work_packages", json={"subject": "x"})
            assert op.stats["retries"] == 0
    assert len(server.requests) == 1
    assert "may have carried it out" in str(info.value)
    assert info.value.method == "POST"
    assert info.value.url is not None
    assert info.value.url.endswith("/api/v3/work_packages")
    assert not isinstance(info.value, ConnectionFailed)


async def test_get_whose_connection_drops_is_retried() -> None:
    # aiohttp itself re-sends an idempotent request once on a dropped keep-alive
    # connection; dropping three times gets past that to the library's own retries.
    drops = [Reply(mode="drop")] * 3
    async with raw(*drops) as server:
        async with OpenProject(server.url, retry=RetryPolicy(attempts=5, backoff=0.001)) as op:
            assert await op.request("GET", "/api/v3/things/1") == {"_type": "Thing", "id": 1}
            assert op.stats["retries"] >= 1
    assert len(server.requests) == 4


async def test_truncated_body_is_retried_for_get_and_outcome_unknown_for_create() -> None:
    cut = Reply(body=hal({"_type": "Thing", "id": 1, "pad": "x" * 500}), mode="truncate")
    async with raw(cut) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            assert (await op.request("GET", "/api/v3/things/1"))["id"] == 1  # type: ignore[index]
    assert len(server.requests) == 2
    created = Reply(status=201, body=hal({"_type": "WorkPackage", "id": 9}), mode="truncate")
    async with raw(created) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(OutcomeUnknown) as info:
                await op.request("POST", "/api/v3/work_packages", json={"subject": "x"})
    assert info.value.status == 201
    assert len(server.requests) == 1


async def test_retried_delete_that_finds_nothing_counts_as_done() -> None:
    gone = Reply(status=404, body=hal(error_doc("NotFound")))
    async with raw(Reply(mode="drop"), Reply(mode="drop"), gone) as server:
        async with OpenProject(server.url, retry=RetryPolicy(attempts=5, backoff=0.001)) as op:
            assert await op.request("DELETE", "/api/v3/work_packages/1") is None
            assert op.stats["retries"] == 1
    assert [r.method for r in server.requests] == ["DELETE"] * 3  # aiohttp re-sent one


async def test_first_delete_that_finds_nothing_is_not_found() -> None:
    async with raw(Reply(status=404, body=hal(error_doc("NotFound")))) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(APIError) as info:
                await op.request("DELETE", "/api/v3/work_packages/1")
    assert info.value.status == 404


async def test_connection_refused_is_connection_failed_before_send_and_retried() -> None:
    port = free_port()
    policy = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002)
    async with OpenProject(f"http://127.0.0.1:{port}", api_key="k", retry=policy) as op:
        with pytest.raises(ConnectionFailed) as info:
            await op.request("POST", "/api/v3/work_packages", json={"subject": "x"})
        assert info.value.before_send is True
        assert info.value.attempts == 3
        assert op.stats["retries"] == 2


async def test_create_retried_after_refused_connect_reaches_the_server_once() -> None:
    port = free_port()
    policy = RetryPolicy(attempts=500, deadline=20, backoff=0.002, max_backoff=0.01)
    created = Reply(status=201, body=hal({"_type": "WorkPackage", "id": 7}))
    server = RawServer(script(created))
    async with OpenProject(f"http://127.0.0.1:{port}", api_key="k", retry=policy) as op:

        async def start_when_refused() -> asyncio.Server:
            await eventually(lambda: op.stats["retries"] >= 1)
            return await asyncio.start_server(server._client, "127.0.0.1", port)

        starter = asyncio.ensure_future(start_when_refused())
        doc = await op.request("POST", "/api/v3/work_packages", json={"subject": "x"})
        listening = await starter
        listening.close()
    assert doc == {"_type": "WorkPackage", "id": 7}
    assert [r.method for r in server.requests] == ["POST"]
    assert op.stats["retries"] >= 1


# -- timeouts --------------------------------------------------------------------------


async def test_hung_server_per_call_timeout_names_the_url_and_releases_the_connection() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, api_key="k", retry=None) as op:
            with pytest.raises(RequestTimeout) as info:
                await op.request("GET", "/api/v3/things/1?token=s3cr3t&x=1", timeout=0.2)
            # the client closed its connection: the hung handler saw it go away
            await asyncio.wait_for(server.client_gone.wait(), 5)
            assert server.open_connections == 0
            http = op.transport._http  # type: ignore[attr-defined]
            connector = http.connector if http else None
            assert connector is not None
            assert len(connector._acquired) == 0
    text = str(info.value)
    assert "/api/v3/things/1" in text
    assert "s3cr3t" not in text
    assert "token=***" in text
    assert info.value.timeout == 0.2
    assert info.value.before_send is False
    assert not isinstance(info.value, OutcomeUnknown)


async def test_session_read_timeout_applies() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, retry=None, read_timeout=0.2) as op:
            with pytest.raises(RequestTimeout) as info:
                await op.request("GET", "/api/v3/things/1")
    assert info.value.timeout == 0.2


async def test_timeout_of_a_get_is_retried() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            doc = await op.request("GET", "/api/v3/things/1", timeout=0.2)
    assert doc == {"_type": "Thing", "id": 1}
    assert len(server.requests) == 2


async def test_timeout_of_a_create_is_outcome_unknown_and_not_retried() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(TimeoutOutcomeUnknown) as info:
                await op.request("POST", "/api/v3/work_packages", json={}, timeout=0.2)
    assert isinstance(info.value, RequestTimeout)
    assert isinstance(info.value, OutcomeUnknown)
    assert len(server.requests) == 1


async def test_timeouts_are_validated() -> None:
    with pytest.raises(ValueError, match="read_timeout"):
        OpenProject("http://127.0.0.1:1", read_timeout=0)
    with pytest.raises(ValueError, match="timeout"):
        OpenProject("http://127.0.0.1:1", timeout=-1)


# -- concurrency, merging, cancellation ---------------------------------------------------


@contextlib.asynccontextmanager
async def web_server(app: web.Application) -> AsyncIterator[TestServer]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_session_cap_holds_under_load() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return web.json_response({"_type": "Thing", "path": request.path})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        url = str(server.make_url(""))
        async with OpenProject(url, api_key="k", max_concurrency=3) as op:
            docs = await asyncio.gather(
                *(op.request("GET", f"/api/v3/things/{i}") for i in range(40))
            )
    assert [d["path"] for d in docs] == [f"/api/v3/things/{i}" for i in range(40)]  # type: ignore[index]
    assert peak == 3


async def test_identical_gets_in_flight_are_merged() -> None:
    calls = 0
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await release.wait()
        return web.json_response({"_type": "Thing", "id": 1})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), api_key="k") as op:
            waiters = [asyncio.ensure_future(op.request("GET", "/api/v3/x")) for _ in range(10)]
            await eventually(lambda: calls >= 1)
            release.set()
            docs = await asyncio.gather(*waiters)
            assert op.stats["merged"] == 9
    assert calls == 1
    assert all(d == {"_type": "Thing", "id": 1} for d in docs)


async def test_cancelling_a_waiter_of_a_merged_get_keeps_the_request() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return web.json_response({"_type": "Thing", "id": 2})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), api_key="k") as op:
            first = asyncio.ensure_future(op.request("GET", "/api/v3/x"))
            second = asyncio.ensure_future(op.request("GET", "/api/v3/x"))
            third = asyncio.ensure_future(op.request("GET", "/api/v3/x"))
            await started.wait()
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            release.set()
            assert await first == {"_type": "Thing", "id": 2}
            assert await third == {"_type": "Thing", "id": 2}
            assert op.stats["merged"] == 2
    assert calls == 1


async def test_cancelling_the_first_caller_of_a_merged_get_keeps_the_others() -> None:
    """The first caller sends the request in its own task: cancelling it cancels that
    request, and the callers waiting on it ask again (one new request, one answer)."""
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return web.json_response({"_type": "Thing", "id": calls})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), api_key="k") as op:
            first = asyncio.ensure_future(op.request("GET", "/api/v3/x"))
            await started.wait()
            others = [asyncio.ensure_future(op.request("GET", "/api/v3/x")) for _ in range(3)]
            for _ in range(5):
                await asyncio.sleep(0)
            assert op.stats["merged"] == 3
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            await eventually(lambda: calls == 2)
            release.set()
            assert await asyncio.gather(*others) == [{"_type": "Thing", "id": 2}] * 3
            assert op.stats["merged"] == 5  # the two that waited again on the new request
    assert calls == 2


async def test_a_failed_first_get_fails_its_waiters_with_the_same_error() -> None:
    release = asyncio.Event()
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await release.wait()
        return web.json_response(
            {
                "_type": "Error",
                "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
                "message": "gone",
            },
            status=404,
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), api_key="k") as op:
            tasks = [asyncio.ensure_future(op.request("GET", "/api/v3/x")) for _ in range(3)]
            await eventually(lambda: calls == 1)
            release.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert [type(r).__name__ for r in results] == ["NotFound"] * 3
    assert results[0] is results[1] is results[2]
    assert results[0].message == "gone"  # type: ignore[union-attr]


async def test_cancelling_every_waiter_cancels_the_request_and_frees_the_connection() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, api_key="k") as op:
            waiters = [asyncio.ensure_future(op.request("GET", "/api/v3/x")) for _ in range(3)]
            await eventually(lambda: bool(server.requests))
            for w in waiters:
                w.cancel()
            results = await asyncio.gather(*waiters, return_exceptions=True)
            assert all(isinstance(r, asyncio.CancelledError) for r in results)
            await asyncio.wait_for(server.client_gone.wait(), 5)
            for _ in range(10):
                await asyncio.sleep(0)
            assert library_tasks() == []
            assert server.open_connections == 0


async def test_cancelled_caller_cancels_its_request() -> None:
    async with raw(Reply(mode="hang")) as server:
        async with OpenProject(server.url, api_key="k") as op:
            task = asyncio.ensure_future(op.request("POST", "/api/v3/work_packages", json={}))
            await eventually(lambda: bool(server.requests))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(server.client_gone.wait(), 5)
            assert library_tasks() == []


async def test_close_while_a_shared_get_is_in_flight_raises_session_closed() -> None:
    async with raw(Reply(mode="hang")) as server:
        op = OpenProject(server.url, api_key="k")
        waiter = asyncio.ensure_future(op.request("GET", "/api/v3/x"))
        await eventually(lambda: bool(server.requests))
        await op.close()
        with pytest.raises(SessionClosed):
            await waiter
        await asyncio.wait_for(server.client_gone.wait(), 5)
    assert library_tasks() == []


async def test_session_used_after_close_raises_clearly() -> None:
    async with raw() as server:
        async with OpenProject(server.url, api_key="k") as op:
            await op.request("GET", "/api/v3/x")
        assert op.closed
        with pytest.raises(SessionClosed, match="closed"):
            await op.request("GET", "/api/v3/x")
        with pytest.raises(SessionClosed):
            await op.get("/api/v3/x")
        await op.close()  # idempotent
    assert len(server.requests) == 1


# -- URLs and redirects ------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "ftp://127.0.0.1/file",
        "http://[",
        "http://user:pw@127.0.0.1/api/v3",
    ],
)
async def test_unusable_hrefs_raise_invalid_href(href: str) -> None:
    async with OpenProject("http://127.0.0.1:9", api_key="k") as op:
        with pytest.raises(InvalidHref) as info:
            await op.request("GET", href)
    assert isinstance(info.value, ValueError)
    assert "pw" not in str(info.value)


async def test_redirect_loop_is_a_protocol_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/v3/loop")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), retry=FAST) as op:
            with pytest.raises(ProtocolError, match="redirects"):
                await op.request("GET", "/api/v3/loop")


async def test_redirect_to_a_non_http_location_is_a_protocol_error() -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://example.com/x")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with web_server(app) as server:
        async with OpenProject(str(server.make_url("")), retry=FAST) as op:
            with pytest.raises(ProtocolError, match="Location"):
                await op.request("GET", "/api/v3/x")


# -- logging ---------------------------------------------------------------------------


async def test_exchanges_and_retries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="openproject_async")
    async with raw(unavailable()) as server:
        async with OpenProject(server.url, api_key="k", retry=FAST) as op:
            await op.request("GET", "/api/v3/things/1?token=abc")
    records = [r for r in caplog.records if r.name == "openproject_async"]
    exchanges = [r for r in records if r.levelno == logging.DEBUG]
    assert [(r.method, r.status, r.retries) for r in exchanges] == [  # type: ignore[attr-defined]
        ("GET", 503, 0),
        ("GET", 200, 1),
    ]
    assert all(r.url.endswith("/api/v3/things/1?token=***") for r in exchanges)  # type: ignore[attr-defined]
    assert all(isinstance(r.duration, float) for r in exchanges)  # type: ignore[attr-defined]
    retry_logs = [r for r in records if r.levelno == logging.INFO]
    assert len(retry_logs) == 1
    assert "retrying GET" in retry_logs[0].getMessage()
    assert "InternalServerError 503" in retry_logs[0].getMessage()
    assert "abc" not in caplog.text


async def test_giving_up_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="openproject_async")
    async with raw(then=unavailable()) as server:
        async with OpenProject(server.url, retry=FAST) as op:
            with pytest.raises(APIError):
                await op.request("GET", "/api/v3/x")
    warnings_ = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_) == 1
    assert f"after {FAST.attempts} attempts" in warnings_[0].getMessage()


# -- the policy itself ---------------------------------------------------------------------


def test_policy_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=-1)
    with pytest.raises(TypeError, match="backoff"):
        RetryPolicy(backoff="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="statuses"):
        RetryPolicy(statuses=frozenset({1000}))


def test_policy_delay_honours_hints_with_cap_and_jittered_backoff() -> None:
    policy = RetryPolicy(backoff=0.1, max_backoff=0.3, max_wait_hint=2.0)
    hinted = APIError(429, None, "slow down")
    hinted.retry_after = 100.0
    assert all(2.0 <= policy.delay(hinted, 1) <= 2.1 for _ in range(50))
    hinted.retry_after = 0.5
    assert all(0.5 <= policy.delay(hinted, 1) <= 0.6 for _ in range(50))
    plain = APIError(503, None, "down")
    for attempt, cap in ((1, 0.1), (2, 0.2), (3, 0.3), (10, 0.3), (500, 0.3)):
        delays = [policy.delay(plain, attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2  # jitter spreads over the range


def test_policy_retryable_error_rules() -> None:
    policy = RetryPolicy()
    refused = ConnectionFailed("x", before_send=True)
    lost = ConnectionFailed("x")
    cert = ConnectionFailed("x", before_send=True, transient=False)
    assert policy.retryable_error(refused, replayable=False)
    assert not policy.retryable_error(lost, replayable=False)
    assert policy.retryable_error(lost, replayable=True)
    assert not policy.retryable_error(cert, replayable=True)
    assert policy.retryable_error(RequestTimeout("t"), replayable=True)
    assert not RetryPolicy(retry_timeouts=False).retryable_error(
        RequestTimeout("t"), replayable=True
    )
    assert policy.retryable_error(RequestTimeout("t", before_send=True), replayable=False)
    assert not policy.retryable_error(OutcomeUnknown("x"), replayable=True)
    assert not policy.retryable_error(TimeoutOutcomeUnknown("x"), replayable=True)
    assert policy.retryable_error(Throttled(429, None, "x"), replayable=True)
    assert not policy.retryable_error(Throttled(429, None, "x"), replayable=False)
    assert not policy.retryable_error(APIError(500, None, "x"), replayable=True)
    assert not policy.retryable_error(ValueError("x"), replayable=True)
    assert isinstance(refused, TransportError)


def test_wait_hint_reads_both_headers() -> None:
    from openproject_async._retry import wait_hint

    now = 1_700_000_000.0
    assert wait_hint({"Retry-After": "7"}, now) == 7.0
    assert wait_hint({"RateLimit-Reset": str(int(now) + 3)}, now) == 3.0  # epoch
    assert wait_hint({"RateLimit-Reset": "4"}, now) == 4.0  # delta (IETF draft)
    assert wait_hint({"RateLimit-Reset": str(int(now) - 30)}, now) == 0.0  # in the past
    assert wait_hint({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, now) == 10.0
    assert wait_hint({"Retry-After": "soon"}, now) is None
    assert wait_hint({"Retry-After": "nan"}, now) is None
    assert wait_hint({"Retry-After": "soon", "RateLimit-Reset": "2"}, now) == 2.0
    assert wait_hint({}, now) is None
