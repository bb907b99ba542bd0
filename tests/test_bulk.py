"""Bulk reads against the in-process server: ``get_many``, the session-wide cap shared by
concurrent readers, embedded follows, and one schema GET for many work packages.

Every test also checks the requests the server saw: which, how often, how many at once
(``peak_concurrency`` counts requests the server was handling at the same time; the
latency knobs keep requests in flight long enough to overlap).
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import pytest

from openproject_async import Collection, Link, OpenProject, Resource, Schema
from openproject_async.errors import NotFound, SchemaNotLoaded, UnknownField
from openproject_async.testing import FakeOpenProject

from .tasks import library_tasks

WPS = "/api/v3/work_packages"
SCHEMAS = f"{WPS}/schemas/"
RELS = ("status", "project", "type")


def wp_href(wp_id: int) -> str:
    return f"{WPS}/{wp_id}"


def link_href(resource: Resource, rel: str) -> str:
    link = resource.links[rel]
    assert isinstance(link, Link)
    assert link.href is not None
    return link.href


def shuffled(ids: range | list[int], seed: int) -> list[int]:
    out = list(ids)
    random.Random(seed).shuffle(out)
    return out


async def first_page(op: OpenProject, **params: Any) -> Collection:
    params.setdefault("filters", [])
    page = await op.get(WPS, **params)
    assert isinstance(page, Collection)
    return page


def paths(server: FakeOpenProject) -> list[str]:
    """The path of every request the server saw, in arrival order (all must be GETs)."""
    assert {r.method for r in server.requests} <= {"GET"}
    return [r.path for r in server.requests]


def statuses(server: FakeOpenProject) -> Counter[int]:
    return Counter(r.status for r in server.requests)


# -- get_many ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_concurrency", "concurrency", "peak"),
    [(16, 1, 1), (16, 3, 3), (5, None, 5)],
    ids=["concurrency-1", "concurrency-3", "default-is-the-session-cap"],
)
async def test_get_many_keeps_input_order_with_at_most_k_in_flight(
    max_concurrency: int, concurrency: int | None, peak: int
) -> None:
    # the collection costs 30 x 2 ms more than a work package: with more than one in
    # flight, work packages asked for after it are answered before it
    slow = f"{WPS}?filters=%5B%5D&pageSize=30"
    ids = shuffled(range(1, 19), seed=peak)
    hrefs = [wp_href(i) for i in ids]
    async with FakeOpenProject(seed_size=30, latency=0.01, latency_per_element=0.002) as server:
        async with OpenProject(
            server.url, api_key=server.api_key, max_concurrency=max_concurrency
        ) as op:
            results = await op.get_many([slow, *hrefs], concurrency=concurrency)
    assert isinstance(results[0], Collection)
    assert (results[0].total, results[0].count) == (30, 30)
    assert all(type(r) is Resource for r in results[1:])
    assert [r["id"] for r in results[1:]] == ids
    assert [r.href for r in results[1:]] == hrefs
    assert [r["subject"] for r in results[1:]] == [server.work_package(i).subject for i in ids]
    assert server.peak_concurrency == peak
    assert sorted(paths(server)) == sorted([WPS, *hrefs])  # each exactly once
    assert statuses(server) == {200: 19}
    if peak == 1:
        assert paths(server) == [WPS, *hrefs]  # one at a time: sent in input order


async def test_get_many_missing_id_raises_not_found_after_the_ones_before() -> None:
    ids = [7, 3, 12, 1]
    async with FakeOpenProject(seed_size=20) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            with pytest.raises(NotFound) as raised:
                await op.get_many([*map(wp_href, ids), wp_href(99999)], concurrency=1)
            assert op.stats["retries"] == 0
    assert raised.value.status == 404
    assert raised.value.attempts == 1  # a 404 is not retried
    assert paths(server) == [*map(wp_href, ids), wp_href(99999)]
    assert [r.status for r in server.requests] == [200, 200, 200, 200, 404]


async def test_get_many_missing_id_among_concurrent_gets_cancels_the_rest() -> None:
    ids = shuffled(range(1, 25), seed=7)
    hrefs = [wp_href(i) for i in ids]
    hrefs.insert(5, wp_href(99999))
    later = [wp_href(i) for i in (25, 26, 27)]
    async with FakeOpenProject(seed_size=30, latency=0.01) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            with pytest.raises(NotFound) as raised:
                await op.get_many(hrefs, concurrency=4)
            assert library_tasks() == []  # the others were cancelled, none is left running
            assert op.stats["retries"] == 0
            again = await op.get_many(later, concurrency=4)  # the session is still usable
    assert raised.value.status == 404
    assert [r["id"] for r in again] == [25, 26, 27]
    seen = Counter(paths(server))  # (requests cancelled after sending may arrive late)
    assert set(seen.values()) == {1}  # nothing twice: no retry, no re-send
    assert set(hrefs[:6]) <= set(seen)  # 0-3 at once, 4 when a slot was free, then 5: 404
    assert set(later) <= set(seen)
    # sent only while slots freed up before the 404 arrived: 6 + at most 2 rounds of 4
    assert len(set(seen) & set(hrefs)) <= 6 + 8 < len(hrefs)
    assert set(seen) <= {*hrefs, *later}


async def test_get_many_of_nothing_is_empty_without_a_request() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            assert await op.get_many([]) == []
            assert await op.get_many(iter(()), concurrency=3) == []
            assert op.stats["requests"] == 0
    assert server.requests == []


async def test_get_many_duplicates_in_flight_together_share_one_get() -> None:
    hrefs = [wp_href(i) for i in (4, 2, 4, 9, 4)]
    async with FakeOpenProject(seed_size=10) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            results = await op.get_many(hrefs, concurrency=5)
            assert op.stats["merged"] == 2
    assert [r["id"] for r in results] == [4, 2, 4, 9, 4]
    assert results[0] == results[2] == results[4]
    assert Counter(paths(server)) == {wp_href(4): 1, wp_href(2): 1, wp_href(9): 1}


async def test_get_many_duplicates_one_at_a_time_are_each_fetched() -> None:
    """Only GETs in flight at the same moment are merged; work packages are not cached."""
    hrefs = [wp_href(i) for i in (4, 2, 4, 9, 4)]
    async with FakeOpenProject(seed_size=10) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            results = await op.get_many(hrefs, concurrency=1)
            assert (op.stats["merged"], op.stats["cached"]) == (0, 0)
    assert [r["id"] for r in results] == [4, 2, 4, 9, 4]
    assert results[0] == results[2] == results[4]
    assert paths(server) == hrefs


# -- the session-wide cap ---------------------------------------------------------------------


def collection_offsets(server: FakeOpenProject) -> Counter[tuple[str, int]]:
    """(sortBy, offset) of every work package collection request."""
    found: Counter[tuple[str, int]] = Counter()
    for r in server.requests:
        if r.path == WPS:
            q = parse_qs(r.query)
            found[q["sortBy"][0], int(q.get("offset", ["1"])[0])] += 1
    return found


async def test_session_cap_holds_across_concurrent_iterations_and_get_many() -> None:
    ids = shuffled(range(1, 41), seed=11)
    async with FakeOpenProject(seed_size=120, latency=0.01) as server:
        async with OpenProject(server.url, api_key=server.api_key, max_concurrency=4) as op:
            ascending = await first_page(op, pageSize=10)
            descending = await first_page(op, pageSize=10, sortBy=[["id", "desc"]])
            server.clear_requests()
            server.reset_stats()

            async def read(page: Collection) -> list[int]:
                return [wp["id"] async for wp in page.iterate(concurrency=4)]

            up, down, many = await asyncio.gather(
                read(ascending),
                read(descending),
                op.get_many([wp_href(i) for i in ids], concurrency=8),
            )
    assert up == list(range(1, 121))
    assert down == list(range(120, 0, -1))
    assert [r["id"] for r in many] == ids
    assert server.peak_concurrency == 4
    asc, desc = '[["id","asc"]]', '[["id","desc"]]'
    assert collection_offsets(server) == Counter(
        [(asc, o) for o in range(2, 13)] + [(desc, o) for o in range(2, 13)]
    )
    assert Counter(p for p in paths(server) if p != WPS) == Counter(map(wp_href, ids))
    assert statuses(server) == {200: 22 + 40}


async def test_a_reader_asking_more_than_the_cap_widens_it_while_it_reads() -> None:
    """iterate(concurrency=n) over max_concurrency gets n pages in flight, not silently
    fewer; the session's cap is back once the iteration ends."""
    async with FakeOpenProject(seed_size=120, latency=0.05) as server:
        async with OpenProject(server.url, api_key=server.api_key, max_concurrency=2) as op:
            page = await first_page(op, pageSize=10)
            server.reset_stats()
            assert [wp["id"] async for wp in page.iterate(concurrency=6)] == list(range(1, 121))
            assert server.peak_concurrency == 6
            server.reset_stats()
            await op.get_many([wp_href(i) for i in range(1, 11)], concurrency=8)
            assert server.peak_concurrency == 2


