"""What the performance work promises, counted (never timed): requests per write, the
page-size switch of collection reads, field() lookups, op.gather() results, and that a
closed session fails every caller of a shared GET clearly.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from openproject_async import Collection, OpenProject, Resource
from openproject_async._cli._export import BULK_GC_THRESHOLDS, bulk_gc
from openproject_async._forms import _form_schemas
from openproject_async._tasks import Limit
from openproject_async.errors import SessionClosed, UnknownField, UpdateConflict
from openproject_async.testing import FakeOpenProject

from .test_readme import run_snippet

API = "/api/v3"
WPS = f"{API}/work_packages"
CREATE = f"{API}/projects/1/work_packages"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=120) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_key) as session:
        yield session


def sent(server: FakeOpenProject) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests]


# -- writes at the protocol minimum ----------------------------------------------------------


async def test_first_save_is_the_form_and_the_patch(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{WPS}/1")
    server.clear_requests()
    saved = await wp.save(subject="Renamed once")
    assert sent(server) == [("POST", f"{WPS}/1/form"), ("PATCH", f"{WPS}/1")]
    assert server.requests[1].json() == {
        "lockVersion": wp["lockVersion"],
        "subject": "Renamed once",
    }
    assert saved["subject"] == "Renamed once"
    assert saved.field("Subject") == "Renamed once"  # the form's schema was cached


async def test_save_with_a_name_to_choose_asks_the_form_for_the_schema_once(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{WPS}/3")
    server.clear_requests()
    saved = await wp.save(status="In progress")
    assert sent(server) == [
        ("POST", f"{WPS}/3/form"),  # the answer brings the schema with the statuses
        ("POST", f"{WPS}/3/form"),
        ("PATCH", f"{WPS}/3"),
    ]
    assert server.requests[2].json() == {
        "lockVersion": wp["lockVersion"],
        "_links": {"status": {"href": f"{API}/statuses/2"}},
    }
    assert saved.links["status"].title == "In progress"  # type: ignore[union-attr]


async def test_a_create_of_scalars_is_two_requests(
    server: FakeOpenProject, op: OpenProject
) -> None:
    project = await op.get(f"{API}/projects/1")
    server.clear_requests()
    created = await project.submit("createWorkPackage", subject="Only scalars")
    assert sent(server) == [("POST", f"{CREATE}/form"), ("POST", CREATE)]
    assert server.requests[1].json() == {"subject": "Only scalars"}
    assert created["subject"] == "Only scalars"


async def test_the_second_create_of_a_kind_is_two_requests(
    server: FakeOpenProject, op: OpenProject
) -> None:
    project = await op.get(f"{API}/projects/1")
    server.clear_requests()
    await project.submit("createWorkPackage", subject="First", type="Task")
    assert sent(server) == [("POST", f"{CREATE}/form")] * 2 + [("POST", CREATE)]
    server.clear_requests()
    second = await project.submit(
        "createWorkPackage", subject="Second", type="Task", description="Text"
    )
    assert sent(server) == [("POST", f"{CREATE}/form"), ("POST", CREATE)]
    assert server.requests[1].json() == {
        "subject": "Second",
        "description": {"raw": "Text"},
        "_links": {"type": {"href": f"{API}/types/1"}},
    }
    assert second.links["type"].title == "Task"  # type: ignore[union-attr]


async def test_a_remembered_schema_that_places_a_value_differently_is_corrected(
    server: FakeOpenProject, op: OpenProject
) -> None:
    """Correctness first: the answer's schema decides; a remembered one is a head start."""
    project = await op.get(f"{API}/projects/1")
    await project.submit("createWorkPackage", subject="First", type="Task")
    (key,) = _form_schemas(op)
    stale = dict(_form_schemas(op)[key])
    stale["subject"] = {**stale["subject"], "location": "_meta"}  # as if it had changed
    _form_schemas(op)[key] = stale
    server.clear_requests()
    created = await project.submit("createWorkPackage", subject="Corrected", type="Task")
    assert sent(server) == [("POST", f"{CREATE}/form")] * 2 + [("POST", CREATE)]
    assert server.requests[0].json()["_meta"] == {"subject": "Corrected"}
    assert server.requests[2].json() == {
        "subject": "Corrected",
        "_links": {"type": {"href": f"{API}/types/1"}},
    }
    assert created["subject"] == "Corrected"
    assert _form_schemas(op)[key]["subject"].get("location") is None  # the server's, again


