"""Running coroutines together, and a limit on them (asyncio only, nothing of the package)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_ordered(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Await coroutines concurrently, results in order; on failure cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Limit:
    """At most ``capacity`` holders at once (``async with limit:``), first come first served.

    Unlike ``asyncio.Semaphore`` the capacity can change while it is in use
    (:meth:`widen`): a reader asking for more pages in flight than the session's
    ``max_concurrency`` widens it for as long as it reads.
    """

    __slots__ = ("_waiters", "capacity", "used")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take a place if one is free and nobody waits (True), else False: :meth:`wait`."""
        if self.used < self.capacity and not self._waiters:
            self.used += 1
            return True
        return False

    async def __aenter__(self) -> None:
        if not self.take():
            await self.wait()

    async def wait(self) -> None:
        """Wait for a place, first come first served (after :meth:`take` said no)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: give it back
                self.release()
            else:
                self._waiters.remove(fut)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Give a place back (the first waiter gets it)."""
        self.used -= 1
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.used < self.capacity:
            fut = waiters.popleft()
            if not fut.done():
                self.used += 1
                fut.set_result(None)

    def widen(self, extra: int) -> None:
        """Add ``extra`` places (negative: take them back once their holders leave)."""
        self.capacity += extra
        self._wake()
