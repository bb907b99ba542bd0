"""Forms and schemas: every write decided by the server.

The flow of the usage guide: POST the form with your values, read the embedded schema
and ``validationErrors``, commit through the ``commit`` link (present exactly when the
form is valid). Where a value goes comes from the schema: link-valued fields under
``_links`` as ``{"href": ...}``, scalars at the root, Formattables as ``{"raw": ...}``.
Custom fields can be named by their human name (``"Story points"``), and values of
link fields by the name of an allowed value (``type="Task"``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _body, _sansio
from ._links import Link
from ._resource import Resource
from .errors import APIError, FormInvalid, ProtocolError, UnknownField, UpdateConflict

if TYPE_CHECKING:
    from ._session import OpenProject

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
        "Link",
        "Money",
        "SchemaPropertyVisibility",
    }
)

MergeCallback = Callable[[Resource, dict[str, Any]], Awaitable[dict[str, Any] | None]]


class Field:
    """One property of a schema: ``type``, ``name`` (human), ``required``, ``writable``..."""

    __slots__ = ("key", "raw", "schema")

    def __init__(self, schema: Schema, key: str, raw: dict[str, Any]) -> None:
        self.schema = schema
        self.key = key
        self.raw = raw

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))

    @property
    def name(self) -> str:
        """The human name (what custom fields are known by)."""
        return str(self.raw.get("name", self.key))

    @property
    def required(self) -> bool:
        return bool(self.raw.get("required"))

    @property
    def writable(self) -> bool:
        return bool(self.raw.get("writable", True))

    @property
    def has_default(self) -> bool:
        return bool(self.raw.get("hasDefault"))

    @property
    def location(self) -> str | None:
        value = self.raw.get("location")
        return value if isinstance(value, str) else None

    @property
    def is_link(self) -> bool:
        """Does a value of this field go under ``_links``?"""
        if self.location == "_links":
            return True
        links = self.raw.get("_links")
        if isinstance(links, Mapping) and "allowedValues" in links:
            return True
        base = self.type.removeprefix("[]")
        return bool(base) and base not in SCALAR_TYPES and base[:1].isupper()

    @property
    def is_list(self) -> bool:
        return self.type.startswith("[]")

    def _allowed_links(self) -> list[Link] | str | None:
        links = self.raw.get("_links")
        allowed = links.get("allowedValues") if isinstance(links, Mapping) else None
        if isinstance(allowed, list):
            return [Link("allowedValues", a) for a in allowed if isinstance(a, Mapping)]
        if isinstance(allowed, Mapping) and isinstance(allowed.get("href"), str):
            return str(allowed["href"])
        return None

    async def allowed_values(self) -> list[Any]:
        """The allowed values as resources (embedded, listed as links, or behind a collection).

        Scalar allowed values (plain strings) are returned as they are.
        """
        op = self.schema.session
        embedded = self.raw.get("_embedded")
        emb = embedded.get("allowedValues") if isinstance(embedded, Mapping) else None
        if isinstance(emb, list):
            return [op.wrap(d) if isinstance(d, dict) else d for d in emb]
        plain = self.raw.get("allowedValues")
        if isinstance(plain, list):
            return [op.wrap(d) if isinstance(d, dict) else d for d in plain]
        links = self._allowed_links()
        if isinstance(links, list):
            return await op.get_many([lk.href for lk in links if lk.href])
        if isinstance(links, str):
            collection = await op.get(links, pageSize=-1)
            return await collection.to_list() if hasattr(collection, "to_list") else []
        return []

    async def choose(self, value: str) -> str:
        """The href of the allowed value named ``value`` (name, title or identifier)."""
        wanted = value.casefold()
        links = self._allowed_links()
        if isinstance(links, list):
            for lk in links:
                if lk.title and lk.title.casefold() == wanted:
                    return lk.href or ""
        candidates: list[str] = []
        for item in await self.allowed_values():
            if not isinstance(item, Resource):
                continue
            names = [item.get(k) for k in ("name", "identifier", "value", "login")]
            self_link = item.links.get("self")
            names.append(self_link.title if isinstance(self_link, Link) else None)
            names = [n for n in names if isinstance(n, str)]
            if any(n.casefold() == wanted for n in names):
                return item.href or ""
            candidates.extend(names[:1])
        raise UnknownField(
            f"{value!r} (for {self.name})", candidates or ["(no allowed values listed)"]
        )

    def __repr__(self) -> str:
        where = "_links" if self.is_link else "root"
        return f"<Field {self.key} {self.type} {self.name!r} ({where})>"


class Schema(Resource):
    """A ``Schema``: ``schema["subject"]`` or ``schema["Story points"]`` gives a :class:`Field`."""

    __slots__ = ()

    @property
    def fields(self) -> dict[str, Field]:
        return {
            k: Field(self, k, v)
            for k, v in self._data.items()
            if isinstance(v, dict) and not k.startswith("_") and "type" in v
        }

    def key_for(self, name: str) -> str:
        """The property key for a key or a human name (``"Story points"`` -> ``customField1``)."""
        data = self._data
        if isinstance(data.get(name), dict) and not name.startswith("_"):
            return name
        wanted = name.casefold()
        for key, field in self.fields.items():
            if field.name.casefold() == wanted:
                return key
        raise UnknownField(name, [f"{k} ({f.name})" for k, f in self.fields.items()])

    def __getitem__(self, name: str) -> Field:
        key = self.key_for(name)
        return Field(self, key, self._data[key])

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.key_for(name)
        except UnknownField:
            return False
        return True


class Form(Resource):
    """A ``Form``: ``payload``, ``schema``, ``errors``, ``is_valid``, ``validate``, ``commit``."""

    __slots__ = ()

    @property
    def payload(self) -> dict[str, Any]:
        """The body the server would accept, your changes applied (raw document)."""
        value = self.embedded.get("payload")
        return value if isinstance(value, dict) else {}

    @property
    def schema(self) -> Schema:
        raw = self.embedded.get("schema")
        if not isinstance(raw, dict):
            raise ProtocolError("form has no embedded schema")
        return Schema(self._op, raw)

    @property
    def errors(self) -> dict[str, APIError]:
        """``{property: APIError}`` from ``validationErrors``; ``{}`` when valid."""
        return _sansio.validation_errors(self.embedded.get("validationErrors"))

    @property
    def is_valid(self) -> bool:
        """True exactly when the server offers a ``commit`` link."""
        return self.can("commit")

    async def validate(self, **changes: Any) -> Form:
        """POST the form again: its payload plus ``changes`` (placed by its schema)."""
        body = _merge(self.payload, await place(self.schema, changes))
        rel = "validate" if self.can("validate") else "self"
        link = self.link(rel)
        if isinstance(link, list) or link.href is None:
            raise ProtocolError("form has no validate/self link to post to")
        doc = await self._op.request("POST", link.href, json=body)
        return _as_form(self._op, doc)

    async def commit(self, *, notify: bool | None = None, retry: bool | None = None) -> Any:
        """Send the payload through the ``commit`` link.

        Without a commit link raise FormInvalid (every error, expanded) and send nothing.
        """
        if not self.is_valid:
            raise FormInvalid(self.errors, body=self._data)
        return await self.action("commit", json=self.payload, notify=notify, retry=retry)


def _as_form(op: OpenProject, doc: Any) -> Form:
    wrapped = op.wrap(doc) if isinstance(doc, dict) else None
    if not isinstance(wrapped, Form):
        kind = doc.get("_type") if isinstance(doc, dict) else type(doc).__name__
        raise ProtocolError(f"expected a Form, got {kind}")
    return wrapped


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if key in ("_links", "_meta") and isinstance(value, Mapping):
            merged = dict(out.get(key) or {})
            merged.update(value)
            out[key] = merged
        else:
            out[key] = value
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return f"PT{int(value.total_seconds())}S"
    return value


async def place(
    schema: Schema | None, values: Mapping[str, Any], pending: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A body for ``values`` following ``schema``.

    Names the schema does not know yet go to ``pending`` when given (a project or type
    change may add them), else raise UnknownField listing the schema's fields.
    """
    body: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("_links", "_meta") and isinstance(value, Mapping):
            body = _merge(body, {name: value})
            continue
        field: Field | None = None
        if schema is not None:
            try:
                field = schema[name]
            except UnknownField:
                if pending is None:
                    raise
                pending[name] = value
                continue
        elif pending is not None and not _body.is_reference(value):
            pending[name] = value
            continue
        key = field.key if field else name
        if field is None:
            if _body.is_reference(value):
                body.setdefault("_links", {})[key] = _body.link_value(value)
            else:
                body[key] = _scalar(value)
        elif field.is_link:
            if isinstance(value, str) and not value.startswith(("/", "http", "urn:")):
                value = await field.choose(value)
            body.setdefault("_links", {})[key] = _body.link_value(value)
        elif field.type == "Formattable" and isinstance(value, str):
            body[key] = {"raw": value}
        else:
            body[key] = _scalar(value)
    return body


