"""``webhooks`` without sockets, exactly: signatures, parsing, routing and the aiohttp handler
(called with a stand-in request: its answers, counters, logs and background tasks).

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from openproject_async import HttpResponse, OpenProject, OpenProjectError, Resource, webhooks
from openproject_async.testing import MockTransport

SECRET = "s3cret"
DOC = {"action": "work_package:updated", "work_package": {"_type": "WorkPackage", "id": 42}}
BODY = orjson.dumps(DOC)


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class Request:
    """What the handler reads of an aiohttp request."""

    def __init__(
        self, body: bytes, headers: dict[str, str] | None = None, length: int | None = -1
    ) -> None:
        self.body = body
        self.headers = CIMultiDictProxy(CIMultiDict(headers or {}))
        self.content_length = len(body) if length == -1 else length
        self.reads = 0

    async def read(self) -> bytes:
        self.reads += 1
        return self.body


def answer(response: web.Response) -> tuple[int, Any]:
    assert response.content_type == "application/json"
    assert isinstance(response.body, bytes)
    return response.status, orjson.loads(response.body)


def signed(body: bytes = BODY, name: str = "X-OP-Signature") -> Request:
    return Request(body, {name: signature(body)})


@pytest.fixture
async def op() -> AsyncIterator[OpenProject]:
    transport = MockTransport(lambda request: HttpResponse.json({"_type": "Thing"}))
    async with OpenProject("https://op.test", api_key="k", transport=transport) as session:
        yield session


@pytest.fixture(autouse=True)
def warned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if no unsigned use had warned yet."""
    monkeypatch.setattr(webhooks, "_warned_unsigned", False)


# -- signatures ------------------------------------------------------------------------------


def test_sign_exactly() -> None:
    # RFC 2202, HMAC-SHA1 test case 1
    assert (
        webhooks.sign(b"Hi There", "\x0b" * 20) == "sha1=b617318655057264e28bc0b6fb378c8ef146be00"
    )
    assert webhooks.sign(BODY, SECRET) == signature(BODY)
    assert webhooks.SIGNATURE_HEADER == "X-OP-Signature"


@pytest.mark.parametrize("secret", ["", None, 5, b"s3cret"])
def test_verify_needs_a_secret(secret: Any) -> None:
    with pytest.raises(ValueError, match="needs the webhook's secret") as info:
        webhooks.verify({"X-OP-Signature": signature(BODY)}, BODY, secret)
    assert str(info.value) == "verify() needs the webhook's secret (a non-empty string)"


def test_verify_reads_the_header_in_any_case_and_any_kind_of_mapping() -> None:
    value = signature(BODY)
    for headers in (
        {"x-op-signature": value},
        {"X-OP-SIGNATURE": value},
        {5: "ignored", "X-Op-Signature": value},
        CIMultiDict({"x-Op-signature": value}),
    ):
        webhooks.verify(headers, BODY, SECRET)  # type: ignore[arg-type]
    webhooks.verify(
        {"X-OP-Signature": f"  {value.upper().replace('SHA1=', 'sha1=')}\t"}, BODY, SECRET
    )
    webhooks.verify({"X-OP-Signature": value}, BODY.decode(), SECRET)  # a str body: its UTF-8
    webhooks.verify({"X-OP-Signature": value}, bytearray(BODY), SECRET)  # type: ignore[arg-type]
    webhooks.verify({"X-OP-Signature": value}, memoryview(BODY), SECRET)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "the delivery has no X-OP-Signature header"),
        ({"X-Signature": "x"}, "the delivery has no X-OP-Signature header"),
        (
            {"X-OP-Signature": "sha1=" + "0" * 39},
            "X-OP-Signature is not of the form sha1=<40 hex digits>",
        ),
        (
            {"X-OP-Signature": "sha1=" + "0" * 41},
            "X-OP-Signature is not of the form sha1=<40 hex digits>",
        ),
        (
            {"X-OP-Signature": "SHA1=" + "0" * 40},
            "X-OP-Signature is not of the form sha1=<40 hex digits>",
        ),
        (
            {"X-OP-Signature": "sha1=" + "g" * 40},
            "X-OP-Signature is not of the form sha1=<40 hex digits>",
        ),
        (
            {"X-OP-Signature": "xsha1=" + "0" * 40},
            "X-OP-Signature is not of the form sha1=<40 hex digits>",
        ),
        (
            {"X-OP-Signature": "sha1=" + "0" * 40},
            "X-OP-Signature does not match the body and the secret",
        ),
        (
            {"X-OP-Signature": signature(BODY, "other")},
            "X-OP-Signature does not match the body and the secret",
        ),
    ],
)
def test_verify_refuses_exactly(headers: dict[str, str], message: str) -> None:
    with pytest.raises(webhooks.InvalidSignature) as info:
        webhooks.verify(headers, BODY, SECRET)
    assert str(info.value) == message


