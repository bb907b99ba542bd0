"""Watchers, activities, relations, attachments, custom actions, markdown, users, projects."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from openproject_async.testing import FakeOpenProject

from .server_http import call

WPS = "/api/v3/work_packages"
ERR = "urn:openproject-org:api:v3:errors:"


# ---------------------------------------------------------------------------------------------
# Root, users, projects


async def test_root(openproject_server: FakeOpenProject) -> None:
    status, root = await call(openproject_server, "GET", "/api/v3", login="member")
    assert status == 200
    assert root["_type"] == "Root"
    assert root["_links"]["user"] == {"href": "/api/v3/users/2", "title": "Mia Member"}
    for name in ("configuration", "priorities", "relations", "statuses", "types",
                 "userPreferences", "workPackages", "memberships", "time_entries"):
        assert root["_links"][name]["href"].startswith("/api/v3/")


async def test_users(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, me = await call(server, "GET", "/api/v3/users/me", login="reader")
    assert (me["id"], me["login"], me["name"]) == (3, "reader", "Rick Reader")
    _, users = await call(server, "GET", "/api/v3/users")
    assert users["total"] == len(server.users)
    assert users["pageSize"] == 20
    _, other = await call(server, "GET", "/api/v3/users/4", login="reader")
    assert "email" not in other  # only admins and the user see it
    status, _ = await call(server, "GET", "/api/v3/users/999")
    assert status == 404


async def test_projects(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, by_id = await call(server, "GET", "/api/v3/projects/1")
    _, by_ident = await call(server, "GET", "/api/v3/projects/demo")
    assert by_id == by_ident
    links = by_id["_links"]
    assert links["createWorkPackage"] == {"href": "/api/v3/projects/1/work_packages/form",
                                          "method": "post"}
    assert links["createWorkPackageImmediately"] == {"href": "/api/v3/projects/1/work_packages",
                                                     "method": "post"}
    for name in ("workPackages", "categories", "versions", "types"):
        status, _ = await call(server, "GET", links[name]["href"])
        assert status == 200, name
    _, reader_view = await call(server, "GET", "/api/v3/projects/1", login="reader")
    assert "createWorkPackage" not in reader_view["_links"]
    _, types = await call(server, "GET", "/api/v3/projects/scrum/types")
    assert [t["name"] for t in types["_embedded"]["elements"]] == ["Task", "Feature", "Bug"]
    _, assignees = await call(server, "GET", "/api/v3/projects/1/available_assignees")
    assert [u["id"] for u in assignees["_embedded"]["elements"]] == [2, 4, 5]
    _, categories = await call(server, "GET", "/api/v3/projects/1/categories")
    assert [c["name"] for c in categories["_embedded"]["elements"]] == ["Backend", "Frontend"]


async def test_principals_filter_from_user_custom_field(
    openproject_server: FakeOpenProject,
) -> None:
    _, schema = await call(openproject_server, "GET", f"{WPS}/schemas/1-1")
    href = schema["customField3"]["_links"]["allowedValues"]["href"]
    status, doc = await call(openproject_server, "GET", href)
    assert status == 200
    assert [u["id"] for u in doc["_embedded"]["elements"]] == [2, 3, 4, 5]


# ---------------------------------------------------------------------------------------------
# Watchers


async def test_watchers(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    url = f"{WPS}/5/watchers"
    _, wp = await call(server, "GET", f"{WPS}/5")
    assert wp["_links"]["addWatcher"] == {
        "href": url,
        "method": "post",
        "payload": {"user": {"href": "/api/v3/users/{user_id}"}},
        "templated": True,
    }
    assert wp["_links"]["removeWatcher"] == {
        "href": url + "/{user_id}", "method": "delete", "templated": True
    }
    assert server.store.work_packages[5].watcher_ids == [5]
    body = {"user": {"href": "/api/v3/users/2"}}
    status, user = await call(server, "POST", url, body)
    assert (status, user["_type"], user["id"]) == (201, "User", 2)
    status, _ = await call(server, "POST", url, body)
    assert status == 200
    _, watchers = await call(server, "GET", url)
    assert [u["id"] for u in watchers["_embedded"]["elements"]] == [5, 2]
    assert watchers["_type"] == "Collection"
    status, text = await call(server, "DELETE", f"{url}/2")
    assert (status, text) == (204, "")
    assert server.store.work_packages[5].watcher_ids == [5]
    status, _ = await call(server, "DELETE", f"{url}/2")
    assert status == 204
    status, err = await call(server, "POST", url, data=b"", headers={
        "Content-Type": "application/json"})
    assert (status, err["errorIdentifier"]) == (400, ERR + "InvalidRequestBody")
    status, err = await call(server, "POST", url, {"user": {"href": "/api/v3/statuses/1"}})
    assert (status, err["errorIdentifier"]) == (422, ERR + "ResourceTypeMismatch")


async def test_watch_unwatch_toggle(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, wp = await call(server, "GET", f"{WPS}/6", login="member")
    watch = wp["_links"]["watch"]
    assert "unwatch" not in wp["_links"]
    status, _ = await call(server, watch["method"].upper(), watch["href"], watch["payload"],
                           login="member")
    assert status == 201
    _, wp = await call(server, "GET", f"{WPS}/6", login="member")
    assert "watch" not in wp["_links"]
    assert wp["_links"]["unwatch"] == {"href": f"{WPS}/6/watchers/2", "method": "delete"}


async def test_available_watchers(openproject_server: FakeOpenProject) -> None:
    _, doc = await call(openproject_server, "GET", f"{WPS}/1/available_watchers")
    ids = [u["id"] for u in doc["_embedded"]["elements"]]
    assert ids
    assert set(ids).isdisjoint(openproject_server.store.work_packages[1].watcher_ids)


# ---------------------------------------------------------------------------------------------
# Activities


async def test_comments(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, wp = await call(server, "GET", f"{WPS}/8")
    add = wp["_links"]["addComment"]
    assert add == {"href": f"{WPS}/8/activities", "title": "Add comment", "method": "post"}
    status, activity = await call(server, "POST", add["href"] + "?notify=false",
                                  {"comment": {"raw": "Looks *good*"}, "internal": False})
    assert status == 201
    assert activity["_type"] == "Activity::Comment"
    assert activity["comment"]["raw"] == "Looks *good*"
    assert activity["comment"]["html"] == '<p class="op-uc-p">Looks <em>good</em></p>'
    assert server.notifications_suppressed == 1
    _, activities = await call(server, "GET", wp["_links"]["activities"]["href"])
    types = [a["_type"] for a in activities["_embedded"]["elements"]]
    assert types == ["Activity", "Activity::Comment"]
    assert [a["version"] for a in activities["_embedded"]["elements"]] == [1, 2]
    status, patched = await call(server, "PATCH", f"/api/v3/activities/{activity['id']}",
                                 {"comment": {"raw": "Edited"}})
    assert (status, patched["comment"]["raw"]) == (200, "Edited")
    status, err = await call(server, "PATCH", f"/api/v3/activities/{activity['id']}",
                             {"version": 9})
    assert (status, err["errorIdentifier"]) == (422, ERR + "PropertyIsReadOnly")
    status, _ = await call(server, "POST", add["href"], {"comment": {"raw": "x"}},
                           login="reader")
    assert status == 403


async def test_a_comment_sets_updated_at_and_keeps_the_lock_version(
    openproject_server: FakeOpenProject,
) -> None:
    """As Journals::CreateService#touch_journable: updatedAt = the comment's createdAt."""
    server = openproject_server
    _, before = await call(server, "GET", f"{WPS}/8")
    status, activity = await call(server, "POST", f"{WPS}/8/activities",
                                  {"comment": {"raw": "seen"}})
    assert status == 201
    _, after = await call(server, "GET", f"{WPS}/8")
    assert after["lockVersion"] == before["lockVersion"]
    assert after["updatedAt"] == activity["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]
    # an update stays possible with the lockVersion read before the comment
    status, _ = await call(server, "PATCH", f"{WPS}/8",
                           {"lockVersion": before["lockVersion"], "subject": "after comment"})
    assert status == 200


# ---------------------------------------------------------------------------------------------
# Relations


async def test_relations(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    body = {"type": "follows", "lag": 2, "description": "after",
            "_links": {"to": {"href": f"{WPS}/8"}}}
    status, rel = await call(server, "POST", f"{WPS}/5/relations", body)
    assert status == 201
    assert (rel["_type"], rel["type"], rel["reverseType"], rel["lag"]) == (
        "Relation", "follows", "precedes", 2)
    assert rel["_links"]["from"]["href"] == f"{WPS}/5"
    assert rel["_links"]["to"]["href"] == f"{WPS}/8"
    assert rel["_links"]["delete"]["method"] == "delete"
    assert rel["_links"]["updateImmediately"]["method"] == "patch"
    status, _ = await call(server, "POST", f"{WPS}/5/relations", body)
    assert status == 422
    _, listing = await call(server, "GET", f"{WPS}/8/relations")
    assert [r["id"] for r in listing["_embedded"]["elements"]] == [rel["id"]]
    _, fetched = await call(server, "GET", rel["_links"]["self"]["href"])
    assert fetched == rel
    status, _ = await call(server, "DELETE", rel["_links"]["delete"]["href"])
    assert status == 204
    status, _ = await call(server, "GET", rel["_links"]["self"]["href"])
    assert status == 404


# ---------------------------------------------------------------------------------------------
# Attachments


def multipart(parts: list[tuple[str, str | None, str, bytes]]) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    for name, filename, content_type, data in parts:
        part = writer.append(data, {"Content-Type": content_type})
        params = {"name": name} if filename is None else {"name": name, "filename": filename}
        part.set_content_disposition("form-data", **params)
    return writer


async def test_attachment_upload(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    content = b"\x89PNG fake image bytes"
    meta = b'{"fileName": "cat.png", "description": {"raw": "A cat"}}'
    writer = multipart([
        ("metadata", None, "application/json", meta),
        ("file", "ignored.png", "image/png", content),
    ])
    status, att = await call(server, "POST", f"{WPS}/9/attachments", data=writer)
    assert status == 201  # Endpoints::Create (the docs list 200)
    assert att["_type"] == "Attachment"
    assert (att["fileName"], att["fileSize"], att["contentType"]) == (
        "cat.png", len(content), "image/png")
    assert att["digest"] == {"algorithm": "md5", "hash": hashlib.md5(content).hexdigest()}
    assert att["description"]["raw"] == "A cat"
    links = att["_links"]
    assert links["staticDownloadLocation"]["href"] == f"/api/v3/attachments/{att['id']}/content"
    assert links["container"]["href"] == f"{WPS}/9"
    async with server.http() as http, http.get(links["downloadLocation"]["href"]) as resp:
        assert await resp.read() == content
    _, listing = await call(server, "GET", f"{WPS}/9/attachments")
    assert listing["total"] == 1
    status, _ = await call(server, "DELETE", links["delete"]["href"])
    assert status == 204


@pytest.mark.parametrize(
    "parts",
    [
        [("file", "a.txt", "text/plain", b"x"),
         ("metadata", None, "application/json", b'{"fileName": "a.txt"}')],
        [("metadata", None, "application/json", b'{"fileName": "a.txt"}')],
        [("metadata", None, "application/json", b'{"fileName": "a.txt"}'),
         ("file", None, "text/plain", b"x")],
    ],
)
async def test_attachment_upload_rejects_bad_parts(
    openproject_server: FakeOpenProject, parts: list[tuple[str, str | None, str, bytes]]
) -> None:
    status, err = await call(openproject_server, "POST", f"{WPS}/9/attachments",
                             data=multipart(parts))
    assert status == 400
    assert err["errorIdentifier"] == ERR + "InvalidRequestBody"
    assert not openproject_server.store.attachments


# ---------------------------------------------------------------------------------------------
# Custom actions and markdown


async def test_custom_action(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, wp = await call(server, "GET", f"{WPS}/12")
    assert wp["_links"]["customActions"] == [
        {"href": "/api/v3/custom_actions/1", "title": "Reset"},
        {"href": "/api/v3/custom_actions/2", "title": "Close"},
    ]
    _, action = await call(server, "GET", "/api/v3/custom_actions/2")
    execute = action["_links"]["executeImmediately"]
    assert execute == {"href": "/api/v3/custom_actions/2/execute", "title": "Execute Close",
                       "method": "post"}
    body = {"lockVersion": wp["lockVersion"], "_links": {"workPackage": {"href": f"{WPS}/12"}}}
    status, updated = await call(server, "POST", execute["href"], body)
    assert status == 200
    assert updated["_links"]["status"]["title"] == "Closed"
    assert updated["lockVersion"] == wp["lockVersion"] + 1
    status, err = await call(server, "POST", execute["href"], body)
    assert (status, err["errorIdentifier"]) == (409, ERR + "UpdateConflict")


async def test_render_markdown(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    async with server.http() as http:
        async with http.post("/api/v3/render/markdown?context=/api/v3/work_packages/1",
                             data=b"Hello **world**",
                             headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            assert await resp.text() == '<p class="op-uc-p">Hello <strong>world</strong></p>'
        async with http.post("/api/v3/render/markdown", json={"text": "x"}) as resp:
            assert resp.status == 415
            body = await resp.json(content_type=None)
            assert body["errorIdentifier"] == ERR + "TypeNotSupported"


async def test_memberships_roles_and_stub_lists(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, project = await call(server, "GET", "/api/v3/projects/1")
    status, members = await call(server, "GET", project["_links"]["memberships"]["href"])
    assert status == 200
    principals = [m["_links"]["principal"]["href"] for m in members["_embedded"]["elements"]]
    assert principals == [f"/api/v3/users/{u}" for u in (2, 3, 4, 5)]
    role_href = members["_embedded"]["elements"][1]["_links"]["roles"][0]["href"]
    _, role = await call(server, "GET", role_href)
    assert role["name"] == "Reader"
    _, member = await call(server, "GET", "/api/v3/memberships?filters=[]", login="member")
    assert {m["_links"]["project"]["href"] for m in member["_embedded"]["elements"]} == {
        "/api/v3/projects/1", "/api/v3/projects/2"}
    for path in ("/api/v3/queries", "/api/v3/time_entries", f"{WPS}/1/revisions",
                 f"{WPS}/1/file_links", "/api/v3/configuration", "/api/v3/my_preferences"):
        status, _ = await call(server, "GET", path)
        assert status == 200, path


async def test_unexpected_errors_are_hal_500(openproject_server: FakeOpenProject) -> None:
    openproject_server.store.work_packages[1].status_id = 999  # corrupt the data
    status, err = await call(openproject_server, "GET", f"{WPS}/1")
    assert status == 500
    assert err["errorIdentifier"] == ERR + "InternalServerError"


async def test_compression_knob() -> None:
    server = FakeOpenProject(seed_size=30, compress=True)
    async with server, server.http(headers={"Accept-Encoding": "gzip"}) as http, http.get(
        f"{WPS}?filters=[]&pageSize=30"
    ) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        doc = await resp.json(content_type=None)
        assert doc["count"] == 30


async def test_seed_layout(openproject_server: FakeOpenProject) -> None:
    store = openproject_server.store
    assert [store.work_packages[i].project_id for i in (1, 20, 21, 30, 31, 40, 41)] == [
        1, 1, 2, 2, 3, 3, 1]
    open_ids = store.open_status_ids()
    assert sum(wp.status_id in open_ids for wp in store.work_packages.values()) == 35
    assert openproject_server.users == {"admin": 1, "member": 2, "reader": 3, "dana": 4,
                                        "quinn": 5}
    assert FakeOpenProject(seed_size=0).api_keys == openproject_server.api_keys
    assert FakeOpenProject(seed_size=0, key_seed=1).api_key != openproject_server.api_key


async def test_single_work_package_embeds_associations(
    openproject_server: FakeOpenProject,
) -> None:
    _, wp = await call(openproject_server, "GET", f"{WPS}/3")
    embedded = wp["_embedded"]
    for name in ("type", "status", "priority", "project", "author", "assignee",
                 "attachments", "relations", "customActions"):
        assert name in embedded, name
    assert embedded["type"]["_type"] == "Type"
    assert embedded["project"]["identifier"] == "demo"
    assert embedded["customActions"][0]["_links"]["executeImmediately"]["method"] == "post"
    assert wp["_links"]["self"] == {"href": f"{WPS}/3", "title": wp["subject"]}
    assert wp["_links"]["responsible"] == {"href": None}
    assert wp["customField1"] == 3
    assert wp["_links"]["customField2"]["href"].startswith("/api/v3/custom_options/")
    assert wp["_links"]["customField3"] == {"href": "/api/v3/users/2", "title": "Mia Member"}


async def test_workspaces_alias_and_candidates(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, via_ws = await call(server, "GET", "/api/v3/workspaces/2/work_packages?filters=[]")
    _, via_project = await call(server, "GET", "/api/v3/projects/2/work_packages?filters=[]")
    assert via_ws["total"] == via_project["total"] == 10
    _, candidates = await call(server, "GET", f"{WPS}/21/available_relation_candidates")
    ids = [c["id"] for c in candidates["_embedded"]["elements"]]
    assert 21 not in ids
    assert ids
    _, projects = await call(server, "GET", f"{WPS}/available_projects", login="member")
    assert [p["identifier"] for p in projects["_embedded"]["elements"]] == ["demo", "scrum"]
