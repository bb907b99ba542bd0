"""Receive OpenProject webhooks: verify, parse, route, serve.

OpenProject POSTs ``{"action": "<kind>:<what>", "<key>": <resource>}`` (JSON, the resource
rendered with its links embedded) and, when the webhook has a secret, signs the raw body:
``X-OP-Signature: sha1=<hex HMAC-SHA1(secret, body)>``::

    from openproject_async import webhooks

    router = webhooks.Router()

    @router.register("work_package:created", "work_package:updated")
    async def on_work_package(event: webhooks.Event, op: OpenProject) -> None:
        wp = event.resource                 # a Resource bound to op: follow()/save() work
        ...

    app.router.add_post(
        "/hooks/openproject", webhooks.aiohttp_handler(router, secret="s3cret", session=op)
    )

Or, without aiohttp's server: ``event = webhooks.Event.from_http(headers, body,
secret=..., session=op)`` then ``await router.dispatch(event, op)``.

Events the server sends (``action``: payload key): ``work_package:created|updated``
(``work_package``), ``work_package_comment:comment|internal_comment`` (``activity``),
``project:created|updated`` (``project``), ``time_entry:created|updated|deleted``
(``time_entry``; ``deleted`` carries only ``_type``, ``id`` and ``project_id``),
``attachment:created`` (``attachment``). Newer servers add ``actor`` (a User). Work package
and comment events come after the server's journal aggregation time (5 minutes by default);
the others at once. An unknown action parses as well.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from ._resource import Resource
from .errors import OpenProjectError

if TYPE_CHECKING:
    from aiohttp import web

    from ._client import OpenProject

__all__ = [
    "SIGNATURE_HEADER",
    "Event",
    "Handler",
    "InvalidSignature",
    "InvalidWebhook",
    "Router",
    "WebhookHandler",
    "aiohttp_handler",
    "sign",
    "verify",
]

log = logging.getLogger("openproject_async.webhooks")

SIGNATURE_HEADER = "X-OP-Signature"
_SIGNATURE = re.compile(r"sha1=([0-9a-fA-F]{40})")

#: action prefix -> the key of the payload's resource
PAYLOAD_KEYS: dict[str, str] = {
    "work_package": "work_package",
    "work_package_comment": "activity",
    "project": "project",
    "time_entry": "time_entry",
    "attachment": "attachment",
}

_warned_unsigned = False


class InvalidSignature(OpenProjectError):
    """A delivery's ``X-OP-Signature`` is missing, malformed or wrong (nothing was run)."""


class InvalidWebhook(OpenProjectError, ValueError):
    """A delivery's body is not the JSON document OpenProject sends."""


def sign(body: bytes, secret: str) -> str:
    """The ``X-OP-Signature`` value for ``body``: ``sha1=<hex HMAC-SHA1(secret, body)>``."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> list[str]:
    lowered = name.lower()
    getall = getattr(headers, "getall", None)
    if callable(getall):  # multidict (aiohttp): case-insensitive, may repeat
        return [str(v) for v in getall(name, [])]
    return [str(v) for k, v in headers.items() if isinstance(k, str) and k.lower() == lowered]


def _raw(body: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"body must be the raw request body (bytes), got {type(body).__name__}")


def _check_secret(secret: str | None) -> None:
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ValueError("secret must be a non-empty string, or None to skip verification")


def _warn_unsigned() -> None:
    global _warned_unsigned
    if not _warned_unsigned:
        _warned_unsigned = True
        warnings.warn(
            "webhook signatures are not verified (secret=None): anyone who can reach the "
            "endpoint can send events; configure a secret on the webhook and pass it here",
            UserWarning,
            stacklevel=3,
        )


def verify(headers: Mapping[str, str], body: bytes | str, secret: str) -> None:
    """Check ``X-OP-Signature`` (any letter case) against ``body``; no I/O.

    Raises :class:`InvalidSignature` when the header is missing, repeated, malformed or
    does not match (compared in constant time).
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("verify() needs the webhook's secret (a non-empty string)")
    values = _header(headers, SIGNATURE_HEADER)
    if not values:
        raise InvalidSignature(f"the delivery has no {SIGNATURE_HEADER} header")
    if len(values) > 1:
        raise InvalidSignature(f"the delivery has {len(values)} {SIGNATURE_HEADER} headers")
    match = _SIGNATURE.fullmatch(values[0].strip())
    if match is None:
        raise InvalidSignature(f"{SIGNATURE_HEADER} is not of the form sha1=<40 hex digits>")
    expected = hmac.new(secret.encode(), _raw(body), hashlib.sha1).hexdigest()
    if not hmac.compare_digest(match.group(1).lower(), expected):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body and the secret")


class _Unbound:
    """Stands in for a session when an event was parsed without ``session=``."""

    def __getattr__(self, name: str) -> NoReturn:
        raise OpenProjectError(
            "this webhook event was parsed without a session: pass session=op to "
            "Event.from_http() (or aiohttp_handler) to follow its links or write"
        )


