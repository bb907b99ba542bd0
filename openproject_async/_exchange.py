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

Limits: each exchange holds a concurrency slot for at most its total time limit (the
timeout's ``total``, else :data:`~._policy.ATTEMPT_TIMEOUT`) and never past the retry
policy's ``deadline`` for the whole call, counted from the moment the call first got a
slot; an answer larger than ``max_response_size`` (decoded) is not read any further.
The ``Authorization`` value is held as a :class:`~._policy.Secret`, so tracebacks that
record frame locals do not show it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from yarl import URL

from . import _policy, _sansio
from ._auth import Auth
from ._deadline import Clock, timed_out, with_total
from ._policy import ATTEMPT_TIMEOUT, ApiRequest, OriginPolicy, Secret, Timeouts, safe_url
from ._retry import RetryPolicy, describe, wait_hint
from ._tasks import Limit
from ._transport import HttpRequest, HttpResponse, Transport, WholeTimeout, read_limited
from .errors import APIError, OpenProjectError, ProtocolError

log = logging.getLogger("openproject_async")


@dataclass(slots=True)
class Answer:
    """What one exchange got: status, headers, body, the URL that answered, the auth sent,
    the ``Location`` header."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: URL
    sent_auth: str | None
    location: str | None = None

    def shown(self) -> str:
        """The URL that answered, as messages show it."""
        return safe_url(self.url)


#: The default of ``max_response_size``: far above the largest real page (1000 work
#: packages with their embedded schemas and links are a few MB).
MAX_RESPONSE_SIZE = 64 * 2**20


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
    max_response_size: int | None = MAX_RESPONSE_SIZE
    _resends_seen: int = field(default=0, init=False)
    _get_headers: dict[str, str] | None = field(default=None, init=False, repr=False)
    _first_timeouts: Timeouts | None = field(default=None, init=False, repr=False)
    _secret: Secret | None = field(default=None, init=False, repr=False)

    #: Does the transport stop an exchange at ``timeout.total`` itself?
    _transport_times: bool = field(default=False, init=False, repr=False)
    #: The auth object's ``fixed_header`` (an API key, a fixed token): sent as it is.
    _fixed_auth: Secret | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._transport_times = getattr(self.transport, "enforces_total", False) is True
        fixed = getattr(self.auth, "fixed_header", None)
        self._fixed_auth = Secret(fixed) if isinstance(fixed, str) and fixed else None

    # -- retries -----------------------------------------------------------------------

    async def send(self, req: ApiRequest) -> _sansio.Answer:
        """Send ``req`` and retry it as the policy and :attr:`ApiRequest.replayable` allow."""
        policy = self.retry
        clock = Clock(None if policy is None else policy.deadline)
        replayable = req.replayable
        if policy is None or req.retry is False:
            return await self._attempt(req, replayable, 1, clock)
        # The first try runs without tenacity: most requests succeed at once, and a
        # retry loop per request costs more than the request's own bookkeeping.
        try:
            return await self._attempt(req, replayable, 1, clock)
        except OpenProjectError as exc:
            if policy.attempts < 2 or not policy.retryable_error(exc, replayable=replayable):
                exc.attempts = 1
                raise
            first = exc
        # the call's time counts from its first slot (the clock's start), as its deadline
        started = time.monotonic() if clock.started is None else clock.started
        return await self._retry(req, policy, first, started, clock)

    async def _retry(
        self,
        req: ApiRequest,
        policy: RetryPolicy,
        first: OpenProjectError,
        started: float,
        clock: Clock,
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
                    return await self._attempt(req, replayable, attempt_no, clock)
        except OpenProjectError as exc:
            exc.attempts = attempt_no
            if attempt_no > 1:
                took = time.monotonic() - started
                exc.add_note(
                    f"{req.method} {shown}: gave up after {attempt_no} attempts in {took:.1f}s"
                )
                log.warning(
                    "giving up %s %s after %d attempts in %.1fs: %s",
                    req.method,
                    shown,
                    attempt_no,
                    took,
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

    async def _attempt(
        self, req: ApiRequest, replayable: bool, attempt: int, clock: Clock
    ) -> _sansio.Answer:
        """One attempt (following redirects), with one re-authentication after a 401."""
        for reauth in (True, False):
            got = await self._hop(req, True, replayable, attempt, clock)
            if got.status in _policy.REDIRECTS:
                got = await self._follow(req, got, replayable, attempt, clock)
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
            if _policy.deleted_before(req, status, attempt):
                shown = safe_url(got.url)
                log.info(
                    "DELETE %s: 404 on retry %d, taken as already deleted",
                    shown,
                    attempt - 1,
                    extra={"method": req.method, "url": shown, "status": status},
                )
                return None
            return _decode(req, got, self.auth)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _follow(
        self, req: ApiRequest, got: Answer, replayable: bool, attempt: int, clock: Clock
    ) -> Answer:
        """Follow the redirects that ``got`` (the answer to ``req``) starts, hop by hop."""
        hop = req
        for _hop in range(_policy.MAX_REDIRECTS + 1):
            nxt = _policy.redirect(hop, got.status, got.location, self.resolve)
            if nxt is None:
                return got
            if _hop == _policy.MAX_REDIRECTS:
                break
            self.origin.check(nxt.method, nxt.url, redirect_from=hop.url)
            hop = nxt
            got = await self._hop(hop, False, replayable, attempt, clock)
        raise ProtocolError(f"more than {_policy.MAX_REDIRECTS} redirects", url=safe_url(req.url))

    async def _hop(
        self, hop: ApiRequest, first_hop: bool, replayable: bool, attempt: int, clock: Clock
    ) -> Answer:
        """One exchange through the transport."""
        own = self.origin.same_origin(hop.url)
        if own and hop.method == "GET" and not hop.headers and hop.payload is None:
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
        if not own:
            sent_auth = None
        elif self._fixed_auth is not None:  # a key or a fixed token: no await needed
            hdrs["Authorization"] = sent_auth = self._fixed_auth
        else:
            sent_auth = await self._authorize(hdrs)
        failure: OpenProjectError | None = None
        debug = _debug()
        started = time.monotonic() if debug else 0.0
        limit = self.limit
        if not limit.take():
            await limit.wait()
        try:
            resp, raw = await self._exchange(hop, hdrs, attempt, clock)
        except OpenProjectError as exc:
            failure = _policy.outcome_of(exc, hop, replayable=replayable)
            if debug:
                self._log_hop(hop, attempt, None, type(exc).__name__, started)
        finally:
            limit.release()
        if failure is not None:
            raise failure  # outside the except block: no chained context
        if debug:
            self._log_hop(hop, attempt, resp.status, str(resp.status), started)
        headers = resp.headers
        return Answer(resp.status, headers, raw, hop.url, sent_auth, headers.get("Location"))

    async def _exchange(
        self, hop: ApiRequest, hdrs: dict[str, str], attempt: int, clock: Clock
    ) -> tuple[HttpResponse, bytes]:
        """The exchange itself, within its time limit and the size cap (holding a slot).

        The first exchange of a call has the same limit every time: a transport that
        enforces ``timeout.total`` itself (aiohttp's timer, which a request pays for
        anyway) gets it as that; later ones (redirects, retries) run under a timer here.
        """
        self.stats["requests"] += 1
        timeouts = hop.timeout or self.timeouts
        first = clock.started is None
        limit, by_deadline = clock.budget(timeouts.total or ATTEMPT_TIMEOUT)
        timer: asyncio.Timeout | None = None
        if first and self._transport_times:
            timeouts = self._whole(timeouts, limit)
        else:
            timer = asyncio.timeout(max(limit, 0.0))
        http = HttpRequest(hop.method, hop.url, hdrs, hop.payload, timeouts)
        try:
            if timer is None:
                return await self._read(http)
            async with timer:
                return await self._read(http)
        except WholeTimeout:
            pass  # the transport stopped it at its total: this limit (or a longer one of the call)
        except TimeoutError:
            if timer is None or not timer.expired():
                raise
        finally:
            self._count_resends()
        raise timed_out(http.method, http.url, limit, by_deadline, attempt, clock)  # no context

    async def _read(self, http: HttpRequest) -> tuple[HttpResponse, bytes]:
        resp = await self.transport.handle(http)
        try:
            return resp, await read_limited(resp, self.max_response_size, http.url)
        finally:
            await resp.aclose()

    def _whole(self, timeouts: Timeouts, total: float) -> Timeouts:
        """``timeouts`` with ``total`` (the session's own: made once).

        A read timeout as long as the total or longer cannot fire first: it is left out
        (aiohttp re-arms a read timer on every chunk received).
        """
        if timeouts is self.timeouts:
            cached = self._first_timeouts
            if cached is None or cached.total != total:
                cached = self._first_timeouts = with_total(timeouts, total)
            return cached
        return with_total(timeouts, total)

    def _count_resends(self) -> None:
        """Add the transport's own re-sends (aiohttp, on a dropped kept-alive connection)."""
        resends = getattr(self.transport, "resends", 0)
        if resends != self._resends_seen and isinstance(resends, int):
            self.stats["requests"] += resends - self._resends_seen
            self._resends_seen = resends

    async def _authorize(self, hdrs: dict[str, str]) -> Secret | None:
        """Add the Authorization header (own origin only); the value sent, for a 401."""
        if self.auth is None:
            return None
        value = await self.auth.header(self.transport, self.api_root)
        if not value:
            return None
        secret = self._secret
        if secret is None or secret != value:  # the same value each time: wrapped once
            secret = self._secret = Secret(value)
        hdrs["Authorization"] = secret
        return secret

    def _log_hop(
        self, hop: ApiRequest, attempt: int, status: int | None, shown_status: str, started: float
    ) -> None:
        if not _debug():
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


def _debug() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def _decode(req: ApiRequest, got: Answer, auth: Auth | None) -> _sansio.Answer:
    """The decoded answer; error answers keep the server's wait hint, a final 401 the
    auth object's hint (a key given as token=, say)."""
    ctype = got.headers.get("Content-Type", "")
    url = got.shown  # called only for an error
    try:
        if req.text:
            return _sansio.decode_text(got.status, ctype, got.body, url=url)
        return _sansio.decode(got.status, ctype, got.body, url=url)
    except (APIError, ProtocolError) as exc:
        # the server's wait (429 RateLimit-Reset, Retry-After) is kept whether or not
        # this session retries: a caller without retries schedules its own
        exc.retry_after = wait_hint(got.headers)
        hint = getattr(auth, "hint", None)
        if got.status == 401 and isinstance(hint, str) and got.sent_auth is not None:
            exc.args = (f"{exc}; {hint}",)
        raise


def _extra(method: str, shown: str, exc: BaseException | None, retries: int) -> dict[str, object]:
    return {
        "method": method,
        "url": shown,
        "status": getattr(exc, "status", None),
        "retries": retries,
    }
