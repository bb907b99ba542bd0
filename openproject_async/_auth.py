"""Credentials: API key (Basic ``apikey:<key>``), Bearer tokens, OAuth2 client credentials.

Every auth object produces the ``Authorization`` header value on demand; the session
adds it only to requests for the configured server's origin. Secrets never show in
``repr``/``str``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .errors import ProtocolError, Unauthenticated

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL


class Auth(Protocol):
    """What the session needs from an auth object."""

    async def header(self, http: aiohttp.ClientSession, api_root: URL) -> str | None:
        """The ``Authorization`` header value to send (None: send none)."""
        ...

    async def invalidate(self, rejected: str | None) -> bool:
        """The server answered 401 to ``rejected``; return True if a retry may help."""
        ...


class ApiKey:
    """An OpenProject API key, sent as Basic auth with the literal user name ``apikey``."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("api_key must be a non-empty string")
        self._value = "Basic " + base64.b64encode(f"apikey:{key}".encode()).decode()

    async def header(self, http: aiohttp.ClientSession, api_root: URL) -> str | None:
        return self._value

    async def invalidate(self, rejected: str | None) -> bool:
        return False

    def __repr__(self) -> str:
        return "ApiKey(<hidden>)"


class BearerToken:
    """A fixed Bearer token (an ``opapi-`` API token or an OAuth access token)."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("token must be a non-empty string")
        self._value = f"Bearer {token}"

    async def header(self, http: aiohttp.ClientSession, api_root: URL) -> str | None:
        return self._value

    async def invalidate(self, rejected: str | None) -> bool:
        return False

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"


class OAuthClientCredentials:
    """OAuth2 client-credentials grant against OpenProject's Doorkeeper (``/oauth/token``).

    The token is fetched on first use, refreshed ``refresh_margin`` seconds before it
    expires (OpenProject: 2 hours) and once after a 401. However many requests wait, only
    one token request is in flight at a time.
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
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.token_url = token_url
        self.refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(client_id={self.client_id!r}, client_secret=<hidden>)"

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires_at

    async def header(self, http: aiohttp.ClientSession, api_root: URL) -> str | None:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._fetch(http, api_root)
        return f"Bearer {self._token}"

    async def invalidate(self, rejected: str | None) -> bool:
        async with self._lock:
            if rejected is not None and rejected != f"Bearer {self._token}":
                return True  # somebody refreshed already; retry with the new token
            self._token = None
            return True

    def _endpoint(self, api_root: URL) -> URL:
        from yarl import URL

        if self.token_url:
            return api_root.join(URL(self.token_url))
        prefix = api_root.path.rsplit("/api/v3", 1)[0].rstrip("/")
        return api_root.with_path(prefix + "/oauth/token").with_query(None)

    async def _fetch(self, http: aiohttp.ClientSession, api_root: URL) -> None:
        import aiohttp

        url = self._endpoint(api_root)
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": self.scope,
        }
        try:
            async with http.post(url, data=form, allow_redirects=False) as resp:
                status = resp.status
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unauthenticated(
                None, None, f"OAuth token request to {url} failed: {type(exc).__name__}"
            ) from None
        doc: Any
        try:
            doc = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise ProtocolError(
                "OAuth token endpoint did not answer with a JSON object",
                status=status,
                snippet=body[:200].decode("utf-8", "replace"),
                url=str(url),
            )
        if status != 200 or not isinstance(doc.get("access_token"), str):
            err = doc.get("error", "no access_token")
            desc = doc.get("error_description", "")
            raise Unauthenticated(
                status,
                None,
                f"OAuth token endpoint {url} refused the client credentials: {err} {desc}".strip(),
                body={"error": err, "error_description": desc},
            )
        self._token = doc["access_token"]
        expires_in = doc.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
        self._expires_at = time.monotonic() + max(lifetime - self.refresh_margin, lifetime / 2)
        self.refreshes += 1
