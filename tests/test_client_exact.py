"""``OpenProject``'s own methods over ``MockTransport``: get, root, get_many, gather.

Exact requests (path and query), exact errors, and exact concurrency: handlers that wait
on a gate report how many requests were in flight at once.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from typing import Any

import orjson
import pytest

from openproject_async import (
    Collection,
    HttpRequest,
    HttpResponse,
    OpenProject,
    Resource,
    UnexpectedResource,
)
from openproject_async.errors import NotFound, OpenProjectError, ProtocolError
from openproject_async.testing import MockTransport

BASE = "https://op.test"
#: Seconds before a request that should have been released or cancelled fails instead
#: of hanging (a guard for broken code, never reached by working code).
HANG_GUARD = 5
NOT_FOUND = {
    "_type": "Error",
    "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
    "message": "gone",
}


def doc_for(request: HttpRequest) -> dict[str, Any]:
    return {"_type": "Thing", "path": request.url.raw_path_qs}


def echo() -> MockTransport:
    """Answers every GET with a document naming its path and query."""
    return MockTransport(lambda request: HttpResponse.json(doc_for(request)))


class Gate:
    """A handler whose requests wait until :meth:`open`; counts those in flight."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.fail = fail
        self.inflight = 0
        self.peak = 0
        self.event = asyncio.Event()
        self.mock = MockTransport(self.handle)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            await asyncio.wait_for(self.event.wait(), HANG_GUARD)
        finally:
            self.inflight -= 1
        if request.url.name in self.fail:
            return HttpResponse.json(NOT_FOUND, 404)
        return HttpResponse.json(doc_for(request))

    async def settle(self) -> None:
        """Let every runnable task run until it waits (no timing)."""
        for _ in range(20):
            await asyncio.sleep(0)

    def session(self, **kw: Any) -> OpenProject:
        return OpenProject(BASE, api_key="k", transport=self.mock, retry=None, **kw)


# -- get and root --------------------------------------------------------------------------


async def test_get_sends_keyword_query_and_params_with_params_winning() -> None:
    mock = echo()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        got = await op.get("/api/v3/x", pageSize=5, offset=2, params={"offset": 3, "timeout": 1})
    assert got["path"] == "/api/v3/x?pageSize=5&offset=3&timeout=1"
    assert [r.url.raw_path_qs for r in mock.requests] == [got["path"]]


async def test_get_without_query_sends_none() -> None:
    mock = echo()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        got = await op.get("/api/v3/x", params={})
    assert got["path"] == "/api/v3/x"


async def test_get_with_timeout_and_retry_applies_them_to_that_call() -> None:
    answers = [HttpResponse(503, {"Retry-After": "0"}), HttpResponse.json({"_type": "Thing"})]
    mock = MockTransport(lambda request: answers.pop(0))
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(ProtocolError, match="status 503"):
            await op.get("/api/v3/x", timeout=3.0, retry=False)
        assert op.stats["requests"] == 1
    assert mock.requests[0].timeout.total == 3.0


async def test_get_of_an_empty_answer_raises_protocol_error_with_the_url() -> None:
    mock = MockTransport(lambda request: HttpResponse(204))
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(ProtocolError) as info:
            await op.get("x/1")
    assert str(info.value) == f"empty answer to GET; from {BASE}/api/v3/x/1"
    assert info.value.url == f"{BASE}/api/v3/x/1"


async def test_get_with_expect_types_the_answer_or_names_what_came() -> None:
    mock = echo()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        assert type(await op.get("/api/v3/x", expect=Resource)) is Resource
        with pytest.raises(UnexpectedResource) as info:
            await op.get("/api/v3/y", expect=Collection)
    assert str(info.value) == "GET /api/v3/y: expected a Collection, got a Resource (Thing)"


async def test_root_gets_the_api_root_of_a_sub_path_server() -> None:
    mock = echo()
    async with OpenProject(f"{BASE}/op/", api_key="k", transport=mock) as op:
        root = await op.root()
    assert root["path"] == "/op/api/v3"
    assert [str(r.url) for r in mock.requests] == [f"{BASE}/op/api/v3"]


async def test_wrap_picks_the_kind_of_document() -> None:
    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        page = op.wrap({"_type": "Collection", "_embedded": {"elements": []}})
        plain = op.wrap({"_type": "Thing"})
    assert (type(page), type(plain)) == (Collection, Resource)


# -- get_many ------------------------------------------------------------------------------


async def test_get_many_returns_results_in_input_order() -> None:
    mock = echo()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        got = await op.get_many(f"/api/v3/x/{i}" for i in (3, 1, 2))
    assert [r["path"] for r in got] == ["/api/v3/x/3", "/api/v3/x/1", "/api/v3/x/2"]


async def test_get_many_of_nothing_is_an_empty_list() -> None:
    mock = echo()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        assert await op.get_many([]) == []
    assert mock.requests == []


