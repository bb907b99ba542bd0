"""``Collection``: one page of a HAL collection, and every page after it as an async iterator.

Reading
-------
``async for x in collection`` (or ``iterate()``) follows ``nextByOffset`` (or
``nextByCursor``) page after page and stops when a page has no such link. It never asks
for a page twice nor past the end, and holds one page at a time: memory does not grow
with the size of the collection.

``iterate(concurrency=n)`` / ``pages(concurrency=n)`` read ``total`` and ``pageSize`` from
this page *as the server answered them* (it caps page sizes at its maximum), build the
URLs of the following pages from the templated ``jumpTo`` link and keep up to ``n`` page
requests in flight, yielding in page order. Pages fetched but not yet consumed count
against ``n``: a slow consumer slows the reading down instead of piling pages up. The
session's ``max_concurrency`` still caps the requests of the whole session. Without a
usable ``jumpTo`` (cursor collections, ``select=`` without it) reading is sequential.

Leaving the loop early (``break``) cancels the page requests in flight when the iterator
is closed: at once with ``async with contextlib.aclosing(wps.iterate(...)) as it``,
otherwise when Python finalizes it (right after the loop in CPython).

Collections that change while they are read
-------------------------------------------
Offset pagination is positional. When work packages are created or deleted during a read:

* the iteration always ends, without error: it stops at the first empty page, and with
  ``concurrency`` it follows the ``total`` of each page it receives (more pages when the
  collection grew, none past a shrunken end beyond the ones already in flight);
* an element deleted before the read position shifts the later ones back: as many
  elements as were deleted move onto pages already read and are **not** yielded;
* an element inserted before the read position shifts the later ones forward: the
  elements pushed over a page boundary would come a second time; ``iterate()`` drops an
  element whose ``_type`` and ``id`` (or self href) it yielded on the previous page, so
  nothing is yielded twice as long as fewer than a page of elements were inserted
  between two page reads (``pages()`` gives the pages exactly as the server sent them);
* elements created after the read position (e.g. new work packages when sorted by id
  ascending, the default) are read; ones deleted before being reached are not.

For a complete, stable snapshot sort by ``id`` ascending and filter the ids/dates so that
the set cannot change (``updatedAt`` before the start of the read, for instance).

``select=``
-----------
With ``select=`` the server renders only what is selected, the collection's own links
and ``total`` included. To read more than one page keep ``total,pageSize,offset`` and the
``self,jumpTo,nextByOffset`` links in the selection, e.g.
``select="total,count,pageSize,offset,self,jumpTo,nextByOffset,elements/id,elements/subject"``.
A first page that was trimmed that way and says there is more raises :class:`LinkError`
instead of silently ending after one page.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ._links import Link
from ._paging import (
    PageBound,
    Progress,
    ProgressCallback,
    Tracker,
    as_int,
    asked_for_count,
    bad_element,
    check_not_trimmed,
    check_options,
    check_readable,
    pages_for,
    resize_start,
    self_href,
)
from ._registry import register_kind
from ._resource import Resource, wrap
from .errors import LinkError, ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject
    from ._session import Timeout


_NEXT_RELS = ("nextByOffset", "nextByCursor", "next")


class Collection(Resource):
    """A page of a collection: ``total``, ``count``, ``page_size``, ``offset``, ``elements``.

    ``async for x in collection`` walks every element of every page from this one on;
    ``iterate(concurrency=n)``, ``pages(concurrency=n)`` and ``to_list(concurrency=n)``
    read ``n`` pages at once (see the module documentation for the details, what happens
    when the collection changes during a read, and ``select=``).
    """

    __slots__ = ("_call", "_elements")

    def __init__(self, op: OpenProject, data: dict[str, Any]) -> None:
        super().__init__(op, data)
        raw = self.embedded.get("elements")
        if not isinstance(raw, list):
            raise ProtocolError(
                f"collection _embedded.elements must be a list, got {type(raw).__name__}"
            )
        self._elements: list[Resource] | None = None
        self._call: tuple[Timeout, bool | None] = (None, None)  # timeout=, retry= of a read

    @property
    def total(self) -> int | None:
        """All elements matching the query (every page), as this page says."""
        return as_int(self._data.get("total"))

    @property
    def count(self) -> int:
        """Elements on this page (the server's ``count``; the elements present without it)."""
        value = as_int(self._data.get("count"))
        return value if value is not None else len(self._raw_elements())

    @property
    def page_size(self) -> int | None:
        """The page size the server used (it caps what was asked at its maximum)."""
        return as_int(self._data.get("pageSize"))

    @property
    def offset(self) -> int | None:
        """This page's number, 1-based (OpenProject's ``offset`` is a page number)."""
        return as_int(self._data.get("offset"))

    @property
    def elements(self) -> list[Resource]:
        """This page's elements, wrapped on first access (no copy of the documents)."""
        if self._elements is None:
            op = self._op
            raw = self._raw_elements()
            try:
                self._elements = [wrap(op, d) for d in raw]
            except ProtocolError:
                bad = next(i for i, d in enumerate(raw) if not isinstance(d, dict))
                raise bad_element(bad, raw[bad]) from None
        return self._elements

    def __len__(self) -> int:
        # the elements actually on this page: the server's ``count`` may say anything
        # (len() must be >= 0, and list() preallocates from it)
        return len(self._raw_elements())

    def _raw_elements(self) -> list[Any]:
        elements: list[Any] = self._data["_embedded"]["elements"]
        return elements

    def _next_link(self) -> Link | None:
        links = self.links
        for rel in _NEXT_RELS:
            link = links.get(rel)
            if isinstance(link, Link) and link.href:
                return link
        return None

    # -- iteration -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Resource]:
        return self.iterate()

    def iterate(
        self,
        *,
        concurrency: int = 1,
        progress: ProgressCallback | None = None,
        page_size: int | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
    ) -> AsyncGenerator[Resource, None]:
        """Every element from this page on, in order, page after page.

        ``concurrency``: pages in flight at once (1 = follow ``nextByOffset``); more than
        the session's ``max_concurrency`` widens its limit while the iteration runs. An
        element already yielded from the previous page is not yielded again (see the
        module documentation). ``progress`` is called after the last element of each page.
        ``page_size``: read the rest with pages of that size (the server caps it at its
        maximum) through this page's ``changeSize`` link, e.g. ``page_size=1000`` on a
        collection opened with the default 20 per page. ``timeout=``/``retry=`` apply to
        each page request of this read.
        """
        reader = self._reader(concurrency, progress, page_size, timeout, retry)
        return reader._iterate(concurrency, progress, page_size)

    def pages(
        self,
        *,
        concurrency: int = 1,
        progress: ProgressCallback | None = None,
        page_size: int | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
    ) -> AsyncGenerator[Collection, None]:
        """This page and every following one, in order, as Collections.

        This page comes first even when it is not page 1; the pages after it follow.
        ``progress`` is called as each page is handed out. With ``page_size`` (see
        :meth:`iterate`) the pages come at that size instead, starting with the one that
        holds this page's first element (it may begin with elements before it).
        """
        reader = self._reader(concurrency, progress, page_size, timeout, retry)
        return reader._pages(concurrency, progress, page_size)

    async def to_list(
        self,
        *,
        concurrency: int = 1,
        progress: ProgressCallback | None = None,
        page_size: int | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
    ) -> list[Resource]:
        """All elements of all pages from this one on, in a list (see :meth:`iterate`)."""
        reader = self._reader(concurrency, progress, page_size, timeout, retry)
        return [e async for e in reader._iterate(concurrency, progress, page_size)]

    def _reader(
        self,
        concurrency: int,
        progress: ProgressCallback | None,
        page_size: int | None,
        timeout: Timeout,
        retry: bool | None,
    ) -> Collection:
        """Check a read's options; this page, or a copy whose page requests use
        ``timeout``/``retry``."""
        check_options(concurrency, progress, page_size)
        check_readable(self.page_size, self.total, asked=asked_for_count(self.href))
        if timeout is None and retry is None:
            return self
        reader = Collection(self._op, self._data)
        reader._elements, reader._call = self._elements, (timeout, retry)
        return reader

    async def _pages(
        self, concurrency: int, progress: ProgressCallback | None, page_size: int | None
    ) -> AsyncGenerator[Collection, None]:
        start, _skip = await self._resized(page_size)
        tracker = Tracker(start.offset, progress)
        walk = start._walk(concurrency)
        try:
            async for page in walk:
                tracker.report(page.total, page.page_size, len(page._raw_elements()))
                yield page
                del page  # not held while the next page downloads
        finally:
            await walk.aclose()

    async def _iterate(
        self, concurrency: int, progress: ProgressCallback | None, page_size: int | None
    ) -> AsyncGenerator[Resource, None]:
        op = self._op
        start, skip = await self._resized(page_size)
        tracker = Tracker(start.offset, progress)
        walk = start._walk(concurrency)
        del start
        # ids yielded by _type, per page: sets of ints/strs, which the collector never
        # tracks (a (type, id) tuple per element would be scanned until the page ends)
        previous: dict[Any, set[Any]] = {}
        try:
            async for page in walk:
                raw = page._raw_elements()
                wrapped = page._elements  # already wrapped (this page's .elements was used)
                total, size = page.total, page.page_size
                del page  # hold the element list only, not the page
                current: dict[Any, set[Any]] = {}
                yielded = 0
                for i, doc in enumerate(raw):
                    if skip:  # (a resized first page: elements before the reading started)
                        skip -= 1
                        continue
                    if not isinstance(doc, dict):
                        raise bad_element(i, doc)
                    # the same element on the previous page (shifted by an insert): skip it
                    key = doc.get("id")
                    if key is None:
                        key = self_href(doc)
                    kind = doc.get("_type")
                    if (type(key) is int or type(key) is str) and (
                        kind is None or type(kind) is str
                    ):
                        seen = current.get(kind)
                        if seen is None:
                            seen = current[kind] = set()
                        elif key in seen:
                            continue
                        if key in previous.get(kind, ()):
                            continue
                        seen.add(key)
                    yielded += 1
                    yield wrapped[i] if wrapped is not None else wrap(op, doc)
                previous = current
                del raw, wrapped  # before the next page is awaited
                tracker.report(total, size, yielded)
        finally:
            await walk.aclose()

    # -- the walk over pages (no progress, no dedupe) ------------------------------------

    async def _walk(self, concurrency: int) -> AsyncGenerator[Collection, None]:
        """This page, then the following ones in order; ends at the first empty page."""
        plan = self._plan() if concurrency > 1 else None
        if plan is None:
            self._check_can_continue()
            yield self
            if self._raw_elements():
                async for page in self._follow(self):
                    yield page
                    del page  # not held while the next page downloads
            return
        jump, size, number = plan
        total = self.total
        assert total is not None  # (the plan needs it)
        last = pages_for(total, size)
        window: deque[tuple[int, asyncio.Task[Collection]]] = deque()
        following = number + 1

        def fill() -> None:
            nonlocal following
            while len(window) < concurrency and following <= last:
                task = asyncio.ensure_future(self._jump(jump, following, size))
                window.append((following, task))
                following += 1

        widened = self._op._widened(concurrency)
        widened.__enter__()
        try:
            fill()  # the next pages are on their way while this one is consumed
            yield self
            if not self._raw_elements():
                return
            while window:
                _, task = window.popleft()
                page = await task
                if not page._raw_elements():
                    return  # the collection shrank: nothing after this page either
                total = page.total
                if total is not None:  # follow the collection as it grows or shrinks
                    last = pages_for(total, size)
                fill()
                yield page
                del page
        finally:
            pending = [task for _, task in window]
            window.clear()
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            widened.__exit__(None, None, None)

    async def _resized(self, page_size: int | None) -> tuple[Collection, int]:
        """The page of ``page_size`` elements holding this page's first element, and how
        many of its elements come before that one; (self, 0) when resizing cannot help
        (no ``page_size``, not larger than this page's, one page holds everything, no
        ``changeSize`` link)."""
        link = self.links.get("changeSize")
        first = resize_start(page_size, self.page_size, self.offset, self.total)
        if first is None or not isinstance(link, Link) or link.variables != ["size"]:
            return self, 0
        page = await self._fetch(link.expand(size=page_size), f"changeSize size={page_size}")
        new = page.page_size
        if new is None or new < 1:
            raise ProtocolError("changeSize answered a page without pageSize", url=page.href)
        wanted = first // new + 1
        if page.offset != wanted:
            jump = page.links.get("jumpTo")
            if not isinstance(jump, Link) or not jump.href or jump.variables != ["offset"]:
                raise LinkError(f"the resized page has no jumpTo link to reach page {wanted}")
            page = await page._jump(jump, wanted, new)
        return page, first - (wanted - 1) * new

    def _plan(self) -> tuple[Link, int, int] | None:
        """(jumpTo link, page size, this page's number) when concurrent reading works."""
        jump = self.links.get("jumpTo")
        size, number = self.page_size, self.offset
        if (
            not isinstance(jump, Link)
            or not jump.href
            or self.total is None
            or size is None
            or size < 1
            or number is None
            or number < 1
        ):
            return None
        if jump.variables != ["offset"]:  # OpenProject's jumpTo has just %7Boffset%7D
            return None
        return jump, size, number

    def _check_can_continue(self) -> None:
        """A page trimmed by ``select=`` that says there is more but links nowhere."""
        if self._next_link() is None and "self" not in self.links:
            check_not_trimmed(len(self._raw_elements()), self.total, self.offset, self.page_size)

    async def _follow(self, page: Collection) -> AsyncGenerator[Collection, None]:
        """The pages after ``page`` by their next links (one request per page, never twice)."""
        visited = {page.href}
        bound = PageBound(page.offset, page.total, len(page._raw_elements()))
        link = page._next_link()
        del page  # only its link and counts are needed while the next page is fetched
        while link is not None:
            href = link.href or ""
            if href in visited:
                raise ProtocolError(f"{link.rel} {href!r} leads back to a page already read")
            visited.add(href)
            nxt = await self._fetch(href, link.rel)
            if not nxt._raw_elements():
                return
            bound.check(nxt.offset, nxt.total, len(nxt._raw_elements()), nxt.href)
            link = nxt._next_link()
            yield nxt
            del nxt

    async def _jump(self, jump: Link, number: int, size: int) -> Collection:
        page = await self._fetch(jump.expand(offset=number), f"jumpTo offset={number}")
        if page.offset is not None and page.offset != number:
            raise ProtocolError(
                f"jumpTo with offset={number} answered page {page.offset}", url=page.href
            )
        if page.page_size is not None and page.page_size != size:
            raise ProtocolError(
                f"page {number} has pageSize {page.page_size}, page {self.offset} had {size}: "
                "the pages do not line up (was the server's maximum page size changed?)",
                url=page.href,
            )
        return page

    async def _fetch(self, href: str, what: str) -> Collection:
        page = await self._op.get(href, timeout=self._call[0], retry=self._call[1])
        if not isinstance(page, Collection):
            raise ProtocolError(f"{what} did not lead to a collection page", url=href)
        page._call = self._call  # the read's options go on with its pages
        return page


__all__ = ["Collection", "Progress", "ProgressCallback"]


def _is_collection(doc: Mapping[str, Any]) -> bool:
    """Anything with ``_embedded.elements`` is read as a collection."""
    embedded = doc.get("_embedded")
    return isinstance(embedded, dict) and "elements" in embedded


register_kind(Collection, shape=_is_collection)