async def test_readers_widen_the_cap_each_by_what_they_ask_beyond_it() -> None:
    async with FakeOpenProject(seed_size=120, latency=0.05) as server:
        async with OpenProject(server.url, api_key=server.api_key, max_concurrency=4) as op:
            ascending = await first_page(op, pageSize=10)
            descending = await first_page(op, pageSize=10, sortBy=[["id", "desc"]])
            server.reset_stats()

            async def read(page: Collection) -> list[int]:
                return [wp["id"] async for wp in page.iterate(concurrency=6)]

            up, down = await asyncio.gather(read(ascending), read(descending))
    assert up == list(range(1, 121))
    assert down == list(range(120, 0, -1))
    assert server.peak_concurrency == 4 + 2 + 2


# -- embedded follows ------------------------------------------------------------------------


async def test_follows_of_embedded_links_cost_no_request() -> None:
    """Collection elements carry links only; a single work package GET embeds status,
    project and type: following those must not go back to the server."""
    async with FakeOpenProject(seed_size=40) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            page = await first_page(op, pageSize=20, offset=2)
            assert [wp.embedded for wp in page.elements] == [{}] * 20
            wps = await op.get_many([wp.href for wp in page.elements if wp.href], concurrency=4)
            assert all(set(RELS) <= set(wp.embedded) for wp in wps)
            seen = len(server.requests)
            sent = op.stats["requests"]

            one_by_one = [[await wp.follow(rel) for rel in RELS] for wp in wps]
            at_once = await asyncio.gather(*(wp.follow(rel) for wp in wps for rel in RELS))

            assert len(server.requests) == seen == 21
            assert op.stats["requests"] == sent
    assert [r for triple in one_by_one for r in triple] == at_once
    store = server.store
    for wp, (status, project, typ) in zip(wps, one_by_one, strict=True):
        model = server.work_package(wp["id"])
        assert (status["id"], status["name"]) == (
            model.status_id,
            store.statuses[model.status_id].name,
        )
        assert (project["id"], project["identifier"]) == (
            model.project_id,
            store.projects[model.project_id].identifier,
        )
        assert (typ["id"], typ["name"]) == (model.type_id, store.types[model.type_id].name)
        for rel, target in zip(RELS, (status, project, typ), strict=True):
            assert target.href == link_href(wp, rel)
    assert sorted(paths(server)[1:]) == sorted(wp_href(i) for i in range(21, 41))


