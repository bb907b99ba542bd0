"""The session over ``MockTransport``: settings, lifecycle, requests as sent, shared GETs.

Everything goes through the public API (``OpenProject(...)``, ``request``, ``get``,
``stats``, ``close``); concurrency is observed with handlers that wait on a gate.
"""

from __future__ import annotations

import asyncio
import uuid
import warnings
from typing import Any

import aiohttp
import pytest

from openproject_async import (
    AiohttpTransport,
    HttpRequest,
    HttpResponse,
    OAuthClientCredentials,
    OpenProject,
    RetryPolicy,
)
from openproject_async.errors import (
    URN_PREFIX,
    CrossOriginRefused,
    InsecureTransportWarning,
    NotFound,
    ResponseTooLarge,
    SessionClosed,
    WrongEventLoop,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
#: Seconds before a request that should have been released or cancelled fails instead
#: of hanging (a guard for broken code, never reached by working code).
HANG_GUARD = 5
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)
SCHEMA = {"_type": "Schema", "name": {"type": "String"}}


def echo(status: int = 200) -> MockTransport:
    """Answers every request with a document naming its method, path and query."""

    def handler(request: HttpRequest) -> HttpResponse:
        doc = {"_type": "Thing", "method": request.method, "path": request.url.raw_path_qs}
        return HttpResponse.json(doc, status)

    return MockTransport(handler)


class Gate:
    """Requests wait until :meth:`open`; answers from ``answer(request)``."""

    def __init__(self, answer: Any = None) -> None:
        self.event = asyncio.Event()
        self.inflight = 0
        self.answer = answer or (lambda r: HttpResponse.json({"_type": "Thing", "n": 1}))
        self.mock = MockTransport(self.handle)
        self.cancelled = 0

    async def handle(self, request: HttpRequest) -> HttpResponse:
        self.inflight += 1
        try:
            await asyncio.wait_for(self.event.wait(), HANG_GUARD)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.inflight -= 1
        answer: HttpResponse = self.answer(request)
        return answer

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)


async def guarded(*calls: Any, return_exceptions: bool = False) -> list[Any]:
    """``asyncio.gather`` that fails after HANG_GUARD seconds instead of hanging."""
    gathered = asyncio.gather(*calls, return_exceptions=return_exceptions)
    return list(await asyncio.wait_for(gathered, HANG_GUARD))


def session(mock: MockTransport, **kw: Any) -> OpenProject:
    kw.setdefault("retry", None)
    return OpenProject(BASE, api_key="k", transport=mock, **kw)


# -- settings --------------------------------------------------------------------------------


async def test_transport_and_http_session_together_are_refused() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TypeError) as info:
            OpenProject(BASE, api_key="k", transport=echo(), http_session=http)
    assert str(info.value) == "give either transport= or http_session=, not both"


def test_the_api_root_of_a_sub_path_deployment() -> None:
    op = OpenProject("https://example.test/openproject/", api_key="k", transport=echo())
    assert str(op.base_url) == "https://example.test/openproject"
    assert str(op.api_root) == "https://example.test/openproject/api/v3"
    plain = OpenProject(BASE, api_key="k", transport=echo())
    assert str(plain.api_root) == f"{BASE}/api/v3"


@pytest.mark.parametrize(
    ("kw", "header"),
    [
        ({"api_key": "k"}, "Basic YXBpa2V5Oms="),
        ({"token": "t"}, "Bearer t"),
        ({}, None),
    ],
)
async def test_the_credential_given_is_the_one_sent(kw: dict[str, Any], header: str) -> None:
    mock = echo()
    async with OpenProject(BASE, transport=mock, **kw) as op:
        await op.get("/api/v3/x")
    assert mock.requests[0].headers.get("Authorization") == header


async def test_settings_are_kept_as_given() -> None:
    policy = RetryPolicy(attempts=2)
    op = OpenProject(
        BASE,
        api_key="k",
        transport=echo(),
        max_concurrency=3,
        retry=policy,
        cross_origin="allow",
        max_response_size=10,
    )
    assert (op.max_concurrency, op.retry, op.cross_origin) == (3, policy, "allow")
    assert op.max_response_size == 10
    assert op.stats == {
        "requests": 0,
        "retries": 0,
        "merged": 0,
        "cached": 0,
        "reauthentications": 0,
    }
    await op.close()


