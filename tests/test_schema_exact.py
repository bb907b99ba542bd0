"""Schema and Field, exactly: properties, placement order, lookup by name, allowed values.

Written against mutation testing (README, "Development"); requests go to a MockTransport
handler and are asserted exactly.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from openproject_async import HttpRequest, HttpResponse, Link, OpenProject, Resource, Schema
from openproject_async.errors import ProtocolError, SchemaNotLoaded, UnknownField, UnknownValue
from openproject_async.testing import MockTransport

BASE = "https://op.test"


def f(ftype: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": ftype, **extra}
    if name is not None:
        raw["name"] = name
    return raw


DOC: dict[str, Any] = {
    "_type": "Schema",
    "_links": {"self": {"href": "/api/v3/work_packages/schemas/1-2"}},
    "_dependencies": [],
    "subject": f("String", "Subject", required=True, writable=True, hasDefault=False),
    "lockVersion": f("Integer", "Lock Version", writable=False),
    "description": f("Formattable", "Description", hasDefault=True),
    "watchers": f("[]User", "Watchers"),
    "widgets": f("[]GridWidget", "Widgets"),
    "lowercase": f("thing", "Lower"),
    "untyped": f("", "Untyped"),
    "assignee": f(
        "User",
        "Assignee",
        _links={
            "allowedValues": [
                {"href": "/api/v3/users/1", "title": "Ann"},
                {"href": "/api/v3/users/2", "title": "Bob"},
            ]
        },
    ),
    "responsible": f(
        "User",
        "Accountable",
        _links={"allowedValues": [{"href": "/api/v3/users/1"}, {"href": "/api/v3/users/3"}]},
    ),
    "type": f("Type", "Type", _links={"allowedValues": {"href": "/api/v3/types?x=1"}}),
    "status": f(
        "Status",
        "Status",
        _embedded={
            "allowedValues": [
                {"_type": "Status", "name": "New", "_links": {"self": {"href": "/s/1"}}},
                {"_type": "Status", "name": "Closed", "_links": {"self": {"href": "/s/2"}}},
                {"_type": "Status", "name": "Nameless"},
                "not a document",
            ]
        },
    ),
    "customField1": f("Integer", "Story points"),
    "customField2": f("CustomOption", "Colour", _embedded={"allowedValues": []}),
    "customField3": f("String", "Size", allowedValues=["S", "M"], location="_meta"),
    "customField4": f("String", "Dup"),
    "customField5": f("String", "Dup"),
    "customField6": f("String", "subject"),
    "priority": f("Priority", None, location="_links"),
    "oddLocation": f("String", "Odd", location=5),
    "notAField": {"name": "no type"},
    "_private": f("String", "Private"),
}

TYPES_PAGE = {
    "_type": "Collection",
    "total": 2,
    "count": 2,
    "pageSize": 2,
    "offset": 1,
    "_embedded": {
        "elements": [
            {"_type": "Type", "name": "Task", "_links": {"self": {"href": "/api/v3/types/1"}}},
            {"_type": "Type", "name": "Bug", "_links": {"self": {"href": "/api/v3/types/2"}}},
        ]
    },
    "_links": {"self": {"href": "/api/v3/types?x=1&pageSize=-1"}},
}


class Handler:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.table: dict[str, Any] = {"/api/v3/types": TYPES_PAGE}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.url.path
        self.requests.append((request.method, path, dict(parse_qsl(request.url.query_string))))
        if path in self.table:
            return HttpResponse.json(self.table[path])
        user = re.fullmatch(r"/api/v3/users/(\d+)", path)
        if user:
            n = user.group(1)
            return HttpResponse.json(
                {
                    "_type": "User",
                    "name": f"User {n}",
                    "login": f"u{n}",
                    "_links": {"self": {"href": path}},
                }
            )
        return HttpResponse.json({"_type": "Thing", "_links": {"self": {"href": path}}})


@pytest.fixture
async def env() -> AsyncIterator[tuple[OpenProject, Handler, Schema]]:
    handler = Handler()
    async with OpenProject(BASE, api_key="k", transport=MockTransport(handler), retry=None) as op:
        schema = op.wrap(DOC)
        assert isinstance(schema, Schema)
        yield op, handler, schema


Env = tuple[OpenProject, Handler, Schema]


async def test_fields_are_the_typed_non_hal_keys(env: Env) -> None:
    _, _, s = env
    assert list(s.fields) == [
        "subject", "lockVersion", "description", "watchers", "widgets", "lowercase",
        "untyped", "assignee", "responsible", "type", "status", "customField1",
        "customField2", "customField3", "customField4", "customField5", "customField6",
        "priority", "oddLocation",
    ]  # fmt: skip


async def test_field_properties(env: Env) -> None:
    _, _, s = env
    subject, lock, desc, watchers = s["subject"], s["lockVersion"], s["description"], s["watchers"]
    assert (subject.key, subject.type, subject.base_type, subject.name) == (
        "subject", "String", "String", "Subject"
    )  # fmt: skip
    assert (subject.required, subject.writable, subject.has_default) == (True, True, False)
    assert (lock.required, lock.writable, lock.has_default) == (False, False, False)
    assert (desc.required, desc.writable, desc.has_default) == (False, True, True)
    assert desc.is_formattable
    assert not subject.is_formattable
    assert (watchers.type, watchers.base_type, watchers.is_list) == ("[]User", "User", True)
    assert subject.is_list is False
    assert s["priority"].name == "priority"  # no human name: the key
    assert s["customField3"].location == "_meta"
    assert s["oddLocation"].location is None
    assert s["subject"].location is None
    assert repr(s["assignee"]) == "<Field assignee User 'Assignee' (_links)>"


@pytest.mark.parametrize(
    ("key", "placement", "has_allowed"),
    [
        ("subject", "root", False),
        ("description", "root", False),
        ("lockVersion", "root", False),
        ("watchers", "_links", False),  # a resource type
        ("widgets", "root", False),  # embedded objects
        ("lowercase", "root", False),
        ("untyped", "root", False),
        ("assignee", "_links", True),
        ("type", "_links", True),
        ("status", "_links", True),
        ("customField2", "_links", True),
        ("customField3", "_meta", False),  # the location first; plain allowed values do not count
        ("priority", "_links", False),
        ("oddLocation", "root", False),
    ],
)
async def test_placement(env: Env, key: str, placement: str, has_allowed: bool) -> None:
    _, _, s = env
    field = s[key]
    assert field.placement == placement
    assert field.is_link is (placement == "_links")
    assert field.has_allowed_values is has_allowed


async def test_the_payload_decides_before_types(env: Env) -> None:
    op, _, _ = env
    payload = {"_links": {"subject": {}}, "_meta": {"assignee": 1}, "watchers": []}
    s = Schema(op, DOC, payload)
    assert (s["subject"].placement, s["assignee"].placement, s["watchers"].placement) == (
        "_links", "_meta", "root"
    )  # fmt: skip
    assert s["customField3"].placement == "_meta"  # the schema's location still first
    assert s["type"].placement == "_links"  # not in the payload: by the schema
    assert s.payload_hint("nope") is None
    odd = Schema(op, DOC, {"_links": [1], "_meta": None})
    assert odd.payload_hint("subject") is None
    assert Schema(op, DOC).payload_hint("subject") is None


async def test_find(env: Env) -> None:
    _, _, s = env
    assert s.find("subject").key == "subject"  # type: ignore[union-attr]
    assert s.find("Story points").key == "customField1"  # type: ignore[union-attr]
    assert s.find("story POINTS").key == "customField1"  # type: ignore[union-attr]
    assert s.find("LOCKVERSION").key == "lockVersion"  # type: ignore[union-attr]
    assert s.find("lock_version").key == "lockVersion"  # type: ignore[union-attr]
    assert s.find("custom_field1").key == "customField1"  # type: ignore[union-attr]
    assert s.find("nope") is None
    assert s.find("no_such_thing") is None
    assert s.find("notAField") is None
    assert s.find("_private") is None
    assert s.find("_links") is None


async def test_an_exact_name_wins_over_a_folded_one(env: Env) -> None:
    _, _, s = env
    # "subject" is a key and another field's human name: the key wins
    assert s.find("subject").key == "subject"  # type: ignore[union-attr]
    # "Subject" is subject's human name exactly
    assert s.find("Subject").key == "subject"  # type: ignore[union-attr]


async def test_ambiguous_names(env: Env) -> None:
    _, _, s = env
    message = "field name 'Dup' is ambiguous: customField4 (Dup), customField5 (Dup); use the key"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        s.find("Dup")
    with pytest.raises(ValueError, match="field name 'SUBJECT' is ambiguous: subject"):
        s.find("SUBJECT")
    assert "Dup" in s


async def test_getitem_contains_available(env: Env) -> None:
    _, _, s = env
    assert s.key_for("Story points") == "customField1"
    assert "Story points" in s
    assert "nope" not in s
    assert 5 not in s
    with pytest.raises(UnknownField) as info:
        s["nope"]
    assert info.value.name == "nope"
    assert info.value.available == s.available()
    assert s.available()[:3] == ["subject (Subject)", "lockVersion (Lock Version)",
                                 "description (Description)"]  # fmt: skip
    assert "priority" in s.available()


async def test_allowed_values_of_each_source(env: Env) -> None:
    _, handler, s = env
    statuses = await s["status"].allowed_values()
    assert [x.get("name") if isinstance(x, Resource) else x for x in statuses] == [
        "New", "Closed", "Nameless", "not a document"
    ]  # fmt: skip
    assert await s["customField3"].allowed_values() == ["S", "M"]
    assert await s["subject"].allowed_values() == []
    assert await s["customField2"].allowed_values() == []
    assert handler.requests == []
    users = await s["assignee"].allowed_values()
    assert [u["login"] for u in users] == ["u1", "u2"]
    types = await s["type"].allowed_values()
    assert [t["name"] for t in types] == ["Task", "Bug"]
    assert handler.requests == [
        ("GET", "/api/v3/users/1", {}),
        ("GET", "/api/v3/users/2", {}),
        ("GET", "/api/v3/types", {"x": "1", "pageSize": "-1"}),
    ]


async def test_allowed_values_behind_an_href_must_be_a_collection(env: Env) -> None:
    _, handler, s = env
    handler.table["/api/v3/types"] = {"_type": "Thing"}
    with pytest.raises(ProtocolError, match=r"^allowed values at /api/v3/types\?x=1 are not a"):
        await s["type"].allowed_values()


async def test_choose_by_title_without_requests(env: Env) -> None:
    _, handler, s = env
    assert await s["assignee"].choose("bob") == "/api/v3/users/2"
    assert handler.requests == []
    with pytest.raises(UnknownValue) as info:
        await s["assignee"].choose("Carl")
    assert (info.value.value, info.value.field) == ("Carl", "Assignee")
    assert info.value.allowed == ["Ann", "Bob"]
    assert handler.requests == []


async def test_choose_untitled_links_fetches_them(env: Env) -> None:
    _, handler, s = env
    assert await s["responsible"].choose("U3") == "/api/v3/users/3"
    assert await s["responsible"].choose("user 1") == "/api/v3/users/1"
    assert [r[1] for r in handler.requests] == ["/api/v3/users/1", "/api/v3/users/3"] * 2


async def test_choose_embedded_and_behind_an_href(env: Env) -> None:
    _, handler, s = env
    assert await s["status"].choose("closed") == "/s/2"
    assert handler.requests == []
    assert await s["type"].choose("BUG") == "/api/v3/types/2"
    with pytest.raises(UnknownValue) as info:
        await s["status"].choose("Open")
    assert info.value.allowed == ["New", "Closed"]
    with pytest.raises(UnknownValue) as none:
        await s["customField2"].choose("Red")
    assert none.value.allowed == []
    assert str(none.value).endswith("allowed: (the schema lists none)")
    with pytest.raises(UnknownValue):
        await s["customField3"].choose("S")  # plain values have no hrefs


async def test_choose_lists_at_most_30_names_and_refuses_ambiguity(env: Env) -> None:
    op, _, _ = env
    many = [{"href": f"/api/v3/users/{i}", "title": f"U{i}"} for i in range(35)]
    many.append({"href": "/api/v3/users/99", "title": "u1"})
    s = Schema(op, {"_type": "Schema", "x": f("User", "X", _links={"allowedValues": many})})
    with pytest.raises(UnknownValue) as info:
        await s["x"].choose("nobody")
    assert info.value.allowed[:30] == [f"U{i}" for i in range(30)]
    assert str(info.value).endswith(", U29, ... (6 more)")
    message = (
        "'U1' matches several allowed values of X: /api/v3/users/1 (U1), "
        "/api/v3/users/99 (u1); pass the resource or its href instead"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        await s["x"].choose("U1")
    exactly30 = Schema(
        op, {"_type": "Schema", "x": f("User", "X", _links={"allowedValues": many[:30]})}
    )
    with pytest.raises(UnknownValue) as info:
        await exactly30["x"].choose("nobody")
    assert len(info.value.allowed) == 30
    assert str(info.value).endswith(", U29")


async def test_field_value_needs_the_cached_schema(env: Env) -> None:
    op, handler, _ = env
    handler.table["/api/v3/work_packages/schemas/1-2"] = DOC
    wp = op.wrap(
        {
            "_type": "WorkPackage",
            "subject": "S",
            "customField1": 5,
            "_links": {
                "self": {"href": "/api/v3/work_packages/1"},
                "schema": {"href": "/api/v3/work_packages/schemas/1-2"},
                "assignee": {"href": None},
                "type": {"href": "/api/v3/types/1", "title": "Task"},
                "watchers": [{"href": "/api/v3/users/1"}],
            },
        }
    )
    with pytest.raises(SchemaNotLoaded) as info:
        wp.field("subject")
    assert str(info.value) == (
        "the schema of <WorkPackage /api/v3/work_packages/1> is not loaded yet: "
        "`await resource.load_schema()` first (fetched once per session from "
        "/api/v3/work_packages/schemas/1-2)"
    )
    await wp.load_schema()
    assert wp.field("Subject") == "S"
    assert wp.field("Story points") == 5
    assert wp.field("assignee") is None
    assert wp.field("type") == Link("type", {"href": "/api/v3/types/1", "title": "Task"})
    assert wp.field("watchers") == [Link("watchers", {"href": "/api/v3/users/1"})]
    assert wp.field("description") is None
    again = await wp.load_schema()
    assert again.data == DOC
    assert [r[1] for r in handler.requests] == ["/api/v3/work_packages/schemas/1-2"]
    bare = op.wrap({"_type": "Thing", "_links": {"self": {"href": "/t"}}})
    with pytest.raises(SchemaNotLoaded) as none:
        bare.field("x")
    assert str(none.value) == "<Thing /t> has no schema link; read properties with r[key]"


# -- what mutation testing found untested ------------------------------------------------


async def test_choose_reads_every_name_of_an_embedded_value(env: Env) -> None:
    op, _, _ = env
    values = [
        {"_type": "X", "name": "skipped: no self link"},
        {"_type": "CustomOption", "value": "Red", "_links": {"self": {"href": "/co/1"}}},
        {"_type": "Project", "identifier": "demo", "_links": {"self": {"href": "/p/1"}}},
        {"_type": "User", "name": "", "login": "jd", "_links": {"self": {"href": "/u/1"}}},
        {"_type": "Type", "_links": {"self": {"href": "/t/1", "title": "Task"}}},
        {"_type": "Both", "name": "Alpha", "login": "beta", "_links": {"self": {"href": "/b/1"}}},
    ]
    s = Schema(op, {"_type": "Schema", "x": f("Thing", "X", _embedded={"allowedValues": values})})
    field = s["x"]
    assert [await field.choose(n) for n in ("red", "DEMO", "jd", "task", "beta")] == [
        "/co/1", "/p/1", "/u/1", "/t/1", "/b/1"
    ]  # fmt: skip
    with pytest.raises(UnknownValue) as info:
        await field.choose("nothing")
    assert info.value.allowed == ["Red", "demo", "jd", "Task", "Alpha"]


async def test_choose_ambiguity_among_fetched_values_names_them(env: Env) -> None:
    op, _, _ = env
    values = [
        {"_type": "U", "name": "Same", "_links": {"self": {"href": "/u/1"}}},
        {"_type": "U", "login": "same", "_links": {"self": {"href": "/u/2"}}},
    ]
    s = Schema(op, {"_type": "Schema", "x": f("U", "X", _embedded={"allowedValues": values})})
    message = (
        "'same' matches several allowed values of X: /u/1 (Same), /u/2 (same); "
        "pass the resource or its href instead"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        await s["x"].choose("same")


async def test_choose_lists_31_names_as_30_and_one_more(env: Env) -> None:
    op, _, _ = env
    many = [{"href": f"/api/v3/users/{i}", "title": f"U{i}"} for i in range(31)]
    s = Schema(op, {"_type": "Schema", "x": f("User", "X", _links={"allowedValues": many})})
    with pytest.raises(UnknownValue) as info:
        await s["x"].choose("nobody")
    assert info.value.allowed == [f"U{i}" for i in range(31)]
    assert str(info.value).endswith(", U29, ... (1 more)")


async def test_embedded_values_win_unless_empty_beside_listed_links(env: Env) -> None:
    op, handler, _ = env
    titled = [{"href": "/api/v3/users/1", "title": "Ann"}, {"href": None, "title": "Nobody"}]
    doc = {
        "_type": "Schema",
        "listed": f("User", "L", _embedded={"allowedValues": []}, _links={"allowedValues": titled}),
        "behind": f(
            "User", "B", _embedded={"allowedValues": []}, _links={"allowedValues": {"href": "/t"}}
        ),
    }
    s = Schema(op, doc)
    assert await s["listed"].choose("ann") == "/api/v3/users/1"
    assert [u["login"] for u in await s["listed"].allowed_values()] == ["u1"]
    assert await s["behind"].allowed_values() == []
    assert [r[1] for r in handler.requests] == ["/api/v3/users/1"]


async def test_field_value_of_a_root_field_the_resource_links(env: Env) -> None:
    op, handler, _ = env
    handler.table["/api/v3/work_packages/schemas/1-2"] = DOC
    wp = op.wrap(
        {
            "_type": "WorkPackage",
            "assignee": "not read",
            "_links": {
                "self": {"href": "/api/v3/work_packages/1"},
                "schema": {"href": "/api/v3/work_packages/schemas/1-2"},
                "customField4": {"href": "/api/v3/x/1", "title": "X"},
            },
        }
    )
    await wp.load_schema()
    assert wp.field("customField4") == Link("customField4", {"href": "/api/v3/x/1", "title": "X"})
    assert wp.field("assignee") is None  # a link field the resource does not link


async def test_a_schema_link_that_is_not_a_schema(env: Env) -> None:
    op, _handler, _ = env
    wp = op.wrap(
        {"_type": "WorkPackage", "_links": {"self": {"href": "/w/1"}, "schema": {"href": "/nope"}}}
    )
    with pytest.raises(ProtocolError) as info:
        await wp.load_schema()
    assert str(info.value) == "the schema link of <WorkPackage /w/1> did not lead to a Schema"
