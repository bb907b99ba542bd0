"""_document and _registry, exactly: a HAL document's views and which class wraps it.

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from openproject_async import (
    Attachment,
    Collection,
    Form,
    HttpResponse,
    Link,
    OpenProject,
    Resource,
    Schema,
)
from openproject_async._document import HalDocument
from openproject_async._registry import (
    _BY_SHAPE,
    _BY_TYPE,
    SPECIAL_LINKS,
    ActionCall,
    expect_kind,
    kind_for,
    register_kind,
    special_link,
)
from openproject_async.errors import ActionUnavailable, ProtocolError, UnexpectedResource
from openproject_async.testing import MockTransport

WP: dict[str, Any] = {
    "_type": "WorkPackage",
    "id": 7,
    "subject": "S",
    "lockVersion": 2,
    "_embedded": {"status": {"_type": "Status", "id": 1}},
    "_links": {
        "self": {"href": "/api/v3/work_packages/7", "title": "S"},
        "update": {"href": "/api/v3/work_packages/7/form", "method": "post"},
        "delete": {"href": "/api/v3/work_packages/7", "method": "delete"},
        "unavailable": {"href": None, "method": "post"},
        "project": {"href": "/api/v3/projects/1"},
        "assignee": {"href": None},
        "children": [{"href": "/api/v3/work_packages/8"}],
    },
}


def test_document_views() -> None:
    d = HalDocument(WP)
    assert d.data is WP
    assert d.resource_type == "WorkPackage"
    assert d.href == "/api/v3/work_packages/7"
    assert d.embedded == {"status": {"_type": "Status", "id": 1}}
    assert d.properties == {"id": 7, "subject": "S", "lockVersion": 2}
    assert list(d) == ["id", "subject", "lockVersion"]
    assert d["subject"] == "S"
    assert d.get("subject") == "S"
    assert d.get("nope") is None
    assert d.get("nope", 3) == 3
    assert "subject" in d
    assert "_links" in d
    assert "nope" not in d
    assert d.links is d.links  # parsed once
    assert d.links["self"] == Link("self", WP["_links"]["self"])


def test_document_edge_values() -> None:
    d = HalDocument({"_type": 5, "_embedded": [1], "_links": {"self": [{"href": "/a"}]}})
    assert d.resource_type is None
    assert d.embedded == {}
    assert d.href is None
    assert d.properties == {}
    bare = HalDocument({})
    assert (bare.resource_type, bare.href, bare.links, bare.embedded) == (None, None, {}, {})


@pytest.mark.parametrize("data", [[1], "x", None])
def test_document_must_be_an_object(data: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        HalDocument(data)
    assert str(info.value) == f"expected a HAL object, got {type(data).__name__}"


def test_missing_property_message() -> None:
    with pytest.raises(KeyError) as info:
        HalDocument(WP)["nope"]
    assert info.value.args[0] == (
        "WorkPackage #7 has no property 'nope'; properties: id, subject, lockVersion"
    )
    assert info.value.__suppress_context__ is True
    with pytest.raises(KeyError) as info:
        HalDocument({"_type": "Root"})["x"]
    assert info.value.args[0] == "Root has no property 'x'; properties: none"
    with pytest.raises(KeyError) as info:
        HalDocument({"id": 0})["x"]
    assert info.value.args[0] == "Resource #0 has no property 'x'; properties: id"


def test_repr() -> None:
    assert repr(HalDocument(WP)) == "<WorkPackage #7 /api/v3/work_packages/7>"
    assert repr(HalDocument({"_type": "Root"})) == "<Root>"
    assert repr(HalDocument({})) == "<Resource>"


def test_equality() -> None:
    assert HalDocument({"a": 1}) == HalDocument({"a": 1})
    assert HalDocument({"a": 1}) != HalDocument({"a": 2})
    assert HalDocument({"a": 1}).__eq__({"a": 1}) is NotImplemented
    with pytest.raises(TypeError):
        hash(HalDocument({}))


def test_actions_relations_can_link() -> None:
    d = HalDocument(WP)
    assert d.actions() == ["update", "delete", "unavailable"]
    assert d.relations() == ["self", "project", "assignee", "children"]
    assert d.can("update") is True
    assert d.can("unavailable") is False
    assert d.can("assignee") is False
    assert d.can("children") is True
    assert d.can("nope") is False
    assert d.link("project") == Link("project", {"href": "/api/v3/projects/1"})
    assert d.link("children") == [Link("children", {"href": "/api/v3/work_packages/8"})]


def test_missing_link() -> None:
    with pytest.raises(ActionUnavailable) as info:
        HalDocument(WP).link("addComment")
    e = info.value
    assert (e.rel, e.actions, e.relations) == (
        "addComment",
        ["update", "delete", "unavailable"],
        ["self", "project", "assignee", "children"],
    )
    assert str(e).startswith("WorkPackage #7 has no link 'addComment'")
    assert e.__suppress_context__ is True


# -- registry -------------------------------------------------------------------------------


def test_kinds_by_type_and_shape() -> None:
    assert kind_for({"_type": "Form"}) is Form
    assert kind_for({"_type": "Schema"}) is Schema
    assert kind_for({"_type": "Attachment"}) is Attachment
    assert kind_for({"_type": "Collection", "_embedded": {"elements": []}}) is Collection
    assert kind_for({"_type": "Whatever", "_embedded": {"elements": []}}) is Collection
    assert kind_for({"_type": "WorkPackage"}) is None
    assert kind_for({"_type": 5}) is None
    assert kind_for({}) is None


class _Kind(Resource):
    __slots__ = ()


@pytest.fixture
def registry() -> Iterator[None]:
    by_type, by_shape, special = dict(_BY_TYPE), list(_BY_SHAPE), list(SPECIAL_LINKS)
    yield
    _BY_TYPE.clear()
    _BY_TYPE.update(by_type)
    _BY_SHAPE[:] = by_shape
    SPECIAL_LINKS[:] = special


@pytest.mark.usefixtures("registry")
def test_register_kind() -> None:
    def shaped(doc: Mapping[str, Any]) -> bool:
        return "marker" in doc

    register_kind(_Kind, type_name="Thing")
    register_kind(_Kind, shape=shaped)
    assert kind_for({"_type": "Thing"}) is _Kind
    assert kind_for({"_type": "Other", "marker": 1}) is _Kind
    assert kind_for({"_type": "Form", "marker": 1}) is Form  # the type first
    n = len(_BY_SHAPE)
    register_kind(_Kind)  # neither: nothing registered
    assert len(_BY_SHAPE) == n


@pytest.mark.usefixtures("registry")
def test_special_link_registers_in_order() -> None:
    async def handler(resource: Resource, link: Link, call: ActionCall) -> Any:
        return None

    def matches(link: Link) -> bool:
        return link.rel == "x"

    assert special_link(matches)(handler) is handler
    assert SPECIAL_LINKS[-1] == (matches, handler)


def test_action_call() -> None:
    call = ActionCall("rel", (1,), {"a": 1}, {"q": 2}, None)
    assert (call.rel, call.args, call.kwargs, call.query, call.retry, call.timeout) == (
        "rel",
        (1,),
        {"a": 1},
        {"q": 2},
        None,
        None,
    )


OP = OpenProject(
    "https://op.test", api_key="k", transport=MockTransport(lambda r: HttpResponse.json({}))
)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ([1, 2], "a link array of 2"),
        (None, "nothing (href null / empty answer)"),
        (Resource(OP, {"_type": "WorkPackage"}), "a Resource (WorkPackage)"),
        (Resource(OP, {}), "a Resource (no _type)"),
        ("text", "a str (no _type)"),
    ],
)
def test_expect_kind(value: Any, got: str) -> None:
    with pytest.raises(UnexpectedResource) as info:
        expect_kind(value, Collection, "GET /x")
    assert str(info.value) == f"GET /x: expected a Collection, got {got}"


def test_expect_kind_passes_the_right_kind() -> None:
    r = Resource(OP, {"_type": "X"})
    assert expect_kind(r, Resource, "w") is r


def test_kind_for_ignores_a_type_that_is_not_a_string() -> None:
    assert kind_for({"_type": ["Form"]}) is None
