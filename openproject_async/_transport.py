"""The HTTP exchange layer under :class:`~openproject_async.OpenProject`.

One API request (an :class:`ApiRequest`) becomes one or more HTTP exchanges through
aiohttp: credentials only for the configured origin, redirects followed hop by hop under
the cross-origin policy, one re-authentication after a 401, retries under the session's
:class:`~openproject_async.RetryPolicy`, and every aiohttp/OS failure mapped to the
library's own errors (never chained to the aiohttp exception).

Logging: logger ``openproject_async``. Every HTTP exchange is a DEBUG record
``"<METHOD> <url> -> <status> in <s>s (retry <n>)"``; every retry an INFO record with the
reason and the wait; a request given up after retries a WARNING. The records carry
``method``, ``url``, ``status``, ``duration`` and ``retries`` attributes (``extra=``).
URLs are logged without user info and with secret-looking query values replaced by
``***``; headers and bodies are never logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from yarl import URL

from . import _sansio
from ._auth import Auth
from ._retry import IDEMPOTENT_METHODS, RetryPolicy, describe, is_form_url, wait_hint
from .errors import (
    APIError,
    ConnectionFailed,
    CrossOriginRefused,
    InvalidHref,
    OpenProjectError,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    TimeoutOutcomeUnknown,
)

log = logging.getLogger("openproject_async")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature", "code", "auth")

CrossOriginPolicy = Literal["refuse_writes", "refuse", "allow"]


def safe_url(url: URL) -> str:
    """The URL for messages and logs: no user info, secret-looking query values hidden."""
    url = url.with_user(None).with_password(None)
    if url.query:
        q = [
            (k, "***" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
            for k, v in url.query.items()
        ]
        url = url.with_query(q)
    return str(url)


def is_loopback(host: str | None) -> bool:
    """``localhost`` (and ``*.localhost``), 127.0.0.0/8 and ``::1``."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin_key(url: URL) -> tuple[str, str, int | None]:
    """(scheme, host, effective port): ``https://h`` and ``https://h:443`` are one origin."""
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One API request as the caller asked for it; retries resend it, redirects derive hops.

    ``body`` is the encoded JSON body (``request(json=...)``, or ``{}`` for a bodiless
    write); ``data`` is a raw body handed over as is (bytes, str, a form, a stream).
    ``retry`` is the per-call override, ``timeout`` the per-call limits (None: session's).
    ``text``: the answer is text (``/render/markdown``), returned as ``str`` when 2xx.
    """

    method: str
    url: URL
    body: bytes | None = None
    data: Any = None
    headers: Mapping[str, str] | None = None
    retry: bool | None = None
    timeout: aiohttp.ClientTimeout | None = None
    text: bool = False

    @property
    def replayable(self) -> bool:
        """May this request be sent again after an attempt that may have reached the server?

        Safe methods and form POSTs may, and anything the caller opted in with
        ``retry=True``, provided the body can be sent again unchanged: none, JSON, or a
        ``bytes``/``bytearray``/``str`` body. A stream or file object was consumed by the
        first attempt, so a request carrying one never is.
        """
        safe = self.retry is True or (
            self.retry is None
            and (
                self.method in IDEMPOTENT_METHODS
                or (self.method == "POST" and is_form_url(self.url.path))
            )
        )
        return safe and (self.data is None or isinstance(self.data, bytes | bytearray | str))


class Transport:
    """The exchange half of :class:`~openproject_async.OpenProject` (a mixin).

    It uses the session's settings below, read at each request, and two of its methods:
    ``_session()`` (the open aiohttp session) and ``resolve()`` (for redirect targets).
    """

    base_url: URL
    api_root: URL
    auth: Auth | None
    retry: RetryPolicy | None
    timeout: aiohttp.ClientTimeout
    cross_origin: CrossOriginPolicy
    stats: dict[str, int]
    _origin: URL
    _extra_headers: dict[str, str]
    _limit: asyncio.Semaphore

    if TYPE_CHECKING:

        def _session(self) -> aiohttp.ClientSession: ...

        def resolve(self, href: str | URL) -> URL: ...

    # -- cross-origin policy -----------------------------------------------------------

    def same_origin(self, url: URL) -> bool:
        """Is ``url`` on the configured server (same scheme, host and port)?"""
        return _origin_key(url) == _origin_key(self.base_url)

    def _check_cross_origin(self, method: str, url: URL, *, redirect_from: URL | None) -> None:
        """Refuse, before anything is sent, what the ``cross_origin`` policy forbids."""
        if self.same_origin(url) or self.cross_origin == "allow":
            return
        if self.cross_origin == "refuse" or method not in ("GET", "HEAD"):
            via = f" (redirected from {safe_url(redirect_from)})" if redirect_from else ""
            raise CrossOriginRefused(
                f"refusing {method} to {safe_url(url)}{via}: not the configured server "
                f"{self._origin} (cross_origin={self.cross_origin!r})"
            )

    # -- retries -----------------------------------------------------------------------

    async def _with_retries(self, req: ApiRequest) -> _sansio.Answer:
        """Send ``req`` and retry it as the policy and :attr:`ApiRequest.replayable` allow."""
        policy = self.retry
        if policy is None or req.retry is False:
            return await self._send(req, 1)
        replayable = req.replayable
        # The first try runs without tenacity: most requests succeed at once, and a
        # retry loop per request costs more than the request's own bookkeeping.
        started = time.monotonic()
        try:
            return await self._send(req, 1)
        except OpenProjectError as exc:
            if policy.attempts < 2 or not policy.retryable_error(exc, replayable=replayable):
                exc.attempts = 1
                raise
            first: OpenProjectError | None = exc
        attempt_no = 0
        shown = safe_url(req.url)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats["retries"] += 1
            log.info(
                "retrying %s %s in %.2fs (attempt %d of %d failed: %s)",
                req.method,
                shown,
                state.upcoming_sleep,
                state.attempt_number,
                policy.attempts,
                describe(exc) if exc else "?",
                extra={
                    "method": req.method,
                    "url": shown,
                    "status": getattr(exc, "status", None),
                    "retries": state.attempt_number,
                },
            )

        try:
            async for attempt in AsyncRetrying(
                stop=lambda state: policy.stop_after(state, time.monotonic() - started),
                wait=policy.wait,
                retry=retry_if_exception(
                    lambda e: policy.retryable_error(e, replayable=replayable)
                ),
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    attempt_no += 1
                    if first is not None:  # tenacity's attempt 1 is the try made above
                        failed, first = first, None
                        raise failed
                    return await self._send(req, attempt_no)
        except OpenProjectError as exc:
            exc.attempts = attempt_no
            if attempt_no > 1:
                log.warning(
                    "giving up %s %s after %d attempts: %s",
                    req.method,
                    shown,
                    attempt_no,
                    describe(exc),
                    extra={
                        "method": req.method,
                        "url": shown,
                        "status": getattr(exc, "status", None),
                        "retries": attempt_no - 1,
                    },
                )
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- one attempt -------------------------------------------------------------------

    async def _send(self, req: ApiRequest, attempt: int) -> _sansio.Answer:
        """One attempt (following redirects), with one re-authentication after a 401."""
        for reauth in (True, False):
            http = self._session()
            status, ctype, raw, rheaders, final, sent_auth = await self._exchange(
                http, req, attempt
            )
            if (
                status == 401
                and reauth
                and self.auth is not None
                and sent_auth is not None
                and await self.auth.invalidate(sent_auth)
            ):
                self.stats["reauthentications"] += 1
                continue
            if status == 404 and req.method == "DELETE" and attempt > 1:
                # A retried DELETE: the earlier try may have deleted it already. Either
                # way the resource is gone, which is what DELETE asks for.
                log.info(
                    "DELETE %s: 404 on retry %d, taken as already deleted",
                    safe_url(final),
                    attempt - 1,
                    extra={"method": req.method, "url": safe_url(final), "status": status},
                )
                return None
            try:
                if req.text:
                    return _sansio.decode_text(status, ctype, raw, url=partial(safe_url, final))
                return _sansio.decode(status, ctype, raw, url=partial(safe_url, final))
            except (APIError, ProtocolError) as exc:
                # the server's wait (429 RateLimit-Reset, Retry-After) is kept whether or
                # not this session retries: a caller without retries schedules its own
                exc.retry_after = wait_hint(rheaders)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _headers(self, hop: ApiRequest, own_origin: bool, first_hop: bool) -> dict[str, str]:
        """Headers for one hop: the caller's and the session's extras only where they belong."""
        hdrs: dict[str, str] = {"Accept": "application/hal+json, application/json"}
        if own_origin:
            hdrs.update(self._extra_headers)
        if hop.body is not None or (hop.method not in ("GET", "HEAD") and hop.data is None):
            hdrs["Content-Type"] = "application/json"
        if hop.headers and (own_origin or first_hop):
            hdrs.update(hop.headers)
        if not own_origin:
            for name in list(hdrs):
                if name.lower() in ("authorization", "cookie", "proxy-authorization"):
                    del hdrs[name]
        return hdrs

    async def _exchange(
        self, http: aiohttp.ClientSession, req: ApiRequest, attempt: int
    ) -> tuple[int, str, bytes, Mapping[str, str], URL, str | None]:
        """Send ``req``, following redirects: (status, type, body, headers, final URL, auth)."""
        hop = req
        previous: URL | None = None
        for _hop in range(_MAX_REDIRECTS + 1):
            current = hop.url
            own = self.same_origin(current)
            hdrs = self._headers(hop, own, previous is None)
            sent_auth: str | None = None
            if self.auth is not None and own:
                sent_auth = await self.auth.header(http, self.api_root)
                if sent_auth:
                    hdrs["Authorization"] = sent_auth
            failure: OpenProjectError | None = None
            status: int | None = None
            started = time.monotonic()
            try:
                async with self._limit:
                    self.stats["requests"] += 1
                    extra: dict[str, Any] = {"timeout": hop.timeout} if hop.timeout else {}
                    async with http.request(
                        hop.method,
                        current,
                        data=hop.body if hop.body is not None else hop.data,
                        headers=hdrs,
                        allow_redirects=False,
                        **extra,
                    ) as resp:
                        status = resp.status
                        raw = await resp.read()
                        ctype = resp.headers.get("Content-Type", "")
                        rheaders = resp.headers
                        location = resp.headers.get("Location")
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = self._transport_error(exc, hop, status, req.replayable)
            duration = time.monotonic() - started
            if log.isEnabledFor(logging.DEBUG):
                shown = safe_url(current)
                log.debug(
                    "%s %s -> %s in %.3fs%s",
                    hop.method,
                    shown,
                    status if failure is None else type(failure).__name__,
                    duration,
                    f" (retry {attempt - 1})" if attempt > 1 else "",
                    extra={
                        "method": hop.method,
                        "url": shown,
                        "status": status if failure is None else None,
                        "duration": duration,
                        "retries": attempt - 1,
                    },
                )
            if failure is not None:
                raise failure  # outside the except block: no aiohttp exception in the chain
            assert status is not None
            if status in _REDIRECTS and location:
                try:
                    target = self.resolve(current.join(URL(location)))
                except (InvalidHref, ValueError):
                    raise ProtocolError(
                        f"redirect to an unusable Location {location[:200]!r}",
                        status=status,
                        url=safe_url(current),
                    ) from None
                if hop.method not in ("GET", "HEAD") and status not in (307, 308):
                    hop = replace(hop, method="GET", body=None, data=None)
                self._check_cross_origin(hop.method, target, redirect_from=current)
                previous, hop = current, replace(hop, url=target)
                continue
            return status, ctype, raw, rheaders, current, sent_auth
        raise ProtocolError(f"more than {_MAX_REDIRECTS} redirects", url=safe_url(req.url))

    def _transport_error(
        self, exc: BaseException, hop: ApiRequest, status: int | None, replayable: bool
    ) -> OpenProjectError:
        """The library's error for an aiohttp/timeout failure (never chained to it)."""
        kind = type(exc).__name__
        method, shown = hop.method, safe_url(hop.url)
        if isinstance(exc, aiohttp.InvalidURL):
            return InvalidHref(f"cannot request {shown}: invalid URL ({kind})")
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            ctimeout = RequestTimeout(
                f"{method} {shown}: could not connect within the connect timeout",
                before_send=True,
                url=shown,
                method=method,
            )
            ctimeout.timeout = (hop.timeout or self.timeout).connect
            return ctimeout
        if isinstance(exc, TimeoutError):
            limits = hop.timeout or self.timeout
            limit = limits.sock_read if isinstance(exc, aiohttp.SocketTimeoutError) else None
            limit = limit or limits.total or limits.sock_read
            after = f" after {limit:g}s" if limit else ""
            err: RequestTimeout
            if replayable:
                err = RequestTimeout(
                    f"{method} {shown}: no answer{after}", url=shown, method=method
                )
            else:
                err = TimeoutOutcomeUnknown(
                    f"{method} {shown}: no answer{after} after the request was sent; the "
                    "server may have carried it out - check before sending it again",
                    url=shown,
                    method=method,
                )
            err.timeout = limit
            return err
        if isinstance(exc, aiohttp.ClientPayloadError):
            if replayable:
                perr = ProtocolError(f"the answer was cut off ({kind})", status=status, url=shown)
                perr.transient = True
                return perr
            lost = OutcomeUnknown(
                f"{method} {shown}: the server answered {status} but the answer was cut off; "
                "it may have carried the request out - check before sending it again",
                url=shown,
                method=method,
            )
            lost.status = status
            return lost
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
        if replayable:
            return ConnectionFailed(
                f"{method} {shown}: connection lost ({kind})", url=shown, method=method
            )
        return OutcomeUnknown(
            f"{method} {shown}: connection lost after the request was sent ({kind}); the "
            "server may have carried it out - check before sending it again",
            url=shown,
            method=method,
        )
