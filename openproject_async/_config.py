"""The session's settings, checked and normalised (no I/O): URL, limits, timeouts."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from ._policy import CROSS_ORIGIN_POLICIES, Timeouts, safe_url
from ._retry import RetryPolicy

API_PATH = "/api/v3"


def base_url_of(url: str) -> URL:
    """The server's base URL (no ``/api/v3``, query or fragment); ValueError when unusable."""
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
        # no host, so no credentials either; the query may hold secrets: left out
        raise ValueError(f"url has no host: {url.split('?', 1)[0].split('#', 1)[0]!r}")
    if base.path.endswith(API_PATH):
        base = base.with_path(base.path[: -len(API_PATH)])
    return base.with_query(None).with_fragment(None)


def check_settings(max_concurrency: Any, retry: Any, cross_origin: Any) -> None:
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise TypeError(
            f"retry must be a RetryPolicy or None (no retries), got {type(retry).__name__}"
        )
    if cross_origin not in CROSS_ORIGIN_POLICIES:
        raise ValueError(
            f"cross_origin must be one of {', '.join(CROSS_ORIGIN_POLICIES)}, got {cross_origin!r}"
        )


def client_timeout(
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


def timeouts_of(t: aiohttp.ClientTimeout) -> Timeouts:
    return Timeouts(connect=t.connect, read=t.sock_read, total=t.total)
