"""Per-call ``timeout=`` and ``retry=`` reach the exchange, never the query string.

``op.get``, ``follow``, actions (attribute sugar included), ``save``/``submit``/``commit``
take them; a query parameter literally named ``timeout`` or ``retry`` goes through
``params=``.
"""

from __future__ import annotations

from typing import Any

import pytest

from openproject_async import HttpRequest, HttpResponse, OpenProject, ProtocolError, RetryPolicy
from openproject_async._policy import Timeouts
from openproject_async.testing import MockTransport

BASE = "https://op.test"
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)
PER_CALL = Timeouts(connect=0.5, read=60.0, total=0.5)  # timeout=0.5, default read timeout
SESSION = Timeouts(connect=10.0, read=60.0, total=None)

WP: dict[str, Any] = {
    "_type": "WorkPackage",
    "id": 1,
    "lockVersion": 3,
    "subject": "old",
    "_links": {
        "self": {"href": "/api/v3/work_packages/1"},
        "project": {"href": "/api/v3/projects/2"},
        "addComment": {"href": "/api/v3/work_packages/1/activities", "method": "post"},
        "update": {"href": "/api/v3/work_packages/1/form", "method": "post"},
        "updateImmediately": {"href": "/api/v3/work_packages/1", "method": "patch"},
    },
}
FORM: dict[str, Any] = {
    "_type": "Form",
    "_embedded": {
        "payload": {"subject": "new", "lockVersion": 3},
        "schema": {"_type": "Schema", "subject": {"type": "String", "name": "Subject"}},
        "validationErrors": {},
    },
    "_links": {"commit": {"href": "/api/v3/work_packages/1", "method": "patch"}},
}


def server(*, flaky: bool = False) -> MockTransport:
    failed: set[str] = set()

    def handler(request: HttpRequest) -> HttpResponse:
        key = f"{request.method} {request.url.path}"
        if flaky and key not in failed:
            failed.add(key)
            return HttpResponse(503, {"Content-Type": "text/html"}, body=b"busy")
        if request.url.path.endswith("/form"):
            return HttpResponse.json(FORM)
        if request.url.path == "/api/v3/projects/2":
            return HttpResponse.json({"_type": "Project", "id": 2})
        if request.url.path.endswith("/activities"):
            return HttpResponse.json({"_type": "Activity::Comment", "id": 9}, 201)
        return HttpResponse.json({**WP, "subject": "new"} if request.method == "PATCH" else WP)

    return MockTransport(handler)


def seen(mock: MockTransport) -> list[tuple[str, str, Timeouts]]:
    return [(r.method, r.url.raw_path_qs, r.timeout) for r in mock.requests]


async def test_get_takes_timeout_and_retry_and_sends_no_such_query() -> None:
    mock = server(flaky=True)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        with pytest.raises(ProtocolError) as info:
            await op.get("/api/v3/work_packages/1", timeout=0.5, retry=False)
        assert info.value.status == 503
        wp = await op.get("/api/v3/work_packages/1", timeout=0.5)  # retried: 200
        assert wp["id"] == 1
    assert seen(mock) == [
        ("GET", "/api/v3/work_packages/1", PER_CALL),
        ("GET", "/api/v3/work_packages/1", PER_CALL),
    ]


async def test_a_query_parameter_named_timeout_goes_through_params() -> None:
    mock = server()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        await op.get("/api/v3/work_packages/1", params={"timeout": 5, "retry": "x"}, pageSize=2)
    assert seen(mock) == [("GET", "/api/v3/work_packages/1?pageSize=2&timeout=5&retry=x", SESSION)]


