"""Forms without sockets (``MockTransport``): the exact bodies posted to form endpoints
(scalars at the root, resources under ``_links``, ``lockVersion``, custom fields by human
name), the re-post when the answer's schema places a value differently, schemas remembered
per session, validation errors, commits, ``submit`` with conflicts and ``merge=``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from openproject_async import Form, HttpRequest, HttpResponse, OpenProject, RetryPolicy
from openproject_async.errors import (
    URN_PREFIX,
    FormInvalid,
    MultipleErrors,
    PropertyConstraintViolation,
    PropertyFormatError,
    PropertyIsReadOnly,
    ProtocolError,
    ResourceTypeMismatch,
    UnknownField,
    UpdateConflict,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
API = "/api/v3"
WP = f"{API}/work_packages/42"
CREATE_FORM = f"{API}/projects/1/work_packages/form"
SCHEMA_HREF = f"{API}/work_packages/schemas/1-4"
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)


def field(ftype: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": ftype, "name": name, "required": False, "writable": True, **extra}


def allowed(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"allowedValues": [{"href": href, "title": title} for href, title in pairs]}


def schema_doc(**extra: Any) -> dict[str, Any]:
    return {
        "_type": "Schema",
        "lockVersion": {**field("Integer", "Lock Version"), "writable": False},
        "subject": field("String", "Subject", required=True),
        "description": field("Formattable", "Description"),
        "percentageDone": field("Integer", "Progress"),
        "customField1": field("Integer", "Story points"),
        "type": field(
            "Type",
            "Type",
            location="_links",
            _links=allowed((f"{API}/types/1", "Task"), (f"{API}/types/4", "Feature")),
        ),
        "customField2": field(
            "CustomOption",
            "Customer",
            location="_links",
            _links=allowed(
                (f"{API}/custom_options/11", "ACME"), (f"{API}/custom_options/12", "Globex")
            ),
        ),
        "assignee": field(
            "User",
            "Assignee",
            location="_links",
            _links={"allowedValues": {"href": f"{WP}/available_assignees"}},
        ),
        "project": field("Project", "Project", location="_links"),
        "_links": {"self": {"href": f"{SCHEMA_HREF}?form=1"}, "baseSchema": {"href": SCHEMA_HREF}},
        **extra,
    }


def violation(attribute: str, message: str) -> dict[str, Any]:
    return {
        "_type": "Error",
        "errorIdentifier": URN_PREFIX + "PropertyConstraintViolation",
        "message": message,
        "_embedded": {"details": {"attribute": attribute}},
    }


def error(name: str, status: int = 422, message: str = "no") -> HttpResponse:
    doc = {"_type": "Error", "errorIdentifier": URN_PREFIX + name, "message": message}
    return HttpResponse.json(doc, status)


def work_package(lock: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "_type": "WorkPackage",
        "id": 42,
        "lockVersion": lock,
        "subject": "Task 42",
        "_links": {
            "self": {"href": WP},
            "update": {"href": f"{WP}/form", "method": "post"},
            "updateImmediately": {"href": WP, "method": "patch"},
            "schema": {"href": SCHEMA_HREF},
        },
        **extra,
    }


PROJECT = {
    "_type": "Project",
    "id": 1,
    "_links": {
        "self": {"href": f"{API}/projects/1"},
        "createWorkPackage": {"href": CREATE_FORM, "method": "post"},
    },
}


def user(uid: int, name: str) -> dict[str, Any]:
    return {
        "_type": "User",
        "id": uid,
        "name": name,
        "_links": {"self": {"href": f"{API}/users/{uid}"}},
    }


ASSIGNEES = {
    "_type": "Collection",
    "total": 2,
    "count": 2,
    "_embedded": {"elements": [user(2, "Mia Maintainer"), user(4, "Dana Developer")]},
    "_links": {"self": {"href": f"{WP}/available_assignees"}},
}


class Server:
    """Form endpoints for project 1 and work package 42.

    A form answers with the body as its payload and ``schema()``; a create form is valid
    when it has a subject. ``script`` answers the next requests first.
    """

    def __init__(self) -> None:
        self.lock = 3
        self.schema: Callable[[], dict[str, Any]] = schema_doc
        self.script: list[HttpResponse] = []
        self.transport = MockTransport(self.handle)

    def form(self, body: Any, href: str, commit: dict[str, Any] | None) -> HttpResponse:
        errors = {} if commit else {"subject": violation("subject", "Subject can't be blank.")}
        links: dict[str, Any] = {
            "self": {"href": href, "method": "post"},
            "validate": {"href": href, "method": "post"},
        }
        if commit:
            links["commit"] = commit
        doc = {
            "_type": "Form",
            "_embedded": {"payload": body, "schema": self.schema(), "validationErrors": errors},
            "_links": links,
        }
        return HttpResponse.json(doc)

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self.script:
            return self.script.pop(0)
        path, method = request.url.path.rstrip("/"), request.method
        body = orjson.loads(request.body) if request.body else None
        if method == "POST" and path == f"{API}/projects/2/work_packages/form":
            return self.form(body, path, None)
        if method == "GET" and path == f"{WP}/available_assignees":
            return HttpResponse.json(ASSIGNEES)
        if method == "POST" and path == CREATE_FORM:
            commit = {"href": f"{API}/projects/1/work_packages", "method": "post"}
            return self.form(body, CREATE_FORM, commit if "subject" in body else None)
        if method == "POST" and path == f"{API}/projects/1/work_packages":
            return HttpResponse.json(work_package(1, subject=body["subject"]), 201)
        if method == "POST" and path == f"{WP}/form":
            return self.form(body, f"{WP}/form", {"href": WP, "method": "patch"})
        if method == "PATCH" and path == WP:
            if body.get("lockVersion") != self.lock:
                return error("UpdateConflict", 409, "changed meanwhile")
            self.lock += 1
            changed = {k: v for k, v in body.items() if k != "lockVersion"}
            return HttpResponse.json(work_package(self.lock, **changed))
        if method == "GET" and path == WP:
            return HttpResponse.json(work_package(self.lock))
        if method == "GET" and path == f"{API}/projects/1":
            return HttpResponse.json(PROJECT)
        if method == "GET" and path == SCHEMA_HREF:
            return HttpResponse.json(schema_doc())
        return error("NotFound", 404)

    def calls(self) -> list[tuple[str, str, Any]]:
        return [
            (r.method, str(r.url).removeprefix(BASE), orjson.loads(r.body) if r.body else None)
            for r in self.transport.requests
        ]

    def bodies(self, path: str = CREATE_FORM) -> list[Any]:
        return [body for method, url, body in self.calls() if url == path]


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
async def op(server: Server) -> AsyncIterator[OpenProject]:
    async with OpenProject(BASE, api_key="k", retry=FAST, transport=server.transport) as session:
        yield session


# -- create forms: what is posted ---------------------------------------------------------------


async def test_a_create_form_is_posted_again_once_the_schema_places_the_rest(
    server: Server, op: OpenProject
) -> None:
    project = op.wrap(PROJECT)
    form = await project.createWorkPackage(
        subject="abc",
        type="Feature",
        description="*x*",
        percentageDone=5,
        assignee=f"{API}/users/3",
        fields={"Story points": 8, "customField2": "globex"},
    )
    placed = {
        "subject": "abc",
        "description": {"raw": "*x*"},
        "percentageDone": 5,
        "customField1": 8,
        "_links": {
            "assignee": {"href": f"{API}/users/3"},
            "type": {"href": f"{API}/types/4"},
            "customField2": {"href": f"{API}/custom_options/12"},
        },
    }
    assert server.bodies() == [
        {
            "subject": "abc",
            "description": {"raw": "*x*"},
            "percentageDone": 5,
            "_links": {"assignee": {"href": f"{API}/users/3"}},
        },
        placed,
    ]
    assert type(form) is Form
    assert form.body == placed
    assert form.is_valid
    assert repr(form) == f"<Form {CREATE_FORM} valid>"


async def test_the_settled_schema_is_remembered_per_project_and_type(
    server: Server, op: OpenProject
) -> None:
    project = op.wrap(PROJECT)
    await project.createWorkPackage(subject="a", type="Feature")
    await project.createWorkPackage(subject="b", type="Feature")  # one request: schema known
    await project.createWorkPackage(subject="c", type="Task")  # another type: two again
    await project.createWorkPackage(subject="d", type=f"{API}/types/1")  # certain: one request
    assert server.bodies() == [
        {"subject": "a"},
        {"subject": "a", "_links": {"type": {"href": f"{API}/types/4"}}},
        {"subject": "b", "_links": {"type": {"href": f"{API}/types/4"}}},
        {"subject": "c"},
        {"subject": "c", "_links": {"type": {"href": f"{API}/types/1"}}},
        {"subject": "d", "_links": {"type": {"href": f"{API}/types/1"}}},
    ]
    await project.createWorkPackage(subject="e", type=f"{API}/types/1", fields={"Story points": 1})
    assert server.bodies()[-1] == {
        "subject": "e",
        "customField1": 1,
        "_links": {"type": {"href": f"{API}/types/1"}},
    }
    assert len(server.bodies()) == 7  # the schema of "d" (type by href) was remembered


async def test_the_project_is_part_of_the_remembered_key(server: Server, op: OpenProject) -> None:
    project = op.wrap(PROJECT)
    first = {"href": f"{API}/projects/1"}
    await project.createWorkPackage(subject="a", project=first, fields={"Story points": 1})
    await project.createWorkPackage(subject="b", project=first, fields={"Story points": 2})
    await project.createWorkPackage(
        subject="c", project=f"{API}/projects/2", fields={"Story points": 3}
    )
    await project.createWorkPackage(
        subject="d", project=op.wrap(PROJECT), fields={"Story points": 4}
    )
    assert [len(b) for b in server.bodies()] == [1, 3, 3, 2, 3, 3]
    assert server.bodies()[2] == {"subject": "b", "customField1": 2, "_links": {"project": first}}


async def test_sessions_do_not_share_remembered_schemas(server: Server, op: OpenProject) -> None:
    await op.wrap(PROJECT).createWorkPackage(subject="a", fields={"Story points": 1})
    async with OpenProject(BASE, api_key="k", transport=server.transport) as other:
        await other.wrap(PROJECT).createWorkPackage(subject="b", fields={"Story points": 1})
    assert server.bodies() == [
        {"subject": "a"},
        {"subject": "a", "customField1": 1},
        {"subject": "b"},
        {"subject": "b", "customField1": 1},
    ]


async def test_a_form_that_never_settles(server: Server, op: OpenProject) -> None:
    answers = iter(range(100))

    def flipping() -> dict[str, Any]:
        where = "_links" if next(answers) % 2 else "_meta"
        return schema_doc(percentageDone=field("Integer", "Progress", location=where))

    server.schema = flipping
    with pytest.raises(ProtocolError) as info:
        await op.wrap(PROJECT).createWorkPackage(subject="a", percentageDone=f"{API}/budgets/1")
    assert str(info.value) == (
        f"the form at {CREATE_FORM} did not settle after 4 requests "
        "(each answer's schema placed the values differently)"
    )
    assert len(server.bodies()) == 4


async def test_an_unknown_field_is_raised_once_the_form_settles(
    server: Server, op: OpenProject
) -> None:
    with pytest.raises(UnknownField) as info:
        await op.wrap(PROJECT).submit("createWorkPackage", subject="x", fields={"Story pts": 5})
    err = info.value
    assert err.name == "Story pts"
    assert err.available == [
        "lockVersion (Lock Version)",
        "subject (Subject)",
        "description (Description)",
        "percentageDone (Progress)",
        "customField1 (Story points)",
        "type (Type)",
        "customField2 (Customer)",
        "assignee (Assignee)",
        "project (Project)",
    ]
    assert server.bodies() == [{"subject": "x"}]  # nothing committed


# -- a guessed placement the server refuses -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raised"),
    [
        ("PropertyFormatError", PropertyFormatError),
        ("ResourceTypeMismatch", ResourceTypeMismatch),
        ("PropertyIsReadOnly", PropertyIsReadOnly),
    ],
)
async def test_a_refused_guess_is_asked_again_with_the_certain_part(
    server: Server, op: OpenProject, name: str, raised: type[Exception]
) -> None:
    server.script = [error(name)]
    task = f"{API}/types/1"
    form = await op.wrap(PROJECT).createWorkPackage(subject="a", percentageDone=5, type=task)
    assert server.bodies() == [
        {"subject": "a", "percentageDone": 5, "_links": {"type": {"href": task}}},
        {"_links": {"type": {"href": task}}},
        {"subject": "a", "percentageDone": 5, "_links": {"type": {"href": task}}},
    ]
    assert form.is_valid
    # the certain part alone refused too: the server's error stands
    server.script = [error(name), error(name, message="still no")]
    with pytest.raises(raised, match="still no"):
        await op.wrap(PROJECT).createWorkPackage(subject="b", type=f"{API}/types/4")
    assert len(server.bodies()) == 5
    # nothing guessed (only references): raised at once
    server.script = [error(name, message="at once")]
    with pytest.raises(raised, match="at once"):
        await op.wrap(PROJECT).createWorkPackage(type=f"{API}/types/4")
    assert len(server.bodies()) == 6


async def test_a_refusal_with_a_known_schema_is_raised(server: Server, op: OpenProject) -> None:
    project = op.wrap(PROJECT)
    await project.createWorkPackage(subject="a", percentageDone=1)  # remembers the schema
    server.script = [error("PropertyFormatError", message="bad progress")]
    with pytest.raises(PropertyFormatError, match="bad progress"):
        await project.createWorkPackage(subject="a", percentageDone=2)
    assert len(server.bodies()) == 2


async def test_other_errors_of_a_guess_are_raised(server: Server, op: OpenProject) -> None:
    server.script = [error("PropertyConstraintViolation", message="nope")]
    with pytest.raises(PropertyConstraintViolation, match="nope"):
        await op.wrap(PROJECT).createWorkPackage(subject="a", percentageDone=5)
    assert len(server.bodies()) == 1


@pytest.mark.parametrize(
    ("answer", "kind"),
    [(HttpResponse.json(work_package()), "WorkPackage"), (HttpResponse(204), "NoneType")],
)
async def test_a_form_endpoint_must_answer_a_form(
    server: Server, op: OpenProject, answer: HttpResponse, kind: str
) -> None:
    server.script = [answer]
    with pytest.raises(ProtocolError) as info:
        await op.wrap(PROJECT).createWorkPackage(subject="a")
    assert str(info.value) == f"expected a Form, got {kind}"


# -- update forms -------------------------------------------------------------------------------


async def test_an_update_form_carries_the_lock_version(server: Server, op: OpenProject) -> None:
    wp = op.wrap(work_package())
    form = await wp.update(subject="new", fields={"Story points": 3})
    assert server.bodies(f"{WP}/form") == [
        {"lockVersion": 3, "subject": "new"},
        {"lockVersion": 3, "subject": "new", "customField1": 3},
    ]
    assert form.body == {"lockVersion": 3, "subject": "new", "customField1": 3}
    given = await wp.update(subject="n", lockVersion=1)
    assert given.body == {"subject": "n", "lockVersion": 1}
    assert server.transport.requests[-1].body == b'{"subject":"n","lockVersion":1}'
    bare = work_package()
    del bare["lockVersion"]
    await op.wrap(bare).update(subject="s")
    assert server.bodies(f"{WP}/form")[-1] == {"subject": "s"}


async def test_the_update_form_is_also_found_by_its_href(server: Server, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["self"]["href"] = WP + "/"
    doc["_links"]["edit"] = {"href": f"{WP}/form/", "method": "post"}
    doc["_links"]["copy"] = {"href": CREATE_FORM, "method": "post"}
    wp = op.wrap(doc)
    await wp.action("edit", subject="a")
    await wp.action("copy", subject="b")
    assert server.calls() == [
        ("POST", f"{WP}/form/", {"lockVersion": 3, "subject": "a"}),
        ("POST", CREATE_FORM, {"subject": "b"}),
    ]


async def test_a_cached_schema_places_everything_in_the_first_request(
    server: Server, op: OpenProject
) -> None:
    wp = op.wrap(work_package())
    await wp.update(type="Task")
    assert len(server.bodies(f"{WP}/form")) == 2  # the name needed the schema
    await wp.load_schema()
    server.transport.requests.clear()
    await wp.update(type="Task", fields={"Customer": "ACME"})
    assert server.calls() == [
        (
            "POST",
            f"{WP}/form",
            {
                "lockVersion": 3,
                "_links": {
                    "type": {"href": f"{API}/types/1"},
                    "customField2": {"href": f"{API}/custom_options/11"},
                },
            },
        )
    ]


async def test_a_committed_form_caches_its_schema_for_field(
    server: Server, op: OpenProject
) -> None:
    wp = op.wrap(work_package(customField1=13))
    saved = await wp.save(subject="x")
    assert server.calls() == [
        ("POST", f"{WP}/form", {"lockVersion": 3, "subject": "x"}),
        ("PATCH", WP, {"lockVersion": 3, "subject": "x"}),
    ]
    assert saved.subject == "x"
    assert wp.field("Story points") == 13  # the form's schema, cached: no request
    assert op.cached_schema(SCHEMA_HREF) == schema_doc()
    assert len(server.calls()) == 2


async def test_a_cached_schema_is_not_replaced_by_a_form_schema(
    server: Server, op: OpenProject
) -> None:
    original = {**schema_doc(), "marker": 1}
    op.remember_schema(SCHEMA_HREF, original)
    await op.wrap(work_package()).update(subject="x")
    assert op.cached_schema(SCHEMA_HREF) is original


@pytest.mark.parametrize(
    "links",
    [{}, {"baseSchema": {}}, {"baseSchema": "x"}, "x", {"baseSchema": {"href": 5}}],
)
async def test_a_form_schema_without_a_base_schema_is_not_cached(
    server: Server, op: OpenProject, links: Any
) -> None:
    server.schema = lambda: {**schema_doc(), "_links": links}
    await op.wrap(work_package()).update(subject="x")
    assert op._schemas == {}


# -- the form object ----------------------------------------------------------------------------


def form_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_type": "Form",
        "_embedded": {
            "payload": {"subject": "s", "_links": {"type": {"href": f"{API}/types/1"}}},
            "schema": schema_doc(),
            "validationErrors": {},
        },
        "_links": {
            "self": {"href": f"{WP}/form", "method": "post"},
            "validate": {"href": f"{WP}/form", "method": "post"},
            "commit": {"href": WP, "method": "patch"},
        },
    }
    for key, value in changes.items():
        if key in doc["_embedded"]:
            doc["_embedded"][key] = value
        else:
            doc["_links"][key] = value
    return doc


async def test_form_properties(op: OpenProject) -> None:
    form = op.wrap(form_doc())
    assert type(form) is Form
    assert form.payload == {"subject": "s", "_links": {"type": {"href": f"{API}/types/1"}}}
    assert form.body == form.payload  # a form this library did not open commits its payload
    assert form.errors == {}
    assert form.schema["percentageDone"].placement == "root"
    assert form.schema["type"].placement == "_links"
    assert op.wrap(form_doc(payload=[])).payload == {}
    no_payload = op.wrap(form_doc(payload="x"))
    assert no_payload.schema.payload_hint("subject") is None
    assert op.wrap(form_doc()).schema.payload_hint("subject") == "root"
    with pytest.raises(ProtocolError) as info:
        _ = op.wrap(form_doc(schema="x")).schema
    assert str(info.value) == "form has no embedded schema"


async def test_form_repr() -> None:
    async with OpenProject(BASE, api_key="k", transport=MockTransport(lambda r: error("x"))) as op:
        assert repr(op.wrap(form_doc())) == f"<Form {WP}/form valid>"
        invalid = form_doc(
            commit=None,
            validationErrors={
                "subject": violation("subject", "no"),
                "type": violation("type", "no"),
            },
        )
        del invalid["_links"]["commit"]
        assert repr(op.wrap(invalid)) == f"<Form {WP}/form invalid: subject, type>"
        del invalid["_embedded"]["validationErrors"]
        assert repr(op.wrap(invalid)) == f"<Form {WP}/form no commit link>"
        del invalid["_links"]["self"]
        assert repr(op.wrap(invalid)) == "<Form no commit link>"


async def test_validate_posts_the_payload_and_the_changes(server: Server, op: OpenProject) -> None:
    form = op.wrap(form_doc())
    again = await form.validate(percentageDone=4, fields={"Story points": 2})
    assert server.calls() == [
        (
            "POST",
            f"{WP}/form",
            {
                "subject": "s",
                "percentageDone": 4,
                "customField1": 2,
                "_links": {"type": {"href": f"{API}/types/1"}},
            },
        )
    ]
    assert type(again) is Form
    assert form.body == form.payload  # unchanged


async def test_validate_keeps_the_values_of_an_opened_form(server: Server, op: OpenProject) -> None:
    form = await op.wrap(work_package()).update(subject="a", percentageDone=1)
    again = await form.validate(percentageDone=2, type="Feature")
    assert server.bodies(f"{WP}/form")[-1] == {
        "lockVersion": 3,
        "subject": "a",
        "percentageDone": 2,
        "_links": {"type": {"href": f"{API}/types/4"}},
    }
    assert again.body == server.bodies(f"{WP}/form")[-1]
    assert form.body == {"lockVersion": 3, "subject": "a", "percentageDone": 1}


async def test_validate_falls_back_to_the_self_link(server: Server, op: OpenProject) -> None:
    doc = form_doc()
    del doc["_links"]["validate"]
    doc["_links"]["self"] = {"href": f"{WP}/form"}
    await op.wrap(doc).validate(percentageDone=1)
    assert [c[:2] for c in server.calls()] == [("POST", f"{WP}/form")]


@pytest.mark.parametrize(
    "links",
    [
        {"validate": [{"href": "/a"}, {"href": "/b"}]},
        {"validate": {"href": None}, "self": {"href": None}},
        {"self": [{"href": "/a"}]},
    ],
)
async def test_validate_needs_a_link(server: Server, op: OpenProject, links: Any) -> None:
    doc = form_doc()
    doc["_links"] = links
    with pytest.raises(ProtocolError) as info:
        await op.wrap(doc).validate(percentageDone=1)
    assert str(info.value) == "form has no validate/self link to post to"
    assert server.calls() == []


# -- commits ------------------------------------------------------------------------------------


async def test_commit_sends_the_validated_body(server: Server, op: OpenProject) -> None:
    form = await op.wrap(PROJECT).createWorkPackage(subject="abc", type="Task")
    server.transport.requests.clear()
    created = await form.commit(notify=False, timeout=9)
    assert created.subject == "abc"
    assert server.calls() == [
        (
            "POST",
            f"{API}/projects/1/work_packages?notify=false",
            {"subject": "abc", "_links": {"type": {"href": f"{API}/types/1"}}},
        )
    ]
    assert server.transport.requests[0].timeout.total == 9


async def test_a_create_commit_is_sent_once_unless_retry(server: Server, op: OpenProject) -> None:
    form = await op.wrap(PROJECT).createWorkPackage(subject="abc")
    unavailable = error("ServiceUnavailable", 503)
    server.script = [unavailable]
    with pytest.raises(Exception, match="503"):
        await form.commit()
    server.script = [unavailable]
    assert (await form.commit(retry=True)).subject == "abc"
    assert len(server.bodies(f"{API}/projects/1/work_packages")) == 3


async def test_a_commit_that_answers_nothing(server: Server, op: OpenProject) -> None:
    form = await op.wrap(PROJECT).createWorkPackage(subject="abc")
    server.script = [HttpResponse(204)]
    with pytest.raises(ProtocolError) as info:
        await form.commit()
    assert str(info.value) == "the form's commit answered with no resource"


async def test_an_invalid_form_raises_every_error_and_sends_nothing(
    server: Server, op: OpenProject
) -> None:
    multiple = {
        "_type": "Error",
        "errorIdentifier": URN_PREFIX + "MultipleErrors",
        "message": "Multiple field constraints have been violated.",
        "_embedded": {"errors": [violation("type", "Type a."), violation("type", "Type b.")]},
    }
    doc = form_doc(validationErrors={"subject": violation("subject", "S."), "type": multiple})
    del doc["_links"]["commit"]
    form = op.wrap(doc)
    assert not form.is_valid
    assert isinstance(form.errors["type"], MultipleErrors)
    with pytest.raises(FormInvalid) as info:
        await form.commit()
    err = info.value
    assert [e.message for e in err.errors] == ["S.", "Type a.", "Type b."]
    assert [(type(e), e.status, e.attribute) for e in err.errors] == [
        (PropertyConstraintViolation, 422, "subject"),
        (PropertyConstraintViolation, 422, "type"),
        (PropertyConstraintViolation, 422, "type"),
    ]
    assert form.errors["subject"].attribute == "subject"
    assert list(err.by_property) == ["subject", "type"]
    assert err.body == doc
    assert str(err).startswith("422 FormInvalid: the form cannot be committed (subject, type); ")
    assert err.message == "the form cannot be committed (subject, type)"
    assert server.calls() == []


# -- opening forms through links ----------------------------------------------------------------


async def test_form_links_take_values_only(server: Server, op: OpenProject) -> None:
    project = op.wrap(PROJECT)
    wanted = (
        "'createWorkPackage' opens a form: give the values as keyword arguments; notify=, "
        "params= and retry= belong to form.commit() or submit()"
    )
    for call in (
        lambda: project.createWorkPackage("x"),
        lambda: project.createWorkPackage(subject="x", notify=False),
        lambda: project.createWorkPackage(subject="x", params={"a": 1}),
        lambda: project.createWorkPackage(subject="x", retry=True),
        lambda: project.createWorkPackage(subject="x", retry=False),
    ):
        with pytest.raises(TypeError) as info:
            await call()
        assert str(info.value) == wanted
    assert server.calls() == []
    await project.createWorkPackage(subject="x", timeout=4, fields={"Story points": 1})
    assert server.transport.requests[0].timeout.total == 4
    assert server.bodies()[0] == {"subject": "x"}


async def test_a_form_link_must_be_single(server: Server, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["update"] = [{"href": f"{WP}/form", "method": "post"}]
    with pytest.raises(ProtocolError) as info:
        await op.wrap(doc).update(subject="x")
    assert str(info.value) == "link 'update' is not a single form link"
    doc["_links"]["update"] = {"href": None}
    with pytest.raises(ProtocolError, match=r"^link 'update' is not a single form link$"):
        await op.wrap(doc).submit("update", subject="x", retry_conflicts=1)


async def test_only_posts_to_form_paths_open_forms(server: Server, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["formish"] = {"href": f"{WP}/formal", "method": "post"}
    doc["_links"]["getform"] = {"href": f"{WP}/form", "method": "get"}
    wp = op.wrap(doc)
    server.script = [HttpResponse.json(work_package()), HttpResponse.json(work_package())]
    assert type(await wp.action("formish", subject="x")) is not Form
    assert type(await wp.action("getform", subject="x")) is not Form
    assert server.calls()[0] == ("POST", f"{WP}/formal", {"subject": "x"})
    assert server.calls()[1][:2] == ("GET", f"{WP}/form?subject=x")


# -- submit and conflicts -----------------------------------------------------------------------


async def test_submit_checks_its_arguments(server: Server, op: OpenProject) -> None:
    wp = op.wrap(work_package())
    with pytest.raises(ValueError, match=r"^retry_conflicts must be 0 or more$"):
        await wp.save(subject="x", retry_conflicts=-1)
    with pytest.raises(TypeError) as merge_alone:
        await wp.save(subject="x", merge=lambda fresh, values: values)
    assert str(merge_alone.value) == (
        "merge= is called after a conflict: give retry_conflicts=N (N >= 1)"
    )
    project = op.wrap(PROJECT)
    with pytest.raises(TypeError) as create:
        await project.submit("createWorkPackage", subject="x", retry_conflicts=1)
    assert str(create.value) == (
        "retry_conflicts/merge re-apply an update of a resource with a lockVersion; "
        f"'createWorkPackage' of {project!r} is not one (creates are never sent twice)"
    )
    bare = work_package()
    del bare["lockVersion"]
    with pytest.raises(TypeError, match="is not one"):
        await op.wrap(bare).save(subject="x", retry_conflicts=1)
    assert server.calls() == []


async def test_submit_creates(server: Server, op: OpenProject) -> None:
    created = await op.wrap(PROJECT).submit(
        "createWorkPackage", subject="abc", notify=False, fields={"Story points": 2}
    )
    assert created.subject == "abc"
    assert server.calls()[-1] == (
        "POST",
        f"{API}/projects/1/work_packages?notify=false",
        {"subject": "abc", "customField1": 2},
    )


async def test_a_conflict_without_retry_is_raised(server: Server, op: OpenProject) -> None:
    server.lock = 4
    with pytest.raises(UpdateConflict):
        await op.wrap(work_package(3)).save(subject="x")
    assert [c[0] for c in server.calls()] == ["POST", "PATCH"]


async def test_retry_conflicts_rereads_and_reapplies(server: Server, op: OpenProject) -> None:
    server.lock = 5
    stale = op.wrap(work_package(3))
    server.script = []
    saved = await stale.save(subject="mine", retry_conflicts=2, notify=False)
    assert saved.subject == "mine"
    assert server.calls() == [
        ("POST", f"{WP}/form", {"lockVersion": 3, "subject": "mine"}),
        ("PATCH", f"{WP}?notify=false", {"lockVersion": 3, "subject": "mine"}),
        ("GET", WP, None),
        ("POST", f"{WP}/form", {"lockVersion": 5, "subject": "mine"}),
        ("PATCH", f"{WP}?notify=false", {"lockVersion": 5, "subject": "mine"}),
    ]


async def test_retry_conflicts_gives_up_after_n(server: Server, op: OpenProject) -> None:
    conflict = error("UpdateConflict", 409)
    form = server.form({"subject": "x"}, f"{WP}/form", {"href": WP, "method": "patch"})
    server.script = [form, conflict, HttpResponse.json(work_package(3)), form, conflict]
    with pytest.raises(UpdateConflict):
        await op.wrap(work_package(3)).save(subject="x", retry_conflicts=1)
    assert len(server.transport.requests) == 5


async def test_merge_recomputes_the_values(server: Server, op: OpenProject) -> None:
    server.lock = 4
    seen: list[tuple[int, dict[str, Any]]] = []

    def merge(fresh: Any, values: dict[str, Any]) -> dict[str, Any]:
        seen.append((fresh.lockVersion, values))
        values["subject"] = fresh.subject + " (merged)"
        return values

    saved = await op.wrap(work_package(3)).save(subject="mine", retry_conflicts=1, merge=merge)
    assert seen == [(4, {"subject": "Task 42 (merged)"})]
    assert saved.subject == "Task 42 (merged)"
    assert server.calls()[-1] == ("PATCH", WP, {"lockVersion": 4, "subject": "Task 42 (merged)"})


async def test_an_async_merge_and_one_that_gives_up(server: Server, op: OpenProject) -> None:
    server.lock = 4

    async def merge(fresh: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {"percentageDone": fresh.lockVersion}

    saved = await op.wrap(work_package(3)).save(subject="mine", retry_conflicts=1, merge=merge)
    assert server.calls()[-1] == ("PATCH", WP, {"lockVersion": 4, "percentageDone": 4})
    assert saved.lockVersion == 5
    server.transport.requests.clear()
    with pytest.raises(UpdateConflict):
        await op.wrap(work_package(3)).save(
            subject="mine", retry_conflicts=3, merge=lambda fresh, values: None
        )
    assert [c[0] for c in server.calls()] == ["POST", "PATCH", "GET"]


async def test_the_update_link_needs_no_self_link(server: Server, op: OpenProject) -> None:
    doc = work_package()
    del doc["_links"]["self"]
    await op.wrap(doc).update(subject="a")
    assert server.calls() == [("POST", f"{WP}/form", {"lockVersion": 3, "subject": "a"})]


async def test_an_update_form_found_by_an_href_ending_in_x(server: Server, op: OpenProject) -> None:
    doc = work_package()
    doc["_links"]["self"] = {"href": f"{API}/documents/BOX"}
    doc["_links"]["edit"] = {"href": f"{API}/documents/BOX/form", "method": "post"}
    server.script = [server.form({}, f"{API}/documents/BOX/form", None)]
    await op.wrap(doc).action("edit", subject="a")
    assert server.calls() == [
        ("POST", f"{API}/documents/BOX/form", {"lockVersion": 3, "subject": "a"})
    ]


async def test_names_are_chosen_once_per_form(server: Server, op: OpenProject) -> None:
    wp = op.wrap(work_package())
    await wp.load_schema()
    server.transport.requests.clear()
    form = await wp.update(assignee="dana developer")
    assert form.body == {"lockVersion": 3, "_links": {"assignee": {"href": f"{API}/users/4"}}}
    assert [c[:2] for c in server.calls()] == [
        ("GET", f"{WP}/available_assignees?pageSize=-1"),
        ("POST", f"{WP}/form"),
    ]


async def test_a_refused_second_request_is_raised(server: Server, op: OpenProject) -> None:
    form = server.form({"subject": "a"}, CREATE_FORM, None)
    server.script = [form, error("PropertyFormatError", message="refused")]
    with pytest.raises(PropertyFormatError, match="refused"):
        await op.wrap(PROJECT).createWorkPackage(subject="a", type="Task")
    assert server.bodies() == [
        {"subject": "a"},
        {"subject": "a", "_links": {"type": {"href": f"{API}/types/1"}}},
    ]


async def test_the_form_is_part_of_the_remembered_key(server: Server, op: OpenProject) -> None:
    other = {
        "_type": "Project",
        "id": 2,
        "_links": {
            "self": {"href": f"{API}/projects/2"},
            "createWorkPackage": {"href": f"{API}/projects/2/work_packages/form", "method": "post"},
        },
    }
    await op.wrap(PROJECT).createWorkPackage(subject="a", fields={"Story points": 1})
    await op.wrap(other).createWorkPackage(subject="a", fields={"Story points": 1})
    assert [c[1] for c in server.calls()] == [CREATE_FORM] * 2 + [
        f"{API}/projects/2/work_packages/form"
    ] * 2


async def test_a_link_that_extends_the_form_path_is_not_the_update_form(
    server: Server, op: OpenProject
) -> None:
    doc = work_package()
    doc["_links"]["other"] = {"href": f"{WP}/formX", "method": "post"}
    server.script = [
        server.form({"subject": "a"}, f"{WP}/formX", {"href": WP, "method": "patch"}),
        HttpResponse.json(work_package(4)),
    ]
    await op.wrap(doc).submit("other", subject="a")
    assert server.calls() == [
        ("POST", f"{WP}/formX", {"subject": "a"}),
        ("PATCH", WP, {"subject": "a"}),
    ]
