"""The transport seam: a session over ``MockTransport`` does everything above the exchange.

No server and no sockets: credentials, redirects, retries, re-authentication, decoding,
typed errors and typed results all run against a function that answers each request.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import orjson
import pytest

from openproject_async import (
    Collection,
    HttpRequest,
    HttpResponse,
    NotFound,
    OAuthClientCredentials,
    OpenProject,
    ProtocolError,
    Resource,
    RetryPolicy,
    UnexpectedResource,
)
from openproject_async.testing import MockTransport

BASE = "https://op.test"
BASIC_K = "Basic " + base64.b64encode(b"apikey:k").decode()
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)

WP = {
    "_type": "WorkPackage",
    "id": 1,
    "subject": "x",
    "_links": {
        "self": {"href": "/api/v3/work_packages/1"},
        "project": {"href": "/api/v3/projects/2", "title": "P"},
        "children": [{"href": "/api/v3/work_packages/3"}],
        "assignee": {"href": None},
    },
}
PAGE = {"_type": "Collection", "total": 0, "count": 0, "_embedded": {"elements": []}}
NOT_FOUND = {
    "_type": "Error",
    "errorIdentifier": "urn:openproject-org:api:v3:errors:NotFound",
    "message": "The requested resource could not be found.",
}


def routes(table: dict[str, HttpResponse]) -> MockTransport:
    def handler(request: HttpRequest) -> HttpResponse:
        return table.get(request.url.raw_path_qs, HttpResponse.json(NOT_FOUND, 404))

    return MockTransport(handler)


async def test_get_sends_api_key_and_hal_accept_and_wraps_the_answer() -> None:
    mock = routes({"/api/v3/work_packages/1": HttpResponse.json(WP)})
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        wp = await op.get("/api/v3/work_packages/1")
    assert type(wp) is Resource
    assert (wp.subject, wp.href) == ("x", "/api/v3/work_packages/1")
    [sent] = mock.requests
    assert (sent.method, str(sent.url), sent.body) == (
        "GET",
        f"{BASE}/api/v3/work_packages/1",
        None,
    )
    assert dict(sent.headers) == {
        "Accept": "application/hal+json, application/json",
        "Authorization": BASIC_K,
    }
    assert mock.closed  # the session closes the transport it was given


async def test_json_body_and_query_reach_the_transport_encoded() -> None:
    mock = routes({"/api/v3/x?filters=%5B%5D&notify=false": HttpResponse(204)})
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        got = await op.request(
            "POST", "/api/v3/x", json={"subject": "é"}, params={"filters": [], "notify": False}
        )
    assert got is None
    [sent] = mock.requests
    assert sent.body == '{"subject":"é"}'.encode()
    assert sent.headers["Content-Type"] == "application/json"


async def test_error_documents_become_typed_errors() -> None:
    async with OpenProject(BASE, api_key="k", transport=routes({}), retry=None) as op:
        with pytest.raises(NotFound) as info:
            await op.get("/api/v3/work_packages/9")
    assert info.value.status == 404
    assert info.value.identifier == NOT_FOUND["errorIdentifier"]
    assert info.value.message == NOT_FOUND["message"]


async def test_an_html_page_is_a_protocol_error_with_a_snippet() -> None:
    page = HttpResponse(502, {"Content-Type": "text/html"}, body=b"<html>Bad gateway</html>")
    mock = MockTransport(lambda request: page)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=None) as op:
        with pytest.raises(ProtocolError) as info:
            await op.get("/api/v3")
    assert (info.value.status, info.value.content_type) == (502, "text/html")
    assert info.value.snippet == "<html>Bad gateway</html>"


async def test_a_503_is_retried_and_counted() -> None:
    answers = [HttpResponse(503, {"Retry-After": "0"}), HttpResponse.json(WP)]

    async def handler(request: HttpRequest) -> HttpResponse:  # async handlers work too
        return answers.pop(0)

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock, retry=FAST) as op:
        wp = await op.get("/api/v3/work_packages/1")
        assert op.stats["requests"] == 2
        assert op.stats["retries"] == 1
    assert wp["id"] == 1
    assert [r.url.path for r in mock.requests] == ["/api/v3/work_packages/1"] * 2


async def test_redirect_to_another_origin_goes_without_credentials() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.host == "op.test":
            return HttpResponse(302, {"Location": "https://files.test/wp/1"})
        return HttpResponse.json(WP)

    mock = MockTransport(handler)
    async with OpenProject(BASE, api_key="k", transport=mock, headers={"X-Tenant": "a"}) as op:
        await op.get("/api/v3/work_packages/1")
    first, second = mock.requests
    assert first.headers["Authorization"] == BASIC_K
    assert first.headers["X-Tenant"] == "a"
    assert str(second.url) == "https://files.test/wp/1"
    assert dict(second.headers) == {"Accept": "application/hal+json, application/json"}


async def test_oauth_token_is_fetched_through_the_same_transport_and_renewed_after_401() -> None:
    tokens = iter(["t1", "t2"])
    forms: list[dict[str, list[str]]] = []

    def handler(request: HttpRequest) -> HttpResponse:
        if request.url.path == "/oauth/token":
            forms.append(parse_qs(request.body.decode()))
            return HttpResponse.json(
                {"access_token": next(tokens), "expires_in": 3600}, content_type="application/json"
            )
        if request.headers.get("Authorization") == "Bearer t1":
            return HttpResponse.json(
                {
                    "_type": "Error",
                    "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
                },
                401,
            )
        return HttpResponse.json(WP)

    mock = MockTransport(handler)
    oauth = OAuthClientCredentials("id", "s3cret")
    async with OpenProject(BASE, oauth=oauth, transport=mock) as op:
        await op.get("/api/v3/work_packages/1")
        assert op.stats["reauthentications"] == 1
    assert [(r.method, r.url.path, r.headers.get("Authorization")) for r in mock.requests] == [
        ("POST", "/oauth/token", None),
        ("GET", "/api/v3/work_packages/1", "Bearer t1"),
        ("POST", "/oauth/token", None),
        ("GET", "/api/v3/work_packages/1", "Bearer t2"),
    ]
    assert mock.requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert forms[0] == {
        "grant_type": ["client_credentials"],
        "client_id": ["id"],
        "client_secret": ["s3cret"],
        "scope": ["api_v3"],
    }


async def test_expect_types_the_result_and_refuses_another_kind() -> None:
    mock = routes(
        {
            "/api/v3/work_packages/1": HttpResponse.json(WP),
            "/api/v3/projects/2": HttpResponse.json({"_type": "Project", "id": 2}),
            "/api/v3/work_packages": HttpResponse.json(PAGE),
            "/api/v3/work_packages/3": HttpResponse.json({**WP, "id": 3}),
        }
    )
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        page = await op.get("/api/v3/work_packages", expect=Collection)
        assert page.total == 0
        wp = await op.get("/api/v3/work_packages/1", expect=Resource)
        project = await wp.follow("project", expect=Resource)
        assert project["id"] == 2
        with pytest.raises(UnexpectedResource) as info:
            await op.get("/api/v3/work_packages/1", expect=Collection)
        assert str(info.value) == (
            "GET /api/v3/work_packages/1: expected a Collection, got a Resource (WorkPackage)"
        )
        assert isinstance(info.value, TypeError)
        with pytest.raises(UnexpectedResource, match="expected a Resource, got nothing"):
            await wp.follow("assignee", expect=Resource)
        with pytest.raises(UnexpectedResource, match="got a link array of 1"):
            await wp.follow("children", expect=Resource)
    assert [r.url.path for r in mock.requests] == [
        "/api/v3/work_packages",
        "/api/v3/work_packages/1",
        "/api/v3/projects/2",
        "/api/v3/work_packages/1",
        "/api/v3/work_packages/3",
    ]


async def test_a_handler_must_answer_an_http_response() -> None:
    mock = MockTransport(lambda request: orjson.dumps(WP))  # type: ignore[arg-type,return-value]
    async with OpenProject(BASE, api_key="k", transport=mock) as op:
        with pytest.raises(TypeError, match="returned bytes, not an HttpResponse"):
            await op.get("/api/v3")
    with pytest.raises(TypeError, match="takes a function"):
        MockTransport("not callable")  # type: ignore[arg-type]


def test_transport_and_http_session_are_exclusive() -> None:
    import aiohttp

    with pytest.raises(TypeError, match="either transport= or http_session="):
        OpenProject(
            BASE,
            transport=MockTransport(lambda r: HttpResponse(204)),
            http_session=aiohttp.ClientSession.__new__(aiohttp.ClientSession),
        )
