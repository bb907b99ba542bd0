"""``OpenProject``: the public session, where requests meet resources.

The top of the library: :class:`OpenProject` is a :class:`~._session.Session` (requests,
limits, caches) that also wraps documents into resources and composes the modules that
resources reach through it (forms, schemas, custom actions). A resource never imports
those modules; it asks its session.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Literal, TypeVar, overload

# _attachments, _collection and _preview are imported for what they register on import
# (their resource kinds and special links), like _forms and _schema.
from . import (  # noqa: F401
    _attachments,
    _collection,
    _custom_actions,
    _downloads,
    _forms,
    _preview,
    _schema,
)
from ._changes import ChangeFeed
from ._forms import Form, MergeCallback
from ._jobs import wait_for_job
from ._multipart import ProgressCallback, Source
from ._registry import R, expect_kind
from ._resource import Resource, wrap
from ._schema import Schema
from ._session import Session, Timeout
from ._tasks import gather_ordered
from .errors import OpenProjectError, ProtocolError

T = TypeVar("T")


class OpenProject(Session):
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
      404 counts as done (an earlier try may have deleted the resource). Never retried
      unless the call says ``retry=True``: creates, comments, watchers, PATCH. (A repeated
      PATCH whose first try did land would fail with 409 UpdateConflict anyway: its
      ``lockVersion`` is stale by then.) A request with side effects whose answer is lost
      raises :class:`~openproject_async.errors.OutcomeUnknown`.
    * ``connect_timeout`` / ``read_timeout`` (seconds, default 10 / 60), or ``timeout=``
      (seconds for the whole exchange, or an ``aiohttp.ClientTimeout``); ``request()``
      takes a per-call ``timeout=``. A timeout raises
      :class:`~openproject_async.errors.RequestTimeout` naming the URL. Each exchange
      takes at most the ``timeout`` total (else 300 s) and a call at most the retry
      policy's ``deadline``, the try in flight included.
    * ``max_response_size``: bytes an answer may have, decoded (default 64 MiB, None: no
      cap); a larger one raises :class:`~openproject_async.errors.ResponseTooLarge`
      without being read to its end.
    * ``cross_origin``: links to another origin (scheme, host, port) are always sent
      without credentials; ``"refuse_writes"`` (default) refuses anything but GET/HEAD to
      them, ``"refuse"`` refuses every request, ``"allow"`` sends them (still without
      credentials). Redirects are followed hop by hop with the same rules.
    * ``headers``: extra headers for requests to the configured origin only.
    * ``anonymous=True``: a session without credentials, said on purpose (no credential
      argument at all means the same; an explicit ``api_key=None`` or ``token=None``
      without it raises ``ValueError``: an unset variable should not make a silent
      anonymous session). One session belongs to one event loop (``WrongEventLoop``).
    * ``transport``: what performs the HTTP exchanges (default: an aiohttp session, made
      on first use and keeping no cookies, or ``http_session=`` yours, used as it is,
      cookie jar included); ``openproject_async.testing.MockTransport`` answers from a
      function, for tests.
    """

    # -- resources -------------------------------------------------------------------

    def wrap(self, doc: dict[str, Any]) -> Resource:
        """The right wrapper for a document: Form, Schema, Collection or Resource."""
        return wrap(self, doc)

    @overload
    async def get(
        self,
        href: str,
        *,
        expect: type[R],
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **query: Any,
    ) -> R: ...

    @overload
    async def get(
        self,
        href: str,
        *,
        expect: None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **query: Any,
    ) -> Resource: ...

    async def get(
        self,
        href: str,
        *,
        expect: type[Resource] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **query: Any,
    ) -> Resource:
        """GET any href (or absolute URL on the server) and wrap the answer.

        Other keyword arguments are query parameters (``filters``/``sortBy`` lists
        JSON-encoded); ``params=`` takes them as a mapping too (for names such as
        ``timeout`` or ``retry``). ``timeout=`` (seconds or an ``aiohttp.ClientTimeout``)
        and ``retry=`` (``False``: send once) apply to this call only. ``expect=Collection``
        (or any Resource class) types the result and raises
        :class:`~openproject_async.errors.UnexpectedResource` when the answer is another kind.
        """
        merged = {**query, **params} if params else query
        doc = await self.request("GET", href, params=merged or None, timeout=timeout, retry=retry)
        if doc is None:
            raise ProtocolError("empty answer to GET", url=str(self.resolve(href)))
        resource = wrap(self, doc)
        return resource if expect is None else expect_kind(resource, expect, f"GET {href}")

    async def root(self) -> Resource:
        """The API root ``/api/v3``."""
        return await self.get(str(self.api_root))

    @overload
    async def get_many(
        self,
        hrefs: Iterable[str],
        *,
        concurrency: int | None = None,
        return_exceptions: Literal[False] = False,
    ) -> list[Resource]: ...

    @overload
    async def get_many(
        self, hrefs: Iterable[str], *, concurrency: int | None = None, return_exceptions: bool
    ) -> list[Resource | Exception]: ...

    async def get_many(
        self,
        hrefs: Iterable[str],
        *,
        concurrency: int | None = None,
        return_exceptions: bool = False,
    ) -> list[Resource] | list[Resource | Exception]:
        """GET several hrefs at once (at most ``concurrency`` in flight), results in input order.

        ``concurrency`` defaults to the session's ``max_concurrency`` (which caps it anyway).
        The first failure raises and cancels the requests still in flight; with
        ``return_exceptions=True`` every request runs and each failure takes its place in
        the list (as ``asyncio.gather`` does).
        """
        limit = asyncio.Semaphore(_concurrency(concurrency, self.max_concurrency))
        if isinstance(hrefs, str):
            raise TypeError("get_many takes an iterable of hrefs, not one href (use get)")
        items = list(hrefs)

        async def one(href: str) -> Resource:
            async with limit:
                return await self.get(href)

        async def caught(href: str) -> Resource | Exception:
            try:
                return await one(href)
            except Exception as exc:
                return exc

        if return_exceptions:
            return await gather_ordered([caught(h) for h in items])
        return await gather_ordered([one(h) for h in items])

    # -- bots: change feeds and background jobs --------------------------------------

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
    ) -> Resource:
        """Wait for a background job (a JobStatus resource or its href) to finish.

        Polls its status, waiting ``interval`` seconds at first and twice as long each
        time up to ``max_interval``. Returns what the job made (the resource its payload
        links, e.g. the copied project), or the final JobStatus when it links nothing.
        Raises :class:`~openproject_async.errors.JobFailed` (the server's ``message``) when
        it fails, errs or is cancelled, ``TimeoutError`` after ``timeout`` seconds.
        """
        return await wait_for_job(
            self, job, timeout=timeout, interval=interval, max_interval=max_interval
        )

    async def upload(
        self,
        source: Source,
        file_name: str | None = None,
        content_type: str | None = None,
        *,
        description: str | None = None,
        direct: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Resource:
        """Upload a file without a container (``POST /api/v3/attachments``): the Attachment.

        ``source`` is a path, bytes or a binary file object, streamed (memory does not
        grow with the file). ``file_name`` defaults to the path's name, ``content_type``
        is guessed from the name. Claim it by passing it in ``attachments=[...]`` to a
        work package create or update (``submit``/``save``). ``direct=True`` uploads
        straight to the server's object storage (``/api/v3/attachments/prepare``; only
        where the server is configured for direct uploads). ``progress(bytes_sent,
        size_or_None)`` is called as the file goes out.
        """
        return await _attachments.upload_containerless(
            self,
            source,
            file_name=file_name,
            content_type=content_type,
            description=description,
            direct=direct,
            progress=progress,
        )

    async def gather(
        self, *aws: Awaitable[T], concurrency: int | None = None
    ) -> list[T | OpenProjectError]:
        """Await many operations at once (at most ``concurrency``), one result per operation.

        ``await op.gather(*(wp.save(subject=s) for wp, s in changes), concurrency=8)``:
        results in input order, each the operation's value or the
        :class:`~openproject_async.errors.OpenProjectError` it raised (a conflict, a
        validation error...), so that one failure neither hides the others' results nor
        stops them. Anything else raised (a bug, a cancellation) cancels the rest and
        propagates. ``concurrency`` defaults to ``max_concurrency``; more widens the
        session's limit while the operations run (as ``iterate(concurrency=n)`` does).
        """
        n = _concurrency(concurrency, self.max_concurrency)
        limit = asyncio.Semaphore(n)

        async def one(aw: Awaitable[T]) -> T | OpenProjectError:
            try:
                async with limit:
                    return await aw
            except OpenProjectError as exc:
                return exc
            finally:
                if inspect.iscoroutine(aw) and inspect.getcoroutinestate(aw) == "CORO_CREATED":
                    aw.close()  # cancelled before it started: no "never awaited" warning

        with self._widened(n):
            return await gather_ordered([one(aw) for aw in aws])

    # -- what resources reach through their session ----------------------------------

    async def _open_form(
        self,
        resource: Resource,
        rel: str,
        values: Mapping[str, Any],
        fields: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout = None,
    ) -> Form:
        return await _forms.open_form(resource, rel, values, fields, timeout=timeout)

    async def _submit(
        self,
        resource: Resource,
        rel: str,
        values: Mapping[str, Any],
        *,
        fields: Mapping[str, Any] | None,
        notify: bool | None,
        retry_conflicts: int,
        merge: MergeCallback | None,
        timeout: Timeout = None,
        retry: bool | None = None,
    ) -> Resource:
        return await _forms.submit(
            resource,
            rel,
            values,
            fields=fields,
            notify=notify,
            retry_conflicts=retry_conflicts,
            merge=merge,
            timeout=timeout,
            retry=retry,
        )

    async def _load_schema(self, resource: Resource) -> Schema | None:
        return await _schema.load_schema(resource)

    def _field_value(self, resource: Resource, name: str) -> Any:
        return _schema.field_value(resource, name)

    async def _execute_custom_action(
        self, resource: Resource, action: Any, *, notify: bool | None, retry_conflicts: int
    ) -> Resource:
        return await _custom_actions.execute_custom_action(
            resource, action, notify=notify, retry_conflicts=retry_conflicts
        )


def _concurrency(value: Any, default: int) -> int:
    """``concurrency=`` of get_many/gather: ``default`` for None, else an int >= 1."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"concurrency must be an int >= 1 or None, got {value!r}")
    return value
