"""Outgoing webhooks of the fake server: signed, real-shaped deliveries after writes.

``server.add_webhook(url, secret=..., events=[...])`` makes the server POST
``{"action": "<kind>:<what>", "<key>": <resource>, "actor": <user>}`` to ``url`` after
creates, updates and comments, as OpenProject's webhooks module does
(``represented_webhook_job.rb``): the resource rendered as the system user with its links
embedded, ``Content-Type``/``Accept: application/json`` and, with a secret,
``X-OP-Signature: sha1=<hex HMAC-SHA1(secret, body)>``.

What is sent, when:

* ``work_package:created|updated`` and ``work_package_comment:comment|internal_comment``
  (a comment sends both ``work_package:updated`` and the comment event, as the real
  server's journal does). The real server sends these after the journal aggregation time
  (5 minutes by default); ``aggregation_delay=`` models it (0: at once). Within that
  delay, later changes of the same work package are merged into the delivery already
  pending (rendered when it is sent, so with the latest state; a created-then-updated
  work package is one ``created``).
* ``project:created|updated``, ``attachment:created`` and ``time_entry:created|updated``
  go at once.
* Deliveries to one webhook go one at a time, in order. A transient failure (408, 425,
  429, 5xx, no connection) is retried up to 5 attempts with a growing wait (``retry_delay``
  scales it); other answers are final. Redirects are not followed.

``server.webhook_deliveries`` lists every attempt's outcome; ``await
server.wait_for_webhooks()`` waits until nothing is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from . import _render as render
from . import _render_wp as rw
from ._data import Store, User
from ._http import CTX_KEY, STATE
from ._render import Ctx, JsonDict

log = logging.getLogger("openproject_async.testing.webhooks")

EVENTS = frozenset(
    {
        "work_package:created",
        "work_package:updated",
        "work_package_comment:comment",
        "work_package_comment:internal_comment",
        "project:created",
        "project:updated",
        "attachment:created",
        "time_entry:created",
        "time_entry:updated",
        "time_entry:deleted",
    }
)
_DELAYED_KINDS = ("work_package", "work_package_comment")
_TRANSIENT = frozenset({408, 425, 429})
MAX_ATTEMPTS = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Webhook:
    """One configured webhook (``events``/``projects`` None: all)."""

    id: int
    url: str
    secret: str | None = field(repr=False)
    events: frozenset[str] | None
    projects: frozenset[int] | None
    aggregation_delay: float
    retry_delay: float
    enabled: bool = True

    def wants(self, action: str, project_id: int | None) -> bool:
        if not self.enabled or (self.events is not None and action not in self.events):
            return False
        if self.projects is None or project_id is None or action == "project:created":
            return True  # project:created skips the filter; container-less attachments too
        return project_id in self.projects


@dataclass
class Delivery:
    """One delivery (its last attempt): ``status`` is None when no answer came."""

    webhook_id: int
    action: str
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: int = 0
    status: int | None = None
    error: str | None = None

    def json(self) -> Any:
        """The body, decoded."""
        return orjson.loads(self.body)


Render = Callable[[], "JsonDict | None"]


class WebhookHub:
    """The webhooks of one store and their deliveries in flight."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = ""
        self.hooks: dict[int, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._next_id = 0
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: dict[tuple[int, str, int], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._flush = asyncio.Event()

    def add(
        self,
        url: str,
        *,
        secret: str | None,
        events: Iterable[str] | None,
        projects: Iterable[int] | None,
        aggregation_delay: float,
        retry_delay: float,
    ) -> Webhook:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL is an http(s) URL, got {url!r}")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ValueError("secret must be a non-empty string or None")
        wanted = None if events is None else frozenset(events)
        if wanted is not None:
            unknown = sorted(wanted - EVENTS)
            if unknown or not wanted:
                raise ValueError(
                    f"unknown webhook events {unknown}; known: {', '.join(sorted(EVENTS))}"
                )
        for name, value in (("aggregation_delay", aggregation_delay), ("retry_delay", retry_delay)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be seconds >= 0, got {value!r}")
        self._next_id += 1
        hook = Webhook(
            id=self._next_id,
            url=url,
            secret=secret,
            events=wanted,
            projects=None if projects is None else frozenset(projects),
            aggregation_delay=float(aggregation_delay),
            retry_delay=float(retry_delay),
        )
        self.hooks[hook.id] = hook
        return hook

    # -- emitting ----------------------------------------------------------------------------

    def system_ctx(self) -> Ctx:
        """Payloads are rendered as the system user: an administrator here."""
        admin = next((u for u in self.store.users.values() if u.admin), None)
        if admin is None:  # pragma: no cover - the seed always has an admin
            admin = User(id=0, login="system", first_name="System", last_name="", email="")
        return Ctx(self.store, admin, self.root)

    def emit(
        self,
        action: str,
        key: str,
        render_payload: Render,
        *,
        project_id: int | None,
        actor_id: int | None,
        merge_id: int | None = None,
    ) -> None:
        """Queue ``action`` for every webhook that wants it (no-op without a running loop)."""
        for hook in self.hooks.values():
            if not hook.wants(action, project_id):
                continue
            kind = action.partition(":")[0]
            delay = hook.aggregation_delay if kind in _DELAYED_KINDS else 0.0
            pending_key = (hook.id, action.partition(":")[0], merge_id or 0)
            if delay > 0 and merge_id is not None:
                pending = self._pending.get(pending_key)
                if pending is not None and not pending.done():
                    continue  # merged into the delivery already waiting (renders later)
            task = asyncio.get_running_loop().create_task(
                self._deliver(hook, action, key, render_payload, actor_id, delay)
            )
            if delay > 0 and merge_id is not None:
                self._pending[pending_key] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        hook: Webhook,
        action: str,
        key: str,
        render_payload: Render,
        actor_id: int | None,
        delay: float,
    ) -> None:
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush.wait(), delay)
        lock = self._locks.setdefault(hook.id, asyncio.Lock())
        async with lock:
            for pending_key, task in list(self._pending.items()):
                if task is asyncio.current_task():
                    del self._pending[pending_key]  # later changes need a new delivery
            payload = render_payload()
            if payload is None:  # deleted meanwhile: the real job finds nothing to send
                return
            doc: JsonDict = {"action": action, key: payload}
            actor = self.store.users.get(actor_id) if actor_id is not None else None
            if actor is not None:
                doc["actor"] = render.user(self.system_ctx(), actor)
            body = orjson.dumps(doc)
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "OpenProject fake webhooks",
            }
            if hook.secret is not None:
                digest = hmac.new(hook.secret.encode(), body, hashlib.sha1).hexdigest()
                headers["X-Op-Signature"] = f"sha1={digest}"  # as Ruby's clients spell it
            delivery = Delivery(hook.id, action, hook.url, body, headers)
            self.deliveries.append(delivery)
            await self._post(hook, delivery)

    async def _post(self, hook: Webhook, delivery: Delivery) -> None:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            delivery.attempts = attempt
            try:
                async with self._http.post(
                    hook.url, data=delivery.body, headers=delivery.headers, allow_redirects=False
                ) as answer:
                    await answer.read()
                    delivery.status, delivery.error = answer.status, None
                    transient = answer.status in _TRANSIENT or answer.status >= 500
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
                transient = True
            if not transient:
                if delivery.status is not None and delivery.status >= 400:
                    log.info("webhook %s to %s: %s", delivery.action, hook.url, delivery.status)
                return
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(hook.retry_delay * attempt * attempt)
        log.info("webhook %s to %s failed after %d attempts", delivery.action, hook.url, attempt)

    async def join(self, *, flush: bool = False) -> None:
        """Wait until no delivery is pending; ``flush``: send delayed ones now."""
        if flush:
            self._flush.set()
        try:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finally:
            self._flush.clear()

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._pending.clear()
        http, self._http = self._http, None
        if http is not None:
            await http.close()


