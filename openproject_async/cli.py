"""The ``openproject-async`` command (also ``python -m openproject_async``).

Subcommands: ``demo`` (the API v3 usage guide end to end, every step checked), ``serve``
(the fake server), ``export`` (a collection to JSON Lines or CSV), ``get`` (one resource,
readably) and ``follow`` (walk links, a terminal HAL browser).

Configuration: ``--url`` / ``--api-key`` / ``--token``, or ``OPENPROJECT_URL`` /
``OPENPROJECT_API_KEY`` / ``OPENPROJECT_TOKEN``; ``--timeout`` limits the wait for each
answer. Errors print one line on stderr (``error: Type (HTTP status, identifier):
message``; a timeout adds the number of attempts and the time the command ran) and exit
non-zero; ``--debug`` adds the traceback and logs every HTTP exchange. Exit codes: 0
success, 1 failure, 2 usage, 130 interrupted (one ``interrupted`` line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import textwrap
import time
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from ._cli._common import (
    ENV_API_KEY,
    ENV_TOKEN,
    ENV_URL,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    Config,
    Interruption,
    error_line,
    normalize_href,
    parse_params,
    write_line,
)
from ._cli._filters import FILTER_SYNTAX, parse_filters, parse_select, parse_sort, select_names

PROG = "openproject-async"
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it
#: Options whose value may start with "-" (``--sort -updatedAt``): argparse would take such
#: a value for an option, so ``main`` glues it to the option (``--sort=-updatedAt``) first.
DASH_VALUE_OPTIONS = ("--sort",)
_SERVER_DESTS = ("url", "api_key", "token", "timeout")
_clock = time.monotonic  # the tests replace it to get a fixed running time

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
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="asyncio client for the OpenProject API v3: demo, fake server, export, "
        "and a terminal HAL browser.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

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
    _file_commands(add)
    return parser


def _file_commands(add: Any) -> None:
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


async def _files(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._cli._files import run_download, run_upload

    async with _config(args).session() as op:
        if args.command == "download":
            href = normalize_href(args.href)
            return await run_download(op, href, args.output, out, err, progress=args.progress)
        return await run_upload(
            op,
            args.file,
            normalize_href(args.to) if args.to else None,
            out,
            err,
            description=args.description,
            file_name=args.name,
            content_type=args.content_type,
            progress=args.progress,
        )


def _config(args: argparse.Namespace) -> Config:
    return Config.from_args(*(getattr(args, name, None) for name in _SERVER_DESTS))


def glue_dash_values(argv: Sequence[str]) -> list[str]:
    """``--sort -updatedAt`` -> ``--sort=-updatedAt`` (argparse reads ``-updatedAt`` as an
    option otherwise). A short option (``--sort -o``) is left alone: that is a usage error."""
    out: list[str] = []
    index = 0
    while index < len(argv):
        item = argv[index]
        if item == "--":  # the rest is positional
            return out + list(argv[index:])
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if (
            item in DASH_VALUE_OPTIONS
            and len(following) > 2
            and following[0] == "-"
            and following[1] not in "-0123456789."
        ):
            out.append(f"{item}={following}")
            index += 2
            continue
        out.append(item)
        index += 1
    return out


async def _demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._cli._demo import run_demo

    return await run_demo(
        _config(args), out, err, local=args.local, verbose=args.verbose, project=args.project
    )


def _serve(args: argparse.Namespace) -> int:
    from .testing import serve

    serve(
        port=args.port,
        seed_size=args.seed_size,
        ready_line=args.ready_line,
        latency=args.latency,
        max_page_size=args.max_page_size,
    )
    return 0


async def _export(args: argparse.Namespace, err: TextIO, interruption: Interruption) -> int:
    from ._cli._export import ExportOptions, run_export

    options = ExportOptions(
        href=normalize_href(args.href) if args.href else None,
        project=args.project,
        filters=parse_filters(args.filter),
        sort=parse_sort(args.sort),
        select=parse_select(args.select),
        select_names=select_names(args.select),
        format=args.format,
        columns=[c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None,
        output=args.output,
        concurrency=args.concurrency,
        page_size=args.page_size,
        progress=args.progress,
    )
    async with _config(args).session(max_concurrency=max(args.concurrency, 1) + 2) as op:
        await run_export(op, options, err, interruption)
    return 0


async def _browse(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._cli import _browse as browse

    params = parse_params(args.param)
    href = normalize_href(args.href)
    async with _config(args).session() as op:
        if args.command == "get":
            resource = await browse.get(op, href, params)
            if args.json:
                browse.render_json(resource, out)
            else:
                browse.render(resource, out)
            return 0
        start = await browse.get(op, href, {})
        trail = None if args.json else out
        arrived = await browse.follow(op, start, args.rels, params, trail)
        if args.json:
            browse.render_json(arrived, out)
        elif arrived is None:
            write_line(out, "(no resource: the link's href is null)")
        elif isinstance(arrived, list):
            browse.render_links(arrived, out)
        else:
            browse.render(arrived, out)
        return 0


async def _dispatch(
    args: argparse.Namespace, out: TextIO, err: TextIO, interruption: Interruption
) -> int:
    if args.command == "demo":
        return await _demo(args, out, err)
    if args.command == "export":
        return await _export(args, err, interruption)
    if args.command in ("download", "upload"):
        return await _files(args, out, err)
    return await _browse(args, out, err)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests capture stdout): nothing left to flush


class _Logging:
    """``--debug``: the library's log on stderr; otherwise nothing (no stray warnings)."""

    def __init__(self, debug: bool, stream: TextIO) -> None:
        self.logger = logging.getLogger("openproject_async")
        self.handler: logging.Handler = (
            logging.StreamHandler(stream) if debug else logging.NullHandler()
        )
        if debug:
            self.handler.setFormatter(logging.Formatter("debug: %(message)s"))
        self.debug = debug
        self.level = self.logger.level

    def __enter__(self) -> None:
        self.logger.addHandler(self.handler)
        if self.debug:
            self.logger.setLevel(logging.DEBUG)

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    out, err = sys.stdout, sys.stderr
    started = _clock()
    parser = build_parser()
    try:
        args = parser.parse_args(glue_dash_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version, usage errors (argparse printed them)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    if args.command == "serve" and any(getattr(args, n, None) for n in _SERVER_DESTS):
        write_line(
            err,
            "error: serve takes no --url, --api-key, --token or --timeout: it is the server "
            "(it prints its URL and API keys)",
        )
        return EXIT_USAGE
    interruption = Interruption()

    def show_warning(message: Any, category: Any, *rest: Any, **kwargs: Any) -> None:
        write_line(err, f"warning: {message}")

    with warnings.catch_warnings(), _Logging(debug, err):
        warnings.showwarning = show_warning
        try:
            if args.command == "serve":
                return _serve(args)
            return asyncio.run(_dispatch(args, out, err, interruption))
        except KeyboardInterrupt:
            write_line(err, interruption.line())
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # stdout closed early (| head): stop quietly
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except CliError as exc:
            if debug:
                traceback.print_exc(file=err)
            write_line(err, error_line(exc))
            return exc.code
        except Exception as exc:
            if debug:
                traceback.print_exc(file=err)
            write_line(err, error_line(exc, elapsed=_clock() - started))
            return EXIT_FAILURE


__all__ = ["EXIT_USAGE", "build_parser", "main"]
