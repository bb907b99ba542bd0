"""Schemas: what the server says about each property of a resource.

A :class:`Schema` maps property keys to fields (:class:`Field`); a field knows its human name
(custom fields are known by it: ``schema["Story points"]``), whether it is required or
writable, where a value goes in a request body (:attr:`Field.placement`) and which values
are allowed (:meth:`Field.allowed_values`, :meth:`Field.choose` by name). Schemas do not
change while a session runs, so the session caches them per href.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _body
from ._collection import Collection
from ._links import Link
from ._registry import register_kind
from ._resource import Resource
from .errors import ProtocolError, SchemaNotLoaded, UnknownField, UnknownValue

if TYPE_CHECKING:
    from ._client import OpenProject

# Schema types whose values are plain JSON at the root of a body.
SCALAR_TYPES = frozenset(
    {
        "String",
        "Text",
        "Integer",
        "Float",
        "Boolean",
        "Date",
        "DateTime",
        "Duration",
        "Formattable",
        "Password",
        "Color",
        "Link",  # a URL custom field: a string
        "Money",
        "Timestamp",
        "SchemaPropertyVisibility",
    }
)

# Schema types that are objects embedded at the root (not references).
EMBEDDED_TYPES = frozenset(
    {"GridWidget", "QueryTimelineLabels", "QueryFilterInstance", "WorkPackageFormAttributeGroup"}
)


#: Cache of name -> href choices made while one form is negotiated.
ChoiceMemo = dict[tuple[str, str], str]


class Field:
    """One property of a schema: ``key``, ``type``, ``name`` (human), ``required``, ...

    ``placement`` says where a value goes in a request body.
    """

    __slots__ = ("_placement", "key", "raw", "schema")

    def __init__(self, schema: Schema, key: str, raw: dict[str, Any]) -> None:
        self.schema = schema
        self.key = key
        self.raw = raw
        self._placement: str | None = None

    @property
    def type(self) -> str:
        """The schema type (``String``, ``User``, ``[]CustomOption``...)."""
        return str(self.raw.get("type", ""))

    @property
    def base_type(self) -> str:
        """The type without the ``[]`` of multi-value fields."""
        return self.type.removeprefix("[]")

    @property
    def name(self) -> str:
        """The human name (what custom fields are known by)."""
        value = self.raw.get("name")
        return value if isinstance(value, str) else self.key

    @property
    def required(self) -> bool:
        """True when the server needs a value (schema ``required``)."""
        return bool(self.raw.get("required"))

    @property
    def writable(self) -> bool:
        """False when the schema says ``writable: false`` (absent counts as writable)."""
        return bool(self.raw.get("writable", True))

    @property
    def has_default(self) -> bool:
        """True when the server fills in a default if no value is sent (``hasDefault``)."""
        return bool(self.raw.get("hasDefault"))

    @property
    def location(self) -> str | None:
        """The schema's ``location`` (``_links``, ``_meta``...), if any; see :attr:`placement`."""
        value = self.raw.get("location")
        return value if isinstance(value, str) else None

    @property
    def is_list(self) -> bool:
        """True for multi-value fields (type ``[]...``)."""
        return self.type.startswith("[]")

    @property
    def is_formattable(self) -> bool:
        """True for Formattable text, sent as ``{"raw": ...}`` (e.g. ``description``)."""
        return self.base_type == "Formattable"

    @property
    def has_allowed_values(self) -> bool:
        """True when the schema offers ``allowedValues`` as links or embedded resources.

        A value of such a field goes under ``_links``; plain scalar lists do not count.
        """
        links = self.raw.get("_links")
        embedded = self.raw.get("_embedded")
        return (isinstance(links, Mapping) and "allowedValues" in links) or (
            isinstance(embedded, Mapping) and "allowedValues" in embedded
        )

    @property
    def placement(self) -> str:
        """``"_links"``, ``"_meta"`` or ``"root"``: where a value of this field goes.

        In order: the schema's ``location``; where the form's payload has the key; allowed
        values (links); a resource type (anything but scalar and embedded-object types).
        """
        where = self._placement
        if where is None:
            where = self._placement = self._place()
        return where

    def _place(self) -> str:
        location = self.location
        if location in ("_links", "_meta"):
            return location
        hint = self.schema.payload_hint(self.key)
        if hint is not None:
            return hint
        if self.has_allowed_values:
            return "_links"
        base = self.base_type
        if not base or base in SCALAR_TYPES or base in EMBEDDED_TYPES or not base[:1].isupper():
            return "root"
        return "_links"

    @property
    def is_link(self) -> bool:
        """Does a value of this field go under ``_links``?"""
        return self.placement == "_links"

    def _allowed_source(self) -> tuple[str, list[Link] | str | list[Any] | None]:
        """Where the allowed values are: ("links", [Link]), ("href", collection href),
        ("embedded", [doc]), ("plain", [value]) or ("none", None)."""
        links = self.raw.get("_links")
        allowed = links.get("allowedValues") if isinstance(links, Mapping) else None
        embedded = self.raw.get("_embedded")
        emb = embedded.get("allowedValues") if isinstance(embedded, Mapping) else None
        if isinstance(emb, list) and (emb or not isinstance(allowed, list)):
            return "embedded", emb
        if isinstance(allowed, list):
            return "links", [Link("allowedValues", a) for a in allowed if isinstance(a, Mapping)]
        if isinstance(allowed, Mapping) and isinstance(allowed.get("href"), str):
            return "href", str(allowed["href"])
        plain = self.raw.get("allowedValues")
        if isinstance(plain, list):
            return "plain", plain
        return "none", None

    async def allowed_values(self) -> list[Any]:
        """The allowed values: resources (embedded, listed as links, or behind a collection
        href — fetched with the largest page size, further pages concurrently), or the
        plain values of a scalar field. ``[]`` when the schema lists none."""
        op = self.schema.session
        kind, source = self._allowed_source()
        if kind == "embedded" and isinstance(source, list):
            return [op.wrap(d) if isinstance(d, dict) else d for d in source]
        if kind == "plain" and isinstance(source, list):
            return list(source)
        if kind == "links" and isinstance(source, list):
            return await op.get_many([lk.href for lk in source if isinstance(lk, Link) and lk.href])
        if kind == "href" and isinstance(source, str):
            return await _fetch_all(op, source)
        return []

    async def choose(self, value: str) -> str:
        """The href of the allowed value named ``value``.

        Matches, ignoring case, a link's title or a resource's ``name``, ``value`` (custom
        options), ``identifier``, ``login`` or self-link title. Listed links are matched
        by title and embedded values by their properties, without a request; values behind
        a collection href are fetched with the largest page size (``pageSize=-1``, further
        pages concurrently). Raises UnknownField listing the names on offer, ValueError
        when several values carry the name.
        """
        return await self._choose(value, None)

    async def _choose(self, value: str, memo: ChoiceMemo | None) -> str:
        kind, source = self._allowed_source()
        key = (f"{self.key}:{kind}:{_source_key(source)}", value)
        if memo is not None and key in memo:
            return memo[key]
        wanted = value.casefold()
        found: dict[str, str] = {}  # href -> name
        offered: list[str] = []
        if kind == "links" and isinstance(source, list):
            for lk in source:
                if isinstance(lk, Link) and lk.title is not None and lk.href:
                    offered.append(lk.title)
                    if lk.title.casefold() == wanted:
                        found[lk.href] = lk.title
        titled = kind == "links" and all(isinstance(lk, Link) and lk.title for lk in source or [])
        if not found and not titled and kind in ("links", "embedded", "href"):
            for item in await self.allowed_values():
                if not isinstance(item, Resource) or not item.href:
                    continue
                names = _names_of(item)
                offered.extend(names[:1])
                if any(n.casefold() == wanted for n in names):
                    found[item.href] = names[0]
        if not found:
            raise UnknownValue(value, field=self.name, allowed=list(dict.fromkeys(offered)))
        if len(found) > 1:
            raise ValueError(
                f"{value!r} matches several allowed values of {self.name}: "
                + ", ".join(f"{h} ({n})" for h, n in found.items())
                + "; pass the resource or its href instead"
            )
        href = next(iter(found))
        if memo is not None:
            memo[key] = href
        return href

    def __repr__(self) -> str:
        return f"<Field {self.key} {self.type} {self.name!r} ({self.placement})>"


