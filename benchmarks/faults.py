"""Reliability under faults: figures to compare release to release.

Starts an in-process FakeOpenProject, then

1. bulk-reads every work package (default 20,000, 4 pages in flight) once per page size
   (default 1000, then 100: more requests, so more faults) while a share of the GETs
   (default 10%) fail: 503, 429 ``Throttled``, dropped connections and truncated
   bodies, in equal parts;
2. creates work packages (default 200) while a share of the creates (default 10%) lose
   their answer after the server committed them (``drop_after``).

It prints requests, faults injected, retries, items delivered, duplicates, losses and
outcome-unknown counts (``--json`` adds one JSON line), and stops by itself: the whole run
is limited to ``--time-limit`` seconds (default 60).

    python benchmarks/faults.py [--work-packages 20000] [--fault-rate 0.1] [--creates 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from openproject_async import Collection, OpenProject, RetryPolicy
from openproject_async.errors import OpenProjectError, OutcomeUnknown
from openproject_async.testing import FakeOpenProject, Fault

MIXED = ("status", "throttle", "drop", "truncate")


def add_mixed_faults(server: FakeOpenProject, rate: float, seed: int) -> None:
    """``rate`` of the GETs fail, split evenly between the four kinds."""
    each = rate / len(MIXED)
    for i, kind in enumerate(MIXED):
        share = each / (1 - each * i)  # later rules only see what earlier ones let through
        server.faults.add(Fault(kind, rate=share, method="GET", seed=seed + i, status=503))


async def bulk_read(
    server: FakeOpenProject, args: argparse.Namespace, page_size: int
) -> dict[str, Any]:
    server.faults.clear()
    server.faults.reset_log()
    server.clear_requests()
    add_mixed_faults(server, args.fault_rate, args.seed)
    policy = RetryPolicy(
        attempts=args.attempts, backoff=args.backoff, max_backoff=0.2, max_wait_hint=0.05
    )
    params: dict[str, Any] = {"pageSize": page_size, "filters": [], "sortBy": [["id", "asc"]]}
    if args.select:
        params["select"] = "*,elements/id,elements/subject"
    started = time.perf_counter()
    failure = ""
    ids: list[Any] = []
    async with OpenProject(
        server.url, api_key=server.api_key, retry=policy, max_concurrency=args.concurrency * 2
    ) as op:
        try:
            first = await op.get("/api/v3/work_packages", **params)
            assert isinstance(first, Collection)
            async for wp in first.iterate(concurrency=args.concurrency):
                ids.append(wp["id"])
        except OpenProjectError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        stats = dict(op.stats)
    elapsed = time.perf_counter() - started
    expected = sorted(server.store.work_packages)
    unique = set(ids)
    return {
        "work_packages": len(expected),
        "page_size": page_size,
        "concurrency": args.concurrency,
        "fault_rate": args.fault_rate,
        "requests_client": stats["requests"],
        "requests_server": len(server.requests),
        "faults_injected": server.faults.injected,
        "faults_by_kind": dict(Counter(f.kind for f in server.faults.log)),
        "retries": stats["retries"],
        "items_delivered": len(ids),
        "duplicates": len(ids) - len(unique),
        "losses": len(set(expected) - unique),
        "in_order": ids == expected,
        "failure": failure,
        "seconds": round(elapsed, 3),
        "items_per_second": round(len(ids) / elapsed) if elapsed else 0,
    }


async def creates(server: FakeOpenProject, args: argparse.Namespace) -> dict[str, Any]:
    server.faults.clear()
    server.faults.reset_log()
    server.clear_requests()
    server.faults.add(
        Fault(
            "drop_after",
            rate=args.create_fault_rate,
            method="POST",
            path=r"/api/v3/work_packages$",
            seed=args.seed,
        )
    )
    policy = RetryPolicy(attempts=args.attempts, backoff=args.backoff, max_backoff=0.2)
    confirmed: dict[str, int] = {}
    unknown: list[str] = []
    other: list[str] = []
    limit = asyncio.Semaphore(8)

    async def create(op: OpenProject, n: int) -> None:
        subject = f"bench-create-{n}"
        body = {
            "subject": subject,
            "_links": {
                "project": {"href": "/api/v3/projects/1"},
                "type": {"href": "/api/v3/types/1"},
            },
        }
        async with limit:
            try:
                doc = await op.request("POST", "/api/v3/work_packages", json=body)
            except OutcomeUnknown:
                unknown.append(subject)
                return
            except OpenProjectError as exc:
                other.append(f"{type(exc).__name__}: {exc}")
                return
        assert doc is not None
        confirmed[subject] = doc["id"]

    started = time.perf_counter()
    async with OpenProject(server.url, api_key=server.api_key, retry=policy) as op:
        await asyncio.gather(*(create(op, n) for n in range(args.creates)))
        stats = dict(op.stats)
    elapsed = time.perf_counter() - started
    on_server = Counter(
        wp.subject
        for wp in server.store.work_packages.values()
        if wp.subject.startswith("bench-create-")
    )
    posts = sum(1 for r in server.requests if r.method == "POST")
    return {
        "creates": args.creates,
        "create_fault_rate": args.create_fault_rate,
        "requests_client": stats["requests"],
        "posts_server": posts,
        "faults_injected": server.faults.injected,
        "retries": stats["retries"],
        "confirmed": len(confirmed),
        "outcome_unknown": len(unknown),
        "other_errors": len(other),
        "committed_on_server": sum(on_server.values()),
        "unknown_but_committed": sum(1 for s in unknown if on_server[s] > 0),
        "duplicates": sum(c - 1 for c in on_server.values() if c > 1),
        "losses": sum(1 for s in confirmed if on_server[s] == 0),
        "seconds": round(elapsed, 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with FakeOpenProject(seed_size=args.work_packages, max_page_size=1000) as server:
        for size in args.page_sizes:
            results[f"bulk_read page_size={size}"] = await bulk_read(server, args, size)
        results["creates"] = await creates(server, args)
    return results


def show(results: dict[str, Any]) -> None:
    for section, figures in results.items():
        print(f"[{section}]")
        for key, value in figures.items():
            print(f"  {key:<24} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-packages", type=int, default=20_000)
    parser.add_argument(
        "--page-sizes",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1000, 100],
        help="comma-separated page sizes, one bulk read each (default 1000,100)",
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--create-fault-rate", type=float, default=0.10)
    parser.add_argument("--attempts", type=int, default=8)
    parser.add_argument("--backoff", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--select", action="store_true", help="ask only for id and subject (smaller pages)"
    )
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args(argv)
    try:
        results = asyncio.run(asyncio.wait_for(run(args), args.time_limit))
    except TimeoutError:
        print(f"stopped: over the time limit of {args.time_limit:g}s", file=sys.stderr)
        return 2
    show(results)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    reads = [v for k, v in results.items() if k.startswith("bulk_read")]
    made = results["creates"]
    ok = all(
        not r["failure"] and r["duplicates"] == 0 and r["losses"] == 0 and r["in_order"]
        for r in reads
    ) and (made["duplicates"] == 0 and made["losses"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
