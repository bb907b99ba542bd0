"""Collections over ``MockTransport``: the exact requests of each read, and exact errors.

A small in-memory collection (``Things``) answers offset pages like OpenProject does
(``self``, ``jumpTo``, ``changeSize``, ``nextByOffset``), except that its ``nextByOffset``
hrefs put ``pageSize`` before ``offset``: a request made by following ``nextByOffset`` and
one made by expanding ``jumpTo`` can be told apart in ``mock.requests``. ``tweak`` edits a
page before it is sent (broken servers, ``select=``-trimmed pages).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from openproject_async import (
    Collection,
    HttpRequest,
    HttpResponse,
    OpenProject,
    Progress,
    RetryPolicy,
)
from openproject_async.errors import LinkError, ProtocolError
from openproject_async.testing import MockTransport

BASE = "https://op.test"
#: Seconds before a request that should have been cancelled fails instead of hanging
#: (a guard for broken code, never reached by working code).
HANG_GUARD = 5
THINGS = "/api/v3/things"
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)

Tweak = Callable[[int, int, dict[str, Any]], dict[str, Any] | HttpResponse]


def thing(i: int) -> dict[str, Any]:
    return {"_type": "Thing", "id": i, "_links": {"self": {"href": f"{THINGS}/{i}"}}}


def page_doc(ids: list[int], offset: int, size: int, total: int | None = None) -> dict[str, Any]:
    """Page ``offset`` of ``ids`` at ``size`` per page, with OpenProject's links."""
    total = len(ids) if total is None else total
    start = (offset - 1) * size
    elements = [thing(i) for i in ids[start : start + size]]
    links: dict[str, Any] = {
        "self": {"href": f"{THINGS}?offset={offset}&pageSize={size}"},
        "jumpTo": {"href": f"{THINGS}?offset=%7Boffset%7D&pageSize={size}", "templated": True},
        "changeSize": {"href": f"{THINGS}?offset={offset}&pageSize=%7Bsize%7D", "templated": True},
    }
    if offset * size < total:
        links["nextByOffset"] = {"href": nxt(offset + 1, size)}
    return {
        "_type": "Collection",
        "total": total,
        "count": len(elements),
        "pageSize": size,
        "offset": offset,
        "_embedded": {"elements": elements},
        "_links": links,
    }


def nxt(offset: int, size: int) -> str:
    """A ``nextByOffset`` href (``pageSize`` first: not what ``jumpTo`` expands to)."""
    return f"{THINGS}?pageSize={size}&offset={offset}"


def jump(offset: int, size: int) -> str:
    return f"{THINGS}?offset={offset}&pageSize={size}"


class Things:
    """``n`` elements (ids 1..n) at ``/api/v3/things``, default page size ``size``."""

    def __init__(
        self, n: int, *, size: int = 2, tweak: Tweak | None = None, cap: int | None = None
    ) -> None:
        self.ids = list(range(1, n + 1))
        self.size = size
        self.cap = cap  # the server's maximum for sizes above the default
        self.tweak = tweak
        self.mock = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.url.path != THINGS:
            return HttpResponse.json(thing(int(request.url.name)))
        query = request.url.query
        offset = int(query.get("offset", "1"))
        size = int(query.get("pageSize", str(self.size)))
        if self.cap is not None and size > self.size:
            size = min(size, self.cap)
        doc = page_doc(self.ids, offset, size)
        got = self.tweak(offset, size, doc) if self.tweak else doc
        return got if isinstance(got, HttpResponse) else HttpResponse.json(got)

    @property
    def sent(self) -> list[str]:
        """Every request's path and query, in order."""
        return [r.url.raw_path_qs for r in self.mock.requests]

    def session(self, **kw: Any) -> OpenProject:
        kw.setdefault("retry", None)
        return OpenProject(BASE, api_key="k", transport=self.mock, **kw)


async def first(op: OpenProject, href: str = THINGS) -> Collection:
    page = await op.get(href)
    assert isinstance(page, Collection)
    return page


