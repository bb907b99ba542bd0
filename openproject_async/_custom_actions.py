"""Custom actions: a work package's ``customActions`` run by title, resource, Link or href."""

from __future__ import annotations

from typing import Any

from . import _body
from ._links import Link
from ._resource import Resource
from .errors import ActionUnavailable, ProtocolError, UpdateConflict


async def execute_custom_action(
    work_package: Resource, action: Any, *, notify: bool | None = None, retry_conflicts: int = 0
) -> Resource:
    """Run a custom action (title, CustomAction resource, Link or href) on ``work_package``.

    Posts ``{"lockVersion": n, "_links": {"workPackage": {"href": ...}}}`` to the action's
    ``executeImmediately`` link; ``retry_conflicts=N`` re-reads the work package after a
    409 and runs the action again (custom actions set fixed values).
    """
    if retry_conflicts < 0:
        raise ValueError("retry_conflicts must be 0 or more")
    custom = await _custom_action(work_package, action)
    current = work_package
    for attempt in range(retry_conflicts + 1):
        try:
            done = await custom.action("executeImmediately", work_package=current, notify=notify)
            if not isinstance(done, Resource):
                raise ProtocolError("the custom action answered with no work package")
            return done
        except UpdateConflict:
            if attempt >= retry_conflicts:
                raise
            current = await current.refresh()
    raise AssertionError("unreachable")  # pragma: no cover


async def _custom_action(work_package: Resource, action: Any) -> Resource:
    op = work_package.session
    if isinstance(action, Resource):
        return action
    if isinstance(action, Link) or _body.looks_like_href(action):
        href = action.href if isinstance(action, Link) else str(action)
    elif isinstance(action, str):
        listed = work_package.links.get("customActions")
        links = listed if isinstance(listed, list) else []
        wanted = action.casefold()
        matches = [lk for lk in links if lk.title and lk.title.casefold() == wanted and lk.href]
        if not matches:
            raise ActionUnavailable(
                action,
                resource=repr(work_package),
                actions=[lk.title or lk.href or "?" for lk in links],
            )
        href = matches[0].href
    else:
        raise TypeError(
            "give the custom action as its title, a CustomAction resource, a Link or an href, "
            f"not {type(action).__name__}"
        )
    if not href:
        raise ProtocolError("the custom action link has no href")
    embedded = work_package.embedded.get("customActions")
    for doc in embedded if isinstance(embedded, list) else []:
        if isinstance(doc, dict) and doc.get("_links", {}).get("self", {}).get("href") == href:
            return Resource(op, doc)
    fetched = await op.get(href)
    if not isinstance(fetched, Resource):
        raise ProtocolError(f"the custom action at {href} is not a resource")
    return fetched
