"""What the garbage collector costs a bulk reader, and what a setting changes.

Streams ``--work-packages`` work packages (page size 1000, sequential) from a zero-latency
FakeOpenProject with the library and with raw aiohttp + orjson, each in its own process
(``throughput.py --client ...``), under four garbage-collector settings:

  default     Python's thresholds (700, 10, 10)
  freeze      ``gc.freeze()`` once the modules are imported (start-up objects never rescanned)
  threshold   ``gc.set_threshold(50_000, 20, 100)`` (fewer young-generation collections)
  off         ``gc.disable()`` (the floor: nothing collected at all)

and prints client CPU per element (best of ``--repeat``) and peak RSS.

    python benchmarks/gc_effect.py [--work-packages 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import fake_server

THROUGHPUT = str(Path(__file__).with_name("throughput.py"))
MODES = ["default", "freeze", "threshold", "off"]


def run(url: str, key: str, client: str, mode: str) -> dict[str, float]:
    cmd = [
        sys.executable, THROUGHPUT, "--client", client, "--url", url, "--key", key,
        "--page-size", "1000", "--concurrency", "1", "--gc", mode,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(done.stdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-packages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best: dict[tuple[str, str], dict[str, float]] = {}
    options = ("--seed-size", str(args.work_packages), "--max-page-size", "1000")
    with fake_server(*options) as (url, key):
        for _ in range(args.repeat):
            for mode in MODES:
                for client in ("library-seq", "raw-seq"):
                    r = run(url, key, client, mode)
                    assert r["items"] == args.work_packages
                    assert r["in_order"]
                    old = best.get((client, mode))
                    if old is None or r["cpu_us_per_item"] < old["cpu_us_per_item"]:
                        best[client, mode] = r
    print(
        f"{args.work_packages} work packages, zero latency, page size 1000, sequential; "
        f"client CPU us per element (best of {args.repeat}) and peak RSS"
    )
    print(f"{'gc':<10} {'library':>9} {'RSS MB':>7} {'raw':>9} {'RSS MB':>7} {'lib/raw':>8}")
    for mode in MODES:
        lib, raw = best["library-seq", mode], best["raw-seq", mode]
        print(
            f"{mode:<10} {lib['cpu_us_per_item']:>9.1f} {lib['peak_rss_mb']:>7.1f} "
            f"{raw['cpu_us_per_item']:>9.1f} {raw['peak_rss_mb']:>7.1f} "
            f"{lib['cpu_us_per_item'] / raw['cpu_us_per_item']:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
