"""The session's settings, checked and normalised (no I/O): URL, limits, timeouts."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from ._policy import CROSS_ORIGIN_POLICIES, Timeouts, safe_url
from ._retry import RetryPolicy
from .errors import InvalidHref

API_PATH = "/api/v3"


def base_url_of(url: str) -> URL:
    """The server's base URL (no ``/api/v3``, query or fragment); ValueError when unusable."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        shown = type(url).__name__ if not isinstance(url, str) else url.split(":", 1)[0]
        raise ValueError(f"url must be an http(s) URL of the server, got a {shown!r} value")
    try:
        base = URL(url)
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
    path = base.path.rstrip("/")  # a trailing slash, before a query too
    if path.endswith(API_PATH):
        path = path[: -len(API_PATH)]
    return base.with_path(path).with_query(None).with_fragment(None)


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


def check_size(size: Any) -> int | None:
    """``max_response_size``: bytes >= 1, or None (no cap)."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise ValueError(f"max_response_size must be an int >= 1 (bytes) or None, got {size!r}")
    return size


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


def resolve_href(href: str | URL, base_url: URL) -> URL:
    """An absolute URL for ``href`` on the server at ``base_url`` (no I/O).

    * ``/api/v3/...`` typed by hand on a sub-path deployment gets the prefix
      (``https://example.com/openproject`` + ``/api/v3/...``), its query kept as written;
    * a path without a leading ``/`` (``work_packages/1``, ``api/v3/work_packages/1``) is
      read under the API root, as the command line and users write it;
    * ``//host/path`` takes the server's scheme; absolute URLs stay as they are.

    InvalidHref for anything but an http(s) URL with a host and without credentials.
    """
    if not isinstance(href, str | URL):
        raise InvalidHref(f"an href must be a string, got {type(href).__name__}")
    try:
        url = href if isinstance(href, URL) else URL(href)
        if not url.is_absolute():
            if url.scheme:
                raise InvalidHref(f"cannot request {url.scheme}: URLs, only http(s)")
            url = base_url.origin().join(_with_prefix(url, base_url))
        elif not url.scheme:  # "//host/path": the server's scheme
            url = base_url.origin().join(url)
    except InvalidHref:
        raise
    except (ValueError, TypeError, UnicodeError):
        raise InvalidHref(f"malformed href {str(href)[:200]!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidHref(f"cannot request {safe_url(url)!r}: not an http(s) URL")
    if url.user is not None or url.password is not None:
        raise InvalidHref(f"refusing an href with credentials in it ({safe_url(url)})")
    return url


def _with_prefix(url: URL, base_url: URL) -> URL:
    """A relative href as a path from the server's root (sub-path and API root added)."""
    if url.raw_host or not url.raw_path or url.raw_path.startswith("/"):
        path = url.raw_path
        prefix = base_url.raw_path.rstrip("/")
        typed_api = path == API_PATH or path.startswith(API_PATH + "/")
        if not (prefix and typed_api and not path.startswith(prefix + "/")):
            return url  # "//host/path", "", or a path that needs nothing added
    else:  # "work_packages/1" or "api/v3/work_packages/1": under the API root
        path = url.raw_path.removeprefix(API_PATH.lstrip("/") + "/")
        path = API_PATH + "/" + path if path != API_PATH.lstrip("/") else API_PATH
    # the href's query (filters=...) stays exactly as it was written
    return URL.build(
        path=base_url.raw_path.rstrip("/") + path,
        query_string=url.raw_query_string,
        fragment=url.raw_fragment,
        encoded=True,
    )


def check_credentials(
    api_key: Any, token: Any, oauth: Any, auth: Any, anonymous: bool, unset: object
) -> tuple[str | None, str | None]:
    """``(api_key, token)`` with "not given" as None, after checking the combination.

    At most one credential; ``api_key=None``/``token=None`` given explicitly with no other
    credential is refused unless ``anonymous=True`` says a session without credentials is
    meant (``api_key=os.environ.get(...)`` of an unset variable would silently be one).
    """
    key = None if api_key is unset else api_key
    tok = None if token is unset else token
    given = [
        name
        for name, v in (("api_key", key), ("token", tok), ("oauth", oauth), ("auth", auth))
        if v is not None
    ]
    if len(given) > 1:
        raise TypeError("give at most one of api_key=, token=, oauth=, auth=")
    if anonymous and given:
        raise TypeError(f"anonymous=True and {given[0]}= contradict each other: give one")
    explicit_none = [n for n, v in (("api_key", api_key), ("token", token)) if v is None]
    if explicit_none and not given and not anonymous:
        raise ValueError(
            f"{explicit_none[0]}=None: no credential given (an unset environment variable?); "
            "pass the key, or anonymous=True for a session without credentials"
        )
    return key, tok