@pytest.mark.parametrize(
    ("kw", "limits"),
    [
        ({}, (10.0, 60.0, None)),
        ({"connect_timeout": 2, "read_timeout": 3}, (2, 3, None)),
        ({"timeout": 7}, (7, 60.0, 7)),
        ({"timeout": 20, "connect_timeout": 2, "read_timeout": 3}, (2, 3, 20)),
    ],
)
async def test_the_session_timeouts_reach_each_request(
    kw: dict[str, Any], limits: tuple[Any, ...]
) -> None:
    mock = echo()
    async with session(mock, **kw) as op:
        await op.get("/api/v3/x")
    t = mock.requests[0].timeout
    assert (t.connect, t.read, t.total) == limits


@pytest.mark.parametrize(
    ("kw", "limits"),
    [
        ({}, (4, 60.0, 4)),
        ({"connect_timeout": 2, "read_timeout": 3}, (2, 3, 4)),
        # a session timeout without connect/read limits: 10 s and 60 s for a call's
        ({"timeout": aiohttp.ClientTimeout(total=30)}, (4, 60.0, 4)),
        ({"timeout": aiohttp.ClientTimeout(total=30), "call": 20}, (10.0, 60.0, 20)),
    ],
)
async def test_a_call_timeout_keeps_the_session_connect_and_read_limits(
    kw: dict[str, Any], limits: tuple[Any, ...]
) -> None:
    mock = echo()
    kw = dict(kw)  # (the parameter's dict is shared by every run of the test)
    call = kw.pop("call", 4)
    async with session(mock, **kw) as op:
        await op.request("GET", "/api/v3/x", timeout=call)
    t = mock.requests[0].timeout
    assert (t.connect, t.read, t.total) == limits


async def test_at_most_max_concurrency_requests_are_in_flight() -> None:
    gate = Gate()
    async with session(gate.mock, max_concurrency=2) as op:
        calls = [asyncio.ensure_future(op.get(f"/api/v3/x/{i}")) for i in range(5)]
        await gate.settle()
        assert gate.inflight == 2
        gate.event.set()
        await guarded(*calls)
        assert op.stats["requests"] == 5


async def test_max_response_size_can_be_changed_and_is_enforced() -> None:
    body = b'{"a": "' + b"x" * 100 + b'"}'
    big = HttpResponse(200, {"Content-Type": "application/hal+json"}, body=body)
    mock = MockTransport(lambda request: big)
    async with session(mock, max_response_size=1000) as op:
        assert (await op.get("/api/v3/x"))["a"] == "x" * 100
        op.max_response_size = 50
        assert op.max_response_size == 50
        with pytest.raises(ResponseTooLarge) as info:
            await op.get("/api/v3/y")
        with pytest.raises(ValueError, match="max_response_size must be an int >= 1"):
            op.max_response_size = 0
        op.max_response_size = None
        assert op.max_response_size is None
        await op.get("/api/v3/z")
    assert (info.value.limit, info.value.url) == (50, f"{BASE}/api/v3/y")


# -- warnings, repr, from_env ----------------------------------------------------------------


def test_plain_http_to_a_remote_host_warns_once_per_server() -> None:
    host = f"warn-{uuid.uuid4().hex[:8]}.example"  # once per process: a host never used
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OpenProject(f"http://{host}", api_key="k", transport=echo())
        OpenProject(f"http://{host}/sub", token="t", transport=echo())
        OpenProject("http://no-credentials.example", transport=echo())
        OpenProject("http://127.0.0.1:9", api_key="k", transport=echo())
        OpenProject("https://tls.example", api_key="k", transport=echo())
    assert [(w.category, str(w.message)) for w in caught] == [
        (
            InsecureTransportWarning,
            f"OpenProject at http://{host} over plain http: credentials travel "
            "unencrypted (this warning is shown once per process and server)",
        )
    ]


async def test_repr_names_the_server_the_auth_and_the_state() -> None:
    op = OpenProject(BASE, api_key="k", transport=echo())
    assert repr(op) == f"<OpenProject {BASE} auth={op.auth!r} open>"
    await op.close()
    assert repr(op) == f"<OpenProject {BASE} auth={op.auth!r} closed>"


