"""``OpenProject``: one aiohttp session, its credentials, limits, retries and caches.

Every request of the library goes through :meth:`OpenProject.request`: it resolves the
href against the server, adds credentials only for the server's own origin, keeps at
most ``max_concurrency`` requests in flight, merges identical GETs that are in flight at
the same moment, retries what is safe to retry and decodes the answer with ``_sansio``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import warnings
from collections.abc import Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay
from yarl import URL

from . import _sansio
from ._auth import ApiKey, Auth, BearerToken, OAuthClientCredentials
from ._retry import IDEMPOTENT_METHODS, RetryPolicy, is_form_url, wait_hint
from .errors import (
    APIError,
    ConnectionFailed,
    CrossOriginRefused,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    SessionClosed,
)

log = logging.getLogger("openproject_async")

API_PATH = "/api/v3"
USER_AGENT = "openproject-async/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature", "code", "auth")
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")

CrossOriginPolicy = Literal["refuse_writes", "refuse", "allow"]


def safe_url(url: URL) -> str:
    """The URL for messages and logs: no user info, secret-looking query values hidden."""
    url = url.with_user(None).with_password(None)
    if url.query:
        q = {
            k: ("***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
            for k, v in url.query.items()
        }
        url = url.with_query(q)
    return str(url)


class _Inflight:
    """One shared GET and how many callers still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[_sansio.Document | None]) -> None:
        self.task = task
        self.waiters = 0