_UNBOUND: Any = _Unbound()


class Event:
    """One webhook delivery: ``action``, ``kind``, ``resource``, ``actor``, ``raw``."""

    __slots__ = ("action", "actor", "key", "kind", "name", "raw", "resource")

    def __init__(self, raw: dict[str, Any], session: OpenProject | None = None) -> None:
        if not isinstance(raw, dict):
            raise InvalidWebhook(f"a webhook body is a JSON object, got {type(raw).__name__}")
        action = raw.get("action")
        if not isinstance(action, str) or not action:
            raise InvalidWebhook('a webhook body has a string "action" ("work_package:updated")')
        kind, _, name = action.partition(":")
        #: the payload's ``action`` as sent (``"work_package:updated"``)
        self.action = action
        #: what the event is about: the part before ``:`` (``"work_package"``)
        self.kind = kind
        #: what happened: the part after ``:`` (``"updated"``; ``""`` when there is none)
        self.name = name
        #: the decoded body
        self.raw = raw
        #: the key of the resource in the body (``"activity"`` for comments), or None
        self.key = _payload_key(kind, raw)
        doc = raw.get(self.key) if self.key is not None else None
        if self.key is not None and not isinstance(doc, dict):
            raise InvalidWebhook(
                f"the {action!r} webhook's {self.key!r} is not an object (got {type(doc).__name__})"
            )
        #: the resource the event is about, bound to the session (None if the body has none)
        self.resource: Resource | None = _wrap(doc, session) if doc is not None else None
        actor = raw.get("actor")
        #: the user who made the change (newer servers send it), or None
        self.actor: Resource | None = _wrap(actor, session) if isinstance(actor, dict) else None

    @classmethod
    def from_json(cls, body: bytes | str, *, session: OpenProject | None = None) -> Event:
        """Parse a body without checking any signature (see :meth:`from_http`)."""
        try:
            raw = orjson.loads(_raw(body))
        except orjson.JSONDecodeError:
            raise InvalidWebhook("the webhook body is not JSON") from None
        return cls(raw, session)

    @classmethod
    def from_http(
        cls,
        headers: Mapping[str, str],
        body: bytes | str,
        *,
        secret: str | None,
        session: OpenProject | None = None,
    ) -> Event:
        """Verify and parse one delivery: its headers and its raw body.

        ``secret`` is the webhook's secret (signature required and checked); ``None``
        skips the check, explicitly (warns once per process). Raises
        :class:`InvalidSignature` or :class:`InvalidWebhook`.
        """
        _check_secret(secret)
        if secret is None:
            _warn_unsigned()
        else:
            verify(headers, body, secret)
        return cls.from_json(body, session=session)

    def __repr__(self) -> str:
        return f"<webhooks.Event {self.action} {self.resource!r}>"


def _payload_key(kind: str, raw: Mapping[str, Any]) -> str | None:
    known = PAYLOAD_KEYS.get(kind)
    if known is not None:
        if known not in raw:
            raise InvalidWebhook(f"a {kind!r} webhook body has no {known!r}")
        return known
    if kind in raw:
        return kind
    others = [k for k, v in raw.items() if k not in ("action", "actor") and isinstance(v, dict)]
    return others[0] if len(others) == 1 else None


def _wrap(doc: dict[str, Any], session: OpenProject | None) -> Resource:
    if session is None:
        return Resource(_UNBOUND, doc)
    wrapped: Resource = session.wrap(doc)
    return wrapped


Handler = Callable[[Event, "OpenProject"], Awaitable[Any]]


class Router:
    """Handlers by action: ``@router.register("work_package:updated")``.

    ``"*"`` matches every action and ``"work_package:*"`` every action of a kind.
    """

    def __init__(self) -> None:
        self._handlers: list[tuple[frozenset[str], Handler]] = []

    def register(self, *actions: str) -> Callable[[Handler], Handler]:
        """Decorator: run the coroutine function for these actions (one at least)."""
        if not actions:
            raise TypeError('register() needs at least one action (or "*")')
        for action in actions:
            if not isinstance(action, str) or not action:
                raise TypeError(f"an action is a non-empty string, got {action!r}")

        def decorate(handler: Handler) -> Handler:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"{handler!r} must be an async function (event, op)")
            self._handlers.append((frozenset(actions), handler))
            return handler

        return decorate

    def add(self, handler: Handler, *actions: str) -> None:
        """``register(*actions)(handler)`` for code that does not use decorators."""
        self.register(*actions)(handler)

    def handlers_for(self, action: str) -> list[Handler]:
        """The handlers :meth:`dispatch` runs for ``action``, in registration order."""
        kind = action.partition(":")[0]
        return [
            h
            for names, h in self._handlers
            if action in names or "*" in names or f"{kind}:*" in names
        ]

    async def dispatch(self, event: Event, op: OpenProject) -> int:
        """Run every handler registered for the event's action, one after the other.

        Returns how many ran. Every handler runs even when an earlier one fails; then the
        failure is raised (an ``ExceptionGroup`` when several failed).
        """
        handlers = self.handlers_for(event.action)
        failures: list[Exception] = []
        for handler in handlers:
            try:
                await handler(event, op)
            except Exception as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ExceptionGroup(f"{len(failures)} webhook handlers failed", failures)
        return len(handlers)


