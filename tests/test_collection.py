"""Collections against the in-process server: paging edge cases, concurrency, change, errors.

Every test also checks the requests the server saw: which pages, how often.
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from openproject_async import Collection, OpenProject, Progress
from openproject_async.errors import InternalServerError, LinkError
from openproject_async.testing import FakeOpenProject, Fault

from .tasks import library_tasks

WPS = "/api/v3/work_packages"


async def first_page(op: OpenProject, **params: Any) -> Collection:
    params.setdefault("filters", [])
    page = await op.get(WPS, **params)
    assert isinstance(page, Collection)
    return page


def page_requests(server: FakeOpenProject) -> list[tuple[int, int]]:
    """(offset, pageSize) of every work package collection request, in arrival order."""
    found = []
    for r in server.requests:
        if r.method == "GET" and r.path == WPS:
            q = parse_qs(r.query)
            found.append((int(q.get("offset", ["1"])[0]), int(q.get("pageSize", ["20"])[0])))
    return found


def offsets(server: FakeOpenProject) -> list[int]:
    return sorted(o for o, _ in page_requests(server))


async def ids_of(page: Collection, concurrency: int, **kw: Any) -> list[int]:
    return [wp["id"] async for wp in page.iterate(concurrency=concurrency, **kw)]


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    """Let the loop run until ``predicate()`` holds (a hang guard, not a timing check)."""
    for _ in range(5000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{what} never became true")


def answered(server: FakeOpenProject, n: int) -> Callable[[], bool]:
    """The server received and answered ``n`` requests."""
    return lambda: len(server.requests) >= n and all(r.status for r in server.requests[:n])


@pytest.fixture
async def fifty() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=50) as server:
        yield server


CONCURRENCY = pytest.mark.parametrize("concurrency", [1, 4])


# -- shapes -----------------------------------------------------------------------------


@CONCURRENCY
async def test_exact_multiple_reads_each_page_once_and_none_past_the_end(
    concurrency: int,
) -> None:
    async with FakeOpenProject(seed_size=30) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10)
            assert (wps.total, wps.count, wps.page_size, wps.offset) == (30, 10, 10, 1)
            assert await ids_of(wps, concurrency) == list(range(1, 31))
    assert offsets(server) == [1, 2, 3]


@CONCURRENCY
async def test_empty_collection_costs_no_further_request(
    fifty: FakeOpenProject, concurrency: int
) -> None:
    reports: list[Progress] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(
            op, pageSize=10, filters=[{"id": {"operator": "=", "values": ["99999"]}}]
        )
        assert (wps.total, wps.count, len(wps), wps.elements) == (0, 0, 0, [])
        assert await wps.to_list(concurrency=concurrency, progress=reports.append) == []
        assert [p async for p in wps.pages(concurrency=concurrency)] == [wps]
    assert offsets(fifty) == [1]
    assert reports == [Progress(pages_done=1, pages_total=1, elements_done=0, total=0)]


@CONCURRENCY
async def test_single_page(fifty: FakeOpenProject, concurrency: int) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=100)
        assert (wps.total, wps.count, wps.page_size) == (50, 50, 100)
        assert await ids_of(wps, concurrency) == list(range(1, 51))
    assert offsets(fifty) == [1]


@CONCURRENCY
async def test_page_size_above_the_server_maximum_uses_what_the_server_answered(
    concurrency: int,
) -> None:
    async with FakeOpenProject(seed_size=60, max_page_size=25) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=100)
            assert (wps.page_size, wps.count) == (25, 25)
            assert await ids_of(wps, concurrency) == list(range(1, 61))
    assert sorted(page_requests(server)) == [(1, 100), (2, 25), (3, 25)]


@CONCURRENCY
async def test_starting_from_a_later_page_reads_that_page_and_the_following(
    fifty: FakeOpenProject, concurrency: int
) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        third = await first_page(op, pageSize=10, offset=3)
        pages = [p async for p in third.pages(concurrency=concurrency)]
        assert [p.offset for p in pages] == [3, 4, 5]
        assert pages[0] is third
        assert await ids_of(third, concurrency) == list(range(21, 51))


@CONCURRENCY
async def test_a_page_past_the_end_is_the_only_page(
    fifty: FakeOpenProject, concurrency: int
) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        beyond = await first_page(op, pageSize=10, offset=9)
        assert (beyond.total, beyond.count) == (50, 0)
        assert await ids_of(beyond, concurrency) == []
    assert offsets(fifty) == [9]


async def test_pages_come_in_order_as_collections_with_concurrency(
    fifty: FakeOpenProject,
) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=5)
        pages = [p async for p in wps.pages(concurrency=4)]
    assert all(isinstance(p, Collection) for p in pages)
    assert [p.offset for p in pages] == list(range(1, 11))
    assert [wp["id"] for p in pages for wp in p.elements] == list(range(1, 51))
    assert offsets(fifty) == list(range(1, 11))


async def test_page_size_zero_counts_and_refuses_to_iterate(fifty: FakeOpenProject) -> None:
    """pageSize=0 is the server's count: the count works, iterating it says why it cannot."""
    message = (
        "this collection was asked for with pageSize=0: the server answers a count "
        "(50 elements) and no pages to iterate; ask with pageSize >= 1 to read the elements"
    )
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        count_only = await first_page(op, pageSize=0)
        assert (count_only.total, count_only.count) == (50, 0)
        for concurrency in (1, 4):
            with pytest.raises(ValueError, match="pageSize=0") as caught:
                await count_only.to_list(concurrency=concurrency)
            assert str(caught.value) == message
        with pytest.raises(ValueError, match="pageSize=0"):
            count_only.pages()
    assert offsets(fifty) == [1]