@pytest.mark.parametrize(("concurrency", "peak"), [(2, 2), (None, 3), (5, 3)])
async def test_get_many_keeps_at_most_concurrency_requests_in_flight(
    concurrency: int | None, peak: int
) -> None:
    # max_concurrency=3: the default, and a cap get_many does not widen
    gate = Gate()
    async with gate.session(max_concurrency=3) as op:
        task = asyncio.ensure_future(
            op.get_many([f"/api/v3/x/{i}" for i in range(6)], concurrency=concurrency)
        )
        await gate.settle()
        assert gate.inflight == peak
        gate.event.set()
        got = await asyncio.wait_for(task, HANG_GUARD)
    assert [r["path"] for r in got] == [f"/api/v3/x/{i}" for i in range(6)]
    assert gate.peak == peak


async def test_get_many_with_return_exceptions_puts_each_failure_in_its_place() -> None:
    gate = Gate(fail=frozenset({"1", "3"}))
    gate.event.set()
    async with gate.session() as op:
        got = await op.get_many([f"/api/v3/x/{i}" for i in range(4)], return_exceptions=True)
    assert [type(r) for r in got] == [Resource, NotFound, Resource, NotFound]
    assert (got[0]["path"], got[2]["path"]) == ("/api/v3/x/0", "/api/v3/x/2")


async def test_get_many_raises_the_first_failure() -> None:
    gate = Gate(fail=frozenset({"1"}))
    gate.event.set()
    async with gate.session() as op:
        with pytest.raises(NotFound):
            await op.get_many([f"/api/v3/x/{i}" for i in range(3)])


async def test_get_many_refuses_one_href() -> None:
    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        with pytest.raises(TypeError) as info:
            await op.get_many("/api/v3/x")
    assert str(info.value) == "get_many takes an iterable of hrefs, not one href (use get)"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
async def test_get_many_and_gather_refuse_a_bad_concurrency(bad: Any) -> None:
    message = f"concurrency must be an int >= 1 or None, got {bad!r}"
    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        with pytest.raises(ValueError, match="concurrency must be") as info:
            await op.get_many(["/api/v3/x"], concurrency=bad)
        assert str(info.value) == message
        pending = op.get("/api/v3/x")
        with pytest.raises(ValueError, match="concurrency must be") as info:
            await op.gather(pending, concurrency=bad)
        assert str(info.value) == message
        pending.close()


# -- gather --------------------------------------------------------------------------------


@pytest.mark.parametrize(("concurrency", "peak"), [(None, 2), (1, 1), (4, 4)])
async def test_gather_keeps_concurrency_in_flight_widening_the_session(
    concurrency: int | None, peak: int
) -> None:
    gate = Gate()
    async with gate.session(max_concurrency=2) as op:
        task = asyncio.ensure_future(
            op.gather(*(op.get(f"/api/v3/x/{i}") for i in range(6)), concurrency=concurrency)
        )
        await gate.settle()
        assert gate.inflight == peak
        gate.event.set()
        got = await asyncio.wait_for(task, HANG_GUARD)
        # the session's own limit is back to max_concurrency afterwards
        gate.event.clear()
        after = asyncio.ensure_future(op.get_many([f"/api/v3/y/{i}" for i in range(4)]))
        await gate.settle()
        assert gate.inflight == 2
        gate.event.set()
        await asyncio.wait_for(after, HANG_GUARD)
    assert [r["path"] for r in got] == [f"/api/v3/x/{i}" for i in range(6)]  # type: ignore[index]


async def test_gather_returns_api_errors_in_place_and_the_rest_runs() -> None:
    gate = Gate(fail=frozenset({"1"}))
    gate.event.set()
    async with gate.session() as op:
        got = await op.gather(*(op.get(f"/api/v3/x/{i}") for i in range(3)))
    assert [type(r) for r in got] == [Resource, NotFound, Resource]
    assert isinstance(got[1], OpenProjectError)


async def test_gather_propagates_other_errors_and_closes_what_never_started() -> None:
    async def boom() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("bug")

    async def fine() -> int:
        return 1

    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        later: list[Coroutine[Any, Any, int]] = [fine(), fine()]
        with pytest.raises(RuntimeError, match="bug"):
            await op.gather(boom(), *later, concurrency=1)
    assert [inspect.getcoroutinestate(c) for c in later] == ["CORO_CLOSED", "CORO_CLOSED"]


async def test_gather_cancelled_from_outside_closes_the_operations_not_started() -> None:
    async def fine() -> int:
        return 1

    gate = Gate()
    async with gate.session() as op:
        later: list[Coroutine[Any, Any, int]] = [fine(), fine()]
        task = asyncio.ensure_future(op.gather(op.get("/api/v3/x/0"), *later, concurrency=1))
        await gate.settle()
        assert gate.inflight == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, HANG_GUARD)
        assert gate.inflight == 0
    assert [inspect.getcoroutinestate(c) for c in later] == ["CORO_CLOSED", "CORO_CLOSED"]