def test_verify_refuses_repeated_headers() -> None:
    value = signature(BODY)
    with pytest.raises(webhooks.InvalidSignature) as info:
        webhooks.verify(CIMultiDict([("X-OP-Signature", value)] * 3), BODY, SECRET)
    assert str(info.value) == "the delivery has 3 X-OP-Signature headers"
    with pytest.raises(webhooks.InvalidSignature) as info:
        webhooks.verify({"X-OP-Signature": value, "x-op-signature": value}, BODY, SECRET)
    assert str(info.value) == "the delivery has 2 X-OP-Signature headers"


def test_a_body_must_be_bytes_or_text() -> None:
    with pytest.raises(TypeError) as info:
        webhooks.verify({"X-OP-Signature": signature(BODY)}, 5, SECRET)  # type: ignore[arg-type]
    assert str(info.value) == "body must be the raw request body (bytes), got int"
    with pytest.raises(TypeError) as info:
        webhooks.Event.from_json(None)  # type: ignore[arg-type]
    assert str(info.value) == "body must be the raw request body (bytes), got NoneType"


def test_the_errors_are_library_errors() -> None:
    assert issubclass(webhooks.InvalidSignature, OpenProjectError)
    assert issubclass(webhooks.InvalidWebhook, OpenProjectError)
    assert issubclass(webhooks.InvalidWebhook, ValueError)
    assert not issubclass(webhooks.InvalidSignature, ValueError)


# -- parsing ---------------------------------------------------------------------------------


def test_from_http_verifies_then_parses(op: OpenProject) -> None:
    event = webhooks.Event.from_http(
        {"x-op-signature": signature(BODY)}, BODY.decode(), secret=SECRET, session=op
    )
    assert (event.action, event.kind, event.name, event.key) == (
        "work_package:updated",
        "work_package",
        "updated",
        "work_package",
    )
    assert event.raw == DOC
    assert isinstance(event.resource, Resource)
    assert event.resource.session is op
    assert event.resource.data == DOC["work_package"]
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.Event.from_http({}, BODY, secret=SECRET)


@pytest.mark.parametrize("secret", ["", 5])
def test_from_http_checks_the_secret(secret: Any) -> None:
    with pytest.raises(ValueError, match="secret must be") as info:
        webhooks.Event.from_http({}, BODY, secret=secret)
    assert str(info.value) == "secret must be a non-empty string, or None to skip verification"