async def open_form(resource: Resource, rel: str, values: Mapping[str, Any]) -> Form:
    """POST the form behind ``rel`` with ``values`` placed by the schema.

    Update forms get the resource's ``lockVersion``. Without a schema at hand (create
    forms), references are sent first; the schema of that answer places the rest.
    """
    values = dict(values)
    extra = values.pop("fields", None)
    if isinstance(extra, Mapping):
        values.update(extra)
    link = resource.link(rel)
    if isinstance(link, list) or link.href is None:
        raise ProtocolError(f"link {rel!r} is not a single form link")
    op = resource.session
    body: dict[str, Any] = {}
    if "lockVersion" in resource and "lockVersion" not in values:
        body["lockVersion"] = resource["lockVersion"]
    schema = await _known_schema(resource)
    pending: dict[str, Any] = {}
    body = _merge(body, await place(schema, values, pending))
    for _round in range(3):
        doc = await op.request(link.method if link.is_action else "POST", link.href, json=body)
        form = _as_form(op, doc)
        if not pending:
            return form
        todo, pending = pending, {}
        placed = await place(form.schema, todo, pending)
        if not placed:
            break
        body = _merge(body, placed)
    name = next(iter(pending))
    raise UnknownField(name, [f"{k} ({f.name})" for k, f in form.schema.fields.items()])


