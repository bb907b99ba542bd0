"""Forms, schemas and writes (create/update/delete, lockVersion) of the fake server."""

from __future__ import annotations

from typing import Any

import pytest

from openproject_async.testing import FakeOpenProject

WPS = "/api/v3/work_packages"
ERR = "urn:openproject-org:api:v3:errors:"


async def call(
    server: FakeOpenProject, method: str, path: str, body: Any = None, login: str = "admin"
) -> tuple[int, Any]:
    async with server.http(login) as http, http.request(method, path, json=body) as resp:
        text = await resp.text()
        return resp.status, (await resp.json(content_type=None)) if text else None


def project(pid: int) -> dict[str, Any]:
    return {"project": {"href": f"/api/v3/projects/{pid}"}}


# ---------------------------------------------------------------------------------------------
# Create forms


async def test_empty_create_form(openproject_server: FakeOpenProject) -> None:
    status, form = await call(openproject_server, "POST", f"{WPS}/form", {})
    assert status == 200
    assert form["_type"] == "Form"
    errors = form["_embedded"]["validationErrors"]
    assert set(errors) == {"subject", "project"}
    assert errors["subject"] == {
        "_type": "Error",
        "errorIdentifier": ERR + "PropertyConstraintViolation",
        "message": "Subject can't be blank.",
        "_embedded": {"details": {"attribute": "subject"}},
    }
    links = form["_links"]
    assert "commit" not in links
    assert links["self"] == {"href": f"{WPS}/form", "method": "post"}
    assert links["validate"] == {"href": f"{WPS}/form", "method": "post"}
    assert links["previewMarkup"]["method"] == "post"
    payload = form["_embedded"]["payload"]
    assert payload["_links"]["status"] == {"href": "/api/v3/statuses/1", "title": "New"}
    assert payload["_links"]["priority"]["title"] == "Normal"
    assert payload["_links"]["project"] == {"href": None}
    assert payload["_links"]["parent"] == {"href": None, "title": None}
    assert "lockVersion" not in payload


async def test_valid_create_form_has_commit(openproject_server: FakeOpenProject) -> None:
    body = {"subject": "Write tests", "_links": project(1)}
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    assert form["_embedded"]["validationErrors"] == {}
    assert form["_links"]["commit"] == {"href": WPS, "method": "post"}
    schema = form["_embedded"]["schema"]
    assert schema["_type"] == "Schema"
    assert schema["_links"] == {"baseSchema": {"href": f"{WPS}/schemas/1-1"}}
    assert [t["name"] for t in schema["type"]["_embedded"]["allowedValues"]] == [
        "Task", "Milestone", "Phase", "Feature", "Bug",
    ]
    assert schema["type"]["_links"]["allowedValues"][0] == {
        "href": "/api/v3/types/1", "title": "Task"
    }
    assert schema["customField1"]["name"] == "Story points"
    assert "customField2" not in schema
    assert schema["customField3"]["_links"]["allowedValues"]["href"].startswith(
        "/api/v3/principals?filters="
    )
    payload = form["_embedded"]["payload"]
    assert payload["subject"] == "Write tests"
    assert payload["_links"]["project"] == {"href": "/api/v3/projects/1", "title": "Demo project"}


async def test_project_scoped_create_form(openproject_server: FakeOpenProject) -> None:
    _, form = await call(openproject_server, "POST", "/api/v3/projects/scrum/work_packages/form",
                         {"subject": "In scrum"})
    assert form["_embedded"]["validationErrors"] == {}
    assert form["_links"]["commit"] == {"href": "/api/v3/projects/2/work_packages",
                                        "method": "post"}
    assert form["_links"]["self"]["href"] == "/api/v3/projects/2/work_packages/form"


async def test_links_at_top_level_are_ignored(openproject_server: FakeOpenProject) -> None:
    body = {"subject": "Top", "project": {"href": "/api/v3/projects/1"}, "bogus": 1}
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    assert set(form["_embedded"]["validationErrors"]) == {"project"}


