"""Extension points of :class:`~openproject_async.Resource`, filled by the modules above it.

* :func:`register_kind`: which class wraps a document, by ``_type`` (``Form``, ``Schema``)
  or by shape (anything with ``_embedded.elements`` is a ``Collection``).
* :func:`special_link`: links whose action is handled by their own code instead of a plain
  request (form links open a ``Form``, ``addAttachment`` uploads a file, ``previewMarkup``
  sends text). Adding one never touches ``_resource``.

The modules register on import; ``openproject_async/__init__`` imports them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._links import Link
from .errors import UnexpectedResource

if TYPE_CHECKING:
    from ._resource import Resource

R = TypeVar("R", bound="Resource")


@dataclass(frozen=True, slots=True)
class ActionCall:
    """The arguments of an :meth:`Resource.action` call, for a special link's handler."""

    rel: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    query: dict[str, Any]
    retry: bool | None
    timeout: Any = None


SpecialHandler = Callable[["Resource", Link, ActionCall], Awaitable[Any]]
SPECIAL_LINKS: list[tuple[Callable[[Link], bool], SpecialHandler]] = []
_BY_TYPE: dict[str, type[Resource]] = {}
_BY_SHAPE: list[tuple[Callable[[Mapping[str, Any]], bool], type[Resource]]] = []


def special_link(matches: Callable[[Link], bool]) -> Callable[[SpecialHandler], SpecialHandler]:
    """Register a handler for the links ``matches`` accepts (used instead of a plain action
    when no ``json=`` body is given). The first registered match wins."""

    def register(handler: SpecialHandler) -> SpecialHandler:
        SPECIAL_LINKS.append((matches, handler))
        return handler

    return register


def register_kind(
    cls: type[Resource],
    *,
    type_name: str | None = None,
    shape: Callable[[Mapping[str, Any]], bool] | None = None,
) -> None:
    """Wrap documents of ``_type`` ``type_name`` (or, failing that, of ``shape``) in ``cls``."""
    if type_name is not None:
        _BY_TYPE[type_name] = cls
    if shape is not None:
        _BY_SHAPE.append((shape, cls))


def kind_for(doc: Mapping[str, Any]) -> type[Resource] | None:
    """The class registered for a document (by ``_type``, then by shape), or None."""
    kind = doc.get("_type")
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None:
        for shape, c in _BY_SHAPE:  # (a loop, not a generator: this runs per element)
            if shape(doc):
                return c
    return cls


def expect_kind(value: Any, expect: type[R], what: str) -> R:
    """``value`` if it is an ``expect``; else UnexpectedResource naming what came."""
    if isinstance(value, expect):
        return value
    got = (
        f"a link array of {len(value)}"
        if isinstance(value, list)
        else "nothing (href null / empty answer)"
        if value is None
        else f"a {type(value).__name__} ({getattr(value, 'resource_type', None) or 'no _type'})"
    )
    raise UnexpectedResource(f"{what}: expected a {expect.__name__}, got {got}")
