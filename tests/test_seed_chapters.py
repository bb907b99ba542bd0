"""The seed chapters in full: every endpoint and link of the Projects and Work Packages
chapters, walked through the library's links against the built-in server.

The only hrefs written here are the entry points the chapters give (the projects
collection, a project, a work package) and the hrefs of negative cases; everything else
is reached by following links, opening forms and committing them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openproject_async import Collection, Form, OpenProject, Resource
from openproject_async.errors import (
    FormInvalid,
    InvalidQuery,
    MissingPermission,
    MultipleErrors,
    NotFound,
    PropertyConstraintViolation,
    ResourceTypeMismatch,
)
from openproject_async.testing import FakeOpenProject

API = "/api/v3"
PROJECTS = f"{API}/projects"
ERR = "urn:openproject-org:api:v3:errors:"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=40) as server:  # ten work packages in scrum and secret
        yield server


@pytest.fixture
async def op(fake: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(fake.url, api_key=fake.api_key, retry=None) as session:
        yield session


def session_for(fake: FakeOpenProject, login: str) -> OpenProject:
    return OpenProject(fake.url, api_key=fake.api_keys[login], retry=None)


def ids(collection: Any) -> list[Any]:
    assert isinstance(collection, Collection)
    return [e.get("id") for e in collection.elements]


def href_of(resource: Resource, rel: str) -> str | None:
    link = resource.link(rel)
    assert not isinstance(link, list)
    return link.href


# ---------------------------------------------------------------------------------------------
# Projects: the collection


async def test_projects_collection_lists_what_each_user_may_see(fake: FakeOpenProject) -> None:
    seen: dict[str, list[Any]] = {}
    for login in ("admin", "member", "reader", "dana"):
        async with session_for(fake, login) as session:
            seen[login] = ids(await session.get(PROJECTS))
    assert seen == {"admin": [1, 2, 3], "member": [1, 2], "reader": [1], "dana": [1, 2, 3]}


async def test_archived_projects_are_listed_for_admins_only(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    fake.store.projects[2].active = False
    archived = [{"active": {"operator": "=", "values": ["f"]}}]
    assert ids(await op.get(PROJECTS, filters=archived)) == [2]
    async with session_for(fake, "member") as member:
        assert ids(await member.get(PROJECTS, filters=archived)) == []
        assert ids(await member.get(PROJECTS)) == [1]


@pytest.mark.parametrize(
    ("name", "operator", "values", "expected"),
    [
        ("active", "=", ["t"], [1, 2, 3]),
        ("active", "=", ["f"], []),
        ("ancestor", "=", ["2"], [3]),
        ("ancestor", "!", ["2"], [1, 2]),
        ("available_project_attributes", "=", ["1"], []),
        ("available_project_attributes", "!", ["1"], [1, 2, 3]),
        ("created_at", "<>d", ["2025-01-07", ""], [2, 3]),
        ("created_at", "=d", ["2025-01-06"], [1]),
        ("created_at", "<t-", ["1"], [1, 2, 3]),
        ("latest_activity_at", "<>d", ["2025-01-08", "2025-01-08"], [3]),
        ("latest_activity_at", ">t-", ["1"], []),
        ("name_and_identifier", "~", ["SCR"], [2]),
        ("name_and_identifier", "=", ["secret"], [3]),
        ("name_and_identifier", "!~", ["project"], []),
        ("name_and_identifier", "**", ["demo"], [1]),
        ("parent_id", "=", ["2"], [3]),
        ("parent_id", "!", ["2"], [1, 2]),
        ("principal", "=", ["3"], [1]),
        ("principal", "=", ["4"], [1, 2, 3]),
        ("principal", "!", ["2"], [3]),
        ("storage_id", "=", ["1"], [1, 2]),
        ("storage_id", "!", ["1"], [3]),
        ("storage_url", "=", ["https://nextcloud.example.net/"], [1, 2]),
        ("type_id", "=", ["4"], [1, 2]),
        ("type_id", "=", ["2"], [1, 3]),
        ("user_action", "=", ["projects/update"], [1, 2, 3]),
        ("id", "=", ["1", "3"], [1, 3]),
        ("id", "!", ["1"], [2, 3]),
        ("visible", "=", ["3"], [1]),
        ("visible", "=", ["2"], [1, 2]),
    ],
)
async def test_every_projects_filter(
    fake: FakeOpenProject,
    op: OpenProject,
    name: str,
    operator: str,
    values: list[str],
    expected: list[int],
) -> None:
    # latest activity: demo 2025-01-07 (a work package), scrum 2025-01-07, secret 2025-01-08
    filters = [{name: {"operator": operator, "values": values}}]
    found = await op.get(PROJECTS, filters=filters)
    assert ids(found) == expected
    assert found.link("self").href.startswith(f"{PROJECTS}?filters=%5B%7B%22{name}%22")


async def test_user_action_filter_depends_on_the_user(fake: FakeOpenProject) -> None:
    update = [{"user_action": {"operator": "=", "values": ["projects/update"]}}]
    create = [{"user_action": {"operator": "&=", "values": ["work_packages/create",
                                                            "work_packages/read"]}}]
    async with session_for(fake, "dana") as dana:
        assert ids(await dana.get(PROJECTS, filters=update)) == [2]
        assert ids(await dana.get(PROJECTS, filters=create)) == [1, 2, 3]
    async with session_for(fake, "reader") as reader:
        assert ids(await reader.get(PROJECTS, filters=create)) == []


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ([["id", "asc"]], [1, 2, 3]),
        ([["id", "desc"]], [3, 2, 1]),
        ([["name", "asc"]], [1, 2, 3]),
        ([["name", "desc"]], [3, 2, 1]),
        ([["typeahead", "asc"]], [1, 2, 3]),
        ([["created_at", "desc"]], [3, 2, 1]),
        ([["public", "desc"], ["id", "desc"]], [2, 3, 1]),
        ([["latest_activity_at", "asc"]], [2, 1, 3]),
        ([["latest_activity_at", "desc"]], [3, 1, 2]),
        ([["required_disk_space", "desc"], ["name", "asc"]], [3, 1, 2]),
    ],
)
async def test_every_projects_sort_order(
    fake: FakeOpenProject, op: OpenProject, sort_by: list[list[str]], expected: list[int]
) -> None:
    store = fake.store
    store.projects[2].public = True
    store.projects[1].name = "alpha (lower case sorts case-insensitively)"
    fake.create_work_package(subject="Latest", project_id=1)  # demo: activity now
    in_secret = await op.get(f"{API}/work_packages/31")  # 5 bytes, its activity even later
    await in_secret.addAttachment(b"hello", file_name="a.txt", content_type="text/plain")
    found = await op.get(PROJECTS, sortBy=sort_by)
    assert ids(found) == expected
    assert "sortBy=" in (found.link("self").href or "")


async def test_typeahead_orders_by_hierarchy_then_name(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    fake.store.projects[3].name = "A secret below scrum"
    by_name = await op.get(PROJECTS, sortBy=[["name", "asc"]])
    by_tree = await op.get(PROJECTS, sortBy=[["typeahead", "asc"]])
    assert (ids(by_name), ids(by_tree)) == ([3, 1, 2], [1, 2, 3])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filters": [{"bogus": {"operator": "=", "values": ["1"]}}]},
         "Filters bogus filter does not exist."),
        ({"filters": [{"visible": {"operator": "!", "values": ["1"]}}]},
         "Filters visible Operator is not set to one of the allowed values."),
        ({"filters": [{"id": {"operator": "=", "values": ["x"]}}]},
         "Filters id Values is invalid."),
        ({"sortBy": [["bogus", "asc"]]}, "Sort by bogus is not a valid sort criterion."),
        ({"sortBy": [["name", "up"]]}, "Sort by direction up is not valid."),
    ],
)
async def test_invalid_projects_queries(
    op: OpenProject, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        await op.get(PROJECTS, **params)
    assert (caught.value.status, caught.value.message) == (400, message)


async def test_projects_select(op: OpenProject) -> None:
    found = await op.get(PROJECTS, select="total,elements/identifier,elements/name,elements/status")
    assert found.data == {
        "total": 3,
        "_embedded": {
            "elements": [
                {"identifier": "demo", "name": "Demo project", "_links": {"status": {
                    "href": f"{API}/project_statuses/on_track", "title": "On track"}}},
                {"identifier": "scrum", "name": "Scrum project", "_links": {"status": {
                    "href": f"{API}/project_statuses/at_risk", "title": "At risk"}}},
                {"identifier": "secret", "name": "Secret project", "_links": {"status": {
                    "href": f"{API}/project_statuses/off_track", "title": "Off track"}}},
            ]
        },
    }


# ---------------------------------------------------------------------------------------------
# Projects: one project, its links and statuses


async def test_view_a_project_and_follow_every_link(fake: FakeOpenProject) -> None:
    async with session_for(fake, "dana") as dana:
        projects = await dana.get(PROJECTS)
        secret = await projects.elements[2].refresh()
        assert secret.data | {"_links": None} == {
            "_type": "Project",
            "id": 3,
            "identifier": "secret",
            "name": "Secret project",
            "active": True,
            "public": False,
            "description": {"format": "markdown", "raw": "Only a few may see this.",
                            "html": '<p class="op-uc-p">Only a few may see this.</p>'},
            "statusExplanation": {"format": "markdown", "raw": "", "html": ""},
            "createdAt": "2025-01-08T08:00:00Z",
            "updatedAt": "2025-01-08T08:00:00Z",
            "_links": None,
        }
        # a Developer in secret: no update/delete links there
        assert secret.actions() == ["createWorkPackage", "createWorkPackageImmediately"]
        parent = await secret.follow("parent")
        assert (parent.get("id"), parent.get("identifier")) == (2, "scrum")
        assert [a.get("id") for a in await secret.follow("ancestors")] == [2]
        status = await secret.follow("status")
        assert status.data == {
            "_type": "ProjectStatus",
            "id": "off_track",
            "name": "Off track",
            "_links": {"self": {"href": f"{API}/project_statuses/off_track",
                                "title": "Off track"}},
        }
        assert [t.get("name") for t in (await secret.follow("types")).elements] == [
            "Task", "Milestone"]
        assert ids(await secret.follow("categories")) == []
        assert ids(await secret.follow("versions")) == []
        assert (await secret.follow("workPackages")).total == 7  # the open ones of ten
        memberships = await secret.follow("memberships")
        assert [m.link("principal").href for m in memberships.elements] == [f"{API}/users/4"]
        schema = await secret.load_schema()
        assert list(schema.fields) == [
            "id", "name", "identifier", "description", "public", "active", "status",
            "statusExplanation", "parent", "createdAt", "updatedAt",
        ]
        # Project admin in scrum: may edit it, but only admins delete projects
        scrum = await parent.refresh()
        assert scrum.actions() == ["createWorkPackage", "createWorkPackageImmediately",
                                   "update", "updateImmediately"]


async def test_seeded_projects_have_statuses(op: OpenProject) -> None:
    statuses = []
    for project in (await op.get(PROJECTS)).elements:
        status = await project.follow("status")
        statuses.append((project.get("identifier"), status.get("id"), status.get("name")))
    assert statuses == [
        ("demo", "on_track", "On track"),
        ("scrum", "at_risk", "At risk"),
        ("secret", "off_track", "Off track"),
    ]


async def test_project_status_endpoint(fake: FakeOpenProject, op: OpenProject) -> None:
    project = await op.get(f"{PROJECTS}/1")
    schema = await project.load_schema()
    allowed = await schema["status"].allowed_values()
    assert [(s.href, s.get("name")) for s in allowed] == [
        (f"{API}/project_statuses/{code}", name)
        for code, name in (("not_started", "Not started"), ("on_track", "On track"),
                           ("at_risk", "At risk"), ("off_track", "Off track"),
                           ("finished", "Finished"), ("discontinued", "Discontinued"))
    ]
    finished = await op.get(allowed[4].href)
    assert (finished.resource_type, finished.get("id"), finished.get("name")) == (
        "ProjectStatus", "finished", "Finished")
    with pytest.raises(NotFound) as caught:
        await op.get(f"{API}/project_statuses/bogus")
    assert caught.value.message == "The requested resource could not be found."
    fake.store.projects[1].status_code = None
    refreshed = await project.refresh()
    assert refreshed.link("status").href is None


# ---------------------------------------------------------------------------------------------
# Projects: forms and writes


async def test_update_form_then_commit(fake: FakeOpenProject, op: OpenProject) -> None:
    project = await op.get(f"{PROJECTS}/1")
    form = await project.update(
        name="Demo renamed", status="At risk", statusExplanation="Two people are ill."
    )
    assert isinstance(form, Form)
    assert form.errors == {}
    assert form.link("commit").href == f"{PROJECTS}/1"
    assert form.link("commit").method == "PATCH"
    assert form.link("self").href == f"{PROJECTS}/1/form"
    assert form.body == {
        "name": "Demo renamed",
        "statusExplanation": {"raw": "Two people are ill."},
        "_links": {"status": {"href": f"{API}/project_statuses/at_risk"}},
    }
    assert form.payload == {
        "identifier": "demo",
        "name": "Demo renamed",
        "active": True,
        "public": False,
        "description": {"format": "markdown", "raw": "The project **everyone** works in.",
                        "html": '<p class="op-uc-p">The project <strong>everyone</strong> '
                                "works in.</p>"},
        "statusExplanation": {"format": "markdown", "raw": "Two people are ill.",
                              "html": '<p class="op-uc-p">Two people are ill.</p>'},
        "_links": {
            "parent": {"href": None},
            "status": {"href": f"{API}/project_statuses/at_risk", "title": "At risk"},
        },
    }
    assert fake.store.projects[1].name == "Demo project"  # a form changes nothing
    updated = await form.commit()
    assert (updated.get("name"), updated.get("statusExplanation")["raw"]) == (
        "Demo renamed", "Two people are ill.")
    assert updated.link("status").title == "At risk"
    assert updated.get("updatedAt") > project.get("updatedAt")
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [(r.path, r.json()) for r in patches] == [(f"{PROJECTS}/1", form.body)]


async def test_update_form_with_validation_errors(op: OpenProject) -> None:
    project = await op.get(f"{PROJECTS}/1")
    form = await project.update(name="", identifier="scrum")
    assert {k: (type(e).__name__, e.message) for k, e in form.errors.items()} == {
        "name": ("PropertyConstraintViolation", "Name can't be blank."),
        "identifier": ("PropertyConstraintViolation", "Identifier has already been taken."),
    }
    assert not form.is_valid
    with pytest.raises(FormInvalid):
        await form.commit()
    for identifier, message in (
        ("new", "Identifier is reserved."),
        ("Upper", "Identifier is invalid."),
        ("x" * 101, "Identifier is too long (maximum is 100 characters)."),
    ):
        form = await project.update(identifier=identifier)
        assert [e.message for e in form.errors.values()] == [message]
    assert (await project.refresh()).get("identifier") == "demo"


async def test_parent_cannot_be_the_project_or_below_it(op: OpenProject) -> None:
    scrum = await op.get(f"{PROJECTS}/2")
    secret = await op.get(f"{PROJECTS}/3")
    form = await scrum.update(parent=secret)
    assert [(k, e.message) for k, e in form.errors.items()] == [
        ("parent", "Subproject of is invalid.")]
    moved = await secret.save(parent=None)
    assert moved.link("parent").href is None
    assert moved.link("ancestors") == []
    moved = await moved.save(parent=await op.get(f"{PROJECTS}/1"))
    assert (moved.link("parent").href, moved.link("parent").title) == (
        f"{PROJECTS}/1", "Demo project")


async def test_update_immediately(fake: FakeOpenProject, op: OpenProject) -> None:
    project = await op.get(f"{PROJECTS}/2")
    updated = await project.updateImmediately(name="Scrum 2", public=True)
    assert (updated.get("name"), updated.get("public")) == ("Scrum 2", True)
    assert fake.store.projects[2].public is True
    with pytest.raises(PropertyConstraintViolation) as one:
        await project.updateImmediately(identifier="demo")
    assert (one.value.status, one.value.attribute, one.value.message) == (
        422, "identifier", "Identifier has already been taken.")
    with pytest.raises(MultipleErrors) as many:
        await project.updateImmediately(name="", identifier="new")
    assert [(e.attribute, e.message) for e in many.value.errors] == [
        ("name", "Name can't be blank."), ("identifier", "Identifier is reserved.")]
    with pytest.raises(ResourceTypeMismatch):
        await project.updateImmediately(json={"_links": {"status": {"href": f"{API}/types/1"}}})
    assert fake.store.projects[2].identifier == "scrum"


async def test_only_permitted_users_may_write_projects(fake: FakeOpenProject) -> None:
    async with session_for(fake, "member") as member:
        demo = await member.get(f"{PROJECTS}/1")
        assert demo.actions() == ["createWorkPackage", "createWorkPackageImmediately"]
        with pytest.raises(MissingPermission) as caught:
            await member.request("PATCH", f"{PROJECTS}/1", json={"name": "Mine"})
        assert caught.value.status == 403
        with pytest.raises(MissingPermission):
            await member.request("POST", f"{PROJECTS}/1/form", json={})
        with pytest.raises(MissingPermission):
            await member.request("DELETE", f"{PROJECTS}/1")
        with pytest.raises(NotFound):  # invisible: 404, not 403
            await member.request("PATCH", f"{PROJECTS}/3", json={"name": "Mine"})
        with pytest.raises(MissingPermission):
            await member.request("POST", f"{PROJECTS}/form", json={})
    assert fake.store.projects[1].name == "Demo project"


async def test_delete_a_project(fake: FakeOpenProject, op: OpenProject) -> None:
    scrum = await op.get(f"{PROJECTS}/2")
    wp_ids = [w.id for w in fake.store.work_packages.values() if w.project_id in (2, 3)]
    assert len(wp_ids) == 20
    assert await scrum.delete() is None
    assert [r.status for r in fake.requests if r.method == "DELETE"] == [204]
    with pytest.raises(NotFound):
        await scrum.refresh()
    with pytest.raises(NotFound):  # its subproject went with it
        await op.get(f"{PROJECTS}/3")
    with pytest.raises(NotFound):
        await op.get(f"{API}/work_packages/{wp_ids[0]}")
    assert ids(await op.get(PROJECTS)) == [1]
    assert not any(w.project_id in (2, 3) for w in fake.store.work_packages.values())


async def test_create_a_project_through_its_form(fake: FakeOpenProject, op: OpenProject) -> None:
    empty = op.wrap(await op.request("POST", f"{PROJECTS}/form", json={}))
    assert isinstance(empty, Form)
    assert {k: e.message for k, e in empty.errors.items()} == {
        "name": "Name can't be blank.", "identifier": "Identifier can't be blank."}
    assert not empty.is_valid
    valid = await empty.validate(name="Kanban", identifier="kanban", status="Not started")
    assert valid.is_valid
    assert (valid.link("commit").href, valid.link("commit").method) == (PROJECTS, "POST")
    created = await valid.commit()
    assert [r.status for r in fake.requests if r.method == "POST" and r.path == PROJECTS] == [201]
    assert (created.get("id"), created.get("identifier"), created.link("status").title) == (
        4, "kanban", "Not started")
    assert [t.get("name") for t in (await created.follow("types")).elements] == [
        "Task", "Milestone"]
    assert ids(await op.get(PROJECTS)) == [1, 2, 3, 4]
    with pytest.raises(PropertyConstraintViolation) as caught:
        await op.request("POST", PROJECTS, json={"name": "Again", "identifier": "kanban"})
    assert caught.value.message == "Identifier has already been taken."


async def test_available_assignees_and_responsibles(fake: FakeOpenProject) -> None:
    fake.store.users[5].status = "locked"  # locked users are neither
    async with session_for(fake, "member") as member:
        project = await member.get(f"{PROJECTS}/1")
        form = await project.createWorkPackage(subject="Who does it?")
        assignees = await form.schema["assignee"].allowed_values()
        responsibles = await form.schema["responsible"].allowed_values()
        assert [u.get("name") for u in assignees] == ["Mia Member", "Dana Developer"]
        assert [u.get("name") for u in responsibles] == ["Mia Member", "Dana Developer"]
        assert form.schema["responsible"].raw["_links"]["allowedValues"] == {
            "href": f"{PROJECTS}/1/available_responsibles"}
    async with session_for(fake, "reader") as reader:
        # a reader may not add work packages: no assignees for them, but responsibles
        with pytest.raises(MissingPermission):
            await reader.get(f"{PROJECTS}/1/available_assignees")
        responsibles = await reader.get(f"{PROJECTS}/1/available_responsibles")
        assert ids(responsibles) == [2, 4]
        assert responsibles.link("self").href == (
            f"{PROJECTS}/1/available_responsibles?offset=1&pageSize=20")


# ---------------------------------------------------------------------------------------------
# Work packages: every endpoint of the chapter, through links


async def test_work_packages_chapter_walk(fake: FakeOpenProject, op: OpenProject) -> None:
    project = await op.get(f"{PROJECTS}/2")
    # GET /projects/{id}/work_packages
    in_project = await project.follow("workPackages")
    assert (in_project.resource_type, in_project.total) == ("WorkPackageCollection", 7)
    # POST /projects/{id}/work_packages/form, then its commit
    task = await op.get(f"{API}/types/1")
    form = await project.createWorkPackage(subject="Walk the chapter", type=task)
    assert form.is_valid
    created = await form.commit()
    assert (created.get("id"), created.link("project").href) == (41, f"{PROJECTS}/2")
    # POST /projects/{id}/work_packages
    direct = await project.createWorkPackageImmediately(subject="Directly", type=task)
    assert (direct.get("id"), direct.get("subject")) == (42, "Directly")
    # GET /work_packages, POST /work_packages/form and POST /work_packages
    everything = await (await op.root()).follow("workPackages")
    assert everything.total == 30  # the open ones
    form = await everything.createWorkPackage(subject="From the collection", project=project,
                                              type=task)
    from_collection = await form.commit()
    assert from_collection.get("id") == 43
    # GET /work_packages/schemas and /work_packages/schemas/{id}
    schemas = await everything.follow("schemas")
    assert [s.href for s in schemas.elements][:2] == [
        f"{API}/work_packages/schemas/1-2", f"{API}/work_packages/schemas/1-3"]
    assert created.link("schema").href == f"{API}/work_packages/schemas/2-1"
    schema = await created.follow("schema")  # the session cached it from the form
    assert (schema.resource_type, schema["customField1"].name) == ("Schema", "Story points")
    # GET /work_packages/{id}, POST /work_packages/{id}/form, PATCH /work_packages/{id}
    wp = await created.refresh()
    update = await wp.update(subject="Walked")
    assert update.link("commit").href == f"{API}/work_packages/41"
    walked = await update.commit()
    assert (walked.get("subject"), walked.get("lockVersion")) == ("Walked", 1)
    patched = await walked.updateImmediately(lockVersion=1, subject="Patched")
    assert (patched.get("subject"), patched.get("lockVersion")) == ("Patched", 2)
    # available_projects: the update form's project field
    projects = await update.schema["project"].allowed_values()
    assert [p.get("id") for p in projects] == [1, 2, 3]
    # available_assignees of a work package
    assignees = await update.schema["assignee"].allowed_values()
    assert [u.get("id") for u in assignees] == [2, 4]
    # activities: GET and POST
    comment = await patched.addComment(comment="Halfway through.")
    assert (comment.resource_type, comment.get("comment")["raw"]) == (
        "Activity::Comment", "Halfway through.")
    activities = await patched.follow("activities")
    assert [a.get("version") for a in activities.elements] == [1, 2, 3, 4]
    # relations: candidates, POST, GET
    candidates = await patched.follow("availableRelationCandidates", query="Directly")
    assert ids(candidates) == [42]
    relation = await patched.addRelation(type="follows", to=candidates.elements[0])
    assert (relation.get("type"), relation.link("to").href) == (
        "follows", f"{API}/work_packages/42")
    patched = await patched.refresh()  # relations are embedded: read them anew
    assert ids(await patched.follow("relations")) == [relation.get("id")]
    # watchers: candidates, POST, GET, DELETE
    watchable = await patched.follow("availableWatchers")
    assert ids(watchable) == [2, 4]  # the author watches already
    await patched.addWatcher(user=watchable.elements[1])
    watchers = await patched.follow("watchers")
    assert ids(watchers) == [1, 4]
    await patched.removeWatcher(user_id=4)
    assert ids(await patched.follow("watchers")) == [1]
    # file links: GET and POST (addFileLink), revisions
    assert ids(await patched.follow("fileLinks")) == []
    added = await patched.addFileLink(json=file_links(("5503", "logo.png")))
    assert ids(added) == [1]
    assert ids(await (await patched.refresh()).follow("fileLinks")) == [1]
    revisions = await patched.follow("revisions")
    assert revisions.data == {
        "_type": "Collection", "total": 0, "count": 0, "_embedded": {"elements": []},
        "_links": {"self": {"href": f"{API}/work_packages/41/revisions"}},
    }
    # DELETE /work_packages/{id}
    current = await patched.refresh()
    assert await current.delete() is None
    with pytest.raises(NotFound):
        await current.refresh()
    assert fake.store.file_links == {}  # its file links went with it


def file_links(*files: tuple[str, str], storage: str = f"{API}/storages/1") -> dict[str, Any]:
    """A create body: a Collection of file links (originData + storage link)."""
    return {
        "_type": "Collection",
        "_embedded": {
            "elements": [
                {
                    "originData": {
                        "id": origin_id,
                        "name": name,
                        "mimeType": "image/png",
                        "size": 16042,
                        "createdAt": "2025-01-05T09:42:10Z",
                        "lastModifiedAt": "2025-01-06T14:00:13Z",
                        "createdByName": "Dana Developer",
                        "lastModifiedByName": "Mia Member",
                    },
                    "_links": {"storage": {"href": storage}},
                }
                for origin_id, name in files
            ]
        },
    }


async def test_file_links_are_created_once_and_read_back(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{API}/work_packages/1")
    assert (wp.link("addFileLink").href, wp.link("addFileLink").method) == (
        f"{API}/work_packages/1/file_links", "POST")
    created = await wp.addFileLink(json=file_links(("5503", "logo.png"), ("7", "plan.pdf")))
    assert ids(created) == [1, 2]
    assert [r.status for r in fake.requests if r.method == "POST"] == [201]
    again = await wp.addFileLink(json=file_links(("5503", "renamed.png")))
    assert ids(again) == [1]  # the existing link, not a copy, not updated
    assert again.elements[0].get("originData")["name"] == "logo.png"
    wp = await wp.refresh()  # a work package embeds its file links: read them anew
    assert wp.embedded["fileLinks"]["total"] == 2
    link = (await wp.follow("fileLinks")).elements[0]
    assert link.data | {"createdAt": None, "updatedAt": None} == {
        "_type": "FileLink",
        "id": 1,
        "createdAt": None,
        "updatedAt": None,
        "originData": {
            "id": "5503",
            "name": "logo.png",
            "mimeType": "image/png",
            "createdAt": "2025-01-05T09:42:10Z",
            "lastModifiedAt": "2025-01-06T14:00:13Z",
            "createdByName": "Dana Developer",
            "lastModifiedByName": "Mia Member",
        },
        "_links": {
            "self": {"href": f"{API}/file_links/1", "title": "logo.png"},
            "delete": {"href": f"{API}/file_links/1", "method": "delete"},
            "creator": {"href": f"{API}/users/1", "title": "OpenProject Admin"},
            "status": {"href": "urn:openproject-org:api:v3:file-links:permission:ViewAllowed",
                       "title": "View allowed"},
            "originOpen": {"href": "https://nextcloud.example.net/index.php/f/5503?openfile=1"},
            "staticOriginOpen": {"href": f"{API}/file_links/1/open"},
            "originOpenLocation": {
                "href": "https://nextcloud.example.net/index.php/f/5503?openfile=0"},
            "staticOriginOpenLocation": {"href": f"{API}/file_links/1/open?location=true"},
            "staticOriginDownload": {"href": f"{API}/file_links/1/download"},
            "storage": {"href": f"{API}/storages/1", "title": "Team files"},
            "container": {"href": f"{API}/work_packages/1", "title": wp.get("subject")},
        },
    }
    storage = await link.follow("storage")
    assert (storage.resource_type, storage.get("name"), storage.link("origin").href) == (
        "Storage", "Team files", "https://nextcloud.example.net")
    assert (await link.follow("container")).get("id") == 1
    assert await link.delete() is None
    assert ids(await (await wp.refresh()).follow("fileLinks")) == [2]


async def test_file_link_errors_create_nothing(fake: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/1")
    unknown_storage = file_links(("1", "ok.png"), ("2", "x"), storage=f"{API}/storages/9")
    with pytest.raises(PropertyConstraintViolation) as caught:
        await wp.addFileLink(json=unknown_storage)
    assert (caught.value.status, caught.value.attribute, caught.value.message) == (
        422, "storage", "Storage does not exist.")
    with pytest.raises(MultipleErrors) as many:
        await wp.addFileLink(json={"_embedded": {"elements": [{"originData": {}}]}})
    assert [e.attribute for e in many.value.errors] == ["originId", "originName", "storage"]
    too_many = file_links(*((str(i), f"{i}.png") for i in range(21)))
    with pytest.raises(PropertyConstraintViolation) as caught:
        await wp.addFileLink(json=too_many)
    assert caught.value.message == "At most 20 file links can be created at once."
    assert fake.store.file_links == {}
    # secret has no storage: its work packages take no file links
    secret_wp = await op.get(f"{API}/work_packages/31")
    with pytest.raises(PropertyConstraintViolation):
        await secret_wp.addFileLink(json=file_links(("1", "a.png")))


async def test_file_links_need_their_permissions(fake: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/1")
    await wp.addFileLink(json=file_links(("5503", "logo.png")))
    async with session_for(fake, "reader") as reader:
        seen = await reader.get(f"{API}/work_packages/1")
        assert (seen.can("fileLinks"), seen.can("addFileLink"), seen.can("revisions")) == (
            True, False, False)
        links = await seen.follow("fileLinks")
        assert ids(links) == [1]
        assert not links.elements[0].can("delete")
        with pytest.raises(MissingPermission):
            await reader.request("POST", f"{API}/work_packages/1/file_links",
                                 json=file_links(("9", "x.png")))
        with pytest.raises(MissingPermission):
            await reader.request("DELETE", f"{API}/file_links/1")
        revisions = await reader.get(f"{API}/work_packages/1/revisions")
        assert (revisions.total, revisions.link("self").href) == (
            0, f"{API}/work_packages/1/revisions")
    async with session_for(fake, "member") as member:
        with pytest.raises(NotFound):  # a work package of secret: invisible
            await member.get(f"{API}/work_packages/31/file_links")
