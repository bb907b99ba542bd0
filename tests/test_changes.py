"""``op.changes()``: change feeds over ``updatedAt``, against the built-in server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openproject_async import (
    ChangesUnsupported,
    InvalidQuery,
    OpenProject,
    Resource,
    RetryPolicy,
)
from openproject_async.testing import FakeOpenProject, Fault

from .tasks import library_tasks

API = "/api/v3"
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
WPS = f"{API}/work_packages"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=300) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    retry = RetryPolicy(backoff=0.001, max_backoff=0.001)
    async with OpenProject(server.url, api_key=server.api_key, retry=retry) as session:
        yield session


def stamp(server: FakeOpenProject, wp_id: int, seconds: float, **changes: Any) -> None:
    """Change a work package at T0 + seconds (the server renders whole seconds)."""
    wp = server.work_package(wp_id)
    for key, value in changes.items():
        setattr(wp, key, value)
    wp.lock_version += 1
    wp.updated_at = T0 + dt.timedelta(seconds=seconds)


def polls(server: FakeOpenProject) -> list[dict[str, Any]]:
    found = []
    for r in server.requests:
        if r.method == "GET" and r.path == WPS:
            query = parse_qs(r.query)
            found.append({k: json.loads(v[0]) for k, v in query.items()})
    return found


async def drain(feed: Any) -> list[tuple[int, str]]:
    return [(wp["id"], wp["subject"]) async for wp in feed.poll()]


async def test_the_server_renders_whole_seconds(server: FakeOpenProject, op: OpenProject) -> None:
    stamp(server, 1, 0.75)
    wp = await op.get(f"{WPS}/1")
    assert wp["updatedAt"] == "2030-01-01T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", wp["createdAt"])


async def test_each_change_once_oldest_first(server: FakeOpenProject, op: OpenProject) -> None:
    stamp(server, 3, 2.1)
    stamp(server, 2, 1.5)
    stamp(server, 1, 1.2)  # ties with 2: the same second
    stamp(server, 4, -0.5)  # before since
    server.clear_requests()
    feed = op.changes(WPS, since=T0, page_size=50)
    first = await drain(feed)
    assert [i for i, _ in first] == [1, 2, 3]
    assert polls(server) == [
        {
            "filters": [{"updatedAt": {"operator": "<>d", "values": ["2030-01-01T00:00:00Z", ""]}}],
            "sortBy": [["updatedAt", "asc"], ["id", "asc"]],
            "pageSize": 50,
        }
    ]
    assert await drain(feed) == []  # nothing new: nothing again
    # a resource changed twice between polls: once, latest state; again in the same
    # second as the one already yielded: yielded again
    stamp(server, 1, 3.0, subject="one")
    stamp(server, 1, 3.2, subject="one, again")
    stamp(server, 3, 2.6, subject="three, same second")
    assert await drain(feed) == [(3, "three, same second"), (1, "one, again")]
    assert await drain(feed) == []
    assert feed.polls == 4
    assert feed.since == T0 + dt.timedelta(seconds=3)
    assert polls(server)[-1]["filters"] == [
        {"updatedAt": {"operator": "<>d", "values": ["2030-01-01T00:00:02Z", ""]}}
    ]


async def test_filters_narrow_the_feed(server: FakeOpenProject, op: OpenProject) -> None:
    for wp_id in range(1, 9):
        stamp(server, wp_id, wp_id)
    project = {"project": {"operator": "=", "values": ["2"]}}
    feed = op.changes(WPS, since=T0, filters=[project])
    ids = [i for i, _ in await drain(feed)]
    assert ids == [i for i in range(1, 9) if server.work_package(i).project_id == 2]
    assert polls(server)[-1]["filters"][0] == project


async def test_many_resources_in_one_second(server: FakeOpenProject, op: OpenProject) -> None:
    for wp_id in range(1, 251):
        stamp(server, wp_id, 5.0 + wp_id / 1000)
    feed = op.changes(WPS, since=T0, page_size=100)
    ids = [i for i, _ in await drain(feed)]
    assert sorted(ids) == list(range(1, 251))
    assert len(ids) == 250
    assert await drain(feed) == []
    stamp(server, 120, 5.9, subject="changed within the crowded second")
    assert await drain(feed) == [(120, "changed within the crowded second")]


async def test_a_change_during_the_read_loses_nothing(
    server: FakeOpenProject, op: OpenProject
) -> None:
    for wp_id in range(1, 7):
        stamp(server, wp_id, wp_id)
    feed = op.changes(WPS, since=T0, page_size=2)
    got = []
    async for wp in feed.poll():
        got.append((wp["id"], wp["subject"]))
        if wp["id"] == 1 and wp["subject"] != "moved":
            # moves to the end of the order: with offset pages, 3 would slip out of sight
            stamp(server, 1, 10, subject="moved")
    assert [i for i, _ in got] == [1, 2, 3, 4, 5, 6, 1]
    assert got[-1] == (1, "moved")


async def test_resume_from_a_cursor(server: FakeOpenProject, op: OpenProject) -> None:
    for wp_id in range(1, 6):
        stamp(server, wp_id, 1 + wp_id // 3)  # seconds 1, 1, 2, 2, 2: ties on both sides
    feed = op.changes(WPS, since=T0, page_size=2)
    first = []
    async for wp in feed.poll():
        first.append(wp["id"])
        cursor = feed.cursor
        if len(first) == 3:
            break
    assert first == [1, 2, 3]
    again = op.changes(WPS, since=cursor, page_size=2)
    assert [i for i, _ in await drain(again)] == [4, 5]
    stamp(server, 3, 2.5, subject="three changed")
    resumed = op.changes(WPS, since=again.cursor)
    assert await drain(resumed) == [(3, "three changed")]
    assert isinstance(cursor, str)
    assert "2030" not in cursor  # opaque


async def test_async_for_polls_until_stopped(server: FakeOpenProject, op: OpenProject) -> None:
    stamp(server, 1, 1)
    feed = op.changes(WPS, since=T0, interval=0)
    seen: list[int] = []
    async for wp in feed:
        seen.append(wp["id"])
        if len(seen) == 1:
            stamp(server, 2, 2)
        else:
            break
    assert seen == [1, 2]
    await feed.aclose()
    with pytest.raises(StopAsyncIteration):
        await feed.__anext__()


async def test_cancellation_stops_cleanly(server: FakeOpenProject, op: OpenProject) -> None:
    stamp(server, 1, 1)
    got = asyncio.Event()
    seen: list[Resource] = []

    async def follow() -> None:
        async with op.changes(WPS, since=T0, interval=3600) as feed:
            async for wp in feed:
                seen.append(wp)
                got.set()

    task = asyncio.create_task(follow())
    await got.wait()
    for _ in range(5):
        await asyncio.sleep(0)  # into the wait between polls
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [wp["id"] for wp in seen] == [1]
    assert library_tasks() == []


async def test_transient_failures_are_retried(server: FakeOpenProject, op: OpenProject) -> None:
    stamp(server, 1, 1)
    server.faults.add(Fault("status", status=503, times=1, path="/work_packages$"))
    feed = op.changes(WPS, since=T0)
    assert [i for i, _ in await drain(feed)] == [1]
    assert op.stats["retries"] == 1


async def test_a_collection_without_updated_at(server: FakeOpenProject, op: OpenProject) -> None:
    feed = op.changes(f"{API}/users", since=T0)
    with pytest.raises(ChangesUnsupported, match="/api/v3/users has no updatedAt filter"):
        await drain(feed)
    bad = op.changes(WPS, since=T0, filters=[{"nonsense": {"operator": "=", "values": ["1"]}}])
    with pytest.raises(InvalidQuery):  # the caller's filter is what the server refused
        await drain(bad)


async def test_arguments_are_checked(op: OpenProject) -> None:
    with pytest.raises(ValueError, match="sets the updatedAt filter itself"):
        op.changes(WPS, filters=[{"updatedAt": {"operator": ">t-", "values": ["1"]}}])
    with pytest.raises(ValueError, match="sortBy is set by the feed"):
        op.changes(WPS, params={"sortBy": "[]"})
    with pytest.raises(ValueError, match="interval must be seconds >= 0"):
        op.changes(WPS, interval=-1)
    with pytest.raises(ValueError, match="page_size must be an int >= 1"):
        op.changes(WPS, page_size=0)
    with pytest.raises(ValueError, match="not a cursor of a change feed"):
        op.changes(WPS, since="garbage!")
    cursor = op.changes(WPS, since=T0).cursor
    with pytest.raises(ValueError, match="belongs to a feed of '/api/v3/work_packages'"):
        op.changes(f"{API}/projects", since=cursor)
    with pytest.raises(TypeError, match="since must be a cursor, a datetime or None"):
        op.changes(WPS, since=5)  # type: ignore[arg-type]
    feed = op.changes(WPS, since="2030-01-01T00:00:07Z")
    assert feed.since == T0 + dt.timedelta(seconds=7)
    naive = op.changes(WPS, since=dt.datetime(2030, 1, 1, 0, 0, 9))
    assert naive.since == T0 + dt.timedelta(seconds=9)


# -- another collection with updatedAt (a minimal server of time entries) -----------------------


class TimeEntries:
    """``/api/v3/time_entries`` with the ``updatedAt`` filter and sort, whole-second dates."""

    def __init__(self) -> None:
        self.entries: dict[int, dict[str, Any]] = {}
        self.queries: list[dict[str, Any]] = []

    def put(self, entry_id: int, seconds: float, hours: str) -> None:
        self.entries[entry_id] = {"at": T0 + dt.timedelta(seconds=seconds), "hours": hours}

    async def handle(self, request: web.Request) -> web.Response:
        query = {
            k: json.loads(v) if k in ("filters", "sortBy") else v for k, v in request.query.items()
        }
        self.queries.append(query)
        (changed,) = [f["updatedAt"] for f in query["filters"] if "updatedAt" in f]
        lower = dt.datetime.fromisoformat(changed["values"][0].replace("Z", "+00:00"))
        assert query["sortBy"] == [["updatedAt", "asc"], ["id", "asc"]]
        rows = sorted((e["at"], i, e) for i, e in self.entries.items() if e["at"] >= lower)
        size, page = int(query["pageSize"]), int(query.get("offset", 1))
        chunk = rows[(page - 1) * size : page * size]
        elements = [
            {
                "_type": "TimeEntry",
                "id": i,
                "hours": e["hours"],
                "updatedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "_links": {"self": {"href": f"/api/v3/time_entries/{i}"}},
            }
            for at, i, e in chunk
        ]
        doc = {
            "_type": "Collection",
            "total": len(rows),
            "count": len(elements),
            "pageSize": size,
            "offset": page,
            "_embedded": {"elements": elements},
            "_links": {"self": {"href": "/api/v3/time_entries"}},
        }
        return web.json_response(doc, content_type="application/hal+json")


async def test_other_collections_with_updated_at() -> None:
    entries = TimeEntries()
    for entry_id in range(1, 8):
        entries.put(entry_id, 1 + entry_id // 4, f"PT{entry_id}H")  # 3 ties, then 4 ties
    app = web.Application()
    app.router.add_get("/api/v3/time_entries", entries.handle)
    async with TestServer(app) as http, OpenProject(str(http.make_url("/")), api_key="k") as op:
        feed = op.changes("/api/v3/time_entries", since=T0, page_size=3)
        got = [(e["id"], e["hours"]) async for e in feed.poll()]
        assert [i for i, _ in got] == [1, 2, 3, 4, 5, 6, 7]
        cursor = feed.cursor
        entries.put(5, 2.5, "PT9H")  # the same second as before: changed all the same
        entries.put(8, 3, "PT1H")
        resumed = op.changes("/api/v3/time_entries", since=cursor, page_size=3)
        assert [(e["id"], e["hours"]) async for e in resumed.poll()] == [
            (5, "PT9H"),
            (8, "PT1H"),
        ]
        assert [(e["id"]) async for e in resumed.poll()] == []
