"""``OpenProject``: one aiohttp session, its credentials, limits, retries and caches.

Every request of the library goes through :meth:`OpenProject.request`: it resolves the
href against the server, refuses what the cross-origin policy forbids, merges identical
GETs that are in flight at the same moment (and answers schema GETs from a cache), and
hands the rest to the exchange layer in ``_transport`` (credentials for the server's own
origin only, at most ``max_concurrency`` requests in flight, redirects, retries, typed
errors, logging), which decodes the answer with ``_sansio``.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import warnings
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from . import _sansio
from ._auth import ApiKey, Auth, BearerToken, OAuthClientCredentials
from ._retry import RetryPolicy
from ._transport import ApiRequest, CrossOriginPolicy, Transport, is_loopback, safe_url
from .errors import InsecureTransportWarning, InvalidHref, ProtocolError, SessionClosed

if TYPE_CHECKING:
    from ._changes import ChangeFeed

API_PATH = "/api/v3"
USER_AGENT = "openproject-async/0.1"
_CROSS_ORIGIN_POLICIES = ("refuse_writes", "refuse", "allow")

#: Origins already warned about (plain http to a non-loopback host): once per process.
_WARNED_INSECURE: set[str] = set()


class _Inflight:
    """One shared GET and how many callers still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[_sansio.Answer]) -> None:
        self.task = task
        self.waiters = 0


