"""``Resource``: one HAL document whose links are awaitable actions.

Nothing here knows what a work package is. Properties are the document's own keys,
relations and actions are its ``_links``: a link without a method is followed with GET,
a link with a method is an action. A missing link means "not allowed now".

Two small registries (``_registry``) let the modules above extend resources without this
module knowing them: which class wraps a document (``Form``, ``Schema``, ``Collection``)
and which links are handled by their own code (forms, attachment uploads, markdown
previews). Writes through forms, schemas and custom actions
are reached through the session (``_client.OpenProject``), which composes those modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from . import _body
from ._document import _META, HalDocument
from ._links import Link
from ._registry import SPECIAL_LINKS, ActionCall, R, expect_kind, kind_for
from ._session import Timeout
from ._tasks import gather_ordered
from .errors import ActionUnavailable, LinkError, NotAnAPIResource, NotVisible, ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject
    from ._forms import Form, MergeCallback
    from ._schema import Schema

_SLOTS = frozenset({"_data", "_links", "_op"})


def wrap(op: OpenProject, doc: Any) -> Resource:
    """The registered class for the document (by ``_type``, then by shape), else Resource.

    (Error documents never get here: decoding raised them already.)
    """
    if not isinstance(doc, dict):
        raise ProtocolError(f"expected a HAL object, got {type(doc).__name__}")
    cls = kind_for(doc) or Resource
    return cls(op, doc)


class Resource(HalDocument):
    """A HAL resource: ``r["subject"]``, ``r.subject``, ``r.links``, ``await r.follow(rel)``."""

    __slots__ = ("_op",)

    def __init__(self, op: OpenProject, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._op = op

    @property
    def session(self) -> OpenProject:
        """The :class:`OpenProject` session this resource came from (its links use it)."""
        return self._op

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _SLOTS:
            raise AttributeError(name)
        data = self._data
        if name in data and name not in _META:
            return data[name]
        link = self.links.get(name)
        if isinstance(link, Link) and link.is_action:

            async def bound(*args: Any, **kwargs: Any) -> Any:
                return await self.action(name, *args, **kwargs)

            bound.__name__ = name
            bound.__doc__ = f"{link.method} {link.href} (link {name!r})"
            return bound
        raise ActionUnavailable(
            name,
            resource=self._label(),
            actions=self.actions(),
            relations=self.relations(),
            # a relation is a link too (follow it); only a name that is neither is a typo
            properties=None if name in self.links else [k for k in data if k not in _META],
        )

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        names.update(k for k in self._data if k not in _META and k.isidentifier())
        names.update(self.actions())
        return sorted(names)

    @overload
    async def follow(
        self,
        rel: str,
        *,
        expect: type[R],
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **kwargs: Any,
    ) -> R: ...

    @overload
    async def follow(
        self,
        rel: str,
        *,
        expect: None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **kwargs: Any,
    ) -> Resource | list[Resource | None] | None: ...

    async def follow(
        self,
        rel: str,
        *,
        expect: type[Resource] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **kwargs: Any,
    ) -> Resource | list[Resource | None] | None:
        """GET the target of ``rel``: a Resource, a list for link arrays, None for ``href: null``.

        An embedded copy is used without a request. Keyword arguments fill template
        variables; the others become query parameters (``filters``/``sortBy`` lists are
        JSON-encoded; ``params=`` takes query parameters as a mapping). ``timeout=`` and
        ``retry=`` apply to this call's requests. For a link array each target is fetched,
        concurrently, and the list lines up with ``links[rel]``: ``None`` where a member has
        ``href: null`` or is one you may not see (the undisclosed URN, never requested;
        ``links[rel][i].undisclosed`` tells which), so ``ancestors`` gives the visible ones
        in place.

        ``expect=Collection`` (or any Resource class) says what you expect: the result is
        typed as that, and anything else (a list, None, another kind) raises
        :class:`~openproject_async.errors.UnexpectedResource`.
        """
        call = _Get(dict(params or {}), timeout, retry)
        result = await self._follow_rel(rel, kwargs, call)
        if expect is None:
            return result
        return expect_kind(result, expect, f"{self._label()} link {rel!r}")

    async def _follow_rel(
        self, rel: str, kwargs: dict[str, Any], call: _Get
    ) -> Resource | list[Resource | None] | None:
        target = self.link(rel)
        if isinstance(target, list):
            return await self._follow_array(rel, target, kwargs, call)
        if target.href is None:
            return None
        _check_followable(target)
        embedded = self.embedded.get(rel)
        if (
            not kwargs
            and not call.params
            and isinstance(embedded, dict)
            and _same_resource(embedded, target)
        ):
            return self._op.wrap(embedded)
        values = _body.fill_template_vars(target.variables, kwargs)
        href = target.expand(**values) if target.templated else target.href
        if target.method != "GET":
            answer = await self.action(
                rel, **values, **kwargs, params=call.params, timeout=call.timeout, retry=call.retry
            )
            if isinstance(answer, str):
                raise LinkError(f"{rel!r} answers with text, not a resource: use action()")
            return answer
        return await call.get(self._op, href, kwargs)

    async def _follow_array(
        self, rel: str, links: list[Link], query: Mapping[str, Any], call: _Get
    ) -> list[Resource | None]:
        embedded = self.embedded.get(rel)
        if (
            not query
            and not call.params
            and isinstance(embedded, list)
            and len(embedded) == len(links)
            and all(isinstance(d, dict) for d in embedded)
        ):
            return [self._op.wrap(d) for d in embedded]
        visible = [lk.href is not None and not lk.undisclosed for lk in links]
        wanted = [lk for lk, shown in zip(links, visible, strict=True) if shown]
        for lk in wanted:
            _check_followable(lk)
        got = iter(
            await gather_ordered([call.get(self._op, lk.href or "", query) for lk in wanted])
        )
        return [next(got) if shown else None for shown in visible]

    async def action(
        self,
        rel: str,
        *args: Any,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        notify: bool | None = None,
        retry: bool | None = None,
        timeout: Timeout = None,
        **kwargs: Any,
    ) -> Resource | str | None:
        """Use the link ``rel`` with its method; returns the wrapped answer (None for 204).

        Template variables are filled from the keyword arguments; the other keyword
        arguments make the HAL body (scalars at the root, resources/Links under
        ``_links``), merged into the link's ``payload`` when it has one. ``json=`` sends a
        body as is. ``notify=False`` adds ``?notify=false``. ``retry=`` (True: may be sent
        again; False: exactly once) and ``timeout=`` apply to this call.

        A form link (POST to ``.../form``) opens the form with the keyword arguments as
        values and returns a :class:`Form`; ``addAttachment`` uploads a file
        (``addAttachment(path_or_bytes, file_name=, content_type=, description=)``);
        ``previewMarkup`` (a POST to ``.../render/markdown``) sends the one text argument
        as ``text/plain`` and returns the server's HTML as a ``str``.
        """
        link = self._action_link(rel)
        query = dict(params or {})
        if notify is not None:
            query["notify"] = notify
        if json is None:
            for matches, handler in SPECIAL_LINKS:
                if matches(link):
                    special: Resource | str | None = await handler(
                        self, link, ActionCall(rel, args, kwargs, query, retry, timeout)
                    )
                    return special
        if args:
            raise TypeError(f"{rel!r} takes keyword arguments only")
        kwargs = dict(kwargs)
        refs: dict[str, Any] = {}
        values = _body.fill_template_vars(link.variables, kwargs, refs)
        href = link.expand(**values) if link.templated else link.href
        method = link.method
        if method in ("GET", "HEAD"):
            query.update(kwargs)
            body = None
        elif json is not None:
            if kwargs:
                raise TypeError("give either json= or keyword values for the body, not both")
            body = json
        else:
            body = _body.action_body(self, rel, link, kwargs, values, refs)
        doc = await self._op.request(
            method, href or "", json=body, params=query or None, retry=retry, timeout=timeout
        )
        return None if doc is None else self._op.wrap(doc)

    def _action_link(self, rel: str) -> Link:
        """The single, usable link ``rel`` (LinkError for an array, ActionUnavailable for
        ``href: null``)."""
        link = self.link(rel)
        if isinstance(link, list):
            raise LinkError(
                f"{rel!r} is a link array of {len(link)}, not one action; "
                "use one of its links (resource.links[rel][i])"
            )
        if link.href is None:
            raise ActionUnavailable(
                rel, resource=self._label(), actions=self.actions(), relations=self.relations()
            )
        _check_followable(link)
        return link

    async def refresh(self) -> Resource:
        """GET this resource again (a new object; this one is unchanged)."""
        if not self.href:
            raise ActionUnavailable("self", resource=self._label(), relations=self.relations())
        return await self._op.get(self.href)

    # -- writes (the form machinery lives in _forms) -------------------------------------

    async def delete(self, **kwargs: Any) -> None:
        """Use the ``delete`` link (DELETE; 204 -> None)."""
        await self.action("delete", **kwargs)

    async def update(
        self, *, fields: Mapping[str, Any] | None = None, timeout: Timeout = None, **changes: Any
    ) -> Form:
        """POST the ``update`` form with ``changes`` (``lockVersion`` added) -> Form.

        ``fields=`` takes names that are not Python identifiers (``{"Story points": 5}``).
        """
        return await self._op._open_form(self, "update", changes, fields, timeout=timeout)

    async def submit(
        self,
        rel: str,
        *,
        fields: Mapping[str, Any] | None = None,
        notify: bool | None = None,
        retry_conflicts: int = 0,
        merge: MergeCallback | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **values: Any,
    ) -> Resource:
        """Open the form behind ``rel`` with ``values``, commit it -> the written resource.

        Raises FormInvalid (nothing committed) when the server offers no commit link.
        ``notify=False`` suppresses notifications. For updates, ``retry_conflicts=N``
        re-reads the resource after a 409 UpdateConflict and applies the same values to
        the fresh copy, up to N times: safe when the values do not depend on what was read
        (set a status, an assignee, a subject — yours wins over a concurrent change of the
        same field); not safe for read-modify-write (appending to a description, adding to
        a number): give ``merge=`` (``merge(fresh, values) -> values``, or None to give up
        and raise the conflict; may be async) to recompute them. A create is never re-sent
        (unless ``retry=True``); ``timeout=`` applies to each request of the call.
        """
        return await self._op._submit(
            self,
            rel,
            values,
            fields=fields,
            notify=notify,
            retry_conflicts=retry_conflicts,
            merge=merge,
            timeout=timeout,
            retry=retry,
        )

    async def save(
        self,
        *,
        fields: Mapping[str, Any] | None = None,
        notify: bool | None = None,
        retry_conflicts: int = 0,
        merge: MergeCallback | None = None,
        timeout: Timeout = None,
        retry: bool | None = None,
        **changes: Any,
    ) -> Resource:
        """``submit("update", ...)``: update form + commit -> the updated resource.

        Sends this copy's ``lockVersion``: a stale copy raises UpdateConflict unless
        ``retry_conflicts=N`` (see :meth:`submit` for when re-applying is safe).
        """
        return await self.submit(
            "update",
            fields=fields,
            notify=notify,
            retry_conflicts=retry_conflicts,
            merge=merge,
            timeout=timeout,
            retry=retry,
            **changes,
        )

    async def load_schema(self) -> Schema:
        """GET the ``schema`` link (once per session: schemas are cached) -> Schema."""
        self.link("schema")
        schema = await self._op._load_schema(self)
        if schema is None:
            raise ActionUnavailable(
                "schema", resource=self._label(), actions=self.actions(), relations=self.relations()
            )
        return schema

    def field(self, name: str) -> Any:
        """The value of a field by key or human name (``wp.field("Story points")``).

        Needs the schema in the session's cache: ``await r.load_schema()`` first (a form
        committed in this session caches it too). Link-valued fields give their Link
        (``.href``, ``.title``; a list for multi-value fields; None when unset).
        """
        return self._op._field_value(self, name)

    async def execute_custom_action(
        self,
        action: Any,
        *,
        notify: bool | None = None,
        retry_conflicts: int = 0,
    ) -> Resource:
        """Run a custom action on this work package -> the updated work package.

        ``action`` is the action's title as listed in ``customActions`` (``"Close"``), a
        CustomAction resource, its Link or href. Sends this copy's ``lockVersion``; a stale
        copy raises UpdateConflict unless ``retry_conflicts=N`` re-reads and runs it again
        (custom actions set fixed values, so that is safe).
        """
        return await self._op._execute_custom_action(
            self, action, notify=notify, retry_conflicts=retry_conflicts
        )


@dataclass(frozen=True, slots=True)
class _Get:
    """The per-call parts of a follow: explicit query ``params``, ``timeout``, ``retry``."""

    params: dict[str, Any]
    timeout: Timeout
    retry: bool | None

    async def get(self, op: OpenProject, href: str, query: Mapping[str, Any]) -> Resource:
        return await op.get(
            href,
            expect=None,
            params={**query, **self.params},
            timeout=self.timeout,
            retry=self.retry,
        )


def _check_followable(link: Link) -> None:
    if link.undisclosed:
        raise NotVisible(
            f"link {link.rel!r} points to a resource you may not see (href {link.href})"
        )
    if not link.is_api:
        raise NotAnAPIResource(
            f"link {link.rel!r} targets {link.type} ({link.href}), not an API resource; "
            "open it in a browser or download it instead"
        )


def _same_resource(embedded: Mapping[str, Any], link: Link) -> bool:
    links = embedded.get("_links")
    self_link = links.get("self") if isinstance(links, Mapping) else None
    href = self_link.get("href") if isinstance(self_link, Mapping) else None
    return href is None or href == link.href