async def test_elements_already_wrapped_are_the_ones_yielded(fifty: FakeOpenProject) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        first = wps.elements[0]
        assert (await wps.to_list())[0] is first


# -- progress ---------------------------------------------------------------------------


@CONCURRENCY
async def test_progress_reports_pages_and_elements(concurrency: int) -> None:
    async with FakeOpenProject(seed_size=25) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10)
            by_element: list[Progress] = []
            assert len(await wps.to_list(concurrency=concurrency, progress=by_element.append)) == 25
            by_page: list[Progress] = []
            async for _ in wps.pages(concurrency=concurrency, progress=by_page.append):
                pass
    expected = [Progress(1, 3, 10, 25), Progress(2, 3, 20, 25), Progress(3, 3, 25, 25)]
    assert by_element == expected
    assert by_page == expected


async def test_progress_is_reported_after_the_page_was_consumed(fifty: FakeOpenProject) -> None:
    reports: list[Progress] = []
    seen: list[int] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        async for wp in wps.iterate(progress=reports.append):
            seen.append(wp["id"])
            assert (reports[-1].elements_done if reports else 0) == (len(seen) - 1) // 10 * 10
            if len(seen) == 15:
                break
    assert [p.elements_done for p in reports] == [10]


# -- bad arguments ------------------------------------------------------------------------


async def test_bad_arguments_fail_at_the_call(fifty: FakeOpenProject) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        fifty.clear_requests()
        for bad in (0, -1, True, 2.0, "4", None):
            with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
                wps.iterate(concurrency=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="concurrency"):
                wps.pages(concurrency=bad)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="concurrency"):
                await wps.to_list(concurrency=bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="progress must be a callable"):
            wps.iterate(progress=42)  # type: ignore[arg-type]
    assert fifty.requests == []


# -- the collection changes while it is read -------------------------------------------


async def test_sequential_read_of_a_shrinking_collection_skips_what_shifted_back(
    fifty: FakeOpenProject,
) -> None:
    """Deleting 1-5 after page 1 was read moves 11-15 onto page 1: they are not seen."""
    reports: list[Progress] = []
    seen: list[int] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        async for wp in wps.iterate(progress=reports.append):
            seen.append(wp["id"])
            if wp["id"] == 10:
                for i in range(1, 6):
                    fifty.delete_work_package(i)
    assert seen == list(range(1, 11)) + list(range(16, 51))
    assert reports[0].total == 50
    assert reports[-1] == Progress(pages_done=5, pages_total=5, elements_done=45, total=45)
    assert offsets(fifty) == [1, 2, 3, 4, 5]


