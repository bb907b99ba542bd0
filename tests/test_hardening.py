"""A hostile, broken or slow server cannot hang, exhaust or rob the client (issue 13).

Every test talks to a real server on the loopback interface: raw asyncio servers that
misbehave on purpose (drip, stay silent, send 50 MB, inflate to 50 MB), aiohttp test
servers that set cookies or echo what they get, and FakeOpenProject. Times are only
bounded from above, generously (a hang guard, not a measurement).
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import time
import traceback
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

import openproject_async
from openproject_async import (
    Link,
    OAuthClientCredentials,
    OpenProject,
    Resource,
    RetryPolicy,
    cli,
)
from openproject_async import _exchange as exchange_module
from openproject_async._paging import PageBound, check_readable
from openproject_async._policy import Secret
from openproject_async._retry import MAX_RETRY_AFTER, wait_hint
from openproject_async.errors import (
    InsecureTransportWarning,
    NotFound,
    OpenProjectError,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
    TimeoutOutcomeUnknown,
    Unauthenticated,
)
from openproject_async.testing import FakeOpenProject

from .test_reliability import Reply, hal, raw

API_KEY = "KEY-s3cr3t-apikey-0123456789"
TOKEN = "opapi-s3cr3t-bearer-987654321"
BASIC = "Basic " + base64.b64encode(f"apikey:{API_KEY}".encode()).decode()
MiB = 2**20

# -- a raw server that misbehaves on purpose ----------------------------------------------

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Misbehaving:
    """Reads one request head per connection, then lets ``behaviour`` answer (or not)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.sent = 0  # body bytes written
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> Misbehaving:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            await self.behaviour(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


def head(length: int, *extra: str) -> bytes:
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/hal+json",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def streaming(server: list[Misbehaving], total: int, chunk: int = 64 * 1024) -> Behaviour:
    """Announce and send ``total`` bytes of JSON-ish text as fast as the client reads."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(total))
        block = b" " * chunk
        while server[0].sent < total:
            writer.write(block)
            server[0].sent += chunk
            await writer.drain()

    return behaviour


def dripping(seconds: float) -> Behaviour:
    """Slowloris: headers, then one byte every ``seconds``, never the whole body."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(10_000_000))
        for _ in range(10_000):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(seconds)

    return behaviour


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request, answers nothing, until the client goes away."""
    while await reader.read(1024):
        pass


@contextlib.asynccontextmanager
async def misbehaving(make: Callable[[list[Misbehaving]], Behaviour]) -> AsyncIterator[Misbehaving]:
    holder: list[Misbehaving] = []
    server = Misbehaving(make(holder))
    holder.append(server)
    async with server:
        yield server


# -- the response size cap ------------------------------------------------------------------


def test_the_default_cap_and_its_checks() -> None:
    op = OpenProject("https://op.example.com", api_key=API_KEY)
    assert op.max_response_size == 64 * MiB
    op.max_response_size = None
    assert op.max_response_size is None
    op.max_response_size = 1000
    assert op.max_response_size == 1000
    for bad in (0, -1, True, 1.5, "1"):
        with pytest.raises(ValueError, match="max_response_size") as caught:
            OpenProject("https://op.example.com", max_response_size=bad)
        assert str(caught.value) == (
            f"max_response_size must be an int >= 1 (bytes) or None, got {bad!r}"
        )
        with pytest.raises(ValueError, match="max_response_size"):
            op.max_response_size = bad


@pytest.mark.parametrize(("size", "fails"), [(1000, False), (1001, True)])
async def test_the_cap_is_exact(size: int, fails: bool) -> None:
    body = b'{"_type": "Thing", "pad": "' + b"x" * (size - 29) + b'"}'
    assert len(body) == size
    async with raw(Reply(body=body)) as server:
        async with OpenProject(server.url, retry=None, max_response_size=1000) as op:
            if not fails:
                doc = await op.request("GET", "/api/v3/things/1")
                assert doc is not None
                assert doc["_type"] == "Thing"
                return
            with pytest.raises(ResponseTooLarge) as caught:
                await op.request("GET", "/api/v3/things/1")
    err = caught.value
    assert isinstance(err, ProtocolError)
    assert (err.limit, err.status, err.url) == (1000, 200, f"{server.url}/api/v3/things/1")
    assert str(err) == (
        "the answer is larger than max_response_size (1000 bytes); reading stopped there; "
        f"status 200; from {server.url}/api/v3/things/1"
    )


async def test_an_oversized_body_is_not_read_to_its_end() -> None:
    total = 50 * MiB
    async with misbehaving(lambda s: streaming(s, total)) as server:
        async with OpenProject(server.url, retry=None, max_response_size=MiB) as op:
            with pytest.raises(ResponseTooLarge) as caught:
                await op.request("GET", "/api/v3/work_packages")
            assert op.stats["requests"] == 1
        for _ in range(200):  # the server notices the closed connection
            if not server._tasks:
                break
            await asyncio.sleep(0.01)
    assert caught.value.limit == MiB
    assert server.sent < total // 2  # the client stopped reading: the rest was never sent
    assert server.requests == 1  # not retried: it would be as large the next time


def gzip_bomb(inflated: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"\0" * MiB
    parts = [packer.compress(zeros) for _ in range(inflated // MiB)]
    return b"".join([*parts, packer.flush()])


async def test_a_decompression_bomb_is_counted_decoded() -> None:
    bomb = gzip_bomb(50 * MiB)
    assert len(bomb) < MiB // 4  # small on the wire, 50 MiB inflated

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(len(bomb), "Content-Encoding: gzip") + bomb)
        await writer.drain()
        while await reader.read(1024):
            pass

    async with misbehaving(lambda s: behaviour) as server:
        async with OpenProject(server.url, retry=None, max_response_size=MiB) as op:
            with pytest.raises(ResponseTooLarge) as caught:
                await op.request("GET", "/api/v3/work_packages")
    assert caught.value.limit == MiB


RSS_SCRIPT = r"""
import asyncio, json, resource, sys, zlib
from openproject_async import OpenProject
from openproject_async.errors import ResponseTooLarge

MiB = 2**20
TOTAL = 50 * MiB

def peak():  # the high-water mark of the resident set (getrusage keeps exited threads' one)
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

def now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

def reset_peak():  # Linux >= 4.0: the high-water mark starts again from the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

def bomb():
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MiB
    return b"".join([*(packer.compress(zeros) for _ in range(TOTAL // MiB)), packer.flush()])

BOMB = bomb()

async def client(reader, writer):
    try:
        while True:  # keep-alive: one request after the other
            path = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1]
            base = b"HTTP/1.1 200 OK\r\nContent-Type: application/hal+json\r\n"
            if path.endswith(b"/small"):
                writer.write(base + b'Content-Length: 15\r\n\r\n{"_type": "X"}\n')
            elif path.endswith(b"/bomb"):
                writer.write(base + b"Content-Encoding: gzip\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n" % len(BOMB) + BOMB)
            else:
                writer.write(base + b"Content-Length: %d\r\n\r\n" % TOTAL)
                block = b" " * (64 * 1024)
                for _ in range(TOTAL // len(block)):
                    writer.write(block)
                    await writer.drain()
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(client, "127.0.0.1", 0)
    url = "http://127.0.0.1:%d" % server.sockets[0].getsockname()[1]
    out = {}
    async with OpenProject(url, retry=None, max_response_size=MiB) as op:
        await op.request("GET", "/api/v3/small")  # warm up: imports, connection, parser
        base = now()
        reset_peak()
        for name in ("bomb", "plain"):
            try:
                await op.request("GET", "/api/v3/" + name)
                out[name] = "read"
            except ResponseTooLarge:
                out[name] = "ResponseTooLarge"
        out["capped_growth"] = peak() - base
        if sys.argv[1:] == ["control"]:
            op.max_response_size = None
            before = now()
            reset_peak()
            await op.request("GET", "/api/v3/plain")
            out["uncapped_growth"] = peak() - before
    server.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_memory_stays_under_the_cap_plus_a_stated_margin() -> None:
    """A 50 MiB plain answer and a gzip answer that inflates to 50 MiB, against a 1 MiB cap:
    the process's peak RSS stays within 8 MiB of its RSS before them (about 3.5 MiB
    measured: the cap, the joined body, aiohttp's buffers). The control reads the plain
    one uncapped: its peak grows by more than 50 MiB, so the measurement sees growth."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    done = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, "control"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["bomb"] == out["plain"] == "ResponseTooLarge"
    assert out["capped_growth"] < 8 * MiB, out
    assert out["uncapped_growth"] > 50 * MiB, out


async def test_the_oauth_token_answer_is_capped() -> None:
    async def token(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.json_response({"access_token": "a" * (2 * MiB), "expires_in": 7200})

    app = web.Application()
    app.router.add_post("/oauth/token", token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        oauth = OAuthClientCredentials("client", "secret-value")
        async with OpenProject(url, oauth=oauth, retry=None) as op:
            with pytest.raises(Unauthenticated) as caught:
                await op.request("GET", "/api/v3/users/me")
    finally:
        await server.close()
    assert str(caught.value) == (
        f"Unauthenticated: OAuth token request to {url}/oauth/token failed: ResponseTooLarge"
    )


# -- time limits ------------------------------------------------------------------------------


async def _timed(op: OpenProject) -> tuple[OpenProjectError, float]:
    started = time.monotonic()
    with pytest.raises(OpenProjectError) as caught:
        await op.request("GET", "/api/v3/work_packages/1")
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("server_kind", ["dripping", "silent"])
async def test_the_retry_deadline_bounds_the_try_in_flight(server_kind: str) -> None:
    """read_timeout 0.3 s restarts with every byte of the drip (and a silent server would
    be given 60 s): the 0.6 s deadline of the whole call ends it."""
    behaviour = dripping(0.05) if server_kind == "dripping" else silent
    policy = RetryPolicy(attempts=5, deadline=0.6, backoff=0.0)
    read = 0.3 if server_kind == "dripping" else 60.0
    async with misbehaving(lambda s: behaviour) as server:
        async with OpenProject(server.url, retry=policy, read_timeout=read) as op:
            err, took = await _timed(op)
    assert type(err) is RequestTimeout
    assert took < 0.6 + 2.0  # (a hang guard: the deadline plus a generous margin)
    assert err.attempts == 1  # no retry may start past the deadline
    assert str(err).startswith(f"GET {server.url}/api/v3/work_packages/1: no complete answer ")
    assert "the retry policy's deadline of 0.6s for the whole call ran out (attempt 1, " in str(err)
    assert err.timeout is not None
    assert 0.0 < err.timeout <= 0.6


async def test_a_write_stopped_by_the_deadline_is_an_unknown_outcome() -> None:
    policy = RetryPolicy(deadline=0.4)
    async with misbehaving(lambda s: silent) as server:
        async with OpenProject(server.url, retry=policy) as op:
            with pytest.raises(TimeoutOutcomeUnknown) as caught:
                await op.request("POST", "/api/v3/work_packages", json={"subject": "x"})
    assert "the server may have carried it out" in str(caught.value)
    assert server.requests == 1


async def test_without_retries_each_exchange_has_a_total_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No retry policy, no total timeout: the per-exchange limit (300 s by default, 0.5 s
    here) still ends a drip; the concurrency slot is free again afterwards."""
    monkeypatch.setattr(exchange_module, "ATTEMPT_TIMEOUT", 0.5)
    async with misbehaving(lambda s: dripping(0.05)) as server:
        async with OpenProject(server.url, retry=None, read_timeout=0.3, max_concurrency=1) as op:
            err, took = await _timed(op)
            assert type(err) is RequestTimeout
            assert took < 0.5 + 2.0
            assert "no complete answer within 0.5s: the time limit of one exchange" in str(err)
            err, _ = await _timed(op)  # the one slot was given back
            assert type(err) is RequestTimeout
    assert server.requests == 2


def test_the_default_exchange_limit() -> None:
    assert exchange_module.ATTEMPT_TIMEOUT == 300.0


# -- cookies ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def cookie_sites() -> AsyncIterator[tuple[str, str, list[tuple[str, str | None]]]]:
    """Two servers on two ports; the first sets a cookie. Yields both URLs (as
    ``localhost``: aiohttp's default jar refuses cookies from IP addresses) and what
    each received as (path, Cookie header)."""
    seen: list[tuple[str, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((f"{request.url.port}{request.path}", request.headers.get("Cookie")))
        resp = web.json_response({"_type": "Thing", "id": 1})
        if request.path == "/api/v3/login":
            resp.set_cookie("_open_project_session", "SESSION-s3cr3t")
        return resp

    servers = []
    for _ in range(2):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
    try:
        home, other = (f"http://localhost:{s.port}" for s in servers)
        yield home, other, seen
    finally:
        for server in servers:
            await server.close()


async def test_cookies_never_leave_the_configured_origin() -> None:
    async with cookie_sites() as (home, other, seen):
        async with OpenProject(home, api_key=API_KEY) as op:
            await op.request("GET", "/api/v3/login")
            await op.request("GET", f"{other}/api/v3/things/1")
            await op.request("GET", "/api/v3/things/1")
    assert [cookie for _, cookie in seen] == [None, None, None]  # kept nowhere, sent nowhere


async def test_a_session_passed_in_keeps_its_own_cookie_jar() -> None:
    """Documented: ``http_session=`` is used as it is. aiohttp's default jar sends the
    cookie of one port to another port of the same host (which is why the library's own
    session keeps none) — this is also what shows the test above could fail."""
    async with cookie_sites() as (home, other, seen):
        async with aiohttp.ClientSession() as http:
            async with OpenProject(home, api_key=API_KEY, http_session=http) as op:
                await op.request("GET", "/api/v3/login")
                await op.request("GET", f"{other}/api/v3/things/1")
    assert [cookie for _, cookie in seen] == [None, "_open_project_session=SESSION-s3cr3t"]


# -- secrets ------------------------------------------------------------------------------------


def rendered(exc: BaseException) -> str:
    """The traceback from the library's frames on (the test's own locals hold the key),
    with every frame's locals, as error trackers record them."""
    tb = exc.__traceback__
    assert tb is not None
    shown = traceback.TracebackException(type(exc), exc, tb.tb_next, capture_locals=True)
    return "".join(shown.format())


async def unauthenticated(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
            "message": "You did not provide the correct credentials.",
        },
        status=401,
    )


@contextlib.asynccontextmanager
async def app_server(routes: dict[str, Callable[..., Any]]) -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("auth", "secrets"),
    [({"api_key": API_KEY}, [API_KEY, BASIC]), ({"token": TOKEN}, [TOKEN])],
    ids=["api_key", "token"],
)
@pytest.mark.parametrize("failure", ["401", "too large", "timeout"])
async def test_tracebacks_with_locals_show_no_credentials(
    auth: dict[str, str], secrets: list[str], failure: str
) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.json_response({"pad": "x" * 5000})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    routes = {"/api/v3/me": unauthenticated, "/api/v3/big": big, "/api/v3/slow": slow}
    path = {"401": "/api/v3/me", "too large": "/api/v3/big", "timeout": "/api/v3/slow"}[failure]
    async with app_server(routes) as url:
        policy = RetryPolicy(attempts=1, deadline=0.3)
        async with OpenProject(url, retry=policy, max_response_size=1000, **auth) as op:
            with pytest.raises(OpenProjectError) as caught:
                await op.request("GET", path)
    text = rendered(caught.value)
    # the frames that held the credential were rendered, their locals too
    if failure == "401":
        assert "sent_auth='<hidden>'" in text  # the answer keeps what was sent (re-auth)
    else:
        assert "hdrs = {" in text
        assert "'Authorization': '<hidden>'" in text
    for secret in secrets:
        assert secret not in text
    # raised outside the except blocks: no aiohttp exception chained, no aiohttp frame
    assert text.count("Traceback (most recent call last)") == 1
    assert "site-packages/aiohttp" not in text


async def test_a_token_endpoint_echoing_the_form_leaks_nothing() -> None:
    """The secret has characters that form- and URL-encoding spell differently."""
    secret = "s3cr3t+/=&% ü~!"
    echoed: list[bytes] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        echoed.append(body)
        text = body.decode()
        return web.json_response(
            {"error": "invalid_client", "error_description": f"got {text} / {quote(secret)}"},
            status=401,
        )

    async with app_server({"/oauth/token": echo}) as url:
        oauth = OAuthClientCredentials("client-id", secret)
        async with OpenProject(url, oauth=oauth, retry=None) as op:
            with pytest.raises(Unauthenticated) as caught:
                await op.request("GET", "/api/v3/me")
    form = urlencode({"client_secret": secret})
    assert quote_plus(secret) in echoed[0].decode()  # what a leak would have shown
    spellings = {secret, quote_plus(secret), quote(secret, safe=""), form}
    texts = [str(caught.value), repr(caught.value.details), rendered(caught.value)]
    for text in texts:
        for spelling in spellings:
            assert spelling not in text
    assert "client_secret=***" in str(caught.value)


@pytest.mark.parametrize(
    ("token_url", "warns"),
    [
        ("http://idp.example.com/oauth/token", True),
        ("https://idp.example.com/oauth/token", False),
        ("http://127.0.0.1:8080/oauth/token", False),
        ("http://localhost/oauth/token", False),
        ("/oauth/token", False),
        (None, False),
    ],
)
def test_a_plain_http_token_url_warns(token_url: str | None, warns: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OAuthClientCredentials("client", "secret", token_url=token_url)
    found = [w for w in caught if issubclass(w.category, InsecureTransportWarning)]
    if not warns:
        assert found == []
        return
    assert [str(w.message) for w in found] == [
        "OAuth token URL http://idp.example.com/oauth/token is plain http: the client "
        "secret and the tokens travel unencrypted"
    ]
    assert found[0].filename == __file__


# -- template values ----------------------------------------------------------------------------

VERSIONS = Link("versions", {"href": "/api/v3/projects/{id}/versions", "templated": True})


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("..", "/api/v3/projects/%252E%252E/versions"),
        (".", "/api/v3/projects/%252E/versions"),
        ("...", "/api/v3/projects/.../versions"),
        ("a.b", "/api/v3/projects/a.b/versions"),
        ("../..", "/api/v3/projects/..%2F../versions"),
        ("%2E%2E", "/api/v3/projects/%252E%252E/versions"),
        (7, "/api/v3/projects/7/versions"),
    ],
)
def test_dot_values_cannot_move_the_path(value: Any, path: str) -> None:
    assert URL("https://op.example.com").join(URL(VERSIONS.expand(id=value))).raw_path == path


def test_dots_in_the_query_and_written_in_the_template_stay() -> None:
    link = Link("x", {"href": "/api/v3/{a}/../{b}?q={a}", "templated": True})
    assert link.expand(a="..", b=".") == "/api/v3/%252E%252E/../%252E?q=.."
    two = Link("x", {"href": "/api/v3/{a}{b}/x", "templated": True})
    assert two.expand(a=".", b=".") == "/api/v3/%252E%252E/x"


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12))
def test_any_value_keeps_the_path(value: str) -> None:
    url = URL("https://op.example.com").join(URL(VERSIONS.expand(id=value)))
    segments = url.raw_path.split("/")
    assert url.host == "op.example.com"
    assert segments[:4] == ["", "api", "v3", "projects"]
    assert segments[5:] == ["versions"]
    assert segments[4] not in (".", "..")  # (an empty value leaves an empty segment)


async def test_follow_with_dots_requests_that_path_on_the_wire() -> None:
    project = {
        "_type": "Project",
        "id": 1,
        "_links": {
            "self": {"href": "/api/v3/projects/1"},
            "versions": {"href": "/api/v3/projects/{id}/versions", "templated": True},
        },
    }
    async with raw(Reply(body=hal({"_type": "Collection", "total": 0}))) as server:
        async with OpenProject(server.url, retry=None) as op:
            await op.wrap(project).follow("versions", id="..")
    assert [r.path for r in server.requests] == ["/api/v3/projects/%252E%252E/versions"]


# -- pagination ---------------------------------------------------------------------------------


def page(offset: int, total: int, nxt: str | None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": f"/api/v3/things?offset={offset}"}}
    if nxt:
        links["nextByOffset"] = {"href": nxt}
    return {
        "_type": "Collection",
        "total": total,
        "count": 1,
        "pageSize": 1,
        "offset": offset,
        "_embedded": {"elements": [{"_type": "Thing", "id": offset}]},
        "_links": links,
    }


async def test_a_runaway_walk_stops_beyond_the_total() -> None:
    """Every page links a new next page and claims total 3: stopped at 2 * 3 + 1 elements."""
    asked: list[str] = []

    async def pages(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "1"))
        asked.append(request.path_qs)
        return web.json_response(page(offset, 3, f"/api/v3/things?offset={offset + 1}"))

    async with app_server({"/api/v3/things": pages}) as url:
        async with OpenProject(url, retry=None) as op:
            first = await op.get("/api/v3/things")
            got: list[Any] = []

            async def walk() -> None:
                async for thing in first:
                    got.append(thing["id"])

            with pytest.raises(ProtocolError) as caught:
                await walk()
    assert got == [1, 2, 3, 4, 5, 6, 7]
    assert len(asked) == 8
    assert str(caught.value) == (
        "8 elements read from a collection of 3: the next links do not end where the "
        "server's total says (runaway pagination); from /api/v3/things?offset=8"
    )


async def test_a_walk_whose_offset_does_not_advance_stops() -> None:
    asked: list[str] = []

    async def pages(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "1"))
        asked.append(request.path_qs)
        return web.json_response(page(1, 1000, f"/api/v3/things?offset=1&n={n + 1}"))

    async with app_server({"/api/v3/things": pages}) as url:
        async with OpenProject(url, retry=None) as op:
            first = await op.get("/api/v3/things")
            with pytest.raises(ProtocolError) as caught:
                await first.to_list()
    assert len(asked) == 2
    assert str(caught.value).startswith("page 1 came after page 1: the pages do not advance")


async def test_an_honest_growing_collection_is_read_to_its_end() -> None:
    """A collection that grows while it is read (total 2, then 4) is not a runaway."""

    async def pages(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "1"))
        total = 2 if offset == 1 else 4
        return web.json_response(
            page(offset, total, f"/api/v3/things?offset={offset + 1}" if offset < 4 else None)
        )

    async with app_server({"/api/v3/things": pages}) as url:
        async with OpenProject(url, retry=None) as op:
            first = await op.get("/api/v3/things")
            assert [t["id"] for t in await first.to_list()] == [1, 2, 3, 4]


