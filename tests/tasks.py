"""Finding tasks the library left running (cancellation and leak checks)."""

from __future__ import annotations

import asyncio
from typing import Any


def library_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running library code (in-flight shared GETs, page fetches)."""
    found = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "ag_code", None)
        if code is not None and "openproject_async" in code.co_filename and not task.done():
            found.append(task)
    return found
