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
import time
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from ._cli._common import (
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
from ._cli._filters import parse_filters, parse_select, parse_sort, select_names
from ._cli._parser import PROG, build_parser

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it
#: Options whose value may start with "-" (``--sort -updatedAt``): argparse would take such
#: a value for an option, so ``main`` glues it to the option (``--sort=-updatedAt``) first.
DASH_VALUE_OPTIONS = ("--sort",)
_SERVER_DESTS = ("url", "api_key", "token", "timeout")
_clock = time.monotonic  # the tests replace it to get a fixed running time

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


__all__ = ["EXIT_USAGE", "PROG", "build_parser", "main"]
