"""Which time limits reach the transport, and who enforces them.

A transport that declares ``enforces_total = True`` (aiohttp's does: its timer runs for
every request anyway) gets the first exchange's whole limit as ``timeout.total`` and no
timer of the library's; later exchanges of the call (redirect hops, retries) and other
transports run under the library's own timer with the session's limits unchanged.
"""

from __future__ import annotations

import asyncio

import pytest

from openproject_async import HttpRequest, HttpResponse, OpenProject, RetryPolicy
from openproject_async._policy import Timeouts
from openproject_async._transport import WholeTimeout
from openproject_async.errors import RequestTimeout
from openproject_async.testing import MockTransport

BASE = "https://op.test"
DOC = {"_type": "Thing", "id": 1}


class Timing(MockTransport):
    enforces_total = True


def ok(_request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(DOC)


async def test_the_first_exchange_carries_the_deadline_as_its_total() -> None:
    """Default policy: deadline 60 s < 300 s per exchange; the 60 s read timeout cannot
    fire before the 60 s total, so it is left out."""
    transport = Timing(ok)
    async with OpenProject(BASE, api_key="k", transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
        await op.request("GET", "/api/v3/things/2")
    assert [r.timeout for r in transport.requests] == [
        Timeouts(connect=10.0, read=None, total=60.0)
    ] * 2


async def test_without_retries_the_exchange_limit_is_the_total_and_the_read_timeout_stays() -> None:
    transport = Timing(ok)
    async with OpenProject(BASE, api_key="k", transport=transport, retry=None) as op:
        await op.request("GET", "/api/v3/things/1")
    assert transport.requests[0].timeout == Timeouts(connect=10.0, read=60.0, total=300.0)


async def test_a_per_call_timeout_is_the_total_and_bounds_connect() -> None:
    transport = Timing(ok)
    async with OpenProject(BASE, api_key="k", transport=transport, read_timeout=5) as op:
        await op.request("GET", "/api/v3/things/1", timeout=20)
        await op.request("GET", "/api/v3/things/1", timeout=2)
    assert [r.timeout for r in transport.requests] == [
        Timeouts(connect=10.0, read=5.0, total=20.0),
        Timeouts(connect=2.0, read=None, total=2.0),
    ]


async def test_a_redirect_hop_runs_under_the_librarys_timer_with_the_sessions_limits() -> None:
    answers = [HttpResponse(302, {"Location": "/api/v3/things/2"}), HttpResponse.json(DOC)]
    transport = Timing(lambda _r: answers.pop(0))
    async with OpenProject(BASE, api_key="k", transport=transport) as op:
        assert await op.request("GET", "/api/v3/things/1") == DOC
    assert [(str(r.url), r.timeout) for r in transport.requests] == [
        (f"{BASE}/api/v3/things/1", Timeouts(connect=10.0, read=None, total=60.0)),
        (f"{BASE}/api/v3/things/2", Timeouts(connect=10.0, read=60.0, total=None)),
    ]


async def test_a_transport_that_does_not_enforce_the_total_gets_the_sessions_limits() -> None:
    transport = MockTransport(ok)
    async with OpenProject(BASE, api_key="k", transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
    assert transport.requests[0].timeout == Timeouts(connect=10.0, read=60.0, total=None)


async def test_the_transports_total_timeout_is_reported_as_the_calls_deadline() -> None:
    def late(request: HttpRequest) -> HttpResponse:
        raise WholeTimeout("no answer after 0.5s", url=str(request.url), method="GET")

    policy = RetryPolicy(attempts=1, deadline=0.5)
    async with OpenProject(BASE, api_key="k", transport=Timing(late), retry=policy) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/things/1")
    err = caught.value
    assert type(err) is RequestTimeout
    assert err.timeout == 0.5
    assert str(err).startswith(f"GET {BASE}/api/v3/things/1: no complete answer within 0.5s: ")
    assert "the retry policy's deadline of 0.5s for the whole call ran out (attempt 1, " in str(err)


async def test_the_transports_total_timeout_without_retries_names_the_exchange_limit() -> None:
    def late(request: HttpRequest) -> HttpResponse:
        raise WholeTimeout("no answer after 300s", url=str(request.url), method="GET")

    async with OpenProject(BASE, api_key="k", transport=Timing(late), retry=None) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/things/1")
    assert type(caught.value) is RequestTimeout
    assert caught.value.timeout == 300.0
    assert "no complete answer within 300s: the time limit of one exchange (attempt 1, " in str(
        caught.value
    )


async def test_a_read_timeout_from_the_transport_is_passed_on_as_it_is() -> None:
    read = RequestTimeout("GET x: no answer after 5s", url="x", method="GET")
    read.timeout = 5.0

    def slow(_request: HttpRequest) -> HttpResponse:
        raise read

    async with OpenProject(BASE, api_key="k", transport=Timing(slow), retry=None) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/things/1")
    assert caught.value is read


async def test_without_enforcement_the_librarys_timer_stops_a_slow_transport() -> None:
    async def hang(_request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    policy = RetryPolicy(attempts=1, deadline=0.05)
    async with OpenProject(BASE, api_key="k", transport=MockTransport(hang), retry=policy) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/things/1")
    assert caught.value.timeout == 0.05
    assert "deadline of 0.05s for the whole call ran out" in str(caught.value)


class FixedAuth:
    """An auth object whose header never changes: ``header()`` must not be awaited."""

    fixed_header = "Bearer fixed"

    def __init__(self) -> None:
        self.asked = 0

    async def header(self, transport: object, api_root: object) -> str | None:
        self.asked += 1
        return "Bearer asked"

    async def invalidate(self, rejected: str | None) -> bool:
        return False


class AskedAuth(FixedAuth):
    fixed_header = ""  # empty: not a fixed header, the session asks


async def test_a_fixed_header_is_sent_without_asking_the_auth_object() -> None:
    auth = FixedAuth()
    transport = MockTransport(ok)
    async with OpenProject(BASE, auth=auth, transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
        await op.request("POST", "/api/v3/things", json={"a": 1})
    assert [r.headers["Authorization"] for r in transport.requests] == ["Bearer fixed"] * 2
    assert repr(transport.requests[0].headers["Authorization"]) == "'<hidden>'"
    assert auth.asked == 0


async def test_without_a_fixed_header_the_auth_object_is_asked_each_time() -> None:
    auth = AskedAuth()
    transport = MockTransport(ok)
    async with OpenProject(BASE, auth=auth, transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
        await op.request("GET", "/api/v3/things/2")
    assert [r.headers["Authorization"] for r in transport.requests] == ["Bearer asked"] * 2
    assert auth.asked == 2


async def test_api_keys_and_tokens_offer_their_fixed_header() -> None:
    transport = MockTransport(ok)
    async with OpenProject(BASE, api_key="secret", transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
    async with OpenProject(BASE, token="tok", transport=transport) as op:
        await op.request("GET", "/api/v3/things/1")
    assert [r.headers["Authorization"] for r in transport.requests] == [
        "Basic YXBpa2V5OnNlY3JldA==",  # apikey:secret
        "Bearer tok",
    ]


async def test_a_transports_total_timeout_on_a_redirect_hop_is_reported_as_the_limit() -> None:
    """A later hop runs under the library's timer, with the call's own total (30 s here)
    handed to the transport too: when the transport's timer stops it, the error says
    which limit ran out, as on the first hop (the transport's internal type never shows)."""

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/api/v3/a":
            return HttpResponse(302, {"Location": "/api/v3/b"})
        raise WholeTimeout("no answer after 30s", url=str(request.url), method="GET")

    async with OpenProject(BASE, api_key="k", transport=Timing(handler), retry=None) as op:
        with pytest.raises(RequestTimeout) as caught:
            await op.request("GET", "/api/v3/a", timeout=30)
    assert type(caught.value) is RequestTimeout
    assert caught.value.timeout == 30.0
    assert str(caught.value).startswith(
        f"GET {BASE}/api/v3/b: no complete answer within 30s: the time limit of one exchange "
        "(attempt 1, "
    )
