"""From one API request to HTTP exchanges: credentials, redirects, re-authentication, retries.

An :class:`~openproject_async._policy.ApiRequest` becomes one or more exchanges through a
:class:`~openproject_async._transport.Transport`: credentials only for the configured
origin, redirects followed hop by hop under the cross-origin policy, one
re-authentication after a 401, retries under the session's
:class:`~openproject_async.RetryPolicy`, and the answer decoded by ``_sansio``. The
decisions are made by ``_policy`` and ``_retry``; this module sequences them.

Logging: logger ``openproject_async``. Every HTTP exchange is a DEBUG record
``"<METHOD> <url> -> <status> in <s>s (retry <n>)"``; every retry an INFO record with the
reason and the wait; a request given up after retries a WARNING. The records carry
``method``, ``url``, ``status``, ``duration`` and ``retries`` attributes (``extra=``).
URLs are logged without user info and with secret-looking query values replaced by
``***``; headers and bodies are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from yarl import URL

from . import _policy, _sansio
from ._auth import Auth
from ._policy import ApiRequest, OriginPolicy, Timeouts, safe_url
from ._retry import RetryPolicy, describe, wait_hint
from ._transport import HttpRequest, Transport
from .errors import APIError, OpenProjectError, ProtocolError

log = logging.getLogger("openproject_async")


class Limit:
    """At most ``capacity`` holders at once (``async with limit:``), first come first served.

    Unlike ``asyncio.Semaphore`` the capacity can change while it is in use
    (:meth:`widen`): a reader asking for more pages in flight than the session's
    ``max_concurrency`` widens it for as long as it reads.
    """

    __slots__ = ("_waiters", "capacity", "used")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self.used < self.capacity and not self._waiters:
            self.used += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: give it back
                self._release()
            else:
                self._waiters.remove(fut)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        self.used -= 1
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.used < self.capacity:
            fut = waiters.popleft()
            if not fut.done():
                self.used += 1
                fut.set_result(None)

    def widen(self, extra: int) -> None:
        """Add ``extra`` places (negative: take them back once their holders leave)."""
        self.capacity += extra
        self._wake()


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: status, headers, body, the URL that answered, the auth sent."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: URL
    sent_auth: str | None


@dataclass(slots=True)
class Exchange:
    """Sends API requests for one session (its settings, transport and counters)."""

    transport: Transport
    origin: OriginPolicy
    api_root: URL
    auth: Auth | None
    retry: RetryPolicy | None
    timeouts: Timeouts
    resolve: Callable[[URL], URL]
    extra_headers: dict[str, str] = field(default_factory=dict)
    limit: Limit = field(default_factory=lambda: Limit(16))
    stats: dict[str, int] = field(default_factory=dict)
    _get_headers: dict[str, str] | None = field(default=None, init=False, repr=False)

    # -- retries -----------------------------------------------------------------------

    async def send(self, req: ApiRequest) -> _sansio.Answer:
        """Send ``req`` and retry it as the policy and :attr:`ApiRequest.replayable` allow."""
        policy = self.retry
        if policy is None or req.retry is False:
            return await self._attempt(req, 1)
        # The first try runs without tenacity: most requests succeed at once, and a
        # retry loop per request costs more than the request's own bookkeeping.
        started = time.monotonic()
        try:
            return await self._attempt(req, 1)
        except OpenProjectError as exc:
            replayable = req.replayable
            if policy.attempts < 2 or not policy.retryable_error(exc, replayable=replayable):
                exc.attempts = 1
                raise
            first = exc
        return await self._retry(req, policy, first, started)

    async def _retry(
        self, req: ApiRequest, policy: RetryPolicy, first: OpenProjectError, started: float
    ) -> _sansio.Answer:
        """Attempts 2.. after ``first`` failed, under tenacity."""
        replayable = req.replayable
        attempt_no = 0
        shown = safe_url(req.url)
        pending: OpenProjectError | None = first
        try:
            async for attempt in AsyncRetrying(
                stop=lambda state: policy.stop_after(state, time.monotonic() - started),
                wait=policy.wait,
                retry=retry_if_exception(
                    lambda e: policy.retryable_error(e, replayable=replayable)
                ),
                before_sleep=partial(self._log_retry, req, shown, policy.attempts),
                reraise=True,
            ):
                with attempt:
                    attempt_no += 1
                    if pending is not None:  # tenacity's attempt 1 is the try made before
                        failed, pending = pending, None
                        raise failed
                    return await self._attempt(req, attempt_no)
        except OpenProjectError as exc:
            exc.attempts = attempt_no
            if attempt_no > 1:
                log.warning(
                    "giving up %s %s after %d attempts: %s",
                    req.method,
                    shown,
                    attempt_no,
                    describe(exc),
                    extra=_extra(req.method, shown, exc, attempt_no - 1),
                )
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _log_retry(self, req: ApiRequest, shown: str, attempts: int, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.stats["retries"] += 1
        log.info(
            "retrying %s %s in %.2fs (attempt %d of %d failed: %s)",
            req.method,
            shown,
            state.upcoming_sleep,
            state.attempt_number,
            attempts,
            describe(exc) if exc else "?",
            extra=_extra(req.method, shown, exc, state.attempt_number),
        )

    # -- one attempt -------------------------------------------------------------------

    async def _attempt(self, req: ApiRequest, attempt: int) -> _sansio.Answer:
        """One attempt (following redirects), with one re-authentication after a 401."""
        for reauth in (True, False):
            got, location = await self._hop(req, attempt, first_hop=True, replayable=req.replayable)
            status = got.status
            if status in _policy.REDIRECTS:
                got = await self._follow(req, attempt, got, location)
                status = got.status
            if (
                status == 401
                and reauth
                and self.auth is not None
                and got.sent_auth is not None
                and await self.auth.invalidate(got.sent_auth)
            ):
                self.stats["reauthentications"] += 1
                continue
            if status == 404 and _policy.deleted_before(req, status, attempt):
                shown = safe_url(got.url)
                log.info(
                    "DELETE %s: 404 on retry %d, taken as already deleted",
                    shown,
                    attempt - 1,
                    extra={"method": req.method, "url": shown, "status": status},
                )
                return None
            return _decode(req, got)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _follow(
        self, req: ApiRequest, attempt: int, got: Answer, location: str | None
    ) -> Answer:
        """Follow the redirect ``got`` answered to ``req``, hop by hop."""
        hop = req
        replayable = req.replayable
        for _hop in range(_policy.MAX_REDIRECTS):
            nxt = _policy.redirect(hop, got.status, location, self.resolve)
            if nxt is None:
                return got
            self.origin.check(nxt.method, nxt.url, redirect_from=hop.url)
            hop = nxt
            got, location = await self._hop(hop, attempt, first_hop=False, replayable=replayable)
            if got.status not in _policy.REDIRECTS:
                return got
        if _policy.redirect(hop, got.status, location, self.resolve) is None:
            return got  # a redirect status without a usable Location: the answer as it is
        raise ProtocolError(f"more than {_policy.MAX_REDIRECTS} redirects", url=safe_url(req.url))

    async def _hop(
        self, hop: ApiRequest, attempt: int, *, first_hop: bool, replayable: bool
    ) -> tuple[Answer, str | None]:
        """One exchange through the transport: (answer, Location header)."""
        own = self.origin.same_origin(hop.url)
        if own and hop.method == "GET" and not hop.headers:
            # the same for every plain GET to the server: built once
            if self._get_headers is None:
                self._get_headers = _policy.hop_headers(
                    hop, own_origin=True, first_hop=True, extra=self.extra_headers
                )
            hdrs = dict(self._get_headers)
        else:
            hdrs = _policy.hop_headers(
                hop, own_origin=own, first_hop=first_hop, extra=self.extra_headers
            )
        sent_auth: str | None = None
        if own and self.auth is not None:  # (inline: one frame less on every request)
            sent_auth = await self.auth.header(self.transport, self.api_root)
            if sent_auth:
                hdrs["Authorization"] = sent_auth
        http = HttpRequest(hop.method, hop.url, hdrs, hop.payload, hop.timeout or self.timeouts)
        failure: OpenProjectError | None = None
        started = time.monotonic()
        try:
            async with self.limit:
                self.stats["requests"] += 1
                resp = await self.transport.handle(http)
                try:
                    raw = await resp.read()
                finally:
                    await resp.aclose()
        except OpenProjectError as exc:
            failure = _policy.outcome_of(exc, hop, replayable=replayable)
            self._log_hop(hop, attempt, None, type(exc).__name__, started)
        if failure is not None:
            raise failure  # outside the except block: no chained context
        status = resp.status
        if log.isEnabledFor(logging.DEBUG):
            self._log_hop(hop, attempt, status, str(status), started)
        answer = Answer(status, resp.headers, raw, hop.url, sent_auth)
        return answer, resp.headers.get("Location") if status in _policy.REDIRECTS else None

    def _log_hop(
        self, hop: ApiRequest, attempt: int, status: int | None, shown_status: str, started: float
    ) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        duration = time.monotonic() - started
        shown = safe_url(hop.url)
        log.debug(
            "%s %s -> %s in %.3fs%s",
            hop.method,
            shown,
            shown_status,
            duration,
            f" (retry {attempt - 1})" if attempt > 1 else "",
            extra={
                "method": hop.method,
                "url": shown,
                "status": status,
                "duration": duration,
                "retries": attempt - 1,
            },
        )


def _decode(req: ApiRequest, got: Answer) -> _sansio.Answer:
    """The decoded answer; error answers keep the server's wait hint."""
    ctype = got.headers.get("Content-Type", "")
    url = partial(safe_url, got.url)
    try:
        if req.text:
            return _sansio.decode_text(got.status, ctype, got.body, url=url)
        return _sansio.decode(got.status, ctype, got.body, url=url)
    except (APIError, ProtocolError) as exc:
        # the server's wait (429 RateLimit-Reset, Retry-After) is kept whether or not
        # this session retries: a caller without retries schedules its own
        exc.retry_after = wait_hint(got.headers)
        raise


def _extra(method: str, shown: str, exc: BaseException | None, retries: int) -> dict[str, object]:
    return {
        "method": method,
        "url": shown,
        "status": getattr(exc, "status", None),
        "retries": retries,
    }
