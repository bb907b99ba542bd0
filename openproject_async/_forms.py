"""Forms: every write decided by the server (schemas are in ``_schema``).

The flow of the usage guide: POST the form with your values, read the embedded schema
and ``validationErrors``, commit through the ``commit`` link (present exactly when the
form is valid — the server decides, the client never second-guesses it).

Where each value goes is decided by the schema (``_placement``). Values for link fields may
be a resource, a :class:`Link`, an href, ``None`` (unset) or the *name* of an allowed value
(``type="Task"``, ``assignee="Dana Developer"``). Fields may be named by key
(``customField3``), by the schema's human name (``"Story points"``) or in snake_case
(``start_date``). Custom actions are in ``_custom_actions``.

What a commit sends: the body the form was last validated with (your changes, placed,
plus ``lockVersion`` for updates) — not the whole ``payload``. The server validated exactly
that body, so the commit does exactly what the form promised: a PATCH changes only what
you changed, and a create is not re-validated against values you never sent (required
custom fields are checked only when sent). A form this library did not open (e.g. one
you fetched yourself) commits its ``payload``, as the usage guide describes.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import _body, _sansio
from ._links import Link
from ._placement import merge, names_to_choose, place, references_only, values_of
from ._registry import ActionCall, register_kind, special_link
from ._resource import Resource
from ._retry import FORM_PATH_END
from ._schema import ChoiceMemo, Schema
from ._session import Timeout
from .errors import (
    APIError,
    FormInvalid,
    PropertyFormatError,
    PropertyIsReadOnly,
    ProtocolError,
    ResourceTypeMismatch,
    UnknownField,
    UpdateConflict,
)

if TYPE_CHECKING:
    from ._client import OpenProject

_MAX_ROUNDS = 4

MergeResult = dict[str, Any] | None
MergeCallback = Callable[[Resource, dict[str, Any]], MergeResult | Awaitable[MergeResult]]


class Form(Resource):
    """A ``Form``: ``payload``, ``schema``, ``errors``, ``is_valid``, ``validate``, ``commit``."""

    __slots__ = ("_base", "_sent", "_values")

    def __init__(self, op: OpenProject, data: dict[str, Any]) -> None:
        super().__init__(op, data)
        self._sent: dict[str, Any] | None = None
        self._base: dict[str, Any] = {}
        self._values: dict[str, Any] = {}

    @property
    def payload(self) -> dict[str, Any]:
        """The server's view of the resource with your changes applied (raw document)."""
        value = self.embedded.get("payload")
        return value if isinstance(value, dict) else {}

    @property
    def body(self) -> dict[str, Any]:
        """What :meth:`commit` sends: the body this form was validated with (the payload
        for a form this library did not open)."""
        return dict(self._sent) if self._sent is not None else self.payload

    @property
    def schema(self) -> Schema:
        """The form's embedded schema; the form's payload tells where each value goes.

        Built on each access; ProtocolError when the form embeds no schema.
        """
        raw = self.embedded.get("schema")
        if not isinstance(raw, dict):
            raise ProtocolError("form has no embedded schema")
        payload = self.embedded.get("payload")
        return Schema(self._op, raw, payload if isinstance(payload, dict) else None)

    @property
    def errors(self) -> dict[str, APIError]:
        """``{property: APIError}`` from ``validationErrors``; ``{}`` when valid.

        A property with several problems maps to a MultipleErrors whose ``errors`` lists them.
        """
        return _sansio.validation_errors(self.embedded.get("validationErrors"))

    @property
    def is_valid(self) -> bool:
        """True exactly when the server offers a ``commit`` link."""
        return self.can("commit")

    def __repr__(self) -> str:
        if self.is_valid:
            state = "valid"
        else:
            errors = self.errors
            state = f"invalid: {', '.join(errors)}" if errors else "no commit link"
        href = self.href or ""
        return f"<Form {href} {state}>".replace("  ", " ")

    async def validate(self, *, fields: Mapping[str, Any] | None = None, **changes: Any) -> Form:
        """POST the form again with more changes; returns the new Form (this one is unchanged).

        The new request is this form's values plus ``changes`` (``fields=`` for names that
        are not Python identifiers), placed by the schema.
        """
        link = self.link("validate") if self.can("validate") else self.link("self")
        if isinstance(link, list) or link.href is None:
            raise ProtocolError("form has no validate/self link to post to")
        values = values_of(changes, fields)
        if self._sent is None:
            base, merged = dict(self.payload), values
        else:
            base, merged = dict(self._base), {**self._values, **values}
        return await _negotiate(self._op, link.href, base, merged, self.schema)

    async def commit(
        self, *, notify: bool | None = None, retry: bool | None = None, timeout: Timeout = None
    ) -> Resource:
        """Send :attr:`body` through the ``commit`` link; returns the written resource.

        Without a commit link raise FormInvalid (every property's error, MultipleErrors
        expanded) and send nothing. ``notify=False`` suppresses notifications. A create is
        sent once: it is not retried unless you pass ``retry=True``. ``timeout=`` applies
        to this request.
        """
        if not self.is_valid:
            raise FormInvalid(self.errors, body=self._data)
        written = await self.action(
            "commit", json=self.body, notify=notify, retry=retry, timeout=timeout
        )
        if not isinstance(written, Resource):
            raise ProtocolError("the form's commit answered with no resource")
        return written


