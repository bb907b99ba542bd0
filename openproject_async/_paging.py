"""Paging arithmetic and progress reports of collection reads (no I/O)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


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