class WebhookHandler:
    """An aiohttp request handler for webhook deliveries (see :func:`aiohttp_handler`)."""

    def __init__(
        self,
        router: Router,
        *,
        secret: str | None,
        session: OpenProject,
        max_in_flight: int = 64,
        max_body: int = 16 * 1024 * 1024,
    ) -> None:
        _check_secret(secret)
        if not isinstance(router, Router):
            raise TypeError(f"router must be a webhooks.Router, got {type(router).__name__}")
        if not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an int >= 1, got {max_in_flight!r}")
        self.router = router
        self._secret = secret
        self.session = session
        self.max_in_flight = max_in_flight
        self.max_body = max_body
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        #: counters: ``received``, ``accepted``, ``rejected``, ``busy``, ``failed``
        self.stats: dict[str, int] = dict.fromkeys(
            ("received", "accepted", "rejected", "busy", "failed"), 0
        )
        if secret is None:
            _warn_unsigned()
        _mark_coroutine_function(self)

    def __repr__(self) -> str:
        signed = "signed" if self._secret is not None else "unsigned"
        return f"<webhooks.WebhookHandler {signed} in_flight={len(self._tasks)}>"

    @property
    def in_flight(self) -> int:
        """Deliveries whose handlers are still running."""
        return len(self._tasks)

    async def __call__(self, request: web.Request) -> web.Response:
        from aiohttp import web

        self.stats["received"] += 1
        if request.content_length is not None and request.content_length > self.max_body:
            self.stats["rejected"] += 1
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.read()
        try:
            if self._secret is None:
                event = Event.from_json(body, session=self.session)
            else:
                verify(request.headers, body, self._secret)
                event = Event.from_json(body, session=self.session)
        except InvalidSignature as exc:
            self.stats["rejected"] += 1
            log.warning("webhook rejected: %s", exc)
            return web.json_response({"error": "invalid signature"}, status=401)
        except InvalidWebhook as exc:
            self.stats["rejected"] += 1
            log.warning("webhook rejected: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        if len(self._tasks) >= self.max_in_flight:
            # the server retries 5xx answers (with a growing delay): nothing is lost
            self.stats["busy"] += 1
            log.warning("webhook %s refused: %d deliveries in flight", event.action, self.in_flight)
            return web.json_response({"error": "busy"}, status=503)
        self.stats["accepted"] += 1
        task = asyncio.create_task(self._run(event), name=f"webhook {event.action}")
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return web.json_response({"accepted": event.action}, status=202)

    async def _run(self, event: Event) -> None:
        try:
            await self.router.dispatch(event, self.session)
        except Exception:
            self.stats["failed"] += 1
            log.exception("webhook handler for %s failed", event.action)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def join(self) -> None:
        """Wait until every accepted delivery has been handled."""
        await self._idle.wait()

    async def close(self) -> None:
        """Cancel the handlers still running and wait for them (e.g. ``app.on_cleanup``)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _mark_coroutine_function(handler: WebhookHandler) -> None:
    """Let aiohttp see that calling the handler gives a coroutine (no deprecation warning)."""
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:  # Python >= 3.12
        mark(handler)
    else:  # Python 3.11: asyncio.iscoroutinefunction's marker
        handler._is_coroutine = getattr(asyncio.coroutines, "_is_coroutine", None)  # type: ignore[attr-defined]


def aiohttp_handler(
    router: Router,
    *,
    secret: str | None,
    session: OpenProject,
    max_in_flight: int = 64,
) -> WebhookHandler:
    """An aiohttp handler: ``app.router.add_post("/hooks/openproject", handler)``.

    A valid delivery is answered at once with 202 while the router's handlers run as a
    background task (a failure is logged on ``openproject_async.webhooks``, counted in
    ``handler.stats["failed"]``). A bad signature gets 401, a malformed body 400 (no
    handler runs), and with ``max_in_flight`` deliveries still running 503, which the
    server retries later. ``await handler.join()`` waits for the running handlers,
    ``await handler.close()`` cancels them (``app.on_cleanup.append(lambda app:
    handler.close())``). ``secret=None`` skips verification (warns once).
    """
    if secret is None:
        _warn_unsigned()  # from here: the warning names the caller's line, not this one
    return WebhookHandler(router, secret=secret, session=session, max_in_flight=max_in_flight)
