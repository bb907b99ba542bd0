"""``Session``: the request half of :class:`~openproject_async.OpenProject`.

Every request of the library goes through :meth:`Session.request`: it checks the
arguments, resolves the href against the server, refuses what the cross-origin policy
forbids, merges identical GETs that are in flight at the same moment (and answers schema
GETs from a cache), and hands the rest to ``_exchange`` (credentials for the server's own
origin only, at most ``max_concurrency`` requests in flight, redirects, retries, typed
errors, logging) over the session's transport. It returns documents; wrapping them into
resources is the job of the layer above (``_client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from yarl import URL

from . import _sansio
from ._auth import ApiKey, Auth, BearerToken, OAuthClientCredentials
from ._config import (
    API_PATH,
    base_url_of,
    check_credentials,
    check_settings,
    check_size,
    client_timeout,
    resolve_href,
    timeouts_of,
)
from ._exchange import MAX_RESPONSE_SIZE, Exchange
from ._policy import (
    ApiRequest,
    CrossOriginPolicy,
    OriginPolicy,
    is_loopback,
    safe_url,
)
from ._retry import RetryPolicy
from ._shared_get import SharedGets
from ._streaming import Streamed, open_stream
from ._tasks import Limit
from ._transport import AiohttpTransport, Transport
from .errors import InsecureTransportWarning, ProtocolError, SessionClosed, WrongEventLoop

T = TypeVar("T")

#: A per-call or session timeout: seconds for the whole exchange, or aiohttp's limits.
Timeout = aiohttp.ClientTimeout | float | None

#: The counters of ``stats``.
STATS = (
    "requests",  # HTTP requests sent (redirect hops, retries and aiohttp's re-sends included)
    "retries",  # retries scheduled by the retry policy
    "merged",  # GETs answered by an identical GET already in flight
    "cached",  # schemas answered from the cache (no request)
    "reauthentications",  # 401 answers followed by a fresh token
)

#: Default of ``api_key``/``token``: not given (an explicit None is a mistake to report).
_UNSET: Any = object()

#: Hrefs resolved per session, kept for the next request of the same href (bounded).
_RESOLVED_MAX = 4096

#: Origins already warned about (plain http to a non-loopback host): once per process.
_WARNED_INSECURE: set[str] = set()


class Session:
    """Configuration, lifecycle, URLs and requests of an :class:`~openproject_async.OpenProject`.

    (The public class documents the arguments.) Requests return decoded documents.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = _UNSET,
        token: str | None = _UNSET,
        oauth: OAuthClientCredentials | None = None,
        auth: Auth | None = None,
        max_concurrency: int = 16,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - immutable
        timeout: aiohttp.ClientTimeout | float | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        cross_origin: CrossOriginPolicy = "refuse_writes",
        headers: Mapping[str, str] | None = None,
        http_session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        max_response_size: int | None = MAX_RESPONSE_SIZE,
        anonymous: bool = False,
    ) -> None:
        api_key, token = check_credentials(api_key, token, oauth, auth, anonymous, _UNSET)
        if transport is not None and http_session is not None:
            raise TypeError("give either transport= or http_session=, not both")
        check_settings(max_concurrency, retry, cross_origin)
        self.base_url = base_url_of(url)
        self.api_root = self.base_url.with_path(self.base_url.path.rstrip("/") + API_PATH)
        self.auth: Auth | None = (
            ApiKey(api_key)
            if api_key is not None
            else BearerToken(token)
            if token is not None
            else oauth or auth
        )
        self.max_concurrency = max_concurrency
        self.retry = retry
        self.cross_origin: CrossOriginPolicy = cross_origin
        self.timeout = client_timeout(timeout, connect_timeout, read_timeout)
        self.transport: Transport = transport or AiohttpTransport(limit=0, session=http_session)
        self._limit = Limit(max_concurrency)
        self._origin = OriginPolicy(self.base_url, cross_origin)
        self._schemas: dict[URL, _sansio.Document] = {}
        self._resolved: dict[str, URL] = {}
        self._schema_objects: dict[str, Any] = {}  # href -> Schema over a cached document
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats: dict[str, int] = dict.fromkeys(STATS, 0)
        self._exchange = self._make_exchange(headers, check_size(max_response_size))
        self._shared = SharedGets(self._exchange.send, self._schemas, self.stats, self._check_open)
        self._warn_insecure()

    def _make_exchange(self, headers: Mapping[str, str] | None, cap: int | None) -> Exchange:
        return Exchange(
            transport=self.transport,
            origin=self._origin,
            api_root=self.api_root,
            auth=self.auth,
            retry=self.retry,
            timeouts=timeouts_of(self.timeout),
            resolve=self.resolve,
            extra_headers=dict(headers or {}),
            limit=self._limit,
            stats=self.stats,
            max_response_size=cap,
        )

    def _warn_insecure(self) -> None:
        if self.base_url.scheme != "http" or self.auth is None or is_loopback(self.base_url.host):
            return
        key = str(self._origin.origin)
        if key in _WARNED_INSECURE:
            return
        _WARNED_INSECURE.add(key)
        warnings.warn(
            f"OpenProject at {key} over plain http: credentials travel unencrypted "
            "(this warning is shown once per process and server)",
            InsecureTransportWarning,
            stacklevel=4,
        )

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Configure from ``OPENPROJECT_URL`` + ``OPENPROJECT_API_KEY`` / ``OPENPROJECT_TOKEN``."""
        url = kwargs.pop("url", None) or os.environ.get("OPENPROJECT_URL")
        if not url:
            raise ValueError("OPENPROJECT_URL is not set")
        if not any(k in kwargs for k in ("api_key", "token", "oauth", "auth")):
            if os.environ.get("OPENPROJECT_API_KEY"):
                kwargs["api_key"] = os.environ["OPENPROJECT_API_KEY"]
            elif os.environ.get("OPENPROJECT_TOKEN"):
                kwargs["token"] = os.environ["OPENPROJECT_TOKEN"]
        return cls(url, **kwargs)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<OpenProject {self.base_url} auth={self.auth!r} {state}>"

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel shared in-flight GETs and close the transport (an HTTP session we opened).

        Callers of a GET in flight get :class:`SessionClosed`. Idempotent.
        """
        self._closed = True
        self._shared.close()
        await self.transport.aclose()

    @property
    def max_response_size(self) -> int | None:
        """Bytes an answer may have, decoded (None: no cap); more raises ResponseTooLarge."""
        return self._exchange.max_response_size

    @max_response_size.setter
    def max_response_size(self, size: int | None) -> None:
        self._exchange.max_response_size = check_size(size)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran; using the session then raises SessionClosed."""
        return self._closed

    def _check_open(self) -> asyncio.AbstractEventLoop:
        """SessionClosed after close(); WrongEventLoop from another loop than the first.

        Returns the running loop (the session's).
        """
        if self._closed:
            raise SessionClosed(
                "this OpenProject session is closed; open a new one "
                "(or keep using it inside its `async with` block)"
            )
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise WrongEventLoop(
                "this OpenProject session started in another event loop"
                + (" (now closed)" if self._loop.is_closed() else "")
                + ": its connections belong to that loop. Open the session inside the loop "
                "that uses it (async with OpenProject(...) in the coroutine given to "
                "asyncio.run()), one session per loop"
            )
        return loop

    @contextlib.contextmanager
    def _widened(self, concurrency: int) -> Iterator[None]:
        """Let ``concurrency`` requests be in flight while the block runs.

        The session's :class:`Limit` caps its requests in flight (its own transport's
        connection pool has no cap of its own: it follows). When ``concurrency`` exceeds
        ``max_concurrency`` that limit grows by the difference while the block runs
        (``iterate(concurrency=n)`` uses this: asking for n pages in flight gets n, not
        silently fewer).
        """
        extra = concurrency - self.max_concurrency
        if extra <= 0:
            yield
            return
        self._limit.widen(extra)
        try:
            yield
        finally:
            self._limit.widen(-extra)

    def same_origin(self, url: URL) -> bool:
        """Is ``url`` on the configured server (same scheme, host and port)?"""
        return self._origin.same_origin(url)

    # -- URLs ------------------------------------------------------------------------

    def resolve(self, href: str | URL) -> URL:
        """An absolute URL for an href (see :func:`~openproject_async._config.resolve_href`).

        Server hrefs carry a sub-path prefix, typed ones may not; a path without a leading
        ``/`` (``"work_packages/1"``) is relative to the API root. Raises
        :class:`InvalidHref` for anything but an http(s) URL without credentials.
        """
        if type(href) is str:
            found = self._resolved.get(href)
            if found is not None:
                return found
            url = resolve_href(href, self.base_url)
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[href] = url
            return url
        return resolve_href(href, self.base_url)

    # -- requests ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        href: str | URL,
        *,
        json: Any = None,
        data: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        timeout: aiohttp.ClientTimeout | float | None = None,
    ) -> _sansio.Document | None:
        """Send one API request and return the decoded document (None for an empty 2xx).

        ``retry=None`` retries what is safe (GET/HEAD/DELETE, form POSTs, and any request
        that never reached the server), ``True`` opts a side-effecting request in, ``False``
        sends exactly once. A raw ``data=`` body is sent again only when it is ``bytes``,
        ``bytearray`` or ``str``; a stream or file object goes out once. ``timeout``
        overrides the session's timeouts for this call (seconds for each exchange, or an
        ``aiohttp.ClientTimeout``).
        """
        if (
            method == "GET"
            and json is None
            and data is None
            and not headers
            and retry is None
            and timeout is None
        ):  # a plain GET: nothing to encode, shared with an identical one in flight
            loop = self._check_open()
            url = self.resolve(href)
            if params:
                url = url.update_query(_sansio.encode_params(params))
            self._origin.check(method, url)
            answer = await self._shared.get(url, loop)
        else:
            req = self._api_request(method, href, json, data, params, headers, retry, timeout)
            if (
                req.method == "GET"
                and req.body is None
                and data is None
                and not headers
                and retry is None
                and req.timeout is None
            ):
                answer = await self._shared.get(req.url)
            else:
                answer = await self._exchange.send(req)
        if isinstance(answer, str):  # pragma: no cover - only text requests answer text
            raise ProtocolError(
                "expected a HAL document, got text", url=safe_url(self.resolve(href))
            )
        return answer

    async def _text_request(
        self,
        method: str,
        href: str | URL,
        *,
        data: bytes,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None = None,
        retry: bool | None = None,
        timeout: aiohttp.ClientTimeout | float | None = None,
    ) -> str:
        """A request whose 2xx answer is text (``/render/markdown``): that text.

        Error answers raise as for :meth:`request`.
        """
        req = self._api_request(method, href, None, data, params, headers, retry, timeout)
        answer = await self._exchange.send(replace(req, text=True))
        if not isinstance(answer, str):  # pragma: no cover - text requests answer text
            raise ProtocolError("expected a text answer", url=safe_url(req.url))
        return answer

    def _stream(
        self,
        method: str,
        href: str | URL,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        credentials: bool = True,
        follow: bool = True,
    ) -> AbstractAsyncContextManager[Streamed]:
        """A streamed exchange (``async with op._stream(...) as answer``): the body may be
        an async iterable, the answer is read with ``answer.iter_chunks()`` (``_streaming``).

        ``credentials=False`` (a URL the server handed out, e.g. a storage upload form):
        nothing of the session's (credentials, cookies, extra headers) is sent, and the
        cross-origin policy does not apply.
        """
        self._check_open()
        url = self.resolve(href)
        if params:
            url = url.update_query(_sansio.encode_params(params))
        if credentials:
            self._origin.check(method, url)
        req = ApiRequest(method.upper(), url, data=data, headers=headers)
        return open_stream(self._exchange, req, credentials=credentials, follow=follow)

    def _api_request(
        self,
        method: str,
        href: str | URL,
        json: Any,
        data: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        retry: bool | None,
        timeout: aiohttp.ClientTimeout | float | None,
    ) -> ApiRequest:
        """Check the arguments of a request, resolve its URL and encode its body."""
        self._check_open()
        if not isinstance(method, str) or not method.strip().isalpha():
            raise ValueError(f"method must be an HTTP method name, got {method!r}")
        if retry is not None and not isinstance(retry, bool):
            raise TypeError(f"retry must be True, False or None, got {retry!r}")
        method = method.strip().upper()
        url = self.resolve(href)
        if params:
            url = url.update_query(_sansio.encode_params(params))
        self._origin.check(method, url)
        body: bytes | None = None
        if json is not None:
            body = _sansio.dumps(json)
        elif method not in ("GET", "HEAD") and data is None:
            body = b"{}" if method != "DELETE" else None
        ctimeout = (
            timeouts_of(
                client_timeout(
                    timeout, self.timeout.connect or 10.0, self.timeout.sock_read or 60.0
                )
            )
            if timeout is not None
            else None
        )
        return ApiRequest(
            method, url, body=body, data=data, headers=headers, retry=retry, timeout=ctimeout
        )

    def remember_schema(self, href: str, doc: _sansio.Document) -> None:
        """Cache a schema document (schemas do not change while a session runs)."""
        self._schemas[self.resolve(href)] = doc

    def cached_schema(self, href: str) -> _sansio.Document | None:
        """The schema document cached for ``href`` (resolved), or None when not fetched yet."""
        return self._schemas.get(self.resolve(href))
