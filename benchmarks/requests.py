"""Per-request cost: many small GETs, the library against hand-written aiohttp + orjson.

Bots and web services make many small requests rather than a few big ones, so what the
library adds to each request (merging identical GETs in flight, the retry policy, the
cross-origin checks, decoding into a resource) matters there. This starts FakeOpenProject
in a separate process, then GETs ``--requests`` small resources one after the other:

  library             ``await op.get(href)`` (retries on, the default)
  library, no retry   ``OpenProject(..., retry=None)``
  raw                 ``session.get(url)`` + ``orjson.loads``

and prints the client's CPU microseconds per request (the client process does nothing
else; the best of ``--repeat`` rounds, the clients taking turns at each place in a round,
so that neither a busy moment nor the order decides it),
requests per second, and the library's overhead over raw.

It also times ``wp.field("Subject")`` with the schema cached (wall time, best of
``--repeat`` rounds of 100,000 calls).

    python benchmarks/requests.py [--requests 4000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from _common import fake_server, raw_headers

from openproject_async import OpenProject

STATUSES = "/api/v3/statuses/{}"


async def library(url: str, key: str, hrefs: list[str], **options: Any) -> float:
    async with OpenProject(url, api_key=key, **options) as op:
        await op.get(hrefs[0])  # connection open, first-use costs paid
        started = time.process_time()
        for href in hrefs:
            status = await op.get(href)
            assert status["_type"] == "Status"
        return time.process_time() - started


async def raw(url: str, key: str, hrefs: list[str]) -> float:
    async with aiohttp.ClientSession(headers=raw_headers(key)) as http:
        async with http.get(url + hrefs[0]) as response:
            await response.read()
        started = time.process_time()
        for href in hrefs:
            async with http.get(url + href) as response:
                response.raise_for_status()
                status = orjson.loads(await response.read())
            assert status["_type"] == "Status"
        return time.process_time() - started


async def measure(url: str, key: str, args: argparse.Namespace) -> dict[str, float]:
    hrefs = [STATUSES.format(i % 4 + 1) for i in range(args.requests)]
    runs: dict[str, Callable[[], Awaitable[float]]] = {
        "library": lambda: library(url, key, hrefs),
        "library, no retry": lambda: library(url, key, hrefs, retry=None),
        "raw aiohttp+orjson": lambda: raw(url, key, hrefs),
    }
    best: dict[str, float] = {}
    order = list(runs.items())
    for _ in range(args.repeat):
        order = order[1:] + order[:1]  # each client takes each place in the round in turn
        for name, run in order:
            seconds = await run()
            best[name] = min(best.get(name, seconds), seconds)
    return {name: best[name] / len(hrefs) * 1e6 for name in runs}


async def field_cost(url: str, key: str, repeat: int) -> float:
    """Microseconds per ``wp.field("Subject")`` with the schema cached (best of ``repeat``)."""
    async with OpenProject(url, api_key=key) as op:
        wp = await op.get("/api/v3/work_packages/1")
        await wp.load_schema()
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(100_000):
                wp.field("Subject")
            best = min(best, (time.perf_counter() - started) / 100_000 * 1e6)
        return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with fake_server("--seed-size", "10") as (url, key):
        per_request = asyncio.run(asyncio.wait_for(measure(url, key, args), timeout=300))
        field_us = asyncio.run(field_cost(url, key, args.repeat))
    print(f"{args.requests} sequential small GETs, client CPU, best of {args.repeat}")
    raw_us = per_request["raw aiohttp+orjson"]
    for name, us in per_request.items():
        over = f"{(us / raw_us - 1) * 100:+.0f}% over raw" if name != "raw aiohttp+orjson" else ""
        print(f"  {name:<20} {us:7.1f} us/request  {over}")
    print(f'wp.field("Subject") with the schema cached: {field_us:.2f} us (best of {args.repeat})')
    return 0


if __name__ == "__main__":
    sys.exit(main())