async def test_a_negative_page_size_answer_refuses_to_iterate() -> None:
    doc = page(1, 5, None) | {"pageSize": -1}
    async with raw(Reply(body=hal(doc))) as server:
        async with OpenProject(server.url, retry=None) as op:
            first = await op.get("/api/v3/things")  # a count nobody asked for: the server's
            with pytest.raises(ProtocolError, match=r"answered pageSize=-1 with 5 elements"):
                first.iterate()


async def test_an_empty_count_only_collection_iterates_to_nothing() -> None:
    doc = {"_type": "Collection", "total": 0, "count": 0, "pageSize": 0, "offset": 1}
    doc["_embedded"] = {"elements": []}
    async with raw(Reply(body=hal(doc))) as server:
        async with OpenProject(server.url, retry=None) as op:
            first = await op.get("/api/v3/things")
            assert await first.to_list() == []


# -- smaller points -----------------------------------------------------------------------------


async def test_get_many_can_return_the_failures_in_place() -> None:
    async with FakeOpenProject(seed_size=3) as fake:
        async with OpenProject(fake.url, api_key=fake.api_key) as op:
            hrefs = ["/api/v3/statuses/1", "/api/v3/statuses/999", "/api/v3/statuses/2"]
            got = await op.get_many(hrefs, return_exceptions=True)
            assert isinstance(got[0], Resource)
            assert isinstance(got[1], NotFound)
            assert isinstance(got[2], Resource)
            assert (got[0]["id"], got[2]["id"]) == (1, 2)
            with pytest.raises(NotFound):
                await op.get_many(hrefs)


