"""Soak: one session, many small requests, faults and cancellations; resources stay flat.

Starts a small keep-alive HTTP server in its own process (so that its memory is not
counted) that answers ``GET /api/v3/things/<n>`` with a small HAL document, except for a
share of the requests (default 5%) that fail in equal parts: 503, a connection dropped
before the answer, an answer cut off half-way, and a slow answer (0.5 s). One
``OpenProject`` session then sends the requests (default 100,000, 32 at a time, with
retries); every ``--cancel-every`` requests one more request to a slow path is started
and cancelled while it is in flight.

It prints the process's RSS, open sockets (file descriptors that are sockets), the
connections the aiohttp connector holds and the live asyncio tasks after a warm-up, at
every tenth of the run and at the end, plus the outcome counts. It stops by itself: the
run is limited to ``--time-limit`` seconds (default 900).

    python benchmarks/soak.py [--requests 100000] [--fault-rate 0.05] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from openproject_async import AiohttpTransport, OpenProject, RetryPolicy
from openproject_async.errors import OpenProjectError

FAULTS = ("status", "drop", "truncate", "slow")

# -- the server (its own process) ------------------------------------------------------------


def _answer(status: int, body: bytes, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/hal+json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


async def _serve(fault_rate: float, seed: int) -> None:
    rng = random.Random(seed)
    error = json.dumps(
        {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:InternalServerError",
            "message": "busy",
        }
    ).encode()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                ident = path.rsplit("/", 1)[-1]
                body = b'{"_type": "Thing", "id": "%s"}' % ident.encode()
                fault = rng.choice(FAULTS) if rng.random() < fault_rate else None
                if "/slow/" in path or fault == "slow":
                    await asyncio.sleep(0.5)
                if fault == "status":
                    writer.write(_answer(503, error))
                elif fault == "drop":
                    return
                elif fault == "truncate":
                    writer.write(_answer(200, body[: len(body) // 2], length=len(body)))
                    await writer.drain()
                    return
                else:
                    writer.write(_answer(200, body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0, backlog=1024)
    print("READY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


# -- measurements ------------------------------------------------------------------------------


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def sockets() -> int:
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return found


def connections(op: OpenProject) -> int:
    transport = op.transport
    if not isinstance(transport, AiohttpTransport):
        return -1
    conns = getattr(transport.http.connector, "_conns", {})  # idle kept-alive ones
    acquired = getattr(transport.http.connector, "_acquired", ())  # in use
    return sum(len(v) for v in conns.values()) + len(acquired)


def snapshot(op: OpenProject, label: str, done: int) -> dict[str, Any]:
    gc.collect()
    figures = {
        "at": label,
        "requests_done": done,
        "rss_mib": round(rss() / 2**20, 1),
        "sockets": sockets(),
        "connections": connections(op),
        "tasks": len(asyncio.all_tasks()),
    }
    print(
        f"{label:>8}: {done:>7} requests  RSS {figures['rss_mib']:7.1f} MiB  "
        f"sockets {figures['sockets']:3}  connections {figures['connections']:3}  "
        f"tasks {figures['tasks']:3}",
        flush=True,
    )
    return figures


# -- the client --------------------------------------------------------------------------------


async def soak(url: str, args: argparse.Namespace) -> dict[str, Any]:
    outcomes: Counter[str] = Counter()
    policy = RetryPolicy(attempts=4, deadline=5.0, backoff=0.002, max_backoff=0.02)
    figures: list[dict[str, Any]] = []
    async with OpenProject(
        url, retry=policy, read_timeout=2.0, max_concurrency=args.concurrency
    ) as op:
        next_id = 0
        done = 0
        cancel_tasks: set[asyncio.Task[Any]] = set()

        async def one(n: int) -> None:
            try:
                await op.request("GET", f"/api/v3/things/{n}")
                outcomes["ok"] += 1
            except OpenProjectError as exc:
                outcomes[type(exc).__name__] += 1

        async def cancelled(n: int) -> None:
            task = asyncio.ensure_future(op.request("GET", f"/api/v3/slow/{n}"))
            cancel_tasks.add(task)
            await asyncio.sleep(0.05)  # it is in flight (the slow path takes 0.5 s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OpenProjectError):
                await task
            cancel_tasks.discard(task)
            outcomes["cancelled"] += task.cancelled()

        async def worker(limit: int) -> None:
            nonlocal next_id, done
            while next_id < limit:
                n = next_id
                next_id += 1
                if args.cancel_every and n % args.cancel_every == 0:
                    await cancelled(n)
                await one(n)
                done += 1

        async def run_until(limit: int) -> None:
            await asyncio.gather(*(worker(limit) for _ in range(args.concurrency)))

        figures.append(snapshot(op, "start", done))
        await run_until(args.warmup)
        figures.append(snapshot(op, "warm", done))
        step = max((args.requests - args.warmup) // 10, 1)
        target = args.warmup
        while target < args.requests:
            target = min(target + step, args.requests)
            await run_until(target)
            figures.append(snapshot(op, "end" if target == args.requests else "", done))
        stats = dict(op.stats)
    return {"figures": figures, "outcomes": dict(outcomes), "stats": stats}


@contextlib.contextmanager
def server_process(fault_rate: float) -> Iterator[str]:
    """The soak server in its own process; yields its URL."""
    cmd = [sys.executable, __file__, "--serve", "--fault-rate", str(fault_rate)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"the soak server did not start: {line!r}")
        yield line[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    async with asyncio.timeout(args.time_limit):
        result = await soak(url, args)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--cancel-every", type=int, default=500)
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.fault_rate, seed=1))
        return 0
    if args.warmup >= args.requests:
        parser.error("--warmup must be below --requests")
    try:
        with server_process(args.fault_rate) as url:
            result = asyncio.run(run(url, args))
    except TimeoutError:
        print(f"stopped: the run took longer than --time-limit {args.time_limit:g}s")
        return 1
    first, last = result["figures"][1], result["figures"][-1]  # after the warm-up
    growth = (last["rss_mib"] - first["rss_mib"]) / first["rss_mib"] * 100
    print(f"outcomes: {result['outcomes']}")
    print(f"stats: {result['stats']}")
    print(
        f"after warm-up -> end: RSS {first['rss_mib']} -> {last['rss_mib']} MiB "
        f"({growth:+.1f}%), sockets {first['sockets']} -> {last['sockets']}, "
        f"tasks {first['tasks']} -> {last['tasks']}, in {result['seconds']}s"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