register_kind(Form, type_name="Form")


def _as_form(op: OpenProject, doc: Any) -> Form:
    wrapped = op.wrap(doc) if isinstance(doc, dict) else None
    if not isinstance(wrapped, Form):
        kind = doc.get("_type") if isinstance(doc, dict) else type(doc).__name__
        raise ProtocolError(f"expected a Form, got {kind}")
    return wrapped


async def _negotiate(
    op: OpenProject,
    href: str,
    base: dict[str, Any],
    values: dict[str, Any],
    schema: Schema | None,
    timeout: Timeout = None,
    remember: tuple[str, ...] | None = None,
) -> Form:
    """POST the form until the body placed by the schema it answers with is the body sent.

    Usually one round (the schema was known, or every value could be placed without
    it) or two (a create form whose values need the schema: the first answer brings it;
    a project or type change may bring more custom fields). ``remember``: the key under
    which the settled form's schema is kept for the next form of the same kind.
    """
    memo: ChoiceMemo = {}
    pending: dict[str, Any] = {}
    body = merge(base, await _place(schema, values, pending, memo))
    guessed = schema is None
    for _round in range(_MAX_ROUNDS):
        try:
            form = _as_form(op, await op.request("POST", href, json=body, timeout=timeout))
        except (PropertyFormatError, ResourceTypeMismatch, PropertyIsReadOnly):
            if not guessed:
                raise
            # a placement made without a schema was wrong: ask with the certain part only
            guessed = False
            certain = merge(base, references_only(values))
            if certain == body:
                raise  # the certain part was the problem: the server's error stands
            body = certain
            continue
        guessed = False
        form_schema = form.schema
        pending = {}
        wanted = merge(base, await _place(form_schema, values, pending, memo))
        if wanted == body:
            if pending:
                raise UnknownField(next(iter(pending)), form_schema.available())
            form._sent, form._base, form._values = body, base, values
            _remember_schema(op, form)
            if remember is not None:
                raw = form.embedded.get("schema")
                if isinstance(raw, dict):
                    _form_schemas(op)[remember] = raw
            return form
        body = wanted
    raise ProtocolError(
        f"the form at {href} did not settle after {_MAX_ROUNDS} requests "
        "(each answer's schema placed the values differently)"
    )


async def _place(
    schema: Schema | None, values: dict[str, Any], pending: dict[str, Any], memo: ChoiceMemo
) -> dict[str, Any]:
    """Choose the hrefs of values given by name (may fetch allowed values), then place."""
    choices = {
        (f.key, name): await f._choose(name, memo) for f, name in names_to_choose(schema, values)
    }
    return place(schema, values, pending, choices=choices)


def _remember_schema(op: OpenProject, form: Form) -> None:
    """Cache the form's schema under its ``baseSchema`` href (once), so ``field()`` works
    on the written resource without another request."""
    raw = form.embedded.get("schema")
    if not isinstance(raw, dict):
        return
    links = raw.get("_links")
    base = links.get("baseSchema") if isinstance(links, Mapping) else None
    href = base.get("href") if isinstance(base, Mapping) else None
    if isinstance(href, str) and op.cached_schema(href) is None:
        op.remember_schema(href, raw)