@pytest.mark.parametrize(
    ("env", "kw", "header"),
    [
        ({"OPENPROJECT_API_KEY": "k"}, {}, "Basic YXBpa2V5Oms="),
        ({"OPENPROJECT_TOKEN": "t"}, {}, "Bearer t"),
        ({"OPENPROJECT_API_KEY": "k", "OPENPROJECT_TOKEN": "t"}, {}, "Basic YXBpa2V5Oms="),
        ({"OPENPROJECT_API_KEY": "", "OPENPROJECT_TOKEN": "t"}, {}, "Bearer t"),
        ({"OPENPROJECT_API_KEY": "k"}, {"token": "mine"}, "Bearer mine"),
        ({"OPENPROJECT_TOKEN": "t"}, {"api_key": "mine"}, "Basic YXBpa2V5Om1pbmU="),
        ({"OPENPROJECT_TOKEN": "t"}, {"anonymous": True, "auth": None}, None),
    ],
)
async def test_from_env(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], kw: dict[str, Any], header: str | None
) -> None:
    monkeypatch.delenv("OPENPROJECT_API_KEY", raising=False)
    monkeypatch.delenv("OPENPROJECT_TOKEN", raising=False)
    monkeypatch.setenv("OPENPROJECT_URL", "https://env.test/sub")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mock = echo()
    async with OpenProject.from_env(transport=mock, **kw) as op:
        assert str(op.api_root) == "https://env.test/sub/api/v3"
        await op.get("x")
    assert mock.requests[0].headers.get("Authorization") == header


def test_from_env_takes_url_from_the_arguments_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPROJECT_URL", "https://env.test")
    op = OpenProject.from_env(url="https://arg.test", api_key="k", transport=echo())
    assert str(op.base_url) == "https://arg.test"


def test_from_env_without_a_url_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENPROJECT_URL", raising=False)
    with pytest.raises(ValueError, match="OPENPROJECT_URL") as info:
        OpenProject.from_env(api_key="k")
    assert str(info.value) == "OPENPROJECT_URL is not set"
    monkeypatch.setenv("OPENPROJECT_URL", "")
    with pytest.raises(ValueError, match="OPENPROJECT_URL is not set"):
        OpenProject.from_env(url="", api_key="k")


# -- lifecycle -------------------------------------------------------------------------------


CLOSED_MESSAGE = (
    "this OpenProject session is closed; open a new one "
    "(or keep using it inside its `async with` block)"
)


async def test_a_closed_session_refuses_everything() -> None:
    mock = echo()
    op = session(mock)
    assert op.closed is False
    await op.close()
    await op.close()  # idempotent
    assert op.closed is True
    assert mock.closed is True
    for call in (
        op.get("/api/v3/x"),
        op.request("POST", "/api/v3/x", json={}),
        op.__aenter__(),
    ):
        with pytest.raises(SessionClosed) as info:
            await call
        assert str(info.value) == CLOSED_MESSAGE
    with pytest.raises(SessionClosed):
        op._stream("GET", "/api/v3/x")
    assert mock.requests == []


async def test_async_with_returns_the_session_and_closes_it() -> None:
    mock = echo()
    op = session(mock)
    async with op as entered:
        assert entered is op
        assert op.closed is False
    assert op.closed is True
    assert mock.closed is True


def test_a_session_belongs_to_the_loop_that_first_used_it() -> None:
    mock = echo()
    op = session(mock)
    asyncio.run(op.get("/api/v3/x"))  # that loop is closed now

    async def again() -> None:
        await op.get("/api/v3/x")

    with pytest.raises(WrongEventLoop) as info:
        asyncio.run(again())
    assert str(info.value) == (
        "this OpenProject session started in another event loop (now closed): its "
        "connections belong to that loop. Open the session inside the loop that uses it "
        "(async with OpenProject(...) in the coroutine given to asyncio.run()), one "
        "session per loop"
    )
    assert len(mock.requests) == 1


def test_another_running_loop_is_named_without_now_closed() -> None:
    op = session(echo())
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(op.get("/api/v3/x"))

        async def again() -> None:
            await op.request("POST", "/api/v3/x", json={})

        with pytest.raises(WrongEventLoop) as info:
            asyncio.run(again())
        assert str(info.value).startswith(
            "this OpenProject session started in another event loop: its connections"
        )
    finally:
        first.close()


async def test_closing_cancels_the_gets_in_flight_with_session_closed() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        first = asyncio.ensure_future(op.get("/api/v3/x"))
        waiter = asyncio.ensure_future(op.get("/api/v3/x"))
        other = asyncio.ensure_future(op.get("/api/v3/y"))
        await gate.settle()
        assert gate.inflight == 2
        await op.close()
        results = await guarded(first, waiter, other, return_exceptions=True)
    assert [type(r) for r in results] == [SessionClosed] * 3
    assert str(results[0]) == (
        f"GET {BASE}/api/v3/x: the OpenProject session was closed while the request was in "
        "flight"
    )
    assert str(results[1]) == str(results[0])
    assert gate.cancelled == 2
    assert op.stats["merged"] == 1


