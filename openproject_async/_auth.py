"""Credentials: API key (Basic ``apikey:<key>``), Bearer tokens, OAuth2 client credentials.

Every auth object produces the ``Authorization`` header value on demand; the session
adds it only to requests for the configured server's origin (scheme, host and port).
Secrets never show in ``repr``/``str``, in error messages or in log records.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, quote_plus, urlencode

import orjson
from yarl import URL

from ._policy import Timeouts, is_loopback
from ._transport import HttpRequest, read_limited
from .errors import InsecureTransportWarning, OpenProjectError, Unauthenticated

if TYPE_CHECKING:
    from ._transport import Transport

_TOKEN_TIMEOUTS = Timeouts(connect=10.0, read=60.0, total=120.0)
#: Bytes a token endpoint's answer may have (a token answer is well under 4 KB).
TOKEN_RESPONSE_LIMIT = 2**20


class _SecretForm(bytes):
    """A form body holding a secret: bytes whose ``repr`` hides them (traceback locals)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "b'<hidden>'"


log = logging.getLogger("openproject_async")


class Auth(Protocol):
    """What the session needs from an auth object.

    An auth object whose header never changes (an API key, a fixed token) may also have
    a ``fixed_header`` attribute holding it: the session then sends that without
    awaiting :meth:`header` for each request.
    """

    async def header(self, transport: Transport, api_root: URL) -> str | None:
        """The ``Authorization`` header value to send (None: send none)."""
        ...

    async def invalidate(self, rejected: str | None) -> bool:
        """The server answered 401 to ``rejected``; return True if a retry may help."""
        ...


def _check_secret(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"{what} contains a line break or NUL character (value not shown)")
    return value


class ApiKey:
    """An OpenProject API key, sent as Basic auth with the literal user name ``apikey``."""

    __slots__ = ("_value", "hint")

    def __init__(self, key: str) -> None:
        key = _check_secret(key, "api_key")
        self._value = "Basic " + base64.b64encode(f"apikey:{key}".encode()).decode()
        #: what to say after a 401 (the key's shape suggests another argument), if anything
        self.hint = (
            "hint: this api_key looks like an OAuth access token or JWT; "
            "pass it as token= (sent as Bearer)"
            if _looks_like_bearer(key)
            else None
        )

    async def header(self, transport: Transport, api_root: URL) -> str | None:
        """``Basic`` of ``apikey:<key>`` (computed once, when the key was given)."""
        return self._value

    @property
    def fixed_header(self) -> str:
        """The header value, which never changes (the session sends it without awaiting)."""
        return self._value

    async def invalidate(self, rejected: str | None) -> bool:
        """False: a rejected API key stays rejected, so a retry cannot help."""
        return False

    def __repr__(self) -> str:
        return "ApiKey(<hidden>)"


class BearerToken:
    """A fixed Bearer token (an ``opapi-`` API token or an OAuth access token)."""

    __slots__ = ("_value", "hint")

    def __init__(self, token: str) -> None:
        token = _check_secret(token, "token")
        self._value = f"Bearer {token}"
        #: what to say after a 401 (the token's shape suggests another argument), if anything
        self.hint = (
            "hint: this token looks like an API key (hex, no 'opapi-' prefix); pass it as "
            "api_key= (sent as Basic auth with the user 'apikey')"
            if _looks_like_api_key(token)
            else None
        )

    async def header(self, transport: Transport, api_root: URL) -> str | None:
        """``Bearer <token>``, the token as given."""
        return self._value

    @property
    def fixed_header(self) -> str:
        """The header value, which never changes (the session sends it without awaiting)."""
        return self._value

    async def invalidate(self, rejected: str | None) -> bool:
        """False: a fixed token cannot be renewed, so a retry after a 401 cannot help."""
        return False

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"


