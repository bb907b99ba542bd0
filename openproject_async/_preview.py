"""Markdown previews: the ``previewMarkup`` links (``POST /api/v3/render/markdown``).

PROTOCOL.md section 9: the body is the raw text with ``Content-Type: text/plain`` and the
answer is ``text/html``; any other Content-Type gets 415 ``TypeNotSupported``, an unusable
``context`` 400 ``InvalidRenderContext``. A preview has no side effects, so it is retried
like a GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._links import Link
from ._registry import ActionCall, special_link
from ._resource import Resource

_RENDER_PATHS = ("/render/markdown", "/render/plain")
_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "Accept": "text/html, application/hal+json;q=0.9, application/json;q=0.8",
}


def is_render_link(link: Link) -> bool:
    """A POST link to one of OpenProject's render endpoints (``.../render/markdown``)."""
    return link.posts_to(*_RENDER_PATHS)


async def preview(
    resource: Resource,
    link: Link,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    params: Mapping[str, Any],
    retry: bool | None,
    timeout: Any = None,
) -> str:
    """POST ``text`` (the one argument, or ``text=``) as text/plain -> the rendered HTML."""
    values = dict(kwargs)
    if len(args) == 1 and not values:
        text = args[0]
    elif not args and list(values) == ["text"]:
        text = values["text"]
    else:
        raise TypeError(
            f"{link.rel!r} renders one text: call it as {link.rel}('some *markdown*') or with text="
        )
    if not isinstance(text, str):
        raise TypeError(f"{link.rel!r} renders a str, got {type(text).__name__}")
    return await resource.session._text_request(
        "POST",
        link.href or "",
        data=text.encode("utf-8"),
        headers=_HEADERS,
        params=params or None,
        retry=True if retry is None else retry,
        timeout=timeout,
    )


@special_link(is_render_link)
async def _preview_link(resource: Resource, link: Link, call: ActionCall) -> str:
    """``previewMarkup("some *markdown*")`` -> the server's HTML."""
    return await preview(
        resource, link, call.args, call.kwargs, call.query, call.retry, call.timeout
    )
