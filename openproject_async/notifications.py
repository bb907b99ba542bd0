"""In-app notifications: read the unread ones, mark them read or unread.

::

    from openproject_async import notifications

    async for n in notifications.unread(op, reason="mentioned"):
        wp = await n.follow("resource")          # what it is about
        ...
        await notifications.mark_read(op, n)     # its own readIAN link

    await notifications.mark_read(op, [n1, n2, n3])           # one bulk request
    alerts = [{"reason": {"operator": "=", "values": ["dateAlert"]}}]
    await notifications.mark_read(op, filters=alerts)        # what matches

One notification is marked through its own link (``readIAN`` while unread, ``unreadIAN``
while read; marking one that is already in that state does nothing). Several, or a
filter, go through the server's bulk endpoints ``POST /api/v3/notifications/read_ian``
and ``/unread_ian`` with the filters in the query string. Marking is idempotent, so these
requests are retried like reads.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._collection import Collection
from ._links import Link
from ._resource import Resource
from .errors import ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject

__all__ = ["list_notifications", "mark_read", "mark_unread", "unread"]

Filters = Sequence[Mapping[str, Any]]


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple | set | frozenset) else [value]
    return [str(_ident(v)) for v in items]


def _ident(value: Any) -> Any:
    if isinstance(value, Resource):
        ident = value.get("id")
        if ident is None:
            raise ValueError(f"{value!r} has no id")
        return ident
    return value


def _filters(
    read: bool | None,
    reason: Any,
    project: Any,
    resource: Any,
    filters: Filters | None,
) -> list[dict[str, Any]]:
    result = [dict(f) for f in filters or []]
    if read is not None:
        result.append({"readIAN": {"operator": "=", "values": ["t" if read else "f"]}})
    if reason is not None:
        result.append({"reason": {"operator": "=", "values": _values(reason)}})
    if project is not None:
        result.append({"project": {"operator": "=", "values": _values(project)}})
    if resource is not None:
        result.append({"resourceId": {"operator": "=", "values": _values(resource)}})
    return result


def _href(op: OpenProject, tail: str) -> str:
    return f"{op.api_root}/notifications{tail}"


async def list_notifications(
    op: OpenProject,
    *,
    read: bool | None = None,
    reason: Any = None,
    project: Any = None,
    resource: Any = None,
    filters: Filters | None = None,
    page_size: int = 100,
) -> AsyncGenerator[Resource, None]:
    """The current user's notifications, as the server orders them (newest first).

    ``read`` (True/False/None: both), ``reason`` (``"mentioned"``, ``"dateAlert"``... or a
    list), ``project`` and ``resource`` (ids or resources) become filters; ``filters``
    adds raw ones.
    """
    query = _filters(read, reason, project, resource, filters)
    page = await op.get(_href(op, ""), filters=query, pageSize=page_size)
    if not isinstance(page, Collection):
        raise ProtocolError(f"the notifications are not a collection (got {page!r})")
    async for item in page:
        yield item


def unread(
    op: OpenProject,
    *,
    reason: Any = None,
    project: Any = None,
    resource: Any = None,
    filters: Filters | None = None,
    page_size: int = 100,
) -> AsyncGenerator[Resource, None]:
    """The current user's unread notifications (see :func:`list_notifications`)."""
    return list_notifications(
        op,
        read=False,
        reason=reason,
        project=project,
        resource=resource,
        filters=filters,
        page_size=page_size,
    )


async def mark_read(
    op: OpenProject,
    notifications: Resource | Iterable[Resource | int] | None = None,
    *,
    filters: Filters | None = None,
) -> None:
    """Mark notifications read: one (its ``readIAN`` link), several (one bulk request by
    id) or those matching ``filters`` (``filters=[]``: all of the user's)."""
    await _mark(op, notifications, filters, read=True)


async def mark_unread(
    op: OpenProject,
    notifications: Resource | Iterable[Resource | int] | None = None,
    *,
    filters: Filters | None = None,
) -> None:
    """Mark notifications unread: like :func:`mark_read`, with ``unreadIAN``."""
    await _mark(op, notifications, filters, read=False)


async def _mark(
    op: OpenProject,
    notifications: Resource | Iterable[Resource | int] | None,
    filters: Filters | None,
    *,
    read: bool,
) -> None:
    rel = "readIAN" if read else "unreadIAN"
    if notifications is not None and filters is not None:
        raise TypeError("give notifications or filters=, not both")
    if isinstance(notifications, Resource):
        link = notifications.links.get(rel)
        if isinstance(link, Link) and link.href:
            await notifications.action(rel, retry=True)
        elif notifications.get("readIAN") is not read:
            raise ProtocolError(f"{notifications!r} has neither its {rel} link nor readIAN={read}")
        return
    if notifications is None:
        if filters is None:
            raise TypeError(
                "give the notifications to mark, or filters= (filters=[] marks all of them)"
            )
        query = [dict(f) for f in filters]
    else:
        if isinstance(notifications, str | bytes):
            raise TypeError("give notifications as resources or ids, not a string")
        ids = [str(_ident(n)) for n in notifications]
        if not ids:
            return
        query = [{"id": {"operator": "=", "values": ids}}]
    tail = "/read_ian" if read else "/unread_ian"
    await op.request("POST", _href(op, tail), params={"filters": query}, retry=True)
