"""_auth, exactly: header values, checks, the token request on the wire, refusals, expiry.

Written against mutation testing (README, "Development"); the token endpoint is a
MockTransport handler, the clock is patched (no timing).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qsl

import pytest
from yarl import URL

from openproject_async import (
    ApiKey,
    BearerToken,
    HttpRequest,
    HttpResponse,
    OAuthClientCredentials,
)
from openproject_async import _auth as auth_module
from openproject_async.errors import ConnectionFailed, Unauthenticated
from openproject_async.testing import MockTransport

ROOT = URL("https://op.test/sub/api/v3")


def token_server(*answers: HttpResponse | Exception) -> MockTransport:
    queue = list(answers)

    def handler(request: HttpRequest) -> HttpResponse:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return MockTransport(handler)


def ok(token: str = "tok", **extra: Any) -> HttpResponse:
    return HttpResponse.json({"access_token": token, **extra}, content_type="application/json")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(auth_module.time, "monotonic", lambda: now[0])
    return now


async def test_api_key_and_bearer() -> None:
    t = token_server()
    key = ApiKey("k3y")
    assert await key.header(t, ROOT) == "Basic YXBpa2V5OmszeQ=="
    assert await key.invalidate("Basic YXBpa2V5OmszeQ==") is False
    assert repr(key) == "ApiKey(<hidden>)"
    bearer = BearerToken("opapi-x")
    assert await bearer.header(t, ROOT) == "Bearer opapi-x"
    assert await bearer.invalidate("Bearer opapi-x") is False
    assert repr(bearer) == "BearerToken(<hidden>)"
    assert t.requests == []


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (5, TypeError, "api_key must be a string, got int"),
        ("", ValueError, "api_key must be a non-empty string"),
        (" \t", ValueError, "api_key must be a non-empty string"),
        ("a\nb", ValueError, "api_key contains a line break or NUL character (value not shown)"),
        ("a\rb", ValueError, "api_key contains a line break or NUL character (value not shown)"),
        ("a\x00b", ValueError, "api_key contains a line break or NUL character (value not shown)"),
    ],
)
def test_secret_checks(value: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        ApiKey(value)
    with pytest.raises(error, match=f"^{re.escape(message.replace('api_key', 'token'))}$"):
        BearerToken(value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client_id": ""}, "client_id must be a non-empty string"),
        ({"client_id": " "}, "client_id must be a non-empty string"),
        ({"client_id": 5}, "client_id must be a non-empty string"),
        ({"client_secret": ""}, "client_secret must be a non-empty string"),
        ({"refresh_margin": -1}, "refresh_margin must be seconds >= 0, got -1"),
        ({"refresh_margin": "1"}, "refresh_margin must be seconds >= 0, got '1'"),
    ],
)
def test_oauth_checks(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"client_id": "id", "client_secret": "s", **kwargs}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        OAuthClientCredentials(args.pop("client_id"), args.pop("client_secret"), **args)


def test_oauth_defaults_and_repr() -> None:
    o = OAuthClientCredentials("id", "s3cret")
    assert (o.scope, o.token_url, o.refresh_margin, o.refreshes) == ("api_v3", None, 60.0, 0)
    assert repr(o) == "OAuthClientCredentials(client_id='id', client_secret=<hidden>)"
    assert OAuthClientCredentials("id", "s", refresh_margin=0).refresh_margin == 0.0


async def test_token_request_on_the_wire(clock: list[float]) -> None:
    t = token_server(ok("abc", expires_in=3600))
    o = OAuthClientCredentials("my id", "s&cret", scope="api_v3 bcf")
    assert await o.header(t, ROOT) == "Bearer abc"
    (req,) = t.requests
    assert req.method == "POST"
    assert str(req.url) == "https://op.test/sub/oauth/token"
    assert dict(req.headers) == {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert parse_qsl(req.body.decode()) == [
        ("grant_type", "client_credentials"),
        ("client_id", "my id"),
        ("client_secret", "s&cret"),
        ("scope", "api_v3 bcf"),
    ]
    assert (req.timeout.connect, req.timeout.read, req.timeout.total) == (10.0, 60.0, 120.0)
    assert o.refreshes == 1


@pytest.mark.parametrize(
    ("token_url", "root", "endpoint"),
    [
        (None, "https://op.test/api/v3", "https://op.test/oauth/token"),
        (None, "https://op.test/a/b/api/v3/", "https://op.test/a/b/oauth/token"),
        ("/custom/token", "https://op.test/sub/api/v3", "https://op.test/custom/token"),
        ("https://idp.test/t?x=1", "https://op.test/api/v3", "https://idp.test/t?x=1"),
    ],
)
async def test_token_endpoint(token_url: str | None, root: str, endpoint: str) -> None:
    t = token_server(ok())
    await OAuthClientCredentials("id", "s", token_url=token_url).header(t, URL(root))
    assert str(t.requests[0].url) == endpoint


async def test_the_token_is_reused_until_it_is_due(clock: list[float]) -> None:
    t = token_server(ok("one", expires_in=1000), ok("two", expires_in=1000), ok("three"))
    o = OAuthClientCredentials("id", "s", refresh_margin=100)
    assert await o.header(t, ROOT) == "Bearer one"
    clock[0] += 899.9
    assert await o.header(t, ROOT) == "Bearer one"
    clock[0] += 0.1  # 900 s = lifetime - margin
    assert await o.header(t, ROOT) == "Bearer two"
    assert (len(t.requests), o.refreshes) == (2, 2)


@pytest.mark.parametrize(
    ("expires_in", "margin", "due"),
    [
        (100, 60, 50.0),  # half the lifetime when the margin would leave less
        (1000, 0, 1000.0),
        (None, 60, 7140.0),  # OpenProject's 2 hours when the answer does not say
        (True, 60, 7140.0),
        ("3600", 60, 7140.0),
        (10.5, 0, 10.5),
    ],
)
async def test_when_a_token_is_due(
    clock: list[float], expires_in: Any, margin: float, due: float
) -> None:
    extra = {} if expires_in is None else {"expires_in": expires_in}
    t = token_server(ok("a", **extra), ok("b"))
    o = OAuthClientCredentials("id", "s", refresh_margin=margin)
    await o.header(t, ROOT)
    clock[0] += due - 0.001
    assert await o.header(t, ROOT) == "Bearer a"
    clock[0] += 0.001
    assert await o.header(t, ROOT) == "Bearer b"


async def test_invalidate(clock: list[float]) -> None:
    t = token_server(ok("a"), ok("b"))
    o = OAuthClientCredentials("id", "s")
    await o.header(t, ROOT)
    assert await o.invalidate("Bearer other") is True  # somebody refreshed: keep it
    assert await o.header(t, ROOT) == "Bearer a"
    assert await o.invalidate(None) is True
    assert await o.header(t, ROOT) == "Bearer a"
    assert await o.invalidate("Bearer a") is True
    assert await o.header(t, ROOT) == "Bearer b"
    assert len(t.requests) == 2


@pytest.mark.parametrize(
    ("answer", "status", "error", "description", "message"),
    [
        (
            HttpResponse.json(
                {"error": "invalid_client", "error_description": "bad s3cret and s3cret"}, 401
            ),
            401,
            "invalid_client",
            "bad *** and ***",
            "(HTTP 401): invalid_client - bad *** and ***",
        ),
        (
            HttpResponse.json({"error": "x"}, 400),
            400,
            "x",
            "",
            "(HTTP 400): x",
        ),
        (
            HttpResponse(502, {"Content-Type": "text/html"}, body=b"<h1>Bad gateway</h1>"),
            502,
            "no access_token in the answer",
            "<h1>Bad gateway</h1>",
            "(HTTP 502): no access_token in the answer - <h1>Bad gateway</h1>",
        ),
        (
            HttpResponse(200, {"Content-Type": "text/html"}, body=b"<h1>s3cret</h1>"),
            200,
            "no access_token in the answer",
            "",
            "(HTTP 200): no access_token in the answer",
        ),
        (
            HttpResponse(500, body=b""),
            500,
            "no access_token in the answer",
            "",
            "(HTTP 500): no access_token in the answer",
        ),
        (
            ok(""),
            200,
            "no access_token in the answer",
            "",
            "(HTTP 200): no access_token in the answer",
        ),
        (
            HttpResponse.json({"access_token": 5, "error": ""}),
            200,
            "no access_token in the answer",
            "",
            "(HTTP 200): no access_token in the answer",
        ),
        (
            HttpResponse.json({"access_token": "t", "error_description": 5}, 403),
            403,
            "no access_token in the answer",
            "",
            "(HTTP 403): no access_token in the answer",
        ),
        (
            HttpResponse.json({"error": "s3cret%21", "error_description": "s3cret!"}, 401),
            401,
            "***",
            "***",
            "(HTTP 401): *** - ***",
        ),
    ],
)
async def test_refusals(
    answer: HttpResponse, status: int, error: str, description: str, message: str
) -> None:
    # the secret, also form- or URL-encoded, never shows
    o = OAuthClientCredentials("id", "s3cret!" if error == "***" else "s3cret")
    with pytest.raises(Unauthenticated) as info:
        await o.header(token_server(answer), ROOT)
    e = info.value
    assert e.status == status
    assert e.message == (
        "OAuth token endpoint https://op.test/sub/oauth/token refused the client credentials "
        + message
    )
    assert e.details == {"error": error, "error_description": description}
    assert e.body == {"error": error, "error_description": description}
    assert o.refreshes == 0


async def test_a_failed_token_request() -> None:
    o = OAuthClientCredentials("id", "s", token_url="https://u:p@idp.test/t?secret=1")
    with pytest.raises(Unauthenticated) as info:
        await o.header(token_server(ConnectionFailed("refused")), ROOT)
    e = info.value
    assert e.status is None
    assert e.message == "OAuth token request to https://idp.test/t failed: ConnectionFailed"
    assert e.details == {"error": "token_request_failed", "error_description": "ConnectionFailed"}


async def test_waiters_share_a_failed_refresh_and_the_next_call_asks_again() -> None:
    gate = asyncio.Event()
    calls: list[int] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        calls.append(1)
        if len(calls) == 1:
            await gate.wait()
            return HttpResponse.json({"error": "invalid_client"}, 401)
        return ok("later")

    t = MockTransport(handler)
    o = OAuthClientCredentials("id", "s")
    first = asyncio.create_task(o.header(t, ROOT))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(o.header(t, ROOT)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(first, *waiters, return_exceptions=True)
    assert [type(r) for r in results] == [Unauthenticated] * 4
    assert len({id(r) for r in results}) == 4  # each waiter raises its own copy
    assert {r.message for r in results} == {  # type: ignore[union-attr]
        "OAuth token endpoint https://op.test/sub/oauth/token refused the client "
        "credentials (HTTP 401): invalid_client"
    }
    assert [r.details for r in results[1:]] == [  # type: ignore[union-attr]
        {"error": "invalid_client", "error_description": ""}
    ] * 3
    assert len(calls) == 1
    assert await o.header(t, ROOT) == "Bearer later"
    assert len(calls) == 2


def test_rebuilder_of_another_error() -> None:
    make = auth_module._rebuilder(ConnectionFailed("boom"))
    a, b = make(), make()
    assert a is not b
    assert (type(a), a.status, a.identifier, a.message) == (Unauthenticated, None, None, "boom")


# -- what mutation testing found untested ------------------------------------------------


async def test_token_requests_are_logged_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="openproject_async")
    o = OAuthClientCredentials("id", "s3cret", token_url="https://idp.test/t?x=1")
    await o.header(token_server(ok()), ROOT)
    with pytest.raises(Unauthenticated):
        await OAuthClientCredentials("id", "s3cret").header(
            token_server(ConnectionFailed("refused")), ROOT
        )
    records = [r for r in caplog.records if "OAuth token" in r.getMessage()]
    assert [r.getMessage().split(" in ")[0] for r in records] == [
        "POST https://idp.test/t (OAuth token) -> 200",
        "POST https://op.test/sub/oauth/token (OAuth token) -> no answer",
    ]
    assert [(r.method, r.url, r.status) for r in records] == [  # type: ignore[attr-defined]
        ("POST", "https://idp.test/t", 200),
        ("POST", "https://op.test/sub/oauth/token", None),
    ]
    assert all(0 <= float(r.getMessage().rsplit(" ", 1)[1].rstrip("s")) < 5 for r in records)
    assert "s3cret" not in caplog.text


async def test_an_error_page_is_shown_from_its_first_200_bytes() -> None:
    page = b"\xff" + b"x" * 300
    o = OAuthClientCredentials("id", "s")
    with pytest.raises(Unauthenticated) as info:
        await o.header(token_server(HttpResponse(502, body=page)), ROOT)
    assert info.value.details["error_description"] == "\ufffd" + "x" * 199


async def test_waiters_get_the_whole_refusal() -> None:
    gate = asyncio.Event()

    async def handler(request: HttpRequest) -> HttpResponse:
        await gate.wait()
        return HttpResponse.json({"error": "invalid_client", "error_description": "no"}, 401)

    t = MockTransport(handler)
    o = OAuthClientCredentials("id", "s")
    first = asyncio.create_task(o.header(t, ROOT))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(o.header(t, ROOT))
    await asyncio.sleep(0)
    gate.set()
    a, b = await asyncio.gather(first, waiter, return_exceptions=True)
    assert isinstance(a, Unauthenticated)
    assert isinstance(b, Unauthenticated)
    assert (b.status, b.identifier, b.message, b.details, b.body) == (
        a.status,
        a.identifier,
        a.message,
        a.details,
        a.body,
    )
    assert b.status == 401
    assert b.body == {"error": "invalid_client", "error_description": "no"}


async def test_the_first_call_always_asks_for_a_token(clock: list[float]) -> None:
    clock[0] = 0.5  # a clock that starts near zero: nothing counts as fresh yet
    t = token_server(ok("a"))
    o = OAuthClientCredentials("id", "s")
    assert await o.header(t, ROOT) == "Bearer a"
    assert len(t.requests) == 1


async def test_each_failed_refresh_is_shared_with_its_own_waiters() -> None:
    calls: list[int] = []
    gates = [asyncio.Event(), asyncio.Event()]

    async def handler(request: HttpRequest) -> HttpResponse:
        calls.append(1)
        await gates[len(calls) - 1].wait()
        return HttpResponse.json({"error": "invalid_client"}, 401)

    t = MockTransport(handler)
    o = OAuthClientCredentials("id", "s")
    for gate in gates:  # two rounds: a first call that fails, and a waiter on it
        first = asyncio.create_task(o.header(t, ROOT))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(o.header(t, ROOT))
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(first, waiter, return_exceptions=True)
        assert [type(r) for r in results] == [Unauthenticated, Unauthenticated]
    assert len(calls) == 2


async def test_the_token_endpoint_next_to_an_api_root_with_a_doubled_slash() -> None:
    t = token_server(ok())
    await OAuthClientCredentials("id", "s").header(t, URL("https://op.test/x//api/v3"))
    assert str(t.requests[0].url) == "https://op.test/x/oauth/token"