def _names_of(item: Resource) -> list[str]:
    names = [item.get(k) for k in ("name", "value", "identifier", "login")]
    self_link = item.links.get("self")
    names.append(self_link.title if isinstance(self_link, Link) else None)
    return [n for n in names if isinstance(n, str) and n]


def _source_key(source: Any) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return ",".join(
            (s.href or "")
            if isinstance(s, Link)
            else str(_body.href_of(s) or (s.get("_links", {}).get("self", {}).get("href")))
            if isinstance(s, Mapping)
            else str(s)
            for s in source
        )
    return ""


async def _fetch_all(op: OpenProject, href: str) -> list[Any]:
    """Every element of a collection: the largest page first (``pageSize=-1`` overrides e.g.
    ``pageSize=0``, which would return a count only), then the rest concurrently."""

    first = await op.get(href, pageSize=-1)
    if not isinstance(first, Collection):
        raise ProtocolError(f"allowed values at {href} are not a collection")
    return list(await first.to_list(concurrency=4))


class Schema(Resource):
    """A ``Schema``: ``schema["subject"]`` or ``schema["Story points"]`` gives a :class:`Field`."""

    __slots__ = ("_found", "_hint")

    def __init__(
        self, op: OpenProject, data: dict[str, Any], payload: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(op, data)
        self._hint = payload
        self._found: dict[str, Field | None] = {}  # find() by name: the same Field each time

    def payload_hint(self, key: str) -> str | None:
        """Where the form's payload (when this schema came with one) keeps ``key``."""
        payload = self._hint
        if payload is None:
            return None
        links = payload.get("_links")
        if isinstance(links, Mapping) and key in links:
            return "_links"
        meta = payload.get("_meta")
        if isinstance(meta, Mapping) and key in meta:
            return "_meta"
        if key in payload:
            return "root"
        return None

    @property
    def fields(self) -> dict[str, Field]:
        """``{key: Field}`` for every property the schema describes."""
        return {
            k: Field(self, k, v)
            for k, v in self._data.items()
            if isinstance(v, dict) and not k.startswith("_") and "type" in v
        }

    def find(self, name: str) -> Field | None:
        """The field for a key, a human name or a snake_case key; None when there is none.

        Order: exact key, exact human name, key or human name ignoring case, camelCase of a
        snake_case name. A human name shared by several fields raises ValueError.
        Answers are remembered: the second lookup of a name costs a dict lookup.
        """
        try:
            return self._found[name]
        except KeyError:
            pass
        found = self._found[name] = self._find(name)
        return found

    def _find(self, name: str) -> Field | None:
        data = self._data
        raw = data.get(name)
        if isinstance(raw, dict) and not name.startswith("_") and "type" in raw:
            return Field(self, name, raw)
        fields = list(self.fields.values())
        folded = name.casefold()
        exact = [f for f in fields if f.name == name]
        loose = [f for f in fields if folded in (f.name.casefold(), f.key.casefold())]
        for matches in (exact, loose):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ValueError(
                    f"field name {name!r} is ambiguous: "
                    + ", ".join(f"{f.key} ({f.name})" for f in matches)
                    + "; use the key"
                )
        camel = _body.camel(name)
        if camel != name:
            return self.find(camel)
        return None

    def key_for(self, name: str) -> str:
        """The property key for a key or a human name (``"Story points"`` -> ``customField1``)."""
        return self[name].key

    def available(self) -> list[str]:
        """``key (human name)`` for every field — what error messages list."""
        return [f"{k} ({f.name})" if f.name != k else k for k, f in self.fields.items()]

    def __getitem__(self, name: str) -> Field:
        field = self.find(name)
        if field is None:
            raise UnknownField(name, self.available())
        return field

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return self.find(name) is not None
        except ValueError:
            return True


register_kind(Schema, type_name="Schema")


async def load_schema(resource: Resource) -> Schema | None:
    """The resource's schema (``schema`` link; GET once per session, then cached)."""
    link = resource.links.get("schema")
    if not isinstance(link, Link) or not link.href:
        return None
    op = resource.session
    cached = op.cached_schema(link.href)
    if cached is not None:
        op.stats["cached"] += 1
        return Schema(op, cached)
    fetched = await op.get(link.href)
    if not isinstance(fetched, Schema):
        raise ProtocolError(f"the schema link of {resource!r} did not lead to a Schema")
    return fetched


def _cached_schema(resource: Resource, href: str) -> Schema:
    """The Schema over the session's cached document for ``href``, one per session and
    href: its names are looked up once (``field()`` then costs a few dict lookups)."""
    op = resource.session
    known: dict[str, Schema] = op._schema_objects
    schema = known.get(href)
    if schema is None:
        cached = op.cached_schema(href)
        if cached is None:
            raise SchemaNotLoaded(
                f"the schema of {resource!r} is not loaded yet: `await resource.load_schema()` "
                f"first (fetched once per session from {href})"
            )
        schema = known[href] = Schema(op, cached)
    return schema


def field_value(resource: Resource, name: str) -> Any:
    """The value of field ``name`` (key or human name) read with the cached schema.

    Link-valued fields give their :class:`Link` (``.href``, ``.title``), a list of Links
    for multi-value fields, None when unset; other fields the value as the document has
    it (Formattables as their ``{format, raw, html}`` object).
    """
    links = resource.links
    link = links.get("schema")
    href = link.href if isinstance(link, Link) else None
    if not href:
        raise SchemaNotLoaded(f"{resource!r} has no schema link; read properties with r[key]")
    schema = _cached_schema(resource, href)
    field = schema._found.get(name) or schema[name]
    if field.placement == "_links" or field.key in links:
        value = links.get(field.key)
        if isinstance(value, Link) and value.href is None:
            return None
        return value
    return resource.data.get(field.key)
