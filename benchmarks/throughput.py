"""Bulk-read throughput: this library against hand-written aiohttp + orjson loops.

Starts FakeOpenProject in separate processes (``python -m openproject_async.testing``):

* a latency-modelled server: 20,000 work packages, 30 ms per request + 1 ms per rendered
  work package, 8 requests served at once, max page size 1000;
* a zero-latency server with 100,000 work packages (the client is then CPU bound).

Against the first it reads every work package four ways, page size 100 by default:

  (a) library, sequential          ``async for wp in page.iterate()``
  (b) library, concurrent          ``async for wp in page.iterate(concurrency=8)``
  (c) raw aiohttp + orjson, the same concurrency, pages in order (the practical limit)
  (d) raw aiohttp + orjson, sequential ``nextByOffset`` loop

Against the second it streams 10,000 and 100,000 work packages sequentially with the
library, and 100,000 with the raw loop (best of ``--repeat`` runs each), to show the
library's own cost per element (CPU seconds of the client process, which does nothing else)
and that memory stays bounded.

Each client runs in a fresh process so that its peak RSS is its own. Every run checks that
it received every work package exactly once, in id order. It prints items/s, requests,
client CPU, peak RSS, the ratios b/c and b/d and whether each target holds:

* (b) >= 0.9 x (c) and (b) >= 4 x (d);
* zero latency: library CPU per element <= 1.10 x raw, its peak RSS equal to raw's within
  5%, and peak RSS streaming 100k < 2 x peak RSS streaming 10k.

The library runs with its defaults: ``iterate(concurrency=n)`` with n above the session's
``max_concurrency`` (16) widens the session's limit itself. ``--stream-work-packages 0``
skips the zero-latency part, e.g. for the high-concurrency case:

    python benchmarks/throughput.py [--page-size 100] [--concurrency 8] [--json]
    python benchmarks/throughput.py --latency 0.2 --workers 64 --concurrency 32 \
        --stream-work-packages 0

The whole run stops by itself after ``--time-limit`` seconds (default 300).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from _common import fake_server, raw_headers

from openproject_async import Collection, OpenProject  # imported before any clock starts

WPS = "/api/v3/work_packages"
QUERY: dict[str, Any] = {"filters": [], "sortBy": [["id", "asc"]]}


# -- the four clients (each runs in its own process: ``--client MODE``) -----------------


async def library(
    url: str, key: str, page_size: int, concurrency: int, counts: dict[str, Any]
) -> AsyncIterator[Any]:
    # the library's defaults: iterate(concurrency=n) itself widens max_concurrency when n
    # exceeds it (nothing is raised behind its back here)
    async with OpenProject(url, api_key=key) as op:
        first = await op.get(WPS, pageSize=page_size, **QUERY)
        assert isinstance(first, Collection)
        counts["session"] = op.stats  # live: read after the loop, even after a break
        async for wp in first.iterate(concurrency=concurrency):
            yield wp


def _raw_session(key: str, concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), headers=raw_headers(key)
    )


def _raw_query(page_size: int, offset: int = 1) -> str:
    query = {k: json.dumps(v, separators=(",", ":")) for k, v in QUERY.items()}
    return urlencode({**query, "pageSize": page_size, "offset": offset})


async def raw_sequential(
    url: str, key: str, page_size: int, concurrency: int, counts: dict[str, Any]
) -> AsyncIterator[Any]:
    """What people write by hand today: GET, then follow ``nextByOffset`` until it is gone."""
    async with _raw_session(key, 1) as http:
        next_url: str | None = f"{url}{WPS}?{_raw_query(page_size)}"
        while next_url:
            async with http.get(next_url) as response:
                response.raise_for_status()
                page = orjson.loads(await response.read())
            counts["requests"] += 1
            for element in page["_embedded"]["elements"]:
                yield element
            link = page["_links"].get("nextByOffset")
            next_url = url + link["href"] if link else None


async def raw_concurrent(
    url: str, key: str, page_size: int, concurrency: int, counts: dict[str, Any]
) -> AsyncIterator[Any]:
    """The practical limit: page count from ``total``, a window of pages in flight, in order."""
    async with _raw_session(key, concurrency) as http:

        async def fetch(offset: int) -> Any:
            async with http.get(f"{url}{WPS}?{_raw_query(size, offset)}") as response:
                response.raise_for_status()
                body = await response.read()
            counts["requests"] += 1
            return orjson.loads(body)

        size = page_size
        first = await fetch(1)
        size = first["pageSize"]
        pages = math.ceil(first["total"] / size) if size else 1
        window: list[asyncio.Task[Any]] = []
        next_offset = 2
        for element in first["_embedded"]["elements"]:
            yield element
        while next_offset <= pages or window:
            while next_offset <= pages and len(window) < concurrency:
                window.append(asyncio.create_task(fetch(next_offset)))
                next_offset += 1
            page = await window.pop(0)
            for element in page["_embedded"]["elements"]:
                yield element


CLIENTS = {
    "library-seq": (library, 1),
    "library-conc": (library, None),
    "raw-conc": (raw_concurrent, None),
    "raw-seq": (raw_sequential, 1),
}


GC_MODES = {
    "default": lambda: None,
    "freeze": gc.freeze,  # the objects made at start-up are never scanned again
    "threshold": lambda: gc.set_threshold(50_000, 20, 100),  # fewer young collections
    "off": gc.disable,
}


async def run_client(args: argparse.Namespace) -> dict[str, Any]:
    GC_MODES[args.gc]()
    fn, fixed = CLIENTS[args.client]
    concurrency = fixed or args.concurrency
    cpu0, wall0 = time.process_time(), time.perf_counter()
    count, last, in_order = 0, 0, True
    counts: dict[str, Any] = {"requests": 0}
    items = fn(args.url, args.key, args.page_size, concurrency, counts)
    async for wp in items:
        wp_id = wp["id"]
        in_order = in_order and wp_id > last
        last = wp_id
        count += 1
        if args.limit and count >= args.limit:
            break
    await items.aclose()  # type: ignore[attr-defined]
    requests = counts["session"]["requests"] if "session" in counts else counts["requests"]
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "client": args.client,
        "items": count,
        "in_order": in_order,
        "seconds": wall,
        "items_per_s": count / wall if wall else 0.0,
        "requests": requests,
        "cpu_s": cpu,
        "cpu_us_per_item": cpu / count * 1e6 if count else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the driver ----------------------------------------------------------------------


def measure(
    url: str,
    key: str,
    client: str,
    page_size: int,
    concurrency: int,
    *,
    limit: int = 0,
    deadline: float,
) -> dict[str, Any]:
    cmd = [
        sys.executable, __file__, "--client", client, "--url", url, "--key", key,
        "--page-size", str(page_size), "--concurrency", str(concurrency), "--limit", str(limit),
    ]  # fmt: skip
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SystemExit("time limit reached")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=remaining, check=False)
    if done.returncode:
        raise SystemExit(f"{client} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout))


def row(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label:<34} {r['items']:>7} {r['seconds']:>7.2f} {r['items_per_s']:>9.0f} "
        f"{r['requests']:>6} "
        f"{r['cpu_us_per_item']:>8.1f} {r['peak_rss_mb']:>7.1f}"
    )


def check(ok: bool, text: str) -> str:
    return f"  [{'ok' if ok else 'MISSED'}] {text}"


def drive(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.time_limit
    ps, conc, n = args.page_size, args.concurrency, args.work_packages
    header = (
        f"{'run':<34} {'items':>7} {'seconds':>7} {'items/s':>9} {'reqs':>6} "
        f"{'cpu us/it':>8} {'RSS MB':>7}"
    )
    results: dict[str, dict[str, Any]] = {}
    print(
        f"latency model: {args.latency * 1000:.0f} ms/request + "
        f"{args.latency_per_element * 1000:.0f} ms/work package, {args.workers} requests at "
        f"once, {n} work packages, page size {ps}, concurrency {conc}; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    print(header)
    with fake_server(
        "--seed-size", str(n), "--latency", str(args.latency),
        "--latency-per-element", str(args.latency_per_element),
        "--max-concurrent-requests", str(args.workers), "--max-page-size", "1000",
    ) as (url, key):  # fmt: skip
        for name, label in [
            ("library-seq", "(a) library sequential"),
            ("library-conc", f"(b) library iterate(concurrency={conc})"),
            ("raw-conc", f"(c) raw aiohttp+orjson, {conc} at once"),
            ("raw-seq", "(d) raw nextByOffset loop"),
        ]:
            r = results[name] = measure(url, key, name, ps, conc, deadline=deadline)
            print(row(label, r), flush=True)

    big = args.stream_work_packages
    if big:
        stream(args, header, results, deadline)
    return report(args, results)


def stream(
    args: argparse.Namespace, header: str, results: dict[str, dict[str, Any]], deadline: float
) -> None:
    """The zero-latency part: CPU per element and peak RSS, library against raw."""
    big = args.stream_work_packages
    print(f"\nzero latency, {big} work packages, page size 1000, sequential")
    print(header)
    with fake_server("--seed-size", str(big), "--max-page-size", "1000") as (url, key):
        r = results["stream-10k"] = measure(url, key, "library-seq", 1000, 1, limit=big // 10,
                                            deadline=deadline)  # fmt: skip
        print(row(f"library, first {big // 10}", r), flush=True)
        # CPU per element is what this part measures: alternate the two clients and keep
        # each one's best run, so that a busy moment of the machine does not decide it
        for attempt in range(1, args.repeat + 1):
            for name, client, label in [
                ("stream-all", "library-seq", f"library, all {big}"),
                ("raw-all", "raw-seq", f"raw aiohttp+orjson, all {big}"),
            ]:
                r = measure(url, key, client, 1000, 1, deadline=deadline)
                print(row(f"{label} #{attempt}", r), flush=True)
                best = results.get(name)
                if best is None or r["cpu_us_per_item"] < best["cpu_us_per_item"]:
                    results[name] = r


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> int:
    n, big = args.work_packages, args.stream_work_packages
    four = ("library-seq", "library-conc", "raw-conc", "raw-seq")
    a, b, c, d = (results[k]["items_per_s"] for k in four)
    expected = dict.fromkeys(four, n) | {"stream-10k": big // 10, "stream-all": big, "raw-all": big}
    complete = all(r["in_order"] and r["items"] == expected[k] for k, r in results.items())
    print(f"\nratios: b/c = {b / c:.2f}, b/d = {b / d:.1f}, a/d = {a / d:.2f}")
    lines = [
        check(complete, "every run got every work package once, in order"),
        check(b >= 0.9 * c, f"(b) >= 0.9 x (c): {b / c:.2f}"),
        check(b >= 4 * d, f"(b) >= 4 x (d): {b / d:.1f}"),
    ]
    if big:
        lib, raw = results["stream-all"], results["raw-all"]
        overhead = lib["cpu_us_per_item"] / raw["cpu_us_per_item"] - 1
        growth = lib["peak_rss_mb"] / results["stream-10k"]["peak_rss_mb"]
        rss = lib["peak_rss_mb"] / raw["peak_rss_mb"] - 1
        print(
            f"library CPU per element over raw (zero latency, best of {args.repeat}): "
            f"{lib['cpu_us_per_item']:.1f} vs {raw['cpu_us_per_item']:.1f} us = "
            f"{overhead * 100:+.0f}%; peak RSS {lib['peak_rss_mb']:.1f} vs "
            f"{raw['peak_rss_mb']:.1f} MB; streaming {big} / {big // 10}: {growth:.2f}x"
        )
        lines += [
            check(overhead <= 0.10, f"library CPU per element <= 1.10 x raw: {overhead:+.0%}"),
            check(abs(rss) <= 0.05, f"library peak RSS = raw within 5%: {rss:+.1%}"),
            check(growth < 2, f"peak RSS 100k < 2 x 10k: {growth:.2f}x"),
        ]
    print("targets:")
    print("\n".join(lines))
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}))
    return 0 if all("[ok]" in line for line in lines) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--work-packages", type=int, default=20_000)
    parser.add_argument("--stream-work-packages", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.030)
    parser.add_argument("--latency-per-element", type=float, default=0.001)
    parser.add_argument("--workers", type=int, default=8, help="requests the server serves at once")
    parser.add_argument("--repeat", type=int, default=5, help="zero-latency runs of each client")
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    # internal: run one client in this process
    parser.add_argument("--client", choices=sorted(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--gc", choices=sorted(GC_MODES), default="default", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(run_client(args))))
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
