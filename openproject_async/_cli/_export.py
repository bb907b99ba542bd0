"""``export``: every element of a collection to JSON Lines or CSV, written as it arrives.

Each line (JSONL) or row (CSV) is written whole and flushed, so an interrupted export
leaves a valid file of the elements exported so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import quote

import orjson

from .. import Collection, Link, OpenProject, Resource, Schema
from ..errors import APIError
from ._common import EXIT_USAGE, CliError, Interruption, link_text, text_of, write_line
from ._filters import Filter
from ._progress import ProgressDisplay

DEFAULT_WP_COLUMNS = (
    "id",
    "subject",
    "type",
    "status",
    "priority",
    "assignee",
    "responsible",
    "project",
    "version",
    "startDate",
    "dueDate",
    "percentageDone",
    "createdAt",
    "updatedAt",
)
_CUSTOM_KEY = re.compile(r"^customField\d+$")


@dataclass
class ExportOptions:
    href: str | None = None
    project: str | None = None
    filters: list[Filter] | None = None
    sort: list[list[str]] | None = None
    select: str | None = None
    select_names: list[str] | None = None  # --select id,subject: the default CSV columns
    format: str | None = None
    columns: list[str] | None = None
    output: str | None = None
    concurrency: int = 4
    page_size: int | None = 1000
    progress: bool | None = None


def collection_href(options: ExportOptions) -> str:
    if options.project and options.href:
        raise CliError("give either a collection HREF or --project, not both", EXIT_USAGE)
    if options.project:
        return f"/api/v3/projects/{quote(options.project, safe='')}/work_packages"
    return options.href or "/api/v3/work_packages"


def is_work_package_href(href: str) -> bool:
    path = href.split("?", 1)[0].rstrip("/")
    return path.endswith("/work_packages")


def query_params(href: str, options: ExportOptions) -> dict[str, Any]:
    """Query parameters for the first page. Work packages get ``filters=[]`` unless the user
    gave filters (or the href has them): without it the server hides closed ones."""
    params: dict[str, Any] = {}
    query = href.split("?", 1)[1] if "?" in href else ""
    if options.filters is not None:
        params["filters"] = options.filters
    elif is_work_package_href(href) and not re.search(r"(^|&)filters=", query):
        params["filters"] = []
    if options.sort is not None:
        params["sortBy"] = options.sort
    if options.select is not None:
        params["select"] = options.select
    if options.page_size is not None:
        if options.page_size < 1:
            raise CliError(
                f"--page-size must be at least 1, got {options.page_size} "
                "(pageSize=0 asks the server for a count only: no elements to export)",
                EXIT_USAGE,
            )
        params["pageSize"] = options.page_size
    return params


def output_format(options: ExportOptions) -> str:
    if options.format:
        return options.format
    if options.columns or (options.output and options.output.lower().endswith(".csv")):
        return "csv"
    return "jsonl"


class Columns:
    """CSV columns by name: a property, a link (its title) or a field of the element's schema
    by key or human name (custom fields: ``"Story points"``). Schemas are fetched once each:
    the first page's ``schemas`` link, then the schema of any element not yet known."""

    def __init__(self, op: OpenProject, names: list[str]) -> None:
        self.op = op
        self.names = names
        self._schemas: dict[str, Schema] = {}
        self._keys: dict[tuple[str, str], str | None] = {}

    async def prepare(self, first: Collection) -> list[str]:
        """Load the first page's schemas; the names no schema or element knows (warnings)."""
        link = first.links.get("schemas")
        if isinstance(link, Link) and link.href and self._needs_schema(first):
            try:
                listed = await self.op.get(link.href)
            except APIError:
                listed = None  # the elements' own schema links still work
            if isinstance(listed, Collection):
                for schema in listed.elements:
                    if isinstance(schema, Schema) and schema.href:
                        self._schemas[schema.href] = schema
                        self.op.remember_schema(schema.href, schema.data)
        unknown: list[str] = []
        elements = first.elements
        for name in self.names:
            if not elements or _CUSTOM_KEY.match(name):
                continue
            direct = any(_has(e, name) for e in elements)
            if direct:
                continue
            for element in elements:
                await self._schema_of(element)
            if not any(self._key(href, name) for href in self._schemas):
                unknown.append(name)
        return unknown

    def _needs_schema(self, page: Collection) -> bool:
        elements = page.elements
        return any(not any(_has(e, n) for e in elements) for n in self.names)

    async def _schema_of(self, element: Resource) -> str | None:
        link = element.links.get("schema")
        if not isinstance(link, Link) or not link.href:
            return None
        href = link.href
        if href not in self._schemas:
            schema = await self.op.get(href)
            if not isinstance(schema, Schema):
                return None
            self._schemas[href] = schema
        return href

    def _key(self, schema_href: str, name: str) -> str | None:
        cache_key = (schema_href, name)
        if cache_key not in self._keys:
            try:
                field = self._schemas[schema_href].find(name)
            except ValueError:  # ambiguous human name: the user must give the key
                field = None
            self._keys[cache_key] = field.key if field is not None else None
        return self._keys[cache_key]

    async def row(self, element: Resource) -> list[str]:
        cells: list[str] = []
        for name in self.names:
            if _has(element, name):
                cells.append(_cell(element, name))
                continue
            href = await self._schema_of(element)
            key = self._key(href, name) if href else None
            cells.append(_cell(element, key) if key else "")
        return cells


