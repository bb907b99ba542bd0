"""Request decisions, without I/O: origins, credentials, redirects, replays, failures.

Everything the exchange layer decides about a request that does not need a socket lives
here, so it is tested with plain values:

* is a URL the configured server's origin, and may this method go to another origin
  (:class:`OriginPolicy`);
* which headers a hop carries: credentials and the session's extras only to the own origin
  (:func:`hop_headers`);
* where a redirect leads and with which method (:func:`redirect`);
* may a request be sent again after an attempt that may have reached the server
  (:attr:`ApiRequest.replayable`), and what a failure means for a request that may not
  (:func:`outcome_of`);
* does a 404 to a retried DELETE count as done (:func:`deleted_before`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from yarl import URL

from ._retry import IDEMPOTENT_METHODS, is_form_url
from .errors import (
    ConnectionFailed,
    CrossOriginRefused,
    InvalidHref,
    OpenProjectError,
    OutcomeUnknown,
    ProtocolError,
    RequestTimeout,
    TimeoutOutcomeUnknown,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
#: Seconds one HTTP exchange may take in all (connect, send, the whole answer) when the
#: session's timeout sets no total: a server that drips its answer cannot hold a call.
ATTEMPT_TIMEOUT = 300.0
_SECRET_PARAMS = ("token", "key", "secret", "password", "signature", "code", "auth")
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

CrossOriginPolicy = Literal["refuse_writes", "refuse", "allow"]
CROSS_ORIGIN_POLICIES: tuple[CrossOriginPolicy, ...] = ("refuse_writes", "refuse", "allow")


class Secret(str):
    """A credential (an ``Authorization`` value): a ``str`` whose ``repr`` hides it.

    Error trackers that record frame locals (Sentry, rich tracebacks) show values by
    ``repr``; locals, dicts of headers and requests holding a Secret show ``'<hidden>'``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


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


def origin_key(url: URL) -> tuple[str, str, int | None]:
    """(scheme, host, effective port): ``https://h`` and ``https://h:443`` are one origin."""
    return (url.scheme.lower(), (url.host or "").lower(), url.port)


