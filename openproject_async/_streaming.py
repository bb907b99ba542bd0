"""Streamed exchanges: a body sent from a stream, an answer read in chunks as it arrives.

The same rules as :mod:`._exchange` (credentials and the session's extra headers only to
the configured origin, redirects hop by hop under the cross-origin policy, one
re-authentication after a 401, typed errors from error answers), but the answer of the
last hop is handed over open instead of read: downloads of any size, uploads from disk.

* A streamed request is sent once: no retries (a body from a stream is consumed, and a
  download the caller is consuming cannot be restarted behind its back).
* A redirect that keeps the body (307/308) re-sends it only when the body says it can
  (``rewindable``: a file re-read from its path, bytes); otherwise a clear
  :class:`ProtocolError` instead of an empty or half body.
* ``credentials=False``: no ``Authorization``, no cookies, no extra headers on any hop and
  no cross-origin refusal — for a target the server handed out (a storage upload form).
* Only the connect and between-reads timeouts apply: a total limit would cut off large
  files.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from yarl import URL

from . import _policy
from ._auth import Auth
from ._exchange import Answer, Exchange, _decode
from ._policy import ApiRequest, safe_url
from ._transport import HttpRequest, HttpResponse
from .errors import OpenProjectError, ProtocolError

#: How much of an error answer is read to decode it.
ERROR_BODY_CAP = 1024 * 1024


def rewindable(data: Any) -> bool:
    """Can this body be sent again (after a 307/308 or a re-authentication)?"""
    if data is None or isinstance(data, bytes | bytearray | str):
        return True
    return bool(getattr(data, "rewindable", False))


@dataclass(slots=True)
class Streamed:
    """An open answer: ``status``, ``headers``, the ``url`` that answered, its body."""

    status: int
    headers: Mapping[str, str]
    url: URL
    response: HttpResponse

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive."""
        return self.response.iter_chunks()


@asynccontextmanager
async def open_stream(
    exchange: Exchange, req: ApiRequest, *, credentials: bool = True, follow: bool = True
) -> AsyncIterator[Streamed]:
    """Send ``req`` and yield the final answer (2xx) open; error answers raise typed errors.

    ``follow=False`` hands back a redirect answer as it is (a 3xx is not an error then).
    """
    resp, url = await _send(exchange, req, credentials=credentials, follow=follow)
    try:
        yield Streamed(resp.status, resp.headers, url, resp)
    finally:
        await resp.aclose()


async def _send(
    exchange: Exchange, req: ApiRequest, *, credentials: bool, follow: bool
) -> tuple[HttpResponse, URL]:
    hop = req
    first = True
    reauth = credentials
    for _hop in range(2 * (_policy.MAX_REDIRECTS + 1)):
        resp, sent_auth = await _exchange_hop(exchange, hop, first, credentials)
        auth = exchange.auth
        if (
            resp.status == 401
            and reauth
            and auth is not None
            and sent_auth is not None
            and rewindable(hop.data)
            and await auth.invalidate(sent_auth)
        ):
            await resp.aclose()
            exchange.stats["reauthentications"] = exchange.stats.get("reauthentications", 0) + 1
            reauth = False
            continue
        location = resp.headers.get("Location") if follow else None
        try:
            nxt = _policy.redirect(hop, resp.status, location, exchange.resolve)
        except BaseException:
            await resp.aclose()
            raise
        if nxt is None:
            if 200 <= resp.status < 300 or (not follow and resp.status in _policy.REDIRECTS):
                return resp, hop.url
            await _raise_error(hop, resp, sent_auth, auth)
        await resp.aclose()
        assert nxt is not None
        if nxt.data is not None and not rewindable(nxt.data):
            raise ProtocolError(
                f"{hop.method} was redirected ({resp.status}) to {safe_url(nxt.url)}, which "
                "needs the body sent again, but the body is a stream that was sent already; "
                "give a path or bytes, or use the target URL directly",
                status=resp.status,
                url=safe_url(hop.url),
            )
        if credentials:
            exchange.origin.check(nxt.method, nxt.url, redirect_from=hop.url)
        hop, first = nxt, False
    raise ProtocolError(f"more than {_policy.MAX_REDIRECTS} redirects", url=safe_url(req.url))


async def _exchange_hop(
    exchange: Exchange, hop: ApiRequest, first: bool, credentials: bool
) -> tuple[HttpResponse, str | None]:
    """One exchange, its answer left open: (response, the Authorization value sent)."""
    own = credentials and exchange.origin.same_origin(hop.url)
    hdrs = _policy.hop_headers(
        hop, own_origin=own, first_hop=first, extra=exchange.extra_headers if own else {}
    )
    sent_auth = await exchange._authorize(hdrs) if own else None
    limits = replace(hop.timeout or exchange.timeouts, total=None)
    http = HttpRequest(hop.method, hop.url, hdrs, hop.payload, limits)
    failure: OpenProjectError | None = None
    started = time.monotonic()
    try:
        async with exchange.limit:
            exchange.stats["requests"] = exchange.stats.get("requests", 0) + 1
            resp = await exchange.transport.handle(http)
    except OpenProjectError as exc:
        failure = _policy.outcome_of(exc, hop, replayable=hop.replayable)
        exchange._log_hop(hop, 1, None, type(exc).__name__, started)
    if failure is not None:
        raise failure  # outside the except block: no chained context
    exchange._log_hop(hop, 1, resp.status, str(resp.status), started)
    return resp, sent_auth


async def _raise_error(
    hop: ApiRequest, resp: HttpResponse, sent_auth: str | None, auth: Auth | None
) -> None:
    """Read (at most :data:`ERROR_BODY_CAP` of) an error answer and raise its typed error
    (a final 401 with the auth object's hint, as :mod:`._exchange` does)."""
    body = bytearray()
    try:
        async for chunk in resp.iter_chunks():
            body += chunk
            if len(body) > ERROR_BODY_CAP:
                break
    finally:
        await resp.aclose()
    answer = Answer(resp.status, resp.headers, bytes(body[:ERROR_BODY_CAP]), hop.url, sent_auth)
    _decode(hop, answer, auth)  # raises for 4xx/5xx
    raise ProtocolError(
        f"unexpected answer {resp.status} to {hop.method}",
        status=resp.status,
        url=safe_url(hop.url),
    )
