"""Per-request cost: many small GETs, the library against hand-written aiohttp + orjson.

Bots and web services make many small requests rather than a few big ones, so what the
library adds to each request (merging identical GETs in flight, the retry policy, the
cross-origin checks, decoding into a resource) matters there. This starts FakeOpenProject
in a separate process, then GETs ``--requests`` small resources one after the other:

  library             ``await op.get(href)`` (retries on, the default)
  library, no retry   ``OpenProject(..., retry=None)``
  raw                 ``session.get(url)`` + ``orjson.loads``

and prints the client's CPU microseconds per request, best and median of ``--repeat``
runs, and the library's overhead over raw. Every run is a process of its own that does
nothing else (the raw client never imports the library); the clients take turns at each
place in a round, so that neither a busy moment nor the order decides it.

It also times ``wp.field("Subject")`` with the schema cached (wall time, best of
``--repeat`` rounds of 100,000 calls).

    python benchmarks/requests.py [--requests 4000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from _common import fake_server, raw_headers

STATUSES = "/api/v3/statuses/{}"
RAW = "raw aiohttp+orjson"


async def library(url: str, key: str, hrefs: list[str], **options: Any) -> float:
    from openproject_async import OpenProject  # here: the raw client's process never loads it

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


CLIENTS: dict[str, Callable[[str, str, list[str]], Awaitable[float]]] = {
    "library": lambda url, key, hrefs: library(url, key, hrefs),
    "library, no retry": lambda url, key, hrefs: library(url, key, hrefs, retry=None),
    "raw aiohttp+orjson": raw,
}


def run_client(name: str, url: str, key: str, requests: int) -> float:
    """CPU seconds of one client's ``requests`` GETs, measured in a process of its own."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            name,
            "--url",
            url,
            "--key",
            key,
            "--requests",
            str(requests),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    return float(out.split()[-1])


def measure(url: str, key: str, args: argparse.Namespace) -> dict[str, list[float]]:
    """Microseconds per request of every client, one process per run, ``--repeat`` rounds
    (the clients take turns at each place in a round, so neither a busy moment nor the
    order decides it)."""
    runs: dict[str, list[float]] = {name: [] for name in CLIENTS}
    order = list(CLIENTS)
    for _ in range(args.repeat):
        order = order[1:] + order[:1]
        for name in order:
            seconds = run_client(name, url, key, args.requests)
            runs[name].append(seconds / args.requests * 1e6)
    return runs


async def field_cost(url: str, key: str, repeat: int) -> float:
    """Microseconds per ``wp.field("Subject")`` with the schema cached (best of ``repeat``)."""
    from openproject_async import OpenProject

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
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--client", choices=list(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # one run of one client (a child process of the benchmark)
        hrefs = [STATUSES.format(i % 4 + 1) for i in range(args.requests)]
        print(asyncio.run(CLIENTS[args.client](args.url, args.key, hrefs)))
        return 0
    with fake_server("--seed-size", "10") as (url, key):
        runs = measure(url, key, args)
        field_us = asyncio.run(field_cost(url, key, args.repeat))
    print(
        f"{args.requests} sequential small GETs, client CPU per request, each run in its own "
        f"process, {args.repeat} runs per client"
    )
    raw_best, raw_median = min(runs[RAW]), statistics.median(runs[RAW])
    for name, us in runs.items():
        best, median = min(us), statistics.median(us)
        over = ""
        if name != RAW:
            over = (
                f"  best {(best / raw_best - 1) * 100:+.0f}%, "
                f"median {(median / raw_median - 1) * 100:+.0f}% over raw"
            )
        print(f"  {name:<20} best {best:6.1f} us  median {median:6.1f} us{over}")
    print(f'wp.field("Subject") with the schema cached: {field_us:.2f} us (best of {args.repeat})')
    return 0


if __name__ == "__main__":
    sys.exit(main())