async def test_a_caller_cancelled_by_its_own_code_is_cancelled_not_closed() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        first = asyncio.ensure_future(op.get("/api/v3/x"))
        await gate.settle()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(first, HANG_GUARD)
        assert gate.cancelled == 1


# -- requests as sent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kw", "sent", "body", "ctype"),
    [
        ("POST", {}, "POST", b"{}", "application/json"),
        (" patch ", {}, "PATCH", b"{}", "application/json"),
        ("delete", {}, "DELETE", None, "application/json"),
        ("head", {}, "HEAD", None, None),
        ("POST", {"json": {"a": 1}}, "POST", b'{"a":1}', "application/json"),
        ("POST", {"data": b"raw"}, "POST", b"raw", None),
        ("PUT", {"json": []}, "PUT", b"[]", "application/json"),
    ],
)
async def test_request_methods_and_bodies(
    method: str, kw: dict[str, Any], sent: str, body: bytes | None, ctype: str | None
) -> None:
    mock = MockTransport(lambda request: HttpResponse(204))
    async with session(mock) as op:
        assert await op.request(method, "/api/v3/x", **kw) is None
    [request] = mock.requests
    assert (request.method, request.body) == (sent, body)
    assert request.headers.get("Content-Type") == ctype


@pytest.mark.parametrize("bad", ["", "  ", "GET /x", "P0ST", 5, None])
async def test_request_refuses_a_method_that_is_not_a_name(bad: Any) -> None:
    async with session(echo()) as op:
        with pytest.raises(ValueError, match="method must be") as info:
            await op.request(bad, "/api/v3/x")
    assert str(info.value) == f"method must be an HTTP method name, got {bad!r}"


@pytest.mark.parametrize("bad", [1, 0, "yes"])
async def test_request_refuses_a_retry_that_is_not_a_bool(bad: Any) -> None:
    async with session(echo()) as op:
        with pytest.raises(TypeError) as info:
            await op.request("GET", "/api/v3/x", retry=bad)
    assert str(info.value) == f"retry must be True, False or None, got {bad!r}"


async def test_params_are_encoded_into_the_query_of_every_kind_of_request() -> None:
    mock = echo()
    params = {"filters": [{"id": {"operator": "=", "values": ["1"]}}], "notify": False}
    query = (
        "filters=%5B%7B%22id%22:%7B%22operator%22:%22%3D%22,%22values%22:%5B%221%22%5D%7D%7D%5D"
        "&notify=false"
    )
    async with session(mock) as op:
        await op.request("GET", "/api/v3/x", params=params)
        await op.request("GET", "/api/v3/x", params=params, retry=False)
        await op.request("POST", "/api/v3/x", params=params)
    assert [r.url.raw_path_qs for r in mock.requests] == [f"/api/v3/x?{query}"] * 3


async def test_headers_of_a_call_are_sent() -> None:
    mock = echo()
    async with session(mock) as op:
        await op.request("GET", "/api/v3/x", headers={"X-Trace": "1"})
    assert mock.requests[0].headers["X-Trace"] == "1"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_cross_origin_policy_applies_to_every_request(method: str) -> None:
    mock = echo()
    async with session(mock, cross_origin="refuse") as op:
        with pytest.raises(CrossOriginRefused):
            await op.request(method, "https://elsewhere.test/api/v3/x")
        with pytest.raises(CrossOriginRefused):
            await op.request(method, "https://elsewhere.test/api/v3/x", params={"a": 1})
    assert mock.requests == []


async def test_a_get_refused_for_another_origin_only_when_the_policy_says_so() -> None:
    mock = echo()
    async with session(mock) as op:  # refuse_writes: GETs go, without credentials
        got = await op.get("https://elsewhere.test/api/v3/x", a=1)
    assert got["path"] == "/api/v3/x?a=1"
    assert "Authorization" not in mock.requests[0].headers


async def test_resolve_is_stable_for_strings_and_urls() -> None:
    async with session(echo()) as op:
        first = op.resolve("work_packages/1")
        assert str(first) == f"{BASE}/api/v3/work_packages/1"
        assert op.resolve("work_packages/1") == first
        assert str(op.resolve(first)) == str(first)
        assert op.same_origin(first) is True
        assert op.same_origin(op.resolve("https://other.test/x")) is False


# -- shared GETs and the schema cache --------------------------------------------------------


