"""``MockTransport``: answer the client's requests from a function, in memory.

Like httpx's ``MockTransport``: no server, no sockets. The handler receives each
:class:`~openproject_async.HttpRequest` (method, URL, headers, body) and returns an
:class:`~openproject_async.HttpResponse` (or an awaitable of one)::

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/api/v3/work_packages/1":
            return HttpResponse.json({"_type": "WorkPackage", "id": 1, "subject": "x"})
        return HttpResponse.json({"_type": "Error", "errorIdentifier": "...NotFound"}, 404)

    async with OpenProject("https://op.test", api_key="k", transport=MockTransport(handler)) as op:
        wp = await op.get("/api/v3/work_packages/1")

The session still does everything above the exchange: credentials, redirects, retries,
decoding, typed errors. Every request the handler saw is in :attr:`MockTransport.requests`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from .._transport import HttpRequest, HttpResponse

Handler = Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]


class MockTransport:
    """A transport whose answers come from ``handler(request)`` (sync or async)."""

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(
                f"MockTransport takes a function request -> HttpResponse, "
                f"got {type(handler).__name__}"
            )
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.closed = False

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Record ``request`` and answer with the handler's response."""
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, HttpResponse):
            raise TypeError(
                f"the MockTransport handler returned {type(answer).__name__}, not an HttpResponse"
            )
        return answer

    async def aclose(self) -> None:
        """Nothing to release; remembers that the session closed it."""
        self.closed = True
