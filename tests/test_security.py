"""Credentials stay with the configured origin; secrets never show anywhere.

Two aiohttp test servers on 127.0.0.1 (different ports, so different origins) record
every request with its headers; redirects are real redirects (aioresponses fakes them).
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import traceback
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openproject_async import (
    ApiKey,
    BearerToken,
    OAuthClientCredentials,
    OpenProject,
    Resource,
    RetryPolicy,
)
from openproject_async.errors import (
    ConnectionFailed,
    CrossOriginRefused,
    InsecureTransportWarning,
    OpenProjectError,
    RequestTimeout,
    Unauthenticated,
)

from .test_reliability import RawServer, Reply, free_port, script

FAST = RetryPolicy(attempts=2, backoff=0.001, max_backoff=0.002)
API_KEY = "KEY-s3cr3t-apikey-0123456789"
TOKEN = "opapi-s3cr3t-bearer-987654321"
CLIENT_SECRET = "OAUTH-s3cr3t-client-4567"
ACCESS_TOKEN = "ACCESS-s3cr3t-token-abcdef"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Site:
    """A recording aiohttp test server."""

    server: TestServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def auth_headers(self) -> list[str | None]:
        return [s.headers.get("Authorization") for s in self.seen]


@contextlib.asynccontextmanager
async def site(routes: dict[str, Any]) -> AsyncIterator[Site]:
    """``routes``: path -> callable(request, site) returning a web.Response (or raising)."""
    app = web.Application()
    holder: dict[str, Site] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        current = holder["site"]
        await request.read()
        current.seen.append(Seen(request.method, request.path, dict(request.headers)))
        route = routes.get(request.path)
        if route is None:
            return web.json_response(
                {
                    "_type": "Error",
                    "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
                    "message": "not here",
                },
                status=404,
            )
        result: web.StreamResponse = route(request, current)
        return result

    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder["site"] = Site(server)
    try:
        yield holder["site"]
    finally:
        await server.close()


def doc(**extra: Any) -> Any:
    return lambda request, s: web.json_response({"_type": "Thing", **extra})


def redirect(cls: type[web.HTTPMove], to: Any) -> Any:
    def route(request: web.Request, s: Site) -> web.Response:
        raise cls(location=to() if callable(to) else to)

    return route


@contextlib.asynccontextmanager
async def two_sites() -> AsyncIterator[tuple[Site, Site]]:
    async with site({"/files/1": doc(id="file"), "/upload": doc(id="uploaded")}) as other:
        routes = {
            "/api/v3/things/1": lambda request, s: web.json_response(
                {
                    "_type": "Thing",
                    "id": 1,
                    "_links": {
                        "self": {"href": "/api/v3/things/1"},
                        "download": {"href": f"{other.url}/files/1"},
                        "upload": {"href": f"{other.url}/upload", "method": "post"},
                        "sibling": {"href": "/api/v3/things/2"},
                    },
                }
            ),
            "/api/v3/things/2": doc(id=2),
            "/api/v3/away": redirect(web.HTTPFound, f"{other.url}/files/1"),
            "/api/v3/away-post": redirect(web.HTTPTemporaryRedirect, f"{other.url}/upload"),
            "/api/v3/home": redirect(web.HTTPFound, "/api/v3/things/2"),
        }
        async with site(routes) as home:
            yield home, other


AUTHS: list[dict[str, Any]] = [{"api_key": API_KEY}, {"token": TOKEN}]


@pytest.mark.parametrize("auth", AUTHS, ids=["api_key", "token"])
async def test_links_to_another_origin_are_followed_without_credentials(
    auth: dict[str, Any],
) -> None:
    async with two_sites() as (home, other):
        async with OpenProject(
            home.url, headers={"X-Extra-Secret": "extra"}, retry=FAST, **auth
        ) as op:
            thing = await op.get("/api/v3/things/1")
            assert isinstance(thing, Resource)
            downloaded = await thing.follow("download")
            assert downloaded["id"] == "file"
            sibling = await thing.follow("sibling")
            assert sibling["id"] == 2
    assert [s.path for s in other.seen] == ["/files/1"]
    assert other.auth_headers() == [None]
    assert "X-Extra-Secret" not in other.seen[0].headers
    assert all(h is not None and h.startswith(("Basic ", "Bearer ")) for h in home.auth_headers())
    assert all(s.headers.get("X-Extra-Secret") == "extra" for s in home.seen)


async def test_writes_to_another_origin_are_refused_by_default() -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, api_key=API_KEY, retry=FAST) as op:
            thing = await op.get("/api/v3/things/1")
            with pytest.raises(CrossOriginRefused, match="refuse_writes"):
                await thing.upload()
            with pytest.raises(CrossOriginRefused):
                await op.request("DELETE", f"{other.url}/files/1")
    assert other.seen == []


async def test_cross_origin_allow_sends_writes_without_credentials() -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, api_key=API_KEY, retry=FAST, cross_origin="allow") as op:
            thing = await op.get("/api/v3/things/1")
            uploaded = await thing.upload()
            assert uploaded["id"] == "uploaded"
    assert [(s.method, s.path) for s in other.seen] == [("POST", "/upload")]
    assert other.auth_headers() == [None]


async def test_cross_origin_refuse_refuses_reads_too() -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, api_key=API_KEY, cross_origin="refuse") as op:
            thing = await op.get("/api/v3/things/1")
            with pytest.raises(CrossOriginRefused):
                await thing.follow("download")
            with pytest.raises(CrossOriginRefused, match="redirected from"):
                await op.request("GET", "/api/v3/away")
    assert other.seen == []


def test_cross_origin_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="cross_origin"):
        OpenProject("http://127.0.0.1:1", cross_origin="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize("auth", AUTHS, ids=["api_key", "token"])
async def test_redirect_to_another_origin_drops_credentials(auth: dict[str, Any]) -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, retry=FAST, **auth) as op:
            result = await op.request("GET", "/api/v3/away", headers={"X-Call-Secret": "per-call"})
    assert result == {"_type": "Thing", "id": "file"}
    assert [s.path for s in home.seen] == ["/api/v3/away"]
    assert home.auth_headers()[0] is not None
    assert home.seen[0].headers.get("X-Call-Secret") == "per-call"
    assert [s.path for s in other.seen] == ["/files/1"]
    assert other.auth_headers() == [None]
    assert "X-Call-Secret" not in other.seen[0].headers


async def test_redirected_write_to_another_origin_is_refused() -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, api_key=API_KEY, retry=FAST) as op:
            with pytest.raises(CrossOriginRefused, match="redirected from"):
                await op.request("POST", "/api/v3/away-post", json={"a": 1})
        async with OpenProject(home.url, api_key=API_KEY, retry=FAST, cross_origin="allow") as op:
            assert (await op.request("POST", "/api/v3/away-post", json={"a": 1})) == {
                "_type": "Thing",
                "id": "uploaded",
            }
    assert [(s.method, s.path) for s in other.seen] == [("POST", "/upload")]  # 307 kept POST
    assert other.auth_headers() == [None]


async def test_same_origin_redirect_keeps_credentials() -> None:
    async with two_sites() as (home, other):
        async with OpenProject(home.url, api_key=API_KEY, retry=FAST) as op:
            assert (await op.request("GET", "/api/v3/home"))["id"] == 2  # type: ignore[index]
    expected = "Basic " + base64.b64encode(f"apikey:{API_KEY}".encode()).decode()
    assert [s.path for s in home.seen] == ["/api/v3/home", "/api/v3/things/2"]
    assert home.auth_headers() == [expected, expected]
    assert other.seen == []


async def test_same_host_other_port_is_another_origin() -> None:
    async with two_sites() as (home, other):
        assert home.server.port != other.server.port
        async with OpenProject(home.url, api_key=API_KEY) as op:
            assert op.same_origin(op.resolve("/api/v3/x"))
            assert not op.same_origin(op.resolve(f"{other.url}/x"))
            assert not op.same_origin(op.resolve(home.url.replace("http:", "https:") + "/x"))


# -- plain http ----------------------------------------------------------------------------


def _insecure(records: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in records if issubclass(w.category, InsecureTransportWarning)]


def test_plain_http_to_a_remote_host_warns_once_per_process_and_origin() -> None:
    host = f"op-{uuid.uuid4().hex[:8]}.example.com"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OpenProject(f"http://{host}", api_key=API_KEY)
        OpenProject(f"http://{host}/", token=TOKEN)
        OpenProject(f"http://{host}:8080", api_key=API_KEY)  # another origin
    messages = _insecure(caught)
    assert len(messages) == 2
    assert host in messages[0]
    assert API_KEY not in messages[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:3000",
        "http://api.localhost",
        "http://[::1]:8080",
        "https://op.example.com",
    ],
)
def test_no_warning_for_loopback_or_https(url: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OpenProject(url, api_key=API_KEY)
    assert _insecure(caught) == []


def test_a_host_that_only_looks_like_loopback_warns() -> None:
    host = f"127.{uuid.uuid4().hex[:6]}.example.com"
    with pytest.warns(InsecureTransportWarning, match="plain http"):
        OpenProject(f"http://{host}", api_key=API_KEY)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="must not contain credentials") as info:
        OpenProject("https://admin:hunter2@op.example.com")
    assert "hunter2" not in str(info.value)


# -- secrets never show ----------------------------------------------------------------------


def test_auth_objects_hide_their_secrets() -> None:
    for obj in (
        ApiKey(API_KEY),
        BearerToken(TOKEN),
        OAuthClientCredentials("client-id", CLIENT_SECRET),
    ):
        for text in (repr(obj), str(obj), f"{obj!r}", f"{obj}"):
            assert API_KEY not in text
            assert TOKEN not in text
            assert CLIENT_SECRET not in text
    assert "client-id" in repr(OAuthClientCredentials("client-id", CLIENT_SECRET))


@pytest.mark.parametrize("bad", ["", "   ", "line\nbreak", "x\r\nInjected: 1"])
def test_bad_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        ApiKey(bad)
    assert bad.strip() == "" or bad not in str(info.value)
    with pytest.raises(ValueError, match="token"):
        BearerToken(bad)
    with pytest.raises(ValueError, match="client_secret"):
        OAuthClientCredentials("id", bad)


def _texts(exc: BaseException) -> Iterator[str]:
    """Everything an exception can show: str, repr, attributes, the whole chain."""
    yield "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(vars(current))
        current = current.__cause__ or current.__context__


def _secrets() -> list[str]:
    basic = base64.b64encode(f"apikey:{API_KEY}".encode()).decode()
    return [API_KEY, TOKEN, CLIENT_SECRET, ACCESS_TOKEN, basic]


async def test_secrets_never_show_after_failing_runs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    failures: list[BaseException] = []
    shown: list[str] = []

    def unauthorized(request: web.Request, s: Site) -> web.Response:
        return web.json_response(
            {
                "_type": "Error",
                "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
                "message": "You did not provide the correct credentials.",
            },
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="OpenProject API"'},
        )

    def token_refused(request: web.Request, s: Site) -> web.Response:
        # a token endpoint that (wrongly) echoes the secret in its error description
        return web.json_response(
            {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"},
            status=401,
        )

    def token_granted(request: web.Request, s: Site) -> web.Response:
        return web.json_response(
            {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 7200}
        )

    async with site({"/api/v3/me": unauthorized, "/oauth/token": token_refused}) as refusing:
        async with site({"/api/v3/me": unauthorized, "/oauth/token": token_granted}) as granting:
            runs: list[OpenProject] = [
                OpenProject(refusing.url, api_key=API_KEY, retry=FAST),
                OpenProject(refusing.url, token=TOKEN, retry=FAST),
                OpenProject(
                    refusing.url,
                    oauth=OAuthClientCredentials("client-id", CLIENT_SECRET),
                    retry=FAST,
                ),
                OpenProject(
                    granting.url,
                    oauth=OAuthClientCredentials("client-id", CLIENT_SECRET),
                    retry=FAST,
                ),
                OpenProject(f"http://127.0.0.1:{free_port()}", api_key=API_KEY, retry=FAST),
            ]
            for op in runs:
                async with op:
                    shown.extend([repr(op), str(op), repr(op.auth), repr(op.stats)])
                    try:
                        await op.request("GET", f"/api/v3/me?token={TOKEN}")
                    except OpenProjectError as exc:
                        failures.append(exc)
                    shown.extend([repr(op), str(op)])
            async with RawServer(script(Reply(mode="hang"))) as hung:
                async with OpenProject(hung.url, api_key=API_KEY, retry=None) as op:
                    try:
                        await op.request("POST", f"/api/v3/me?key={API_KEY}", json={}, timeout=0.1)
                    except OpenProjectError as exc:
                        failures.append(exc)
    kinds = [type(f) for f in failures]
    assert kinds.count(Unauthenticated) == 4
    assert isinstance(failures[4], ConnectionFailed)
    assert isinstance(failures[5], RequestTimeout)
    assert "invalid_client" in str(failures[2])  # the token endpoint's error, scrubbed
    assert "***" in str(failures[2])
    shown.extend(t for f in failures for t in _texts(f))
    # the test servers' own access log prints the query string it received: not ours
    client_side = [
        r for r in caplog.records if not r.name.startswith(("aiohttp.access", "aiohttp.server"))
    ]
    shown.extend(record.getMessage() for record in client_side)
    shown.extend(repr(vars(record)) for record in client_side)
    assert len(client_side) > 10
    for secret in _secrets():
        leaks = [text for text in shown if secret in text]
        assert leaks == [], f"{secret[:10]}... leaked in {leaks[:1]}"


async def test_aiohttp_errors_are_not_chained_into_library_errors() -> None:
    # aiohttp's ClientResponseError repr prints the request headers (Authorization
    # included); the library's errors must not carry aiohttp exceptions along.
    async with RawServer(script(Reply(mode="drop"))) as server:
        async with OpenProject(server.url, api_key=API_KEY, retry=None) as op:
            with pytest.raises(OpenProjectError) as info:
                await op.request("POST", "/api/v3/work_packages", json={})
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_garbled_http_answers_do_not_carry_aiohttp_errors(method: str) -> None:
    # aiohttp raises ClientResponseError for a garbled answer; its repr has the headers
    async with RawServer(script(Reply(mode="garbage"), Reply(mode="garbage"))) as server:
        async with OpenProject(server.url, api_key=API_KEY, retry=FAST) as op:
            with pytest.raises(OpenProjectError) as info:
                await op.request(method, "/api/v3/work_packages", json={})
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    texts = list(_texts(info.value))
    assert not any(API_KEY in t or "Authorization" in t for t in texts)
    assert "ClientResponseError" in str(info.value)  # the kind is named, nothing more


async def test_session_repr_is_safe_and_informative() -> None:
    async with OpenProject("http://127.0.0.1:9/op", api_key=API_KEY) as op:
        text = repr(op)
    assert text == "<OpenProject http://127.0.0.1:9/op auth=ApiKey(<hidden>) open>"
    assert repr(op).endswith("closed>")
    await asyncio.sleep(0)