_HUBS: weakref.WeakKeyDictionary[Store, WebhookHub] = weakref.WeakKeyDictionary()


def hub_of(store: Store) -> WebhookHub:
    """The webhook hub of a store (made on first use)."""
    hub = _HUBS.get(store)
    if hub is None:
        hub = _HUBS[store] = WebhookHub(store)
    return hub


# ---------------------------------------------------------------------------------------------
# Which request made which event


_CREATE_WP = re.compile(r"/(?:(?:projects|workspaces)/[^/]+/)?work_packages")
_WP = re.compile(r"/work_packages/(\d+)")
_COMMENT = re.compile(r"/work_packages/(\d+)/activities")
_EXECUTE = re.compile(r"/custom_actions/\d+/execute")
_ATTACH = re.compile(r"/(?:work_packages/\d+/)?attachments")
_PROJECT = re.compile(r"/projects/(\d+|[^/]+)")
_TIME_ENTRY = re.compile(r"/time_entries(?:/\d+)?")


def _body_id(response: web.StreamResponse) -> int | None:
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes):
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, int) else None


def _body_doc(response: web.StreamResponse) -> JsonDict | None:
    body = response.body if isinstance(response, web.Response) else None
    with contextlib.suppress(orjson.JSONDecodeError, TypeError):
        doc = orjson.loads(body) if isinstance(body, bytes) else None
        return doc if isinstance(doc, dict) else None
    return None


