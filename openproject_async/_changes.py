"""Change feeds: every resource of a collection that changed since a point, as it changes.

``op.changes(href, since=...)`` polls the collection with its ``updatedAt`` filter
(``<>d`` from a second on, open-ended: inclusive) sorted by ``updatedAt`` then ``id``, and
yields each changed resource once, oldest change first::

    feed = op.changes("/api/v3/work_packages", since=stored_cursor_or_datetime)
    async for wp in feed:
        handle(wp)
        store(feed.cursor)            # resume exactly here: op.changes(href, since=cursor)

How nothing is lost or repeated:

* The server renders timestamps in whole seconds, so many resources share one and the
  filter's bound is a whole second too. The feed keeps, for the last ``overlap`` seconds
  before its newest timestamp, which resources it yielded and a digest of the documents
  it yielded; it asks from that window's start on and skips what it has already yielded
  unchanged. A resource changed again (within the same second or later) is yielded again,
  with its latest state; one changed twice between two polls once.
* It pages by key, not by position: after each page it asks again from the newest
  timestamp it saw, so a resource that changes while the feed reads (and moves to the end
  of the order) shifts nothing out of sight. Only when a full page shares one window
  does it step to the next page of the same query (starting over, deduplicated, when the
  ``total`` moved meanwhile).
* ``overlap`` (default 1 s) also covers a change whose transaction commits a moment after
  a newer one was read: it is yielded when it appears, after newer ones.
* The cursor (``feed.cursor``, an opaque string) holds the timestamp and that window:
  resuming from it yields nothing twice and misses nothing.

Reads go through the session like every GET (retries for transient failures). ``break``,
``await feed.aclose()`` and cancelling the task stop it cleanly. ``feed.poll()`` reads
once (every change so far) and ends: handy for cron jobs and tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import math
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ._collection import Collection
from ._resource import Resource
from .errors import ChangesUnsupported, InvalidQuery, ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject

_CURSOR_VERSION = 1
_MAX_RESTARTS = 3


def _iso(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _second(value: Any) -> int | None:
    """Whole seconds since the epoch of an ISO 8601 instant (naive = UTC), None if not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return math.floor(moment.timestamp())


def _digest(doc: Mapping[str, Any]) -> str:
    """What identifies a state of a resource: its own properties and where its links point.

    Link titles and embedded documents are left out: they show *other* resources (a
    parent's subject in ``_links.parent.title``) and change without this one changing.
    """
    state = {k: v for k, v in doc.items() if k not in ("_links", "_embedded")}
    links = doc.get("_links")
    if isinstance(links, Mapping):
        state["_links"] = {rel: _hrefs(value) for rel, value in links.items()}
    data = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _hrefs(value: Any) -> Any:
    if isinstance(value, list):
        return [_hrefs(v) for v in value]
    if isinstance(value, Mapping):
        return [value.get("href"), value.get("method")]
    return None


def _key(resource: Resource) -> str:
    ident = resource.get("id")
    if isinstance(ident, int | str) and not isinstance(ident, bool):
        return f"{resource.resource_type or ''}:{ident}"
    href = resource.href
    if href:
        return href
    raise ProtocolError(f"a changed {resource.resource_type or 'resource'} has no id nor self link")


