"""Forms against the in-process fake server: the usage guide's flow, placement of every field
kind, custom fields by name, invalid forms, conflicts and ``retry_conflicts``.

Seed data used (``openproject_async.testing``): project 1 "Demo project" (types Task,
Milestone, Phase, Feature, Bug; members Mia (2, Developer), Rick (3, Reader), Dana (4,
Developer), Quinn (5, Developer)), project 2 "Scrum project" (types Task, Feature, Bug);
custom fields "Story points" (integer), "Customer" (list, required; Feature and Bug) and
"Reviewer" (user).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openproject_async import Form, OpenProject, Resource
from openproject_async.errors import (
    FormInvalid,
    NotFound,
    PropertyConstraintViolation,
    UnknownField,
    UnknownValue,
    UpdateConflict,
)
from openproject_async.testing import FakeOpenProject

API = "/api/v3"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=20) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as session:
        yield session


def bodies(server: FakeOpenProject, method: str, path: str) -> list[Any]:
    return [r.json() for r in server.requests if r.method == method and r.path == path]


async def demo(op: OpenProject) -> Resource:
    project: Resource = await op.get(f"{API}/projects/1")
    return project


# -- the usage guide, step by step ------------------------------------------------------------


async def test_usage_guide_flow(server: FakeOpenProject, op: OpenProject) -> None:
    project = await demo(op)
    # the empty form: no commit link, every problem listed
    empty = await project.createWorkPackage()
    assert isinstance(empty, Form)
    assert not empty.is_valid
    assert "subject" in empty.errors
    assert isinstance(empty.errors["subject"], PropertyConstraintViolation)
    # fill it in: allowed values by name, custom fields by human name
    form = await empty.validate(subject="Write the client", type="Feature")
    assert not form.is_valid
    assert set(form.errors) == {"customField2"}  # "Customer" is required for features
    form = await form.validate(fields={"Customer": "Globex"})
    assert form.is_valid
    assert form.errors == {}
    assert form.body == {
        "subject": "Write the client",
        "_links": {
            "type": {"href": f"{API}/types/4"},
            "customField2": {"href": f"{API}/custom_options/2"},
        },
    }
    server.clear_requests()
    wp = await form.commit()
    assert wp.resource_type == "WorkPackage"
    assert wp.subject == "Write the client"
    assert wp.links["type"].title == "Feature"
    assert wp.links["customField2"].title == "Globex"
    # the commit sent exactly the validated body, once
    assert bodies(server, "POST", f"{API}/projects/1/work_packages") == [form.body]
    # find it again with a filter
    found = await op.get(
        f"{API}/projects/1/work_packages",
        filters=[{"subject": {"operator": "~", "values": ["Write the client"]}}],
    )
    assert [e.id for e in found.elements] == [wp.id]
    # update: the update form gets the lockVersion, the PATCH only what changed
    update = await wp.update(subject="Write the async client")
    assert update.is_valid
    assert update.body == {"lockVersion": wp.lockVersion, "subject": "Write the async client"}
    server.clear_requests()
    updated = await update.commit()
    assert updated.subject == "Write the async client"
    assert updated.lockVersion == wp.lockVersion + 1
    assert bodies(server, "PATCH", f"{API}/work_packages/{wp.id}") == [update.body]
    # delete
    async with OpenProject(server.url, api_key=server.api_keys["admin"]) as admin:
        admin_copy = await admin.get(f"{API}/work_packages/{wp.id}")
        assert await admin_copy.delete() is None
    with pytest.raises(NotFound):
        await updated.refresh()


async def test_submit_is_form_plus_commit(server: FakeOpenProject, op: OpenProject) -> None:
    project = await demo(op)
    task = await op.get(f"{API}/types/1")
    server.clear_requests()
    wp = await project.submit("createWorkPackage", subject="abc", type=task, notify=False)
    assert wp.subject == "abc"
    assert wp.links["type"].href == f"{API}/types/1"
    # one form request (references and scalars were placed without a schema) and one create
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", f"{API}/projects/1/work_packages/form"),
        ("POST", f"{API}/projects/1/work_packages"),
    ]
    assert server.requests[-1].query == "notify=false"
    assert server.store.notifications_suppressed == 1
    saved = await wp.save(subject="new")
    assert (saved.subject, saved.lockVersion) == ("new", wp.lockVersion + 1)


# -- where values go -------------------------------------------------------------------------


async def test_every_field_kind_is_placed_by_the_schema(
    server: FakeOpenProject, op: OpenProject
) -> None:
    project = await demo(op)
    dana = await op.get(f"{API}/users/4")
    server.clear_requests()
    wp = await project.submit(
        "createWorkPackage",
        subject="Every kind",  # String
        type="Feature",  # link, by the name of an allowed value (embedded)
        description="Some **markdown**",  # Formattable
        start_date=dt.date(2025, 6, 2),  # Date, snake_case name
        due_date="2025-06-06",
        estimatedTime=dt.timedelta(hours=2, minutes=30),  # Duration
        assignee=dana,  # link, a resource
        priority=f"{API}/priorities/3",  # link, an href
        responsible=None,  # link, unset
        fields={
            "Story points": 8,  # integer custom field
            "Customer": "initech",  # list custom field, by option name
            "Reviewer": "Quinn Tester",  # user custom field, by name (behind a collection)
        },
    )
    committed = bodies(server, "POST", f"{API}/projects/1/work_packages")
    assert committed == [
        {
            "subject": "Every kind",
            "description": {"raw": "Some **markdown**"},
            "startDate": "2025-06-02",
            "dueDate": "2025-06-06",
            "estimatedTime": "PT2H30M",
            "customField1": 8,
            "_links": {
                "type": {"href": f"{API}/types/4"},
                "assignee": {"href": f"{API}/users/4"},
                "priority": {"href": f"{API}/priorities/3"},
                "responsible": {"href": None},
                "customField2": {"href": f"{API}/custom_options/3"},
                "customField3": {"href": f"{API}/users/5"},
            },
        }
    ]
    # "Quinn Tester" was looked up behind the schema's collection href: one large page
    lookups = [r.query for r in server.requests if r.path == f"{API}/principals"]
    assert len(lookups) == 1
    assert "pageSize=-1" in lookups[0]
    assert wp.description["raw"] == "Some **markdown**"
    assert (wp.startDate, wp.dueDate, wp.estimatedTime) == ("2025-06-02", "2025-06-06", "PT2H30M")
    assert wp.links["assignee"].title == "Dana Developer"
    assert wp.links["priority"].title == "High"
    assert wp.customField1 == 8
    assert wp.links["customField2"].title == "Initech"
    assert wp.links["customField3"].href == f"{API}/users/5"


async def test_custom_fields_by_name_both_ways(server: FakeOpenProject, op: OpenProject) -> None:
    project = await demo(op)
    by_name: dict[str, Any] = {"Story points": 3, "Customer": "ACME Corp"}
    wp = await project.submit("createWorkPackage", subject="Named", type="Bug", **by_name)
    # reading by name needs the schema: cached by the form already, or fetched once
    assert wp.field("Story points") == 3
    assert wp.field("customer").title == "ACME Corp"
    assert wp.field("Reviewer") is None
    assert wp.field("Subject") == "Named"
    other = await op.get(f"{API}/work_packages/{wp.id}")
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as fresh:
        copy = await fresh.get(f"{API}/work_packages/{wp.id}")
        with pytest.raises(LookupError, match="load_schema"):
            copy.field("Story points")
        server.clear_requests()
        schema = await copy.load_schema()
        await copy.load_schema()
        assert [r.path for r in server.requests] == [f"{API}/work_packages/schemas/1-5"]
        assert schema["Story points"].key == "customField1"
        assert copy.field("Story points") == 3
    saved = await other.save(**{"Story points": 5}, fields={"Reviewer": None})
    assert saved.field("Story points") == 5
    with pytest.raises(UnknownField) as info:
        await saved.save(**{"Story pointz": 1})
    message = str(info.value)
    assert "'Story pointz'" in message
    assert "customField1 (Story points)" in message
    assert "customField2 (Customer)" in message


async def test_unknown_name_sends_no_commit(server: FakeOpenProject, op: OpenProject) -> None:
    project = await demo(op)
    server.clear_requests()
    with pytest.raises(UnknownField, match="customField1 \\(Story points\\)"):
        await project.submit("createWorkPackage", subject="x", type="Task", fields={"Points": 1})
    assert bodies(server, "POST", f"{API}/projects/1/work_packages") == []
    with pytest.raises(UnknownValue, match="Feature") as bad:
        await project.submit("createWorkPackage", subject="x", type="Epic")
    assert isinstance(bad.value, ValueError)
    assert (bad.value.value, bad.value.field) == ("Epic", "Type")
    assert bad.value.allowed == ["Task", "Milestone", "Phase", "Feature", "Bug"]


async def test_allowed_values_from_every_source(server: FakeOpenProject, op: OpenProject) -> None:
    project = await demo(op)
    form = await project.createWorkPackage(subject="x", type="Feature")
    embedded = await form.schema["type"].allowed_values()
    assert [t.name for t in embedded] == ["Task", "Milestone", "Phase", "Feature", "Bug"]
    options = await form.schema["Customer"].allowed_values()
    assert [o.value for o in options] == ["ACME Corp", "Globex", "Initech"]
    assignees = await form.schema["assignee"].allowed_values()  # a collection href
    assert {u.name for u in assignees} >= {"Dana Developer", "Quinn Tester"}
    wp = await op.get(f"{API}/work_packages/1")
    schema = await wp.load_schema()  # a plain schema lists links, no embedded values
    listed = await schema["status"].allowed_values()
    assert [s.name for s in listed] == ["New", "In progress", "On hold", "Closed", "Rejected"]
    assert await schema["subject"].allowed_values() == []


# -- invalid forms ---------------------------------------------------------------------------


async def test_invalid_form_surfaces_every_error_and_commits_nothing(
    server: FakeOpenProject, op: OpenProject
) -> None:
    scrum = await op.get(f"{API}/projects/2")
    server.clear_requests()
    # empty subject, and a type the project does not have (Milestone)
    form = await scrum.createWorkPackage(subject="", type=f"{API}/types/2")
    assert not form.is_valid
    assert set(form.errors) == {"subject", "type"}
    with pytest.raises(FormInvalid) as info:
        await form.commit()
    assert {e.attribute for e in info.value.errors} == {"subject", "type"}
    assert set(info.value.by_property) == {"subject", "type"}
    with pytest.raises(FormInvalid) as again:
        await scrum.submit("createWorkPackage", subject="", type=f"{API}/types/2")
    assert len(again.value.errors) == 2
    assert [r.path for r in server.requests if not r.path.endswith("/form")] == []
    # choosing a type by name checks the project's allowed values before anything is sent
    with pytest.raises(UnknownValue, match="Task, Feature, Bug"):
        await scrum.createWorkPackage(subject="x", type="Milestone")


# -- conflicts --------------------------------------------------------------------------------


async def test_stale_copy_conflicts_and_retry_rereads(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{API}/work_packages/2")
    server.touch_work_package(2)  # someone else saved in between
    with pytest.raises(UpdateConflict):
        await wp.save(subject="mine")
    with pytest.raises(UpdateConflict):
        await wp.update(subject="mine")  # the update form itself answers 409
    saved = await wp.save(subject="mine", retry_conflicts=1)
    assert saved.subject == "mine"
    assert saved.lockVersion > wp.lockVersion


async def test_retry_conflicts_wins_against_concurrent_writers(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{API}/work_packages/3")
    changes: list[dict[str, Any]] = [
        {"subject": "Concurrent subject"},
        {"estimatedTime": dt.timedelta(hours=5)},
        {"percentageDone": 40},
        {"description": "Rewritten"},
        {"status": "In progress"},
    ]
    # five writers start from the same copy at the same moment: all but one conflict,
    # re-read and re-apply their (independent) change
    results = await asyncio.gather(*(wp.save(retry_conflicts=len(changes), **c) for c in changes))
    assert len(results) == 5
    final = await wp.refresh()
    assert final.subject == "Concurrent subject"
    assert final.estimatedTime == "PT5H"
    assert final.percentageDone == 40
    assert final.description["raw"] == "Rewritten"
    assert final.links["status"].title == "In progress"
    assert final.lockVersion == wp.lockVersion + 5


async def test_merge_recomputes_read_modify_write(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/4")
    seen: list[int] = []

    def appending(line: str) -> Any:
        async def merge(fresh: Resource, values: dict[str, Any]) -> dict[str, Any]:
            seen.append(fresh.lockVersion)
            return {"description": fresh.description["raw"] + "\n" + line}

        return merge

    first = wp.save(
        description=wp.description["raw"] + "\nA", merge=appending("A"), retry_conflicts=3
    )
    second = wp.save(
        description=wp.description["raw"] + "\nB", merge=appending("B"), retry_conflicts=3
    )
    await asyncio.gather(first, second)
    final = await wp.refresh()
    lines = final.description["raw"].splitlines()
    assert sorted(lines[-2:]) == ["A", "B"]
    assert seen == [wp.lockVersion + 1]  # one writer conflicted once and merged

    def give_up(fresh: Resource, values: dict[str, Any]) -> None:
        return None

    server.touch_work_package(4)
    with pytest.raises(UpdateConflict):
        await final.save(subject="never", merge=give_up, retry_conflicts=3)
    assert (await final.refresh()).subject != "never"


async def test_choosing_behind_a_collection_reads_big_pages_concurrently() -> None:
    async with (
        FakeOpenProject(seed_size=5, max_page_size=2) as fake,
        OpenProject(fake.url, api_key=fake.api_keys["member"]) as session,
    ):
        project = await session.get(f"{API}/projects/1")
        form = await project.createWorkPackage(subject="x", type="Task")
        fake.clear_requests()
        assert await form.schema["assignee"].choose("quinn tester") == f"{API}/users/5"
        pages = [r.query for r in fake.requests if r.path.endswith("/available_assignees")]
        # the largest page first (the server caps it at 2), then the rest via jumpTo
        assert len(pages) == 2
        assert "pageSize=-1" in pages[0]
        assert "offset=2" in pages[1]