class OpenProject:
    """An asyncio session with one OpenProject server.

    ``url`` is the server's base URL (``https://op.example.com`` or, for a sub-path
    deployment, ``https://example.com/openproject``); the API root is ``url + /api/v3``.
    Give one of ``api_key=``, ``token=``, ``oauth=`` (an :class:`OAuthClientCredentials`)
    or ``auth=`` (any object with the :class:`~openproject_async._auth.Auth` methods).
    Use it as ``async with OpenProject(...) as op:``; it closes everything it opened.
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
    ) -> None:
        given = [a for a in (api_key, token, oauth, auth) if a is not None]
        if len(given) > 1:
            raise TypeError("give at most one of api_key=, token=, oauth=, auth=")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http(s) URL of the server, got {url!r}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        base = URL(url.rstrip("/"))
        if base.path.endswith(API_PATH):
            base = base.with_path(base.path[: -len(API_PATH)])
        self.base_url = base.with_query(None).with_fragment(None)
        self.api_root = self.base_url.with_path(self.base_url.path.rstrip("/") + API_PATH)
        self._prefix = self.base_url.path.rstrip("/")
        self._origin = self.base_url.origin()
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
        self.timeout = self._timeout(timeout, connect_timeout, read_timeout)
        self._extra_headers = dict(headers or {})
        self._http = http_session
        self._own_http = http_session is None
        self._limit = asyncio.Semaphore(max_concurrency)
        self._inflight: dict[str, _Inflight] = {}
        self._schemas: dict[str, _sansio.Document] = {}
        self._closed = False
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "merged": 0, "cached": 0}
        if self.base_url.scheme == "http" and not (self.base_url.host or "").startswith(_LOOPBACK):
            warnings.warn(
                f"OpenProject at {self.base_url} over plain http: credentials travel unencrypted",
                stacklevel=2,
            )

    @staticmethod
    def _timeout(
        timeout: aiohttp.ClientTimeout | float | None, connect: float, read: float
    ) -> aiohttp.ClientTimeout:
        if isinstance(timeout, aiohttp.ClientTimeout):
            return timeout
        if isinstance(timeout, int | float):
            return aiohttp.ClientTimeout(total=float(timeout), connect=connect)
        return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)

    @classmethod
    def from_env(cls, **kwargs: Any) -> OpenProject:
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

    async def __aenter__(self) -> OpenProject:
        self._session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel shared in-flight GETs and close the HTTP session if we opened it."""
        self._closed = True
        for entry in list(self._inflight.values()):
            entry.task.cancel()
        self._inflight.clear()
        if self._http is not None and self._own_http:
            await self._http.close()
        self._http = None

    @property
    def closed(self) -> bool:
        return self._closed

    def _session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise SessionClosed("this OpenProject session is closed; open a new one")
        if self._http is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_concurrency, limit_per_host=self.max_concurrency
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
                json_serialize=lambda o: _sansio.dumps(o).decode(),
            )
        return self._http

    # -- URLs ------------------------------------------------------------------------

    def resolve(self, href: str | URL) -> URL:
        """An absolute URL for an href: server hrefs carry a sub-path prefix, typed ones may not."""
        url = href if isinstance(href, URL) else URL(href)
        if url.is_absolute():
            return url
        path = url.path
        if self._prefix and not path.startswith(self._prefix + "/") and path.startswith(API_PATH):
            url = url.with_path(self._prefix + path, encoded=False)
        return self._origin.join(url)

    def same_origin(self, url: URL) -> bool:
        return url.origin() == self._origin

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

        ``retry=None`` retries what is safe (GET/HEAD/DELETE, form POSTs), ``True`` opts a
        side-effecting request in, ``False`` sends exactly once.
        """
        method = method.upper()
        url = self.resolve(href)
        if params:
            url = url.update_query(_sansio.encode_params(params))
        if not self.same_origin(url) and (
            self.cross_origin == "refuse"
            or (self.cross_origin == "refuse_writes" and method not in ("GET", "HEAD"))
        ):
            raise CrossOriginRefused(
                f"refusing {method} to {safe_url(url)}: not the configured server "
                f"{self._origin} (cross_origin={self.cross_origin!r})"
            )
        body: bytes | None = None
        if json is not None:
            body = _sansio.dumps(json)
        elif method not in ("GET", "HEAD") and data is None:
            body = b"{}" if method != "DELETE" else None
        ctimeout = (
            self._timeout(timeout, self.timeout.connect or 10.0, self.timeout.sock_read or 60.0)
            if timeout is not None
            else None
        )
        if method == "GET" and data is None and not headers and retry is None and ctimeout is None:
            return await self._merged_get(url)
        return await self._with_retries(method, url, body, data, headers, retry, ctimeout)

    async def _merged_get(self, url: URL) -> _sansio.Document | None:
        key = str(url)
        cached = self._schemas.get(key)
        if cached is not None:
            self.stats["cached"] += 1
            return cached
        entry = self._inflight.get(key)
        if entry is None:
            task = asyncio.ensure_future(
                self._with_retries("GET", url, None, None, None, None, None)
            )
            entry = self._inflight[key] = _Inflight(task)
            task.add_done_callback(
                lambda _t: (
                    self._inflight.pop(key, None) if self._inflight.get(key) is entry else None
                )
            )
        else:
            self.stats["merged"] += 1
        entry.waiters += 1
        try:
            doc = await asyncio.shield(entry.task)
        except asyncio.CancelledError:
            entry.waiters -= 1
            if entry.waiters <= 0 and not entry.task.done():
                entry.task.cancel()
            raise
        entry.waiters -= 1
        if doc is not None and doc.get("_type") == "Schema":
            self._schemas[key] = doc
        return doc

    def remember_schema(self, href: str, doc: _sansio.Document) -> None:
        """Cache a schema document (schemas do not change while a session runs)."""
        self._schemas[str(self.resolve(href))] = doc

    def cached_schema(self, href: str) -> _sansio.Document | None:
        return self._schemas.get(str(self.resolve(href)))

    async def _with_retries(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        data: Any,
        headers: Mapping[str, str] | None,
        retry: bool | None,
        timeout: aiohttp.ClientTimeout | None,
    ) -> _sansio.Document | None:
        policy = self.retry
        replayable = (
            retry is True
            or (
                retry is None
                and (method in IDEMPOTENT_METHODS or (method == "POST" and is_form_url(url.path)))
            )
        ) and data is None
        if policy is None or retry is False:
            return await self._send(method, url, body, data, headers, timeout, replayable)
        attempt_no = 0
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.deadline),
            wait=policy.wait,
            retry=retry_if_exception(lambda e: policy.retryable_error(e, replayable=replayable)),
            reraise=True,
        ):
            with attempt:
                attempt_no += 1
                if attempt_no > 1:
                    self.stats["retries"] += 1
                return await self._send(
                    method, url, body, data, headers, timeout, replayable, attempt_no
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        data: Any,
        headers: Mapping[str, str] | None,
        timeout: aiohttp.ClientTimeout | None,
        replayable: bool,
        attempt: int = 1,
    ) -> _sansio.Document | None:
        """One exchange (following redirects), with one re-authentication after a 401."""
        http = self._session()
        for reauth in (True, False):
            status, ctype, raw, rheaders, final, sent_auth = await self._exchange(
                http, method, url, body, data, headers, timeout, replayable, attempt
            )
            if (
                status == 401
                and reauth
                and self.auth is not None
                and sent_auth is not None
                and await self.auth.invalidate(sent_auth)
            ):
                continue
            try:
                return _sansio.decode(status, ctype, raw, url=safe_url(final))
            except (APIError, ProtocolError) as exc:
                hint = wait_hint(rheaders) if status in (429, 503) else None
                exc.retry_after = hint
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        http: aiohttp.ClientSession,
        method: str,
        url: URL,
        body: bytes | None,
        data: Any,
        headers: Mapping[str, str] | None,
        timeout: aiohttp.ClientTimeout | None,
        replayable: bool,
        attempt: int,
    ) -> tuple[int, str, bytes, Mapping[str, str], URL, str | None]:
        current, current_method, current_body = url, method, body
        for _hop in range(10):
            sent_auth: str | None = None
            hdrs: dict[str, str] = {"Accept": "application/hal+json, application/json"}
            hdrs.update(self._extra_headers)
            if current_body is not None or (current_method not in ("GET", "HEAD") and data is None):
                hdrs["Content-Type"] = "application/json"
            if headers:
                hdrs.update(headers)
            if self.auth is not None and self.same_origin(current):
                sent_auth = await self.auth.header(http, self.api_root)
                if sent_auth:
                    hdrs["Authorization"] = sent_auth
            started = time.monotonic()
            sent = False
            try:
                async with self._limit:
                    self.stats["requests"] += 1
                    extra: dict[str, Any] = {"timeout": timeout} if timeout else {}
                    async with http.request(
                        current_method,
                        current,
                        data=current_body if current_body is not None else data,
                        headers=hdrs,
                        allow_redirects=False,
                        **extra,
                    ) as resp:
                        sent = True
                        status = resp.status
                        raw = await resp.read()
                        ctype = resp.headers.get("Content-Type", "")
                        rheaders = resp.headers
                        location = resp.headers.get("Location")
            except TimeoutError:
                raise RequestTimeout(
                    f"{current_method} {safe_url(current)} timed out",
                    url=safe_url(current),
                    method=current_method,
                ) from None
            except aiohttp.ClientPayloadError as exc:
                if replayable:
                    perr = ProtocolError(
                        f"truncated answer ({type(exc).__name__})", url=safe_url(current)
                    )
                    perr.transient = True
                    raise perr from None
                raise OutcomeUnknown(
                    f"{current_method} {safe_url(current)}: the answer was cut off after the "
                    "request was sent; the server may have carried it out",
                    url=safe_url(current),
                    method=current_method,
                ) from None
            except aiohttp.ClientConnectorError as exc:
                err = ConnectionFailed(
                    f"cannot connect to {current.origin()} ({type(exc).__name__})",
                    url=safe_url(current),
                    method=current_method,
                )
                err.before_send = True
                raise err from None
            except aiohttp.ClientError as exc:
                if replayable:
                    raise ConnectionFailed(
                        f"{current_method} {safe_url(current)}: connection lost "
                        f"({type(exc).__name__})",
                        url=safe_url(current),
                        method=current_method,
                    ) from None
                raise OutcomeUnknown(
                    f"{current_method} {safe_url(current)}: connection lost after the request "
                    f"was sent ({type(exc).__name__}); the server may have carried it out — "
                    "check before sending it again",
                    url=safe_url(current),
                    method=current_method,
                ) from None
            finally:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s %s -> %s in %.3fs (attempt %d)",
                        current_method,
                        safe_url(current),
                        status if sent else "no answer",
                        time.monotonic() - started,
                        attempt,
                    )
            if status in _REDIRECTS and location:
                if current_method not in ("GET", "HEAD") and status not in (307, 308):
                    current_method, current_body = "GET", None
                current = current.join(URL(location))
                continue
            log.info(
                "%s %s %d %.3fs%s",
                current_method,
                safe_url(current),
                status,
                time.monotonic() - started,
                f" retry {attempt - 1}" if attempt > 1 else "",
            )
            return status, ctype, raw, rheaders, current, sent_auth
        raise ProtocolError("too many redirects", url=safe_url(url))

    # -- resources -------------------------------------------------------------------

    def wrap(self, doc: _sansio.Document, url: str | None = None) -> Any:
        """The right wrapper for a document: Form, Schema, Collection or Resource."""
        from ._wrap import wrap

        return wrap(self, doc)

    async def get(self, href: str, **params: Any) -> Any:
        """GET any href (or absolute URL on the server) and wrap the answer."""
        doc = await self.request("GET", href, params=params or None)
        if doc is None:
            raise ProtocolError("empty answer to GET", url=safe_url(self.resolve(href)))
        return self.wrap(doc)

    async def root(self) -> Any:
        """The API root ``/api/v3``."""
        return await self.get(str(self.api_root))

    async def get_many(self, hrefs: Iterable[str], *, concurrency: int | None = None) -> list[Any]:
        """GET several hrefs at once (at most ``concurrency`` in flight), results in input order."""
        items = list(hrefs)
        limit = asyncio.Semaphore(concurrency or self.max_concurrency)

        async def one(href: str) -> Any:
            async with limit:
                return await self.get(href)

        return await gather_ordered([one(h) for h in items])


async def gather_ordered(coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Await coroutines concurrently, results in order; on failure cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
