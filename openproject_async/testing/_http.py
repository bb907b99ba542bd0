"""Shared server state, the request record, and small HTTP helpers for the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from multidict import CIMultiDict

from ._data import Store
from ._errors import ApiError, invalid_body, not_found
from ._faults import FaultSet
from ._render import Ctx, JsonDict, collection

HAL_JSON = "application/hal+json"

T = TypeVar("T")


@dataclass
class Config:
    max_page_size: int = 1000
    latency: float = 0.0
    latency_per_element: float = 0.0
    max_concurrent_requests: int | None = None
    base_path: str = ""
    token_lifetime: int = 7200
    compress: bool = False


@dataclass
class RecordedRequest:
    """One request as the server received it. ``status`` is 0 when no response was sent.

    ``peer`` is the client's (host, port): requests with the same peer came over the same
    connection, so tests can count connections.
    """

    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes
    status: int = 0
    fault: str | None = None
    peer: tuple[str, int] | None = None

    def json(self) -> Any:
        """The body parsed as JSON (None when the body is empty)."""
        return orjson.loads(self.body) if self.body else None


@dataclass
class ServerState:
    store: Store
    config: Config
    faults: FaultSet = field(default_factory=FaultSet)
    requests: list[RecordedRequest] = field(default_factory=list)
    active: int = 0
    peak_concurrency: int = 0
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    semaphore: asyncio.Semaphore | None = None

    @property
    def root(self) -> str:
        return self.config.base_path

    @property
    def api(self) -> str:
        return self.config.base_path + "/api/v3"


STATE: web.AppKey[ServerState] = web.AppKey("openproject_fake_state", ServerState)
CTX_KEY: web.RequestKey[Ctx] = web.RequestKey("openproject_fake_ctx", Ctx)
ELEMENTS_KEY: web.RequestKey[int] = web.RequestKey("openproject_fake_elements", int)


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE]


def ctx_of(request: web.Request) -> Ctx:
    return request[CTX_KEY]


def hal(doc: JsonDict, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(doc),
        status=status,
        content_type=HAL_JSON,
        charset="utf-8",
        headers=headers,
    )


def error_response(exc: ApiError) -> web.Response:
    return hal(exc.body, exc.status, exc.headers or None)


def count_elements(request: web.Request, n: int) -> None:
    """Tell the latency middleware how many collection elements were rendered."""
    request[ELEMENTS_KEY] = request.get(ELEMENTS_KEY, 0) + n


def collection_response(request: web.Request, elements: list[JsonDict], href: str) -> web.Response:
    """An unpaginated collection, its elements counted for the latency middleware."""
    count_elements(request, len(elements))
    return hal(collection(elements, href))


async def json_body(request: web.Request) -> JsonDict:
    """The request body as a JSON object; an empty body counts as ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            400,
            "InvalidRequestBody",
            "The request body was not a single JSON object.",
            details={"parseError": exc.msg},
        ) from None
    if not isinstance(data, dict):
        raise invalid_body()
    return data


async def required_json_body(request: web.Request) -> JsonDict:
    raw = await request.read()
    if not raw.strip():
        raise invalid_body("The request body was empty.")
    return await json_body(request)


def notify_flag(request: web.Request) -> bool:
    return request.query.get("notify", "true").lower() not in ("false", "f", "0", "no")


def record_notification(request: web.Request) -> None:
    store = state_of(request).store
    if notify_flag(request):
        store.notifications_sent += 1
    else:
        store.notifications_suppressed += 1


def int_param(request: web.Request, name: str = "id") -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise ApiError(404, "NotFound", "The requested resource could not be found.")
    return int(value)


def by_id(request: web.Request, items: Mapping[int, T], what: str) -> T:
    """The item the URL's ``id`` names, or the 404 the real server gives for ``what``."""
    item = items.get(int_param(request))
    if item is None:
        raise not_found(what)
    return item