async def _known_schema(resource: Resource) -> Schema | None:
    """The resource's schema (cached per session) when it links one."""
    link = resource.links.get("schema")
    if not isinstance(link, Link) or not link.href:
        return None
    op = resource.session
    cached = op.cached_schema(link.href)
    if cached is None:
        fetched = await op.get(link.href)
        return fetched if isinstance(fetched, Schema) else None
    return Schema(op, cached)


async def submit(
    resource: Resource,
    rel: str,
    values: Mapping[str, Any],
) -> Any:
    """Open the form behind ``rel``, commit it; retry on conflict when asked.

    ``retry_conflicts=N`` re-reads the resource after a 409 and applies the same
    values again, up to N times (safe when the values do not depend on what you read,
    e.g. setting a status; unsafe for read-modify-write like appending to a
    description — pass ``merge=`` to recompute them from the fresh copy, or return None
    from it to give up). ``notify=False`` suppresses notifications.
    """
    values = dict(values)
    retries = int(values.pop("retry_conflicts", 0) or 0)
    merge: MergeCallback | None = values.pop("merge", None)
    notify: bool | None = values.pop("notify", None)
    current = resource
    for attempt in range(retries + 1):
        try:
            form = await open_form(current, rel, values)
            return await form.commit(notify=notify)
        except UpdateConflict:
            if attempt >= retries:
                raise
            current = await current.refresh()
            if merge is not None:
                merged = await merge(current, dict(values))
                if merged is None:
                    raise
                values = merged
    raise AssertionError("unreachable")  # pragma: no cover
