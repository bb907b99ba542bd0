"""Credentials on the wire: API key as Basic ``apikey``, Bearer tokens, OAuth client credentials.

An aiohttp test server plays Doorkeeper's ``/oauth/token`` and an API that accepts only
the tokens it issued (and can revoke them), counting every token request.
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from openproject_async import OAuthClientCredentials, OpenProject, RetryPolicy
from openproject_async.errors import MissingPermission, Unauthenticated

FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002)
CLIENT_ID = "the-client"
SECRET = "the-client-secret"


def _error(status: int, ident: str, message: str) -> web.Response:
    return web.json_response(
        {
            "_type": "Error",
            "errorIdentifier": f"urn:openproject-org:api:v3:errors:{ident}",
            "message": message,
        },
        status=status,
    )


@dataclass
class Doorkeeper:
    """Token endpoint + API. ``token_answers`` overrides the token endpoint's answers."""

    expires_in: int = 7200
    prefix: str = ""
    token_delay: float = 0.0
    token_answers: list[tuple[int, Any]] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    api_requests: list[str | None] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    release: asyncio.Event | None = None

    async def token(self, request: web.Request) -> web.Response:
        form = dict(parse_qsl(await request.text()))
        self.token_requests.append(
            {"content_type": request.content_type, "form": form, "path": request.path}
        )
        if self.release is not None:
            await self.release.wait()
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if self.token_answers:
            status, body = self.token_answers.pop(0)
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type="text/html")
            return web.json_response(body, status=status)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != SECRET:
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status=401,
            )
        token = f"token-{next(self.counter)}"
        self.valid.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def api(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        self.api_requests.append(header)
        if header is None or not header.startswith("Bearer "):
            return _error(401, "Unauthenticated", "You need to be authenticated")
        if header[7:] not in self.valid:
            return _error(401, "Unauthenticated", "You did not provide the correct credentials.")
        if request.path.endswith("/forbidden"):
            return _error(403, "MissingPermission", "no")
        return web.json_response({"_type": "Thing", "path": request.path})

    def revoke_all(self) -> None:
        self.valid.clear()


@contextlib.asynccontextmanager
async def doorkeeper(**kw: Any) -> AsyncIterator[tuple[Doorkeeper, str]]:
    dk = Doorkeeper(**kw)
    app = web.Application()
    app.router.add_post(f"{dk.prefix}/oauth/token", dk.token)
    app.router.add_route("*", f"{dk.prefix}/api/v3/{{tail:.*}}", dk.api)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield dk, str(server.make_url(dk.prefix)).rstrip("/")
    finally:
        await server.close()


def oauth(**kw: Any) -> OAuthClientCredentials:
    return OAuthClientCredentials(CLIENT_ID, SECRET, **kw)


async def test_token_request_is_form_encoded_client_credentials() -> None:
    async with doorkeeper() as (dk, url):
        async with OpenProject(url, oauth=oauth(), retry=FAST) as op:
            assert await op.request("GET", "/api/v3/x") == {"_type": "Thing", "path": "/api/v3/x"}
    assert len(dk.token_requests) == 1
    sent = dk.token_requests[0]
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["path"] == "/oauth/token"
    assert sent["form"] == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": "api_v3",
    }
    assert dk.api_requests == ["Bearer token-1"]


async def test_token_endpoint_follows_a_sub_path_deployment() -> None:
    async with doorkeeper(prefix="/openproject") as (dk, url):
        assert url.endswith("/openproject")
        async with OpenProject(url, oauth=oauth()) as op:
            await op.request("GET", "/api/v3/x")
    assert [r["path"] for r in dk.token_requests] == ["/openproject/oauth/token"]


async def test_one_refresh_however_many_requests_wait() -> None:
    async with doorkeeper() as (dk, url):
        dk.release = asyncio.Event()
        credentials = oauth()
        async with OpenProject(url, oauth=credentials, max_concurrency=8) as op:
            waiting = [
                asyncio.ensure_future(op.request("GET", f"/api/v3/x/{i}")) for i in range(30)
            ]
            for _ in range(50):  # let every request reach the token wait
                await asyncio.sleep(0)
            dk.release.set()
            docs = await asyncio.gather(*waiting)
    assert len(dk.token_requests) == 1
    assert credentials.refreshes == 1
    assert [d["path"] for d in docs] == [f"/api/v3/x/{i}" for i in range(30)]  # type: ignore[index]
    assert set(dk.api_requests) == {"Bearer token-1"}


async def test_token_is_refreshed_before_it_expires() -> None:
    # expires_in=0: every token is due for refresh at once, so each request refreshes
    # first and the API never sees an expired token (no 401).
    async with doorkeeper(expires_in=0) as (dk, url):
        credentials = oauth(refresh_margin=60)
        async with OpenProject(url, oauth=credentials) as op:
            for i in range(3):
                await op.request("GET", f"/api/v3/x/{i}")
            assert op.stats["reauthentications"] == 0
    assert len(dk.token_requests) == 3
    assert dk.api_requests == ["Bearer token-1", "Bearer token-2", "Bearer token-3"]


async def test_token_is_reused_while_fresh() -> None:
    async with doorkeeper(expires_in=7200) as (dk, url):
        async with OpenProject(url, oauth=oauth()) as op:
            for i in range(5):
                await op.request("GET", f"/api/v3/x/{i}")
    assert len(dk.token_requests) == 1