async def test_concurrent_read_of_a_shrinking_collection_ends_cleanly(
    fifty: FakeOpenProject,
) -> None:
    """The plan said 5 pages; after the deletes page 5 is empty: the read just ends."""
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        for i in [*range(31, 36), *range(41, 51)]:
            fifty.delete_work_package(i)
        assert await ids_of(wps, 4) == list(range(1, 31)) + list(range(36, 41))
    assert offsets(fifty) == [1, 2, 3, 4, 5]  # page 5 was already planned: it came back empty


async def test_concurrent_read_stops_at_the_first_empty_page_mid_read(
    fifty: FakeOpenProject,
) -> None:
    seen: list[int] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        async for wp in wps.iterate(concurrency=2):
            seen.append(wp["id"])
            if len(seen) == 1:  # pages 2 and 3 are answered already: then delete 31-50
                await wait_for(answered(fifty, 3), "pages 2 and 3 answered")
                for i in range(31, 51):
                    fifty.delete_work_package(i)
    assert seen == list(range(1, 31))
    assert len(page_requests(fifty)) == len(set(page_requests(fifty)))
    assert 4 in offsets(fifty)  # (page 5 may have been asked for before page 4 came back)


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_a_growing_collection_is_read_to_its_new_end(concurrency: int) -> None:
    async with FakeOpenProject(seed_size=50) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10)
            seen: list[int] = []
            async for wp in wps.iterate(concurrency=concurrency):
                seen.append(wp["id"])
                if len(seen) == 1:
                    planned = 1 + (concurrency if concurrency > 1 else 0)
                    await wait_for(answered(server, planned), "planned pages answered")
                    for i in range(15):
                        server.create_work_package(subject=f"new {i}")
    assert seen == list(range(1, 66))
    assert offsets(server) == list(range(1, 8))


async def test_growth_known_before_the_read_extends_the_plan(fifty: FakeOpenProject) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10)
        for i in range(15):
            fifty.create_work_package(subject=f"new {i}")
        pages = [p async for p in wps.pages(concurrency=4)]
    assert [p.offset for p in pages] == list(range(1, 8))
    assert [p.total for p in pages] == [50] + [65] * 6
    assert offsets(fifty) == list(range(1, 8))


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_inserts_before_the_read_position_are_not_yielded_twice(concurrency: int) -> None:
    """Sorted newest first, three creates push the last three of the page read before the
    creates onto the next page again (page 2 sequentially; page 4 with pages 2 and 3
    answered before the creates)."""
    async with FakeOpenProject(seed_size=50) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10, sortBy=[["id", "desc"]])
            seen: list[int] = []
            async for wp in wps.iterate(concurrency=concurrency):
                seen.append(wp["id"])
                if len(seen) == 1:
                    await wait_for(
                        answered(server, concurrency + 1 if concurrency > 1 else 1), "read"
                    )
                    for i in range(3):
                        server.create_work_package(subject=f"new {i}")
            pages = [p async for p in wps.pages()]
    assert seen == list(range(50, 0, -1))
    assert len(page_requests(server)) == len(set(page_requests(server))) + 5  # pages() again
    # pages() gives what the server sent: page 2 starts with 43, 42, 41 again
    assert [wp["id"] for wp in pages[1].elements][:4] == [43, 42, 41, 40]


# -- errors ------------------------------------------------------------------------------


async def test_an_error_on_page_3_raises_after_pages_1_and_2(fifty: FakeOpenProject) -> None:
    seen: list[int] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key, retry=None) as op:
        wps = await first_page(op, pageSize=10)

        async def read() -> None:
            async for wp in wps:
                seen.append(wp["id"])
                if len(seen) == 20:  # the next request is page 3
                    fifty.faults.add(Fault("status", status=500, times=1, path=WPS))

        with pytest.raises(InternalServerError) as raised:
            await read()
    assert raised.value.status == 500
    assert seen == list(range(1, 21))
    assert offsets(fifty) == [1, 2, 3]


