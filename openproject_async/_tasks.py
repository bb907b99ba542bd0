"""Running coroutines together (asyncio only, nothing of the package)."""

from __future__ import annotations

import asyncio
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