def test_unsigned_use_warns_once_at_the_caller() -> None:
    with pytest.warns(UserWarning, match="not verified") as record:
        event = webhooks.Event.from_http({}, BODY, secret=None)
    assert event.action == "work_package:updated"
    (warning,) = record
    assert str(warning.message) == (
        "webhook signatures are not verified (secret=None): anyone who can reach the "
        "endpoint can send events; configure a secret on the webhook and pass it here"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        webhooks.Event.from_http({}, BODY, secret=None)
        webhooks.WebhookHandler(webhooks.Router(), secret=None, session=None)  # type: ignore[arg-type]


def test_an_unsigned_handler_warns_once(op: OpenProject) -> None:
    with pytest.warns(UserWarning, match=r"not verified \(secret=None\)") as record:
        webhooks.WebhookHandler(webhooks.Router(), secret=None, session=op)
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        webhooks.WebhookHandler(webhooks.Router(), secret=SECRET, session=op)
        webhooks.Event.from_http({}, BODY, secret=None)


def test_the_unsigned_warning_points_at_the_caller(op: OpenProject) -> None:
    """(Reads the call stack: left out of mutation runs, whose trampolines add frames.)"""
    with pytest.warns(UserWarning, match="not verified") as record:
        webhooks.Event.from_http({}, BODY, secret=None)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(webhooks, "_warned_unsigned", False)
    with pytest.warns(UserWarning, match="not verified") as handler_record:
        webhooks.WebhookHandler(webhooks.Router(), secret=None, session=op)
    monkeypatch.setattr(webhooks, "_warned_unsigned", False)
    with pytest.warns(UserWarning, match="not verified") as aiohttp_record:
        webhooks.aiohttp_handler(webhooks.Router(), secret=None, session=op)
    monkeypatch.undo()
    records = [*record, *handler_record, *aiohttp_record]
    assert [w.filename for w in records] == [__file__] * 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1], "a webhook body is a JSON object, got list"),
        ("x", "a webhook body is a JSON object, got str"),
        ({}, 'a webhook body has a string "action" ("work_package:updated")'),
        ({"action": ""}, 'a webhook body has a string "action" ("work_package:updated")'),
        ({"action": 1}, 'a webhook body has a string "action" ("work_package:updated")'),
        ({"action": "project:created"}, "a 'project' webhook body has no 'project'"),
        (
            {"action": "work_package_comment:comment", "work_package": {}},
            "a 'work_package_comment' webhook body has no 'activity'",
        ),
        (
            {"action": "time_entry:deleted", "time_entry": "gone"},
            "the 'time_entry:deleted' webhook's 'time_entry' is not an object (got str)",
        ),
        (
            {"action": "wiki:created", "wiki": [1]},
            "the 'wiki:created' webhook's 'wiki' is not an object (got list)",
        ),
    ],
)
def test_malformed_bodies_exactly(doc: Any, message: str) -> None:
    with pytest.raises(webhooks.InvalidWebhook) as info:
        webhooks.Event.from_json(orjson.dumps(doc))
    assert str(info.value) == message


def test_not_json() -> None:
    with pytest.raises(webhooks.InvalidWebhook) as info:
        webhooks.Event.from_json(b"{")
    assert str(info.value) == "the webhook body is not JSON"
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    ("doc", "kind", "name", "key"),
    [
        ({"action": "a:b:c", "a": {}}, "a", "b:c", "a"),
        ({"action": "ping"}, "ping", "", None),
        ({"action": "ping", "actor": {"id": 1}}, "ping", "", None),
        ({"action": "x:y", "one": {"id": 1}, "n": 5}, "x", "y", "one"),
        ({"action": "x:y", "one": {"id": 1}, "two": {"id": 2}}, "x", "y", None),
        ({"action": "x:y", "x": {"id": 1}, "two": {"id": 2}}, "x", "y", "x"),
        ({"action": "x:y", "x": None}, "x", "y", "x"),
        (
            {"action": "attachment:created", "attachment": {}, "x": {}},
            "attachment",
            "created",
            "attachment",
        ),
    ],
)
def test_which_part_is_the_resource(doc: dict[str, Any], kind: str, name: str, key: Any) -> None:
    if key is not None and doc.get(key) is None:
        with pytest.raises(webhooks.InvalidWebhook, match="is not an object"):
            webhooks.Event(doc)
        return
    event = webhooks.Event(doc)
    assert (event.kind, event.name, event.key) == (kind, name, key)
    if key is None:
        assert event.resource is None
    else:
        assert event.resource is not None
        assert event.resource.data is doc[key]


def test_the_actor(op: OpenProject) -> None:
    actor = {"_type": "User", "id": 4}
    event = webhooks.Event({**DOC, "actor": actor}, op)
    assert event.actor is not None
    assert event.actor.data is actor
    assert event.actor.session is op
    assert webhooks.Event({**DOC, "actor": "dana"}).actor is None
    assert webhooks.Event({**DOC, "actor": None}).actor is None


async def test_an_unbound_event_says_how_to_bind_it() -> None:
    event = webhooks.Event(DOC)
    assert event.resource is not None
    with pytest.raises(OpenProjectError) as info:
        _ = event.resource.session.get
    assert str(info.value) == (
        "this webhook event was parsed without a session: pass session=op to "
        "Event.from_http() (or aiohttp_handler) to follow its links or write"
    )
    assert type(info.value) is OpenProjectError


