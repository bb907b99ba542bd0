"""Bulk writes and large pages: ``op.gather()`` against a sequential loop, ``page_size=``.

Starts FakeOpenProject in a separate process with a latency model (``--latency`` per
request, 30 ms by default, ``--workers`` requests served at once, 8 by default) and:

* counts the requests of a session's first ``save()`` and of creates through a form;
* updates ``--updates`` work packages (``wp.save(subject=...)``, 2 requests each: the form
  and the PATCH) with ``await op.gather(*saves, concurrency=N)``, and the first
  ``--sequential`` of them one after the other (a sequential loop over 1,000 would take a
  minute: its rate is measured on fewer and compared per update);
* reads ``--read`` work packages from a collection opened with the server's default page
  size (20) with ``iterate()`` and with ``iterate(page_size=1000)`` (the collection's own
  ``changeSize`` link), on a server adding ``--latency-per-element`` per element rendered.

It prints updates/s and the speed-up, and requests and seconds of each read.

    python benchmarks/writes.py [--updates 1000] [--sequential 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from _common import fake_server

from openproject_async import Collection, OpenProject

WPS = "/api/v3/work_packages"


async def counts(url: str, key: str) -> list[tuple[str, int]]:
    """Requests of a session's first save() and of creates through the project's form."""
    out = []
    async with OpenProject(url, api_key=key) as op:
        wp = await op.get(f"{WPS}/1")
        project = await op.get("/api/v3/projects/1")
        create = project.submit
        steps = [
            ("first wp.save(subject=...)", wp.save(subject="Renamed")),
            ("create, scalars only", create("createWorkPackage", subject="A")),
            (
                'first create with type="Task"',
                create("createWorkPackage", subject="B", type="Task"),
            ),
            ('next create with type="Task"', create("createWorkPackage", subject="C", type="Task")),
        ]
        for label, step in steps:
            before = op.stats["requests"]
            await step
            out.append((label, op.stats["requests"] - before))
    return out


async def updates(url: str, key: str, args: argparse.Namespace) -> tuple[float, float, int]:
    async with OpenProject(url, api_key=key) as op:
        page = await op.get(WPS, expect=Collection, pageSize=1000, filters=[])
        wps = (await page.to_list())[: args.updates]
        assert len(wps) == args.updates, "seed more work packages"
        sequential = wps[: args.sequential]
        started = time.perf_counter()
        for wp in sequential:
            await wp.save(subject=f"{wp['subject']} (sequential)")
        seq_rate = len(sequential) / (time.perf_counter() - started)
        fresh = [await op.get(wp.href or "") for wp in sequential] + wps[args.sequential :]
        started = time.perf_counter()
        results = await op.gather(
            *(wp.save(subject=f"{wp['subject']} (bulk)") for wp in fresh),
            concurrency=args.concurrency,
        )
        conc_rate = len(fresh) / (time.perf_counter() - started)
        failed = sum(1 for r in results if isinstance(r, Exception))
        return seq_rate, conc_rate, failed


async def reads(url: str, key: str, args: argparse.Namespace) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for label, size in [("iterate()", None), ("iterate(page_size=1000)", 1000)]:
        async with OpenProject(url, api_key=key) as op:
            started = time.perf_counter()
            page = await op.get(WPS, expect=Collection, filters=[], sortBy=[["id", "asc"]])
            count = 0
            async for _wp in page.iterate(page_size=size):
                count += 1
                if count >= args.read:
                    break
            assert count == args.read
            out[label] = (op.stats["requests"], time.perf_counter() - started)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.030)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--read", type=int, default=5000)
    parser.add_argument("--latency-per-element", type=float, default=0.0001)
    args = parser.parse_args()
    server = ["--latency", str(args.latency), "--max-concurrent-requests", str(args.workers)]
    with fake_server("--seed-size", str(args.updates), *server) as (url, key):
        writes = asyncio.run(counts(url, key))
        seq, conc, failed = asyncio.run(updates(url, key, args))
    print("requests per write")
    for label, n in writes:
        print(f"  {label:<32} {n}")
    print(
        f"updates, {args.latency * 1000:.0f} ms/request, {args.workers} served at once "
        f"(wp.save: form + PATCH)"
    )
    print(f"  sequential loop ({args.sequential} updates)   {seq:8.1f} updates/s")
    print(
        f"  op.gather(concurrency={args.concurrency}) ({args.updates} updates) "
        f"{conc:8.1f} updates/s  ({failed} failed)"
    )
    print(f"  speed-up {conc / seq:.1f}x  [{'ok' if conc >= 6 * seq else 'MISSED'}] >= 6x")
    per_element = ["--latency-per-element", str(args.latency_per_element)]
    with fake_server("--seed-size", str(args.read), *server, *per_element) as (url, key):
        read = asyncio.run(reads(url, key, args))
    print(
        f"\nreading {args.read} work packages from a collection opened at the default page "
        f"size, +{args.latency_per_element * 1000:g} ms per element rendered"
    )
    for label, (requests, seconds) in read.items():
        print(f"  {label:<26} {requests:5} requests {seconds:7.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