async def test_a_401_refreshes_once_and_retries() -> None:
    async with doorkeeper() as (dk, url):
        async with OpenProject(url, oauth=oauth(), retry=None) as op:
            await op.request("GET", "/api/v3/a")
            dk.revoke_all()  # e.g. revoked on the server before it expired
            doc = await op.request("POST", "/api/v3/work_packages", json={})  # not replayable
            assert doc == {"_type": "Thing", "path": "/api/v3/work_packages"}
            assert op.stats["reauthentications"] == 1
    assert len(dk.token_requests) == 2
    assert dk.api_requests == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


async def test_many_401s_at_once_share_one_refresh() -> None:
    async with doorkeeper() as (dk, url):
        async with OpenProject(url, oauth=oauth(), max_concurrency=10) as op:
            await op.request("GET", "/api/v3/warm")
            dk.revoke_all()
            await asyncio.gather(*(op.request("GET", f"/api/v3/x/{i}") for i in range(10)))
    assert len(dk.token_requests) == 2
    assert dk.api_requests.count("Bearer token-2") == 10


async def test_a_token_the_api_keeps_refusing_is_unauthenticated_after_one_refresh() -> None:
    async with doorkeeper() as (dk, url):
        dk.valid = _NeverValid()
        async with OpenProject(url, oauth=oauth(), retry=FAST) as op:
            with pytest.raises(Unauthenticated, match="correct credentials"):
                await op.request("GET", "/api/v3/x")
    assert len(dk.token_requests) == 2
    assert len(dk.api_requests) == 2


class _NeverValid(set[str]):
    def add(self, element: str) -> None:
        pass


async def test_refused_client_credentials_surface_the_token_endpoint_error() -> None:
    async with doorkeeper() as (dk, url):
        credentials = OAuthClientCredentials(CLIENT_ID, "wrong-secret")
        async with OpenProject(url, oauth=credentials, retry=FAST) as op:
            with pytest.raises(Unauthenticated) as info:
                await op.request("GET", "/api/v3/x")
    err = info.value
    assert err.status == 401
    assert "invalid_client" in str(err)
    assert "Client authentication failed" in str(err)
    assert err.details == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }
    assert dk.api_requests == []  # nothing reached the API without a token
    assert "wrong-secret" not in str(err)


async def test_a_failed_refresh_is_shared_by_every_waiter_then_tried_again() -> None:
    answers = [(400, {"error": "invalid_scope", "error_description": "bad scope"})]
    async with doorkeeper(token_answers=answers) as (dk, url):
        dk.release = asyncio.Event()
        async with OpenProject(url, oauth=oauth(), max_concurrency=4) as op:
            waiting = [
                asyncio.ensure_future(op.request("GET", f"/api/v3/x/{i}")) for i in range(12)
            ]
            for _ in range(50):
                await asyncio.sleep(0)
            dk.release.set()
            results = await asyncio.gather(*waiting, return_exceptions=True)
            assert all(isinstance(r, Unauthenticated) for r in results)
            assert all("invalid_scope" in str(r) for r in results)
            assert len({id(r) for r in results}) == 12  # each waiter its own exception
            assert len(dk.token_requests) == 1
            # a later request asks again (and this time gets a token)
            assert (await op.request("GET", "/api/v3/later"))["path"] == "/api/v3/later"  # type: ignore[index]
    assert len(dk.token_requests) == 2


async def test_token_endpoint_html_error_page_is_unauthenticated() -> None:
    answers = [(502, "<html>Bad Gateway</html>")]
    async with doorkeeper(token_answers=answers) as (_dk, url):
        async with OpenProject(url, oauth=oauth(), retry=None) as op:
            with pytest.raises(Unauthenticated) as info:
                await op.request("GET", "/api/v3/x")
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)


async def test_token_answer_without_access_token_is_unauthenticated() -> None:
    answers = [(200, {"token_type": "Bearer"})]
    async with doorkeeper(token_answers=answers) as (_dk, url):
        async with OpenProject(url, oauth=oauth(), retry=None) as op:
            with pytest.raises(Unauthenticated, match="no access_token"):
                await op.request("GET", "/api/v3/x")


async def test_unreachable_token_endpoint_is_unauthenticated() -> None:
    async with doorkeeper() as (_dk, url):
        credentials = oauth(token_url="http://127.0.0.1:9/oauth/token")
        async with OpenProject(url, oauth=credentials, retry=None) as op:
            with pytest.raises(Unauthenticated, match=r"token request .* failed"):
                await op.request("GET", "/api/v3/x")


async def test_other_api_errors_do_not_trigger_a_refresh() -> None:
    async with doorkeeper() as (dk, url):
        async with OpenProject(url, oauth=oauth()) as op:
            with pytest.raises(MissingPermission):
                await op.request("GET", "/api/v3/forbidden")
    assert len(dk.token_requests) == 1


async def test_api_key_is_basic_apikey_and_never_refreshed() -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return _error(401, "Unauthenticated", "You did not provide the correct credentials.")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with OpenProject(str(server.make_url("")), api_key="k3y", retry=FAST) as op:
            with pytest.raises(Unauthenticated):
                await op.request("GET", "/api/v3/x")
            assert op.stats["reauthentications"] == 0
    finally:
        await server.close()
    assert seen == ["Basic " + base64.b64encode(b"apikey:k3y").decode()]


def test_oauth_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="client_id"):
        OAuthClientCredentials("", SECRET)
    with pytest.raises(ValueError, match="refresh_margin"):
        OAuthClientCredentials(CLIENT_ID, SECRET, refresh_margin=-1)
    with pytest.raises(TypeError, match="at most one"):
        OpenProject("http://127.0.0.1:1", api_key="k", oauth=oauth())
