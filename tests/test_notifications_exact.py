"""``notifications`` over MockTransport, exactly: every request's method, path, query and
body, for listing and for marking one, several or those matching filters.

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

from openproject_async import (
    HttpRequest,
    HttpResponse,
    OpenProject,
    ProtocolError,
    RetryPolicy,
    notifications,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test/sub"  # a sub-path deployment: the API is under /sub/api/v3
API = "/sub/api/v3"
NOTES = f"{API}/notifications"


def note(ident: int, read: bool) -> dict[str, Any]:
    rel = "unreadIAN" if read else "readIAN"
    tail = "unread_ian" if read else "read_ian"
    return {
        "_type": "Notification",
        "id": ident,
        "readIAN": read,
        "_links": {
            "self": {"href": f"{NOTES}/{ident}"},
            rel: {"href": f"{NOTES}/{ident}/{tail}", "method": "post"},
        },
    }


class Server:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any], Any]] = []
        self.page: Any = {
            "_type": "Collection",
            "total": 2,
            "count": 2,
            "_embedded": {"elements": [note(2, False), note(1, True)]},
        }
        self.failures = 0  # answer this many requests with a 503 first

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query: dict[str, Any] = dict(parse_qsl(request.url.query_string))
        if "filters" in query:
            query["filters"] = orjson.loads(query["filters"])
        body = orjson.loads(request.body) if request.body else None
        self.sent.append((request.method, request.url.path, query, body))
        if self.failures:
            self.failures -= 1
            return HttpResponse(503)
        if request.method == "GET":
            return HttpResponse.json(self.page)
        return HttpResponse(204)


@pytest.fixture
async def env() -> AsyncIterator[tuple[OpenProject, Server]]:
    server = Server()
    retry = RetryPolicy(backoff=0.001, max_backoff=0.001)
    transport = MockTransport(server)
    async with OpenProject(BASE, api_key="k", transport=transport, retry=retry) as op:
        yield op, server


Env = tuple[OpenProject, Server]


def flt(name: str, *values: str) -> dict[str, Any]:
    return {name: {"operator": "=", "values": list(values)}}


# -- listing ---------------------------------------------------------------------------------


async def test_list_without_filters(env: Env) -> None:
    op, server = env
    items = [n async for n in notifications.list_notifications(op)]
    assert [n["id"] for n in items] == [2, 1]
    assert server.sent == [("GET", NOTES, {"filters": [], "pageSize": "100"}, None)]


async def test_list_with_every_filter_in_order(env: Env) -> None:
    op, server = env
    project = op.wrap({"_type": "Project", "id": 3})
    raw = flt("actor", "5")
    got = notifications.list_notifications(
        op,
        read=True,
        reason=("mentioned", "dateAlert"),
        project=[project, 4],
        resource=7,
        filters=[raw],
        page_size=20,
    )
    assert [n["id"] async for n in got] == [2, 1]
    assert server.sent == [
        (
            "GET",
            NOTES,
            {
                "filters": [
                    raw,
                    flt("readIAN", "t"),
                    flt("reason", "mentioned", "dateAlert"),
                    flt("project", "3", "4"),
                    flt("resourceId", "7"),
                ],
                "pageSize": "20",
            },
            None,
        )
    ]


async def test_unread_passes_everything_on(env: Env) -> None:
    op, server = env
    wp = op.wrap({"_type": "WorkPackage", "id": 9})
    got = notifications.unread(
        op, reason="mentioned", project=2, resource=wp, filters=[flt("x", "1")], page_size=5
    )
    assert len([n async for n in got]) == 2
    assert server.sent[0][2] == {
        "filters": [
            flt("x", "1"),
            flt("readIAN", "f"),
            flt("reason", "mentioned"),
            flt("project", "2"),
            flt("resourceId", "9"),
        ],
        "pageSize": "5",
    }
    server.sent.clear()
    assert len([n async for n in notifications.unread(op)]) == 2
    assert server.sent == [
        ("GET", NOTES, {"filters": [flt("readIAN", "f")], "pageSize": "100"}, None)
    ]


async def test_sets_of_values(env: Env) -> None:
    op, server = env
    for values in ({"a"}, frozenset({"a"})):
        [n async for n in notifications.list_notifications(op, reason=values)]
    assert [s[2]["filters"] for s in server.sent] == [[flt("reason", "a")]] * 2


async def test_a_resource_without_an_id(env: Env) -> None:
    op, server = env
    nameless = op.wrap({"_type": "Project", "name": "x"})
    with pytest.raises(ValueError, match="has no id") as info:
        [n async for n in notifications.list_notifications(op, project=nameless)]
    assert str(info.value) == f"{nameless!r} has no id"
    assert server.sent == []


async def test_the_answer_must_be_a_collection(env: Env) -> None:
    op, server = env
    server.page = {"_type": "Notification", "id": 1}
    with pytest.raises(ProtocolError) as info:
        [n async for n in notifications.unread(op)]
    assert str(info.value) == "the notifications are not a collection (got <Notification #1>)"


# -- marking one ----------------------------------------------------------------------------


async def test_mark_one_through_its_own_link_with_retries(env: Env) -> None:
    op, server = env
    unread_one, read_one = op.wrap(note(2, False)), op.wrap(note(1, True))
    server.failures = 1
    await notifications.mark_read(op, unread_one)
    assert server.sent == [
        ("POST", f"{NOTES}/2/read_ian", {}, {}),
        ("POST", f"{NOTES}/2/read_ian", {}, {}),  # marking is idempotent: retried
    ]
    server.sent.clear()
    await notifications.mark_unread(op, read_one)
    assert server.sent == [("POST", f"{NOTES}/1/unread_ian", {}, {})]


async def test_mark_one_already_in_that_state(env: Env) -> None:
    op, server = env
    read_one, unread_one = op.wrap(note(1, True)), op.wrap(note(2, False))
    await notifications.mark_read(op, read_one)
    await notifications.mark_unread(op, unread_one)
    nulled = note(3, True)
    nulled["_links"]["readIAN"] = {"href": None}
    await notifications.mark_read(op, op.wrap(nulled))
    assert server.sent == []


@pytest.mark.parametrize(
    ("doc", "read", "message"),
    [
        ({"readIAN": False}, True, "has neither its readIAN link nor readIAN=True"),
        ({"readIAN": True}, False, "has neither its unreadIAN link nor readIAN=False"),
        ({}, True, "has neither its readIAN link nor readIAN=True"),
        ({}, False, "has neither its unreadIAN link nor readIAN=False"),
        ({"readIAN": 1}, True, "has neither its readIAN link nor readIAN=True"),
        (
            {"readIAN": False, "_links": {"readIAN": {"href": ""}}},
            True,
            "has neither its readIAN link nor readIAN=True",
        ),
        (
            {"readIAN": True, "_links": {"readIAN": {"href": "/x"}}},
            False,
            "has neither its unreadIAN link nor readIAN=False",
        ),
    ],
)
async def test_one_without_its_link(
    env: Env, doc: dict[str, Any], read: bool, message: str
) -> None:
    op, server = env
    odd = op.wrap({"_type": "Notification", "id": 9, **doc})
    mark = notifications.mark_read if read else notifications.mark_unread
    with pytest.raises(ProtocolError) as info:
        await mark(op, odd)
    assert str(info.value) == f"{odd!r} {message}"
    assert server.sent == []


# -- marking several ------------------------------------------------------------------------


async def test_mark_several_in_one_bulk_request(env: Env) -> None:
    op, server = env
    server.failures = 1
    await notifications.mark_read(op, [op.wrap(note(2, False)), 5, "6"])
    bulk = ("POST", f"{NOTES}/read_ian", {"filters": [flt("id", "2", "5", "6")]}, {})
    assert server.sent == [bulk, bulk]  # retried
    server.sent.clear()
    await notifications.mark_unread(op, (n for n in [7]))
    assert server.sent == [("POST", f"{NOTES}/unread_ian", {"filters": [flt("id", "7")]}, {})]


async def test_mark_by_filters(env: Env) -> None:
    op, server = env
    alerts = flt("reason", "dateAlert")
    await notifications.mark_read(op, filters=[alerts])
    await notifications.mark_unread(op, filters=[])
    assert server.sent == [
        ("POST", f"{NOTES}/read_ian", {"filters": [alerts]}, {}),
        ("POST", f"{NOTES}/unread_ian", {"filters": []}, {}),
    ]


async def test_mark_nothing(env: Env) -> None:
    op, server = env
    await notifications.mark_read(op, [])
    await notifications.mark_unread(op, ())
    assert server.sent == []


@pytest.mark.parametrize("mark", [notifications.mark_read, notifications.mark_unread])
async def test_marking_checks_its_arguments_exactly(env: Env, mark: Any) -> None:
    op, server = env
    with pytest.raises(TypeError) as info:
        await mark(op)
    assert str(info.value) == (
        "give the notifications to mark, or filters= (filters=[] marks all of them)"
    )
    with pytest.raises(TypeError) as info:
        await mark(op, [1], filters=[])
    assert str(info.value) == "give notifications or filters=, not both"
    with pytest.raises(TypeError) as info:
        await mark(op, op.wrap(note(1, False)), filters=[])
    assert str(info.value) == "give notifications or filters=, not both"
    for text in ("12", b"12"):
        with pytest.raises(TypeError) as info:
            await mark(op, text)
        assert str(info.value) == "give notifications as resources or ids, not a string"
    nameless = op.wrap({"_type": "Notification"})
    with pytest.raises(ValueError, match="has no id") as info:
        await mark(op, [nameless])
    assert str(info.value) == f"{nameless!r} has no id"
    assert server.sent == []
