"""Memory of a large upload: the file streams from disk, the client's memory does not grow.

Writes a ``--size`` MB file (default 200) of random bytes to a temporary directory,
starts a sink server in its own process (it reads the multipart upload as it arrives,
counts and hashes the file part and answers an Attachment), then uploads the file with
``await op.upload(path)`` and prints the client process's peak RSS growth during the
upload (``ru_maxrss`` and the current RSS sampled as the file goes out: peaks count,
not only where the memory ends up). The goal is
growth under ~20 MB whatever the file's size; the exit status is 1 when it is over
``--limit`` MB.

    python benchmarks/upload.py [--size 200] [--limit 20]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import BodyPartReader, web

from openproject_async import OpenProject

MB = 1024 * 1024


# -- the sink server (``--sink``: this script in another process) --------------------------


async def _sink_upload(request: web.Request) -> web.Response:
    reader = await request.multipart()
    size = 0
    md5 = hashlib.md5(usedforsecurity=False)
    name = "file"
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name != "file":
            await part.read()
            continue
        name = part.filename or name
        while chunk := await part.read_chunk(1024 * 1024):
            size += len(chunk)
            md5.update(chunk)
    doc = {
        "_type": "Attachment",
        "id": 1,
        "fileName": name,
        "fileSize": size,
        "digest": {"algorithm": "md5", "hash": md5.hexdigest()},
        "_links": {"self": {"href": "/api/v3/attachments/1"}},
    }
    return web.json_response(doc, status=201, content_type="application/hal+json")


def _serve_sink() -> None:
    app = web.Application(client_max_size=1 << 40)
    app.router.add_post("/api/v3/attachments", _sink_upload)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"READY http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the client ------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_mb() -> float:
    """The current RSS (Linux ``/proc``; elsewhere the peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return _peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def _write_file(path: Path, size: int) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, MB))
            md5.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return md5.hexdigest()


async def _upload(url: str, path: Path) -> tuple[dict[str, object], float, float]:
    """(the answer, RSS growth in MB, seconds): the growth is the larger of the peak RSS
    growth and the highest current RSS seen while the file went out, over the start."""
    async with OpenProject(url, api_key="benchmark") as op:
        peak_before, start = _peak_rss_mb(), _rss_mb()
        highest = start

        def sample(sent: int, size: int | None) -> None:
            nonlocal highest
            highest = max(highest, _rss_mb())

        started = time.monotonic()
        att = await op.upload(path, progress=sample)
        elapsed = time.monotonic() - started
        growth = max(_peak_rss_mb() - peak_before, highest - start)
        return att.data, growth, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200, help="file size in MB (default 200)")
    parser.add_argument("--limit", type=float, default=20.0, help="allowed RSS growth, MB")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        _serve_sink()
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.bin"
        digest = _write_file(path, args.size * MB)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().split()
            if len(line) != 2 or line[0] != "READY":
                raise RuntimeError(f"the sink server did not start: {line!r}")
            doc, growth, elapsed = asyncio.run(_upload(line[1], path))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    received = doc.get("fileSize")
    same = received == args.size * MB and doc.get("digest") == {"algorithm": "md5", "hash": digest}
    print(f"uploaded {args.size} MB in {elapsed:.2f}s ({args.size / elapsed:.0f} MB/s)")
    print(f"server received {received} bytes, md5 {'matches' if same else 'DIFFERS'}")
    print(f"client peak RSS growth during the upload: {growth:.1f} MB (limit {args.limit:g} MB)")
    return 0 if same and growth <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
