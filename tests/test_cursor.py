"""Cursor-paged collections (``nextByCursor``, no ``jumpTo``): read by their links only."""

from __future__ import annotations

from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from openproject_async import Collection, OpenProject
from openproject_async.errors import ProtocolError

BASE = "https://op.example.com"
HAL = "application/hal+json"
NOTES = "/api/v3/notifications"


def cursor_page(ids: list[int], *, after: str | None, total: int | None = None) -> dict[str, Any]:
    """A page of a cursor collection: no offset, no jumpTo; ``after`` is the next cursor."""
    links: dict[str, Any] = {"self": {"href": f"{NOTES}?cursor={ids[0] if ids else 'end'}"}}
    if after is not None:
        links["nextByCursor"] = {"href": f"{NOTES}?cursor={after}"}
    doc: dict[str, Any] = {
        "_type": "Collection",
        "count": len(ids),
        "_embedded": {"elements": [{"_type": "Notification", "id": i} for i in ids]},
        "_links": links,
    }
    if total is not None:
        doc["total"] = total
    return doc


def serve_pages(m: aioresponses) -> None:
    m.get(f"{BASE}{NOTES}", payload=cursor_page([1, 2], after="c2", total=5), content_type=HAL)
    m.get(f"{BASE}{NOTES}?cursor=c2", payload=cursor_page([3, 4], after="c4"), content_type=HAL)
    m.get(f"{BASE}{NOTES}?cursor=c4", payload=cursor_page([5], after=None), content_type=HAL)


def requested(m: aioresponses) -> list[str]:
    return [str(url.relative()) for (method, url) in m.requests if method == "GET"]


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_cursor_pages_are_followed_in_order_once_each(
    mocked: aioresponses, op: OpenProject, concurrency: int
) -> None:
    serve_pages(mocked)
    first = await op.get(NOTES)
    assert isinstance(first, Collection)
    ids = [n["id"] async for n in first.iterate(concurrency=concurrency)]
    assert ids == [1, 2, 3, 4, 5]
    # no jumpTo: concurrency cannot build page URLs, so the links are followed one by one
    assert requested(mocked) == [NOTES, f"{NOTES}?cursor=c2", f"{NOTES}?cursor=c4"]
    assert all(len(calls) == 1 for calls in mocked.requests.values())


async def test_a_cursor_that_leads_back_is_a_protocol_error(
    mocked: aioresponses, op: OpenProject
) -> None:
    mocked.get(f"{BASE}{NOTES}", payload=cursor_page([1], after="c2"), content_type=HAL)
    looping = cursor_page([2], after="c2")
    looping["_links"]["self"] = {"href": f"{NOTES}?cursor=c2"}
    mocked.get(f"{BASE}{NOTES}?cursor=c2", payload=looping, content_type=HAL)
    first = await op.get(NOTES)
    assert isinstance(first, Collection)
    seen: list[int] = []

    async def read_all() -> None:
        async for n in first:
            seen.append(n["id"])

    with pytest.raises(ProtocolError, match="leads back to a page already read"):
        await read_all()
    assert seen == [1, 2]
    assert len(mocked.requests[("GET", URL(f"{BASE}{NOTES}?cursor=c2"))]) == 1
