"""The exchange over MockTransport, exactly: headers, redirects, re-authentication, retries.

Written against mutation testing (README, "Development"): each test states what went on
the wire (method, URL, headers, body), the counters, and the error with its fields.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from openproject_async import (
    HttpRequest,
    HttpResponse,
    OAuthClientCredentials,
    OpenProject,
    RetryPolicy,
)
from openproject_async.errors import (
    APIError,
    ConnectionFailed,
    CrossOriginRefused,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    Unauthenticated,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
NO_WAIT = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0, max_wait_hint=0.0)
DOC = {"_type": "Thing", "id": 1}
ERR = "urn:openproject-org:api:v3:errors:"


def err(suffix: str, status: int, **headers: str) -> HttpResponse:
    doc = {"_type": "Error", "errorIdentifier": ERR + suffix, "message": suffix}
    return HttpResponse.json(doc, status, headers)


def redirect(status: int, location: str) -> HttpResponse:
    return HttpResponse(status, {"Location": location})


def script(*answers: HttpResponse | Exception | Callable[[HttpRequest], HttpResponse]) -> Any:
    queue = list(answers)

    def handler(request: HttpRequest) -> HttpResponse:
        answer = queue.pop(0) if queue else HttpResponse.json(DOC)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, HttpResponse):
            return answer(request)
        return answer

    return MockTransport(handler)


def wire(mock: MockTransport) -> list[tuple[str, str, dict[str, str], Any]]:
    out = []
    for r in mock.requests:
        body = r.body
        if isinstance(body, bytes) and body:
            body = orjson.loads(body)
        out.append((r.method, str(r.url), dict(r.headers), body))
    return out


ACCEPT = "application/hal+json, application/json"
BASIC = "Basic YXBpa2V5Oms="


async def test_headers_on_the_wire() -> None:
    mock = script()
    async with OpenProject(
        BASE, api_key="k", transport=mock, retry=None, headers={"X-Tenant": "t"}
    ) as op:
        await op.request("GET", "/api/v3/x", params={"a": [1]})
        await op.request("POST", "/api/v3/x", json={"s": 1}, headers={"X-Req": "r"})
        await op.request("DELETE", "/api/v3/x")
    assert wire(mock) == [
        (
            "GET",
            "https://op.test/api/v3/x?a=%5B1%5D",
            {"Accept": ACCEPT, "X-Tenant": "t", "Authorization": BASIC},
            None,
        ),
        (
            "POST",
            "https://op.test/api/v3/x",
            {
                "Accept": ACCEPT,
                "X-Tenant": "t",
                "Content-Type": "application/json",
                "X-Req": "r",
                "Authorization": BASIC,
            },
            {"s": 1},
        ),
        (
            "DELETE",
            "https://op.test/api/v3/x",
            {
                "Accept": ACCEPT,
                "X-Tenant": "t",
                "Content-Type": "application/json",
                "Authorization": BASIC,
            },
            None,
        ),
    ]
    assert op.stats["requests"] == 3


async def test_no_auth_sends_no_authorization() -> None:
    mock = script()
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        await op.request("GET", "/api/v3/x")
    assert wire(mock)[0][2] == {"Accept": ACCEPT}


async def test_session_timeouts_reach_the_transport() -> None:
    mock = script()
    async with OpenProject(
        BASE, transport=mock, retry=None, connect_timeout=3, read_timeout=4, timeout=20
    ) as op:
        await op.request("GET", "/api/v3/x")
        await op.request("GET", "/api/v3/y", timeout=2)
    t1, t2 = mock.requests[0].timeout, mock.requests[1].timeout
    assert (t1.connect, t1.read, t1.total) == (3, 4, 20.0)
    assert (t2.total, t2.connect) == (2.0, 2.0)


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_redirected_post_continues_as_a_get(status: int) -> None:
    mock = script(redirect(status, "/api/v3/there?x=1"))
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        assert await op.request("POST", "/api/v3/here", json={"a": 1}) == DOC
    assert [(m, u, b) for m, u, _, b in wire(mock)] == [
        ("POST", "https://op.test/api/v3/here", {"a": 1}),
        ("GET", "https://op.test/api/v3/there?x=1", None),
    ]
    assert wire(mock)[1][2] == {"Accept": ACCEPT, "Authorization": BASIC}


@pytest.mark.parametrize("status", [307, 308])
async def test_307_308_resend_method_and_body(status: int) -> None:
    mock = script(redirect(status, "https://op.test/api/v3/there"))
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        await op.request("PATCH", "/api/v3/here", json={"a": 1})
    assert [(m, u, b) for m, u, _, b in wire(mock)] == [
        ("PATCH", "https://op.test/api/v3/here", {"a": 1}),
        ("PATCH", "https://op.test/api/v3/there", {"a": 1}),
    ]


async def test_a_write_redirected_to_another_origin_is_refused() -> None:
    mock = script(redirect(307, "https://elsewhere.test/x"))
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        with pytest.raises(CrossOriginRefused) as info:
            await op.request("POST", "/api/v3/here", json={})
    assert str(info.value) == (
        "refusing POST to https://elsewhere.test/x (redirected from "
        "https://op.test/api/v3/here): not the configured server https://op.test "
        "(cross_origin='refuse_writes')"
    )
    assert len(mock.requests) == 1


async def test_a_read_redirected_elsewhere_goes_without_credentials() -> None:
    mock = script(redirect(302, "https://cdn.test/f"))
    async with OpenProject(
        BASE, api_key="k", transport=mock, retry=None, headers={"X-Tenant": "t"}
    ) as op:
        await op.request("GET", "/api/v3/f", headers={"X-Req": "1"})
    assert wire(mock)[1][:3] == ("GET", "https://cdn.test/f", {"Accept": ACCEPT})


async def test_ten_redirects_are_followed_the_eleventh_is_an_error() -> None:
    hops = [redirect(302, f"/api/v3/r{i}") for i in range(10)]
    mock = script(*hops)
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        assert await op.request("GET", "/api/v3/start") == DOC
    assert len(mock.requests) == 11
    mock = script(*hops, redirect(302, "/api/v3/r10"))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(ProtocolError) as info:
            await op.request("GET", "/api/v3/start?token=s")
    assert str(info.value) == "more than 10 redirects; from https://op.test/api/v3/start?token=***"
    assert len(mock.requests) == 11


async def test_oauth_reauthenticates_once_after_a_401() -> None:
    calls: list[str] = []

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/oauth/token":
            calls.append("token")
            return HttpResponse.json({"access_token": f"t{len(calls)}"})
        calls.append(request.headers["Authorization"])
        return err("Unauthenticated", 401)

    mock = MockTransport(handler)
    oauth = OAuthClientCredentials("id", "s")
    async with OpenProject(BASE, oauth=oauth, transport=mock, retry=None) as op:
        with pytest.raises(Unauthenticated):
            await op.request("GET", "/api/v3/x")
    assert calls == ["token", "Bearer t1", "token", "Bearer t3"]
    assert op.stats["reauthentications"] == 1


async def test_an_api_key_is_not_reauthenticated() -> None:
    mock = script(err("Unauthenticated", 401))
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        with pytest.raises(Unauthenticated) as info:
            await op.request("GET", "/api/v3/x")
    assert (info.value.status, info.value.attempts) == (401, 1)
    assert (len(mock.requests), op.stats["reauthentications"]) == (1, 0)


async def test_a_401_without_auth_is_the_answer() -> None:
    mock = script(err("Unauthenticated", 401))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(Unauthenticated):
            await op.request("GET", "/api/v3/x")
    assert len(mock.requests) == 1


async def test_retries_count_log_and_give_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="openproject_async")
    mock = script(*(err("ServiceUnavailable", 503) for _ in range(3)))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(APIError) as info:
            await op.request("GET", "/api/v3/x?key=s")
    assert (info.value.status, info.value.attempts) == (503, 3)
    assert (op.stats["requests"], op.stats["retries"]) == (3, 2)
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    hops = [m for lvl, m in records if lvl == "DEBUG"]
    assert [h.split(" in ")[0] for h in hops] == ["GET https://op.test/api/v3/x?key=*** -> 503"] * 3
    assert [h.rsplit("s", 1)[1] for h in hops] == ["", " (retry 1)", " (retry 2)"]
    retries = [m for lvl, m in records if lvl == "INFO"]
    assert retries == [
        "retrying GET https://op.test/api/v3/x?key=*** in 0.00s (attempt 1 of 3 failed: "
        f"{type(info.value).__name__} 503)",
        "retrying GET https://op.test/api/v3/x?key=*** in 0.00s (attempt 2 of 3 failed: "
        f"{type(info.value).__name__} 503)",
    ]
    infos = [r for r in caplog.records if r.levelname == "INFO"]
    assert [(r.method, r.url, r.status, r.retries) for r in infos] == [  # type: ignore[attr-defined]
        ("GET", "https://op.test/api/v3/x?key=***", 503, 1),
        ("GET", "https://op.test/api/v3/x?key=***", 503, 2),
    ]
    debug = [r for r in caplog.records if r.levelname == "DEBUG"]
    assert [(r.method, r.url, r.status, r.retries) for r in debug] == [  # type: ignore[attr-defined]
        ("GET", "https://op.test/api/v3/x?key=***", 503, n) for n in range(3)
    ]
    assert all(r.duration >= 0 for r in debug)  # type: ignore[attr-defined]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [re.sub(r" in \d+\.\ds:", ":", w.getMessage()) for w in warnings] == [
        "giving up GET https://op.test/api/v3/x?key=*** after 3 attempts: "
        f"{type(info.value).__name__} 503"
    ]
    assert (warnings[0].method, warnings[0].url, warnings[0].status, warnings[0].retries) == (  # type: ignore[attr-defined]
        "GET",
        "https://op.test/api/v3/x?key=***",
        503,
        2,
    )


async def test_a_retry_that_succeeds() -> None:
    mock = script(err("ServiceUnavailable", 503), HttpResponse.json(DOC))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        assert await op.request("GET", "/api/v3/x") == DOC
    assert (op.stats["requests"], op.stats["retries"]) == (2, 1)


async def test_what_is_not_retried() -> None:
    for policy, kwargs, answers in [
        (NO_WAIT, {"method": "POST", "json": {}}, [err("ServiceUnavailable", 503)]),
        (NO_WAIT, {"method": "GET", "retry": False}, [err("ServiceUnavailable", 503)]),
        (NO_WAIT, {"method": "GET"}, [err("NotFound", 404)]),
        (RetryPolicy(attempts=1), {"method": "GET"}, [err("ServiceUnavailable", 503)]),
    ]:
        mock = script(*answers)
        async with OpenProject(BASE, transport=mock, retry=policy) as op:
            method = kwargs.pop("method")
            with pytest.raises(APIError) as info:
                await op.request(method, "/api/v3/x", **kwargs)
        assert (len(mock.requests), info.value.attempts, op.stats["retries"]) == (1, 1, 0)


async def test_a_retried_delete_that_finds_nothing_is_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="openproject_async")
    mock = script(err("ServiceUnavailable", 503), err("NotFound", 404))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        assert await op.request("DELETE", "/api/v3/x") is None
    assert "DELETE https://op.test/api/v3/x: 404 on retry 1, taken as already deleted" in [
        r.getMessage() for r in caplog.records
    ]
    mock = script(err("NotFound", 404))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(NotFound):
            await op.request("DELETE", "/api/v3/x")


async def test_a_lost_answer_to_a_create_is_outcome_unknown() -> None:
    mock = script(ConnectionFailed("reset"))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(OutcomeUnknown) as info:
            await op.request("POST", "/api/v3/x", json={})
    assert (info.value.method, info.value.url, info.value.attempts) == (
        "POST",
        "https://op.test/api/v3/x",
        1,
    )
    assert info.value.__context__ is None
    assert len(mock.requests) == 1


async def test_a_connection_that_never_opened_is_retried_for_a_create() -> None:
    mock = script(ConnectionFailed("refused", before_send=True), HttpResponse.json(DOC, 201))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        assert await op.request("POST", "/api/v3/x", json={}) == DOC
    assert len(mock.requests) == 2


async def test_the_wait_hint_is_kept_without_retries() -> None:
    mock = script(err("ServiceUnavailable", 503, **{"Retry-After": "7"}))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(APIError) as info:
            await op.request("GET", "/api/v3/x")
    assert info.value.retry_after == 7.0
    mock = script(HttpResponse(502, {"Content-Type": "text/html", "Retry-After": "2"}, body=b"x"))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(ProtocolError) as perr:
            await op.request("GET", "/api/v3/x")
    assert (perr.value.retry_after, perr.value.url) == (2.0, "https://op.test/api/v3/x")


async def test_a_later_failure_that_is_not_retryable_ends_the_retries() -> None:
    mock = script(err("X", 503), err("NotFound", 404), HttpResponse.json(DOC))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(NotFound) as info:
            await op.request("GET", "/api/v3/x")
    assert (info.value.attempts, len(mock.requests)) == (2, 2)


async def test_giving_up_is_a_warning_only_after_retries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="openproject_async")
    two = RetryPolicy(attempts=2, backoff=0.0, max_backoff=0.0)
    mock = script(err("X", 503), err("X", 503))
    async with OpenProject(BASE, transport=mock, retry=two) as op:
        with pytest.raises(APIError):
            await op.request("GET", "/api/v3/x")
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [re.sub(r" in \d+\.\ds:", ":", m) for m in warned] == [
        "giving up GET https://op.test/api/v3/x after 2 attempts: APIError 503"
    ]
    caplog.clear()
    late = RetryPolicy(attempts=5, deadline=5.0, max_wait_hint=1000.0)
    mock = script(err("X", 503, **{"Retry-After": "100"}))
    async with OpenProject(BASE, transport=mock, retry=late) as op:
        with pytest.raises(APIError) as info:
            await op.request("GET", "/api/v3/x")
    assert (info.value.attempts, len(mock.requests)) == (1, 1)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


async def test_a_first_delete_that_finds_nothing_without_retries_is_not_found() -> None:
    for policy in (None, NO_WAIT):
        mock = script(err("NotFound", 404))
        async with OpenProject(BASE, transport=mock, retry=policy) as op:
            with pytest.raises(NotFound):
                await op.request("DELETE", "/api/v3/x", retry=False if policy else None)


async def test_an_answer_without_a_content_type() -> None:
    mock = script(HttpResponse(200, body=b"{}"))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(ProtocolError) as info:
            await op.request("GET", "/api/v3/x")
    assert (info.value.content_type, info.value.url) == ("", "https://op.test/api/v3/x")
    assert str(info.value) == (
        "answer is not JSON (expected application/hal+json); status 200; "
        "from https://op.test/api/v3/x; body starts '{}'"
    )


async def test_a_text_request_error_names_the_url() -> None:
    mock = script(HttpResponse(502, {"Content-Type": "text/html"}, body=b"<h1>down</h1>"))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        wp = op.wrap(
            {
                "_type": "X",
                "_links": {"preview": {"href": "/api/v3/render/markdown", "method": "post"}},
            }
        )
        with pytest.raises(ProtocolError) as info:
            await wp.action("preview", "*x*")
    assert info.value.url == "https://op.test/api/v3/render/markdown"