class ChangeFeed:
    """Every resource of a collection changed since a point: ``async for r in feed``.

    See :meth:`OpenProject.changes` and the module documentation.
    """

    def __init__(
        self,
        op: OpenProject,
        href: str,
        *,
        since: str | dt.datetime | None = None,
        interval: float = 30.0,
        filters: Iterable[Mapping[str, Any]] | None = None,
        page_size: int = 100,
        overlap: float = 1.0,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(href, str) or not href:
            raise TypeError(f"href must be the collection's href, got {href!r}")
        for name, value in (("interval", interval), ("overlap", overlap)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be seconds >= 0, got {value!r}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"page_size must be an int >= 1, got {page_size!r}")
        if isinstance(filters, str | bytes | Mapping):
            raise TypeError("filters is a list of filter objects ([{name: {operator, values}}])")
        self._filters = [dict(f) for f in filters or []]
        for f in self._filters:
            if "updatedAt" in f:
                raise ValueError("the feed sets the updatedAt filter itself; use since=")
        extra = dict(params or {})
        for reserved in ("filters", "sortBy", "offset", "pageSize"):
            if reserved in extra:
                raise ValueError(f"{reserved} is set by the feed; give filters= or page_size=")
        self._op = op
        self.href = href
        self.interval = float(interval)
        self.page_size = page_size
        self._overlap = math.ceil(overlap)
        self._params = extra
        self._seen: dict[str, tuple[int, str]] = {}
        self._floor = 0
        self._newest = self._start(since)
        self._floor = self._floor or self._newest  # never ask for what came before since
        self._run_gen: AsyncGenerator[Resource, None] | None = None
        #: completed polls (rounds of reads until nothing new was left)
        self.polls = 0

    def _start(self, since: str | dt.datetime | None) -> int:
        if since is None:
            return math.floor(dt.datetime.now(dt.UTC).timestamp())
        if isinstance(since, dt.datetime):
            moment = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            return math.floor(moment.timestamp())
        if not isinstance(since, str):
            raise TypeError(f"since must be a cursor, a datetime or None, got {since!r}")
        second = _second(since)
        if second is not None:
            return second
        return self._restore(since)

    def _restore(self, cursor: str) -> int:
        try:
            padded = cursor.encode() + b"=" * (-len(cursor) % 4)
            raw = orjson.loads(base64.urlsafe_b64decode(padded))
            version, href = raw["v"], raw["h"]
            newest, floor = int(raw["t"]), int(raw["f"])
            seen = {str(k): (int(t), str(d)) for k, t, d in raw["s"]}
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise ValueError("since is not a cursor of a change feed (feed.cursor)") from None
        if version != _CURSOR_VERSION:
            raise ValueError(f"a change feed cursor of version {version!r} cannot be resumed")
        if href != self.href:
            raise ValueError(f"that cursor belongs to a feed of {href!r}, not of {self.href!r}")
        self._seen = seen
        self._floor = floor
        return newest

    @property
    def cursor(self) -> str:
        """Where the feed is: give it as ``since=`` to resume exactly here (opaque)."""
        doc = {
            "v": _CURSOR_VERSION,
            "h": self.href,
            "t": self._newest,
            "f": self._floor,
            "s": [[k, t, d] for k, (t, d) in self._seen.items()],
        }
        return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")

    @property
    def since(self) -> dt.datetime:
        """The newest change timestamp seen (whole seconds, UTC)."""
        return dt.datetime.fromtimestamp(self._newest, dt.UTC)

    def __repr__(self) -> str:
        return f"<ChangeFeed {self.href} since {_iso(self._newest)} polls={self.polls}>"

    # -- iteration -----------------------------------------------------------------------

    def __aiter__(self) -> ChangeFeed:
        return self

    async def __anext__(self) -> Resource:
        if self._run_gen is None:
            self._run_gen = self._run()
        return await self._run_gen.__anext__()

    async def aclose(self) -> None:
        """Stop the feed (a pending wait or read is abandoned). Idempotent."""
        gen = self._run_gen
        if gen is not None:
            await gen.aclose()

    async def __aenter__(self) -> ChangeFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[Resource, None]:
        while True:
            async for resource in self.poll():
                yield resource
            await asyncio.sleep(self.interval)

    async def poll(self) -> AsyncGenerator[Resource, None]:
        """One poll: every change not yielded yet, oldest first; then it ends."""
        lower = self._lower()
        page_number = 1
        total: int | None = None
        restarts = 0
        first = True
        while True:
            page = await self._page(lower, page_number, first)
            first = False
            if page_number > 1 and page.total != total and restarts < _MAX_RESTARTS:
                restarts += 1  # the window moved under an offset walk: read it again
                page_number, total = 1, None
                continue
            total = page.total
            elements = page.elements
            for resource in elements:
                second = _second(resource.get("updatedAt"))
                if second is None:
                    raise ChangesUnsupported(
                        f"{self.href}: a {resource.resource_type or 'resource'} without an "
                        "updatedAt timestamp; this collection cannot be followed for changes"
                    )
                key = _key(resource)
                digest = _digest(resource.data)
                known = self._seen.get(key)
                if known is not None and known[1] == digest:
                    continue
                self._seen[key] = (second, digest)
                if second > self._newest:
                    self._newest = second
                    self._prune()
                yield resource
            size = page.page_size or self.page_size
            if len(elements) < size or not elements:
                break
            newer = self._lower()
            if newer > lower:
                lower, page_number, total, restarts = newer, 1, None, 0
            else:
                page_number += 1  # more than a page within one window: walk it
        self.polls += 1

    def _lower(self) -> int:
        return max(self._floor, self._newest - self._overlap)

    def _prune(self) -> None:
        floor = self._lower()
        for key in [k for k, (t, _) in self._seen.items() if t < floor]:
            del self._seen[key]

    async def _page(self, lower: int, page_number: int, first: bool) -> Collection:
        changed = {"updatedAt": {"operator": "<>d", "values": [_iso(lower), ""]}}
        query: dict[str, Any] = {
            **self._params,
            "filters": [*self._filters, changed],
            "sortBy": [["updatedAt", "asc"], ["id", "asc"]],
            "pageSize": self.page_size,
        }
        if page_number > 1:
            query["offset"] = page_number
        try:
            page = await self._op.get(self.href, **query)
        except InvalidQuery as exc:
            if first:
                await self._explain(exc)
            raise
        if not isinstance(page, Collection):
            raise ProtocolError(f"{self.href} is not a collection (got {page!r})")
        return page

    async def _explain(self, exc: InvalidQuery) -> None:
        """Is the ``updatedAt`` filter what the server refused? Then say so."""
        probe: dict[str, Any] = {**self._params, "filters": self._filters, "pageSize": 1}
        try:
            await self._op.get(self.href, **probe)
        except InvalidQuery:
            return  # the caller's own filters are refused: the original error stands
        raise ChangesUnsupported(
            f"{self.href} has no updatedAt filter (the server refused it: {exc}); "
            "this collection cannot be followed for changes"
        ) from exc