def ids(items: list[Any]) -> list[int]:
    return [x["id"] for x in items]


# -- which requests a read makes -------------------------------------------------------


async def test_a_sequential_read_follows_next_links_once_each() -> None:
    things = Things(5)
    async with things.session() as op:
        got = await (await first(op)).to_list()
    assert ids(got) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2)]


async def test_pages_and_to_list_read_one_page_at_a_time_by_default() -> None:
    things = Things(5)
    async with things.session() as op:
        page = await first(op)
        pages = [p async for p in page.pages()]
        assert [p.offset for p in pages] == [1, 2, 3]
        listed = await page.to_list()
    assert ids(listed) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2), nxt(2, 2), nxt(3, 2)]


async def test_a_concurrent_read_expands_jump_to_for_each_following_page() -> None:
    things = Things(7)
    async with things.session() as op:
        got = await (await first(op)).to_list(concurrency=2)
    assert ids(got) == [1, 2, 3, 4, 5, 6, 7]
    assert things.sent == [THINGS, jump(2, 2), jump(3, 2), jump(4, 2)]


async def test_page_size_one_still_reads_concurrently() -> None:
    things = Things(3, size=1)
    async with things.session() as op:
        got = await (await first(op)).to_list(concurrency=3)
    assert ids(got) == [1, 2, 3]
    assert things.sent == [THINGS, jump(2, 1), jump(3, 1)]


@pytest.mark.parametrize(
    "drop",
    ["offset", "pageSize", "total"],
)
async def test_without_offset_page_size_or_total_a_concurrent_read_follows_next(
    drop: str,
) -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        del doc[drop]
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        got = await (await first(op)).to_list(concurrency=3)
    assert ids(got) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2)]


async def test_an_empty_count_page_with_jump_to_is_read_without_error() -> None:
    things = Things(0, size=0)
    async with things.session() as op:
        page = await first(op, f"{THINGS}?pageSize=0")
        assert await page.to_list(concurrency=2) == []
    assert things.sent == [f"{THINGS}?pageSize=0"]


# -- per-read options reach every page request ------------------------------------------


async def test_timeout_and_retry_of_iterate_apply_to_each_page_request() -> None:
    failed: list[int] = []

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any] | HttpResponse:
        if offset == 2 and len(failed) < 2:  # the first two requests of page 2
            failed.append(offset)
            return HttpResponse(503, {"Retry-After": "0"})
        return doc

    things = Things(4, tweak=tweak)
    async with things.session(retry=FAST) as op:
        page = await first(op)
        with pytest.raises(ProtocolError, match="status 503"):
            [x async for x in page.iterate(timeout=7.0, retry=False)]
        # the same read without retry=False retries page 2 and goes on
        assert ids([x async for x in page.iterate(timeout=7.0)]) == [1, 2, 3, 4]
    assert things.sent == [THINGS, nxt(2, 2), nxt(2, 2), nxt(2, 2)]
    assert [r.timeout.total for r in things.mock.requests[1:]] == [7.0, 7.0, 7.0]


async def read(page: Collection, how: str) -> list[Any]:
    if how == "pages":
        return [p async for p in page.pages(retry=False, timeout=5.0)]
    return await page.to_list(retry=False, timeout=5.0)


@pytest.mark.parametrize("how", ["pages", "to_list"])
async def test_retry_false_of_pages_and_to_list_sends_each_page_once(how: str) -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any] | HttpResponse:
        return HttpResponse(503, {"Retry-After": "0"}) if offset == 2 else doc

    things = Things(4, tweak=tweak)
    async with things.session(retry=FAST) as op:
        page = await first(op)
        with pytest.raises(ProtocolError, match="status 503"):
            await read(page, how)
    assert things.sent == [THINGS, nxt(2, 2)]
    assert things.mock.requests[1].timeout.total == 5.0


