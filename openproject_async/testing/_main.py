"""Run the fake server standalone: ``python -m openproject_async.testing`` or ``serve()``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ._server import FakeOpenProject


async def _run(server: FakeOpenProject, ready_line: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        if ready_line:
            print(f"READY {server.url} {server.api_key}", flush=True)
        else:
            print(f"OpenProject fake listening on {server.url}", flush=True)
            for login, key in server.api_keys.items():
                print(f"  API key of {login:<8} {key}", flush=True)
            print(f"  OAuth client id      {server.oauth_client_id}", flush=True)
            print(f"  OAuth client secret  {server.oauth_client_secret}", flush=True)
            print("Press Ctrl+C to stop.", flush=True)
        await stop.wait()


def serve(port: int = 0, seed_size: int = 1000, *, ready_line: bool = False, **knobs: Any) -> None:
    """Run a FakeOpenProject until interrupted, printing its URL and API keys.

    ``knobs`` are ``FakeOpenProject`` keyword arguments (``latency``, ``max_page_size``...).
    With ``ready_line`` it prints one ``READY <url> <api_key>`` line instead.
    """
    server = FakeOpenProject(port=port, seed_size=seed_size, **knobs)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(server, ready_line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openproject_async.testing",
        description="Serve an in-memory fake OpenProject API v3. Prints "
        "'READY <url> <api_key>' when listening.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--seed-size", type=int, default=1000)
    parser.add_argument("--max-page-size", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--latency-per-element", type=float, default=0.0)
    parser.add_argument("--max-concurrent-requests", type=int, default=None)
    parser.add_argument("--base-path", default="")
    parser.add_argument("--token-lifetime", type=int, default=7200)
    parser.add_argument(
        "--compress", action="store_true", help="gzip responses when the client accepts it"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print all credentials instead of the READY line"
    )
    args = parser.parse_args(argv)
    serve(
        port=args.port,
        seed_size=args.seed_size,
        ready_line=not args.verbose,
        host=args.host,
        max_page_size=args.max_page_size,
        latency=args.latency,
        latency_per_element=args.latency_per_element,
        max_concurrent_requests=args.max_concurrent_requests,
        base_path=args.base_path,
        token_lifetime=args.token_lifetime,
        compress=args.compress,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
