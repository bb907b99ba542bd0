"""The fake's documents against the real server's representers (link sets, embeds, codes).

Each test pins a difference found by comparing the fake with the reference documents in
``/work/shared/openproject`` (PROTOCOL.md and the examples; the representer named in each
test is where the real behaviour comes from). Code that works against the fake must work
against the real server, so the fake must not offer links or details the real one lacks.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from openproject_async.testing import FakeOpenProject

from .server_http import call

API = "/api/v3"
WPS = f"{API}/work_packages"
ERR = "urn:openproject-org:api:v3:errors:"


def links_in(doc: Any) -> list[dict[str, Any]]:
    """Every link object (anything with an ``href``) anywhere in ``doc``."""
    found: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if "href" in doc:
            found.append(doc)
        for value in doc.values():
            found.extend(links_in(value))
    elif isinstance(doc, list):
        for value in doc:
            found.extend(links_in(value))
    return found


# ---------------------------------------------------------------------------------------------
# Root and projects: no links the real representers do not have


async def test_root_has_only_the_real_links(openproject_server: FakeOpenProject) -> None:
    """``RootRepresenter``: no ``projects``/``users``/``queries``/``principals`` links;
    ``coreVersion`` only for admins."""
    status, root = await call(openproject_server, "GET", API, login="member")
    assert status == 200
    assert set(root["_links"]) == {
        "self", "configuration", "memberships", "priorities", "relations", "statuses",
        "time_entries", "types", "user", "userPreferences", "workPackages",
    }
    assert set(root) == {"_type", "instanceName", "_links"}
    _, as_admin = await call(openproject_server, "GET", API)
    assert set(as_admin) == {"_type", "instanceName", "coreVersion", "_links"}


async def test_project_links(openproject_server: FakeOpenProject) -> None:
    """``ProjectRepresenter``: no ``availableAssignees`` link; ``status`` links the project
    status (a null link when the project has none); ``parent``/``ancestors`` the tree."""
    _, project = await call(openproject_server, "GET", f"{API}/projects/1")
    links = project["_links"]
    assert set(links) == {
        "self", "createWorkPackage", "createWorkPackageImmediately", "workPackages",
        "categories", "versions", "types", "memberships", "schema", "parent", "ancestors",
        "status", "update", "updateImmediately", "delete",
    }
    assert links["status"] == {"href": f"{API}/project_statuses/on_track", "title": "On track"}
    assert links["parent"] == {"href": None}
    assert links["ancestors"] == []
    openproject_server.store.projects[1].status_code = None
    _, project = await call(openproject_server, "GET", f"{API}/projects/1")
    assert project["_links"]["status"] == {"href": None}
    _, secret = await call(openproject_server, "GET", f"{API}/projects/3", login="dana")
    assert secret["_links"]["parent"] == {"href": f"{API}/projects/2", "title": "Scrum project"}
    assert secret["_links"]["ancestors"] == [{"href": f"{API}/projects/2",
                                              "title": "Scrum project"}]


async def test_project_collection_representations(openproject_server: FakeOpenProject) -> None:
    status, doc = await call(openproject_server, "GET", f"{API}/projects?pageSize=2")
    assert status == 200
    assert doc["_links"]["representations"] == [
        {"href": "/projects.csv?offset=1&pageSize=2", "identifier": "csv", "type": "text/csv",
         "title": "CSV"},
        {"href": "/projects.xls?offset=1&pageSize=2", "identifier": "xls",
         "type": "application/vnd.ms-excel", "title": "XLS"},
    ]
    status, selected = await call(
        openproject_server, "GET", f"{API}/projects?select=total,representations"
    )
    assert status == 200
    assert set(selected) == {"total", "_links"}
    assert set(selected["_links"]) == {"representations"}


async def test_version_available_in_projects_is_served(
    openproject_server: FakeOpenProject,
) -> None:
    _, version = await call(openproject_server, "GET", f"{API}/versions/2")
    href = version["_links"]["availableInProjects"]["href"]
    assert href == f"{API}/versions/2/projects"
    status, doc = await call(openproject_server, "GET", href)
    assert status == 200
    assert (doc["_type"], doc["total"]) == ("Collection", 1)
    assert [p["id"] for p in doc["_embedded"]["elements"]] == [1]
    status, err = await call(openproject_server, "GET", f"{API}/versions/3/projects",
                             login="reader")
    assert (status, err["errorIdentifier"]) == (404, ERR + "NotFound")


async def test_file_links_collection_is_offset_paginated(
    openproject_server: FakeOpenProject,
) -> None:
    _, doc = await call(openproject_server, "GET", f"{WPS}/1/file_links")
    assert {k: doc[k] for k in ("_type", "total", "count", "pageSize", "offset")} == {
        "_type": "Collection", "total": 0, "count": 0, "pageSize": 20, "offset": 1,
    }
    assert doc["_links"]["jumpTo"] == {
        "href": f"{WPS}/1/file_links?offset=%7Boffset%7D&pageSize=20", "templated": True,
    }


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"{WPS}/1", {"_links": {"status": {"href": f"{API}/types/1"}}}),
        ("POST", f"{WPS}/form", {"_links": {"type": {"href": f"{API}/statuses/1"}}}),
        ("POST", f"{WPS}/1/watchers", {"user": {"href": f"{API}/statuses/1"}}),
        ("POST", f"{WPS}/1/relations", {"_links": {"to": {"href": f"{API}/users/1"}}}),
        ("POST", f"{API}/custom_actions/1/execute",
         {"_links": {"workPackage": {"href": f"{API}/projects/1"}}}),
    ],
)
async def test_resource_type_mismatch_has_no_details(
    openproject_server: FakeOpenProject, method: str, path: str, body: dict[str, Any]
) -> None:
    """``InvalidResourceLink`` passes no details: no ``_embedded.details.attribute``."""
    body = {"lockVersion": openproject_server.work_package(1).lock_version, **body}
    status, err = await call(openproject_server, method, path, body)
    assert status == 422
    assert set(err) == {"_type", "errorIdentifier", "message"}
    assert err["errorIdentifier"] == ERR + "ResourceTypeMismatch"


# ---------------------------------------------------------------------------------------------
# Single resources embed their associations; collection elements do not


async def test_relation_embeds_from_and_to(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    body = {"type": "blocks", "_links": {"to": {"href": f"{WPS}/8"}}}
    status, rel = await call(server, "POST", f"{WPS}/5/relations", body)
    assert status == 201
    for doc in (rel, (await call(server, "GET", f"{API}/relations/{rel['id']}"))[1],
                (await call(server, "PATCH", f"{API}/relations/{rel['id']}", {"lag": 1}))[1]):
        embedded = doc["_embedded"]
        assert set(embedded) == {"from", "to"}
        assert (embedded["from"]["_type"], embedded["from"]["id"]) == ("WorkPackage", 5)
        assert (embedded["to"]["_type"], embedded["to"]["id"]) == ("WorkPackage", 8)
        assert "_embedded" not in embedded["from"]
    for href in (f"{API}/relations", f"{WPS}/5/relations"):
        _, listing = await call(server, "GET", href)
        assert [("_embedded" in e) for e in listing["_embedded"]["elements"]] == [False]


async def test_attachment_embeds_author_and_container(
    openproject_server: FakeOpenProject,
) -> None:
    server = openproject_server

    def form() -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("metadata", '{"fileName": "a.txt"}', content_type="application/json")
        data.add_field("file", b"hello", filename="a.txt", content_type="text/plain")
        return data

    status, att = await call(server, "POST", f"{WPS}/9/attachments", data=form())
    assert status == 201
    _, fetched = await call(server, "GET", f"{API}/attachments/{att['id']}")
    for doc in (att, fetched):
        embedded = doc["_embedded"]
        assert set(embedded) == {"author", "container"}
        assert (embedded["author"]["_type"], embedded["author"]["id"]) == ("User", 1)
        assert (embedded["container"]["_type"], embedded["container"]["id"]) == (
            "WorkPackage", 9)
    _, listing = await call(server, "GET", f"{WPS}/9/attachments")
    assert [("_embedded" in e) for e in listing["_embedded"]["elements"]] == [False]
    status, loose = await call(server, "POST", f"{API}/attachments", data=form())
    assert status == 201
    assert set(loose["_embedded"]) == {"author"}
    assert loose["_links"]["container"] == {"href": None}


async def test_activity_embeds_its_work_package(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    status, created = await call(server, "POST", f"{WPS}/8/activities",
                                 {"comment": {"raw": "hello"}})
    assert status == 201
    href = created["_links"]["self"]["href"]
    _, fetched = await call(server, "GET", href)
    _, patched = await call(server, "PATCH", href, {"comment": {"raw": "edited"}})
    for doc in (created, fetched, patched):
        assert set(doc["_embedded"]) == {"workPackage"}
        wp = doc["_embedded"]["workPackage"]
        assert (wp["_type"], wp["id"], "_embedded" in wp) == ("WorkPackage", 8, False)
    _, listing = await call(server, "GET", f"{WPS}/8/activities")
    assert [("_embedded" in e) for e in listing["_embedded"]["elements"]] == [False, False]
    # the real representer does not load the user: an href, no title (follow it for a name)
    for doc in (created, fetched, patched, *listing["_embedded"]["elements"]):
        assert set(doc["_links"]["user"]) == {"href"}


async def test_membership_embeds_project_principal_and_roles(
    openproject_server: FakeOpenProject,
) -> None:
    _, listing = await call(openproject_server, "GET", f"{API}/memberships")
    first = listing["_embedded"]["elements"][0]
    assert "_embedded" not in first
    _, single = await call(openproject_server, "GET", first["_links"]["self"]["href"])
    embedded = single["_embedded"]
    assert set(embedded) == {"project", "principal", "roles"}
    assert embedded["project"]["_links"]["self"] == first["_links"]["project"]
    assert embedded["principal"]["_links"]["self"] == first["_links"]["principal"]
    assert [r["_links"]["self"] for r in embedded["roles"]] == first["_links"]["roles"]
    assert {r["_type"] for r in embedded["roles"]} == {"Role"}


# ---------------------------------------------------------------------------------------------
# Links across documents


async def test_methods_are_lower_case_everywhere(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    docs = []
    for path in (API, f"{API}/users/2", f"{API}/projects/1", f"{WPS}/3", f"{WPS}/12",
                 f"{API}/custom_actions/1", f"{WPS}?filters=[]&pageSize=50"):
        _, doc = await call(server, "GET", path)
        docs.append(doc)
    _, form = await call(server, "POST", f"{WPS}/form",
                         {"subject": "x", "_links": {"project": {"href": f"{API}/projects/1"}}})
    docs.append(form)
    methods = {link["method"] for doc in docs for link in links_in(doc) if "method" in link}
    assert methods == {"post", "patch", "delete"}


# Links the real server has, to endpoints the fake does not serve (schemas of memberships).
UNSERVED = {f"{API}/memberships/schema"}


async def test_read_links_lead_somewhere(openproject_server: FakeOpenProject) -> None:
    """Every plain (GET) API link of the main documents answers 200 on the fake."""
    server = openproject_server
    hrefs: set[str] = set()
    for path in (API, f"{API}/users/2", f"{API}/projects/1", f"{WPS}/3", f"{API}/versions/2",
                 f"{API}/categories/1", f"{API}/memberships/1002", f"{API}/configuration",
                 f"{API}/my_preferences", f"{WPS}/schemas/1-5"):
        status, doc = await call(server, "GET", path)
        assert status == 200, path
        hrefs.update(
            link["href"]
            for link in links_in(doc)
            if isinstance(link["href"], str)
            and link["href"].startswith(API)
            and "method" not in link
            and not link.get("templated")
            and "{" not in link["href"]  # the addWatcher payload template
        )
    assert hrefs >= UNSERVED
    for href in sorted(hrefs - UNSERVED):
        status, _ = await call(server, "GET", href)
        assert status == 200, href


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", f"{WPS}/3", None, 200),
        ("GET", f"{WPS}/99999", None, 404),
        ("POST", f"{WPS}/8/activities", {"comment": {"raw": "x"}}, 201),
        ("POST", f"{WPS}", {}, 422),
        ("PATCH", f"{WPS}/3", {"lockVersion": 99, "subject": "x"}, 409),
        ("GET", f"{WPS}?filters=nope", None, 400),
    ],
)
async def test_hal_content_type_on_every_status(
    openproject_server: FakeOpenProject, method: str, path: str, body: Any, expected: int
) -> None:
    async with openproject_server.http() as http, http.request(
        method, path, json=body
    ) as resp:
        assert resp.status == expected
        assert resp.headers["Content-Type"] == "application/hal+json; charset=utf-8"
