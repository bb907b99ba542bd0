"""The command line's arguments: one function per subcommand (``build_parser`` joins them)."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, Protocol

from .. import __version__
from ._common import ENV_API_KEY, ENV_TOKEN, ENV_URL
from ._filters import FILTER_SYNTAX

PROG = "openproject-async"


class _Add(Protocol):
    def __call__(
        self, name: str, help_text: str, epilog: str | None = None, *, server: bool = True
    ) -> argparse.ArgumentParser: ...


_EPILOG = f"""\
configuration: --url/--api-key/--token or the environment variables {ENV_URL},
{ENV_API_KEY} (Basic auth, user "apikey") and {ENV_TOKEN} (Bearer). Prefer the
environment for secrets: command lines are visible to other users of the machine.
exit codes: 0 success, 1 failure (API error, demo step), 2 usage, 130 interrupted."""

_EXPORT_EPILOG = f"""\
{textwrap.fill(f"filters (--filter, repeatable, ANDed): {FILTER_SYNTAX}.", 88)}
Dates in >= / <= become OpenProject's "<>d" (between) operator with an open end.
Work packages: without --filter the export sends filters=[] so that closed work packages
are included (the server's default filter shows open ones only); --filter status=o
gives the server's default back.
--columns (CSV; implies CSV unless --format says otherwise): properties (subject), links,
printed as their title (status, assignee), and schema fields by key or human name
(customField1, "Story points"). -o FILE.csv also chooses CSV.
--select id,subject asks the server for fewer properties (sent as *,elements/id,...).
Each record is written whole and flushed: an interrupted export leaves a valid file."""


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool, server: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    if server:
        group = parser.add_argument_group("server")
        group.add_argument("--url", default=default, help=f"server URL (default: ${ENV_URL})")
        group.add_argument(
            "--api-key", default=default, help=f"API key (default: ${ENV_API_KEY})", metavar="KEY"
        )
        group.add_argument("--token", default=default, help=f"Bearer token (default: ${ENV_TOKEN})")
        group.add_argument(
            "--timeout",
            type=float,
            default=default,
            metavar="SECONDS",
            help="wait at most this long for each answer (default 60)",
        )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="tracebacks for errors, and log every HTTP exchange on stderr"
        if server
        else "tracebacks for errors",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="asyncio client for the OpenProject API v3: demo, fake server, export, "
        "and a terminal HAL browser.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common_options(parser, suppress=False, server=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, help_text: str, epilog: str | None = None, *, server: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog or _EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common_options(p, suppress=True, server=server)
        return p

    for command in (_demo_command, _serve_command, _export_command, _browse_commands):
        command(add)
    _file_commands(add)
    return parser


def _demo_command(add: _Add) -> None:
    demo = add(
        "demo",
        "walk the API v3 usage guide end to end and check every step: against a built-in "
        "fake server, or against --url (creates one work package and deletes it again)",
    )
    demo.add_argument(
        "--local",
        action="store_true",
        help=f"use the built-in server even when {ENV_URL} is set",
    )
    demo.add_argument("--project", help="project (id, identifier or name) for the new work package")
    demo.add_argument("-v", "--verbose", action="store_true", help="also print the documents")


def _serve_command(add: _Add) -> None:
    serve = add(
        "serve",
        "serve the in-memory fake OpenProject until interrupted (Ctrl+C)",
        "It prints its URL and the API keys of its seeded users, and stops on Ctrl+C or\n"
        "SIGTERM (exit code 0). Point the other commands at it with --url and --api-key\n"
        f"(or {ENV_URL} and {ENV_API_KEY}).",
        server=False,
    )
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    serve.add_argument("--seed-size", type=int, default=1000, help="work packages to seed")
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    serve.add_argument("--max-page-size", type=int, default=1000, help="largest page size")
    serve.add_argument(
        "--ready-line", action="store_true", help="print only 'READY <url> <api_key>'"
    )


def _export_command(add: _Add) -> None:
    export = add(
        "export",
        "export every element of a collection (default: all work packages) as JSON Lines or CSV",
        _EXPORT_EPILOG,
    )
    export.add_argument(
        "href", nargs="?", help="collection href (default /api/v3/work_packages)", metavar="HREF"
    )
    export.add_argument("--project", help="the work packages of one project (id or identifier)")
    export.add_argument("--filter", action="append", metavar="FILTER", help="see below; repeatable")
    export.add_argument(
        "--sort", help="e.g. updatedAt:desc,id or -updatedAt,id or raw JSON", metavar="SORT"
    )
    export.add_argument("--select", help="properties to ask for, e.g. id,subject,status")
    export.add_argument("--format", choices=("jsonl", "csv"), help="default: by -o's extension")
    export.add_argument(
        "--columns", help='CSV columns, comma separated (e.g. id,subject,"Story points")'
    )
    export.add_argument("-o", "--output", help="file to write (default: stdout)", metavar="FILE")
    export.add_argument("--concurrency", type=int, default=4, help="pages in flight (default 4)")
    export.add_argument(
        "--page-size", type=int, default=1000, help="elements per page (default 1000)"
    )
    progress = export.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress on stderr (default: when stderr is a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")


def _browse_commands(add: _Add) -> None:
    get = add("get", "print a resource: properties, actions, relations, embedded resources")
    get.add_argument(
        "href", metavar="HREF", help="href, URL, or a path below /api/v3 (work_packages/1)"
    )
    get.add_argument("--json", action="store_true", help="the raw document")
    get.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="query parameter")

    follow = add(
        "follow",
        "walk links from a resource and print where you arrive "
        "(follow /api/v3 workPackages: the first page of work packages)",
    )
    follow.add_argument("href", metavar="HREF")
    follow.add_argument(
        "rels",
        nargs="+",
        metavar="REL",
        help="link names; REL[i] picks from a list or embedded list",
    )
    follow.add_argument("--json", action="store_true", help="the raw document")
    follow.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="template variables, and query parameters of the last request",
    )


def _file_commands(add: _Add) -> None:
    """``download`` and ``upload`` (``_cli/_files.py``)."""
    download = add(
        "download",
        "download an attachment's content (atomically, digest-checked), e.g. "
        "download /api/v3/attachments/7 -o file",
    )
    download.add_argument("href", metavar="HREF", help="the attachment (attachments/7)")
    download.add_argument(
        "-o", "--output", metavar="FILE", help="default: its file name here; - for stdout"
    )
    upload = add(
        "upload",
        "upload a file, e.g. upload FILE --to /api/v3/work_packages/42 (without --to: a "
        "containerless attachment, to claim later)",
    )
    upload.add_argument("file", metavar="FILE")
    upload.add_argument("--to", metavar="HREF", help="the container (work_packages/42)")
    upload.add_argument("--description", help="the attachment's description")
    upload.add_argument("--name", help="file name to store (default: FILE's name)")
    upload.add_argument("--content-type", help="default: guessed from the name")
    for p in (download, upload):
        shown = p.add_mutually_exclusive_group()
        shown.add_argument(
            "--progress",
            dest="progress",
            action="store_true",
            default=None,
            help="show a progress bar on stderr (default: when stderr is a terminal)",
        )
        shown.add_argument("--no-progress", dest="progress", action="store_false")