async def test_follow_and_actions_take_timeout_and_retry() -> None:
    mock = server(flaky=True)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        wp = op.wrap(dict(WP))
        with pytest.raises(ProtocolError):
            await wp.follow("project", retry=False, timeout=0.5)
        project = await wp.follow("project", timeout=0.5, params={"timeout": "q"})
        assert project["id"] == 2
        with pytest.raises(ProtocolError):  # a comment is never retried on its own
            await wp.addComment(comment="hi", timeout=0.5)
        comment = await wp.addComment(comment="hi", timeout=0.5, retry=True)
        assert comment is not None
    assert seen(mock) == [
        ("GET", "/api/v3/projects/2", PER_CALL),
        ("GET", "/api/v3/projects/2?timeout=q", PER_CALL),
        ("POST", "/api/v3/work_packages/1/activities", PER_CALL),
        ("POST", "/api/v3/work_packages/1/activities", PER_CALL),
    ]


async def test_save_passes_timeout_to_the_form_and_the_commit() -> None:
    mock = server()
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        wp = op.wrap(dict(WP))
        saved = await wp.save(subject="new", timeout=0.5, retry=False)
        assert saved["subject"] == "new"
    assert seen(mock) == [
        ("POST", "/api/v3/work_packages/1/form", PER_CALL),
        ("PATCH", "/api/v3/work_packages/1", PER_CALL),
    ]
    assert mock.requests[1].body == b'{"lockVersion":3,"subject":"new"}'


async def test_a_per_call_retry_true_lets_a_commit_be_retried() -> None:
    mock = server(flaky=True)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        form = await op.wrap(dict(WP)).update(subject="new", timeout=0.5)
        with pytest.raises(ProtocolError):
            await form.commit()  # a PATCH is sent once unless asked
        saved = await form.commit(retry=True, timeout=0.5)
        assert saved["subject"] == "new"
    assert [(m, p) for m, p, _ in seen(mock)] == [
        ("POST", "/api/v3/work_packages/1/form"),
        ("POST", "/api/v3/work_packages/1/form"),
        ("PATCH", "/api/v3/work_packages/1"),
        ("PATCH", "/api/v3/work_packages/1"),
    ]


def pages_server(*, flaky_page: int | None = None) -> MockTransport:
    """Three pages of two elements, linked by nextByOffset; one page may fail once."""
    failed: set[int] = set()

    def handler(request: HttpRequest) -> HttpResponse:
        offset = int(request.url.query.get("offset", "1"))
        if offset == flaky_page and offset not in failed:
            failed.add(offset)
            return HttpResponse(503, {"Content-Type": "text/html"}, body=b"busy")
        links: dict[str, Any] = {"self": {"href": f"/api/v3/things?offset={offset}"}}
        if offset < 3:
            links["nextByOffset"] = {"href": f"/api/v3/things?offset={offset + 1}"}
        elements = [{"_type": "Thing", "id": 2 * offset - 1}, {"_type": "Thing", "id": 2 * offset}]
        return HttpResponse.json(
            {
                "_type": "Collection",
                "total": 6,
                "count": 2,
                "pageSize": 2,
                "offset": offset,
                "_embedded": {"elements": elements},
                "_links": links,
            }
        )

    return MockTransport(handler)


async def test_collection_reads_take_timeout_and_retry_for_every_page() -> None:
    mock = pages_server(flaky_page=2)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        first = await op.get("/api/v3/things?offset=1")
        with pytest.raises(ProtocolError):
            await first.to_list(retry=False)  # page 2 fails once: not retried
        ids = [t["id"] for t in await first.to_list(timeout=0.5)]
        assert ids == [1, 2, 3, 4, 5, 6]
        pages = [p.offset async for p in first.pages(timeout=0.5, retry=True)]
        assert pages == [1, 2, 3]
    assert seen(mock) == [
        ("GET", "/api/v3/things?offset=1", SESSION),
        ("GET", "/api/v3/things?offset=2", SESSION),  # the 503, sent once
        ("GET", "/api/v3/things?offset=2", PER_CALL),
        ("GET", "/api/v3/things?offset=3", PER_CALL),
        ("GET", "/api/v3/things?offset=2", PER_CALL),
        ("GET", "/api/v3/things?offset=3", PER_CALL),
    ]