async def test_follows_from_collection_elements_fetch_each_distinct_target_once() -> None:
    async with FakeOpenProject(seed_size=40) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            page = await first_page(op, pageSize=40)
            server.clear_requests()
            targets = await asyncio.gather(
                *(wp.follow(rel) for wp in page.elements for rel in RELS)
            )
    hrefs = [link_href(wp, rel) for wp in page.elements for rel in RELS]
    assert [t.href for t in targets] == hrefs
    assert Counter(paths(server)) == Counter(set(hrefs))  # one GET per distinct target
    assert statuses(server) == {200: len(set(hrefs))}


# -- schemas: one GET per distinct schema ------------------------------------------------------


async def read_all(op: OpenProject, server: FakeOpenProject) -> list[Resource]:
    page = await first_page(op, pageSize=100)
    wps = await page.to_list(concurrency=8)
    assert [wp["id"] for wp in wps] == list(range(1, len(server.store.work_packages) + 1))
    server.clear_requests()
    return wps


def schema_hrefs(server: FakeOpenProject) -> list[str]:
    """The distinct schema hrefs of the server's work packages (``{project}-{type}``)."""
    pairs = {(wp.project_id, wp.type_id) for wp in server.store.work_packages.values()}
    return sorted(f"{SCHEMAS}{p}-{t}" for p, t in pairs)


def story_points(server: FakeOpenProject, wp_id: int) -> int | None:
    """The expected value; None where the schema has no such field."""
    model = server.work_package(wp_id)
    fields = server.store.custom_fields_for(model.project_id, model.type_id)
    if not any(cf.name == "Story points" for cf in fields):
        return None
    value = model.custom_values.get(1)
    assert isinstance(value, int)
    return value