class OriginPolicy:
    """The configured server's origin and what may be sent to other origins."""

    __slots__ = ("_host", "_key", "_port", "_scheme", "origin", "policy")

    def __init__(self, base_url: URL, policy: CrossOriginPolicy) -> None:
        self.origin = base_url.origin()
        self.policy: CrossOriginPolicy = policy
        self._key = origin_key(base_url)
        # the origin as yarl spells it: most URLs are the server's own, compared at once
        self._scheme, self._host, self._port = base_url.scheme, base_url.host, base_url.port

    def same_origin(self, url: URL) -> bool:
        """Is ``url`` on the configured server (same scheme, host and port)?"""
        if url.host == self._host and url.port == self._port and url.scheme == self._scheme:
            return True
        return origin_key(url) == self._key

    def check(self, method: str, url: URL, *, redirect_from: URL | None = None) -> None:
        """Raise CrossOriginRefused for what the policy forbids, before anything is sent."""
        if self.policy == "allow" or self.same_origin(url):
            return
        if self.policy == "refuse" or method not in ("GET", "HEAD"):
            via = f" (redirected from {safe_url(redirect_from)})" if redirect_from else ""
            raise CrossOriginRefused(
                f"refusing {method} to {safe_url(url)}{via}: not the configured server "
                f"{self.origin} (cross_origin={self.policy!r})"
            )


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to connect, between two reads of the answer, for the whole exchange."""

    connect: float | None = None
    read: float | None = None
    total: float | None = None


@dataclass(slots=True)
class ApiRequest:
    """One API request as the caller asked for it; retries resend it, redirects derive hops.

    ``body`` is the encoded JSON body (``request(json=...)``, or ``{}`` for a bodiless
    write); ``data`` is a raw body handed over as is (bytes, str, a form, a stream).
    ``retry`` is the per-call override, ``timeout`` the per-call limits (None: session's).
    ``text``: the answer is text (``/render/markdown``), returned as ``str`` when 2xx.
    Not frozen (made for every request, frozen costs twice as much), but never changed:
    :func:`dataclasses.replace` derives hops.
    """

    method: str
    url: URL
    body: bytes | None = None
    data: Any = None
    headers: Mapping[str, str] | None = None
    retry: bool | None = None
    timeout: Timeouts | None = None
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

    @property
    def payload(self) -> Any:
        """What goes on the wire: the JSON body, else the raw data (None: no body)."""
        return self.body if self.body is not None else self.data


_ACCEPT = "application/hal+json, application/json"


def hop_headers(
    hop: ApiRequest, *, own_origin: bool, first_hop: bool, extra: Mapping[str, str]
) -> dict[str, str]:
    """Headers for one hop: the caller's and the session's extras only where they belong.

    The session's ``extra`` headers go to the own origin only; the caller's go to the own
    origin and to the first hop; credential headers never leave the own origin.
    """
    hdrs: dict[str, str] = {"Accept": _ACCEPT}
    if own_origin:
        hdrs.update(extra)
    if hop.body is not None or (hop.method not in ("GET", "HEAD") and hop.data is None):
        hdrs["Content-Type"] = "application/json"
    if hop.headers and (own_origin or first_hop):
        hdrs.update(hop.headers)
    if not own_origin:
        for name in [n for n in hdrs if n.lower() in _CREDENTIAL_HEADERS]:
            del hdrs[name]
    return hdrs


def redirect(
    hop: ApiRequest, status: int, location: str | None, resolve: Callable[[URL], URL]
) -> ApiRequest | None:
    """The next hop for a redirect answer, or None when the answer is not one.

    303 (and 301/302 of anything but GET/HEAD) continue as a bodiless GET, as browsers
    do; 307/308 keep method and body. ``resolve`` checks the target (InvalidHref); an
    unusable Location raises ProtocolError.
    """
    if status not in REDIRECTS or not location:
        return None
    try:
        target = resolve(hop.url.join(URL(location)))
    except (InvalidHref, ValueError):
        raise ProtocolError(
            f"redirect to an unusable Location {location[:200]!r}",
            status=status,
            url=safe_url(hop.url),
        ) from None
    if hop.method not in ("GET", "HEAD") and status not in (307, 308):
        hop = replace(hop, method="GET", body=None, data=None)
    return replace(hop, url=target)


def deleted_before(req: ApiRequest, status: int, attempt: int) -> bool:
    """A 404 to a retried DELETE: an earlier try may have deleted it; gone is what was asked."""
    return status == 404 and req.method == "DELETE" and attempt > 1


def outcome_of(exc: OpenProjectError, req: ApiRequest, *, replayable: bool) -> OpenProjectError:
    """What a transport failure means for ``req``.

    A failure after the request may have reached the server is, for a request that must
    not be sent twice (not ``replayable``), an :class:`OutcomeUnknown` (a timeout:
    :class:`TimeoutOutcomeUnknown`) telling the caller to check before sending it again.
    Anything else is returned as is.
    """
    if getattr(exc, "before_send", False) or replayable:
        return exc
    method, shown = req.method, safe_url(req.url)
    if isinstance(exc, RequestTimeout):
        limit = exc.timeout
        after = f" after {limit:g}s" if limit else ""
        lost = TimeoutOutcomeUnknown(
            f"{method} {shown}: no answer{after} after the request was sent; the "
            "server may have carried it out - check before sending it again",
            url=shown,
            method=method,
        )
        lost.timeout = limit
        return lost
    if isinstance(exc, ProtocolError) and exc.transient:
        cut = OutcomeUnknown(
            f"{method} {shown}: the server answered {exc.status} but the answer was cut off; "
            "it may have carried the request out - check before sending it again",
            url=shown,
            method=method,
        )
        cut.status = exc.status
        return cut
    if isinstance(exc, ConnectionFailed):
        return OutcomeUnknown(
            f"{exc} after the request was sent; the server may have carried it out - "
            "check before sending it again",
            url=shown,
            method=method,
        )
    return exc
