"""Identical GETs in flight at the same moment share one request; schemas come from a cache.

The first caller of a GET sends it itself (no task, no shield: a GET without a duplicate
costs what a request costs); identical GETs arriving while it is in flight wait for its
answer (or its error). When the first caller is cancelled its waiters ask again: one of
them sends the request. :meth:`SharedGets.close` (the session closing) cancels the
first callers, which then raise :class:`SessionClosed`, like their waiters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from yarl import URL

from . import _sansio
from ._policy import ApiRequest, safe_url
from .errors import SessionClosed


class _Inflight:
    """One GET in flight, run by its first caller; later identical callers wait on it.

    ``future`` is made when the first waiter arrives (a GET without duplicates never
    makes one). ``owner`` is the first caller's task (:meth:`Session.close` cancels it).
    """

    __slots__ = ("closing", "future", "owner")

    def __init__(self, owner: asyncio.Task[Any] | None) -> None:
        self.owner = owner
        self.future: asyncio.Future[Any] | None = None
        self.closing = False


#: What waiters of a shared GET get when its first caller was cancelled: ask again.
_AGAIN = object()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" noise


class SharedGets:
    """The GETs in flight of one session, by URL, and its schema cache."""

    __slots__ = ("_check_open", "_inflight", "_schemas", "_send", "_stats")

    def __init__(
        self,
        send: Callable[[ApiRequest], Awaitable[_sansio.Answer]],
        schemas: dict[URL, _sansio.Document],
        stats: dict[str, int],
        check_open: Callable[[], object],
    ) -> None:
        self._send = send
        self._schemas = schemas
        self._stats = stats
        self._check_open = check_open
        self._inflight: dict[URL, _Inflight] = {}

    def close(self) -> None:
        """Cancel the first callers of the GETs in flight (they raise SessionClosed)."""
        entries = list(self._inflight.values())
        self._inflight.clear()
        for entry in entries:
            if entry.owner is not None and not entry.owner.done():
                entry.closing = True
                entry.owner.cancel()

    async def get(
        self, url: URL, loop: asyncio.AbstractEventLoop | None = None
    ) -> _sansio.Answer:
        """A plain GET: from the schema cache, else shared with an identical GET in flight.

        The first caller sends the request itself (no task, no shield: a GET without a
        duplicate costs what a request costs); identical GETs arriving meanwhile wait for
        its answer. When the first caller is cancelled its waiters ask again (one of them
        then sends the request).
        """
        # (``loop``: the running loop, when the caller knows it: no second lookup)
        key = url
        if key in self._schemas or key in self._inflight:
            return await self._join(key, url)
        entry = self._inflight[key] = _Inflight(asyncio.current_task(loop))
        try:
            doc = await self._send(ApiRequest("GET", url))
        except BaseException as exc:
            if self._inflight.get(key) is entry:
                del self._inflight[key]
            fut = entry.future
            cancelled = isinstance(exc, asyncio.CancelledError)
            if fut is not None and not fut.done():
                if cancelled:
                    fut.set_result(_AGAIN)  # not the waiters' cancellation: they ask again
                else:
                    fut.set_exception(exc)
            current = entry.owner
            if cancelled and entry.closing and current is not None and current.uncancel() == 0:
                # the session's cancellation (close()), not the caller's: consumed
                raise self._closed_error(url) from None
            raise
        if self._inflight.get(key) is entry:
            del self._inflight[key]
        if isinstance(doc, dict) and doc.get("_type") == "Schema":
            self._schemas[key] = doc
        if entry.future is not None and not entry.future.done():
            entry.future.set_result(doc)
        return doc

    async def _join(self, key: URL, url: URL) -> _sansio.Answer:
        """The cached schema, or the answer of the identical GET in flight (or a new one)."""
        while True:
            cached = self._schemas.get(key)
            if cached is not None:
                self._stats["cached"] += 1
                return cached
            entry = self._inflight.get(key)
            if entry is None:
                return await self.get(url)
            self._stats["merged"] += 1
            got = await self._wait_for(entry, url)
            if got is not _AGAIN:
                return got  # type: ignore[no-any-return]
            self._check_open()

    async def _wait_for(self, entry: _Inflight, url: URL) -> Any:
        fut = entry.future
        if fut is None:
            fut = entry.future = asyncio.get_running_loop().create_future()
            fut.add_done_callback(_retrieve)
        got = await asyncio.shield(fut)
        if got is _AGAIN and entry.closing:
            raise self._closed_error(url)
        return got

    def _closed_error(self, url: URL) -> SessionClosed:
        return SessionClosed(
            f"GET {safe_url(url)}: the OpenProject session was closed while "
            "the request was in flight"
        )