def test_the_package_logger_has_a_null_handler() -> None:
    code = (
        "import logging, openproject_async; "
        "logging.getLogger('openproject_async').warning('library warning')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr == ""
    logger = logging.getLogger(openproject_async.__name__)
    assert [type(h) for h in logger.handlers if type(h) is logging.NullHandler] == [
        logging.NullHandler
    ]
    # the control: without a handler, logging's last resort prints the record
    bare = subprocess.run(
        [sys.executable, "-c", "import logging; logging.getLogger('x').warning('shown')"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert bare.stderr == "shown\n"


@pytest.mark.parametrize(
    "header",
    [
        {"Retry-After": "999999999"},  # delta seconds: 31 years
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"RateLimit-Reset": "99999999999"},  # epoch seconds, in the year 5138
    ],
)
async def test_retry_after_is_capped(header: dict[str, str]) -> None:
    assert wait_hint(header) == MAX_RETRY_AFTER == 3600.0
    error = {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
        "message": "busy",
    }
    async with raw(Reply(status=503, body=hal(error), headers=header)) as server:
        async with OpenProject(server.url, retry=None) as op:
            with pytest.raises(OpenProjectError) as caught:
                await op.request("GET", "/api/v3/things/1")
    assert caught.value.retry_after == 3600.0


async def test_a_reasonable_hint_is_kept_as_it_is() -> None:
    assert wait_hint({"Retry-After": "120"}) == 120.0


async def test_stats_count_what_aiohttp_sent_again_by_itself() -> None:
    """A GET whose connection drops is sent again by aiohttp on its own: the server got
    two requests, the stats say two (the retry policy is off: it did not do this)."""
    async with raw(Reply(mode="drop")) as server:
        async with OpenProject(server.url, retry=None) as op:
            assert await op.request("GET", "/api/v3/things/1") == {"_type": "Thing", "id": 1}
            assert op.stats["requests"] == 2
            assert op.stats["retries"] == 0
            await op.request("GET", "/api/v3/things/1")
            assert op.stats["requests"] == 3
    assert len(server.requests) == 3


async def test_export_refuses_a_page_size_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeOpenProject(seed_size=3) as fake:
        argv = ["export", "--page-size", "0", "--url", fake.url, "--api-key", fake.api_key]
        code = await asyncio.to_thread(cli.main, argv)
        assert [r.path for r in fake.requests] == []
    err = capsys.readouterr().err
    assert code == 2
    assert "--page-size must be at least 1, got 0 (pageSize=0 asks the server for a count" in err


async def test_a_request_given_up_says_how_many_attempts_and_how_long() -> None:
    error = {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
        "message": "busy",
    }
    busy = Reply(status=503, body=hal(error))
    policy = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002)
    async with raw(busy, busy, busy) as server:
        async with OpenProject(server.url, retry=policy) as op:
            with pytest.raises(OpenProjectError) as caught:
                await op.request("GET", "/api/v3/things/1")
    assert caught.value.attempts == 3
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) == 1
    assert re.fullmatch(
        rf"GET {re.escape(server.url)}/api/v3/things/1: gave up after 3 attempts in \d+\.\ds",
        notes[0],
    )
    assert "gave up after 3 attempts" in rendered(caught.value)  # trackers show notes


