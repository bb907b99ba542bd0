"""Every work package of several projects, fetched concurrently, counted per status and
assignee.

The projects are read at the same time (one task each) and each project's pages are
fetched concurrently too (``--concurrency`` pages in flight); the session caps the
requests in flight overall. Only the properties the summary needs are asked for
(``select``); a server that does not support that selection answers ``InvalidSignal``,
and the job asks again for whole work packages.

    OPENPROJECT_URL=... OPENPROJECT_API_KEY=... python examples/bulk_summary.py \\
        --project demo --project scrum [--json] [-o summary.txt]

Without ``--project`` it summarises every project the user can see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from openproject_async import Collection, InvalidSignal, OpenProject, Resource

SELECT = "*,elements/id,elements/status,elements/assignee"
UNASSIGNED = "(unassigned)"


def title(resource: Resource, rel: str, empty: str) -> str:
    link = resource.links.get(rel)
    if link is None or isinstance(link, list) or link.href is None:
        return empty
    return link.title or link.href


async def work_packages(project: Resource, *, concurrency: int, page_size: int) -> list[Resource]:
    """Every work package of the project, closed ones included (``filters=[]``)."""
    query: dict[str, Any] = {"filters": [], "pageSize": page_size}
    try:
        first = await project.follow("workPackages", select=SELECT, **query)
    except InvalidSignal:
        first = await project.follow("workPackages", **query)
    if not isinstance(first, Collection):
        raise TypeError(f"the workPackages link of {project.get('name')} is not a collection")
    return await first.to_list(concurrency=concurrency)


async def projects_of(op: OpenProject, wanted: list[str]) -> list[Resource]:
    if wanted:
        return list(await op.get_many(f"/api/v3/projects/{p}" for p in wanted))
    listed = await op.get("/api/v3/projects", pageSize=1000)
    return list(await listed.to_list(concurrency=4))


async def summarize(
    op: OpenProject, wanted: list[str], *, concurrency: int, page_size: int
) -> dict[str, Any]:
    projects = await projects_of(op, wanted)
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(work_packages(p, concurrency=concurrency, page_size=page_size))
            for p in projects
        ]
    per_project: dict[str, int] = {}
    by_status: Counter[str] = Counter()
    by_assignee: Counter[str] = Counter()
    by_pair: Counter[tuple[str, str]] = Counter()
    for project, task in zip(projects, tasks, strict=True):
        wps = task.result()
        per_project[str(project.get("name"))] = len(wps)
        for wp in wps:
            status = title(wp, "status", "(no status)")
            assignee = title(wp, "assignee", UNASSIGNED)
            by_status[status] += 1
            by_assignee[assignee] += 1
            by_pair[(assignee, status)] += 1
    return {
        "projects": per_project,
        "total": sum(per_project.values()),
        "by_status": dict(by_status.most_common()),
        "by_assignee": dict(by_assignee.most_common()),
        "by_assignee_and_status": {
            a: {s: n for (a2, s), n in sorted(by_pair.items()) if a2 == a} for a in by_assignee
        },
    }


def write_text(summary: dict[str, Any], out: TextIO) -> None:
    statuses = list(summary["by_status"])
    names = list(summary["by_assignee"])
    width = max([len(n) for n in names] + [len("assignee"), len("project")])
    out.write(f"{summary['total']} work packages\n")
    for project, count in summary["projects"].items():
        out.write(f"  {project:<{width}}  {count}\n")
    out.write("\n")
    out.write(f"{'assignee':<{width}}  " + "  ".join(f"{s:>{max(len(s), 4)}}" for s in statuses))
    out.write(f"  {'total':>5}\n")
    for name in names:
        row = summary["by_assignee_and_status"][name]
        cells = "  ".join(f"{row.get(s, 0):>{max(len(s), 4)}}" for s in statuses)
        out.write(f"{name:<{width}}  {cells}  {summary['by_assignee'][name]:>5}\n")
    totals = "  ".join(f"{summary['by_status'][s]:>{max(len(s), 4)}}" for s in statuses)
    out.write(f"{'total':<{width}}  {totals}  {summary['total']:>5}\n")


def session(url: str | None, api_key: str | None, token: str | None) -> OpenProject:
    url = url or os.environ.get("OPENPROJECT_URL")
    if not url:
        raise SystemExit("give --url or set OPENPROJECT_URL")
    token = token or (None if api_key else os.environ.get("OPENPROJECT_TOKEN"))
    api_key = api_key or (None if token else os.environ.get("OPENPROJECT_API_KEY"))
    return OpenProject(url, api_key=api_key, token=token, max_concurrency=16)


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    async with session(args.url, args.api_key, args.token) as op:
        return await summarize(
            op, args.project or [], concurrency=args.concurrency, page_size=args.page_size
        )


def _write(summary: dict[str, Any], out: TextIO, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    else:
        write_text(summary, out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Work packages per status and assignee.")
    parser.add_argument("--url", help="server URL (default: $OPENPROJECT_URL)")
    parser.add_argument("--api-key", help="API key (default: $OPENPROJECT_API_KEY)")
    parser.add_argument("--token", help="Bearer token (default: $OPENPROJECT_TOKEN)")
    parser.add_argument(
        "--project", action="append", help="project id or identifier (repeatable; default: all)"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="pages in flight per project")
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="write JSON instead of a table")
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(amain(args))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            _write(summary, handle, args.json)
    else:
        _write(summary, sys.stdout, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
