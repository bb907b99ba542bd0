"""What the benchmark scripts share: a fake server in its own process, raw-client headers."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def fake_server(*options: str) -> Iterator[tuple[str, str]]:
    """A FakeOpenProject in its own process; yields (url, api_key) once it listens.

    ``options`` are ``python -m openproject_async.testing`` flags (``--seed-size 10``...).
    """
    cmd = [sys.executable, "-m", "openproject_async.testing", *options]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield line[1], line[2]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def raw_headers(key: str) -> dict[str, str]:
    """The headers a hand-written client sends: Basic ``apikey:<key>``, HAL accepted."""
    token = base64.b64encode(f"apikey:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/hal+json"}