async def test_identical_gets_in_flight_share_one_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        calls = [asyncio.ensure_future(op.get("/api/v3/x", a=1)) for _ in range(3)]
        other = asyncio.ensure_future(op.get("/api/v3/x", a=2))
        await gate.settle()
        gate.event.set()
        got = await guarded(*calls, other)
        assert (op.stats["requests"], op.stats["merged"]) == (2, 2)
    assert [g["n"] for g in got] == [1, 1, 1, 1]
    assert [r.url.raw_path_qs for r in gate.mock.requests] == ["/api/v3/x?a=1", "/api/v3/x?a=2"]
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_gets_with_options_are_not_shared() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        calls = [
            asyncio.ensure_future(op.get("/api/v3/x")),
            asyncio.ensure_future(op.get("/api/v3/x", retry=False)),
            asyncio.ensure_future(op.get("/api/v3/x", timeout=5)),
            asyncio.ensure_future(op.request("GET", "/api/v3/x", headers={"X-A": "1"})),
            asyncio.ensure_future(op.request("GET", "/api/v3/x", data=b"")),
        ]
        await gate.settle()
        assert gate.inflight == 5
        gate.event.set()
        await guarded(*calls)
        assert op.stats["merged"] == 0


async def test_a_get_with_an_encoded_query_is_shared_with_the_plain_one() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        calls = [
            asyncio.ensure_future(op.get("/api/v3/x", a=1)),
            asyncio.ensure_future(op.request("GET", "/api/v3/x", params={"a": 1}, json=None)),
            asyncio.ensure_future(op.request("get", "/api/v3/x?a=1")),
        ]
        await gate.settle()
        gate.event.set()
        await guarded(*calls)
        assert (op.stats["requests"], op.stats["merged"]) == (1, 2)