async def test_type_must_be_allowed_in_project(openproject_server: FakeOpenProject) -> None:
    body = {"subject": "M", "_links": {**project(2), "type": {"href": "/api/v3/types/2"}}}
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    errors = form["_embedded"]["validationErrors"]
    assert set(errors) == {"type"}
    assert errors["type"]["_embedded"]["details"]["attribute"] == "type"
    assert "commit" not in form["_links"]


async def test_invalid_links_are_constraint_violations(openproject_server: FakeOpenProject) -> None:
    body = {
        "subject": "Links",
        "_links": {
            **project(1),
            "status": {"href": "/api/v3/statuses/99"},
            "assignee": {"href": "/api/v3/users/3"},  # the reader may not be assigned
        },
    }
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    errors = form["_embedded"]["validationErrors"]
    assert set(errors) == {"status", "assignee"}
    assert form["_embedded"]["payload"]["_links"]["status"] == {"href": "/api/v3/statuses/99"}


@pytest.mark.parametrize(
    ("body", "identifier", "attribute"),
    [
        ({"subject": "x", "startDate": "tomorrow"}, "PropertyFormatError", "startDate"),
        ({"subject": "x", "estimatedTime": "10 hours"}, "PropertyFormatError", "estimatedTime"),
        # InvalidResourceLink passes no details: the property is only in the message
        ({"subject": "x", "_links": {"status": {"href": "/api/v3/types/1"}}},
         "ResourceTypeMismatch", None),
    ],
)
async def test_format_and_resource_errors_are_raised(
    openproject_server: FakeOpenProject, body: Any, identifier: str, attribute: str | None
) -> None:
    status, err = await call(openproject_server, "POST", f"{WPS}/form", body)
    assert status == 422
    assert err["errorIdentifier"] == ERR + identifier
    if attribute is None:
        assert "_embedded" not in err
    else:
        assert err["_embedded"]["details"]["attribute"] == attribute


async def test_custom_field_validation(openproject_server: FakeOpenProject) -> None:
    body = {
        "subject": "Bug with points",
        "customField1": "many",
        "_links": {**project(1), "type": {"href": "/api/v3/types/5"}},
    }
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    errors = form["_embedded"]["validationErrors"]
    assert set(errors) == {"customField1", "customField2"}
    assert errors["customField2"]["message"] == "Customer can't be blank."
    assert form["_embedded"]["payload"]["customField1"] == "many"
    schema = form["_embedded"]["schema"]
    assert schema["customField2"]["required"] is True
    assert schema["customField2"]["location"] == "_links"
    options = schema["customField2"]["_links"]["allowedValues"]
    assert options[0] == {"href": "/api/v3/custom_options/1", "title": "ACME Corp"}
    assert schema["customField2"]["_embedded"]["allowedValues"][0]["_type"] == "CustomOption"
    body["customField1"] = 8
    body["_links"]["customField2"] = {"href": options[1]["href"]}
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    assert form["_embedded"]["validationErrors"] == {}
    status, wp = await call(openproject_server, "POST", form["_links"]["commit"]["href"], body)
    assert status == 201
    assert wp["customField1"] == 8
    assert wp["_links"]["customField2"] == {"href": "/api/v3/custom_options/2", "title": "Globex"}
    _, option = await call(openproject_server, "GET", "/api/v3/custom_options/2")
    assert option["value"] == "Globex"


async def test_read_only_property(openproject_server: FakeOpenProject) -> None:
    body = {"subject": "x", "createdAt": "2020-01-01T00:00:00Z", "_links": project(1)}
    _, form = await call(openproject_server, "POST", f"{WPS}/form", body)
    err = form["_embedded"]["validationErrors"]["createdAt"]
    assert err["errorIdentifier"] == ERR + "PropertyIsReadOnly"
    status, err = await call(openproject_server, "POST", WPS, body)
    assert status == 422
    assert err["errorIdentifier"] == ERR + "PropertyIsReadOnly"


# ---------------------------------------------------------------------------------------------
# Create, update, delete