class OAuthClientCredentials:
    """OAuth2 client-credentials grant against OpenProject's Doorkeeper (``/oauth/token``).

    The token is fetched on first use with a form-encoded POST, refreshed
    ``refresh_margin`` seconds before it expires (OpenProject: 2 hours, from the token
    answer's ``expires_in``) and once after a 401. However many requests wait, only one
    token request is in flight at a time, and the requests that waited on a refresh that
    failed all get its error (:class:`~openproject_async.errors.Unauthenticated` carrying
    the token endpoint's ``error`` and ``error_description``) without asking again.

    ``token_url`` defaults to ``/oauth/token`` next to the API (sub-path deployments
    included); an absolute ``token_url`` may point elsewhere (an identity provider).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        scope: str = "api_v3",
        token_url: str | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        if not isinstance(client_id, str) or not client_id.strip():
            raise ValueError("client_id must be a non-empty string")
        self._secret = _check_secret(client_secret, "client_secret")
        if not isinstance(refresh_margin, int | float) or refresh_margin < 0:
            raise ValueError(f"refresh_margin must be seconds >= 0, got {refresh_margin!r}")
        self.client_id = client_id
        self.scope = scope
        self.token_url = token_url
        _warn_plain_http(token_url)
        self.refresh_margin = float(refresh_margin)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._generation = 0  # token requests finished (successfully or not)
        self._failure: Callable[[], OpenProjectError] | None = None
        self.refreshes = 0  # successful token requests

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(client_id={self.client_id!r}, client_secret=<hidden>)"

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    def _bearer(self) -> str | None:
        return None if self._token is None else f"Bearer {self._token}"

    async def header(self, transport: Transport, api_root: URL) -> str | None:
        """``Bearer <access token>``, first fetching a token when there is none or it is due.

        One token request at a time; callers that waited on one that failed get its error.
        """
        if self._fresh():
            return self._bearer()
        seen = self._generation
        async with self._lock:
            if self._fresh():
                return self._bearer()
            if self._generation != seen and self._failure is not None:
                # The refresh we waited on failed: share its error, do not ask again.
                raise self._failure()
            try:
                await self._fetch(transport, api_root)
            except OpenProjectError as exc:
                self._failure = _rebuilder(exc)
                raise
            else:
                self._failure = None
            finally:
                self._generation += 1
        return self._bearer()

    async def invalidate(self, rejected: str | None) -> bool:
        """Drop the token if it is the one the server rejected; True: retry (with a new one)."""
        async with self._lock:
            if rejected is not None and rejected == self._bearer():
                self._token = None  # the server rejected the current token: fetch another
                self._expires_at = 0.0
            return True  # otherwise somebody refreshed already: retry with the new token

    def _endpoint(self, api_root: URL) -> URL:
        if self.token_url:
            return api_root.join(URL(self.token_url))
        prefix = api_root.path.rsplit("/api/v3", 1)[0].rstrip("/")
        return api_root.with_path(prefix + "/oauth/token").with_query(None)

    def _scrub(self, text: str) -> str:
        """The text without the secret, also in its form- and URL-encoded spellings."""
        for spelling in {self._secret, quote_plus(self._secret), quote(self._secret, safe="")}:
            text = text.replace(spelling, "***")
        return text

    async def _fetch(self, transport: Transport, api_root: URL) -> None:
        url = self._endpoint(api_root)
        shown = str(url.with_user(None).with_password(None).with_query(None))
        form = _SecretForm(
            urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._secret,
                    "scope": self.scope,
                }
            ).encode()
        )
        request = HttpRequest(
            "POST",
            url,
            {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            form,
            _TOKEN_TIMEOUTS,
        )
        started = time.monotonic()
        failure: str | None = None
        status = 0
        body = b""
        try:
            resp = await transport.handle(request)
            status = resp.status
            try:
                body = await read_limited(resp, TOKEN_RESPONSE_LIMIT, url)
            finally:
                await resp.aclose()
        except OpenProjectError as exc:
            failure = type(exc).__name__
        log.debug(
            "POST %s (OAuth token) -> %s in %.3fs",
            shown,
            status or "no answer",
            time.monotonic() - started,
            extra={"method": "POST", "url": shown, "status": status or None},
        )
        if failure is not None:
            raise Unauthenticated(
                None,
                None,
                f"OAuth token request to {shown} failed: {failure}",
                details={"error": "token_request_failed", "error_description": failure},
            )
        refused = self._accept(status, body, shown)
        if refused is not None:
            del body  # the answer may echo the secret: not a local of the traceback
            raise refused

    def _accept(self, status: int, body: bytes, shown: str) -> Unauthenticated | None:
        """Keep the token of a 200 answer, else the Unauthenticated error with the reason."""
        doc: Any
        try:
            doc = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            doc = {}
            if status != 200:  # an HTML error page, say: show its start, never a 200 body
                doc = {"error_description": body[:200].decode("utf-8", "replace")}
        token = doc.get("access_token")
        if status != 200 or not isinstance(token, str) or not token:
            err = doc.get("error")
            err = err if isinstance(err, str) and err else "no access_token in the answer"
            desc = doc.get("error_description")
            desc = self._scrub(desc) if isinstance(desc, str) else ""
            err = self._scrub(err)
            return Unauthenticated(
                status,
                None,
                f"OAuth token endpoint {shown} refused the client credentials "
                f"(HTTP {status}): {err}" + (f" - {desc}" if desc else ""),
                details={"error": err, "error_description": desc},
                body={"error": err, "error_description": desc},
            )
        expires_in = doc.get("expires_in")
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else 7200.0
        )
        self._token = token
        self._expires_at = time.monotonic() + max(lifetime - self.refresh_margin, lifetime / 2)
        self.refreshes += 1
        return None


def _warn_plain_http(token_url: str | None) -> None:
    """Warn when the client secret would travel over plain http to a non-loopback host."""
    if not token_url:
        return
    try:
        url = URL(token_url)
    except ValueError:
        return
    if url.scheme == "http" and not is_loopback(url.host):
        warnings.warn(
            f"OAuth token URL {url.with_query(None)} is plain http: the client secret and "
            "the tokens travel unencrypted",
            InsecureTransportWarning,
            stacklevel=3,
        )


def _rebuilder(exc: OpenProjectError) -> Callable[[], OpenProjectError]:
    """A factory for fresh copies of a token error (each waiter raises its own)."""
    if isinstance(exc, Unauthenticated):
        status, ident, message = exc.status, exc.identifier, exc.message
        details, body = dict(exc.details), dict(exc.body)
        return lambda: Unauthenticated(status, ident, message, details=details, body=body)
    text = str(exc)
    return lambda: Unauthenticated(None, None, text)


def _looks_like_api_key(value: str) -> bool:
    """OpenProject's classic API keys: 40 or 64 hex digits (API tokens start ``opapi-``)."""
    return len(value) in (40, 64) and all(c in "0123456789abcdefABCDEF" for c in value)


def _looks_like_bearer(value: str) -> bool:
    """A JWT (``eyJ...`` in three dotted parts) or an ``opapi-`` token sent as a key."""
    return (value.startswith("eyJ") and value.count(".") == 2) or value.startswith("Bearer ")