def points(wp: Resource) -> int | None:
    """``wp.field("Story points")``; None where the schema has no such field."""
    try:
        value = wp.field("Story points")
    except UnknownField:
        return None
    assert isinstance(value, int)
    return value


async def test_one_schema_get_per_distinct_schema_for_1000_work_packages() -> None:
    async with FakeOpenProject(seed_size=1000) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await read_all(op, server)
            expected = schema_hrefs(server)
            assert len(expected) == 10
            assert sorted({link_href(wp, "schema") for wp in wps}) == expected
            with pytest.raises(SchemaNotLoaded):
                wps[0].field("Story points")

            async def load_and_read(wp: Resource) -> tuple[Schema, int | None]:
                return await wp.load_schema(), points(wp)

            first = await asyncio.gather(*(load_and_read(wp) for wp in wps))
            assert sorted(paths(server)) == expected  # each exactly once
            assert statuses(server) == {200: 10}
            assert op.stats["merged"] == 1000 - 10

            sent, cached = op.stats["requests"], op.stats["cached"]
            again = [await load_and_read(wp) for wp in wps]  # from the cache
            assert len(server.requests) == 10
            assert op.stats["requests"] == sent
            assert op.stats["cached"] == cached + 1000
    want = [story_points(server, wp["id"]) for wp in wps]
    assert [v for _, v in first] == [v for _, v in again] == want
    assert sum(v is not None for v in want) == 300 + 250  # Task, Feature, Bug: demo, scrum
    schemas = [s for s, _ in first]
    assert [s.data for s in schemas] == [s.data for s, _ in again]
    assert [s.href for s in schemas] == [link_href(wp, "schema") for wp in wps]
    assert [("Story points" in s) for s in schemas] == [v is not None for v in want]


@pytest.mark.parametrize("arrival", ["staggered", "as-pages-arrive"])
async def test_callers_arriving_while_a_schema_get_completes_do_not_fetch_it_again(
    arrival: str,
) -> None:
    """Callers keep coming while the shared schema GETs are answered: each one is either
    merged into the GET in flight or served from the cache, never sent again.

    (The shared GET used to leave the in-flight table a loop turn before its waiters put
    the schema in the cache: a caller in that turn found neither and sent a second GET.)
    """
    async with FakeOpenProject(seed_size=1000) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            if arrival == "staggered":  # caller i starts i % 50 loop turns late
                wps = await read_all(op, server)

                async def after_turns(turns: int, wp: Resource) -> Schema:
                    for _ in range(turns):
                        await asyncio.sleep(0)
                    return await wp.load_schema()

                schemas = await asyncio.gather(
                    *(after_turns(i % 50, wp) for i, wp in enumerate(wps))
                )
            else:  # one task per element as soon as its page is there
                page = await first_page(op, pageSize=100)
                wps, tasks = [], []
                async for wp in page.iterate(concurrency=8):
                    wps.append(wp)
                    tasks.append(asyncio.ensure_future(wp.load_schema()))
                schemas = await asyncio.gather(*tasks)
    schema_gets = [p for p in paths(server) if p.startswith(SCHEMAS)]
    assert Counter(schema_gets) == Counter(schema_hrefs(server))  # each exactly once
    assert [wp["id"] for wp in wps] == list(range(1, 1001))
    assert [s.href for s in schemas] == [link_href(wp, "schema") for wp in wps]


# -- arguments and connections ------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "4"])
async def test_get_many_refuses_a_bad_concurrency_before_any_request(bad: Any) -> None:
    async with FakeOpenProject(seed_size=5) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
                await op.get_many([wp_href(1)], concurrency=bad)
    assert server.requests == []


async def test_get_many_refuses_a_single_href_string() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            with pytest.raises(TypeError, match="not one href"):
                await op.get_many(wp_href(1))
    assert server.requests == []


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_pages_reuse_connections(concurrency: int) -> None:
    """25 pages over at most ``concurrency`` connections: one connection per page slot."""
    async with FakeOpenProject(seed_size=250) as server:
        async with OpenProject(server.url, api_key=server.api_key, max_concurrency=4) as op:
            page = await first_page(op, pageSize=10)
            items = await page.to_list(concurrency=concurrency)
    assert len(items) == 250
    assert len(server.requests) == 25
    peers = {r.peer for r in server.requests}
    assert None not in peers
    assert 1 <= len(peers) <= concurrency