async def test_gather_takes_tasks_and_futures_too() -> None:
    async def fine() -> int:
        return 1

    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(2)
        got = await op.gather(asyncio.ensure_future(fine()), done)
    assert got == [1, 2]


# -- what OpenProject passes on to the modules it composes ---------------------------------


async def test_changes_defaults_to_polls_every_30_seconds_of_100_per_page() -> None:
    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        feed = op.changes("/api/v3/work_packages", since="2030-01-01T00:00:00Z")
        tuned = op.changes(
            "/api/v3/work_packages", since="2030-01-01T00:00:00Z", interval=2, page_size=7
        )
    assert (feed.href, feed.interval, feed.page_size) == ("/api/v3/work_packages", 30.0, 100)
    assert (tuned.interval, tuned.page_size) == (2.0, 7)


async def test_wait_for_job_passes_its_documented_defaults_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openproject_async._client as client

    calls: list[tuple[Any, dict[str, Any]]] = []

    async def fake(op: Any, job: Any, **kw: Any) -> Any:
        calls.append((job, kw))
        return job

    monkeypatch.setattr(client, "wait_for_job", fake)
    async with OpenProject(BASE, api_key="k", transport=echo()) as op:
        await op.wait_for_job("/api/v3/job_statuses/1")
        await op.wait_for_job("j", timeout=None, interval=1.0, max_interval=2.0)
    assert calls == [
        ("/api/v3/job_statuses/1", {"timeout": 300.0, "interval": 0.2, "max_interval": 5.0}),
        ("j", {"timeout": None, "interval": 1.0, "max_interval": 2.0}),
    ]


async def test_a_custom_action_is_executed_with_notify_in_the_query() -> None:
    action = {
        "_type": "CustomAction",
        "name": "Close",
        "_links": {
            "self": {"href": "/api/v3/custom_actions/2", "title": "Close"},
            "executeImmediately": {"href": "/api/v3/custom_actions/2/execute", "method": "post"},
        },
    }
    wp = {
        "_type": "WorkPackage",
        "id": 5,
        "lockVersion": 3,
        "_links": {
            "self": {"href": "/api/v3/work_packages/5"},
            "customActions": [{"href": "/api/v3/custom_actions/2", "title": "Close"}],
        },
        "_embedded": {"customActions": [action]},
    }
    mock = MockTransport(lambda request: HttpResponse.json({**wp, "lockVersion": 4}))
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        done = await op.wrap(wp).execute_custom_action("Close", notify=False)
    assert done["lockVersion"] == 4
    [sent] = mock.requests
    assert (sent.method, sent.url.raw_path_qs) == (
        "POST",
        "/api/v3/custom_actions/2/execute?notify=false",
    )


@pytest.mark.parametrize(
    ("overlap", "lower"),
    [({}, "2030-01-01T00:01:39Z"), ({"overlap": 5}, "2030-01-01T00:01:35Z")],
)
async def test_changes_passes_overlap_on(overlap: dict[str, Any], lower: str) -> None:
    changed = {
        "_type": "WorkPackage",
        "id": 1,
        "updatedAt": "2030-01-01T00:01:40Z",
        "_links": {"self": {"href": "/api/v3/work_packages/1"}},
    }
    answers = [[changed], []]

    def handler(request: HttpRequest) -> HttpResponse:
        elements = answers.pop(0)
        page = {"_type": "Collection", "total": len(elements), "count": len(elements)}
        return HttpResponse.json({**page, "pageSize": 100, "_embedded": {"elements": elements}})

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        feed = op.changes("/api/v3/work_packages", since="2030-01-01T00:00:00Z", **overlap)
        assert [r["id"] async for r in feed.poll()] == [1]
        assert [r["id"] async for r in feed.poll()] == []
    filters = [orjson.loads(r.url.query["filters"]) for r in mock.requests]
    assert [f[0]["updatedAt"]["values"][0] for f in filters] == ["2030-01-01T00:00:00Z", lower]


async def test_upload_passes_its_arguments_on() -> None:
    bodies: list[bytes] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        bodies.append(b"".join([c async for c in request.body]))
        return HttpResponse.json({"_type": "Attachment", "id": 7}, 201)

    sent: list[tuple[int, int | None]] = []
    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        att = await op.upload(
            b"abc",
            "a.txt",
            content_type="text/x-mine",
            description="about a",
            progress=lambda done, size: sent.append((done, size)),
        )
    assert att["id"] == 7
    assert (mock.requests[0].method, mock.requests[0].url.path) == ("POST", "/api/v3/attachments")
    [body] = bodies
    assert b'{"fileName":"a.txt","description":{"raw":"about a"}}' in body
    assert b'filename="a.txt"\r\nContent-Type: text/x-mine\r\n\r\nabc\r\n' in body
    assert sent[-1] == (3, 3)
