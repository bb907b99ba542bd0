"""``_tasks``: running coroutines together, and the session's limit on requests in flight."""

from __future__ import annotations

import asyncio

import pytest

from openproject_async._tasks import Limit, gather_ordered


async def test_gather_ordered_returns_results_in_order() -> None:
    async def after(delay: float, value: int) -> int:
        await asyncio.sleep(delay)
        return value

    assert await gather_ordered([after(0.02, 1), after(0.0, 2), after(0.01, 3)]) == [1, 2, 3]


async def test_gather_ordered_cancels_and_awaits_the_others_before_raising() -> None:
    cleaned: list[str] = []

    async def slow(name: str) -> int:
        try:
            await asyncio.sleep(30)
            return 0
        finally:
            for _ in range(5):  # cleanup that takes a few turns of the loop
                await asyncio.sleep(0)
            cleaned.append(name)

    async def fails() -> int:
        await asyncio.sleep(0)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await gather_ordered([slow("a"), fails(), slow("b")])
    assert sorted(cleaned) == ["a", "b"]  # both finished their cleanup before the raise


async def test_a_waiter_cancelled_before_its_turn_leaves_no_trace() -> None:
    limit = Limit(1)
    assert limit.take() is True
    assert limit.take() is False
    waiter = asyncio.ensure_future(limit.wait())
    await asyncio.sleep(0)
    assert len(limit._waiters) == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (limit.used, len(limit._waiters)) == (1, 0)  # the holder's place only
    limit.release()
    assert limit.used == 0
    assert limit.take() is True


async def test_a_waiter_granted_then_cancelled_gives_its_place_back() -> None:
    limit = Limit(1)
    assert limit.take() is True
    waiter = asyncio.ensure_future(limit.wait())
    await asyncio.sleep(0)
    limit.release()  # the place goes to the waiter at once
    assert (limit.used, len(limit._waiters)) == (1, 0)
    waiter.cancel()  # before it ran: granted, then cancelled
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.used == 0
    assert limit.take() is True


async def test_waiters_are_served_first_come_first_served_and_widen_wakes_them() -> None:
    limit = Limit(1)
    order: list[str] = []
    assert limit.take()

    async def user(name: str) -> None:
        async with limit:
            order.append(name)
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(user(n)) for n in "abc"]
    await asyncio.sleep(0)
    assert limit.take() is False  # others wait: no overtaking
    limit.widen(2)  # two more places: a and b run at once
    await asyncio.sleep(0)
    assert order == ["a", "b"]
    limit.release()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]
    assert limit.used == 0
    limit.widen(-2)
    assert limit.capacity == 1
