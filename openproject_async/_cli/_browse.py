"""``get`` and ``follow``: a terminal HAL browser.

A resource prints as its properties, then its links grouped as actions (with their
method) and relations, then its embedded resources. ``follow`` walks GET links only:
it never uses an action link.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from .. import Link, OpenProject, Resource
from ..errors import NotAnAPIResource, NotVisible
from ._common import EXIT_USAGE, CliError, headline, json_text, one_line, write_line

_WIDTH = 100
_MAX_ELEMENTS = 50
_STEP = re.compile(r"^(?P<rel>[^\[\]]+)(?:\[(?P<index>-?\d+)\])?$")


def _value_text(value: Any) -> str:
    if isinstance(value, dict) and "raw" in value and isinstance(value.get("raw"), str | None):
        text = value.get("raw") or ""
    elif isinstance(value, dict | list):
        text = json_text(value).replace("\n", " ")
        text = " ".join(text.split())
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return one_line(text, _WIDTH)


def _link_line(link: Link) -> str:
    if link.href is None:
        return "-"
    parts = [link.href]
    if link.title:
        parts.append(f'"{one_line(link.title, 60)}"')
    if link.templated and link.variables:
        parts.append(f"(templated: {', '.join(link.variables)})")
    if link.type and not link.is_api:
        parts.append(f"[{link.type}]")
    return "  ".join(parts)


def render(resource: Resource, out: TextIO) -> None:
    """Properties, actions, relations and embedded resources, readably."""
    write_line(out, headline(resource) + (f"  {resource.href}" if resource.href else ""))
    props = resource.properties
    if props:
        write_line(out, "properties:")
        width = min(max(len(k) for k in props), 28)
        for key, value in props.items():
            write_line(out, f"  {key:<{width}}  {_value_text(value)}")
    actions = resource.actions()
    if actions:
        write_line(out, "actions:")
        width = min(max(len(r) for r in actions), 28)
        for rel in actions:
            link = resource.links[rel]
            assert isinstance(link, Link)
            write_line(out, f"  {rel:<{width}}  {link.method:<6}  {_link_line(link)}")
    relations = resource.relations()
    if relations:
        write_line(out, "relations:")
        width = min(max(len(r) for r in relations), 28)
        for rel in relations:
            value = resource.links[rel]
            if isinstance(value, list):
                write_line(out, f"  {rel:<{width}}  [{len(value)} links]")
                for i, item in enumerate(value):
                    write_line(out, f"  {'':<{width}}  [{i}] {_link_line(item)}")
            else:
                write_line(out, f"  {rel:<{width}}  {_link_line(value)}")
    _render_embedded(resource, out)


def _render_embedded(resource: Resource, out: TextIO) -> None:
    embedded = resource.embedded
    if not embedded:
        return
    write_line(out, "embedded:")
    op = resource.session
    for name, value in embedded.items():
        if isinstance(value, list):
            shown = value[:_MAX_ELEMENTS]
            extra = f", first {len(shown)} shown" if len(shown) < len(value) else ""
            write_line(out, f"  {name} [{len(value)}{extra}]")
            for i, item in enumerate(shown):
                write_line(out, f"    [{i}] {_embedded_line(op, item)}")
        else:
            write_line(out, f"  {name}  {_embedded_line(op, value)}")


def _embedded_line(op: OpenProject, doc: Any) -> str:
    if not isinstance(doc, dict):
        return _value_text(doc)
    try:
        item = op.wrap(doc)
    except Exception:  # a malformed embedded document: show it raw
        return _value_text(doc)
    if not isinstance(item, Resource) or not (item.resource_type or item.links):
        return _value_text(doc)
    text = headline(item)
    if item.href:
        text += f"  {item.href}"
    return one_line(text, 160)


async def get(op: OpenProject, href: str, params: dict[str, Any]) -> Resource:
    result = await op.get(href, **params)
    if not isinstance(result, Resource):  # pragma: no cover - get always wraps
        raise CliError(f"{href} did not answer a resource")
    return result


def _check(link: Link) -> None:
    if link.undisclosed:
        raise NotVisible(f"link {link.rel!r} points to a resource you may not see")
    if not link.is_api:
        raise NotAnAPIResource(
            f"link {link.rel!r} targets {link.type} ({link.href}), not an API resource"
        )


async def follow(
    op: OpenProject, start: Resource, rels: list[str], params: dict[str, Any], trail: TextIO | None
) -> Resource | list[Link] | None:
    """Walk ``rels`` from ``start`` through GET links (and embedded resources).

    ``rel[i]`` picks one link of a link array (or one embedded element). ``params`` fill
    template variables where a link needs them; the rest go to the last request.
    """
    current: Resource = start
    for n, step in enumerate(rels):
        last = n == len(rels) - 1
        match = _STEP.match(step)
        if not match:
            raise CliError(f"cannot read {step!r}: expected REL or REL[INDEX]", EXIT_USAGE)
        rel, index = match.group("rel"), match.group("index")
        result = await _step(op, current, rel, None if index is None else int(index), params, last)
        if trail is not None:
            where = result.href if isinstance(result, Resource) else None
            write_line(trail, f"-> {step}: {where or ('(no resource)' if result is None else '')}")
        if result is None or isinstance(result, list):
            if not last:
                what = "no resource (href null)" if result is None else "a list of links"
                raise CliError(
                    f"{step!r} leads to {what}; cannot follow {rels[n + 1]!r} from there"
                    + ("; pick one with REL[INDEX]" if isinstance(result, list) else "")
                )
            return result
        current = result
    return current


async def _step(
    op: OpenProject,
    current: Resource,
    rel: str,
    index: int | None,
    params: dict[str, Any],
    last: bool,
) -> Resource | list[Link] | None:
    value = current.links.get(rel)
    if value is None:
        embedded = current.embedded.get(rel)
        if isinstance(embedded, list) and index is not None:
            try:
                doc = embedded[index]
            except IndexError:
                raise CliError(f"{rel}[{index}]: {rel} has {len(embedded)} entries") from None
            wrapped = op.wrap(doc)
            return wrapped if isinstance(wrapped, Resource) else None
        if isinstance(embedded, dict):
            wrapped = op.wrap(embedded)
            return wrapped if isinstance(wrapped, Resource) else None
        current.link(rel)  # raises ActionUnavailable listing what there is
        raise AssertionError("unreachable")  # pragma: no cover
    if isinstance(value, list):
        if index is None:
            return value
        try:
            link = value[index]
        except IndexError:
            raise CliError(f"{rel}[{index}]: {rel} has {len(value)} links") from None
        if link.href is None:
            return None
        _check(link)
        return await get(op, link.href, params if last else {})
    if index is not None:
        raise CliError(f"{rel!r} is a single link, not a list: drop the [{index}]", EXIT_USAGE)
    if value.is_action:
        raise CliError(
            f"{rel!r} is an action ({value.method} {value.href}); follow walks GET links only",
            EXIT_USAGE,
        )
    variables = value.variables
    kwargs = {k: v for k, v in params.items() if last or k in variables}
    missing = [v for v in variables if v not in kwargs]
    if missing:
        raise CliError(
            f"{rel!r} is a templated link ({value.href}); give "
            + ", ".join(f"-p {m}=VALUE" for m in missing),
            EXIT_USAGE,
        )
    result = await current.follow(rel, **kwargs)
    return result if isinstance(result, Resource) else None


def render_links(links: list[Link], out: TextIO) -> None:
    for i, link in enumerate(links):
        write_line(out, f"[{i}] {_link_line(link)}")


def render_json(value: Resource | list[Link] | None, out: TextIO) -> None:
    if isinstance(value, Resource):
        write_line(out, json_text(value.data))
    elif isinstance(value, list):
        write_line(out, json_text([dict(link.raw) for link in value]))
    else:
        write_line(out, "null")