# -- field() ---------------------------------------------------------------------------------


async def test_field_finds_each_name_the_same_way_every_time(op: OpenProject) -> None:
    wp = await op.get(f"{WPS}/1")
    await wp.load_schema()
    for _ in range(2):  # the second round answers from the remembered lookups
        assert wp.field("subject") == wp["subject"]
        assert wp.field("Subject") == wp["subject"]
        assert wp.field("SUBJECT") == wp["subject"]
        assert wp.field("percentage_done") == wp["percentageDone"]
        assert wp.field("Status").href == f"{API}/statuses/{wp.links['status'].href[-1]}"  # type: ignore[union-attr]
        with pytest.raises(UnknownField) as info:
            wp.field("No such field")
        assert info.value.name == "No such field"
    other = await op.get(f"{WPS}/2")
    await other.load_schema()  # another type: another schema, its own lookups
    assert other.field("Subject") == other["subject"]
    assert wp.field("Subject") == wp["subject"]


# -- page_size= ------------------------------------------------------------------------------


def page_queries(server: FakeOpenProject) -> list[tuple[str, str]]:
    out = []
    for r in server.requests:
        if r.path == WPS:
            q = parse_qs(r.query)
            out.append((q.get("offset", ["1"])[0], q.get("pageSize", ["?"])[0]))
    return out


async def first_page(op: OpenProject, **params: Any) -> Collection:
    return await op.get(WPS, expect=Collection, filters=[], **params)


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_page_size_reads_the_rest_with_larger_pages(
    server: FakeOpenProject, op: OpenProject, concurrency: int
) -> None:
    page = await first_page(op, pageSize=10)
    server.clear_requests()
    ids = [wp["id"] async for wp in page.iterate(page_size=50, concurrency=concurrency)]
    assert ids == list(range(1, 121))
    assert sorted(page_queries(server)) == [("1", "50"), ("2", "50"), ("3", "50")]


async def test_page_size_from_a_later_page_starts_at_its_first_element(
    server: FakeOpenProject, op: OpenProject
) -> None:
    page = await first_page(op, pageSize=10, offset=2)
    server.clear_requests()
    assert [wp["id"] for wp in await page.to_list(page_size=25)] == list(range(11, 121))
    # changeSize keeps offset 2 (elements 26-50); the jump to page 1 holds element 11
    assert page_queries(server) == [("2", "25"), ("1", "25"), ("2", "25"), ("3", "25"),
                                    ("4", "25"), ("5", "25")]  # fmt: skip


async def test_pages_with_page_size_come_at_the_servers_size() -> None:
    async with (
        FakeOpenProject(seed_size=120, max_page_size=40) as capped,
        OpenProject(capped.url, api_key=capped.api_key) as small,
    ):
        page = await first_page(small, pageSize=10)
        pages = [p async for p in page.pages(page_size=1000)]
    assert [(p.offset, p.page_size, len(p)) for p in pages] == [(1, 40, 40), (2, 40, 40),
                                                                 (3, 40, 40)]  # fmt: skip


async def test_page_size_not_larger_or_one_page_changes_nothing(
    server: FakeOpenProject, op: OpenProject
) -> None:
    page = await first_page(op, pageSize=200)
    server.clear_requests()
    assert len(await page.to_list(page_size=500)) == 120
    assert server.requests == []
    small = await first_page(op, pageSize=60, offset=2)
    server.clear_requests()
    assert len(await small.to_list(page_size=30)) == 60
    assert server.requests == []
    with pytest.raises(ValueError, match="page_size"):
        page.iterate(page_size=0)


# -- op.gather -------------------------------------------------------------------------------