def _has(element: Resource, name: str) -> bool:
    return (name in element.data and not name.startswith("_")) or name in element.links


def _cell(element: Resource, key: str) -> str:
    data = element.data
    if key in data and not key.startswith("_"):
        return text_of(data[key])
    return link_text(element.links.get(key))


def default_columns(first: Collection) -> list[str]:
    elements = first.elements
    if first.resource_type == "WorkPackageCollection" or (
        elements and elements[0].resource_type == "WorkPackage"
    ):
        return list(DEFAULT_WP_COLUMNS)
    if not elements:
        return ["id"]
    props = elements[0].properties
    return [k for k, v in props.items() if not isinstance(v, list) and _flat(v)]


def _flat(value: Any) -> bool:
    return not isinstance(value, dict) or "raw" in value


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    with handle:
        yield handle


#: Young-generation threshold while an export reads: a bulk reader makes many objects that
#: live as long as a page, and Python's default (700) collects every few elements
#: (benchmarks/gc_effect.py: about a third less client CPU per element).
BULK_GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def bulk_gc() -> Iterator[None]:
    """Raise the garbage collector's thresholds for a bulk read; restore them after."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def run_export(
    op: OpenProject,
    options: ExportOptions,
    stderr: TextIO,
    interruption: Interruption | None = None,
) -> int:
    """Export; returns the number of elements written. Raises CliError for bad options.

    When cancelled it says how many records it wrote: in ``interruption`` (the caller
    prints it), or on ``stderr`` without one.
    """
    if options.concurrency < 1:
        raise CliError("--concurrency must be at least 1", EXIT_USAGE)
    fmt = output_format(options)
    if fmt not in ("jsonl", "csv"):
        raise CliError(f"--format must be jsonl or csv, not {fmt!r}", EXIT_USAGE)
    if options.columns and fmt != "csv":
        raise CliError("--columns is for CSV output (--format csv or -o FILE.csv)", EXIT_USAGE)
    href = collection_href(options)
    first = await op.get(href, **query_params(href, options))
    if not isinstance(first, Collection):
        raise CliError(f"{href} is not a collection (it is a {first.resource_type or 'resource'})")
    columns: Columns | None = None
    if fmt == "csv":
        names = options.columns or options.select_names or default_columns(first)
        columns = Columns(op, names)
        for name in await columns.prepare(first):
            write_line(
                stderr,
                f"warning: column {name!r} is not a property, link or schema field of the "
                "first page's elements; it stays empty where no element has it",
            )
    written = 0
    progress = ProgressDisplay(stderr, enabled=options.progress, unit="elements")
    with _open_output(options.output) as out, bulk_gc():
        try:
            if columns is not None:
                out.write(_csv_line(columns.names))
                out.flush()
            async for element in first.iterate(concurrency=options.concurrency, progress=progress):
                if columns is not None:
                    line = _csv_line(await columns.row(element))
                else:
                    line = orjson.dumps(element.data).decode() + "\n"
                out.write(line)
                out.flush()
                written += 1
        except asyncio.CancelledError:
            progress.close()
            where = options.output if options.output not in (None, "-") else "stdout"
            note = Interruption(f"{written} complete records written to {where}")
            if interruption is None:
                write_line(stderr, note.line())
            else:
                interruption.detail = note.detail
            raise
        finally:
            progress.close()
    return written
