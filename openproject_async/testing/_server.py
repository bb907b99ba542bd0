"""``FakeOpenProject``: lifecycle, knobs and test helpers of the in-memory server."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from ._app import build_app
from ._bots import BotsMixin
from ._data import Store, WorkPackage, utcnow
from ._faults import FaultSet
from ._http import Config, RecordedRequest, ServerState
from ._seed import seed
from ._storage import FakeStorage


class FakeOpenProject(BotsMixin):
    """An OpenProject API v3 server in memory, served by aiohttp on a local port.

    Use as ``async with FakeOpenProject(...) as server:`` or ``await server.start()`` /
    ``await server.close()``. ``server.url`` is what a client is configured with.

    Knobs:

    * ``seed_size`` -- work packages seeded (deterministic; 100 000 take well under 1 s).
    * ``max_page_size`` -- ``Setting.apiv3_max_page_size`` (``pageSize`` cap, ``-1`` = it).
    * ``latency`` -- seconds added to every request; ``latency_per_element`` -- seconds
      added per rendered collection element. Both are spent while holding a worker.
    * ``max_concurrent_requests`` -- workers: requests handled at once, others queue.
      ``peak_concurrency`` reports the most that were ever handled at the same time.
    * ``base_path`` -- emulate a sub-path deployment (``/openproject``): every route and
      every href starts with it.
    * ``token_lifetime`` -- OAuth access token lifetime in seconds.
    * ``compress`` -- gzip/deflate responses when the client accepts it.
    * ``key_seed`` -- varies the (otherwise fixed) API keys, tokens and OAuth secrets.
    * ``direct_uploads`` -- work packages offer ``prepareAttachment``: uploads go to a
      fake object storage on a second loopback origin (:attr:`storage`), then complete.
    * ``content_redirect`` -- ``/attachments/{id}/content`` answers 302 to a pre-signed
      URL on that storage (as with S3/fog storage) instead of the content.
      Either starts the storage; both can then be switched while running.

    ``faults`` injects errors (see ``Fault``); ``requests`` records every request.
    """

    def __init__(
        self,
        *,
        seed_size: int = 50,
        max_page_size: int = 1000,
        latency: float = 0.0,
        latency_per_element: float = 0.0,
        max_concurrent_requests: int | None = None,
        base_path: str = "",
        token_lifetime: int = 7200,
        compress: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        key_seed: int = 0,
        direct_uploads: bool = False,
        content_redirect: bool = False,
    ) -> None:
        if base_path and (not base_path.startswith("/") or base_path.endswith("/")):
            raise ValueError("base_path must start with '/' and not end with '/'")
        if max_concurrent_requests is not None and max_concurrent_requests < 1:
            raise ValueError("max_concurrent_requests must be >= 1")
        self.config = Config(
            max_page_size=max_page_size,
            latency=latency,
            latency_per_element=latency_per_element,
            max_concurrent_requests=max_concurrent_requests,
            base_path=base_path,
            token_lifetime=token_lifetime,
            compress=compress,
        )
        self.host = host
        self.port = port
        self.store = Store()
        seed(self.store, seed_size, key_seed=key_seed)
        self._state = ServerState(store=self.store, config=self.config)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._storage_flags = (direct_uploads, content_redirect)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Start serving (``port=0`` picks a free port, then stored in ``port``); returns self.

        Does nothing when already running.
        """
        if self._runner is not None:
            return self
        state = self._state
        state.closing = asyncio.Event()
        limit = self.config.max_concurrent_requests
        state.semaphore = asyncio.Semaphore(limit) if limit else None
        if any(self._storage_flags) and self.store.storage is None:
            storage = FakeStorage(self.host)
            storage.direct_uploads, storage.content_redirect = self._storage_flags
            self.store.storage = await storage.start()
        app = build_app(state)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner, self._site = runner, site
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop serving; requests held by ``hang`` faults are released. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._state.closing.set()
        await self._close_webhooks()
        await runner.cleanup()
        storage, self.store.storage = self.store.storage, None
        if storage is not None:
            await storage.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- addresses and credentials -----------------------------------------------------------

    @property
    def origin(self) -> str:
        """``http://host:port``: the server URL without ``base_path``."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The server URL a client is configured with (includes ``base_path``)."""
        return self.origin + self.config.base_path

    @property
    def api_url(self) -> str:
        """The API root: :attr:`url` + ``/api/v3``."""
        return self.url + "/api/v3"

    @property
    def base_path(self) -> str:
        """The sub-path every route and href starts with (``""`` when not emulated)."""
        return self.config.base_path

    @property
    def users(self) -> dict[str, int]:
        """Login -> user id."""
        return {u.login: u.id for u in self.store.users.values()}

    @property
    def api_keys(self) -> dict[str, str]:
        """Login -> API key (use with Basic auth, username ``apikey``)."""
        by_id = {uid: key for key, uid in self.store.api_keys.items()}
        return {u.login: by_id[u.id] for u in self.store.users.values() if u.id in by_id}

    @property
    def api_key(self) -> str:
        """The ``admin`` user's API key (Basic auth, username ``apikey``)."""
        return self.api_keys["admin"]

    @property
    def api_tokens(self) -> dict[str, str]:
        """Login -> ``opapi-...`` API token (use as ``Authorization: Bearer``)."""
        by_id = {uid: key for key, uid in self.store.api_tokens.items()}
        return {u.login: by_id[u.id] for u in self.store.users.values() if u.id in by_id}

    @property
    def api_token(self) -> str:
        """The ``admin`` user's ``opapi-...`` API token (``Authorization: Bearer``)."""
        return self.api_tokens["admin"]

    @property
    def oauth_client_id(self) -> str:
        """Client id of the seeded OAuth application (client credentials; acts as ``admin``)."""
        return next(iter(self.store.oauth_apps.values())).client_id

    @property
    def oauth_client_secret(self) -> str:
        """Client secret of the seeded OAuth application (see :attr:`oauth_client_id`)."""
        return next(iter(self.store.oauth_apps.values())).client_secret

    def auth_header(self, login: str = "admin") -> dict[str, str]:
        """An ``Authorization`` header (Basic ``apikey:<key>``) for the user ``login``."""
        token = base64.b64encode(f"apikey:{self.api_keys[login]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def http(self, login: str | None = "admin", **kwargs: Any) -> aiohttp.ClientSession:
        """A plain aiohttp session for raw requests (``base_url`` = the server origin).

        Paths are absolute, e.g. ``server.http().get(server.base_path + "/api/v3")``.
        ``login=None`` sends no credentials.
        """
        headers = dict(kwargs.pop("headers", {}))
        if login is not None:
            headers.update(self.auth_header(login))
        return aiohttp.ClientSession(base_url=self.origin, headers=headers, **kwargs)

    # -- knobs and stats ---------------------------------------------------------------------

    @property
    def storage(self) -> FakeStorage | None:
        """The fake object storage (started by ``direct_uploads``/``content_redirect``)."""
        storage = self.store.storage
        return storage if isinstance(storage, FakeStorage) else None

    def _running_storage(self) -> FakeStorage:
        if self.storage is None:
            raise RuntimeError(
                "no storage: start the server with direct_uploads=True or content_redirect=True"
            )
        return self.storage

    @property
    def direct_uploads(self) -> bool:
        """Do work packages offer ``prepareAttachment`` (uploads to the storage)?"""
        return bool(self.storage and self.storage.direct_uploads)

    @direct_uploads.setter
    def direct_uploads(self, value: bool) -> None:
        self._running_storage().direct_uploads = value

    @property
    def content_redirect(self) -> bool:
        """Does ``/content`` answer 302 to the storage (instead of the content)?"""
        return bool(self.storage and self.storage.content_redirect)

    @content_redirect.setter
    def content_redirect(self, value: bool) -> None:
        self._running_storage().content_redirect = value

    @property
    def faults(self) -> FaultSet:
        """The fault rules and the log of injected faults; ``faults.add(Fault(...))``."""
        return self._state.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (the live list)."""
        return self._state.requests

    def clear_requests(self) -> None:
        """Forget the recorded :attr:`requests`."""
        self._state.requests.clear()

    @property
    def peak_concurrency(self) -> int:
        """The largest number of requests that were being handled at the same time."""
        return self._state.peak_concurrency

    @property
    def active_requests(self) -> int:
        """How many requests are being handled right now (queued ones excluded)."""
        return self._state.active

    def reset_stats(self) -> None:
        """Restart :attr:`peak_concurrency` from the number of requests being handled now."""
        self._state.peak_concurrency = self._state.active

    @property
    def max_page_size(self) -> int:
        """The ``pageSize`` cap (``Setting.apiv3_max_page_size``); can be set while running."""
        return self.config.max_page_size

    @max_page_size.setter
    def max_page_size(self, value: int) -> None:
        self.config.max_page_size = value

    @property
    def latency(self) -> float:
        """Seconds added to every request, spent holding a worker; can be set while running."""
        return self.config.latency

    @latency.setter
    def latency(self, value: float) -> None:
        self.config.latency = value

    @property
    def latency_per_element(self) -> float:
        """Seconds added per rendered collection element; can be set while running."""
        return self.config.latency_per_element

    @latency_per_element.setter
    def latency_per_element(self, value: float) -> None:
        self.config.latency_per_element = value

    @property
    def notifications_sent(self) -> int:
        """How many writes would have notified users (``notify`` not set to false).

        Counted: creates, updates that change something, comments and custom actions.
        """
        return self.store.notifications_sent

    @property
    def notifications_suppressed(self) -> int:
        """How many such writes were sent with ``notify=false`` (no notification)."""
        return self.store.notifications_suppressed

    # -- direct data mutation (no HTTP) ------------------------------------------------------

    def create_work_package(
        self,
        *,
        subject: str,
        project_id: int = 1,
        type_id: int = 1,
        **more: Any,
    ) -> int:
        """Insert a work package directly (as another user of the instance would); its id.

        ``more`` takes ``WorkPackage`` field names (``status_id``, ``assignee_id``,
        ``parent_id``, ``custom_values``...).
        """
        store = self.store
        if project_id not in store.projects:
            raise ValueError(f"no project {project_id}")
        if type_id not in store.types:
            raise ValueError(f"no type {type_id}")
        names = {f.name for f in dataclasses.fields(WorkPackage)}
        unknown = set(more) - names
        if unknown:
            raise TypeError(f"unknown work package fields: {sorted(unknown)}")
        now = utcnow()
        values: dict[str, Any] = {
            "author_id": 1,
            "status_id": store.default_status().id,
            "priority_id": store.default_priority().id,
            "created_at": now,
            "updated_at": now,
        }
        values.update(more)
        values.setdefault("watcher_ids", [values["author_id"]])
        wp = WorkPackage(
            id=values.pop("id", 0),
            project_id=project_id,
            type_id=type_id,
            subject=subject,
            **values,
        )
        return store.add_work_package(wp).id

    def delete_work_package(self, wp_id: int) -> None:
        """Delete a work package directly, as another user would (KeyError if there is none).

        Its relations, attachments and journals go too; its children become top-level
        (unlike ``DELETE``, which removes descendants).
        """
        if self.store.remove_work_package(wp_id) is None:
            raise KeyError(wp_id)

    def touch_work_package(self, wp_id: int, **changes: Any) -> int:
        """Bump ``lockVersion`` (and ``updatedAt``) as a concurrent writer would; the new version.

        ``changes`` (``WorkPackage`` field names) are applied at the same time.
        """
        wp = self.store.work_packages[wp_id]
        for key, value in changes.items():
            if not hasattr(wp, key):
                raise TypeError(f"unknown work package field {key!r}")
            if key == "parent_id":
                self.store.set_parent(wp, value)
            else:
                setattr(wp, key, value)
        self.store.touch(wp)
        return wp.lock_version

    def work_package(self, wp_id: int) -> WorkPackage:
        """The stored work package ``wp_id`` (the live object; KeyError if there is none)."""
        return self.store.work_packages[wp_id]

    def __repr__(self) -> str:
        running = "running" if self._runner else "stopped"
        return f"<FakeOpenProject {self.url} {running} wps={len(self.store.work_packages)}>"