async def test_an_error_on_page_4_of_a_concurrent_read(fifty: FakeOpenProject) -> None:
    seen: list[int] = []
    async with OpenProject(fifty.url, api_key=fifty.api_key, retry=None) as op:
        wps = await first_page(op, pageSize=10)

        async def read() -> None:
            async for wp in wps.iterate(concurrency=2):
                seen.append(wp["id"])
                if len(seen) == 1:  # pages 2 and 3 are asked for: the next one is page 4
                    await wait_for(lambda: len(fifty.requests) >= 3, "pages 2, 3 asked for")
                    fifty.faults.add(Fault("status", status=500, times=1, path=WPS))

        with pytest.raises(InternalServerError):
            await read()
    assert seen == list(range(1, 31))
    assert fifty.faults.count() == 1
    assert len(page_requests(fifty)) == len(set(page_requests(fifty)))


async def test_select_without_the_pagination_links_refuses_to_stop_silently(
    fifty: FakeOpenProject,
) -> None:
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        trimmed = await first_page(op, pageSize=10, select="total,elements/id")
        assert [wp["id"] for wp in trimmed.elements] == list(range(1, 11))
        with pytest.raises(LinkError, match="nextByOffset"):
            await trimmed.to_list()
        with pytest.raises(LinkError, match="select"):
            await trimmed.to_list(concurrency=4)


@CONCURRENCY
async def test_select_passes_through_and_pages_still_link(
    fifty: FakeOpenProject, concurrency: int
) -> None:
    select = "total,count,pageSize,offset,self,jumpTo,nextByOffset,elements/id,elements/subject"
    async with OpenProject(fifty.url, api_key=fifty.api_key) as op:
        wps = await first_page(op, pageSize=10, select=select)
        items = await wps.to_list(concurrency=concurrency)
    assert [wp["id"] for wp in items] == list(range(1, 51))
    assert all(set(wp.data) == {"id", "subject"} for wp in items)
    assert {r.query.count("select=") for r in fifty.requests} == {1}
    assert offsets(fifty) == [1, 2, 3, 4, 5]


# -- closing early, memory ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["iterate", "pages"])
async def test_aclose_cancels_the_pages_in_flight_at_once(method: str) -> None:
    async with FakeOpenProject(seed_size=100, latency=0.5) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10)
            iterator = getattr(wps, method)(concurrency=4)
            await anext(iterator)
            await wait_for(lambda: len(server.requests) >= 5, "pages 2-5 asked for")
            assert len(library_tasks()) >= 4
            await iterator.aclose()
            assert library_tasks() == []  # no waiting: closed means cancelled
    assert offsets(server) == [1, 2, 3, 4, 5]


async def test_aclosing_a_break_cancels_at_once() -> None:
    async with FakeOpenProject(seed_size=100, latency=0.5) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wps = await first_page(op, pageSize=10)
            async with contextlib.aclosing(wps.iterate(concurrency=3)) as items:
                async for _ in items:
                    break
            assert library_tasks() == []


def live_work_packages() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is dict and o.get("_type") == "WorkPackage")


@CONCURRENCY
async def test_pages_are_not_kept_after_they_were_consumed(concurrency: int) -> None:
    async with FakeOpenProject(seed_size=120) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            gc.collect()
            before = live_work_packages()  # (left over by earlier tests)
            wps = await first_page(op, pageSize=10)
            peak = 0
            async for wp in wps.iterate(concurrency=concurrency):
                if wp["id"] % 10 == 1 and wp["id"] > 10:
                    await asyncio.sleep(0.01)  # let the pages in flight arrive
                    peak = max(peak, live_work_packages() - before)
    # the first page (held by `wps`), the page being read, and the ones in flight: of 120
    assert 20 <= peak <= (2 + (concurrency if concurrency > 1 else 0)) * 10