def test_repr() -> None:
    event = webhooks.Event(DOC)
    assert repr(event) == "<webhooks.Event work_package:updated <WorkPackage #42>>"
    assert repr(webhooks.Event({"action": "ping"})) == "<webhooks.Event ping None>"


# -- routing ---------------------------------------------------------------------------------


async def test_register_and_add_run_handlers_by_action() -> None:
    router = webhooks.Router()
    calls: list[tuple[str, str, Any]] = []
    op: Any = object()

    async def exact(ev: webhooks.Event, session: OpenProject) -> None:
        calls.append(("exact", ev.action, session))

    async def kind(ev: webhooks.Event, session: OpenProject) -> None:
        calls.append(("kind", ev.action, session))

    assert router.register("work_package:updated", "project:created")(exact) is exact
    assert router.add(kind, "work_package:*") is None
    assert router.handlers_for("work_package:updated") == [exact, kind]
    assert router.handlers_for("work_package") == [kind]  # the kind is what comes before ":"
    assert router.handlers_for("work_package:") == [kind]
    assert router.handlers_for("project:created") == [exact]
    assert router.handlers_for("project:updated") == []
    assert router.handlers_for("work_package_comment:comment") == []
    assert await router.dispatch(webhooks.Event(DOC), op) == 2
    assert await router.dispatch(webhooks.Event({"action": "ping"}), op) == 0
    assert calls == [("exact", "work_package:updated", op), ("kind", "work_package:updated", op)]


async def test_dispatch_raises_one_failure_as_it_is_and_several_as_a_group() -> None:
    router = webhooks.Router()
    first, second = KeyError("first"), ValueError("second")
    ran: list[str] = []

    @router.register("*")
    async def one(ev: webhooks.Event, op: OpenProject) -> None:
        ran.append("one")
        raise first

    with pytest.raises(KeyError) as single:
        await router.dispatch(webhooks.Event(DOC), None)  # type: ignore[arg-type]
    assert single.value is first

    @router.register("work_package:updated")
    async def two(ev: webhooks.Event, op: OpenProject) -> None:
        ran.append("two")
        raise second

    @router.register("work_package:updated")
    async def three(ev: webhooks.Event, op: OpenProject) -> None:
        ran.append("three")

    with pytest.raises(ExceptionGroup) as group:
        await router.dispatch(webhooks.Event(DOC), None)  # type: ignore[arg-type]
    assert str(group.value) == "2 webhook handlers failed (2 sub-exceptions)"
    assert group.value.exceptions == (first, second)
    assert ran == ["one", "one", "two", "three"]


def test_register_checks_exactly() -> None:
    router = webhooks.Router()
    with pytest.raises(TypeError) as info:
        router.register()
    assert str(info.value) == 'register() needs at least one action (or "*")'
    for bad in ("", None, 5):
        with pytest.raises(TypeError) as info:
            router.register("x:y", bad)  # type: ignore[arg-type]
        assert str(info.value) == f"an action is a non-empty string, got {bad!r}"

    def sync(ev: webhooks.Event, op: OpenProject) -> None: ...

    with pytest.raises(TypeError) as info:
        router.add(sync, "x:y")  # type: ignore[arg-type]
    assert str(info.value) == f"{sync!r} must be an async function (event, op)"
    assert router.handlers_for("x:y") == []


# -- the aiohttp handler ---------------------------------------------------------------------