@pytest.mark.parametrize("how", ["pages", "to_list"])
async def test_page_size_of_pages_and_to_list_reads_on_through_change_size(how: str) -> None:
    things = Things(7)
    async with things.session() as op:
        page = await first(op)
        reports: list[Progress] = []
        if how == "pages":
            got = [p async for p in page.pages(page_size=4, progress=reports.append)]
            assert [ids(p.elements) for p in got] == [[1, 2, 3, 4], [5, 6, 7]]
        else:
            assert ids(await page.to_list(page_size=4, progress=reports.append)) == list(
                range(1, 8)
            )
    assert things.sent == [THINGS, f"{THINGS}?offset=1&pageSize=4", nxt(2, 4)]
    assert reports == [Progress(1, 2, 4, 7), Progress(2, 2, 7, 7)]


async def test_progress_of_pages_counts_from_the_page_the_read_starts_at() -> None:
    things = Things(9)
    async with things.session() as op:
        page = await first(op, jump(2, 2))
        reports: list[Progress] = []
        got = [p.offset async for p in page.pages(progress=reports.append)]
    assert got == [2, 3, 4, 5]
    assert reports == [
        Progress(1, 4, 2, 9),
        Progress(2, 4, 4, 9),
        Progress(3, 4, 6, 9),
        Progress(4, 4, 7, 9),
    ]


async def test_progress_without_a_total_has_no_pages_total() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        del doc["total"]
        return doc

    things = Things(3, tweak=tweak)
    async with things.session() as op:
        reports: list[Progress] = []
        await (await first(op)).to_list(progress=reports.append)
    assert reports == [Progress(1, None, 2, None), Progress(2, None, 3, None)]
    assert [r.pages_total is None for r in reports] == [True, True]


# -- pages trimmed by select= -------------------------------------------------------------


