"""Which raw bodies (``request(..., data=...)``) may be sent again, against FakeOpenProject.

A body the caller hands over as ``bytes``/``bytearray`` can be re-sent as it is, so a
request that opted in with ``retry=True`` is retried like a JSON one. A stream or file
object is read by the first attempt: such a request goes out once, whatever ``retry`` says.
The fake answers an injected 503 with a proxy's HTML page, hence ``ProtocolError``.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from openproject_async import OpenProject, RetryPolicy
from openproject_async.errors import ProtocolError, RequestTimeout
from openproject_async.testing import FakeOpenProject, Fault

CREATE = "/api/v3/work_packages"
FAST = RetryPolicy(attempts=4, deadline=10.0, backoff=0.001, max_backoff=0.005)
PAYLOAD = orjson.dumps(
    {
        "subject": "raw body",
        "_links": {
            "project": {"href": "/api/v3/projects/1"},
            "type": {"href": "/api/v3/types/1"},
        },
    }
)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=5) as fake:
        yield fake


def posts(server: FakeOpenProject) -> list[tuple[int, bytes]]:
    return [(r.status, r.body) for r in server.requests if r.method == "POST"]


def created(server: FakeOpenProject) -> int:
    return sum(1 for w in server.store.work_packages.values() if w.subject == "raw body")


@pytest.mark.parametrize("body", [bytes, bytearray], ids=["bytes", "bytearray"])
async def test_opted_in_request_with_a_bytes_body_is_retried_after_503(
    server: FakeOpenProject, body: Callable[[bytes], Any]
) -> None:
    fault = server.faults.add(Fault("status", status=503, times=1, method="POST", path=CREATE))
    async with OpenProject(server.url, api_key=server.api_key, retry=FAST) as op:
        doc = await op.request("POST", CREATE, data=body(PAYLOAD), headers=JSON, retry=True)
        assert op.stats["retries"] == 1
    assert doc is not None
    assert doc["subject"] == "raw body"
    assert fault.injected == 1
    assert posts(server) == [(503, PAYLOAD), (201, PAYLOAD)]  # the same body, twice
    assert created(server) == 1


async def test_bytes_body_without_opt_in_is_sent_once(server: FakeOpenProject) -> None:
    server.faults.add(Fault("status", status=503, times=1, method="POST", path=CREATE))
    async with OpenProject(server.url, api_key=server.api_key, retry=FAST) as op:
        with pytest.raises(ProtocolError) as info:
            await op.request("POST", CREATE, data=PAYLOAD, headers=JSON)
        assert op.stats["retries"] == 0
    assert info.value.status == 503
    assert info.value.attempts == 1
    assert posts(server) == [(503, PAYLOAD)]
    assert created(server) == 0


async def test_streamed_body_is_sent_once_even_when_opted_in(server: FakeOpenProject) -> None:
    server.faults.add(Fault("status", status=503, times=1, method="POST", path=CREATE))
    async with OpenProject(server.url, api_key=server.api_key, retry=FAST) as op:
        with pytest.raises(ProtocolError) as info:
            await op.request("POST", CREATE, data=io.BytesIO(PAYLOAD), headers=JSON, retry=True)
        assert op.stats["retries"] == 0
    assert info.value.status == 503
    assert info.value.attempts == 1
    assert posts(server) == [(503, PAYLOAD)]
    assert created(server) == 0


# -- the deadline counts from the first try --------------------------------------------------


@pytest.mark.parametrize(("deadline", "requests"), [(0.25, 1), (10.0, 2)])
async def test_the_retry_deadline_counts_the_first_try(deadline: float, requests: int) -> None:
    """The first try takes >= 0.3 s (latency) and fails (cut-off body); with no backoff the
    retry would start at once, so only a deadline measured from the first try stops it.
    The deadline bounds the try in flight too: at 0.25 s the first try itself is stopped."""
    policy = RetryPolicy(attempts=3, deadline=deadline, backoff=0.0)
    async with FakeOpenProject(seed_size=5, latency=0.3) as fake:
        fake.faults.add(Fault("truncate", times=1, method="GET"))
        async with OpenProject(fake.url, api_key=fake.api_key, retry=policy) as op:
            if requests == 1:
                with pytest.raises(RequestTimeout, match=r"deadline of 0\.25s") as caught:
                    await op.get("/api/v3/statuses/1")
                assert caught.value.attempts == 1
            else:
                status = await op.get("/api/v3/statuses/1")
                assert status["id"] == 1
            assert op.stats["retries"] == requests - 1
        assert [r.path for r in fake.requests] == ["/api/v3/statuses/1"] * requests