def test_the_handler_s_settings(op: OpenProject) -> None:
    router = webhooks.Router()
    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    assert (handler.router, handler.session, handler.max_in_flight, handler.max_body) == (
        router,
        op,
        64,
        16 * 1024 * 1024,
    )
    assert handler.stats == {"received": 0, "accepted": 0, "rejected": 0, "busy": 0, "failed": 0}
    assert list(handler.stats) == ["received", "accepted", "rejected", "busy", "failed"]
    assert handler.in_flight == 0
    assert asyncio.iscoroutinefunction(handler)
    assert repr(handler) == "<webhooks.WebhookHandler signed in_flight=0>"
    assert (
        webhooks.aiohttp_handler(router, secret=SECRET, session=op, max_in_flight=1).max_in_flight
        == 1
    )
    with pytest.warns(UserWarning, match="not verified"):
        unsigned = webhooks.aiohttp_handler(router, secret=None, session=op)
    assert repr(unsigned) == "<webhooks.WebhookHandler unsigned in_flight=0>"
    direct = webhooks.WebhookHandler(router, secret=SECRET, session=op)
    assert (direct.max_in_flight, direct.max_body) == (64, 16 * 1024 * 1024)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"router": None}, TypeError, "router must be a webhooks.Router, got NoneType"),
        ({"router": 5}, TypeError, "router must be a webhooks.Router, got int"),
        ({"max_in_flight": 0}, ValueError, "max_in_flight must be an int >= 1, got 0"),
        ({"max_in_flight": 2.0}, ValueError, "max_in_flight must be an int >= 1, got 2.0"),
        (
            {"secret": ""},
            ValueError,
            "secret must be a non-empty string, or None to skip verification",
        ),
    ],
)
def test_the_handler_s_arguments_exactly(
    op: OpenProject, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"router": webhooks.Router(), "secret": SECRET, "session": op}
    with pytest.raises(error) as info:
        webhooks.WebhookHandler(**{**arguments, **kwargs})
    assert str(info.value) == message


async def test_accepts_with_202_and_runs_the_router_in_a_named_task(op: OpenProject) -> None:
    router = webhooks.Router()
    release = asyncio.Event()
    seen: list[Any] = []

    @router.register("work_package:updated")
    async def slow(ev: webhooks.Event, session: OpenProject) -> None:
        seen.append((asyncio.current_task().get_name(), ev.resource, session))  # type: ignore[union-attr]
        await release.wait()

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    request = signed(name="x-op-signature")
    assert answer(await handler(request)) == (202, {"accepted": "work_package:updated"})  # type: ignore[arg-type]
    assert request.reads == 1
    assert handler.in_flight == 1
    assert repr(handler) == "<webhooks.WebhookHandler signed in_flight=1>"
    joined = asyncio.ensure_future(handler.join())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not joined.done()  # a handler is running
    assert len(seen) == 1
    name, resource, session = seen[0]
    assert name == "webhook work_package:updated"
    assert session is op
    assert resource.session is op
    release.set()
    await joined
    assert handler.in_flight == 0
    assert handler.stats == {"received": 1, "accepted": 1, "rejected": 0, "busy": 0, "failed": 0}
    await handler.join()  # idle: returns at once


async def test_join_waits_for_every_handler(op: OpenProject) -> None:
    router = webhooks.Router()
    gates = [asyncio.Event(), asyncio.Event()]
    done: list[int] = []

    @router.register("*")
    async def wait(ev: webhooks.Event, session: OpenProject) -> None:
        index = ev.raw["n"]
        await gates[index].wait()
        done.append(index)

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    for n in (0, 1):
        body = orjson.dumps({"action": "ping", "n": n})
        assert (await handler(signed(body))).status == 202  # type: ignore[arg-type]
    joined = asyncio.ensure_future(handler.join())
    gates[0].set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == [0]
    assert not joined.done()  # one is still running
    gates[1].set()
    await joined
    assert done == [0, 1]


async def test_unsigned_handlers_skip_the_check(op: OpenProject) -> None:
    router = webhooks.Router()
    ran: list[str] = []

    @router.register("*")
    async def any_event(ev: webhooks.Event, session: OpenProject) -> None:
        assert ev.resource is not None
        assert ev.resource.session is session is op  # bound: it can follow links
        ran.append(ev.action)

    with pytest.warns(UserWarning, match="not verified"):
        handler = webhooks.aiohttp_handler(router, secret=None, session=op)
    assert answer(await handler(Request(BODY))) == (202, {"accepted": "work_package:updated"})  # type: ignore[arg-type]
    bad = Request(b"[1]")
    assert answer(await handler(bad)) == (
        400,
        {"error": "a webhook body is a JSON object, got list"},
    )  # type: ignore[arg-type]
    await handler.join()
    assert ran == ["work_package:updated"]
    assert handler.stats == {"received": 2, "accepted": 1, "rejected": 1, "busy": 0, "failed": 0}


