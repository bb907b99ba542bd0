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
import os
import warnings
from collections.abc import Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from yarl import URL

from . import _sansio
from ._auth import ApiKey, Auth, BearerToken, OAuthClientCredentials
from ._config import API_PATH, base_url_of, check_settings, client_timeout, timeouts_of
from ._exchange import Exchange
from ._policy import (
    ApiRequest,
    CrossOriginPolicy,
    OriginPolicy,
    is_loopback,
    safe_url,
)
from ._retry import RetryPolicy
from ._streaming import Streamed, open_stream
from ._transport import AiohttpTransport, Transport
from .errors import InsecureTransportWarning, InvalidHref, ProtocolError, SessionClosed

T = TypeVar("T")

#: A per-call or session timeout: seconds for the whole exchange, or aiohttp's limits.
Timeout = aiohttp.ClientTimeout | float | None

#: The counters of ``stats``.
STATS = (
    "requests",  # HTTP exchanges sent (redirect hops and retries included)
    "retries",  # retries scheduled by the retry policy
    "merged",  # GETs answered by an identical GET already in flight
    "cached",  # schemas answered from the cache (no request)
    "reauthentications",  # 401 answers followed by a fresh token
)

#: Origins already warned about (plain http to a non-loopback host): once per process.
_WARNED_INSECURE: set[str] = set()


class _Inflight:
    """One shared GET and how many callers still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[_sansio.Answer]) -> None:
        self.task = task
        self.waiters = 0


class Session:
    """Configuration, lifecycle, URLs and requests of an :class:`~openproject_async.OpenProject`.

    (The public class documents the arguments.) Requests return decoded documents.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
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
    ) -> None:
        given = [a for a in (api_key, token, oauth, auth) if a is not None]
        if len(given) > 1:
            raise TypeError("give at most one of api_key=, token=, oauth=, auth=")
        if transport is not None and http_session is not None:
            raise TypeError("give either transport= or http_session=, not both")
        check_settings(max_concurrency, retry, cross_origin)
        self.base_url = base_url_of(url)
        self.api_root = self.base_url.with_path(self.base_url.path.rstrip("/") + API_PATH)
        self._prefix = self.base_url.path.rstrip("/")
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
        self.transport: Transport = transport or AiohttpTransport(
            limit=max_concurrency, session=http_session
        )
        self._origin = OriginPolicy(self.base_url, cross_origin)
        self._inflight: dict[str, _Inflight] = {}
        self._schemas: dict[str, _sansio.Document] = {}
        self._closed = False
        self.stats: dict[str, int] = dict.fromkeys(STATS, 0)
        self._exchange = Exchange(
            transport=self.transport,
            origin=self._origin,
            api_root=self.api_root,
            auth=self.auth,
            retry=retry,
            timeouts=timeouts_of(self.timeout),
            resolve=self.resolve,
            extra_headers=dict(headers or {}),
            limit=asyncio.Semaphore(max_concurrency),
            stats=self.stats,
        )
        self._warn_insecure()

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

        Callers waiting on a shared GET get :class:`SessionClosed`. Idempotent.
        """
        self._closed = True
        tasks = [entry.task for entry in self._inflight.values()]
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.transport.aclose()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran; using the session then raises SessionClosed."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed(
                "this OpenProject session is closed; open a new one "
                "(or keep using it inside its `async with` block)"
            )

    def same_origin(self, url: URL) -> bool:
        """Is ``url`` on the configured server (same scheme, host and port)?"""
        return self._origin.same_origin(url)

    # -- URLs ------------------------------------------------------------------------

    def resolve(self, href: str | URL) -> URL:
        """An absolute URL for an href: server hrefs carry a sub-path prefix, typed ones may not.

        Raises :class:`InvalidHref` for anything but an http(s) URL without credentials.
        """
        if not isinstance(href, str | URL):
            raise InvalidHref(f"an href must be a string, got {type(href).__name__}")
        try:
            url = href if isinstance(href, URL) else URL(href)
            if not url.is_absolute():
                if url.scheme:
                    raise InvalidHref(f"cannot request {url.scheme}: URLs, only http(s)")
                path = url.path
                if (
                    self._prefix
                    and (path == API_PATH or path.startswith(API_PATH + "/"))
                    and not path.startswith(self._prefix + "/")
                ):
                    # the typed href's query (filters=...) stays as it was written
                    url = URL.build(
                        path=self.base_url.raw_path.rstrip("/") + url.raw_path,
                        query_string=url.raw_query_string,
                        encoded=True,
                    )
                url = self._origin.origin.join(url)
            elif not url.scheme:  # "//host/path": the server's scheme
                url = self._origin.origin.join(url)
        except InvalidHref:
            raise
        except (ValueError, TypeError, UnicodeError):
            raise InvalidHref(f"malformed href {str(href)[:200]!r}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidHref(f"cannot request {safe_url(url)!r}: not an http(s) URL")
        if url.user is not None or url.password is not None:
            raise InvalidHref(f"refusing an href with credentials in it ({safe_url(url)})")
        return url

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
        req = self._api_request(method, href, json, data, params, headers, retry, timeout)
        if (
            req.method == "GET"
            and data is None
            and not headers
            and retry is None
            and req.timeout is None
        ):
            answer = await self._merged_get(req.url)
        else:
            answer = await self._exchange.send(req)
        if isinstance(answer, str):  # pragma: no cover - only text requests answer text
            raise ProtocolError("expected a HAL document, got text", url=safe_url(req.url))
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

    async def _merged_get(self, url: URL) -> _sansio.Answer:
        key = str(url)
        cached = self._schemas.get(key)
        if cached is not None:
            self.stats["cached"] += 1
            return cached
        entry = self._inflight.get(key)
        if entry is None:
            task = asyncio.ensure_future(self._exchange.send(ApiRequest("GET", url)))
            new = entry = self._inflight[key] = _Inflight(task)

            def done(t: asyncio.Task[_sansio.Answer]) -> None:
                if self._inflight.get(key) is new:
                    del self._inflight[key]
                if t.cancelled() or t.exception() is not None:  # (retrieved: no noise)
                    return
                doc = t.result()
                if isinstance(doc, dict) and doc.get("_type") == "Schema":
                    # Cached as the entry goes, not when the waiters resume (a loop turn
                    # later): a caller in between would find neither and GET it again.
                    self._schemas[key] = doc

            task.add_done_callback(done)
        else:
            self.stats["merged"] += 1
        entry.waiters += 1
        try:
            doc = await asyncio.shield(entry.task)
        except asyncio.CancelledError:
            entry.waiters -= 1
            if entry.waiters <= 0 and not entry.task.done():
                entry.task.cancel()
            current = asyncio.current_task()
            if (
                self._closed
                and entry.task.cancelled()
                and current is not None
                and not current.cancelling()
            ):
                # Not this caller's cancellation: the session was closed under it.
                raise SessionClosed(
                    f"GET {safe_url(url)}: the OpenProject session was closed while "
                    "the request was in flight"
                ) from None
            raise
        except BaseException:
            entry.waiters -= 1
            raise
        entry.waiters -= 1
        return doc

    def remember_schema(self, href: str, doc: _sansio.Document) -> None:
        """Cache a schema document (schemas do not change while a session runs)."""
        self._schemas[str(self.resolve(href))] = doc

    def cached_schema(self, href: str) -> _sansio.Document | None:
        """The schema document cached for ``href`` (resolved), or None when not fetched yet."""
        return self._schemas.get(str(self.resolve(href)))


async def gather_ordered(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Await coroutines concurrently, results in order; on failure cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
