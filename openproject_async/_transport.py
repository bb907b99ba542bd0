"""The I/O seam: one HTTP exchange, and the aiohttp adapter that performs it by default.

A transport takes an :class:`HttpRequest` (method, URL, headers, body, timeouts) and gives
an :class:`HttpResponse` (status, headers, a body read or streamed on demand). It follows
no redirects, adds no credentials and retries nothing: the exchange layer above decides
all of that. ``OpenProject(url, transport=...)`` takes any object with the
:class:`Transport` methods; ``openproject_async.testing.MockTransport`` answers from a
function, for tests of your own code.

A transport reports failures as the library's errors: :class:`ConnectionFailed`
(``before_send=True`` when the connection could not be made), :class:`RequestTimeout`
(``before_send=True`` for connect timeouts), :class:`ProtocolError` with ``transient``
set for an answer cut off, :class:`InvalidHref` for a URL it cannot request. What such a
failure means for a request that must not be sent twice is decided above it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _sansio
from ._policy import Timeouts, safe_url
from .errors import (
    ConnectionFailed,
    InvalidHref,
    OpenProjectError,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
)

USER_AGENT = "openproject-async/0.1"
_NO_LIMITS = Timeouts()


@dataclass(slots=True)
class HttpRequest:
    """One HTTP exchange to perform: no redirects followed, nothing added.

    Read-only by convention (a transport must not change it): one is made for every
    exchange, and a frozen dataclass would cost four times as much to make.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: Any = None  # bytes, str, a file object or an async iterable of bytes; None: none
    timeout: Timeouts = _NO_LIMITS


