"""``openproject_async.webhooks``: verification, parsing, routing and the aiohttp handler."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from openproject_async import OpenProject, OpenProjectError, Resource, webhooks
from openproject_async.testing import FakeOpenProject

SECRET = "s3cret"
API = "/api/v3"


def body_of(doc: Any) -> bytes:
    return orjson.dumps(doc)


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


WP_BODY = body_of(
    {
        "action": "work_package:updated",
        "work_package": {
            "_type": "WorkPackage",
            "id": 42,
            "subject": "Fix the pump",
            "lockVersion": 3,
            "_embedded": {"status": {"_type": "Status", "id": 1, "name": "New"}},
            "_links": {
                "self": {"href": "/api/v3/work_packages/42", "title": "Fix the pump"},
                "status": {"href": "/api/v3/statuses/1", "title": "New"},
            },
        },
    }
)


# -- verification ----------------------------------------------------------------------------


def test_sign_is_hex_hmac_sha1_of_the_raw_body() -> None:
    assert webhooks.sign(WP_BODY, SECRET) == signature(WP_BODY)
    # RFC 2202, HMAC-SHA1 test case 2
    assert (
        webhooks.sign(b"what do ya want for nothing?", "Jefe")
        == "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
    )


@pytest.mark.parametrize("name", ["X-OP-Signature", "X-Op-Signature", "x-op-signature"])
def test_verify_accepts_the_header_in_any_case(name: str) -> None:
    webhooks.verify({name: signature(WP_BODY)}, WP_BODY, SECRET)
    webhooks.verify(CIMultiDict({name: signature(WP_BODY)}), WP_BODY, SECRET)
    event = webhooks.Event.from_http({name: signature(WP_BODY)}, WP_BODY, secret=SECRET)
    assert event.action == "work_package:updated"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "the delivery has no X-OP-Signature header"),
        ({"X-OP-Signature": "sha256=" + "0" * 64}, "is not of the form sha1=<40 hex digits>"),
        ({"X-OP-Signature": "sha1=abc"}, "is not of the form sha1=<40 hex digits>"),
        ({"X-OP-Signature": signature(WP_BODY)[5:]}, "is not of the form"),
        ({"X-OP-Signature": signature(WP_BODY, "other")}, "does not match the body and the secret"),
        ({"X-OP-Signature": signature(WP_BODY + b" ")}, "does not match the body and the secret"),
    ],
)
def test_bad_signatures_raise_invalid_signature(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(webhooks.InvalidSignature) as info:
        webhooks.Event.from_http(headers, WP_BODY, secret=SECRET)
    assert reason in str(info.value)
    assert SECRET not in str(info.value)
    assert isinstance(info.value, OpenProjectError)


def test_a_repeated_signature_header_is_refused() -> None:
    headers = CIMultiDict([("X-OP-Signature", signature(WP_BODY))] * 2)
    with pytest.raises(webhooks.InvalidSignature, match="has 2 X-OP-Signature headers"):
        webhooks.verify(headers, WP_BODY, SECRET)


def test_secret_must_be_given_and_none_skips_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(TypeError):
        webhooks.Event.from_http({}, WP_BODY)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="non-empty string"):
        webhooks.Event.from_http({}, WP_BODY, secret="")
    monkeypatch.setattr(webhooks, "_warned_unsigned", False)
    with pytest.warns(UserWarning, match=r"not verified \(secret=None\)"):
        event = webhooks.Event.from_http({}, WP_BODY, secret=None)
    assert event.resource is not None
    assert event.resource["id"] == 42
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        webhooks.Event.from_http({}, WP_BODY, secret=None)  # once per process


# -- parsing ---------------------------------------------------------------------------------


def test_event_fields() -> None:
    event = webhooks.Event.from_http({"X-Op-Signature": signature(WP_BODY)}, WP_BODY, secret=SECRET)
    assert (event.action, event.kind, event.name, event.key) == (
        "work_package:updated",
        "work_package",
        "updated",
        "work_package",
    )
    assert event.raw == orjson.loads(WP_BODY)
    assert isinstance(event.resource, Resource)
    assert event.resource.data is event.raw["work_package"]
    assert event.actor is None
    assert (
        repr(event)
        == "<webhooks.Event work_package:updated <WorkPackage #42 /api/v3/work_packages/42>>"
    )


async def test_unbound_resource_says_how_to_bind_it() -> None:
    event = webhooks.Event.from_json(WP_BODY)
    assert event.resource is not None
    with pytest.raises(OpenProjectError, match="pass session=op"):
        await event.resource.follow("status")


@pytest.mark.parametrize(
    ("doc", "kind", "key", "resource_type"),
    [
        (
            {"action": "work_package:created", "work_package": {"_type": "WorkPackage", "id": 1}},
            "work_package",
            "work_package",
            "WorkPackage",
        ),
        (
            {"action": "work_package_comment:comment", "activity": {"_type": "Activity::Comment"}},
            "work_package_comment",
            "activity",
            "Activity::Comment",
        ),
        (
            {
                "action": "work_package_comment:internal_comment",
                "activity": {"_type": "Activity::Comment", "internal": True},
            },
            "work_package_comment",
            "activity",
            "Activity::Comment",
        ),
        (
            {"action": "project:created", "project": {"_type": "Project", "id": 3}},
            "project",
            "project",
            "Project",
        ),
        (
            {"action": "project:updated", "project": {"_type": "Project", "id": 3}},
            "project",
            "project",
            "Project",
        ),
        (
            {"action": "time_entry:created", "time_entry": {"_type": "TimeEntry", "id": 9}},
            "time_entry",
            "time_entry",
            "TimeEntry",
        ),
        (
            {
                "action": "time_entry:deleted",
                "time_entry": {"_type": "TimeEntry", "id": 9, "project_id": 3},
            },
            "time_entry",
            "time_entry",
            "TimeEntry",
        ),
        (
            {"action": "attachment:created", "attachment": {"_type": "Attachment", "id": 5}},
            "attachment",
            "attachment",
            "Attachment",
        ),
        (
            {"action": "wiki_page:created", "wiki_page": {"_type": "WikiPage", "id": 5}},
            "wiki_page",
            "wiki_page",
            "WikiPage",
        ),
        (
            {"action": "meeting:created", "thing": {"_type": "Meeting", "id": 5}},
            "meeting",
            "thing",
            "Meeting",
        ),
    ],
)
def test_every_kind_parses(doc: dict[str, Any], kind: str, key: str, resource_type: str) -> None:
    body = body_of(doc)
    event = webhooks.Event.from_http({"x-op-signature": signature(body)}, body, secret=SECRET)
    assert (event.kind, event.key) == (kind, key)
    assert event.resource is not None
    assert event.resource.resource_type == resource_type


def test_actor_and_an_unknown_action_without_resource() -> None:
    actor = {"_type": "User", "id": 4, "name": "Dana"}
    body = body_of({"action": "ping", "actor": actor})
    event = webhooks.Event.from_json(body)
    assert (event.kind, event.name, event.key, event.resource) == ("ping", "", None, None)
    assert event.actor is not None
    assert event.actor["name"] == "Dana"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "the webhook body is not JSON"),
        (b"[1, 2]", "a webhook body is a JSON object, got list"),
        (b'{"work_package": {}}', 'a webhook body has a string "action"'),
        (b'{"action": 5}', 'a webhook body has a string "action"'),
        (b'{"action": "work_package:updated"}', "a 'work_package' webhook body has no"),
        (
            b'{"action": "work_package:updated", "work_package": [1]}',
            "'work_package' is not an object (got list)",
        ),
        (b'{"action": "project:created", "project": null}', "is not an object (got NoneType)"),
    ],
)
def test_malformed_bodies_raise_invalid_webhook(body: bytes, message: str) -> None:
    with pytest.raises(webhooks.InvalidWebhook) as info:
        webhooks.Event.from_http({"X-OP-Signature": signature(body)}, body, secret=SECRET)
    assert message in str(info.value)
    assert isinstance(info.value, OpenProjectError)


def test_the_signature_is_checked_before_the_body() -> None:
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.Event.from_http({"X-OP-Signature": signature(b"x")}, b"not json", secret=SECRET)


# -- routing ---------------------------------------------------------------------------------


def event(action: str) -> webhooks.Event:
    kind = action.partition(":")[0]
    return webhooks.Event({"action": action, kind: {"_type": "Thing", "id": 1}})


async def test_router_runs_every_matching_handler_in_order() -> None:
    router = webhooks.Router()
    calls: list[tuple[str, str]] = []
    op: Any = object()

    @router.register("work_package:created", "work_package:updated")
    async def both(ev: webhooks.Event, session: OpenProject) -> None:
        assert session is op
        calls.append(("both", ev.action))

    @router.register("*")
    async def everything(ev: webhooks.Event, session: OpenProject) -> None:
        calls.append(("all", ev.action))

    @router.register("work_package:*")
    async def kind(ev: webhooks.Event, session: OpenProject) -> None:
        calls.append(("kind", ev.action))

    assert await router.dispatch(event("work_package:updated"), op) == 3
    assert await router.dispatch(event("work_package:deleted"), op) == 2
    assert await router.dispatch(event("project:created"), op) == 1
    assert calls == [
        ("both", "work_package:updated"),
        ("all", "work_package:updated"),
        ("kind", "work_package:updated"),
        ("all", "work_package:deleted"),
        ("kind", "work_package:deleted"),
        ("all", "project:created"),
    ]
    assert router.handlers_for("work_package:created") == [both, everything, kind]


async def test_router_runs_the_others_when_one_fails() -> None:
    router = webhooks.Router()
    ran: list[str] = []

    @router.register("x:y")
    async def first(ev: webhooks.Event, op: OpenProject) -> None:
        raise KeyError("first")

    @router.register("x:y")
    async def second(ev: webhooks.Event, op: OpenProject) -> None:
        ran.append("second")

    with pytest.raises(KeyError, match="first"):
        await router.dispatch(event("x:y"), None)  # type: ignore[arg-type]
    assert ran == ["second"]

    @router.register("x:y")
    async def third(ev: webhooks.Event, op: OpenProject) -> None:
        raise ValueError("third")

    with pytest.raises(ExceptionGroup) as info:
        await router.dispatch(event("x:y"), None)  # type: ignore[arg-type]
    assert [type(e) for e in info.value.exceptions] == [KeyError, ValueError]


def test_register_checks_its_arguments() -> None:
    router = webhooks.Router()
    with pytest.raises(TypeError, match="at least one action"):
        router.register()
    with pytest.raises(TypeError, match="non-empty string"):
        router.register("")

    def sync(ev: webhooks.Event, op: OpenProject) -> None: ...

    with pytest.raises(TypeError, match="must be an async function"):
        router.register("x:y")(sync)  # type: ignore[arg-type]


# -- the aiohttp handler ---------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=10) as server:
        yield server


@pytest.fixture
async def op(fake: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(fake.url, api_key=fake.api_keys["dana"]) as session:
        yield session


async def receiver(
    handler: webhooks.WebhookHandler,
) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    app.router.add_post("/hooks/openproject", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_handler_answers_202_and_runs_the_handlers_in_the_background(
    op: OpenProject,
) -> None:
    router = webhooks.Router()
    release = asyncio.Event()
    seen: list[Any] = []

    @router.register("work_package:updated")
    async def slow(ev: webhooks.Event, session: OpenProject) -> None:
        await release.wait()
        assert ev.resource is not None
        seen.append((ev.resource.session is session, ev.resource["subject"]))

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    client = await receiver(handler)
    try:
        answer = await client.post(
            "/hooks/openproject", data=WP_BODY, headers={"X-Op-Signature": signature(WP_BODY)}
        )
        assert answer.status == 202
        assert await answer.json() == {"accepted": "work_package:updated"}
        assert (handler.in_flight, seen) == (1, [])  # answered before the handler finished
        release.set()
        await handler.join()
        assert seen == [(True, "Fix the pump")]
        assert handler.stats == {
            "received": 1,
            "accepted": 1,
            "rejected": 0,
            "busy": 0,
            "failed": 0,
        }
    finally:
        await client.close()


async def test_handler_refuses_bad_deliveries(op: OpenProject) -> None:
    router = webhooks.Router()
    ran: list[str] = []

    @router.register("*")
    async def any_event(ev: webhooks.Event, session: OpenProject) -> None:
        ran.append(ev.action)

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    client = await receiver(handler)
    try:
        unsigned = await client.post("/hooks/openproject", data=WP_BODY)
        assert unsigned.status == 401
        assert await unsigned.json() == {"error": "invalid signature"}
        wrong = await client.post(
            "/hooks/openproject",
            data=WP_BODY,
            headers={"X-OP-Signature": signature(WP_BODY, "guess")},
        )
        assert wrong.status == 401
        assert SECRET not in await wrong.text()
        junk = b"{nope"
        malformed = await client.post(
            "/hooks/openproject", data=junk, headers={"X-OP-Signature": signature(junk)}
        )
        assert malformed.status == 400
        assert await malformed.json() == {"error": "the webhook body is not JSON"}
        await handler.join()
        assert ran == []
        assert handler.stats["rejected"] == 3
        assert SECRET not in repr(handler)
    finally:
        await client.close()


async def test_handler_failures_are_logged_and_in_flight_is_bounded(
    op: OpenProject, caplog: pytest.LogCaptureFixture
) -> None:
    router = webhooks.Router()
    release = asyncio.Event()

    @router.register("work_package:updated")
    async def boom(ev: webhooks.Event, session: OpenProject) -> None:
        await release.wait()
        raise RuntimeError("handler broke")

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op, max_in_flight=1)
    client = await receiver(handler)
    headers = {"X-OP-Signature": signature(WP_BODY)}
    try:
        first = await client.post("/hooks/openproject", data=WP_BODY, headers=headers)
        busy = await client.post("/hooks/openproject", data=WP_BODY, headers=headers)
        assert (first.status, busy.status) == (202, 503)
        with caplog.at_level(logging.ERROR, logger="openproject_async.webhooks"):
            release.set()
            await handler.join()
        failures = [
            r
            for r in caplog.records
            if r.name == "openproject_async.webhooks" and r.levelno == logging.ERROR
        ]
        assert [r.getMessage() for r in failures] == [
            "webhook handler for work_package:updated failed"
        ]
        assert failures[0].exc_info is not None
        assert str(failures[0].exc_info[1]) == "handler broke"
        assert (handler.stats["failed"], handler.stats["busy"]) == (1, 1)
    finally:
        await client.close()


async def test_handler_close_cancels_running_handlers(op: OpenProject) -> None:
    router = webhooks.Router()
    cancelled = asyncio.Event()

    @router.register("*")
    async def forever(ev: webhooks.Event, session: OpenProject) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    client = await receiver(handler)
    try:
        answer = await client.post(
            "/hooks/openproject", data=WP_BODY, headers={"X-OP-Signature": signature(WP_BODY)}
        )
        assert answer.status == 202
        await handler.close()
        assert cancelled.is_set()
        assert handler.in_flight == 0
    finally:
        await client.close()


# -- the built-in server delivers -------------------------------------------------------------


class Inbox:
    """A receiving endpoint that records deliveries and answers with scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[CIMultiDict[str], bytes]] = []
        self.statuses = list(statuses or [])

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((CIMultiDict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    def events(self) -> list[webhooks.Event]:
        return [
            webhooks.Event.from_http(headers, body, secret=SECRET)
            for headers, body in self.received
        ]


async def inbox_server(inbox: Inbox) -> TestServer:
    app = web.Application()
    app.router.add_post("/in", inbox.handle)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_server_delivers_signed_real_shaped_payloads(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    inbox = Inbox()
    server = await inbox_server(inbox)
    try:
        fake.add_webhook(str(server.make_url("/in")), secret=SECRET)
        project = await op.get(f"{API}/projects/1")
        wp = await project.submit("createWorkPackage", subject="Webhook me")
        wp = await wp.save(subject="Webhook me twice")
        await wp.addComment(comment="Looks good")
        await fake.wait_for_webhooks()
        headers, body = inbox.received[0]
        assert headers["Content-Type"] == "application/json"
        assert headers["Accept"] == "application/json"
        assert headers["X-OP-Signature"] == signature(body)
        events = inbox.events()
        assert [e.action for e in events] == [
            "work_package:created",
            "work_package:updated",
            "work_package:updated",
            "work_package_comment:comment",
        ]
        created = events[0].raw
        assert list(created) == ["action", "work_package", "actor"]
        assert created["work_package"]["id"] == wp["id"]
        assert created["work_package"]["subject"] == "Webhook me"
        assert created["work_package"]["_embedded"]["project"]["id"] == 1
        assert created["actor"]["id"] == fake.users["dana"]
        assert events[1].raw["work_package"]["subject"] == "Webhook me twice"
        comment = events[3].raw["activity"]
        assert comment["_type"] == "Activity::Comment"
        assert comment["comment"]["raw"] == "Looks good"
        assert comment["_embedded"]["workPackage"]["id"] == wp["id"]
        assert [(d.action, d.status, d.attempts) for d in fake.webhook_deliveries] == [
            (e.action, 200, 1) for e in events
        ]
    finally:
        await server.close()


async def test_server_webhook_filters_events_and_projects(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    inbox = Inbox()
    server = await inbox_server(inbox)
    try:
        url = str(server.make_url("/in"))
        fake.add_webhook(url, secret=SECRET, events=["work_package:created"], projects=[2])
        for project_id in (1, 2):
            project = await op.get(f"{API}/projects/{project_id}")
            wp = await project.submit("createWorkPackage", subject=f"In {project_id}")
            await wp.addComment(comment="ignored")
        await fake.wait_for_webhooks()
        events = inbox.events()
        assert [(e.action, e.raw["work_package"]["subject"]) for e in events] == [
            ("work_package:created", "In 2")
        ]
        with pytest.raises(ValueError, match=r"unknown webhook events \['work_package:deleted'\]"):
            fake.add_webhook(url, events=["work_package:deleted"])
    finally:
        await server.close()


async def test_server_aggregates_work_package_events_within_the_delay(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    inbox = Inbox()
    server = await inbox_server(inbox)
    try:
        fake.add_webhook(str(server.make_url("/in")), secret=SECRET, aggregation_delay=300)
        project = await op.get(f"{API}/projects/1")
        wp = await project.submit("createWorkPackage", subject="First")
        await wp.save(subject="Second")
        assert inbox.received == []  # the real server waits its aggregation time
        await fake.wait_for_webhooks(flush=True)  # as if that time had passed
        events = inbox.events()
        assert [(e.action, e.raw["work_package"]["subject"]) for e in events] == [
            ("work_package:created", "Second")
        ]
    finally:
        await server.close()


async def test_server_retries_transient_failures_only(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    inbox = Inbox(statuses=[503, 502, 200, 404])
    server = await inbox_server(inbox)
    try:
        fake.add_webhook(
            str(server.make_url("/in")),
            secret=SECRET,
            events=["work_package:created"],
            retry_delay=0,
        )
        project = await op.get(f"{API}/projects/1")
        await project.submit("createWorkPackage", subject="One")
        await project.submit("createWorkPackage", subject="Two")
        await fake.wait_for_webhooks()
        assert [(d.status, d.attempts) for d in fake.webhook_deliveries] == [(200, 3), (404, 1)]
        assert len(inbox.received) == 4
    finally:
        await server.close()


async def test_server_delivers_to_the_library_handler_end_to_end(
    fake: FakeOpenProject, op: OpenProject
) -> None:
    router = webhooks.Router()

    @router.register("work_package:created")
    async def thank(ev: webhooks.Event, session: OpenProject) -> None:
        assert ev.resource is not None
        project = await ev.resource.follow("project")  # embedded: no request
        await ev.resource.addComment(comment=f"Thanks, noted in {project['name']}")

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    client = await receiver(handler)
    try:
        fake.add_webhook(
            str(client.make_url("/hooks/openproject")),
            secret=SECRET,
            events=["work_package:created"],
        )
        async with OpenProject(fake.url, api_key=fake.api_keys["member"]) as mia:
            project = await mia.get(f"{API}/projects/1")
            wp = await project.submit("createWorkPackage", subject="Please look")
        await fake.wait_for_webhooks()
        await handler.join()
        comments = [a.comment for a in fake.store.journals[wp["id"]] if a.comment]
        assert comments == ["Thanks, noted in Demo project"]
        assert handler.stats["accepted"] == 1
    finally:
        await client.close()
