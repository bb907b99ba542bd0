"""_placement, exactly: where every kind of value goes, with a schema and before one.

Written against mutation testing (README, "Development"): each test states the exact
body, ``pending`` and error a placement gives.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openproject_async import HttpResponse, Link, OpenProject, Resource, Schema
from openproject_async._body import camel
from openproject_async._placement import (
    IDENTIFIER,
    merge,
    names_to_choose,
    place,
    references_only,
    values_of,
)
from openproject_async.errors import UnknownField
from openproject_async.testing import MockTransport

LINK_KEYS = [
    "type",
    "status",
    "priority",
    "project",
    "assignee",
    "responsible",
    "version",
    "category",
    "parent",
    "budget",
    "user",
    "principal",
    "activity",
    "workPackage",
    "definingProject",
    "roles",
]
FORMATTABLE_KEYS = ["description", "comment", "statusExplanation"]


def _session() -> OpenProject:
    return OpenProject(
        "https://op.test", api_key="k", transport=MockTransport(lambda r: HttpResponse.json({}))
    )


OP = _session()


def res(href: str) -> Resource:
    return Resource(OP, {"_type": "User", "_links": {"self": {"href": href}}})


def field(ftype: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": ftype, **extra}
    if name is not None:
        raw["name"] = name
    return raw


SCHEMA_DOC: dict[str, Any] = {
    "_type": "Schema",
    "subject": field("String", "Subject"),
    "description": field("Formattable", "Description"),
    "startDate": field("Date", "Start date"),
    "dueDate": field("Date", "Finish date"),
    "updatedAt": field("DateTime", "Updated on"),
    "estimatedTime": field("Duration", "Work"),
    "lockVersion": field("Integer", "Lock"),
    "assignee": field("User", "Assignee"),
    "type": field("Type", "Type", _links={"allowedValues": {"href": "/api/v3/types"}}),
    "watchers": field("[]User", "Watchers"),
    "customField1": field("Integer", "Story points"),
    "customField2": field("[]CustomOption", "Colours", _links={"allowedValues": []}),
    "customField3": field("String", "Hidden link", location="_links"),
    "validateOnly": field("Boolean", "Validate", location="_meta"),
    "metaText": field("Formattable", "Meta text", location="_meta"),
    "metaDay": field("Date", "Meta day", location="_meta"),
    "_links": {"self": {"href": "/api/v3/schemas/1"}},
}


def schema(payload: dict[str, Any] | None = None, doc: dict[str, Any] | None = None) -> Schema:
    return Schema(OP, dict(doc or SCHEMA_DOC), payload)


# -- merge / values_of -----------------------------------------------------------------


def test_merge_merges_links_and_meta_and_replaces_the_rest() -> None:
    base = {"a": 1, "_links": {"x": {"href": "/x"}}, "_meta": {"m": 1}, "b": [1]}
    extra = {"a": 2, "_links": {"y": {"href": "/y"}}, "_meta": {"n": 2}, "b": [2], "c": 3}
    out = merge(base, extra)
    assert out == {
        "a": 2,
        "_links": {"x": {"href": "/x"}, "y": {"href": "/y"}},
        "_meta": {"m": 1, "n": 2},
        "b": [2],
        "c": 3,
    }
    assert base == {"a": 1, "_links": {"x": {"href": "/x"}}, "_meta": {"m": 1}, "b": [1]}


def test_merge_later_link_wins_and_missing_or_null_base_is_empty() -> None:
    assert merge({"_links": {"x": 1}}, {"_links": {"x": 2}}) == {"_links": {"x": 2}}
    assert merge({}, {"_links": {"x": 1}}) == {"_links": {"x": 1}}
    assert merge({"_meta": None}, {"_meta": {"x": 1}}) == {"_meta": {"x": 1}}


def test_merge_replaces_a_non_mapping_links_value() -> None:
    assert merge({"_links": {"x": 1}}, {"_links": None}) == {"_links": None}
    assert merge({"_meta": {"x": 1}}, {"_meta": [1]}) == {"_meta": [1]}


def test_values_of() -> None:
    values = {"a": 1, "b": 2}
    assert values_of(values, None) == {"a": 1, "b": 2}
    assert values_of(values, {"b": 3, "Story points": 4}) == {"a": 1, "b": 3, "Story points": 4}
    assert values == {"a": 1, "b": 2}
    with pytest.raises(TypeError) as info:
        values_of(values, [("a", 1)])  # type: ignore[arg-type]
    assert str(info.value) == ("fields= must be a mapping of field names to values, got [('a', 1)]")


def test_identifier_pattern() -> None:
    assert [bool(IDENTIFIER.match(n)) for n in ["a", "_a", "a9_b", "9a", "a b", "a-b", ""]] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


# -- without a schema: only what is certain ---------------------------------------------


def guessed(**values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    pending: dict[str, Any] = {}
    return place(None, values, pending), pending


@pytest.mark.parametrize("key", LINK_KEYS)
def test_no_schema_a_name_for_a_link_key_waits(key: str) -> None:
    assert guessed(**{key: "Some name"}) == ({}, {key: "Some name"})
    assert guessed(**{key: 5}) == ({}, {key: 5})


@pytest.mark.parametrize("key", LINK_KEYS)
def test_no_schema_a_reference_for_a_link_key_is_a_link(key: str) -> None:
    assert guessed(**{key: "/api/v3/x/1"}) == ({"_links": {key: {"href": "/api/v3/x/1"}}}, {})


@pytest.mark.parametrize("key", FORMATTABLE_KEYS)
def test_no_schema_formattable_text(key: str) -> None:
    assert guessed(**{key: "*hi*"}) == ({key: {"raw": "*hi*"}}, {})
    assert guessed(**{key: None}) == ({}, {key: None})
    assert guessed(**{key: {"raw": "x"}}) == ({key: {"raw": "x"}}, {})


@pytest.mark.parametrize(
    ("value", "link"),
    [
        ("/api/v3/users/1", {"href": "/api/v3/users/1"}),
        ("http://h/api/v3/users/1", {"href": "http://h/api/v3/users/1"}),
        ("https://h/api/v3/users/1", {"href": "https://h/api/v3/users/1"}),
        (
            "urn:openproject-org:api:v3:undisclosed",
            {"href": "urn:openproject-org:api:v3:undisclosed"},
        ),
        (Link("x", {"href": "/api/v3/users/2"}), {"href": "/api/v3/users/2"}),
    ],
)
def test_no_schema_references_go_under_links_camel_cased(value: Any, link: Any) -> None:
    assert guessed(some_user=value) == ({"_links": {"someUser": link}}, {})


def test_no_schema_resources_and_lists_of_them() -> None:
    assert guessed(assignee=res("/api/v3/users/3"), watchers=[res("/a/1"), res("/a/2")]) == (
        {
            "_links": {
                "assignee": {"href": "/api/v3/users/3"},
                "watchers": [{"href": "/a/1"}, {"href": "/a/2"}],
            }
        },
        {},
    )


@pytest.mark.parametrize(
    ("name", "value", "body"),
    [
        ("subject", "Hello", {"subject": "Hello"}),
        ("subject", "", {"subject": ""}),
        ("lock_version", 3, {"lockVersion": 3}),
        ("due_date", dt.date(2024, 5, 6), {"dueDate": "2024-05-06"}),
        ("estimated_time", dt.timedelta(hours=2), {"estimatedTime": "PT2H"}),
        ("percentageDone", 0, {"percentageDone": 0}),
        ("flag", False, {"flag": False}),
        ("customField7", 5, {"customField7": 5}),
        ("_hidden", 1, {"_hidden": 1}),
        ("tags", ["a", "b"], {"tags": ["a", "b"]}),
    ],
)
def test_no_schema_scalars_of_identifier_names_go_to_the_root(
    name: str, value: Any, body: dict[str, Any]
) -> None:
    assert guessed(**{name: value}) == (body, {})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Story points", 5),  # a human name
        ("Story points", "/api/v3/x"),
        ("customField7", "Red"),  # probably the name of an allowed value
        ("customField7", None),
        ("subject", None),
        ("9lives", 1),
    ],
)
def test_no_schema_uncertain_values_wait(name: str, value: Any) -> None:
    assert guessed(**{name: value}) == ({}, {name: value})


def test_no_schema_and_no_pending_is_an_unknown_field() -> None:
    with pytest.raises(UnknownField) as info:
        place(None, {"subject": "x"})
    assert (info.value.name, info.value.available) == ("subject", ["(no schema known)"])


def test_explicit_links_and_meta_are_merged_in_order() -> None:
    body = place(
        None,
        {
            "assignee": "/api/v3/users/1",
            "_links": {"type": {"href": "/api/v3/types/2"}},
            "_meta": {"validateOnly": True},
            "subject": "s",
        },
        {},
    )
    assert body == {
        "_links": {"assignee": {"href": "/api/v3/users/1"}, "type": {"href": "/api/v3/types/2"}},
        "_meta": {"validateOnly": True},
        "subject": "s",
    }


def test_a_non_mapping_links_value_is_a_field_value() -> None:
    pending: dict[str, Any] = {}
    assert place(None, {"_links": "x"}, pending) == {"_links": "x"}
    with pytest.raises(UnknownField):
        place(schema(), {"_meta": "x"})


def test_attachments_are_a_link_array_with_or_without_schema() -> None:
    want = {"_links": {"attachments": [{"href": "/api/v3/attachments/1"}, {"href": "/a/2"}]}}
    values = {"attachments": ["/api/v3/attachments/1", res("/a/2")]}
    assert place(None, values, {}) == want
    assert place(schema(), values) == want
    assert place(schema(), {"attachments": ()}) == {"_links": {"attachments": []}}


def test_attachments_must_be_a_list() -> None:
    with pytest.raises(TypeError) as info:
        place(None, {"attachments": "/api/v3/attachments/1"}, {})
    assert str(info.value) == (
        "attachments= takes a list of attachments (resources, Links or hrefs): the "
        "container's whole set, not str"
    )


def test_references_only() -> None:
    values = {
        "assignee": res("/api/v3/users/1"),
        "parent_work_package": "/api/v3/work_packages/2",
        "type": "Task",
        "subject": "x",
        "Human name": "/api/v3/x",
        "watchers": [Link("w", {"href": "/w/1"})],
    }
    assert references_only(values) == {
        "_links": {
            "assignee": {"href": "/api/v3/users/1"},
            "parentWorkPackage": {"href": "/api/v3/work_packages/2"},
            "watchers": [{"href": "/w/1"}],
        }
    }
    assert references_only({"subject": "x", "type": "Task"}) == {}
    assert references_only({}) == {}


# -- with a schema ------------------------------------------------------------------------


def test_every_field_kind_with_a_schema() -> None:
    values = {
        "subject": "S",
        "description": "*d*",
        "start_date": dt.datetime(2024, 1, 2, 23, 30),
        "Finish date": dt.date(2024, 2, 3),
        "updatedAt": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "estimatedTime": dt.timedelta(minutes=90),
        "lockVersion": 4,
        "assignee": res("/api/v3/users/5"),
        "type": "Bug",
        "watchers": ["/api/v3/users/1", res("/api/v3/users/2")],
        "Story points": 8,
        "Colours": ["Red", "/api/v3/custom_options/9"],
        "customField3": "/x/1",
        "validateOnly": True,
        "metaText": "note",
        "metaDay": dt.datetime(2024, 3, 4, 5, 6),
    }
    choices = {("type", "Bug"): "/api/v3/types/7", ("customField2", "Red"): "/api/v3/co/1"}
    assert place(schema(), values, choices=choices) == {
        "subject": "S",
        "description": {"raw": "*d*"},
        "startDate": "2024-01-02",
        "dueDate": "2024-02-03",
        "updatedAt": "2024-01-02T03:04:05Z",
        "estimatedTime": "PT1H30M",
        "lockVersion": 4,
        "customField1": 8,
        "_links": {
            "assignee": {"href": "/api/v3/users/5"},
            "type": {"href": "/api/v3/types/7"},
            "watchers": [{"href": "/api/v3/users/1"}, {"href": "/api/v3/users/2"}],
            "customField2": [{"href": "/api/v3/co/1"}, {"href": "/api/v3/custom_options/9"}],
            "customField3": {"href": "/x/1"},
        },
        "_meta": {"validateOnly": True, "metaText": {"raw": "note"}, "metaDay": "2024-03-04"},
    }


def test_formattable_values() -> None:
    s = schema()
    assert place(s, {"description": None}) == {"description": {"raw": None}}
    assert place(s, {"description": {"raw": "r", "html": "<p>r</p>"}}) == {
        "description": {"raw": "r", "html": "<p>r</p>"}
    }


def test_a_datetime_stays_a_datetime_for_a_datetime_field() -> None:
    s = schema()
    assert place(s, {"updatedAt": dt.datetime(2024, 1, 2, 3, 4, 5)}) == {
        "updatedAt": "2024-01-02T03:04:05Z"
    }
    assert place(s, {"startDate": "2024-01-02"}) == {"startDate": "2024-01-02"}


def test_link_fields_take_none_and_links() -> None:
    s = schema()
    assert place(s, {"assignee": None, "type": Link("t", {"href": "/api/v3/types/1"})}) == {
        "_links": {"assignee": {"href": None}, "type": {"href": "/api/v3/types/1"}}
    }


def test_a_name_without_a_chosen_href() -> None:
    with pytest.raises(LookupError) as info:
        place(schema(), {"type": "Bug"})
    assert str(info.value) == ("no href chosen for 'Bug' (Type): resolve names_to_choose() first")
    assert info.value.__suppress_context__ is True


@pytest.mark.parametrize("value", [True, 5, 1.5])
def test_a_number_for_a_link_field_is_refused(value: Any) -> None:
    with pytest.raises(TypeError) as info:
        place(schema(), {"Assignee": value})
    assert str(info.value) == (
        "Assignee (assignee) takes a link: give a resource, a Link, an href, "
        f"None or the name of an allowed value, not {value!r}"
    )


def test_unknown_names_with_a_schema() -> None:
    pending: dict[str, Any] = {}
    assert place(schema(), {"subject": "s", "Nope": 1, "type": "/t/1"}, pending) == {
        "subject": "s",
        "_links": {"type": {"href": "/t/1"}},
    }
    assert pending == {"Nope": 1}
    with pytest.raises(UnknownField) as info:
        place(
            schema(doc={"_type": "Schema", "subject": field("String"), "n": field("Integer", "N")}),
            {"x": 1},
        )
    assert (info.value.name, info.value.available) == ("x", ["subject", "n (N)"])


def test_the_payload_decides_when_the_schema_does_not() -> None:
    doc = {"_type": "Schema", "thing": field("String", "Thing"), "other": field("User", "O")}
    s = schema(payload={"_links": {"thing": {"href": None}}, "other": None}, doc=doc)
    assert place(s, {"thing": "/x/1", "other": "o"}) == {
        "_links": {"thing": {"href": "/x/1"}},
        "other": "o",
    }
    m = schema(payload={"_meta": {"thing": 1}}, doc=doc)
    assert place(m, {"thing": 2}) == {"_meta": {"thing": 2}}


def test_names_to_choose() -> None:
    s = schema()
    pairs = names_to_choose(
        s,
        {
            "subject": "not a link",
            "type": "Bug",
            "assignee": "/api/v3/users/1",
            "Colours": ["Red", "/api/v3/co/2", "Blue", 3],
            "watchers": res("/w/1"),
            "_links": {"type": "Task"},
            "Nope": "x",
            "customField3": ("A",),
        },
    )
    assert [(f.key, name) for f, name in pairs] == [
        ("type", "Bug"),
        ("customField2", "Red"),
        ("customField2", "Blue"),
        ("customField3", "A"),
    ]
    assert names_to_choose(None, {"type": "Bug"}) == []


def test_names_to_choose_reads_a_non_mapping_links_key_as_a_field() -> None:
    doc = {"_type": "Schema", "type": field("Type", "Type")}
    assert names_to_choose(schema(doc=doc), {"_links": "x"}) == []


# -- properties ---------------------------------------------------------------------------

_names = st.from_regex(r"[a-z][a-zA-Z0-9]{0,10}", fullmatch=True).filter(
    lambda n: n not in LINK_KEYS and n not in FORMATTABLE_KEYS and n != "attachments"
)
_plain = (
    st.integers()
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.text().filter(lambda s: not s.startswith(("/", "http://", "https://", "urn:")))
)


@given(name=_names, value=_plain)
def test_any_plain_value_of_an_identifier_goes_to_the_root_without_schema(
    name: str, value: Any
) -> None:
    if name.startswith("customField") and isinstance(value, str):
        assert guessed(**{name: value}) == ({}, {name: value})
    else:
        assert guessed(**{name: value}) == ({camel(name): value}, {})


@given(name=_names, href=st.text().map(lambda t: "/api/v3/" + t))
def test_any_href_goes_under_links_without_schema(name: str, href: str) -> None:
    assert guessed(**{name: href}) == ({"_links": {name: {"href": href}}}, {})
    assert references_only({name: href}) == {"_links": {name: {"href": href}}}


@given(value=st.text() | st.integers() | st.none())
def test_any_value_of_a_root_string_field_is_sent_as_is(value: Any) -> None:
    assert place(schema(), {"Subject": value}) == {"subject": value}
    assert place(schema(), {"validateOnly": value}) == {"_meta": {"validateOnly": value}}


@given(name=st.text(min_size=1).filter(lambda n: not n.startswith(("/", "http", "urn:"))))
def test_any_allowed_value_name_takes_its_chosen_href(name: str) -> None:
    s = schema()
    pairs = names_to_choose(s, {"type": name})
    assert [(f.key, n) for f, n in pairs] == [("type", name)]
    assert place(s, {"type": name}, choices={("type", name): "/api/v3/types/1"}) == {
        "_links": {"type": {"href": "/api/v3/types/1"}}
    }


def test_values_after_attachments_are_placed_too() -> None:
    assert place(None, {"attachments": ["/a/1"], "subject": "s"}, {}) == {
        "_links": {"attachments": [{"href": "/a/1"}]},
        "subject": "s",
    }


def test_a_name_with_a_trailing_line_break_is_not_an_identifier() -> None:
    """(``$`` would match before a final newline: ``"subject\\n"`` is a human name.)"""
    assert [bool(IDENTIFIER.match(n)) for n in ["subject\n", "subject\n\n", "\nsubject"]] == [
        False,
        False,
        False,
    ]
