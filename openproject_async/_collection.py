"""``Collection``: one page of a HAL collection, and every page after it as an async iterator.

Sequential iteration follows ``nextByOffset`` (or ``nextByCursor``) and never asks for a
page twice or past the end. Concurrent iteration reads ``total`` and ``pageSize`` from
the first page *as the server answered them* (it caps page sizes), builds the other
page URLs from the templated ``jumpTo`` link and keeps ``concurrency`` of them in flight,
yielding in page order.

When the collection changes while it is read (offset pagination), elements shift between
pages: an element may be missed when others before it are deleted. The iterators never
yield the same element twice for shifts of up to one page (ids of the previous page are
remembered), and they end cleanly when pages come back shorter or empty, or follow
``nextByOffset`` when the last planned page says there is more.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ._links import Link
from ._resource import Resource
from .errors import ProtocolError


@dataclass(frozen=True)
class Progress:
    """What a ``progress=`` callback receives after each page."""

    pages_done: int
    pages_total: int | None
    elements_done: int
    total: int | None


ProgressCallback = Callable[[Progress], None]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Collection(Resource):
    """A page of a collection: ``total``, ``count``, ``page_size``, ``offset``, ``elements``.

    ``async for x in collection`` walks every element of every page from this one on.
    """

    __slots__ = ("_elements",)

    def __init__(self, op: Any, data: dict[str, Any]) -> None:
        super().__init__(op, data)
        raw = self.embedded.get("elements")
        if not isinstance(raw, list):
            raise ProtocolError(
                f"collection _embedded.elements must be a list, got {type(raw).__name__}"
            )
        self._elements: list[Resource] | None = None

    @property
    def total(self) -> int | None:
        return _int(self._data.get("total"))

    @property
    def count(self) -> int:
        value = _int(self._data.get("count"))
        return value if value is not None else len(self.embedded["elements"])

    @property
    def page_size(self) -> int | None:
        return _int(self._data.get("pageSize"))

    @property
    def offset(self) -> int | None:
        return _int(self._data.get("offset"))

    @property
    def elements(self) -> list[Resource]:
        """This page's elements, wrapped on first access (no copy of the documents)."""
        if self._elements is None:
            wrap = self._op.wrap
            raw = self.embedded["elements"]
            try:
                self._elements = [wrap(d) for d in raw]
            except ProtocolError:
                bad = next(i for i, d in enumerate(raw) if not isinstance(d, dict))
                raise ProtocolError(
                    f"collection element {bad} is {type(raw[bad]).__name__}, "
                    "expected a HAL object"
                ) from None
        return self._elements

    def __len__(self) -> int:
        # the elements actually on this page: the server's ``count`` may say anything
        # (len() must be >= 0, and list() preallocates from it)
        return len(self.embedded["elements"])

    def _next_link(self) -> Link | None:
        for rel in ("nextByOffset", "nextByCursor", "next"):
            link = self.links.get(rel)
            if isinstance(link, Link) and link.href:
                return link
        return None

    # -- iteration -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Resource]:
        return self.iterate()

    async def iterate(
        self, *, concurrency: int = 1, progress: ProgressCallback | None = None
    ) -> AsyncIterator[Resource]:
        """Every element from this page on, page after page (``concurrency`` pages in flight)."""
        previous: set[Any] = set()
        async for page in self.pages(concurrency=concurrency, progress=progress):
            current: set[Any] = set()
            for element in page.elements:
                key = element._data.get("id")
                if key is None:  # (not .get("id", element.href): that parses every link)
                    key = element.href
                if isinstance(key, int | str):  # odd ids (lists, objects): no dedupe
                    if key in previous or key in current:
                        continue
                    current.add(key)
                yield element
            previous = current

    async def to_list(
        self, *, concurrency: int = 1, progress: ProgressCallback | None = None
    ) -> list[Resource]:
        """All elements of all pages in a list."""
        return [e async for e in self.iterate(concurrency=concurrency, progress=progress)]

    async def pages(
        self, *, concurrency: int = 1, progress: ProgressCallback | None = None
    ) -> AsyncIterator[Collection]:
        """This page and every following one, in order, as Collections."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        plan = self._page_plan() if concurrency > 1 else None
        done = 0
        elements = 0
        pages_total = plan[1] if plan else self._pages_total()

        def report(page: Collection) -> None:
            nonlocal done, elements
            done += 1
            elements += page.count
            if progress is not None:
                progress(Progress(done, pages_total, elements, page.total))

        page: Collection = self
        report(page)
        yield page
        if plan is not None:
            jump, last = plan
            start = (self.offset or 1) + 1
            async for fetched in self._fetch_window(jump, range(start, last + 1), concurrency):
                page = fetched
                report(page)
                yield page
                if page.count == 0:
                    return  # the collection shrank: the pages after this one are empty too
        visited = {page.href, self.href}
        while (link := page._next_link()) is not None:
            if link.href in visited:
                raise ProtocolError(f"{link.rel} {link.href!r} leads back to a page already read")
            visited.add(link.href)
            nxt = await self._op.get(link.href or "")
            if not isinstance(nxt, Collection):
                raise ProtocolError(f"{link.rel} did not lead to a collection page")
            page = nxt
            report(page)
            yield page
            if page.count == 0:
                return

    def _pages_total(self) -> int | None:
        total, size = self.total, self.page_size
        if total is None or not size:
            return None
        return max(math.ceil(total / size), 1)

    def _page_plan(self) -> tuple[Link, int] | None:
        """(jumpTo link, last page number) when concurrent paging is possible."""
        jump = self.links.get("jumpTo")
        last = self._pages_total()
        if not isinstance(jump, Link) or not jump.href or last is None:
            return None
        if jump.variables != ["offset"]:  # OpenProject's jumpTo has just %7Boffset%7D
            return None
        return jump, last

    async def _fetch_window(
        self, jump: Link, numbers: range, concurrency: int
    ) -> AsyncIterator[Collection]:
        """Fetch pages ``numbers`` with up to ``concurrency`` requests, yield them in order."""

        async def fetch(n: int) -> Collection:
            page = await self._op.get(jump.expand(offset=n))
            if not isinstance(page, Collection):
                raise ProtocolError(f"jumpTo offset={n} did not lead to a collection page")
            return page

        pending: list[asyncio.Task[Collection]] = []
        todo = iter(numbers)
        try:
            for n in todo:
                pending.append(asyncio.ensure_future(fetch(n)))
                if len(pending) >= concurrency:
                    break
            while pending:
                page = await pending.pop(0)
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(asyncio.ensure_future(fetch(nxt)))
                yield page
                if page.count == 0:
                    return
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