class HttpResponse:
    """One HTTP answer: ``status``, ``headers`` (case-insensitive) and its body on demand.

    Build one with ``body=`` bytes (tests, :class:`MockTransport`), or with ``read=`` /
    ``chunks=`` / ``close=`` functions (a transport streaming from a connection).
    """

    __slots__ = ("_body", "_chunks", "_close", "_read", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        body: bytes = b"",
        read: Callable[[], Awaitable[bytes]] | None = None,
        chunks: Callable[[], AsyncIterator[bytes]] | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        if not isinstance(headers, CIMultiDictProxy):
            headers = CIMultiDictProxy(CIMultiDict(headers))
        self.headers: Mapping[str, str] = headers
        self._body = body
        self._read = read
        self._chunks = chunks
        self._close = close

    @classmethod
    def json(
        cls,
        doc: object,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/hal+json; charset=utf-8",
    ) -> HttpResponse:
        """An answer whose body is ``doc`` as JSON (``application/hal+json`` by default)."""
        return cls(
            status, {"Content-Type": content_type, **(headers or {})}, body=_sansio.dumps(doc)
        )

    async def read(self) -> bytes:
        """The whole body."""
        if self._read is not None:
            return await self._read()
        if self._chunks is not None:
            return b"".join([chunk async for chunk in self._chunks()])
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive (closing this closes the ``chunks`` source)."""
        if self._chunks is not None:
            source = self._chunks()
            try:
                async for chunk in source:
                    yield chunk
            finally:
                close = getattr(source, "aclose", None)
                if close is not None:
                    await close()
        else:
            body = await self.read()
            if body:
                yield body

    async def aclose(self) -> None:
        """Release the connection (idempotent)."""
        close, self._close = self._close, None
        if close is not None:
            await close()


def _declared_within(headers: Mapping[str, str], limit: int) -> bool:
    """An uncompressed body whose ``Content-Length`` is within ``limit``: read it whole
    (the transport reads no more than the declared length)."""
    length = headers.get("Content-Length")
    if length is None or not length.isdigit() or int(length) > limit:
        return False
    encoding = headers.get("Content-Encoding")
    return encoding is None or encoding.strip().lower() == "identity"


async def read_limited(resp: HttpResponse, limit: int | None, url: URL) -> bytes:
    """The whole body of ``resp``, but never more than ``limit`` bytes of it (None: no cap).

    Counted on the decoded body as it streams in (after gzip/deflate): reading stops at
    the cap, the connection is dropped and :class:`ResponseTooLarge` names the URL and
    the cap. The caller still closes ``resp``.
    """
    if limit is None or _declared_within(resp.headers, limit):
        return await resp.read()
    parts: list[bytes] = []
    size = 0
    chunks = resp.iter_chunks()
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                break
            parts.append(chunk)
        else:
            return b"".join(parts)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    del parts  # what was read goes before the error is raised
    too_large = ResponseTooLarge(
        f"the answer is larger than max_response_size ({limit} bytes); reading stopped there",
        status=resp.status,
        url=safe_url(url),
    )
    too_large.limit = limit
    raise too_large


class Transport(Protocol):
    """What the session needs to talk HTTP: one exchange at a time, and closing."""

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Perform one exchange; the body of the answer is read through the response."""
        ...

    async def aclose(self) -> None:
        """Release connections (idempotent)."""
        ...


class _CountedRequest(aiohttp.ClientRequest):
    """aiohttp's request, noting each send in the box of the exchange in progress.

    aiohttp sends an idempotent request again by itself when its kept-alive connection
    turns out closed; a second send noted for one exchange is such a re-send.
    """

    async def send(self, conn: Any) -> aiohttp.ClientResponse:
        box = _SENDS.get()
        if box is not None:
            box.append(None)
        return await super().send(conn)


#: The sends of the exchange in progress in this task (see :class:`_CountedRequest`).
_SENDS: ContextVar[list[None] | None] = ContextVar("openproject_async_sends", default=None)


class _AiohttpResponse(HttpResponse):
    """An aiohttp answer: its body read or streamed from the connection, which it releases."""

    __slots__ = ("_request", "_resp")

    def __init__(self, resp: aiohttp.ClientResponse, request: HttpRequest) -> None:
        self.status = resp.status
        self.headers = resp.headers
        self._resp = resp
        self._request = request

    async def read(self) -> bytes:
        resp = self._resp
        failure: OpenProjectError | None = None
        try:
            return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = _failure(exc, self._request, resp.status)
        finally:
            resp.release()
        raise failure

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        resp = self._resp
        failure: OpenProjectError | None = None
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = _failure(exc, self._request, resp.status)
        finally:
            resp.release()
        if failure is not None:
            raise failure

    async def aclose(self) -> None:
        self._resp.release()


class AiohttpTransport:
    """The default transport: one ``aiohttp.ClientSession`` (made on first use, or given).

    ``limit`` caps its connections (0: no cap; the session passes 0, its own limit on
    requests in flight caps them). A session made here keeps no cookies: OpenProject's
    API needs none, and aiohttp's cookie jar would send a cookie to every port of a host.
    A session passed in is used as it is (its cookie jar included) and not closed here.

    The request's ``timeout.total`` is enforced here (by aiohttp's own timer, which also
    covers reading the body): :attr:`enforces_total` tells the exchange above that it
    need not set a timer of its own.

    ``resends`` counts the times aiohttp sent a request again by itself (an idempotent
    request whose kept-alive connection turned out closed); the session adds them to its
    ``stats["requests"]``. Counted for the session made here only.
    """

    #: aiohttp stops an exchange at ``HttpRequest.timeout.total`` (:class:`WholeTimeout`).
    enforces_total = True

    def __init__(self, *, limit: int = 16, session: aiohttp.ClientSession | None = None) -> None:
        self._limit = limit
        self._http = session
        self._own = session is None
        self._timeouts: dict[int, tuple[Timeouts, aiohttp.ClientTimeout]] = {}
        self.resends = 0

    @property
    def http(self) -> aiohttp.ClientSession:
        """The aiohttp session (made on first use)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                request_class=_CountedRequest,
                connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit),
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=lambda o: _sansio.dumps(o).decode(),
            )
        return self._http

    def _client_timeout(self, t: Timeouts) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(id(t))
        if found is None or found[0] is not t:
            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            found = self._timeouts[id(t)] = (
                t,
                aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.read),
            )
        return found[1]

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; aiohttp's failures become the library's (never chained)."""
        failure: OpenProjectError | None = None
        box: list[None] = []
        noted = _SENDS.set(box)
        try:
            resp = await self.http.request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                allow_redirects=False,
                timeout=self._client_timeout(request.timeout),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = _failure(exc, request, None)
        finally:
            _SENDS.reset(noted)
            if len(box) > 1:
                self.resends += len(box) - 1
        if failure is not None:
            raise failure  # outside the except block: no aiohttp exception in the chain
        return _AiohttpResponse(resp, request)

    async def aclose(self) -> None:
        """Close the aiohttp session if this transport made it."""
        http, self._http = self._http, None
        if http is not None and self._own:
            await http.close()


class WholeTimeout(RequestTimeout):
    """(Internal) the transport stopped an exchange at its ``timeout.total``.

    The exchange above turns it into the :class:`RequestTimeout` that says which limit
    ran out (one exchange's, or the retry policy's deadline for the whole call).
    """


def _failure(exc: BaseException, request: HttpRequest, status: int | None) -> OpenProjectError:
    """The library's error for an aiohttp/timeout failure of ``request``."""
    kind = type(exc).__name__
    method, shown = request.method, safe_url(request.url)
    limits = request.timeout
    if isinstance(exc, aiohttp.InvalidURL):
        return InvalidHref(f"cannot request {shown}: invalid URL ({kind})")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        ctimeout = RequestTimeout(
            f"{method} {shown}: could not connect within the connect timeout",
            before_send=True,
            url=shown,
            method=method,
        )
        ctimeout.timeout = limits.connect
        return ctimeout
    if isinstance(exc, TimeoutError):
        sock_read = isinstance(exc, aiohttp.SocketTimeoutError)
        limit = limits.read if sock_read else None
        limit = limit or limits.total or limits.read
        after = f" after {limit:g}s" if limit else ""
        kind_of = RequestTimeout if sock_read or not limits.total else WholeTimeout
        err = kind_of(f"{method} {shown}: no answer{after}", url=shown, method=method)
        err.timeout = limit
        return err
    if isinstance(exc, aiohttp.ClientPayloadError):
        cut = ProtocolError(f"the answer was cut off ({kind})", status=status, url=shown)
        cut.transient = True
        return cut
    if isinstance(exc, aiohttp.ClientConnectorError):
        certificate = isinstance(
            exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError
        )
        return ConnectionFailed(
            f"{method} {shown}: cannot connect to the server ({kind})",
            before_send=True,
            transient=not certificate,
            url=shown,
            method=method,
        )
    return ConnectionFailed(f"{method} {shown}: connection lost ({kind})", url=shown, method=method)
