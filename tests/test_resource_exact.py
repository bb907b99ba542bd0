"""Resource over MockTransport, exactly: which request each link use sends, and the result.

Written against mutation testing (README, "Development"): every test states the method,
path, query and body on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

from openproject_async import (
    Collection,
    HttpRequest,
    HttpResponse,
    OpenProject,
    Resource,
)
from openproject_async._resource import wrap
from openproject_async.errors import (
    ActionUnavailable,
    LinkError,
    NotAnAPIResource,
    NotVisible,
    ProtocolError,
    UnexpectedResource,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
WP_HREF = "/api/v3/work_packages/7"

WP: dict[str, Any] = {
    "_type": "WorkPackage",
    "id": 7,
    "subject": "S",
    "lockVersion": 3,
    "_embedded": {
        "status": {"_type": "Status", "id": 1, "_links": {"self": {"href": "/api/v3/statuses/1"}}},
        "type": {"_type": "Type", "id": 2, "_links": {"self": {"href": "/api/v3/types/other"}}},
        "watchers": [{"_type": "User", "id": 1}, {"_type": "User", "id": 2}],
    },
    "_links": {
        "self": {"href": WP_HREF},
        "status": {"href": "/api/v3/statuses/1"},
        "type": {"href": "/api/v3/types/2"},
        "project": {"href": "/api/v3/projects/1"},
        "assignee": {"href": None},
        "parent": {"href": "urn:openproject-org:api:v3:undisclosed"},
        "move": {"href": "/work_packages/7/move/new", "type": "text/html"},
        "children": [
            {"href": "/api/v3/work_packages/8"},
            {"href": None},
            {"href": "urn:openproject-org:api:v3:undisclosed"},
            {"href": "/api/v3/work_packages/9"},
        ],
        "watchers": [{"href": "/api/v3/users/1"}, {"href": "/api/v3/users/2"}],
        "ancestors": [{"href": "/api/v3/work_packages/1", "type": "text/html"}],
        "activities": {"href": "/api/v3/work_packages/7/activities"},
        "watcher": {"href": "/api/v3/work_packages/7/watchers/{user_id}", "templated": True},
        "addWatcher": {
            "href": "/api/v3/work_packages/7/watchers",
            "method": "post",
            "payload": {"user": {"href": "/api/v3/users/{user_id}"}},
            "templated": True,
        },
        "removeWatcher": {
            "href": "/api/v3/work_packages/7/watchers/{user_id}",
            "method": "delete",
            "templated": True,
        },
        "addComment": {"href": "/api/v3/work_packages/7/activities", "method": "post"},
        "updateImmediately": {"href": WP_HREF, "method": "patch"},
        "delete": {"href": WP_HREF, "method": "delete"},
        "lock": {"href": None, "method": "post"},
        "headLink": {"href": "/api/v3/x", "method": "head"},
        "getAction": {"href": "/api/v3/things", "method": "get"},
        "postAction": {"href": "/api/v3/things/do", "method": "post"},
        "text": {"href": "/api/v3/render/markdown", "method": "post"},
        "schema": {"href": "/api/v3/work_packages/schemas/1-2"},
    },
}

PAGE = {"_type": "Collection", "total": 0, "count": 0, "_embedded": {"elements": []}}


class Server:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], HttpResponse] = {}
        self.requests: list[HttpRequest] = []

    def on(self, method: str, path: str, doc: Any, status: int = 200) -> None:
        if doc is None:
            self.answers[(method, path)] = HttpResponse(status)
        elif isinstance(doc, str):
            self.answers[(method, path)] = HttpResponse(
                status, {"Content-Type": "text/html"}, body=doc.encode()
            )
        else:
            self.answers[(method, path)] = HttpResponse.json(doc, status)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key in self.answers:
            return self.answers[key]
        return HttpResponse.json({"_type": "Thing", "path": request.url.path_qs})

    def sent(self) -> list[tuple[str, str, dict[str, str], Any]]:
        out = []
        for r in self.requests:
            body = orjson.loads(r.body) if isinstance(r.body, bytes) and r.body else r.body
            out.append((r.method, r.url.raw_path, dict(parse_qsl(r.url.query_string)), body))
        return out


@pytest.fixture
async def env() -> AsyncIterator[tuple[OpenProject, Server, Resource]]:
    server = Server()
    async with OpenProject(BASE, api_key="k", transport=MockTransport(server), retry=None) as op:
        yield op, server, op.wrap(orjson.loads(orjson.dumps(WP)))


Env = tuple[OpenProject, Server, Resource]


def test_wrap_refuses_what_is_not_an_object() -> None:
    with pytest.raises(ProtocolError) as info:
        wrap(None, [1])  # type: ignore[arg-type]
    assert str(info.value) == "expected a HAL object, got list"


async def test_wrap_picks_the_registered_class(env: Env) -> None:
    op, _, wp = env
    assert type(wp) is Resource
    assert type(wrap(op, PAGE)) is Collection
    assert wp.session is op


async def test_attributes(env: Env) -> None:
    _, server, wp = env
    assert wp.subject == "S"
    assert wp.lockVersion == 3
    with pytest.raises(ActionUnavailable) as info:
        _ = wp._embedded  # a HAL key, not a property
    assert info.value.rel == "_embedded"
    with pytest.raises(AttributeError):
        _ = wp.__wrapped__
    with pytest.raises(ActionUnavailable) as info:
        _ = wp.project  # a relation is followed, not an attribute
    assert str(info.value).startswith("WorkPackage #7 has no link 'project'")
    bound = wp.addComment
    assert bound.__name__ == "addComment"
    assert bound.__doc__ == "POST /api/v3/work_packages/7/activities (link 'addComment')"
    await bound(comment="hi")
    assert server.sent() == [
        ("POST", "/api/v3/work_packages/7/activities", {}, {"comment": {"raw": "hi"}})
    ]


async def test_dir_lists_properties_and_actions(env: Env) -> None:
    _, _, wp = env
    names = dir(wp)
    assert {"subject", "lockVersion", "id", "addWatcher", "delete", "follow"} <= set(names)
    assert "_embedded" not in names
    assert "project" not in names
    assert names == sorted(names)


async def test_follow_uses_an_embedded_copy_when_it_is_the_target(env: Env) -> None:
    _, server, wp = env
    status = await wp.follow("status")
    assert isinstance(status, Resource)
    assert status.data == WP["_embedded"]["status"]
    watchers = await wp.follow("watchers")
    assert [w.data for w in watchers] == WP["_embedded"]["watchers"]  # type: ignore[union-attr]
    assert server.requests == []


async def test_follow_requests_when_the_embedded_copy_is_another_resource(env: Env) -> None:
    _, server, wp = env
    got = await wp.follow("type")
    assert got.data == {"_type": "Thing", "path": "/api/v3/types/2"}  # type: ignore[union-attr]
    assert server.sent() == [("GET", "/api/v3/types/2", {}, None)]


async def test_follow_with_a_query_skips_the_embedded_copy(env: Env) -> None:
    _, server, wp = env
    await wp.follow("status", params={"a": 1})
    await wp.follow("status", b=True)
    assert server.sent() == [
        ("GET", "/api/v3/statuses/1", {"a": "1"}, None),
        ("GET", "/api/v3/statuses/1", {"b": "true"}, None),
    ]


async def test_follow_null_undisclosed_and_html(env: Env) -> None:
    _, server, wp = env
    assert await wp.follow("assignee") is None
    with pytest.raises(NotVisible) as info:
        await wp.follow("parent")
    assert str(info.value) == (
        "link 'parent' points to a resource you may not see "
        "(href urn:openproject-org:api:v3:undisclosed)"
    )
    with pytest.raises(NotAnAPIResource) as html:
        await wp.follow("move")
    assert str(html.value) == (
        "link 'move' targets text/html (/work_packages/7/move/new), not an API resource; "
        "open it in a browser or download it instead"
    )
    with pytest.raises(NotAnAPIResource):
        await wp.follow("ancestors")
    assert server.requests == []


async def test_follow_an_array_lines_up_with_the_links(env: Env) -> None:
    _, server, wp = env
    got = await wp.follow("children", params={"p": 1})
    assert isinstance(got, list)
    assert [None if r is None else r["path"] for r in got] == [
        "/api/v3/work_packages/8?p=1",
        None,
        None,
        "/api/v3/work_packages/9?p=1",
    ]
    assert [s[:3] for s in server.sent()] == [
        ("GET", "/api/v3/work_packages/8", {"p": "1"}),
        ("GET", "/api/v3/work_packages/9", {"p": "1"}),
    ]


async def test_follow_an_array_with_a_query_skips_the_embedded_copies(env: Env) -> None:
    _, server, wp = env
    await wp.follow("watchers", x=1)
    assert [s[:3] for s in server.sent()] == [
        ("GET", "/api/v3/users/1", {"x": "1"}),
        ("GET", "/api/v3/users/2", {"x": "1"}),
    ]


async def test_follow_templates(env: Env) -> None:
    _, server, wp = env
    await wp.follow("watcher", user_id="a/b")
    await wp.follow("watcher", user=wp)
    assert [s[:3] for s in server.sent()] == [
        ("GET", "/api/v3/work_packages/7/watchers/a%2Fb", {}),
        ("GET", "/api/v3/work_packages/7/watchers/7", {}),
    ]


async def test_follow_expect(env: Env) -> None:
    _op, server, wp = env
    server.on("GET", "/api/v3/work_packages/7/activities", PAGE)
    assert isinstance(await wp.follow("activities", expect=Collection), Collection)
    with pytest.raises(UnexpectedResource) as info:
        await wp.follow("project", expect=Collection)
    assert str(info.value) == (
        "WorkPackage #7 link 'project': expected a Collection, got a Resource (Thing)"
    )


async def test_follow_an_action_link_uses_it(env: Env) -> None:
    _, server, wp = env
    got = await wp.follow("postAction", a=1)
    assert got["path"] == "/api/v3/things/do"  # type: ignore[index]
    assert server.sent() == [("POST", "/api/v3/things/do", {}, {"a": 1})]
    server.on("POST", "/api/v3/render/markdown", "<p>x</p>")
    with pytest.raises(LinkError) as info:
        await wp.follow("text", text="x")
    assert str(info.value) == "'text' answers with text, not a resource: use action()"


async def test_action_bodies_and_queries(env: Env) -> None:
    _, server, wp = env
    server.on("POST", "/api/v3/work_packages/7/watchers", None, 204)
    server.on("DELETE", "/api/v3/work_packages/7/watchers/5", None, 204)
    assert await wp.action("addWatcher", user_id=5, notify=False) is None
    assert await wp.action("removeWatcher", user_id=5) is None
    await wp.action("updateImmediately", subject="T", notify=True)
    await wp.action("postAction", json={"raw": [1]})
    await wp.action("getAction", a="x y", b=2)
    await wp.action("headLink", params={"q": 1})
    assert server.sent() == [
        (
            "POST",
            "/api/v3/work_packages/7/watchers",
            {"notify": "false"},
            {"user": {"href": "/api/v3/users/5"}},
        ),
        ("DELETE", "/api/v3/work_packages/7/watchers/5", {}, None),
        ("PATCH", WP_HREF, {"notify": "true"}, {"subject": "T", "lockVersion": 3}),
        ("POST", "/api/v3/things/do", {}, {"raw": [1]}),
        ("GET", "/api/v3/things", {"a": "x y", "b": "2"}, None),
        ("HEAD", "/api/v3/x", {"q": "1"}, None),
    ]


async def test_action_argument_errors(env: Env) -> None:
    _, server, wp = env
    with pytest.raises(TypeError) as info:
        await wp.action("postAction", 1)
    assert str(info.value) == "'postAction' takes keyword arguments only"
    with pytest.raises(TypeError) as info:
        await wp.action("postAction", json={}, a=1)
    assert str(info.value) == "give either json= or keyword values for the body, not both"
    with pytest.raises(LinkError) as arr:
        await wp.action("children")
    assert str(arr.value) == (
        "'children' is a link array of 4, not one action; use one of its links "
        "(resource.links[rel][i])"
    )
    with pytest.raises(ActionUnavailable) as unavailable:
        await wp.action("lock")
    assert unavailable.value.rel == "lock"
    with pytest.raises(NotVisible):
        await wp.action("parent")
    assert server.requests == []


async def test_delete_and_refresh(env: Env) -> None:
    op, server, wp = env
    server.on("DELETE", WP_HREF, None, 204)
    assert await wp.delete() is None
    fresh = await wp.refresh()
    assert fresh is not wp
    assert [s[:2] for s in server.sent()] == [("DELETE", WP_HREF), ("GET", WP_HREF)]
    with pytest.raises(ActionUnavailable) as info:
        await op.wrap({"_type": "Root"}).refresh()
    assert info.value.rel == "self"


async def test_load_schema_needs_the_link(env: Env) -> None:
    op, server, _ = env
    with pytest.raises(ActionUnavailable) as info:
        await op.wrap({"_type": "X", "_links": {"self": {"href": "/x"}}}).load_schema()
    assert info.value.rel == "schema"
    assert server.requests == []


async def test_delete_passes_its_arguments(env: Env) -> None:
    _, server, wp = env
    server.on("DELETE", WP_HREF, None, 204)
    await wp.delete(notify=False)
    assert server.sent() == [("DELETE", WP_HREF, {"notify": "false"}, None)]


async def test_refresh_without_self_names_the_resource(env: Env) -> None:
    op, _, _ = env
    root = op.wrap({"_type": "Root", "_links": {"configuration": {"href": "/c"}}})
    with pytest.raises(ActionUnavailable) as info:
        await root.refresh()
    assert (info.value.rel, info.value.relations) == ("self", ["configuration"])
    assert str(info.value).startswith("Root has no link 'self'")


UPDATE_FORM = {
    "_type": "Form",
    "_embedded": {
        "payload": {"subject": "S", "lockVersion": 3, "customField1": None, "_links": {}},
        "schema": {
            "_type": "Schema",
            "subject": {"type": "String", "name": "Subject"},
            "lockVersion": {"type": "Integer", "name": "Lock"},
            "customField1": {"type": "Integer", "name": "Story points"},
        },
        "validationErrors": {},
    },
    "_links": {"commit": {"href": WP_HREF, "method": "patch"}},
}


async def test_save_and_update_pass_every_argument(env: Env) -> None:
    op, server, _ = env
    update = {"href": "/api/v3/work_packages/7/form", "method": "post"}
    wp = op.wrap(orjson.loads(orjson.dumps({**WP, "_links": {**WP["_links"], "update": update}})))
    server.on("POST", "/api/v3/work_packages/7/form", UPDATE_FORM)
    server.on("GET", "/api/v3/work_packages/schemas/1-2", UPDATE_FORM["_embedded"]["schema"])
    server.on("PATCH", WP_HREF, {**WP, "subject": "T"})
    saved = await wp.save(fields={"Story points": 5}, notify=False, retry=True, subject="T")
    assert saved["subject"] == "T"
    form = await wp.update(fields={"Story points": 8}, timeout=9)
    assert form.resource_type == "Form"
    # no schema cached: the first POST places what it can, the form's schema finds
    # "Story points" and the second POST carries it; no schema GET
    form_href = "/api/v3/work_packages/7/form"
    assert server.sent() == [
        ("POST", form_href, {}, {"lockVersion": 3, "subject": "T"}),
        ("POST", form_href, {}, {"lockVersion": 3, "subject": "T", "customField1": 5}),
        (
            "PATCH",
            WP_HREF,
            {"notify": "false"},
            {"lockVersion": 3, "subject": "T", "customField1": 5},
        ),
        ("POST", form_href, {}, {"lockVersion": 3}),
        ("POST", form_href, {}, {"lockVersion": 3, "customField1": 8}),
    ]
    assert server.requests[-1].timeout.total == 9.0


async def test_save_retry_true_lets_the_commit_be_sent_again() -> None:
    from openproject_async import RetryPolicy

    server = Server()
    answers = iter([HttpResponse.json({"_type": "Error", "message": "busy"}, 503)])

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "PATCH":
            server.requests.append(request)
            return next(answers, HttpResponse.json(WP))
        return server(request)

    server.on("POST", "/api/v3/work_packages/7/form", UPDATE_FORM)
    server.on("GET", "/api/v3/work_packages/schemas/1-2", UPDATE_FORM["_embedded"]["schema"])
    policy = RetryPolicy(attempts=2, backoff=0, max_backoff=0)
    update = {"href": "/api/v3/work_packages/7/form", "method": "post"}
    doc = orjson.loads(orjson.dumps({**WP, "_links": {**WP["_links"], "update": update}}))
    async with OpenProject(BASE, transport=MockTransport(handler), retry=policy) as op:
        await op.wrap(doc).save(retry=True, subject="T")
    assert [r.method for r in server.requests if r.method == "PATCH"] == ["PATCH", "PATCH"]


async def test_load_schema_with_a_null_schema_link(env: Env) -> None:
    op, server, _ = env
    doc = {"_type": "X", "_links": {"self": {"href": "/x"}, "schema": {"href": None}}}
    with pytest.raises(ActionUnavailable) as info:
        await op.wrap(doc).load_schema()
    assert (info.value.rel, info.value.actions, info.value.relations) == (
        "schema",
        [],
        ["self", "schema"],
    )
    assert str(info.value).startswith("X has no link 'schema'")
    assert server.requests == []


async def test_following_an_action_link_passes_values_query_and_call_options() -> None:
    from openproject_async import RetryPolicy

    server = Server()
    failures = iter([HttpResponse.json({"_type": "Error", "message": "busy"}, 503)])

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            server.requests.append(request)
            return next(failures, HttpResponse.json(DOC_DONE))
        return server(request)

    doc = {
        "_type": "X",
        "_links": {
            "self": {"href": "/x"},
            "run": {"href": "/api/v3/things/{id}/run", "method": "post", "templated": True},
        },
    }
    policy = RetryPolicy(attempts=2, backoff=0, max_backoff=0)
    async with OpenProject(BASE, transport=MockTransport(handler), retry=policy) as op:
        got = await op.wrap(doc).follow(
            "run", id=3, params={"p": 1}, timeout=5, retry=True, extra="e"
        )
    assert got["done"] is True  # type: ignore[index]
    assert [
        (r.method, r.url.raw_path, r.url.query_string, orjson.loads(r.body), r.timeout.total)
        for r in server.requests
    ] == [("POST", "/api/v3/things/3/run", "p=1", {"extra": "e"}, 5.0)] * 2


DOC_DONE = {"_type": "Thing", "done": True}


async def test_missing_links_say_what_the_resource_offers(env: Env) -> None:
    _, _, wp = env
    with pytest.raises(AttributeError) as dunder:
        _ = wp.__wrapped__
    assert type(dunder.value) is AttributeError
    assert dunder.value.args == ("__wrapped__",)
    actions = wp.actions()
    relations = wp.relations()
    with pytest.raises(ActionUnavailable) as attr:
        _ = wp.nope
    with pytest.raises(ActionUnavailable) as null:
        await wp.action("lock")
    for e, rel in ((attr.value, "nope"), (null.value, "lock")):
        assert (e.rel, e.actions, e.relations) == (rel, actions, relations)
    assert str(null.value).startswith("WorkPackage #7 has no link 'lock'")
    assert str(attr.value).startswith("WorkPackage #7 has neither a property nor a link 'nope'")


async def test_a_reference_given_for_a_template_variable_is_sent_as_its_href(env: Env) -> None:
    op, server, wp = env
    user = op.wrap(
        {"_type": "User", "id": 8, "_links": {"self": {"href": f"{BASE}/api/v3/users/8"}}}
    )
    server.on("POST", "/api/v3/work_packages/7/watchers", None, 204)
    await wp.action("addWatcher", user=user)
    assert server.sent() == [
        (
            "POST",
            "/api/v3/work_packages/7/watchers",
            {},
            {"user": {"href": "https://op.test/api/v3/users/8"}},
        )
    ]


async def test_head_and_get_actions_send_keywords_as_the_query(env: Env) -> None:
    _, server, wp = env
    await wp.action("headLink", a=1)
    assert server.sent() == [("HEAD", "/api/v3/x", {"a": "1"}, None)]


async def test_special_links_get_the_call_options(env: Env) -> None:
    _, server, wp = env
    server.on("POST", "/api/v3/render/markdown", "<p>x</p>")
    assert await wp.action("text", "*x*", timeout=7) == "<p>x</p>"
    assert server.requests[0].timeout.total == 7.0