async def test_a_shared_error_reaches_every_caller() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        doc = {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound", "message": "gone"}
        return HttpResponse.json(doc, 404)

    gate = Gate(answer)
    async with session(gate.mock) as op:
        calls = [asyncio.ensure_future(op.get("/api/v3/x")) for _ in range(3)]
        await gate.settle()
        gate.event.set()
        results = await guarded(*calls, return_exceptions=True)
        assert (op.stats["requests"], op.stats["merged"]) == (1, 2)
    assert [type(r) for r in results] == [NotFound] * 3


async def test_when_the_first_caller_is_cancelled_a_waiter_sends_the_get() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        first = asyncio.ensure_future(op.get("/api/v3/x"))
        waiters = [asyncio.ensure_future(op.get("/api/v3/x")) for _ in range(2)]
        await gate.settle()
        assert gate.inflight == 1
        first.cancel()
        await gate.settle()
        assert gate.inflight == 1  # one waiter asked again; the other waits for it
        gate.event.set()
        got = await guarded(*waiters)
        assert first.cancelled()
        assert op.stats["requests"] == 2
    assert [g["n"] for g in got] == [1, 1]
    assert gate.cancelled == 1


async def test_schemas_are_cached_and_other_documents_are_not() -> None:
    def answer(request: HttpRequest) -> HttpResponse:
        if "schemas" in request.url.path:
            return HttpResponse.json(SCHEMA)
        return HttpResponse.json({"_type": "Thing"})

    mock = MockTransport(answer)
    async with session(mock) as op:
        assert op.cached_schema("/api/v3/schemas/1") is None
        await op.get("/api/v3/schemas/1")
        await op.get("/api/v3/schemas/1")
        await op.get(f"{BASE}/api/v3/schemas/1")
        await op.get("/api/v3/things/1")
        await op.get("/api/v3/things/1")
        assert op.cached_schema("schemas/1") == SCHEMA
        assert op.cached_schema("/api/v3/things/1") is None
        assert (op.stats["requests"], op.stats["cached"]) == (3, 2)
        op.remember_schema("/api/v3/schemas/2", SCHEMA)
        await op.get("/api/v3/schemas/2")
        assert (op.stats["requests"], op.stats["cached"]) == (3, 3)
        # a GET with options is sent anyway
        await op.get("/api/v3/schemas/1", retry=False)
        assert op.stats["requests"] == 4


async def test_stats_count_requests_and_retries() -> None:
    answers = [HttpResponse(503, {"Retry-After": "0"}), HttpResponse.json({"_type": "Thing"})]
    mock = MockTransport(lambda request: answers.pop(0))
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        await op.get("/api/v3/x")
        assert (op.stats["requests"], op.stats["retries"]) == (2, 1)


async def test_a_get_with_a_json_body_sends_it_and_is_not_shared() -> None:
    gate = Gate()
    async with session(gate.mock) as op:
        plain = asyncio.ensure_future(op.get("/api/v3/x"))
        with_body = asyncio.ensure_future(op.request("GET", "/api/v3/x", json={"a": 1}))
        await gate.settle()
        assert gate.inflight == 2
        gate.event.set()
        await guarded(plain, with_body)
        assert op.stats["merged"] == 0
    assert [r.body for r in gate.mock.requests] == [None, b'{"a":1}']


# -- the session's own headers, the default transport, text answers ---------------------------


async def test_session_headers_go_to_the_server_only() -> None:
    mock = echo()
    async with session(mock, headers={"X-Tenant": "t"}) as op:
        await op.get("/api/v3/x")
        await op.request("POST", "/api/v3/x", json={})
        await op.get("https://elsewhere.test/x")
    assert [r.headers.get("X-Tenant") for r in mock.requests] == ["t", "t", None]


async def test_the_default_transport_has_no_connection_cap_of_its_own() -> None:
    async with OpenProject(BASE, api_key="k") as op:
        transport = op.transport
        assert isinstance(transport, AiohttpTransport)
        assert transport.http.connector is not None
        assert transport.http.connector.limit == 0
    async with aiohttp.ClientSession() as http:
        async with OpenProject(BASE, api_key="k", http_session=http) as op:
            assert isinstance(op.transport, AiohttpTransport)
            assert op.transport.http is http
        assert not http.closed


PREVIEW = {
    "_type": "WorkPackage",
    "_links": {
        "self": {"href": "/api/v3/work_packages/1"},
        "previewMarkup": {
            "href": "/api/v3/render/markdown?context=/api/v3/work_packages/1",
            "method": "post",
        },
    },
}


async def test_a_text_answer_is_returned_as_text() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {"Content-Type": "text/html"}, body=b"<p><em>x</em></p>")

    mock = MockTransport(handler)
    async with session(mock, retry=FAST) as op:
        html = await op.wrap(PREVIEW).previewMarkup("*x*", params={"plain": "yes"})
    assert html == "<p><em>x</em></p>"
    [sent] = mock.requests
    assert (sent.method, sent.url.raw_path_qs, sent.body) == (
        "POST",
        "/api/v3/render/markdown?context=/api/v3/work_packages/1&plain=yes",
        b"*x*",
    )
    assert sent.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_a_text_request_is_retried_and_its_errors_are_typed() -> None:
    answers = [
        HttpResponse(503, {"Retry-After": "0"}),
        HttpResponse.json(
            {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound", "message": "x"}, 404
        ),
    ]
    mock = MockTransport(lambda request: answers.pop(0))
    async with session(mock, retry=FAST) as op:
        with pytest.raises(NotFound):
            await op.wrap(PREVIEW).previewMarkup("*x*")
        assert op.stats["retries"] == 1


async def test_from_env_leaves_an_oauth_or_auth_argument_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENPROJECT_URL", BASE)
    monkeypatch.setenv("OPENPROJECT_API_KEY", "k")
    oauth = OAuthClientCredentials("client", "secret")
    op = OpenProject.from_env(oauth=oauth, transport=echo())
    assert op.auth is oauth
    mine = Tokens()
    assert OpenProject.from_env(auth=mine, transport=echo()).auth is mine


class Tokens:
    async def header(self, transport: Any, api_root: Any) -> str | None:
        return "Bearer x"

    async def invalidate(self, rejected: str | None) -> bool:
        return False


async def test_a_storage_form_on_the_servers_own_origin_gets_no_credentials() -> None:
    prepared = {
        "_type": "Attachment",
        "_links": {
            "addAttachment": {"href": f"{BASE}/uploads/direct", "form_fields": {"key": "k1"}},
            "completeUpload": {"href": "/api/v3/attachments/7/uploaded"},
        },
    }

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path.endswith("/prepare"):
            return HttpResponse.json(prepared, 201)
        if request.url.path == "/uploads/direct":
            return HttpResponse(204)
        return HttpResponse.json({"_type": "Attachment", "id": 7})

    mock = MockTransport(handler)
    async with session(mock, headers={"X-Tenant": "t"}) as op:
        await op.upload(b"abc", "a.txt", direct=True)
    storage = mock.requests[1]
    assert str(storage.url) == f"{BASE}/uploads/direct"
    assert {"Authorization", "X-Tenant"} & set(storage.headers) == set()
    assert mock.requests[2].headers["X-Tenant"] == "t"
