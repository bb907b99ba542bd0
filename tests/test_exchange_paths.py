"""The exchange's less travelled paths, exactly (written against mutation testing):
the first hop's headers, redirect hops that fail or time out, re-sends the transport
made by itself, the size cap on every path, log records and their fields."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from openproject_async import HttpRequest, HttpResponse, OpenProject, RetryPolicy
from openproject_async.errors import (
    ConnectionFailed,
    CrossOriginRefused,
    InternalServerError,
    OutcomeUnknown,
    RequestTimeout,
    ResponseTooLarge,
    Unauthenticated,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
OTHER = "https://elsewhere.test"
DOC = {"_type": "Thing", "id": 1}
NO_WAIT = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0, max_wait_hint=0.0)


class Timing(MockTransport):
    enforces_total = True


def ok(_request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(DOC)


def queue(*answers: HttpResponse | Exception) -> Any:
    pending = list(answers)

    def handler(_request: HttpRequest) -> HttpResponse:
        answer = pending.pop(0) if pending else HttpResponse.json(DOC)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


async def test_the_callers_headers_go_to_a_foreign_first_hop_but_not_further() -> None:
    mock = MockTransport(queue(HttpResponse(302, {"Location": f"{OTHER}/next"})))
    async with OpenProject(
        BASE, api_key="k", transport=mock, cross_origin="allow", headers={"X-Tenant": "t"}
    ) as op:
        await op.request("GET", f"{OTHER}/first", headers={"X-Req": "r"})
    assert [(str(r.url), dict(r.headers)) for r in mock.requests] == [
        (f"{OTHER}/first", {"Accept": "application/hal+json, application/json", "X-Req": "r"}),
        (f"{OTHER}/next", {"Accept": "application/hal+json, application/json"}),
    ]


async def test_cached_get_headers_are_for_plain_gets_only() -> None:
    mock = MockTransport(ok)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        await op.request("POST", "/api/v3/a", json={})
        await op.request("GET", "/api/v3/b", headers={"X-Once": "1"})
        await op.request("GET", "/api/v3/c")
        await op.request("DELETE", "/api/v3/d")
        await op.request("GET", "/api/v3/e", headers={"X-Twice": "2"})
        await op.request("POST", "/api/v3/f", data=b"raw")  # no JSON body: no Content-Type
        await op.request("HEAD", "/api/v3/g")
    names = [sorted(r.headers) for r in mock.requests]
    assert names == [
        ["Accept", "Authorization", "Content-Type"],
        ["Accept", "Authorization", "X-Once"],
        ["Accept", "Authorization"],
        ["Accept", "Authorization", "Content-Type"],
        ["Accept", "Authorization", "X-Twice"],
        ["Accept", "Authorization"],
        ["Accept", "Authorization"],
    ]


async def test_a_get_redirect_hop_that_loses_its_answer_is_retried_not_unknown() -> None:
    mock = MockTransport(
        queue(HttpResponse(302, {"Location": "/api/v3/b"}), ConnectionFailed("reset"))
    )
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(ConnectionFailed):  # a GET may be repeated: not OutcomeUnknown
            await op.request("GET", "/api/v3/a")
    mock = MockTransport(
        queue(HttpResponse(302, {"Location": "/api/v3/b"}), ConnectionFailed("reset"))
    )
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        assert await op.request("GET", "/api/v3/a") == DOC
    assert [r.url.path for r in mock.requests] == ["/api/v3/a", "/api/v3/b", "/api/v3/a"]


async def test_a_retry_attempt_that_loses_its_answer_is_retried_again() -> None:
    busy = HttpResponse.json(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
            "message": "busy",
        },
        503,
    )
    mock = MockTransport(queue(busy, ConnectionFailed("reset")))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        assert await op.request("GET", "/api/v3/a") == DOC
        assert (op.stats["requests"], op.stats["retries"]) == (3, 2)


async def test_a_post_redirect_hop_that_loses_its_answer_is_outcome_unknown() -> None:
    mock = MockTransport(
        queue(HttpResponse(307, {"Location": "/api/v3/b"}), ConnectionFailed("reset"))
    )
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(OutcomeUnknown):
            await op.request("POST", "/api/v3/a", json={"x": 1})
    assert len(mock.requests) == 2


async def test_a_redirect_hop_that_times_out_names_its_attempt_and_method() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/api/v3/a":
            return HttpResponse(302, {"Location": "/api/v3/b"})
        await asyncio.sleep(0.5)  # longer than the deadline: stopped by the library's timer
        return HttpResponse.json(DOC)

    policy = RetryPolicy(attempts=1, deadline=0.1)
    async with OpenProject(BASE, transport=Timing(handler), retry=policy) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/a")
    message = str(caught.value)
    assert message.startswith(f"GET {BASE}/api/v3/b: no complete answer within 0.")
    assert "the retry policy's deadline of 0.1s for the whole call ran out (attempt 1, " in message
    assert (caught.value.method, caught.value.url) == ("GET", f"{BASE}/api/v3/b")


async def test_the_librarys_timer_is_as_short_as_the_deadline() -> None:
    async def half_a_second(_request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0.5)
        return HttpResponse.json(DOC)

    policy = RetryPolicy(attempts=1, deadline=0.05)
    async with OpenProject(BASE, transport=MockTransport(half_a_second), retry=policy) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/a")
    assert str(caught.value).startswith(f"GET {BASE}/api/v3/a: no complete answer within 0.05s")
    assert "(attempt 1, " in str(caught.value)


async def test_two_reauthentications_are_counted_twice() -> None:
    from openproject_async import OAuthClientCredentials

    tokens = iter(range(10))

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/oauth/token":
            return HttpResponse.json(
                {"access_token": f"t{next(tokens)}", "token_type": "Bearer", "expires_in": 7200},
                content_type="application/json",
            )
        if request.headers.get("Authorization") in ("Bearer t0", "Bearer t2"):
            return HttpResponse.json(
                {
                    "_type": "Error",
                    "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
                    "message": "expired",
                },
                401,
            )
        return HttpResponse.json(DOC)

    oauth = OAuthClientCredentials("id", "secret")
    async with OpenProject(BASE, oauth=oauth, transport=MockTransport(handler)) as op:
        await op.request("GET", "/api/v3/a")
        await op.request("GET", "/api/v3/b")  # t1 still good
        oauth_after = op.stats["reauthentications"]
        assert oauth_after == 1
        await oauth.invalidate("Bearer t1")  # the next request fetches t2, which is refused
        await op.request("GET", "/api/v3/c")
        assert op.stats["reauthentications"] == 2


async def test_a_401_from_another_origin_asks_for_no_new_token() -> None:
    class Recording:
        fixed_header = "Bearer eyJhbGciOi.eyJzdWIi.sig"  # a JWT
        hint = "hint: a hint that must not show"

        def __init__(self) -> None:
            self.invalidated: list[str | None] = []

        async def header(self, transport: object, api_root: object) -> str | None:
            return self.fixed_header

        async def invalidate(self, rejected: str | None) -> bool:
            self.invalidated.append(rejected)
            return True

    refused = HttpResponse.json(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
            "message": "who?",
        },
        401,
    )
    auth = Recording()
    mock = MockTransport(queue(refused))
    async with OpenProject(BASE, auth=auth, transport=mock, cross_origin="allow", retry=None) as op:
        with pytest.raises(Unauthenticated) as caught:
            await op.request("GET", f"{OTHER}/x")
    assert auth.invalidated == []
    assert "hint" not in str(caught.value)
    assert "Authorization" not in mock.requests[0].headers


class Resending(MockTransport):
    """A transport that sent some requests again by itself (as aiohttp does)."""

    def __init__(self, plan: list[Any]) -> None:
        super().__init__(ok)
        self.plan = plan
        self.resends: Any = 0

    async def handle(self, request: HttpRequest) -> HttpResponse:
        self.resends = self.plan.pop(0)
        return await super().handle(request)


async def test_the_transports_own_resends_are_counted_as_requests() -> None:
    transport = Resending([0, 1, 1, 3])
    async with OpenProject(BASE, transport=transport) as op:
        counts = []
        for _ in range(4):
            await op.request("GET", "/api/v3/a")
            counts.append(op.stats["requests"])
    assert counts == [1, 3, 4, 7]


async def test_a_resends_value_that_is_no_count_is_ignored() -> None:
    transport = Resending(["x", "y", 2.0])
    async with OpenProject(BASE, transport=transport) as op:
        for _ in range(3):
            await op.request("GET", "/api/v3/a")
        assert op.stats["requests"] == 3


def chunked(body: bytes) -> HttpResponse:
    async def chunks() -> Any:
        for i in range(0, len(body), 10):
            yield body[i : i + 10]

    return HttpResponse(200, {"Content-Type": "application/hal+json"}, chunks=chunks)


@pytest.mark.parametrize("transport_kind", [MockTransport, Timing])
@pytest.mark.parametrize("declared", [True, False])
async def test_the_size_cap_holds_on_every_path(
    transport_kind: type[MockTransport], declared: bool
) -> None:
    body = b'{"_type": "Thing", "text": "' + b"x" * 200 + b'"}'

    def handler(_request: HttpRequest) -> HttpResponse:
        if declared:
            return HttpResponse(
                200,
                {"Content-Type": "application/hal+json", "Content-Length": str(len(body))},
                body=body,
            )
        return chunked(body)

    async with OpenProject(
        BASE, transport=transport_kind(handler), retry=None, max_response_size=100
    ) as op:
        with pytest.raises(ResponseTooLarge) as caught:
            await op.request("GET", "/api/v3/big")
        assert caught.value.url == f"{BASE}/api/v3/big"
        assert caught.value.limit == 100
        op.max_response_size = len(body)
        assert (await op.request("GET", "/api/v3/big"))["text"] == "x" * 200  # type: ignore[index]


async def test_debug_records_name_the_status_or_the_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="openproject_async")
    mock = MockTransport(queue(ConnectionFailed("refused", before_send=True)))
    async with OpenProject(BASE, transport=mock, retry=None) as op:
        with pytest.raises(ConnectionFailed):
            await op.request("GET", "/api/v3/a")
        await op.request("GET", "/api/v3/a")
    hops = [r for r in caplog.records if r.getMessage().startswith("GET ")]
    assert [re.sub(r"in \d+\.\d+s", "in Ts", r.getMessage()) for r in hops] == [
        f"GET {BASE}/api/v3/a -> ConnectionFailed in Ts",
        f"GET {BASE}/api/v3/a -> 200 in Ts",
    ]
    assert [r.status for r in hops] == [None, 200]  # type: ignore[attr-defined]
    assert all(0.0 <= r.duration < 30.0 for r in hops)  # type: ignore[attr-defined]


async def test_the_record_of_a_delete_taken_as_done_carries_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="openproject_async")
    busy = HttpResponse.json(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
            "message": "busy",
        },
        503,
    )
    gone = HttpResponse.json(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
            "message": "gone",
        },
        404,
    )
    async with OpenProject(BASE, transport=MockTransport(queue(busy, gone)), retry=NO_WAIT) as op:
        assert await op.request("DELETE", "/api/v3/x") is None
    (record,) = [r for r in caplog.records if "taken as already deleted" in r.getMessage()]
    assert (record.method, record.url, record.status) == (  # type: ignore[attr-defined]
        "DELETE",
        f"{BASE}/api/v3/x",
        404,
    )


async def test_giving_up_says_how_long_it_took() -> None:
    busy = HttpResponse.json(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
            "message": "busy",
        },
        503,
    )
    mock = MockTransport(queue(busy, busy, busy))
    async with OpenProject(BASE, transport=mock, retry=NO_WAIT) as op:
        with pytest.raises(InternalServerError) as caught:
            await op.request("GET", "/api/v3/x")
    (note,) = caught.value.__notes__
    took = re.fullmatch(rf"GET {BASE}/api/v3/x: gave up after 3 attempts in (\d+\.\d)s", note)
    assert took is not None
    assert 0.0 <= float(took.group(1)) < 30.0


async def test_per_call_limits_are_not_mixed_up_with_the_sessions() -> None:
    import aiohttp

    from openproject_async._policy import Timeouts

    transport = Timing(ok)
    async with OpenProject(BASE, transport=transport, connect_timeout=30) as op:
        await op.request("GET", "/api/v3/a")
        await op.request("GET", "/api/v3/a", timeout=45)
        await op.request(
            "GET", "/api/v3/a", timeout=aiohttp.ClientTimeout(total=45, connect=5, sock_read=9)
        )
        await op.request("GET", "/api/v3/a")
    assert [r.timeout for r in transport.requests] == [
        Timeouts(connect=30.0, read=None, total=60.0),
        Timeouts(connect=30.0, read=None, total=45.0),
        Timeouts(connect=5.0, read=9.0, total=45.0),
        Timeouts(connect=30.0, read=None, total=60.0),
    ]



async def test_a_get_with_a_json_body_carries_its_content_type() -> None:
    mock = MockTransport(ok)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        await op.request("GET", "/api/v3/a")  # fills the plain-GET header cache
        await op.request("GET", "/api/v3/a", json={"q": 1}, retry=False)
        await op.request("GET", "/api/v3/a")
    assert [(r.headers.get("Content-Type"), r.body) for r in mock.requests] == [
        (None, None),
        ("application/json", b'{"q":1}'),
        (None, None),
    ]


async def test_a_get_with_headers_to_another_origin_is_allowed_by_default() -> None:
    """``cross_origin="refuse_writes"`` (the default) lets reads go elsewhere, with the
    caller's headers and without credentials; a write there is refused before sending."""
    mock = MockTransport(ok)
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        assert await op.request("GET", f"{OTHER}/x", headers={"X-Req": "r"}) == DOC
        with pytest.raises(CrossOriginRefused):
            await op.request("POST", f"{OTHER}/x", json={}, headers={"X-Req": "r"})
    assert [(r.method, str(r.url), sorted(r.headers)) for r in mock.requests] == [
        ("GET", f"{OTHER}/x", ["Accept", "X-Req"])
    ]