async def test_refusals_401_and_400_are_logged(
    op: OpenProject, caplog: pytest.LogCaptureFixture
) -> None:
    router = webhooks.Router()
    ran: list[str] = []

    @router.register("*")
    async def any_event(ev: webhooks.Event, session: OpenProject) -> None:
        ran.append(ev.action)

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    with caplog.at_level(logging.WARNING, logger="openproject_async.webhooks"):
        unsigned = await handler(Request(BODY))  # type: ignore[arg-type]
        assert answer(unsigned) == (401, {"error": "invalid signature"})
        wrong = await handler(Request(BODY, {"X-OP-Signature": signature(BODY, "guess")}))  # type: ignore[arg-type]
        assert answer(wrong) == (401, {"error": "invalid signature"})
        junk = await handler(signed(b'{"action": 5}'))  # type: ignore[arg-type]
        assert answer(junk) == (
            400,
            {"error": 'a webhook body has a string "action" ("work_package:updated")'},
        )
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "webhook rejected: the delivery has no X-OP-Signature header"),
        (
            logging.WARNING,
            "webhook rejected: X-OP-Signature does not match the body and the secret",
        ),
        (
            logging.WARNING,
            'webhook rejected: a webhook body has a string "action" ("work_package:updated")',
        ),
    ]
    assert handler.stats == {"received": 3, "accepted": 0, "rejected": 3, "busy": 0, "failed": 0}
    assert handler.in_flight == 0
    assert ran == []


async def test_a_body_larger_than_the_limit_is_refused_unread(op: OpenProject) -> None:
    handler = webhooks.WebhookHandler(
        webhooks.Router(), secret=SECRET, session=op, max_body=len(BODY)
    )
    at_limit = signed()
    assert (await handler(at_limit)).status == 202  # type: ignore[arg-type]
    over = Request(BODY + b" ", {"X-OP-Signature": signature(BODY + b" ")})
    assert answer(await handler(over)) == (413, {"error": "body too large"})  # type: ignore[arg-type]
    assert over.reads == 0
    assert (await handler(over)).status == 413  # type: ignore[arg-type]
    unknown = Request(BODY, {"X-OP-Signature": signature(BODY)}, length=None)
    assert (await handler(unknown)).status == 202  # type: ignore[arg-type]
    await handler.join()
    assert handler.stats == {"received": 4, "accepted": 2, "rejected": 2, "busy": 0, "failed": 0}


async def test_503_when_busy_and_failures_counted_and_logged(
    op: OpenProject, caplog: pytest.LogCaptureFixture
) -> None:
    router = webhooks.Router()
    release = asyncio.Event()

    @router.register("work_package:updated")
    async def boom(ev: webhooks.Event, session: OpenProject) -> None:
        await release.wait()
        raise RuntimeError("handler broke")

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op, max_in_flight=2)
    with caplog.at_level(logging.WARNING, logger="openproject_async.webhooks"):
        assert (await handler(signed())).status == 202  # type: ignore[arg-type]
        assert (await handler(signed())).status == 202  # type: ignore[arg-type]
        busy = await handler(signed())  # type: ignore[arg-type]
        assert answer(busy) == (503, {"error": "busy"})
        assert (await handler(signed())).status == 503  # type: ignore[arg-type]
        release.set()
        await handler.join()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "webhook work_package:updated refused: 2 deliveries in flight"),
        (logging.WARNING, "webhook work_package:updated refused: 2 deliveries in flight"),
        (logging.ERROR, "webhook handler for work_package:updated failed"),
        (logging.ERROR, "webhook handler for work_package:updated failed"),
    ]
    assert caplog.records[2].exc_info is not None
    assert str(caplog.records[2].exc_info[1]) == "handler broke"
    assert handler.stats == {"received": 4, "accepted": 2, "rejected": 0, "busy": 2, "failed": 2}
    assert (await handler(signed())).status == 202  # type: ignore[arg-type]
    await handler.join()


async def test_close_cancels_and_waits(op: OpenProject) -> None:
    router = webhooks.Router()
    cancelled: list[str] = []

    @router.register("*")
    async def forever(ev: webhooks.Event, session: OpenProject) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(ev.action)
            raise

    handler = webhooks.aiohttp_handler(router, secret=SECRET, session=op)
    await handler.close()  # nothing running
    for _ in range(2):
        assert (await handler(signed())).status == 202  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await handler.close()
    assert cancelled == ["work_package:updated"] * 2
    assert handler.in_flight == 0
    await handler.join()
    assert handler.stats["failed"] == 0  # a cancellation is not a failure
