"""Fault injection, worker limit and latency, the request log, sub-path deployments, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from openproject_async.testing import FakeOpenProject, Fault

WP1 = "/api/v3/work_packages/1"


def fresh(server: FakeOpenProject, login: str | None = "admin") -> aiohttp.ClientSession:
    """A session without keep-alive, so aiohttp does not silently retry dropped requests."""
    return server.http(login, connector=aiohttp.TCPConnector(force_close=True))


async def create_body(server: FakeOpenProject, subject: str) -> dict[str, Any]:
    return {"subject": subject, "_links": {"project": {"href": "/api/v3/projects/1"}}}


async def test_status_fault_500_is_a_hal_error(openproject_server: FakeOpenProject) -> None:
    openproject_server.faults.add(Fault("status", status=500, times=1))
    async with fresh(openproject_server) as http:
        async with http.get(WP1) as resp:
            assert resp.status == 500
            assert resp.content_type == "application/hal+json"
            body = await resp.json(content_type=None)
            assert body["errorIdentifier"].endswith(":errors:InternalServerError")
            assert set(body) == {"_type", "errorIdentifier", "message"}
        async with http.get(WP1) as resp:
            assert resp.status == 200
    assert openproject_server.faults.injected == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_proxy_status_faults_are_html(
    openproject_server: FakeOpenProject, status: int
) -> None:
    openproject_server.faults.add(Fault("status", status=status))
    async with fresh(openproject_server) as http, http.get(WP1) as resp:
        assert resp.status == status
        assert resp.content_type == "text/html"
        assert str(status) in await resp.text()


async def test_throttle_has_ratelimit_headers_and_no_retry_after(
    openproject_server: FakeOpenProject,
) -> None:
    openproject_server.faults.add(Fault("throttle", times=1))
    before = time.time()
    async with fresh(openproject_server) as http, http.post(
        "/api/v3/work_packages/form", json={}
    ) as resp:
        assert resp.status == 429
        assert "Retry-After" not in resp.headers
        assert resp.headers["RateLimit-Remaining"] == "0"
        assert int(resp.headers["RateLimit-Limit"]) > 0
        assert before < int(resp.headers["RateLimit-Reset"]) <= before + 3
        body = await resp.json(content_type=None)
        assert body == {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:Throttled",
            "message": "You have reached the request limit for this resource.",
        }


async def test_drop_before_handling_changes_nothing(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    before = len(server.store.work_packages)
    server.faults.add(Fault("drop", method="POST", path=r"/work_packages$"))
    async with fresh(server) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post("/api/v3/work_packages", json=await create_body(server, "x")):
                pass
        async with http.get(WP1) as resp:  # other requests are not affected
            assert resp.status == 200
    assert len(server.store.work_packages) == before
    dropped = [r for r in server.requests if r.fault == "drop"]
    assert len(dropped) == 1
    assert dropped[0].status == 0
    assert dropped[0].json()["subject"] == "x"


async def test_drop_after_commits_the_create(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    before = set(server.store.work_packages)
    server.faults.add(Fault("drop_after", method="POST", times=1))
    async with fresh(server) as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.post(
                "/api/v3/work_packages", json=await create_body(server, "Lost response")
            ):
                pass
    created = set(server.store.work_packages) - before
    assert len(created) == 1
    assert server.store.work_packages[created.pop()].subject == "Lost response"
    assert server.faults.count("drop_after") == 1


async def test_truncate_sends_half_the_body(openproject_server: FakeOpenProject) -> None:
    openproject_server.faults.add(Fault("truncate", times=1))
    async with fresh(openproject_server) as http:
        async with http.get(WP1) as resp:
            assert resp.status == 200
            length = int(resp.headers["Content-Length"])
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        async with http.get(WP1) as resp:
            assert len(await resp.read()) == length


async def test_hang_never_answers_and_close_still_works() -> None:
    server = FakeOpenProject(seed_size=3)
    await server.start()
    server.faults.add(Fault("hang", path="/work_packages/1$"))
    async with fresh(server) as http:
        with pytest.raises(asyncio.TimeoutError):
            async with http.get(WP1, timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
        async with http.get("/api/v3/work_packages/2") as resp:
            assert resp.status == 200
        pending = asyncio.ensure_future(http.get(WP1))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await server.close()
        assert time.perf_counter() - started < 2
        with pytest.raises(aiohttp.ClientError):
            await pending
    assert server.faults.count("hang") == 2


async def test_rate_is_deterministic_per_seed() -> None:
    async def run() -> list[int]:
        async with FakeOpenProject(seed_size=3) as server:
            server.faults.add(Fault("status", status=500, rate=0.5, seed=42))
            statuses = []
            async with server.http() as http:
                for _ in range(30):
                    async with http.get(WP1) as resp:
                        statuses.append(resp.status)
            assert server.faults.injected == statuses.count(500)
            return statuses

    first, second = await run(), await run()
    assert first == second
    assert 5 < first.count(500) < 25


async def test_times_method_and_path_conditions(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    rule = server.faults.add(Fault("status", status=500, times=2, method="GET", path=r"/statuses"))
    async with server.http() as http:
        codes = []
        for path in ["/api/v3/types", "/api/v3/statuses", "/api/v3/statuses/1",
                     "/api/v3/statuses", "/api/v3/types"]:
            async with http.get(path) as resp:
                codes.append(resp.status)
    assert codes == [200, 500, 500, 200, 200]
    assert rule.injected == 2
    assert rule.exhausted
    server.faults.clear()
    assert len(server.faults) == 0
    assert [f.path for f in server.faults.log] == ["/api/v3/statuses", "/api/v3/statuses/1"]


async def test_invalid_fault_kind() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")


async def test_worker_limit_caps_concurrency() -> None:
    async with FakeOpenProject(seed_size=3, max_concurrent_requests=2, latency=0.02) as server:
        async with server.http() as http:

            async def one() -> int:
                async with http.get("/api/v3/statuses") as resp:
                    return resp.status

            results = await asyncio.gather(*(one() for _ in range(8)))
        assert results == [200] * 8
        assert server.peak_concurrency == 2
        assert server.active_requests == 0


async def test_without_limit_requests_overlap() -> None:
    async with FakeOpenProject(seed_size=3, latency=0.1) as server:
        async with server.http() as http:

            async def one() -> None:
                async with http.get("/api/v3/statuses") as resp:
                    assert resp.status == 200

            await asyncio.gather(*(one() for _ in range(6)))
        assert server.peak_concurrency > 2


async def test_request_log(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    server.clear_requests()
    async with server.http(None) as anonymous, anonymous.get("/api/v3/statuses?x=1") as resp:
        assert resp.status == 401
    async with server.http() as http, http.patch(
        WP1, json={"lockVersion": 0, "subject": "Renamed"}, params={"notify": "false"}
    ) as resp:
        assert resp.status == 200
    assert [(r.method, r.path, r.query, r.status) for r in server.requests] == [
        ("GET", "/api/v3/statuses", "x=1", 401),
        ("PATCH", WP1, "notify=false", 200),
    ]
    patch = server.requests[1]
    assert patch.headers["Content-Type"].startswith("application/json")
    assert patch.headers["Authorization"].startswith("Basic ")
    assert patch.json() == {"lockVersion": 0, "subject": "Renamed"}
    assert server.notifications_suppressed == 1
    assert server.notifications_sent == 0


async def test_base_path_deployment() -> None:
    async with FakeOpenProject(seed_size=3, base_path="/openproject") as server:
        assert server.url.endswith("/openproject")
        async with server.http() as http:
            async with http.get("/openproject/api/v3/work_packages?pageSize=1") as resp:
                doc = await resp.json(content_type=None)
            async with http.get("/api/v3/work_packages") as resp:
                assert resp.status == 404
            async with http.get("/openproject/api/v3/work_packages/2") as resp:
                wp = await resp.json(content_type=None)
        assert doc["_links"]["self"]["href"].startswith("/openproject/api/v3/work_packages?")
        assert doc["_links"]["nextByOffset"]["href"].startswith("/openproject/api/v3/")
        hrefs = [v["href"] for v in wp["_links"].values() if isinstance(v, dict) and v["href"]]
        assert hrefs
        assert all(h.startswith("/openproject/") for h in hrefs)
        assert wp["_links"]["move"]["href"] == "/openproject/work_packages/2/move/new"


def test_cli_prints_ready_line() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "openproject_async.testing", "--port", "0", "--seed-size", "20",
        "--latency", "0", "--max-concurrent-requests", "4", "--max-page-size", "10",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().split()
            assert line[0] == "READY"
            url, key = line[1], line[2]
            assert url.startswith("http://127.0.0.1:")

            async def check() -> dict[str, Any]:
                auth = {"Authorization": aiohttp.encode_basic_auth("apikey", key)}
                async with aiohttp.ClientSession(headers=auth) as http, http.get(
                    url + "/api/v3/work_packages?filters=[]&pageSize=-1"
                ) as resp:
                    assert resp.status == 200
                    doc: dict[str, Any] = await resp.json(content_type=None)
                    return doc

            doc = asyncio.run(check())
            assert (doc["total"], doc["pageSize"]) == (20, 10)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0
