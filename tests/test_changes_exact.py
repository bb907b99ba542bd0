"""Change feeds over MockTransport, exactly: every query sent, every resource yielded, the cursor.

Written against mutation testing (README, "Development"): the keyset paging on
``updatedAt`` (ties within a second, the overlap window), the cursor's encoding and resume,
and the arguments' checks, each stated exactly.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

from openproject_async import (
    ChangesUnsupported,
    HttpRequest,
    HttpResponse,
    InvalidQuery,
    OpenProject,
    ProtocolError,
)
from openproject_async import _changes as changes_module
from openproject_async.testing import MockTransport

BASE = "https://op.test"
WPS = "/api/v3/work_packages"
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
S0 = int(T0.timestamp())
SORT = [["updatedAt", "asc"], ["id", "asc"]]
INVALID_QUERY = "urn:openproject-org:api:v3:errors:InvalidQuery"


def iso(second: int) -> str:
    """T0 + ``second`` as the server renders it."""
    return (T0 + dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


def changed(second: int) -> dict[str, Any]:
    return {"updatedAt": {"operator": "<>d", "values": [iso(second), ""]}}


def refused(message: str) -> HttpResponse:
    doc = {"_type": "Error", "errorIdentifier": INVALID_QUERY, "message": message}
    return HttpResponse.json(doc, 400)


class Feed:
    """``/api/v3/work_packages`` in memory: the ``updatedAt`` filter, the sort, offset pages."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.queries: list[dict[str, Any]] = []
        self.max_page = 1000
        self.total_shift = 0  # added to ``total`` (a collection that moves under the walk)
        self.before: Callable[[dict[str, Any]], HttpResponse | None] | None = None

    def put(self, wp_id: int, second: int, subject: str = "", **doc: Any) -> None:
        self.items[wp_id] = {
            "_type": "WorkPackage",
            "id": wp_id,
            "subject": subject or f"wp {wp_id}",
            "updatedAt": iso(second),
            "_links": {"self": {"href": f"{WPS}/{wp_id}"}},
            **doc,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        assert (request.method, request.url.path) == ("GET", WPS)
        query: dict[str, Any] = dict(parse_qsl(request.url.query_string))
        for key in ("filters", "sortBy"):
            if key in query:
                query[key] = orjson.loads(query[key])
        self.queries.append(query)
        assert len(self.queries) <= 40, "the feed keeps asking"  # (a mutant's endless loop)
        if self.before is not None:
            answer = self.before(query)
            if answer is not None:
                return answer
        lower = next(f["updatedAt"] for f in query["filters"] if "updatedAt" in f)["values"][0]
        rows = sorted(
            (d for d in self.items.values() if d["updatedAt"] >= lower),
            key=lambda d: (d["updatedAt"], str(d.get("id"))),
        )
        size = min(int(query["pageSize"]), self.max_page)
        page = int(query.get("offset", "1"))
        chunk = rows[(page - 1) * size : page * size]
        return HttpResponse.json(
            {
                "_type": "Collection",
                "total": len(rows) + self.total_shift,
                "count": len(chunk),
                "pageSize": size,
                "offset": page,
                "_embedded": {"elements": chunk},
                "_links": {"self": {"href": WPS}},
            }
        )

    def asked(self) -> list[tuple[str, str | None]]:
        """(lower bound, offset) of each query."""
        out = []
        for q in self.queries:
            (f,) = [f for f in q["filters"] if "updatedAt" in f]
            assert f["updatedAt"]["operator"] == "<>d"
            assert f["updatedAt"]["values"][1] == ""
            out.append((f["updatedAt"]["values"][0], q.get("offset")))
        return out


@pytest.fixture
async def env() -> AsyncIterator[tuple[OpenProject, Feed]]:
    feed = Feed()
    async with OpenProject(BASE, api_key="k", transport=MockTransport(feed), retry=None) as op:
        yield op, feed


Env = tuple[OpenProject, Feed]


async def drain(feed: changes_module.ChangeFeed) -> list[tuple[int, str]]:
    return [(r["id"], r["subject"]) async for r in feed.poll()]


def decode(cursor: str) -> Any:
    assert "=" not in cursor
    return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def encode(doc: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")


def digest(doc: dict[str, Any]) -> str:
    """What the feed keeps of a state: its properties and its links' href and method."""
    state = {k: v for k, v in doc.items() if k not in ("_links", "_embedded")}
    links = doc.get("_links", {})
    state["_links"] = {
        rel: [[v.get("href"), v.get("method")] for v in value]
        if isinstance(value, list)
        else [value.get("href"), value.get("method")]
        for rel, value in links.items()
    }
    data = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


# -- the queries -----------------------------------------------------------------------------


async def test_the_first_query_is_exact(env: Env) -> None:
    op, server = env
    server.put(1, 5)
    project = {"project": {"operator": "=", "values": ["2"]}}
    feed = op.changes(
        WPS, since=T0 + dt.timedelta(seconds=5), filters=[project], page_size=3, params={"x": 1}
    )
    assert await drain(feed) == [(1, "wp 1")]
    assert server.queries == [
        {"x": "1", "filters": [project, changed(5)], "sortBy": SORT, "pageSize": "3"}
    ]
    assert list(server.queries[0]) == ["x", "filters", "sortBy", "pageSize"]


async def test_keyset_paging_asks_again_from_the_newest_second(env: Env) -> None:
    op, server = env
    for wp_id, second in enumerate([1, 1, 2, 3, 3, 4], start=1):
        server.put(wp_id, second)
    feed = op.changes(WPS, since=T0, page_size=2)
    assert [i for i, _ in await drain(feed)] == [1, 2, 3, 4, 5, 6]
    assert server.asked() == [
        (iso(0), None),
        (iso(0), "2"),  # one window (second 1 - overlap is before since): its next page
        (iso(2), None),  # newest 3, minus the overlap
        (iso(2), "2"),
        (iso(3), None),
        (iso(3), "2"),
    ]
    assert feed.polls == 1
    assert feed.since == T0 + dt.timedelta(seconds=4)
    server.queries.clear()
    assert await drain(feed) == []
    assert server.asked() == [(iso(3), None), (iso(3), "2")]  # 4 and 5 fill a page
    assert feed.polls == 2


async def test_a_short_page_ends_the_poll(env: Env) -> None:
    op, server = env
    server.put(1, 1)
    server.put(2, 9)
    feed = op.changes(WPS, since=T0, page_size=3)
    assert [i for i, _ in await drain(feed)] == [1, 2]
    assert server.asked() == [(iso(0), None)]
    empty = op.changes(WPS, since=T0 + dt.timedelta(seconds=20), page_size=3)
    assert await drain(empty) == []
    assert server.asked()[1:] == [(iso(20), None)]


async def test_the_server_s_page_size_decides_a_full_page(env: Env) -> None:
    op, server = env
    server.max_page = 2  # the server caps pageSize
    for wp_id in range(1, 6):
        server.put(wp_id, 7)
    feed = op.changes(WPS, since=T0, page_size=100)
    assert [i for i, _ in await drain(feed)] == [1, 2, 3, 4, 5]
    # 1 and 2 move the window to second 6; 3, 4 and 5 are read page by page
    assert server.asked() == [(iso(0), None), (iso(6), None), (iso(6), "2"), (iso(6), "3")]
    assert [q["pageSize"] for q in server.queries] == ["100"] * 4


async def test_a_page_without_its_page_size_uses_the_feed_s(env: Env) -> None:
    op, server = env
    for wp_id in range(1, 4):
        server.put(wp_id, 3)

    def plain(query: dict[str, Any]) -> HttpResponse | None:
        page = int(query.get("offset", "1"))
        rows = sorted(server.items.values(), key=lambda d: d["id"])[(page - 1) * 2 : page * 2]
        doc = {"_type": "Collection", "total": 3, "count": len(rows)}
        return HttpResponse.json({**doc, "_embedded": {"elements": rows}})

    server.before = plain
    feed = op.changes(WPS, since=T0, page_size=2)
    assert [i for i, _ in await drain(feed)] == [1, 2, 3]
    assert server.asked() == [(iso(0), None), (iso(2), None), (iso(2), "2")]


async def test_a_window_that_moves_under_an_offset_walk_is_read_again(env: Env) -> None:
    op, server = env
    for wp_id in range(1, 4):
        server.put(wp_id, 1)
    shifts = iter([0, 1, 1, 2, 2, 3, 3, 4, 4])

    def moving(query: dict[str, Any]) -> None:
        server.total_shift = next(shifts)

    server.before = moving
    feed = op.changes(WPS, since=T0, page_size=2)
    assert [i for i, _ in await drain(feed)] == [1, 2, 3]
    # every second page sees another total: three restarts, then the walk goes on
    assert server.asked() == [
        (iso(0), None),
        (iso(0), "2"),
        (iso(0), None),
        (iso(0), "2"),
        (iso(0), None),
        (iso(0), "2"),
        (iso(0), None),
        (iso(0), "2"),
    ]


async def test_a_restart_after_a_step_forward_counts_from_zero(env: Env) -> None:
    op, server = env
    for wp_id, second in enumerate([1, 1, 5, 5, 5], start=1):
        server.put(wp_id, second)
    shifts = iter([0, 1, 1, 1, 2, 3, 3, 4, 4, 5, 5, 6])

    def moving(query: dict[str, Any]) -> None:
        server.total_shift = next(shifts)

    server.before = moving
    feed = op.changes(WPS, since=T0, page_size=2)
    assert [i for i, _ in await drain(feed)] == [1, 2, 3, 4, 5]
    assert server.asked() == [
        (iso(0), None),
        (iso(0), "2"),  # total moved: restart 1
        (iso(0), None),
        (iso(0), "2"),  # 3 and 4, at second 5: a step forward resets the restarts
        (iso(4), None),
        (iso(4), "2"),  # moved: restart 1 of the new window
        (iso(4), None),
        (iso(4), "2"),  # 2
        (iso(4), None),
        (iso(4), "2"),  # 3
        (iso(4), None),
        (iso(4), "2"),  # no more restarts: 5
    ]


# -- what is yielded again -------------------------------------------------------------------


async def test_ties_within_a_second_and_changes_in_it(env: Env) -> None:
    op, server = env
    server.put(1, 3)
    server.put(2, 3)
    feed = op.changes(WPS, since=T0)
    assert [i for i, _ in await drain(feed)] == [1, 2]
    server.put(2, 3, subject="two, later in the same second")
    server.put(3, 3)  # a tie that committed late
    assert await drain(feed) == [(2, "two, later in the same second"), (3, "wp 3")]
    assert await drain(feed) == []


async def test_what_counts_as_a_change_of_state(env: Env) -> None:
    op, server = env
    links = {"self": {"href": f"{WPS}/1", "title": "A"}, "parent": {"href": f"{WPS}/9"}}
    server.put(1, 3, _links=links, _embedded={"parent": {"subject": "P"}})
    feed = op.changes(WPS, since=T0)
    assert [i for i, _ in await drain(feed)] == [1]
    retitled = {"self": {"href": f"{WPS}/1", "title": "B"}, "parent": {"href": f"{WPS}/9"}}
    server.put(1, 3, _links=retitled, _embedded={"parent": {"subject": "Q"}})
    assert await drain(feed) == []  # other resources' titles: not a change of this one
    moved = {"self": {"href": f"{WPS}/1"}, "parent": {"href": f"{WPS}/8"}}
    server.put(1, 3, _links=moved)
    assert [i for i, _ in await drain(feed)] == [1]
    method = {"self": {"href": f"{WPS}/1"}, "parent": {"href": f"{WPS}/8", "method": "post"}}
    server.put(1, 3, _links=method)
    assert [i for i, _ in await drain(feed)] == [1]
    listed = {**method, "children": [{"href": f"{WPS}/2"}]}
    server.put(1, 3, _links=listed)
    assert [i for i, _ in await drain(feed)] == [1]
    relisted = {**method, "children": [{"href": f"{WPS}/3"}]}
    server.put(1, 3, _links=relisted)
    assert [i for i, _ in await drain(feed)] == [1]
    server.put(1, 3, _links=relisted, extra="x")
    assert [i for i, _ in await drain(feed)] == [1]
    server.put(1, 3, _links=relisted, extra="x")
    assert await drain(feed) == []
    server.put(1, 3, _links=None)
    assert [i for i, _ in await drain(feed)] == [1]
    del server.items[1]["_links"]  # no links or null links: the same state
    assert await drain(feed) == []


async def test_the_window_s_memory_is_pruned_as_time_moves(env: Env) -> None:
    op, server = env
    server.put(1, 1)
    server.put(2, 2)
    feed = op.changes(WPS, since=T0)
    await drain(feed)
    seen = decode(feed.cursor)["s"]
    assert [k for k, _, _ in seen] == ["WorkPackage:1", "WorkPackage:2"]  # 1 >= 2 - 1
    server.put(3, 4)
    await drain(feed)
    assert [k for k, _, _ in decode(feed.cursor)["s"]] == ["WorkPackage:3"]  # 1, 2 < 3


# -- the cursor ------------------------------------------------------------------------------


async def test_the_cursor_s_exact_encoding(env: Env) -> None:
    op, server = env
    server.put(1, 4)
    server.put(2, 5)
    feed = op.changes(WPS, since=T0 + dt.timedelta(seconds=2))
    start = {"v": 1, "h": WPS, "t": S0 + 2, "f": S0 + 2, "s": []}
    assert feed.cursor == encode(start)
    await drain(feed)
    doc = decode(feed.cursor)
    assert doc == {
        "v": 1,
        "h": WPS,
        "t": S0 + 5,
        "f": S0 + 2,
        "s": [
            ["WorkPackage:1", S0 + 4, digest(server.items[1])],
            ["WorkPackage:2", S0 + 5, digest(server.items[2])],
        ],
    }
    assert list(doc) == ["v", "h", "t", "f", "s"]
    assert feed.cursor == encode(doc)


@pytest.mark.parametrize("subject", ["a", "ab", "abc", "abcd"])
async def test_resuming_from_a_cursor_repeats_and_misses_nothing(env: Env, subject: str) -> None:
    op, server = env
    server.put(1, 4, subject=subject)  # cursors of every length modulo 4
    server.put(2, 6)
    feed = op.changes(WPS, since=T0 + dt.timedelta(seconds=3), overlap=2)
    assert [i for i, _ in await drain(feed)] == [1, 2]
    cursor = feed.cursor
    server.put(3, 6)
    server.put(1, 6, subject="again")
    server.queries.clear()
    resumed = op.changes(WPS, since=cursor, overlap=2)
    assert resumed.cursor == cursor
    assert resumed.since == T0 + dt.timedelta(seconds=6)
    assert await drain(resumed) == [(1, "again"), (3, "wp 3")]
    assert server.asked() == [(iso(4), None)]  # newest 6 minus the overlap of 2


async def test_the_floor_of_a_cursor_bounds_the_window(env: Env) -> None:
    op, server = env
    cursor = encode({"v": 1, "h": WPS, "t": S0 + 10, "f": S0 + 9, "s": [["WorkPackage:1", 1, "x"]]})
    feed = op.changes(WPS, since=cursor, overlap=5)
    assert await drain(feed) == []
    assert server.asked() == [(iso(9), None)]
    assert decode(feed.cursor)["s"] == [["WorkPackage:1", 1, "x"]]  # not pruned without news
    server.put(2, 10)  # news, but not newer than the newest: still nothing pruned
    assert [i for i, _ in await drain(feed)] == [2]
    assert [k for k, _, _ in decode(feed.cursor)["s"]] == ["WorkPackage:1", "WorkPackage:2"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        encode([1, 2]),
        encode({"v": 1, "h": WPS, "t": 1, "f": 1}),
        encode({"v": 1, "h": WPS, "t": "x", "f": 1, "s": []}),
        encode({"v": 1, "h": WPS, "t": 1, "f": 1, "s": [["k", 1]]}),
        "bm90IGpzb24",
    ],
)
async def test_what_is_not_a_cursor(env: Env, cursor: str) -> None:
    op, _ = env
    with pytest.raises(ValueError, match="not a cursor") as info:
        op.changes(WPS, since=cursor)
    assert str(info.value) == "since is not a cursor of a change feed (feed.cursor)"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_cursors_of_another_version_or_feed(env: Env) -> None:
    op, _ = env
    other = encode({"v": 2, "h": WPS, "t": 1, "f": 1, "s": []})
    with pytest.raises(ValueError, match="version 2") as info:
        op.changes(WPS, since=other)
    assert str(info.value) == "a change feed cursor of version 2 cannot be resumed"
    projects = encode({"v": 1, "h": "/api/v3/projects", "t": 1, "f": 1, "s": []})
    with pytest.raises(ValueError, match="belongs to a feed") as info:
        op.changes(WPS, since=projects)
    assert str(info.value) == (
        "that cursor belongs to a feed of '/api/v3/projects', not of '/api/v3/work_packages'"
    )


# -- since and overlap ------------------------------------------------------------------------


async def test_since_as_a_timestamp_string_a_datetime_or_now(env: Env) -> None:
    op, _server = env
    cases: list[Any] = [
        ("2030-01-01T00:00:07Z", 7),
        ("2030-01-01T02:00:08+02:00", 8),
        ("2030-01-01T00:00:09.75Z", 9),
        (dt.datetime(2030, 1, 1, 0, 0, 10, 900000), 10),  # naive: UTC
        (dt.datetime(2030, 1, 1, 3, 0, 11, tzinfo=dt.timezone(dt.timedelta(hours=3))), 11),
    ]
    for since, second in cases:
        feed = op.changes(WPS, since=since)
        assert feed.since == T0 + dt.timedelta(seconds=second), since
        assert decode(feed.cursor)["f"] == S0 + second
    before = int(dt.datetime.now(dt.UTC).timestamp())
    now = op.changes(WPS)
    after = int(dt.datetime.now(dt.UTC).timestamp())
    assert before <= decode(now.cursor)["t"] == decode(now.cursor)["f"] <= after
    assert now.since.tzinfo is dt.UTC


async def test_a_naive_timestamp_string_is_utc(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    op, server = env
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30: a local reading would differ
    time.tzset()
    try:
        assert op.changes(WPS, since="2030-01-01T00:00:07").since == T0 + dt.timedelta(seconds=7)
        naive = dt.datetime(2030, 1, 1, 0, 0, 8)
        assert op.changes(WPS, since=naive).since == T0 + dt.timedelta(seconds=8)
        server.put(1, 3)
        server.items[1]["updatedAt"] = "2030-01-01T00:00:03"
        feed = op.changes(WPS, since=T0)
        await drain(feed)
        assert decode(feed.cursor)["s"][0][1] == S0 + 3
    finally:
        monkeypatch.undo()  # the TZ of before, and the local time that goes with it
        time.tzset()


@pytest.mark.parametrize(("overlap", "lower"), [(0, 6), (0.5, 5), (2, 4), (2.5, 3)])
async def test_the_overlap_in_whole_seconds(env: Env, overlap: float, lower: int) -> None:
    op, server = env
    server.put(1, 6)
    feed = op.changes(WPS, since=T0, overlap=overlap)
    await drain(feed)
    await drain(feed)
    assert server.asked() == [(iso(0), None), (iso(lower), None)]


async def test_a_timestamp_before_the_epoch_rounds_down(env: Env) -> None:
    op, server = env
    server.items[1] = {
        "_type": "WorkPackage",
        "id": 1,
        "updatedAt": "1969-12-31T23:59:59.5Z",
        "_links": {"self": {"href": f"{WPS}/1"}},
    }
    feed = op.changes(WPS, since=dt.datetime(1969, 12, 31, 23, 59, 58, tzinfo=dt.UTC))
    assert [r["id"] async for r in feed.poll()] == [1]
    assert decode(feed.cursor)["s"][0][1] == -1


# -- what the feed refuses --------------------------------------------------------------------


@pytest.mark.parametrize("updated", [None, 5, "yesterday"])
async def test_a_resource_without_a_timestamp(env: Env, updated: Any) -> None:
    op, server = env
    server.put(1, 1)
    server.items[1]["updatedAt"] = updated
    server.before = lambda q: HttpResponse.json(
        {
            "_type": "Collection",
            "total": 1,
            "count": 1,
            "_embedded": {"elements": [server.items[1]]},
        }
    )
    with pytest.raises(ChangesUnsupported) as info:
        await drain(op.changes(WPS, since=T0))
    assert str(info.value) == (
        "/api/v3/work_packages: a WorkPackage without an updatedAt timestamp; "
        "this collection cannot be followed for changes"
    )
    del server.items[1]["_type"]
    with pytest.raises(ChangesUnsupported, match=r"^/api/v3/work_packages: a resource without"):
        await drain(op.changes(WPS, since=T0))


async def test_keys_of_resources_without_an_id(env: Env) -> None:
    op, server = env
    server.put(1, 1)
    server.items[1]["id"] = True  # not an id
    server.put(2, 1)
    server.items[2]["id"] = "two"
    server.put(3, 1)
    del server.items[3]["_type"]
    feed = op.changes(WPS, since=T0)
    assert len([r async for r in feed.poll()]) == 3
    assert [k for k, _, _ in decode(feed.cursor)["s"]] == [
        ":3",  # no type
        f"{WPS}/1",  # True is not an id
        "WorkPackage:two",
    ]
    server.put(4, 2)
    del server.items[4]["id"]
    del server.items[4]["_links"]
    with pytest.raises(ProtocolError) as info:
        await anext(feed.poll())
    assert str(info.value) == "a changed WorkPackage has no id nor self link"
    del server.items[4]["_type"]
    with pytest.raises(ProtocolError) as info:
        await anext(feed.poll())
    assert str(info.value) == "a changed resource has no id nor self link"


async def test_an_answer_that_is_not_a_collection(env: Env) -> None:
    op, server = env
    server.before = lambda q: HttpResponse.json({"_type": "WorkPackage", "id": 1})
    with pytest.raises(ProtocolError) as info:
        await drain(op.changes(WPS, since=T0))
    assert str(info.value) == ("/api/v3/work_packages is not a collection (got <WorkPackage #1>)")


async def test_a_refused_updated_at_filter_is_explained(env: Env) -> None:
    op, server = env
    project = {"project": {"operator": "=", "values": ["2"]}}

    def no_updated_at(query: dict[str, Any]) -> HttpResponse | None:
        if any("updatedAt" in f for f in query["filters"]):
            return refused("updatedAt is not a filter here")
        return HttpResponse.json({"_type": "Collection", "total": 0, "_embedded": {"elements": []}})

    server.before = no_updated_at
    feed = op.changes(WPS, since=T0, filters=[project], page_size=7, params={"x": "y"})
    with pytest.raises(ChangesUnsupported) as info:
        await drain(feed)
    assert str(info.value) == (
        "/api/v3/work_packages has no updatedAt filter (the server refused it: "
        "400 InvalidQuery: updatedAt is not a filter here); "
        "this collection cannot be followed for changes"
    )
    assert isinstance(info.value.__cause__, InvalidQuery)
    assert server.queries == [
        {"x": "y", "filters": [project, changed(0)], "sortBy": SORT, "pageSize": "7"},
        {"x": "y", "filters": [project], "pageSize": "1"},
    ]


async def test_a_refused_filter_of_the_caller_stands(env: Env) -> None:
    op, server = env
    server.before = lambda q: refused("no such filter: nonsense")
    feed = op.changes(WPS, since=T0, filters=[{"nonsense": {"operator": "=", "values": ["1"]}}])
    with pytest.raises(InvalidQuery) as info:
        await drain(feed)
    assert info.value.message == "no such filter: nonsense"
    assert len(server.queries) == 2  # the read, the probe


async def test_a_refusal_on_a_later_page_is_not_probed(env: Env) -> None:
    op, server = env
    for wp_id in range(1, 4):
        server.put(wp_id, 1)
    server.before = lambda q: refused("offset too large") if "offset" in q else None
    feed = op.changes(WPS, since=T0, page_size=2)
    got: list[int] = []

    async def read() -> None:
        async for r in feed.poll():
            got.append(r["id"])

    with pytest.raises(InvalidQuery, match="offset too large"):
        await read()
    assert got == [1, 2]
    assert server.asked() == [(iso(0), None), (iso(0), "2")]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"interval": -1}, ValueError, "interval must be seconds >= 0, got -1"),
        ({"interval": True}, ValueError, "interval must be seconds >= 0, got True"),
        ({"interval": "1"}, ValueError, "interval must be seconds >= 0, got '1'"),
        ({"overlap": -0.5}, ValueError, "overlap must be seconds >= 0, got -0.5"),
        ({"overlap": None}, ValueError, "overlap must be seconds >= 0, got None"),
        ({"page_size": 0}, ValueError, "page_size must be an int >= 1, got 0"),
        ({"page_size": True}, ValueError, "page_size must be an int >= 1, got True"),
        ({"page_size": 2.0}, ValueError, "page_size must be an int >= 1, got 2.0"),
        (
            {"filters": "project"},
            TypeError,
            "filters is a list of filter objects ([{name: {operator, values}}])",
        ),
        (
            {"filters": b"x"},
            TypeError,
            "filters is a list of filter objects ([{name: {operator, values}}])",
        ),
        (
            {"filters": {"project": {}}},
            TypeError,
            "filters is a list of filter objects ([{name: {operator, values}}])",
        ),
        (
            {"filters": [{"a": {}}, {"updatedAt": {}}]},
            ValueError,
            "the feed sets the updatedAt filter itself; use since=",
        ),
        ({"since": 5}, TypeError, "since must be a cursor, a datetime or None, got 5"),
    ]
    + [
        (
            {"params": {name: "1"}},
            ValueError,
            f"{name} is set by the feed; give filters= or page_size=",
        )
        for name in ("filters", "sortBy", "offset", "pageSize")
    ],
)
async def test_arguments_are_checked_exactly(
    env: Env, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    op, _ = env
    with pytest.raises(error) as info:
        op.changes(WPS, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("href", ["", None, 5])
async def test_the_href_is_checked(env: Env, href: Any) -> None:
    op, _ = env
    with pytest.raises(TypeError) as info:
        op.changes(href)
    assert str(info.value) == f"href must be the collection's href, got {href!r}"


async def test_what_the_feed_shows(env: Env) -> None:
    op, _server = env
    feed = op.changes(
        WPS, since=T0 + dt.timedelta(seconds=61), interval=2, page_size=9, overlap=0, filters=()
    )
    assert (feed.href, feed.interval, feed.page_size, feed.polls) == (WPS, 2.0, 9, 0)
    assert type(feed.interval) is float
    assert repr(feed) == "<ChangeFeed /api/v3/work_packages since 2030-01-01T00:01:01Z polls=0>"
    await drain(feed)
    assert repr(feed) == "<ChangeFeed /api/v3/work_packages since 2030-01-01T00:01:01Z polls=1>"
    accepted = op.changes(WPS, interval=0, overlap=0.0, page_size=1)
    assert (accepted.interval, accepted.page_size) == (0.0, 1)


# -- following ------------------------------------------------------------------------------


async def test_following_polls_then_waits_the_interval(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    op, server = env
    server.put(1, 1)
    waits: list[float] = []
    original = asyncio.sleep

    async def record(seconds: float) -> None:
        waits.append(seconds)
        if seconds == 7.5:
            server.put(2, 2)
        await original(0)

    feed = op.changes(WPS, since=T0, interval=7.5)
    monkeypatch.setattr(changes_module.asyncio, "sleep", record)
    got = []
    async with feed:
        assert feed.__aiter__() is feed
        async for r in feed:
            got.append(r["id"])
            if len(got) == 2:
                break
    assert got == [1, 2]
    assert [w for w in waits if w] == [7.5]
    assert feed.polls == 1
    with pytest.raises(StopAsyncIteration):
        await feed.__anext__()  # closed by the with block
    await feed.aclose()  # again: nothing happens


async def test_aclose_before_any_read(env: Env) -> None:
    op, server = env
    feed = op.changes(WPS, since=T0)
    await feed.aclose()
    async with feed as same:
        assert same is feed
    assert server.queries == []