def test_a_secret_is_a_string_that_hides_in_reprs() -> None:
    value = Secret(BASIC)
    assert value == BASIC
    assert f"{value}" == str(value) == BASIC
    assert repr(value) == "'<hidden>'"
    assert repr({"Authorization": value}) == "{'Authorization': '<hidden>'}"


@pytest.mark.parametrize(
    ("size", "total", "readable"),
    [(None, 5, True), (1, 5, True), (0, 0, True), (0, 5, False), (-1, 5, False), (0, None, True)],
)
def test_which_pages_can_be_iterated(size: int | None, total: int | None, readable: bool) -> None:
    if readable:
        check_readable(size, total)
    else:
        with pytest.raises(ValueError, match=f"pageSize={size}: the server answers a count"):
            check_readable(size, total)


def test_a_count_the_request_did_not_ask_for_is_the_servers_fault() -> None:
    check_readable(0, None, asked=False)
    with pytest.raises(ProtocolError, match="answered pageSize=0 with 5 elements to a request"):
        check_readable(0, 5, asked=False)


def test_the_page_bound_follows_the_largest_total() -> None:
    bound = PageBound(1, 2, 2)
    bound.check(2, 4, 2, "/p2")  # the collection grew: 4 elements may come, and more
    for page in range(3, 6):
        bound.check(page, 4, 2, f"/p{page}")
    with pytest.raises(ProtocolError, match="12 elements read from a collection of 4"):
        bound.check(6, 4, 2, "/p6")
    with pytest.raises(ProtocolError, match="page 2 came after page 6"):
        bound.check(2, 4, 0, "/p2")
