"""Forms and schemas against recorded answers: placement, names, allowed values, FormInvalid.

The documents are written for these tests in the shape OpenProject sends (PROTOCOL.md
section 5); the integration tests against the fake server are in test_forms.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from aioresponses import aioresponses
from yarl import URL

from openproject_async import Form, OpenProject, Schema
from openproject_async.errors import (
    FormInvalid,
    MultipleErrors,
    PropertyConstraintViolation,
    UnknownField,
    UnknownValue,
)

from .docs import link, user

BASE = "https://op.example.com"
API = "/api/v3"
HAL = "application/hal+json"
FORM_URL = f"{BASE}{API}/projects/3/work_packages/form"


def sent(m: aioresponses, method: str, url: str) -> list[Any]:
    return [orjson.loads(c.kwargs["data"]) for c in m.requests.get((method, URL(url)), [])]


def field(ftype: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": ftype, "name": name, "required": False, "writable": True, **extra}


def schema_doc() -> dict[str, Any]:
    """A work package schema with one field of every kind."""
    return {
        "_type": "Schema",
        "_dependencies": [],
        "lockVersion": {**field("Integer", "Lock Version"), "writable": False},
        "subject": field("String", "Subject", required=True),
        "description": field("Formattable", "Description"),
        "startDate": field("Date", "Start date"),
        "estimatedTime": field("Duration", "Work"),
        "customField1": field("Integer", "Story points"),
        "customField4": field("Formattable", "Notes"),
        "type": field(
            "Type",
            "Type",
            location="_links",
            _links={
                "allowedValues": [
                    link(f"{API}/types/1", title="Task"),
                    link(f"{API}/types/4", title="Feature"),
                ]
            },
        ),
        "assignee": field(
            "User",
            "Assignee",
            location="_links",
            _links={"allowedValues": link(f"{API}/projects/3/available_assignees")},
        ),
        "customField2": field(
            "CustomOption",
            "Customer",
            location="_links",
            _embedded={
                "allowedValues": [
                    {
                        "_type": "CustomOption",
                        "id": 11,
                        "value": "ACME Corp",
                        "_links": {"self": link(f"{API}/custom_options/11", title="ACME Corp")},
                    },
                    {
                        "_type": "CustomOption",
                        "id": 12,
                        "value": "Globex",
                        "_links": {"self": link(f"{API}/custom_options/12", title="Globex")},
                    },
                ]
            },
        ),
        "customField5": field("[]CustomOption", "Tags", location="_links"),
        "customField3": field(
            "User",
            "Reviewer",
            location="_links",
            _links={
                "allowedValues": link(f"{API}/principals?filters=%5B%5D&pageSize=0"),
            },
        ),
        "version": field("Version", "Version"),  # no location: a resource type
        "status": field(  # no location, but allowed values: a link
            "Status", "Status", _links={"allowedValues": [link(f"{API}/statuses/1", title="New")]}
        ),
        "timelineLabels": field("QueryTimelineLabels", "Labels"),  # an embedded object
        "notificationMessage": field("Formattable", "Message", location="_meta"),
        "_links": {"self": link(f"{API}/work_packages/schemas/3-1")},
    }


def form_doc(
    *,
    valid: bool = True,
    errors: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    links: dict[str, Any] = {
        "self": link(f"{API}/projects/3/work_packages/form", method="post"),
        "validate": link(f"{API}/projects/3/work_packages/form", method="post"),
    }
    if valid:
        links["commit"] = link(f"{API}/projects/3/work_packages", method="post")
    return {
        "_type": "Form",
        "_embedded": {
            "payload": payload or {"subject": "", "_links": {}},
            "schema": schema_doc(),
            "validationErrors": errors or {},
        },
        "_links": links,
    }


def project_doc() -> dict[str, Any]:
    return {
        "_type": "Project",
        "id": 3,
        "name": "Apollo",
        "_links": {
            "self": link(f"{API}/projects/3", title="Apollo"),
            "createWorkPackage": link(f"{API}/projects/3/work_packages/form", method="post"),
        },
    }


def violation(attribute: str, message: str) -> dict[str, Any]:
    return {
        "_type": "Error",
        "errorIdentifier": "urn:openproject-org:api:v3:errors:PropertyConstraintViolation",
        "message": message,
        "_embedded": {"details": {"attribute": attribute}},
    }


# -- schema lookups ---------------------------------------------------------------------------


async def test_fields_by_key_human_name_case_and_snake_case(op: OpenProject) -> None:
    schema = op.wrap(schema_doc())
    assert isinstance(schema, Schema)
    assert schema["customField1"].name == "Story points"
    assert schema["Story points"].key == "customField1"
    assert schema["story POINTS"].key == "customField1"
    assert schema["start_date"].key == "startDate"
    assert schema.key_for("Reviewer") == "customField3"
    assert "Customer" in schema
    assert "Nope" not in schema


async def test_unknown_field_lists_what_the_schema_has(op: OpenProject) -> None:
    schema = op.wrap(schema_doc())
    with pytest.raises(UnknownField) as info:
        schema["Story pts"]
    message = str(info.value)
    assert "'Story pts'" in message
    assert "customField1 (Story points)" in message
    assert "customField3 (Reviewer)" in message


async def test_ambiguous_human_name_asks_for_the_key(op: OpenProject) -> None:
    doc = schema_doc()
    doc["customField9"] = field("String", "Story points")
    schema = op.wrap(doc)
    with pytest.raises(ValueError, match=r"ambiguous: customField1 \(Story points\), customField9"):
        schema["Story points"]
    assert schema["customField9"].type == "String"  # the key still works


async def test_placement_for_every_kind_of_field(op: OpenProject) -> None:
    schema = op.wrap(schema_doc())
    where = {k: f.placement for k, f in schema.fields.items()}
    assert where == {
        "lockVersion": "root",
        "subject": "root",
        "description": "root",
        "startDate": "root",
        "estimatedTime": "root",
        "customField1": "root",
        "customField4": "root",
        "type": "_links",
        "assignee": "_links",
        "customField2": "_links",
        "customField5": "_links",
        "customField3": "_links",
        "version": "_links",
        "status": "_links",
        "timelineLabels": "root",
        "notificationMessage": "_meta",
    }


async def test_the_form_payload_decides_for_unknown_types(op: OpenProject) -> None:
    # a grid form: "[]GridWidget" is an embedded object list kept at the root of the payload
    doc = form_doc(payload={"widgets": [], "_links": {"scope": {"href": "/my/page"}}})
    doc["_embedded"]["schema"] = {
        "_type": "Schema",
        "widgets": field("[]GridWidget", "Widgets", _links={}),
        "scope": field("Href", "Page"),
        "sortBy": field("[]QuerySortBy", "Sort by"),
    }
    form = op.wrap(doc)
    assert isinstance(form, Form)
    schema = form.schema
    assert schema["widgets"].placement == "root"
    assert schema["scope"].placement == "_links"
    assert schema["sortBy"].placement == "_links"  # not in the payload: a resource type


# -- placing values ---------------------------------------------------------------------------


async def test_create_places_every_kind_by_the_schema(
    mocked: aioresponses, op: OpenProject
) -> None:
    mocked.get(f"{BASE}{API}/projects/3", payload=project_doc(), content_type=HAL)
    mocked.post(FORM_URL, payload=form_doc(), content_type=HAL, repeat=True)
    project = await op.get(f"{API}/projects/3")
    reviewer = op.wrap(user(5))
    form = await project.createWorkPackage(
        subject="abc",
        type="Feature",
        description="Some *text*",
        start_date=dt.date(2025, 5, 5),
        estimatedTime=dt.timedelta(hours=1, minutes=30),
        assignee=None,
        version=f"{API}/versions/2",
        fields={
            "Story points": 5,
            "Customer": "globex",
            "Reviewer": reviewer,
            "Tags": [f"{API}/custom_options/21", f"{API}/custom_options/22"],
            "Notes": "plain text",
        },
        _meta={"validateCustomFields": True},
    )
    expected = {
        "subject": "abc",
        "description": {"raw": "Some *text*"},
        "startDate": "2025-05-05",
        "estimatedTime": "PT1H30M",
        "customField1": 5,
        "customField4": {"raw": "plain text"},
        "_meta": {"validateCustomFields": True},
        "_links": {
            "type": {"href": f"{API}/types/4"},
            "assignee": {"href": None},
            "version": {"href": f"{API}/versions/2"},
            "customField2": {"href": f"{API}/custom_options/12"},
            "customField3": {"href": f"{API}/users/5"},
            "customField5": [
                {"href": f"{API}/custom_options/21"},
                {"href": f"{API}/custom_options/22"},
            ],
        },
    }
    bodies = sent(mocked, "POST", FORM_URL)
    # the first request carries what is certain without a schema, the second everything
    assert bodies[-1] == expected
    assert len(bodies) == 2
    assert bodies[0]["subject"] == "abc"
    assert "customField1" not in bodies[0]
    assert form.body == expected
    assert form.is_valid


async def test_create_with_resources_only_needs_one_form_request(
    mocked: aioresponses, op: OpenProject
) -> None:
    mocked.get(f"{BASE}{API}/projects/3", payload=project_doc(), content_type=HAL)
    mocked.post(FORM_URL, payload=form_doc(), content_type=HAL, repeat=True)
    project = await op.get(f"{API}/projects/3")
    task = op.wrap({"_type": "Type", "id": 1, "_links": {"self": link(f"{API}/types/1")}})
    form = await project.createWorkPackage(subject="abc", type=task, startDate="2025-01-02")
    assert sent(mocked, "POST", FORM_URL) == [
        {
            "subject": "abc",
            "startDate": "2025-01-02",
            "_links": {"type": {"href": f"{API}/types/1"}},
        }
    ]
    assert form.is_valid


async def test_unknown_custom_field_name_raises_listing_fields(
    mocked: aioresponses, op: OpenProject
) -> None:
    mocked.get(f"{BASE}{API}/projects/3", payload=project_doc(), content_type=HAL)
    mocked.post(FORM_URL, payload=form_doc(), content_type=HAL, repeat=True)
    project = await op.get(f"{API}/projects/3")
    with pytest.raises(UnknownField) as info:
        await project.submit("createWorkPackage", subject="x", **{"Story pts": 5})
    assert "customField1 (Story points)" in str(info.value)
    assert ("POST", URL(f"{BASE}{API}/projects/3/work_packages")) not in mocked.requests


async def test_link_field_rejects_numbers(mocked: aioresponses, op: OpenProject) -> None:
    mocked.get(f"{BASE}{API}/projects/3", payload=project_doc(), content_type=HAL)
    mocked.post(FORM_URL, payload=form_doc(), content_type=HAL, repeat=True)
    project = await op.get(f"{API}/projects/3")
    with pytest.raises(TypeError, match=r"Assignee \(assignee\) takes a link"):
        await project.createWorkPackage(subject="x", assignee=5)


# -- allowed values ---------------------------------------------------------------------------


async def test_allowed_values_embedded_listed_and_behind_a_collection(
    mocked: aioresponses, op: OpenProject
) -> None:
    schema = op.wrap(schema_doc())
    customers = await schema["Customer"].allowed_values()
    assert [c.value for c in customers] == ["ACME Corp", "Globex"]
    mocked.get(
        f"{BASE}{API}/types/1",
        payload={"_type": "Type", "id": 1, "name": "Task", "_links": {"self": link("/t/1")}},
        content_type=HAL,
    )
    mocked.get(
        f"{BASE}{API}/types/4",
        payload={"_type": "Type", "id": 4, "name": "Feature", "_links": {"self": link("/t/4")}},
        content_type=HAL,
    )
    types = await schema["type"].allowed_values()
    assert [t.name for t in types] == ["Task", "Feature"]
    # the href asks for pageSize=0 (a count only): the library asks for the largest page
    url = f"{BASE}{API}/principals?filters=%5B%5D&pageSize=-1"
    mocked.get(
        url,
        payload={
            "_type": "Collection",
            "total": 2,
            "count": 2,
            "_embedded": {"elements": [user(5, "Ada Lovelace"), user(6, "Grace Hopper")]},
            "_links": {"self": link(f"{API}/principals")},
        },
        content_type=HAL,
    )
    reviewers = await schema["Reviewer"].allowed_values()
    assert [r.name for r in reviewers] == ["Ada Lovelace", "Grace Hopper"]
    assert await schema["subject"].allowed_values() == []


async def test_choose_by_name(mocked: aioresponses, op: OpenProject) -> None:
    schema = op.wrap(schema_doc())
    assert await schema["type"].choose("feature") == f"{API}/types/4"  # titles: no request
    assert await schema["Customer"].choose("ACME corp") == f"{API}/custom_options/11"
    assert mocked.requests == {}
    with pytest.raises(UnknownValue) as bad:
        await schema["type"].choose("Bug")
    assert str(bad.value) == "'Bug' is not an allowed value of Type; allowed: Task, Feature"
    with pytest.raises(UnknownValue) as typo:
        await schema["type"].choose("Feture")
    assert str(typo.value) == (
        "'Feture' is not an allowed value of Type; did you mean 'Feature'?; allowed: Task, Feature"
    )
    url = f"{BASE}{API}/projects/3/available_assignees?pageSize=-1"
    twins = [user(5, "Ada Lovelace"), user(6, "Ada Lovelace"), user(7, "Grace Hopper")]
    mocked.get(
        url,
        payload={
            "_type": "Collection",
            "total": 3,
            "count": 3,
            "_embedded": {"elements": twins},
            "_links": {"self": link(f"{API}/projects/3/available_assignees")},
        },
        content_type=HAL,
        repeat=True,
    )
    assert await schema["assignee"].choose("grace hopper") == f"{API}/users/7"
    with pytest.raises(ValueError, match="several allowed values"):
        await schema["assignee"].choose("Ada Lovelace")


# -- errors and commit ------------------------------------------------------------------------


async def test_invalid_form_commit_raises_every_error_and_sends_nothing(
    mocked: aioresponses, op: OpenProject
) -> None:
    errors = {
        "subject": violation("subject", "Subject can't be blank."),
        "type": {
            "_type": "Error",
            "errorIdentifier": "urn:openproject-org:api:v3:errors:MultipleErrors",
            "message": "Multiple field constraints have been violated.",
            "_embedded": {
                "errors": [
                    violation("type", "Type can't be blank."),
                    violation("type", "Type is not set to one of the allowed values."),
                ]
            },
        },
    }
    form = op.wrap(form_doc(valid=False, errors=errors))
    assert not form.is_valid
    assert set(form.errors) == {"subject", "type"}
    assert isinstance(form.errors["type"], MultipleErrors)
    assert "invalid: subject, type" in repr(form)
    with pytest.raises(FormInvalid) as info:
        await form.commit()
    exc = info.value
    assert [e.message for e in exc.errors] == [
        "Subject can't be blank.",
        "Type can't be blank.",
        "Type is not set to one of the allowed values.",
    ]
    assert all(isinstance(e, PropertyConstraintViolation) for e in exc.errors)
    assert set(exc.by_property) == {"subject", "type"}
    assert mocked.requests == {}


async def test_commit_link_decides_even_with_errors_listed(
    mocked: aioresponses, op: OpenProject
) -> None:
    # the server decides: a commit link is followed even if the client would object
    form = op.wrap(form_doc(valid=True, errors={"subject": violation("subject", "odd")}))
    created = f"{BASE}{API}/projects/3/work_packages?notify=false"
    mocked.post(
        created,
        payload={"_type": "WorkPackage", "id": 1, "_links": {"self": link(f"{API}/wp/1")}},
        status=201,
        content_type=HAL,
    )
    wp = await form.commit(notify=False)
    assert wp.id == 1
    # a form the library did not open commits its payload, as the usage guide says
    assert sent(mocked, "POST", created) == [{"subject": "", "_links": {}}]


async def test_form_links_refuse_commit_options(mocked: aioresponses, op: OpenProject) -> None:
    mocked.get(f"{BASE}{API}/projects/3", payload=project_doc(), content_type=HAL)
    project = await op.get(f"{API}/projects/3")
    with pytest.raises(TypeError, match="opens a form"):
        await project.createWorkPackage(subject="x", notify=False)
    with pytest.raises(TypeError, match="retry_conflicts/merge re-apply an update"):
        await project.submit("createWorkPackage", subject="x", retry_conflicts=2)
    with pytest.raises(TypeError, match="merge= is called after a conflict"):
        await project.submit("createWorkPackage", subject="x", merge=lambda r, v: v)
    assert len(mocked.requests) == 1  # only the project
