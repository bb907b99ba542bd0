"""Collection paging without I/O: arithmetic, progress reports, and how far a walk may go.

A walk that follows ``nextByOffset`` trusts the server to end it. :class:`PageBound`
stops one that does not: page numbers (``offset``) must go up, and the elements read must
not go far beyond the largest ``total`` the pages announced (twice it plus one page: room
for a collection that grows while it is read). :func:`check_readable` refuses to iterate
a count-only answer (``pageSize=0``), which would otherwise end silently with nothing.
:class:`Tracker` reports :class:`Progress`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yarl import URL

from .errors import LinkError, ProtocolError


@dataclass(frozen=True)
class Progress:
    """What a ``progress=`` callback receives after each page.

    ``pages_done`` / ``elements_done`` count what this iterator delivered so far (for
    ``iterate()``: elements yielded, after the last one of the page was consumed; for
    ``pages()``: pages handed out and the elements on them). ``pages_total`` is the number
    of pages the iteration expects from the latest ``total`` (None when unknown: cursor
    collections, ``select=`` without ``total``); ``total`` is the latest page's ``total``.
    Both may change during a read when the collection changes.
    """

    pages_done: int
    pages_total: int | None
    elements_done: int
    total: int | None


ProgressCallback = Callable[[Progress], object]


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_options(concurrency: Any, progress: Any, page_size: Any = None) -> None:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if page_size is not None and (
        not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1
    ):
        raise ValueError(f"page_size must be an int >= 1 or None, got {page_size!r}")
    if progress is not None and not callable(progress):
        raise TypeError(
            "progress must be a callable taking a Progress (or None), "
            f"got {type(progress).__name__}"
        )


def pages_for(total: int, size: int) -> int:
    """Pages that hold ``total`` elements at ``size`` per page (a count-only page is 1)."""
    return max(math.ceil(total / size), 1)


class Tracker:
    """Counts what an iterator delivered and reports it to the ``progress`` callback."""

    __slots__ = ("callback", "elements", "first", "last", "pages", "total")

    def __init__(self, first_offset: int | None, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.pages = 0
        self.elements = 0
        self.first = first_offset if first_offset is not None else 1
        self.total: int | None = None
        self.last: int | None = None

    def report(self, total: int | None, size: int | None, elements: int) -> None:
        self.pages += 1
        self.elements += elements
        if self.callback is None:
            return
        if total is not None:
            self.total = total
            if size:
                self.last = pages_for(total, size)
        expected = None
        if self.last is not None:
            expected = max(self.last - self.first + 1, self.pages)
        self.callback(Progress(self.pages, expected, self.elements, self.total))


def asked_for_count(href: str | None) -> bool:
    """Did the request (the page's self href) ask for a page size below 1 (a count)?"""
    try:
        return int(URL(href or "").query.get("pageSize", "")) < 1
    except ValueError:
        return False


def check_readable(size: int | None, total: int | None, *, asked: bool = True) -> None:
    """ValueError when a page size below 1 means the elements cannot be read page by page.

    ``asked``: the request asked for that page size (its ``pageSize`` query); a server that
    answers a count unasked sent a broken page: ProtocolError.
    """
    if size is not None and size < 1 and total is not None and total > 0:
        count = f"{total} elements"
        if not asked:
            raise ProtocolError(
                f"the server answered pageSize={size} with {count} to a request that did not "
                "ask for a count: no pages to iterate"
            )
        raise ValueError(
            f"this collection was asked for with pageSize={size}: the server answers a count "
            f"({count}) and no pages to iterate; ask with pageSize >= 1 to read the elements"
        )


class PageBound:
    """The progress of one walk; :meth:`check` raises ProtocolError for a runaway one."""

    __slots__ = ("largest", "offset", "read", "total")

    def __init__(self, offset: int | None, total: int | None, elements: int) -> None:
        self.offset = offset
        self.total = total
        self.read = elements
        self.largest = elements

    def check(self, offset: int | None, total: int | None, elements: int, url: str | None) -> None:
        """Take the next page into account; raise when the walk does not end as announced."""
        if offset is not None and self.offset is not None and offset <= self.offset:
            raise ProtocolError(
                f"page {offset} came after page {self.offset}: the pages do not advance",
                url=url,
            )
        self.offset = offset if offset is not None else self.offset
        if total is not None:
            self.total = max(self.total or 0, total)
        self.read += elements
        self.largest = max(self.largest, elements)
        if self.total is not None and self.read > 2 * self.total + self.largest:
            raise ProtocolError(
                f"{self.read} elements read from a collection of {self.total}: the next "
                "links do not end where the server's total says (runaway pagination)",
                url=url,
            )


def self_href(doc: dict[str, Any]) -> Any:
    """A collection element's self href (None when it has none)."""
    links = doc.get("_links")
    if type(links) is dict:
        link = links.get("self")
        if type(link) is dict:
            return link.get("href")
    return None


def bad_element(index: int, value: Any) -> ProtocolError:
    """The error for a collection element that is not a HAL object."""
    return ProtocolError(
        f"collection element {index} is {type(value).__name__}, expected a HAL object"
    )


def check_not_trimmed(
    present: int, total: int | None, offset: int | None, size: int | None
) -> None:
    """LinkError for a page without next/self links that says there are more elements
    (``select=`` left the pagination links out): the read would end early, silently."""
    if total is None:
        return
    read = (offset - 1) * size + present if offset and size else present
    if read < total:
        raise LinkError(
            f"this page has {present} of {total} elements but no link to the next page "
            "(select= left the pagination links out); add "
            "'total,pageSize,offset,self,jumpTo,nextByOffset' to select"
        )


def resize_start(
    page_size: int | None, size: int | None, number: int | None, total: int | None
) -> int | None:
    """This page's first element (0-based) when reading on with pages of ``page_size``
    helps; None when it cannot (no ``page_size``, not larger, one page holds everything)."""
    if page_size is None or size is None or page_size <= size or number is None or number < 1:
        return None
    if total is not None and total <= number * size:
        return None
    return (number - 1) * size