def trimmed(keep: tuple[str, ...]) -> Tweak:
    """Pages whose links are only ``keep`` (what ``select=`` left)."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc["_links"] = {k: v for k, v in doc["_links"].items() if k in keep}
        return doc

    return tweak


TRIMMED_MESSAGE = (
    "this page has {} of {} elements but no link to the next page (select= left the "
    "pagination links out); add 'total,pageSize,offset,self,jumpTo,nextByOffset' to select"
)


async def test_a_trimmed_first_page_that_says_there_is_more_raises_link_error() -> None:
    things = Things(5, tweak=trimmed(()))
    async with things.session() as op:
        page = await first(op)
        with pytest.raises(LinkError) as info:
            await page.to_list()
    assert str(info.value) == TRIMMED_MESSAGE.format(2, 5)
    assert things.sent == [THINGS]


async def test_a_trimmed_middle_page_counts_the_pages_before_it() -> None:
    things = Things(5, tweak=trimmed(()))
    async with things.session() as op:
        page = await first(op, jump(2, 2))
        with pytest.raises(LinkError) as info:
            await page.to_list()
    # page 2 holds elements 3 and 4: 4 of 5 read, so one is missing
    assert str(info.value) == TRIMMED_MESSAGE.format(2, 5)


async def test_a_trimmed_last_page_that_holds_the_end_reads_without_error() -> None:
    things = Things(5, tweak=trimmed(()))
    async with things.session() as op:
        page = await first(op, jump(3, 2))
        assert ids(await page.to_list()) == [5]
    assert things.sent == [jump(3, 2)]


async def test_a_trimmed_page_without_page_size_counts_only_its_elements() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        del doc["pageSize"]
        doc["_links"] = {}
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        page = await first(op, jump(3, 2))
        with pytest.raises(LinkError) as info:
            await page.to_list()
    assert str(info.value) == TRIMMED_MESSAGE.format(1, 5)


async def test_a_page_with_its_next_link_but_no_self_link_reads_on() -> None:
    things = Things(5, tweak=trimmed(("nextByOffset",)))
    async with things.session() as op:
        assert ids(await (await first(op)).to_list()) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2)]


async def test_a_page_with_its_self_link_but_no_next_link_ends_the_read() -> None:
    # not trimmed (it links itself): the server says where the collection ends
    things = Things(5, tweak=trimmed(("self",)))
    async with things.session() as op:
        assert ids(await (await first(op)).to_list()) == [1, 2]
    assert things.sent == [THINGS]


# -- broken servers -------------------------------------------------------------------------


async def test_a_next_link_to_something_else_than_a_page_raises_protocol_error() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == 1:
            doc["_links"]["nextByOffset"] = {"href": f"{THINGS}/7"}
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list()
    assert str(info.value) == (
        f"nextByOffset did not lead to a collection page; from {THINGS}/7"
    )
    assert info.value.url == f"{THINGS}/7"


async def test_a_jump_to_something_else_than_a_page_raises_protocol_error() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc["_links"]["jumpTo"] = {"href": f"{THINGS}/%7Boffset%7D", "templated": True}
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list(concurrency=2)
    assert str(info.value) == f"jumpTo offset=2 did not lead to a collection page; from {THINGS}/2"
    assert info.value.url == f"{THINGS}/2"


async def test_jump_to_answering_another_page_number_raises_protocol_error() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == 3:
            doc["offset"] = 1
        return doc

    things = Things(7, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list(concurrency=3)
    assert str(info.value) == (
        f"jumpTo with offset=3 answered page 1; from {THINGS}?offset=3&pageSize=2"
    )
    assert info.value.url == f"{THINGS}?offset=3&pageSize=2"


async def test_jump_to_answering_another_page_size_raises_protocol_error() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == 2:
            doc["pageSize"] = 3
        return doc

    things = Things(7, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list(concurrency=2)
    assert str(info.value) == (
        "page 2 has pageSize 3, page 1 had 2: the pages do not line up (was the server's "
        f"maximum page size changed?); from {THINGS}?offset=2&pageSize=2"
    )
    assert info.value.url == f"{THINGS}?offset=2&pageSize=2"


async def test_a_jumped_page_without_offset_or_page_size_is_taken_as_asked() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == 2:
            del doc["offset"], doc["pageSize"]
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        assert ids(await (await first(op)).to_list(concurrency=2)) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, jump(2, 2), jump(3, 2)]


def repeat_page(number: int) -> Tweak:
    """Page ``number`` links to a page that says it is ``number`` again (another href)."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == number:
            doc["_links"]["nextByOffset"] = {"href": f"{THINGS}?again=1&offset={number}"}
        return doc

    return tweak


@pytest.mark.parametrize("number", [1, 2])
async def test_a_next_page_that_does_not_advance_raises_protocol_error(number: int) -> None:
    things = Things(9, tweak=repeat_page(number))
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list()
    href = f"{THINGS}?offset={number}&pageSize=2"  # the repeated page's self href
    assert str(info.value) == (
        f"page {number} came after page {number}: the pages do not advance; from {href}"
    )
    assert info.value.url == href


