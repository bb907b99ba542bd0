"""Custom actions without sockets (``MockTransport``): how the action is found (title, href,
Link, resource; embedded or fetched), the exact POST, conflicts and ``retry_conflicts``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from openproject_async import HttpRequest, HttpResponse, Link, OpenProject, Resource
from openproject_async.errors import (
    URN_PREFIX,
    ActionUnavailable,
    NotFound,
    ProtocolError,
    UpdateConflict,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
API = "/api/v3"
WP_HREF = f"{API}/work_packages/42"


def custom_action(cid: int, name: str) -> dict[str, Any]:
    return {
        "_type": "CustomAction",
        "id": cid,
        "name": name,
        "_links": {
            "self": {"href": f"{API}/custom_actions/{cid}", "title": name},
            "executeImmediately": {
                "href": f"{API}/custom_actions/{cid}/execute",
                "method": "post",
            },
        },
    }


def work_package(lock: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "_type": "WorkPackage",
        "id": 42,
        "lockVersion": lock,
        "subject": "Task",
        "_links": {
            "self": {"href": WP_HREF},
            "customActions": [
                {"href": f"{API}/custom_actions/1", "title": "Reset"},
                {"href": f"{API}/custom_actions/2", "title": "Close"},
            ],
        },
        **extra,
    }


CONFLICT = {
    "_type": "Error",
    "errorIdentifier": URN_PREFIX + "UpdateConflict",
    "message": "Your changes could not be saved because the resource was changed meanwhile.",
}


class Server:
    """Custom actions 1 and 2; ``execute`` answers each POST to an execute link in turn."""

    def __init__(self, execute: list[Callable[[], HttpResponse]] | None = None) -> None:
        self.execute = execute or []
        self.lock = 3
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.url.path
        if request.method == "GET" and path == f"{API}/custom_actions/1":
            return HttpResponse.json(custom_action(1, "Reset"))
        if request.method == "GET" and path == f"{API}/custom_actions/2":
            return HttpResponse.json(custom_action(2, "Close"))
        if request.method == "GET" and path == WP_HREF:
            self.lock += 1
            return HttpResponse.json(work_package(self.lock))
        if request.method == "POST" and path.endswith("/execute"):
            if self.execute:
                return self.execute.pop(0)()
            return HttpResponse.json(work_package(self.lock + 1, subject="Closed"))
        return HttpResponse.json(
            {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound"}, 404
        )

    def calls(self) -> list[tuple[str, str, Any]]:
        return [
            (r.method, str(r.url), None if r.body is None else orjson.loads(r.body))
            for r in self.transport.requests
        ]


def executed(cid: int, lock: int, query: str = "") -> tuple[str, str, Any]:
    return (
        "POST",
        f"{BASE}{API}/custom_actions/{cid}/execute{query}",
        {"lockVersion": lock, "_links": {"workPackage": {"href": WP_HREF}}},
    )


def fetched(cid: int) -> tuple[str, str, None]:
    return ("GET", f"{BASE}{API}/custom_actions/{cid}", None)


async def session(server: Server) -> OpenProject:
    return OpenProject(BASE, api_key="k", retry=None, transport=server.transport)


# -- finding the action -------------------------------------------------------------------------


async def test_by_title_without_case_and_with_notify() -> None:
    server = Server()
    async with await session(server) as op:
        done = await op.wrap(work_package()).execute_custom_action("cLOSE", notify=False)
    assert (type(done), done.subject, done.lockVersion) == (Resource, "Closed", 4)
    assert server.calls() == [fetched(2), executed(2, 3, "?notify=false")]


async def test_by_href_link_and_resource() -> None:
    server = Server()
    async with await session(server) as op:
        wp = op.wrap(work_package())
        await wp.execute_custom_action(f"{API}/custom_actions/1")
        await wp.execute_custom_action(Link("customAction", {"href": f"{API}/custom_actions/2"}))
        await wp.execute_custom_action(op.wrap(custom_action(1, "Reset")))
    assert server.calls() == [
        fetched(1),
        executed(1, 3),
        fetched(2),
        executed(2, 3),
        executed(1, 3),  # the resource given: nothing fetched
    ]


async def test_an_href_not_listed_is_fetched() -> None:
    server = Server()
    async with await session(server) as op:
        wp = op.wrap(work_package(_links={"self": {"href": WP_HREF}}))
        await wp.execute_custom_action(f"{BASE}{API}/custom_actions/2")
    assert server.calls() == [fetched(2), executed(2, 3)]


async def test_an_embedded_action_is_used_without_a_request() -> None:
    server = Server()
    doc = work_package(
        _embedded={
            "customActions": [
                "not a document",
                {"_type": "CustomAction"},
                {"_links": {"self": {}}},
                custom_action(1, "Reset"),
                custom_action(2, "Close"),
            ]
        }
    )
    async with await session(server) as op:
        await op.wrap(doc).execute_custom_action("Close")
    assert server.calls() == [executed(2, 3)]


async def test_embedded_actions_that_are_not_a_list_are_ignored() -> None:
    server = Server()
    doc = work_package(_embedded={"customActions": custom_action(2, "Close")})
    async with await session(server) as op:
        await op.wrap(doc).execute_custom_action("Close")
    assert server.calls() == [fetched(2), executed(2, 3)]


async def test_an_unknown_title_lists_the_actions() -> None:
    server = Server()
    doc = work_package()
    doc["_links"]["customActions"] += [{"href": f"{API}/custom_actions/3"}, {"href": None}]
    async with await session(server) as op:
        wp = op.wrap(doc)
        with pytest.raises(ActionUnavailable) as info:
            await wp.execute_custom_action("Escalate")
    err = info.value
    assert (err.rel, err.actions) == (
        "Escalate",
        ["Reset", "Close", f"{API}/custom_actions/3", "?"],
    )
    assert str(err).startswith(
        f"<WorkPackage #42 {WP_HREF}> has no link 'Escalate': the server does not offer it now"
    )
    assert server.calls() == []


async def test_an_empty_title_runs_no_untitled_action() -> None:
    # before the fix, "" matched the first link without a title and ran that action
    server = Server()
    doc = work_package()
    doc["_links"]["customActions"] = [{"href": f"{API}/custom_actions/1"}]
    async with await session(server) as op:
        with pytest.raises(ActionUnavailable) as info:
            await op.wrap(doc).execute_custom_action("")
    assert (info.value.rel, info.value.actions) == ("", [f"{API}/custom_actions/1"])
    assert server.calls() == []


async def test_a_title_with_a_null_href_is_not_a_match() -> None:
    server = Server()
    doc = work_package()
    doc["_links"]["customActions"] = [{"href": None, "title": "Close"}]
    async with await session(server) as op:
        with pytest.raises(ActionUnavailable) as info:
            await op.wrap(doc).execute_custom_action("Close")
    assert info.value.actions == ["Close"]


async def test_a_single_custom_action_link_is_not_a_list() -> None:
    server = Server()
    doc = work_package()
    doc["_links"]["customActions"] = {"href": f"{API}/custom_actions/2", "title": "Close"}
    async with await session(server) as op:
        with pytest.raises(ActionUnavailable) as info:
            await op.wrap(doc).execute_custom_action("Close")
    assert info.value.actions == []


async def test_unusable_actions() -> None:
    server = Server()
    async with await session(server) as op:
        wp = op.wrap(work_package())
        with pytest.raises(TypeError) as wrong:
            await wp.execute_custom_action(2)
        with pytest.raises(ProtocolError) as no_href:
            await wp.execute_custom_action(Link("customAction", {"href": None}))
    assert str(wrong.value) == (
        "give the custom action as its title, a CustomAction resource, a Link or an href, not int"
    )
    assert str(no_href.value) == "the custom action link has no href"
    assert server.calls() == []


async def test_an_action_that_answers_nothing() -> None:
    transport = MockTransport(lambda request: HttpResponse(204))
    async with OpenProject(BASE, api_key="k", retry=None, transport=transport) as op:
        with pytest.raises(ProtocolError) as info:
            await op.wrap(work_package()).execute_custom_action(f"{API}/custom_actions/9")
    assert str(info.value) == f"empty answer to GET; from {BASE}{API}/custom_actions/9"


async def test_an_execution_that_answers_nothing() -> None:
    server = Server([lambda: HttpResponse(204)])
    async with await session(server) as op:
        with pytest.raises(ProtocolError) as info:
            await op.wrap(work_package()).execute_custom_action("Close")
    assert str(info.value) == "the custom action answered with no work package"


# -- conflicts ----------------------------------------------------------------------------------


def conflict() -> HttpResponse:
    return HttpResponse.json(CONFLICT, 409)


async def test_a_conflict_is_raised_without_retry_conflicts() -> None:
    server = Server([conflict])
    async with await session(server) as op:
        with pytest.raises(UpdateConflict):
            await op.wrap(work_package()).execute_custom_action("Close")
    assert server.calls() == [fetched(2), executed(2, 3)]


async def test_retry_conflicts_reads_again_and_runs_again() -> None:
    server = Server([conflict, conflict])
    async with await session(server) as op:
        done = await op.wrap(work_package()).execute_custom_action(
            "Close", retry_conflicts=2, notify=False
        )
    assert done.lockVersion == 6
    assert server.calls() == [
        fetched(2),
        executed(2, 3, "?notify=false"),
        ("GET", f"{BASE}{WP_HREF}", None),
        executed(2, 4, "?notify=false"),
        ("GET", f"{BASE}{WP_HREF}", None),
        executed(2, 5, "?notify=false"),
    ]


async def test_retry_conflicts_gives_up_after_n() -> None:
    server = Server([conflict, conflict])
    async with await session(server) as op:
        with pytest.raises(UpdateConflict):
            await op.wrap(work_package()).execute_custom_action("Close", retry_conflicts=1)
    assert [c[0] for c in server.calls()] == ["GET", "POST", "GET", "POST"]


async def test_other_errors_are_not_retried() -> None:
    def missing() -> HttpResponse:
        return HttpResponse.json(
            {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound"}, 404
        )

    server = Server([missing])
    async with await session(server) as op:
        with pytest.raises(NotFound):
            await op.wrap(work_package()).execute_custom_action("Close", retry_conflicts=3)
    assert len(server.calls()) == 2


async def test_retry_conflicts_must_not_be_negative() -> None:
    server = Server()
    async with await session(server) as op:
        with pytest.raises(ValueError, match=r"^retry_conflicts must be 0 or more$"):
            await op.wrap(work_package()).execute_custom_action("Close", retry_conflicts=-1)
    assert server.calls() == []
