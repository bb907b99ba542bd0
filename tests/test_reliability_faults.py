"""Fault tests against the in-process FakeOpenProject and its fault knobs.

Retry policies here wait a few milliseconds at most (``max_wait_hint`` caps the fake's
``RateLimit-Reset`` of about a second), so faults cost requests, not time.
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import pytest

from openproject_async import (
    Collection,
    OAuthClientCredentials,
    OpenProject,
    RetryPolicy,
)
from openproject_async.errors import (
    OutcomeUnknown,
    RequestTimeout,
    TimeoutOutcomeUnknown,
    Unauthenticated,
)
from openproject_async.testing import FakeOpenProject, Fault

from .tasks import library_tasks
from .test_reliability import eventually

BULK = RetryPolicy(attempts=8, deadline=30, backoff=0.01, max_backoff=0.05, max_wait_hint=0.01)
MIXED = ("status", "throttle", "drop", "truncate")


def mixed_faults(server: FakeOpenProject, rate: float, *, seed: int = 1) -> None:
    """``rate`` of the GETs fail, split evenly between 503, 429, drops and truncated bodies."""
    each = rate / len(MIXED)
    for i, kind in enumerate(MIXED):
        # each rule sees only what the rules before it let through: keep the shares even
        share = each / (1 - each * i)
        server.faults.add(Fault(kind, rate=share, method="GET", seed=seed + i, status=503))


def new_work_package(subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "_links": {
            "project": {"href": "/api/v3/projects/1"},
            "type": {"href": "/api/v3/types/1"},
        },
    }


async def read_all(
    op: OpenProject, *, page_size: int, concurrency: int, **params: Any
) -> list[Any]:
    first = await op.get(
        "/api/v3/work_packages",
        pageSize=page_size,
        filters=[],
        sortBy=[["id", "asc"]],
        **params,
    )
    assert isinstance(first, Collection)
    return [wp["id"] async for wp in first.iterate(concurrency=concurrency)]


async def test_bulk_read_of_20000_with_10_percent_faults_yields_each_once_in_order() -> None:
    async with FakeOpenProject(seed_size=20_000) as server:
        mixed_faults(server, 0.10, seed=7)
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            # select= keeps the documents small: the test is about faults, not rendering
            ids = await read_all(
                op, page_size=1000, concurrency=4, select="*,elements/id,elements/subject"
            )
            retries = op.stats["retries"]
        expected = sorted(server.store.work_packages)
        injected = server.faults.injected
    assert len(expected) == 20_000
    assert len(ids) == len(set(ids)) == 20_000  # no duplicates
    assert ids == expected  # no losses, in order
    assert injected >= 1  # deterministic (seeded) faults did hit the read
    assert retries >= 1


async def test_bulk_read_small_pages_survives_every_fault_kind() -> None:
    async with FakeOpenProject(seed_size=2000) as server:
        mixed_faults(server, 0.10, seed=3)
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            ids = await read_all(op, page_size=20, concurrency=6)
            retries = op.stats["retries"]
        expected = sorted(server.store.work_packages)
        kinds = Counter(f.kind for f in server.faults.log)
    assert ids == expected
    assert len(set(ids)) == len(ids) == 2000
    assert set(kinds) == set(MIXED), kinds  # 503, 429, drop and truncate all happened
    # aiohttp re-sends a GET once by itself when a kept-alive connection drops, so not
    # every injected fault costs the library a retry; the others all do.
    assert retries >= kinds["status"] + kinds["throttle"] + kinds["truncate"]


async def test_lost_create_is_not_sent_again_and_says_outcome_unknown() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("drop_after", times=1, method="POST", path=r"/work_packages$"))
        before = len(server.store.work_packages)
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            with pytest.raises(OutcomeUnknown) as info:
                await op.request("POST", "/api/v3/work_packages", json=new_work_package("lost"))
            assert op.stats["retries"] == 0
        posts = [r for r in server.requests if r.method == "POST"]
        created = [wp for wp in server.store.work_packages.values() if wp.subject == "lost"]
    assert len(posts) == 1  # sent once
    assert len(created) == 1  # the server did commit it
    assert len(server.store.work_packages) == before + 1
    assert "may have carried it out" in str(info.value)
    assert server.faults.count("drop_after") == 1


async def test_create_with_retry_true_is_sent_again() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("status", times=1, method="POST", path=r"/work_packages$"))
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            doc = await op.request(
                "POST", "/api/v3/work_packages", json=new_work_package("again"), retry=True
            )
    assert doc is not None
    assert doc["subject"] == "again"
    assert [r.method for r in server.requests] == ["POST", "POST"]


async def test_form_post_that_gets_503_is_retried_and_succeeds() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("status", status=503, times=1, method="POST", path=r"/form$"))
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            form = await op.request(
                "POST", "/api/v3/work_packages/form", json=new_work_package("via form")
            )
            assert op.stats["retries"] == 1
    assert form is not None
    assert form["_type"] == "Form"
    assert form["_embedded"]["payload"]["subject"] == "via form"
    assert [r.status for r in server.requests] == [503, 200]


async def test_throttled_form_waits_for_the_capped_reset_and_succeeds() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("throttle", times=2, method="POST", path=r"/form$"))
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            form = await op.request(
                "POST", "/api/v3/work_packages/form", json=new_work_package("throttled")
            )
    assert form is not None
    assert form["_type"] == "Form"
    assert [r.status for r in server.requests] == [429, 429, 200]


async def test_hanging_server_times_out_and_the_get_is_retried() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("hang", times=1, method="GET"))
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            doc = await op.request("GET", "/api/v3/work_packages/1", timeout=0.3)
            http = op.transport._http  # type: ignore[attr-defined]
            connector = http.connector if http else None
            assert connector is not None
            assert len(connector._acquired) == 0
    assert doc is not None
    assert doc["id"] == 1
    assert [r.fault for r in server.requests] == ["hang", None]


async def test_hanging_server_create_is_timeout_outcome_unknown() -> None:
    async with FakeOpenProject(seed_size=5) as server:
        server.faults.add(Fault("hang", times=1, method="POST"))
        async with OpenProject(server.url, api_key=server.api_key, retry=BULK) as op:
            with pytest.raises(TimeoutOutcomeUnknown) as info:
                await op.request(
                    "POST", "/api/v3/work_packages", json=new_work_package("x"), timeout=0.3
                )
    assert isinstance(info.value, RequestTimeout)
    assert len(server.requests) == 1


async def test_another_fake_server_never_sees_credentials() -> None:
    async with FakeOpenProject(seed_size=3) as home, FakeOpenProject(seed_size=3) as other:
        assert home.port != other.port
        async with OpenProject(home.url, api_key=home.api_key, retry=BULK) as op:
            await op.request("GET", "/api/v3/work_packages/1")
            with pytest.raises(Unauthenticated):  # no credentials went there
                await op.request("GET", f"{other.api_url}/work_packages/1")
    assert [r.headers.get("Authorization") for r in other.requests] == [None]
    assert all(r.headers.get("Authorization") for r in home.requests)


async def test_oauth_against_the_fake_server_refreshes_after_revocation() -> None:
    async with FakeOpenProject(seed_size=3) as server:
        credentials = OAuthClientCredentials(server.oauth_client_id, server.oauth_client_secret)
        async with OpenProject(server.url, oauth=credentials, retry=BULK) as op:
            assert (await op.request("GET", "/api/v3/work_packages/1"))["id"] == 1  # type: ignore[index]
            server.store.oauth_tokens.clear()  # revoked on the server
            assert (await op.request("GET", "/api/v3/work_packages/2"))["id"] == 2  # type: ignore[index]
            assert op.stats["reauthentications"] == 1
        token_requests = [r for r in server.requests if r.path.endswith("/oauth/token")]
    assert credentials.refreshes == 2
    assert len(token_requests) == 2
    assert all(
        r.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        for r in token_requests
    )


async def test_oauth_wrong_secret_surfaces_the_token_endpoint_error() -> None:
    async with FakeOpenProject(seed_size=3) as server:
        credentials = OAuthClientCredentials(server.oauth_client_id, "not-the-secret")
        async with OpenProject(server.url, oauth=credentials, retry=BULK) as op:
            with pytest.raises(Unauthenticated, match="invalid_client"):
                await op.request("GET", "/api/v3/work_packages/1")
    assert [r.path for r in server.requests] == ["/oauth/token"]


async def test_break_out_of_a_concurrent_iterator_cancels_its_requests() -> None:
    async with FakeOpenProject(seed_size=300, latency=0.05) as server:
        async with OpenProject(server.url, api_key=server.api_key, max_concurrency=8) as op:
            first = await op.get("/api/v3/work_packages", pageSize=10, filters=[])
            assert isinstance(first, Collection)
            seen = 0
            async for _ in first.iterate(concurrency=6):
                seen += 1
                if seen == 15:  # inside page 2: later pages are in flight
                    break
            await eventually(lambda: not library_tasks(), "page fetches cancelled")
            http = op.transport._http  # type: ignore[attr-defined]
            connector = http.connector if http else None
            assert connector is not None
            await eventually(
                lambda: len(connector._acquired) == 0,
                "connections released",
            )
        requested = len(server.requests)
    assert seen == 15
    assert requested < 30  # far from the 30 pages: the rest was never asked for


async def test_cancelled_bulk_read_leaves_nothing_running() -> None:
    async with FakeOpenProject(seed_size=300, latency=0.05) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            task = asyncio.ensure_future(read_all(op, page_size=10, concurrency=5))
            await eventually(lambda: len(server.requests) >= 3, "read started")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await eventually(lambda: not library_tasks(), "page fetches cancelled")
    assert task.cancelled()