class OpenProject(Transport):
    """An asyncio session with one OpenProject server.

    ``url`` is the server's base URL (``https://op.example.com`` or, for a sub-path
    deployment, ``https://example.com/openproject``); the API root is ``url + /api/v3``.
    Give one of ``api_key=``, ``token=``, ``oauth=`` (an :class:`OAuthClientCredentials`)
    or ``auth=`` (any object with the :class:`~openproject_async._auth.Auth` methods).
    Use it as ``async with OpenProject(...) as op:``; it closes everything it opened.

    Limits and failures:

    * ``max_concurrency``: requests in flight at once, for the whole session.
    * ``retry``: a :class:`RetryPolicy` (``None`` disables retries). Retried on their
      own: GET, HEAD, DELETE and POSTs to form endpoints; a request that never reached
      the server (connection refused) whatever its method. A retried DELETE that gets
      404 counts as done (an earlier try may have deleted the resource). Never retried unless the
      call says ``retry=True``: creates, comments, watchers, PATCH. (A repeated PATCH whose
      first try did land would fail with 409 UpdateConflict anyway: its ``lockVersion``
      is stale by then.) A request with side effects whose answer is lost raises
      :class:`~openproject_async.errors.OutcomeUnknown`.
    * ``connect_timeout`` / ``read_timeout`` (seconds, default 10 / 60), or ``timeout=``
      (seconds for the whole exchange, or an ``aiohttp.ClientTimeout``); ``request()``
      takes a per-call ``timeout=``. A timeout raises
      :class:`~openproject_async.errors.RequestTimeout` naming the URL.
    * ``cross_origin``: links to another origin (scheme, host, port) are always sent
      without credentials; ``"refuse_writes"`` (default) refuses anything but GET/HEAD to
      them, ``"refuse"`` refuses every request, ``"allow"`` sends them (still without
      credentials). Redirects are followed hop by hop with the same rules.
    * ``headers``: extra headers for requests to the configured origin only.
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
            shown = type(url).__name__ if not isinstance(url, str) else url.split(":", 1)[0]
            raise ValueError(f"url must be an http(s) URL of the server, got a {shown!r} value")
        try:
            base = URL(url.rstrip("/"))
        except ValueError:
            raise ValueError("url is not a valid URL") from None
        if base.user is not None or base.password is not None:
            raise ValueError(
                f"url must not contain credentials ({safe_url(base)}); "
                "pass api_key=, token= or oauth= instead"
            )
        if not base.host:
            raise ValueError(f"url has no host: {safe_url(base)!r}")
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(
                f"retry must be a RetryPolicy or None (no retries), got {type(retry).__name__}"
            )
        if cross_origin not in _CROSS_ORIGIN_POLICIES:
            raise ValueError(
                f"cross_origin must be one of {', '.join(_CROSS_ORIGIN_POLICIES)}, "
                f"got {cross_origin!r}"
            )
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
        self.stats: dict[str, int] = {
            "requests": 0,  # HTTP exchanges sent (redirect hops and retries included)
            "retries": 0,  # retries scheduled by the retry policy
            "merged": 0,  # GETs answered by an identical GET already in flight
            "cached": 0,  # schemas answered from the cache (no request)
            "reauthentications": 0,  # 401 answers followed by a fresh token
        }
        self._warn_insecure()

    def _warn_insecure(self) -> None:
        if self.base_url.scheme != "http" or self.auth is None or is_loopback(self.base_url.host):
            return
        key = str(self._origin)
        if key in _WARNED_INSECURE:
            return
        _WARNED_INSECURE.add(key)
        warnings.warn(
            f"OpenProject at {key} over plain http: credentials travel unencrypted "
            "(this warning is shown once per process and server)",
            InsecureTransportWarning,
            stacklevel=3,
        )

    @staticmethod
    def _timeout(
        timeout: aiohttp.ClientTimeout | float | None, connect: float, read: float
    ) -> aiohttp.ClientTimeout:
        if isinstance(timeout, aiohttp.ClientTimeout):
            return timeout
        for name, value in (("connect_timeout", connect), ("read_timeout", read)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be seconds > 0, got {value!r}")
        if timeout is None:
            return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ValueError(
                f"timeout must be seconds > 0 or an aiohttp.ClientTimeout, got {timeout!r}"
            )
        return aiohttp.ClientTimeout(
            total=float(timeout), connect=min(connect, float(timeout)), sock_read=read
        )

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
        """Cancel shared in-flight GETs and close the HTTP session if we opened it.

        Callers waiting on a shared GET get :class:`SessionClosed`. Idempotent.
        """
        self._closed = True
        tasks = [entry.task for entry in self._inflight.values()]
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        http, self._http = self._http, None
        if http is not None and self._own_http:
            await http.close()

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

    def _session(self) -> aiohttp.ClientSession:
        self._check_open()
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
                url = self._origin.join(url)
            elif not url.scheme:  # "//host/path": the server's scheme
                url = self._origin.join(url)
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
            answer = await self._with_retries(req)
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
    ) -> str:
        """A request whose 2xx answer is text (``/render/markdown``): that text.

        Error answers raise as for :meth:`request`.
        """
        req = self._api_request(method, href, None, data, params, headers, retry, None)
        answer = await self._with_retries(replace(req, text=True))
        if not isinstance(answer, str):  # pragma: no cover - text requests answer text
            raise ProtocolError("expected a text answer", url=safe_url(req.url))
        return answer

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
        self._check_cross_origin(method, url, redirect_from=None)
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
            task = asyncio.ensure_future(self._with_retries(ApiRequest("GET", url)))
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
        """GET several hrefs at once (at most ``concurrency`` in flight), results in input order.

        ``concurrency`` defaults to the session's ``max_concurrency`` (which caps it anyway).
        The first failure raises and cancels the requests still in flight.
        """
        if concurrency is not None and (
            not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
        ):
            raise ValueError(f"concurrency must be an int >= 1 or None, got {concurrency!r}")
        if isinstance(hrefs, str):
            raise TypeError("get_many takes an iterable of hrefs, not one href (use get)")
        items = list(hrefs)
        limit = asyncio.Semaphore(concurrency or self.max_concurrency)

        async def one(href: str) -> Any:
            async with limit:
                return await self.get(href)

        return await gather_ordered([one(h) for h in items])

    # -- bots: change feeds and background jobs (thin wrappers) --------------------------

    def changes(
        self,
        href: str,
        *,
        since: str | datetime.datetime | None = None,
        interval: float = 30.0,
        filters: Iterable[Mapping[str, Any]] | None = None,
        page_size: int = 100,
        overlap: float = 1.0,
        params: Mapping[str, Any] | None = None,
    ) -> ChangeFeed:
        """Every resource of the collection ``href`` changed since ``since``, as it changes.

        ``async for r in op.changes("/api/v3/work_packages", since=...)`` yields each
        changed resource once (its latest state), oldest change first, polling every
        ``interval`` seconds; ``feed.cursor`` resumes exactly (``since=feed.cursor``).
        ``since``: a cursor, a datetime (naive = UTC) or None (now). ``filters`` narrow the
        collection (the feed adds ``updatedAt``). A collection without ``updatedAt``
        raises :class:`~openproject_async.errors.ChangesUnsupported`. See
        ``openproject_async._changes``.
        """
        from ._changes import ChangeFeed

        return ChangeFeed(
            self,
            href,
            since=since,
            interval=interval,
            filters=filters,
            page_size=page_size,
            overlap=overlap,
            params=params,
        )

    async def wait_for_job(
        self,
        job: Any,
        *,
        timeout: float | None = 300.0,
        interval: float = 0.2,
        max_interval: float = 5.0,
    ) -> Any:
        """Wait for a background job (a JobStatus resource or its href) to finish.

        Polls its status, waiting ``interval`` seconds at first and twice as long each
        time up to ``max_interval``. Returns what the job made (the resource its payload
        links, e.g. the copied project), or the final JobStatus when it links nothing.
        Raises :class:`~openproject_async.errors.JobFailed` (the server's ``message``) when
        it fails, errs or is cancelled, ``TimeoutError`` after ``timeout`` seconds.
        """
        from ._jobs import wait_for_job

        return await wait_for_job(
            self, job, timeout=timeout, interval=interval, max_interval=max_interval
        )


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