#: Per session: (form href, project, type) -> the schema the last such form settled with.
_FORM_SCHEMAS: weakref.WeakKeyDictionary[OpenProject, dict[tuple[str, ...], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _form_schemas(op: OpenProject) -> dict[tuple[str, ...], dict[str, Any]]:
    found = _FORM_SCHEMAS.get(op)
    if found is None:
        found = _FORM_SCHEMAS[op] = {}
    return found


def _kind_key(href: str, values: Mapping[str, Any]) -> tuple[str, ...]:
    """What a create form's schema depends on: the form, the project and the type asked for."""
    key = [href]
    for name in ("project", "type"):
        value = values.get(name)
        ref = _body.href_of(value)
        if ref is None and isinstance(value, Mapping):
            ref = value.get("href")
        key.append(f"{name}={ref if ref is not None else value!r}")
    return tuple(key)


def _form_link(resource: Resource, rel: str) -> Link:
    link = resource.link(rel)
    if isinstance(link, list) or link.href is None:
        raise ProtocolError(f"link {rel!r} is not a single form link")
    return link


def is_form_link(link: Link) -> bool:
    """A POST link to one of OpenProject's form endpoints (path ends in ``/form``)."""
    return link.posts_to(FORM_PATH_END)


@special_link(is_form_link)
async def _open_form_link(resource: Resource, link: Link, call: ActionCall) -> Form:
    """``resource.action(rel, **values)`` on a form link opens the form with the values."""
    if call.args or call.query or call.retry is not None:  # timeout= is fine
        raise TypeError(
            f"{call.rel!r} opens a form: give the values as keyword arguments; notify=, "
            "params= and retry= belong to form.commit() or submit()"
        )
    values = dict(call.kwargs)
    return await open_form(
        resource, call.rel, values, values.pop("fields", None), timeout=call.timeout
    )


def _is_update_of(resource: Resource, link: Link) -> bool:
    """Is the form behind ``link`` the update form of ``resource`` itself?"""
    if link.rel == "update":
        return True
    own = resource.href
    return bool(own and link.href and link.href.rstrip("/") == own.rstrip("/") + "/form")


async def open_form(
    resource: Resource,
    rel: str,
    values: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    *,
    timeout: Timeout = None,
) -> Form:
    """POST the form behind ``rel`` with ``values`` placed by the schema -> Form.

    The update form of a resource gets its ``lockVersion`` (unless given). The resource's
    schema (cached per session) places values from the first request; without one (create
    forms) the first answer's schema does.
    """
    link = _form_link(resource, rel)
    base: dict[str, Any] = {}
    values = values_of(values, fields)
    if _is_update_of(resource, link) and "lockVersion" in resource and "lockVersion" not in values:
        base["lockVersion"] = resource["lockVersion"]
    op = resource.session
    href = link.href or ""
    schema: Schema | None = None
    remember: tuple[str, ...] | None = None
    if _is_update_of(resource, link):
        # only a head start: without it the form's answer brings the schema
        schema_link = resource.links.get("schema")
        if isinstance(schema_link, Link) and schema_link.href:
            cached = op.cached_schema(schema_link.href)
            schema = Schema(op, cached) if cached is not None else None
    else:
        remember = _kind_key(href, values)
        known = _form_schemas(op).get(remember)
        schema = Schema(op, known) if known is not None else None
    return await _negotiate(op, href, base, values, schema, remember=remember, timeout=timeout)


async def submit(
    resource: Resource,
    rel: str,
    values: Mapping[str, Any],
    *,
    fields: Mapping[str, Any] | None = None,
    notify: bool | None = None,
    retry_conflicts: int = 0,
    merge: MergeCallback | None = None,
    timeout: Timeout = None,
    retry: bool | None = None,
) -> Resource:
    """Open the form behind ``rel``, commit it; on 409 re-read and re-apply when asked.

    ``retry_conflicts=N``: after an UpdateConflict (someone else saved in between) read
    the resource again and apply the same values to the fresh copy, up to N times. That
    is safe when the values do not depend on what you read: setting a status, an
    assignee, a subject (if another writer changed the same field, yours wins). It is not
    safe for read-modify-write changes — appending to a description, incrementing a
    number: pass ``merge=`` to recompute the values from the fresh copy
    (``merge(fresh_resource, values) -> values`` or None to give up; may be async).
    Only updates of a resource with a ``lockVersion`` can be retried; a create is never
    sent twice.
    """
    if retry_conflicts < 0:
        raise ValueError("retry_conflicts must be 0 or more")
    all_values = values_of(values, fields)
    if merge is not None and not retry_conflicts:
        raise TypeError("merge= is called after a conflict: give retry_conflicts=N (N >= 1)")
    if retry_conflicts:
        link = _form_link(resource, rel)
        if not (_is_update_of(resource, link) and "lockVersion" in resource):
            raise TypeError(
                f"retry_conflicts/merge re-apply an update of a resource with a lockVersion; "
                f"{rel!r} of {resource!r} is not one (creates are never sent twice)"
            )
    current = resource
    for attempt in range(retry_conflicts + 1):
        try:
            form = await open_form(current, rel, all_values, timeout=timeout)
            return await form.commit(notify=notify, retry=retry, timeout=timeout)
        except UpdateConflict:
            if attempt >= retry_conflicts:
                raise
            current = await current.refresh()
            if merge is not None:
                result = merge(current, dict(all_values))
                if inspect.isawaitable(result):
                    result = await result
                if result is None:
                    raise
                all_values = dict(result)
    raise AssertionError("unreachable")  # pragma: no cover