async def test_gather_gives_each_operation_its_result_or_its_error(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wps = [await op.get(f"{WPS}/{i}") for i in range(1, 6)]
    stale = wps[2]
    await (await op.get(f"{WPS}/3")).save(subject="Someone else")
    server.reset_stats()
    results = await op.gather(*(wp.save(subject=f"Bulk {wp['id']}") for wp in wps), concurrency=2)
    assert [type(r).__name__ for r in results] == ["Resource"] * 2 + ["UpdateConflict"] + [
        "Resource"
    ] * 2
    assert isinstance(results[2], UpdateConflict)
    assert [r["subject"] for r in results if isinstance(r, Resource)] == [
        "Bulk 1", "Bulk 2", "Bulk 4", "Bulk 5"
    ]  # fmt: skip
    assert stale["subject"] != "Someone else"
    assert server.peak_concurrency <= 2


async def test_gather_propagates_what_is_not_an_api_error(op: OpenProject) -> None:
    async def broken() -> None:
        raise KeyError("bug")

    wp = await op.get(f"{WPS}/1")
    with pytest.raises(KeyError):
        await op.gather(wp.save(subject="x"), broken(), concurrency=1)
    with pytest.raises(ValueError, match="concurrency"):
        await op.gather(concurrency=0)


# -- shared GETs and close() -----------------------------------------------------------------


async def test_close_fails_the_first_caller_and_the_waiters_of_a_shared_get() -> None:
    async with FakeOpenProject(seed_size=5, latency=5) as slow:
        op = OpenProject(slow.url, api_key=slow.api_keys["member"])
        callers = [asyncio.ensure_future(op.get(f"{WPS}/1")) for _ in range(3)]
        for _ in range(20):  # the first caller's request is in flight (5 s latency)
            await asyncio.sleep(0.01)
        assert op.stats["merged"] == 2
        await op.close()
        results = await asyncio.gather(*callers, return_exceptions=True)
    assert [type(r) for r in results] == [SessionClosed] * 3
    assert "closed while the request was in flight" in str(results[0])


# -- the session's limit ---------------------------------------------------------------------


async def test_limit_serves_in_order_widens_and_narrows_again() -> None:
    limit = Limit(1)
    release = asyncio.Event()
    entered: list[int] = []

    async def hold(n: int) -> None:
        async with limit:
            entered.append(n)
            await release.wait()

    tasks = [asyncio.ensure_future(hold(n)) for n in range(4)]
    await asyncio.sleep(0)
    assert (entered, limit.used) == ([0], 1)
    limit.widen(2)  # two more places: the next two in line enter
    await asyncio.sleep(0)
    assert (entered, limit.used) == ([0, 1, 2], 3)
    limit.widen(-2)  # taken back: nobody new enters until the holders are down to one
    release.set()
    await asyncio.gather(*tasks)
    assert (entered, limit.used, limit.capacity) == ([0, 1, 2, 3], 0, 1)


async def test_limit_gives_back_a_place_granted_to_a_cancelled_waiter() -> None:
    limit = Limit(1)
    await limit.__aenter__()
    second = asyncio.ensure_future(limit.__aenter__())
    third = asyncio.ensure_future(limit.__aenter__())
    await asyncio.sleep(0)
    assert limit.used == 1
    await limit.__aexit__(None, None, None)  # the place is granted to `second`...
    second.cancel()  # ...cancelled before it resumes: the place goes on to `third`
    results = await asyncio.gather(second, third, return_exceptions=True)
    assert second.cancelled()
    assert results[1] is None
    assert limit.used == 1  # third's


# -- the collector during a CLI export -------------------------------------------------------


def test_bulk_gc_raises_the_thresholds_and_restores_them() -> None:
    before = gc.get_threshold()
    with bulk_gc():
        assert gc.get_threshold() == BULK_GC_THRESHOLDS == (50_000, 20, 100)
    assert gc.get_threshold() == before
    with pytest.raises(KeyError), bulk_gc():
        raise KeyError("x")
    assert gc.get_threshold() == before


async def test_the_readme_bulk_write_example_runs() -> None:
    assert await run_snippet("op.gather(") == "5 saved\n"
