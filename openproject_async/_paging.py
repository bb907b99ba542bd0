"""How far a walk over collection pages may go (no I/O): as far as the server said.

A walk that follows ``nextByOffset`` trusts the server to end it. :class:`PageBound`
stops one that does not: page numbers (``offset``) must go up, and the elements read must
not go far beyond the largest ``total`` the pages announced (twice it plus one page: room
for a collection that grows while it is read). :func:`check_readable` refuses to iterate
a count-only answer (``pageSize=0``), which would otherwise end silently with nothing.
"""

from __future__ import annotations

from yarl import URL

from .errors import ProtocolError


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