async def test_create_returns_201_full_work_package(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    body = {
        "subject": "Created",
        "description": {"raw": "Some **bold** text"},
        "startDate": "2025-06-02",
        "dueDate": "2025-06-04",
        "estimatedTime": "PT2H30M",
        "unknownThing": {"ignored": True},
        "_links": {**project(1), "assignee": {"href": "/api/v3/users/2"}},
    }
    status, wp = await call(server, "POST", WPS, body)
    assert status == 201
    assert wp["id"] == 51
    assert wp["lockVersion"] == 0
    assert wp["description"]["html"] == '<p class="op-uc-p">Some <strong>bold</strong> text</p>'
    assert (wp["estimatedTime"], wp["duration"]) == ("PT2H30M", "P3D")
    assert wp["_links"]["assignee"] == {"href": "/api/v3/users/2", "title": "Mia Member"}
    assert wp["_links"]["author"]["href"] == "/api/v3/users/1"
    assert wp["_embedded"]["assignee"]["_type"] == "User"
    assert wp["_embedded"]["status"]["name"] == "New"
    assert server.store.work_packages[51].subject == "Created"
    assert server.notifications_sent == 1


async def test_empty_create_is_multiple_errors(openproject_server: FakeOpenProject) -> None:
    status, err = await call(openproject_server, "POST", WPS, {})
    assert status == 422
    assert err["errorIdentifier"] == ERR + "MultipleErrors"
    assert err["message"] == "Multiple field constraints have been violated."
    attributes = [e["_embedded"]["details"]["attribute"] for e in err["_embedded"]["errors"]]
    assert attributes == ["subject", "project"]


async def test_single_error_is_not_wrapped(openproject_server: FakeOpenProject) -> None:
    status, err = await call(openproject_server, "POST", WPS, {"_links": project(1)})
    assert status == 422
    assert err["errorIdentifier"] == ERR + "PropertyConstraintViolation"
    assert err["_embedded"]["details"]["attribute"] == "subject"


async def test_update_form_lock_version(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    form_url = f"{WPS}/3/form"
    for body in ({"subject": "No lock"}, {"lockVersion": 5, "subject": "Stale"}):
        status, err = await call(server, "POST", form_url, body)
        assert status == 409
        assert err["errorIdentifier"] == ERR + "UpdateConflict"
    status, form = await call(server, "POST", form_url, {"lockVersion": 0, "subject": ""})
    assert status == 200
    assert set(form["_embedded"]["validationErrors"]) == {"subject"}
    assert "commit" not in form["_links"]
    assert form["_embedded"]["payload"]["lockVersion"] == 0
    status, form = await call(server, "POST", form_url, {"lockVersion": 0, "subject": "Good"})
    assert form["_embedded"]["validationErrors"] == {}
    assert form["_links"]["commit"] == {"href": f"{WPS}/3", "method": "patch"}
    assert form["_embedded"]["schema"]["assignee"]["_links"]["allowedValues"] == {
        "href": f"{WPS}/3/available_assignees"
    }
    assert server.store.work_packages[3].subject != "Good"  # forms never write


async def test_patch_lock_version_flow(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, wp = await call(server, "GET", f"{WPS}/2")
    before = wp["updatedAt"]
    status, err = await call(server, "PATCH", f"{WPS}/2", {"subject": "No lock"})
    assert status == 409
    assert err == {
        "_type": "Error",
        "errorIdentifier": ERR + "UpdateConflict",
        "message": "Your changes could not be saved, because the work package was changed "
        "since you've seen it the last time.",
    }
    status, wp = await call(server, "PATCH", f"{WPS}/2", {"lockVersion": 0, "subject": "V1"})
    assert status == 200
    assert (wp["lockVersion"], wp["subject"]) == (1, "V1")
    assert wp["updatedAt"] > before
    status, _ = await call(server, "PATCH", f"{WPS}/2", {"lockVersion": 0, "subject": "V2"})
    assert status == 409
    server.touch_work_package(2)  # a concurrent writer
    status, _ = await call(server, "PATCH", f"{WPS}/2", {"lockVersion": 1, "subject": "V2"})
    assert status == 409
    closed = {"status": {"href": "/api/v3/statuses/4"}}
    body = {"lockVersion": 2, "subject": "V2", "_links": closed}
    status, wp = await call(server, "PATCH", f"{WPS}/2", body)
    assert (status, wp["lockVersion"], wp["_links"]["status"]["title"]) == (200, 3, "Closed")
    _, activities = await call(server, "GET", f"{WPS}/2/activities")
    details = [d["raw"] for a in activities["_embedded"]["elements"] for d in a["details"]]
    assert details == [
        "Subject changed from Review search index #2 to V1",
        "Status changed from New to Closed",
        "Subject changed from V1 to V2",
    ]


async def test_patch_without_changes_keeps_lock_version(
    openproject_server: FakeOpenProject,
) -> None:
    status, wp = await call(openproject_server, "PATCH", f"{WPS}/4", {"lockVersion": 0})
    assert (status, wp["lockVersion"]) == (200, 0)


async def test_patch_validation_error_is_422(openproject_server: FakeOpenProject) -> None:
    status, err = await call(openproject_server, "PATCH", f"{WPS}/4",
                             {"lockVersion": 0, "subject": "x" * 256})
    assert status == 422
    assert err["errorIdentifier"] == ERR + "PropertyConstraintViolation"
    assert openproject_server.store.work_packages[4].lock_version == 0


async def test_delete_is_204_and_removes_children(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    assert server.store.children_of(1) == [2, 3]
    status, body = await call(server, "DELETE", f"{WPS}/1")
    assert (status, body) == (204, None)
    for wp_id in (1, 2, 3, 4):
        status, _ = await call(server, "GET", f"{WPS}/{wp_id}")
        assert status == 404


async def test_hierarchy_links(openproject_server: FakeOpenProject) -> None:
    _, wp = await call(openproject_server, "GET", f"{WPS}/4")
    assert wp["_links"]["parent"] == {"href": f"{WPS}/3", "title": "Document export #3"}
    assert [a["href"] for a in wp["_links"]["ancestors"]] == [f"{WPS}/1", f"{WPS}/3"]
    assert "children" not in wp["_links"]
    _, parent = await call(openproject_server, "GET", f"{WPS}/1")
    assert [c["href"] for c in parent["_links"]["children"]] == [f"{WPS}/2", f"{WPS}/3"]
    assert parent["_links"]["ancestors"] == []
    assert parent["_links"]["parent"] == {"href": None, "title": None}


async def test_items_created_directly_show_up(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    new_id = server.create_work_package(subject="Injected", project_id=2, type_id=4,
                                        custom_values={1: 3, 2: 1})
    status, wp = await call(server, "GET", f"{WPS}/{new_id}")
    assert (status, wp["subject"], wp["customField1"]) == (200, "Injected", 3)
    assert wp["_links"]["schema"]["href"] == f"{WPS}/schemas/2-4"
    server.delete_work_package(new_id)
    status, _ = await call(server, "GET", f"{WPS}/{new_id}")
    assert status == 404


# ---------------------------------------------------------------------------------------------
# Schemas


async def test_schema_per_project_and_type(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    _, full = await call(server, "GET", f"{WPS}/schemas/1-5")
    assert full["_type"] == "Schema"
    assert full["_dependencies"] == []
    assert full["_links"] == {"self": {"href": f"{WPS}/schemas/1-5"}}
    assert {"customField1", "customField2", "customField3"} <= set(full)
    assert full["customField1"]["type"] == "Integer"
    assert "location" not in full["customField1"]
    assert full["customField3"]["type"] == "User"
    assert full["description"]["type"] == "Formattable"
    assert full["assignee"]["_links"]["allowedValues"] == {
        "href": "/api/v3/projects/1/available_assignees"
    }
    assert full["project"]["_links"]["allowedValues"] == {
        "href": f"{WPS}/available_projects"
    }
    assert isinstance(full["status"]["_links"]["allowedValues"], list)
    assert "_embedded" not in full["status"]
    assert full["subject"]["maxLength"] == 255
    _, scrum_task = await call(server, "GET", f"{WPS}/schemas/2-1")
    assert [k for k in scrum_task if k.startswith("customField")] == ["customField1"]
    _, milestone = await call(server, "GET", f"{WPS}/schemas/1-2")
    assert "date" in milestone
    assert "startDate" not in milestone
    assert not [k for k in milestone if k.startswith("customField")]
    status, _ = await call(server, "GET", f"{WPS}/schemas/3-1", login="reader")
    assert status == 404
    status, _ = await call(server, "GET", f"{WPS}/schemas/1-99")
    assert status == 404


async def test_schemas_collection(openproject_server: FakeOpenProject) -> None:
    _, doc = await call(openproject_server, "GET", f"{WPS}?filters=[]&pageSize=5")
    status, schemas = await call(openproject_server, "GET", doc["_links"]["schemas"]["href"])
    assert status == 200
    assert schemas["_type"] == "Collection"
    hrefs = {s["_links"]["self"]["href"] for s in schemas["_embedded"]["elements"]}
    assert hrefs == {e["_links"]["schema"]["href"] for e in doc["_embedded"]["elements"]}
    status, err = await call(openproject_server, "GET", f"{WPS}/schemas")
    assert status == 400
    assert err["errorIdentifier"] == ERR + "InvalidQuery"


async def test_form_payloads_round_trip_to_commit(openproject_server: FakeOpenProject) -> None:
    server = openproject_server
    links = {
        **project(1),
        "type": {"href": "/api/v3/types/4"},
        "customField2": {"href": "/api/v3/custom_options/3"},
    }
    body = {"subject": "Round trip", "_links": links}
    _, form = await call(server, "POST", f"{WPS}/form", body)
    assert form["_embedded"]["validationErrors"] == {}
    commit = form["_links"]["commit"]
    status, created = await call(server, commit["method"].upper(), commit["href"],
                                 form["_embedded"]["payload"])
    assert status == 201
    assert created["subject"] == "Round trip"
    assert created["_links"]["customField2"]["title"] == "Initech"
    # an update form of a seeded work package in a closed version, posted back unchanged
    wp = server.store.work_packages[1]
    assert server.store.versions[wp.version_id or 0].status == "closed"
    _, form = await call(server, "POST", f"{WPS}/1/form", {"lockVersion": 0})
    assert form["_embedded"]["validationErrors"] == {}
    payload = form["_embedded"]["payload"]
    payload["subject"] = "Renamed via form"
    commit = form["_links"]["commit"]
    status, updated = await call(server, commit["method"].upper(), commit["href"], payload)
    assert status == 200
    assert (updated["subject"], updated["lockVersion"]) == ("Renamed via form", 1)
    assert updated["_links"]["version"]["title"] == "1.0"


async def test_multiple_errors_on_one_property_in_a_form(
    openproject_server: FakeOpenProject,
) -> None:
    # Story points are validated for format and length independently (max. 3 characters)
    body = {"lockVersion": 0, "customField1": "many"}
    status, form = await call(openproject_server, "POST", f"{WPS}/3/form", body)
    assert status == 200
    error = form["_embedded"]["validationErrors"]["customField1"]
    assert error["errorIdentifier"] == ERR + "MultipleErrors"
    assert error["message"] == "Multiple field constraints have been violated."
    inner = error["_embedded"]["errors"]
    assert [e["message"] for e in inner] == [
        "Story points is not a number.",
        "Story points is too long (maximum is 3 characters).",
    ]
    assert {e["_embedded"]["details"]["attribute"] for e in inner} == {"customField1"}
    assert form["_embedded"]["schema"]["customField1"]["maxLength"] == 3
    status, err = await call(openproject_server, "PATCH", f"{WPS}/3", body)
    assert status == 422
    assert err["errorIdentifier"] == ERR + "MultipleErrors"
    assert len(err["_embedded"]["errors"]) == 2
    status, wp = await call(openproject_server, "PATCH", f"{WPS}/3",
                            {"lockVersion": 0, "customField1": "13", "percentageDone": 40})
    assert (status, wp["customField1"], wp["percentageDone"]) == (200, 13, 40)
