"""``HalDocument``: one HAL document as received, its properties and its links (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._error_base import did_you_mean
from ._links import Link, parse_links
from .errors import ActionUnavailable, ProtocolError

_META = frozenset({"_links", "_embedded", "_type"})


class HalDocument:
    """A HAL document as received: properties, ``_links`` as :class:`Link` objects, ``_embedded``.

    No I/O and no session: :class:`~openproject_async.Resource` adds those.
    """

    __slots__ = ("_data", "_links")

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ProtocolError(f"expected a HAL object, got {type(data).__name__}")
        self._data = data
        self._links: dict[str, Link | list[Link]] | None = None

    # -- the document ------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        """The raw document as received (do not mutate)."""
        return self._data

    @property
    def resource_type(self) -> str | None:
        """The document's ``_type`` (``WorkPackage``, ``Collection``, ...)."""
        t = self._data.get("_type")
        return t if isinstance(t, str) else None

    @property
    def links(self) -> dict[str, Link | list[Link]]:
        """``{rel: Link}`` or ``{rel: [Link, ...]}`` for link arrays."""
        if self._links is None:
            self._links = parse_links(self._data.get("_links"))
        return self._links

    @property
    def embedded(self) -> dict[str, Any]:
        """The raw ``_embedded`` object ({} when absent)."""
        emb = self._data.get("_embedded")
        return emb if isinstance(emb, dict) else {}

    @property
    def href(self) -> str | None:
        """The ``self`` link's href."""
        link = self.links.get("self")
        return link.href if isinstance(link, Link) else None

    @property
    def properties(self) -> dict[str, Any]:
        """The document's own properties (everything but ``_links``/``_embedded``/``_type``)."""
        return {k: v for k, v in self._data.items() if k not in _META}

    def __getitem__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            props = list(self.properties)
            raise KeyError(
                f"{self._label()} has no property {name!r}{did_you_mean(name, props)}; "
                f"properties: {', '.join(props) or 'none'}"
            ) from None

    def get(self, name: str, default: Any = None) -> Any:
        """A property's value, or ``default`` when the document lacks it (like ``dict.get``)."""
        return self._data.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self.properties)

    def __repr__(self) -> str:
        return f"<{self._label()} {self.href or ''}>".replace(" >", ">")

    def _label(self) -> str:
        ident = self._data.get("id")
        kind = self.resource_type or "Resource"
        return f"{kind} #{ident}" if ident is not None else kind

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HalDocument):
            return self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- links -------------------------------------------------------------------------

    def actions(self) -> list[str]:
        """Rels of links with a method (things you can do)."""
        return [r for r, v in self.links.items() if isinstance(v, Link) and v.is_action]

    def relations(self) -> list[str]:
        """Rels of links without a method (things you can go to)."""
        return [r for r, v in self.links.items() if isinstance(v, list) or not v.is_action]

    def can(self, rel: str) -> bool:
        """Is the link there (no request)? For actions: does the server allow it now?"""
        value = self.links.get(rel)
        return value is not None and (isinstance(value, list) or value.href is not None)

    def link(self, rel: str) -> Link | list[Link]:
        """The link (or link array) ``rel``; ActionUnavailable when absent."""
        try:
            return self.links[rel]
        except KeyError:
            raise ActionUnavailable(
                rel, resource=self._label(), actions=self.actions(), relations=self.relations()
            ) from None
