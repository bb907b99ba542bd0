"""Per-module mutation scores from mutmut's results (``mutants/**/*.meta``).

Run after ``mutmut run`` (README, "Development")::

    .venv/bin/python tools/mutation_scores.py            # every module with results
    .venv/bin/python tools/mutation_scores.py --survivors _links   # and the survivors

Killed: a test failed (or timed out) with the mutant; survived: every test passed; not
run: no test reaches the mutated function, or the mutant was not part of the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
SURVIVED = {0}


def scores(root: Path) -> dict[str, tuple[int, int, int, list[str]]]:
    out: dict[str, tuple[int, int, int, list[str]]] = {}
    for meta in sorted(root.glob("openproject_async/*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        killed = sum(1 for c in codes.values() if c in KILLED)
        survivors = sorted(k for k, c in codes.items() if c in SURVIVED)
        other = len(codes) - killed - len(survivors)
        out[meta.name.removesuffix(".py.meta")] = (killed, len(survivors), other, survivors)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", nargs="*", default=None, help="list survivors of these")
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    args = parser.parse_args()
    print(f"{'module':<16} {'killed':>7} {'survived':>9} {'not run':>8} {'score':>7}")
    for module, (killed, survived, other, names) in scores(args.root).items():
        tried = killed + survived
        if not tried:
            continue
        print(f"{module:<16} {killed:>7} {survived:>9} {other:>8} {killed / tried:>7.1%}")
        if args.survivors is not None and (not args.survivors or module in args.survivors):
            for name in names:
                print(f"    {name}")


if __name__ == "__main__":
    main()