async def test_a_page_without_offset_does_not_reset_the_advance_check() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset == 3:
            del doc["offset"]
        if offset == 4:
            doc["offset"] = 2
        return doc

    things = Things(12, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list()
    assert str(info.value).startswith("page 2 came after page 2: the pages do not advance")


def runaway(totals: Callable[[int], int | None], stop: int = 40) -> Tweak:
    """Next links that never end (up to page ``stop``), page ``n`` saying ``totals(n)``."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if offset >= stop:
            doc["_embedded"]["elements"] = []
            doc["_links"].pop("nextByOffset", None)
            return doc
        doc["_embedded"]["elements"] = [thing(offset * 10 + i) for i in range(size)]
        doc["_links"]["nextByOffset"] = {"href": nxt(offset + 1, size)}
        total = totals(offset)
        if total is None:
            doc.pop("total", None)
        else:
            doc["total"] = total
        return doc

    return tweak


@pytest.mark.parametrize(
    ("totals", "read", "total", "pages"),
    [
        (lambda n: 2, 8, 2, 4),  # more than 2 * total + one page: the fourth page
        (lambda n: 2 if n == 1 else 3, 10, 3, 5),  # the largest total counts
        (lambda n: 4 if n == 1 else 1, 12, 4, 6),  # a smaller total later does not shrink it
        (lambda n: 2 if n == 1 else None, 8, 2, 4),  # pages without total keep the first's
        (lambda n: None if n == 1 else 0, 4, 0, 2),  # a total of 0 counts
    ],
)
async def test_runaway_next_links_raise_protocol_error(
    totals: Callable[[int], int | None], read: int, total: int, pages: int
) -> None:
    things = Things(2, tweak=runaway(totals))
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list()
    href = f"{THINGS}?offset={pages}&pageSize=2"
    assert str(info.value) == (
        f"{read} elements read from a collection of {total}: the next links do not end where "
        f"the server's total says (runaway pagination); from {href}"
    )
    assert info.value.url == href
    assert len(things.sent) == pages


async def test_a_collection_without_any_total_reads_until_the_pages_end() -> None:
    things = Things(2, tweak=runaway(lambda n: None, stop=6))
    async with things.session() as op:
        got = await (await first(op)).to_list()
    assert len(got) == 10
    assert len(things.sent) == 6


# -- elements --------------------------------------------------------------------------------


async def test_an_element_shifted_onto_the_next_page_by_self_href_is_yielded_once() -> None:
    # elements without ids: the same self href on the next page is the same element
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        for e in doc["_embedded"]["elements"]:
            del e["id"]
        if offset == 2:
            doc["_embedded"]["elements"].insert(0, {"_type": "Thing", **_self(2)})
        return doc

    things = Things(4, tweak=tweak)
    async with things.session() as op:
        got = await (await first(op)).to_list()
    assert [x.href for x in got] == [f"{THINGS}/{i}" for i in (1, 2, 3, 4)]


def _self(i: int) -> dict[str, Any]:
    return {"_links": {"self": {"href": f"{THINGS}/{i}"}}}


async def test_elements_without_usable_self_links_are_all_yielded() -> None:
    shapes: list[dict[str, Any]] = [
        {"_type": "Thing"},  # no _links
        {"_type": "Thing", "_links": []},  # _links not an object
        {"_type": "Thing", "_links": {}},  # no self
        {"_type": "Thing", "_links": {"self": "x"}},  # self not an object
        {"_type": "Thing", "_links": {"self": {"title": "t"}}},  # self without href
    ]

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc["_embedded"]["elements"] = [dict(s) for s in shapes]
        doc["count"] = len(shapes)
        if offset == 2:
            doc["_links"].pop("nextByOffset", None)
        return doc

    things = Things(4, tweak=tweak)
    async with things.session() as op:
        got = await (await first(op)).to_list()
    # the same shapes on both pages: nothing to recognise, so nothing is dropped
    assert len(got) == 2 * len(shapes)


# -- closing and cancelling ------------------------------------------------------------------


async def test_a_failed_get_many_cancels_and_waits_for_the_requests_in_flight() -> None:
    released: list[str] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        if request.url.name == "bad":
            await asyncio.sleep(0)
            raise ProtocolError("broken")
        try:
            await asyncio.sleep(HANG_GUARD)  # until cancelled
        finally:
            for _ in range(5):  # a cleanup that takes a few turns of the loop
                await asyncio.sleep(0)
            released.append(request.url.name)
        raise AssertionError("unreachable")

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        with pytest.raises(ProtocolError, match="broken"):
            await op.get_many([f"{THINGS}/slow1", f"{THINGS}/bad", f"{THINGS}/slow2"])
        # both slow requests were cancelled and finished before get_many raised
        assert sorted(released) == ["slow1", "slow2"]


# -- options are checked when the read is asked for -------------------------------------------


async def test_pages_and_to_list_check_progress_and_page_size_at_the_call() -> None:
    things = Things(5)
    async with things.session() as op:
        page = await first(op)
        message = "progress must be a callable taking a Progress (or None), got int"
        with pytest.raises(TypeError) as info:
            page.pages(progress=42)  # type: ignore[arg-type]
        assert str(info.value) == message
        with pytest.raises(TypeError) as info:
            await page.to_list(progress=42)  # type: ignore[arg-type]
        assert str(info.value) == message
        for bad in (0, True, "4"):
            with pytest.raises(ValueError, match="page_size must be") as err:
                page.pages(page_size=bad)  # type: ignore[arg-type]
            assert str(err.value) == f"page_size must be an int >= 1 or None, got {bad!r}"
            with pytest.raises(ValueError, match="page_size must be"):
                await page.to_list(page_size=bad)  # type: ignore[arg-type]
        assert ids(await page.to_list(page_size=1)) == [1, 2, 3, 4, 5]  # 1 is allowed
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2)]  # 1 < 2: no resizing either


def count_page(self_href: str) -> Tweak:
    """A page that says ``pageSize`` 0 (a count) of 5, its self link ``self_href``."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc.update(pageSize=0, count=0, _embedded={"elements": []})
        doc["_links"] = {"self": {"href": self_href}}
        return doc

    return tweak


@pytest.mark.parametrize("self_href", [THINGS, f"{THINGS}?pageSize=1", f"{THINGS}?pageSize=x"])
async def test_a_count_answered_to_a_request_for_elements_is_a_protocol_error(
    self_href: str,
) -> None:
    things = Things(5, tweak=count_page(self_href))
    async with things.session() as op:
        page = await first(op)
        with pytest.raises(ProtocolError) as info:
            page.iterate()
    assert str(info.value) == (
        "the server answered pageSize=0 with 5 elements to a request that did not ask for a "
        "count: no pages to iterate"
    )


@pytest.mark.parametrize("total", [1, 5])
async def test_a_count_asked_for_cannot_be_iterated(total: int) -> None:
    things = Things(total, tweak=count_page(f"{THINGS}?pageSize=0"))
    async with things.session() as op:
        page = await first(op)
        with pytest.raises(ValueError, match="asked for with pageSize=0") as info:
            page.pages()
    assert str(info.value) == (
        f"this collection was asked for with pageSize=0: the server answers a count ({total} "
        "elements) and no pages to iterate; ask with pageSize >= 1 to read the elements"
    )


# -- reading on with another page size (changeSize) --------------------------------------------


async def test_page_size_from_a_later_page_skips_what_came_before_it() -> None:
    things = Things(9)
    async with things.session() as op:
        page = await first(op, jump(3, 2))  # elements 5 and 6
        reports: list[Progress] = []
        got = await page.to_list(page_size=3, progress=reports.append)
    assert ids(got) == [5, 6, 7, 8, 9]
    assert things.sent == [
        jump(3, 2),
        f"{THINGS}?offset=3&pageSize=3",  # changeSize keeps the page number: 7, 8, 9
        jump(2, 3),  # the page of size 3 that holds element 5
        nxt(3, 3),
    ]
    assert reports == [Progress(1, 2, 2, 9), Progress(2, 2, 5, 9)]


@pytest.mark.parametrize(
    ("start", "page_size", "drop"),
    [
        (THINGS, 2, None),  # not larger than the page size
        (THINGS, 1, None),  # smaller
        (THINGS, 4, "changeSize"),  # no changeSize link
        (THINGS, 4, "offset"),  # no page number
        (THINGS, 4, "pageSize"),  # no page size
    ],
)
async def test_page_size_that_cannot_help_reads_on_as_the_pages_are(
    start: str, page_size: int, drop: str | None
) -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if drop == "changeSize":
            del doc["_links"]["changeSize"]
        elif drop:
            del doc[drop]
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        got = await (await first(op, start)).to_list(page_size=page_size)
    assert ids(got) == [1, 2, 3, 4, 5]
    assert things.sent == [THINGS, nxt(2, 2), nxt(3, 2)]


async def test_page_size_on_the_page_that_holds_the_end_asks_nothing_more() -> None:
    things = Things(4)
    async with things.session() as op:
        got = await (await first(op, jump(2, 2))).to_list(page_size=10)
    assert ids(got) == [3, 4]
    assert things.sent == [jump(2, 2)]


async def test_page_size_capped_by_the_server_below_the_old_size_still_lines_up() -> None:
    things = Things(5, cap=1)
    async with things.session() as op:
        got = await (await first(op, jump(2, 2))).to_list(page_size=4)
    assert ids(got) == [3, 4, 5]
    assert things.sent == [
        jump(2, 2),
        f"{THINGS}?offset=2&pageSize=4",  # answered with pageSize 1: page 2 is element 2
        jump(3, 1),
        nxt(4, 1),
        nxt(5, 1),
    ]


def resized(change: Callable[[dict[str, Any]], None]) -> Tweak:
    """``change`` applies to the pages answered at size 3 (after changeSize)."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        if size == 3:
            change(doc)
        return doc

    return tweak


async def test_a_resized_page_without_page_size_is_a_protocol_error() -> None:
    things = Things(9, tweak=resized(lambda doc: doc.pop("pageSize")))
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op, jump(3, 2))).to_list(page_size=3)
    href = f"{THINGS}?offset=3&pageSize=3"
    assert str(info.value) == f"changeSize answered a page without pageSize; from {href}"
    assert info.value.url == href


async def test_a_change_size_to_something_else_than_a_page_is_a_protocol_error() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc["_links"]["changeSize"] = {"href": f"{THINGS}/%7Bsize%7D", "templated": True}
        return doc

    things = Things(9, tweak=tweak)
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op, jump(3, 2))).to_list(page_size=3)
    assert str(info.value) == (
        f"changeSize size=3 did not lead to a collection page; from {THINGS}/3"
    )


@pytest.mark.parametrize(
    "jump_to",
    [
        None,
        {"href": f"{THINGS}?page=%7Bpage%7D", "templated": True},
        {"href": None},
    ],
)
async def test_a_resized_page_without_a_usable_jump_to_is_a_link_error(
    jump_to: dict[str, Any] | None,
) -> None:
    def change(doc: dict[str, Any]) -> None:
        if jump_to is None:
            del doc["_links"]["jumpTo"]
        else:
            doc["_links"]["jumpTo"] = jump_to

    things = Things(9, tweak=resized(change))
    async with things.session() as op:
        with pytest.raises(LinkError) as info:
            await (await first(op, jump(3, 2))).to_list(page_size=3)
    assert str(info.value) == "the resized page has no jumpTo link to reach page 2"


# -- elements recognised across pages -----------------------------------------------------------


def shifted(elements: Callable[[int], list[dict[str, Any]]]) -> Tweak:
    """Two pages whose elements are ``elements(offset)``."""

    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        doc["_embedded"]["elements"] = elements(offset)
        if offset == 2:
            doc["_links"].pop("nextByOffset", None)
        return doc

    return tweak


async def test_an_element_is_recognised_by_id_without_a_self_link() -> None:
    def elements(offset: int) -> list[dict[str, Any]]:
        pages = {1: [1, 2], 2: [2, 3]}
        return [{"_type": "Thing", "id": i} for i in pages[offset]]

    things = Things(4, tweak=shifted(elements))
    async with things.session() as op:
        assert ids(await (await first(op)).to_list()) == [1, 2, 3]


async def test_an_element_without_type_is_recognised_by_id() -> None:
    def elements(offset: int) -> list[dict[str, Any]]:
        pages = {1: [1, 2], 2: [2, 3]}
        return [{"id": i} for i in pages[offset]]

    things = Things(4, tweak=shifted(elements))
    async with things.session() as op:
        assert ids(await (await first(op)).to_list()) == [1, 2, 3]


async def test_elements_of_another_type_with_the_same_id_are_all_yielded() -> None:
    def elements(offset: int) -> list[dict[str, Any]]:
        if offset == 1:
            return [thing(1), thing(2)]
        return [{"_type": "Other", "id": 2}, thing(3)]

    things = Things(4, tweak=shifted(elements))
    async with things.session() as op:
        got = await (await first(op)).to_list()
    assert [(x.resource_type, x["id"]) for x in got] == [
        ("Thing", 1),
        ("Thing", 2),
        ("Other", 2),
        ("Thing", 3),
    ]


async def test_an_element_twice_on_one_page_is_yielded_once_and_the_page_goes_on() -> None:
    def elements(offset: int) -> list[dict[str, Any]]:
        return [thing(1), thing(1), thing(2)] if offset == 1 else [thing(3)]

    things = Things(4, tweak=shifted(elements))
    async with things.session() as op:
        assert ids(await (await first(op)).to_list()) == [1, 2, 3]


async def test_an_element_that_is_not_an_object_is_a_protocol_error() -> None:
    def elements(offset: int) -> list[Any]:
        return [thing(1), 5]

    things = Things(4, tweak=shifted(elements))
    async with things.session() as op:
        with pytest.raises(ProtocolError) as info:
            await (await first(op)).to_list()
    assert str(info.value) == "collection element 1 is int, expected a HAL object"


async def test_elements_that_are_not_a_list_are_a_protocol_error() -> None:
    async with Things(0).session() as op:
        with pytest.raises(ProtocolError) as info:
            op.wrap({"_type": "Collection", "_embedded": {"elements": {}}})
    assert str(info.value) == "collection _embedded.elements must be a list, got dict"


async def test_counts_that_are_not_ints_read_as_unknown() -> None:
    async with Things(0).session() as op:
        page = op.wrap(
            {
                "_type": "Collection",
                "total": "5",
                "count": True,
                "pageSize": 2.0,
                "offset": False,
                "_embedded": {"elements": [thing(1)]},
            }
        )
    assert isinstance(page, Collection)
    assert (page.total, page.count, page.page_size, page.offset) == (None, 1, None, None)


# -- progress ---------------------------------------------------------------------------------


async def test_progress_of_iterate_counts_from_the_page_the_read_starts_at() -> None:
    things = Things(9)
    async with things.session() as op:
        reports: list[Progress] = []
        await (await first(op, jump(3, 2))).to_list(progress=reports.append)
    assert reports == [Progress(1, 3, 2, 9), Progress(2, 3, 4, 9), Progress(3, 3, 5, 9)]


async def test_progress_of_pages_without_page_numbers_counts_from_one() -> None:
    def tweak(offset: int, size: int, doc: dict[str, Any]) -> dict[str, Any]:
        del doc["offset"]
        return doc

    things = Things(5, tweak=tweak)
    async with things.session() as op:
        reports: list[Progress] = []
        await (await first(op)).to_list(progress=reports.append)
    assert reports == [Progress(1, 3, 2, 5), Progress(2, 3, 4, 5), Progress(3, 3, 5, 5)]


# -- closing a concurrent read -----------------------------------------------------------------


async def test_closing_a_concurrent_read_waits_for_the_cancelled_pages() -> None:
    released: list[int] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        offset = int(request.url.query.get("offset", "1"))
        if offset == 1:
            return HttpResponse.json(page_doc(list(range(1, 9)), 1, 2))
        try:
            await asyncio.sleep(HANG_GUARD)  # until cancelled
        finally:
            for _ in range(5):  # a cleanup that takes a few turns of the loop
                await asyncio.sleep(0)
            released.append(offset)
        raise AssertionError("unreachable")

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        page = await first(op)
        async with contextlib.aclosing(page.iterate(concurrency=3)) as it:
            async for x in it:
                assert x["id"] == 1
                for _ in range(10):  # the next pages' requests reach the server
                    await asyncio.sleep(0)
                break
        assert sorted(released) == [2, 3, 4]