@web.middleware
async def events_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a successful write: webhooks, and notifications for mentions in comments."""
    method = request.method
    if method not in ("POST", "PATCH", "DELETE"):
        return await handler(request)
    state = request.app[STATE]
    store = state.store
    path = request.path[len(state.api) :] if request.path.startswith(state.api) else ""
    before: int | None = None
    patched = _WP.fullmatch(path) if method == "PATCH" else None
    if patched is not None:
        wp = store.work_packages.get(int(patched.group(1)))
        before = wp.lock_version if wp is not None else None
    response = await handler(request)
    if not path or not 200 <= response.status < 300:
        return response
    ctx = request.get(CTX_KEY)
    actor = ctx.user.id if ctx is not None else None
    hub = hub_of(store)
    hub.root = state.root
    if method == "POST" and _COMMENT.fullmatch(path):
        activity_id = _body_id(response)
        activity = store.activities.get(activity_id) if activity_id is not None else None
        if activity is not None:
            from ._notifications import notify_mentions

            notify_mentions(store, activity)
            _work_package_event(hub, "updated", activity.work_package_id, actor)
            _comment_event(hub, activity.id, actor)
    elif method == "POST" and _CREATE_WP.fullmatch(path) and response.status == 201:
        wp_id = _body_id(response)
        if wp_id is not None:
            _work_package_event(hub, "created", wp_id, actor)
    elif patched is not None or (method == "POST" and _EXECUTE.fullmatch(path)):
        wp_id = _body_id(response)
        wp = store.work_packages.get(wp_id) if wp_id is not None else None
        if wp is not None and wp.lock_version != before:
            _work_package_event(hub, "updated", wp.id, actor)
    elif method == "POST" and _ATTACH.fullmatch(path):
        att_id = _body_id(response)
        if att_id is not None:
            _attachment_event(hub, att_id, actor)
    elif method in ("POST", "PATCH") and (path == "/projects" or _PROJECT.fullmatch(path)):
        project_id = _body_id(response)
        if project_id is not None:
            project_event(hub, "created" if method == "POST" else "updated", project_id, actor)
    elif method in ("POST", "PATCH") and _TIME_ENTRY.fullmatch(path):
        doc = _body_doc(response)
        if doc is not None:
            action = "time_entry:created" if method == "POST" else "time_entry:updated"
            hub.emit(action, "time_entry", lambda: doc, project_id=None, actor_id=actor)
    return response


def _work_package_event(hub: WebhookHub, what: str, wp_id: int, actor: int | None) -> None:
    store = hub.store
    wp = store.work_packages.get(wp_id)
    if wp is None:
        return

    def payload() -> JsonDict | None:
        current = store.work_packages.get(wp_id)
        return rw.work_package(hub.system_ctx(), current, embed=True) if current else None

    hub.emit(
        f"work_package:{what}",
        "work_package",
        payload,
        project_id=wp.project_id,
        actor_id=actor,
        merge_id=wp_id,
    )


def _comment_event(hub: WebhookHub, activity_id: int, actor: int | None) -> None:
    store = hub.store
    activity = store.activities[activity_id]
    wp = store.work_packages.get(activity.work_package_id)

    def payload() -> JsonDict | None:
        current = store.activities.get(activity_id)
        return rw.activity(hub.system_ctx(), current, embed=True) if current else None

    what = "internal_comment" if activity.internal else "comment"
    hub.emit(
        f"work_package_comment:{what}",
        "activity",
        payload,
        project_id=wp.project_id if wp else None,
        actor_id=actor,
    )


def _attachment_event(hub: WebhookHub, attachment_id: int, actor: int | None) -> None:
    store = hub.store
    attachment = store.attachments.get(attachment_id)
    if attachment is None:
        return
    wp = store.work_packages.get(attachment.container_id)

    def payload() -> JsonDict | None:
        current = store.attachments.get(attachment_id)
        return rw.attachment(hub.system_ctx(), current, embed=True) if current else None

    hub.emit(
        "attachment:created",
        "attachment",
        payload,
        project_id=wp.project_id if wp else None,
        actor_id=actor,
    )


def project_event(hub: WebhookHub, what: str, project_id: int, actor: int | None) -> None:
    """Queue ``project:<what>`` (also used by project copy when its job finishes)."""
    store = hub.store
    if project_id not in store.projects:
        return

    def payload() -> JsonDict | None:
        current = store.projects.get(project_id)
        return render.project(hub.system_ctx(), current) if current else None

    hub.emit(f"project:{what}", "project", payload, project_id=project_id, actor_id=actor)
