"""Messages and checks that get a new user unstuck (issue: a library people enjoy).

Hrefs without a leading slash, explicit ``api_key=None``, auth arguments swapped, a
session used across event loops, and typos in attribute, property and field names.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from yarl import URL

from openproject_async import (
    ActionUnavailable,
    HttpRequest,
    HttpResponse,
    OAuthClientCredentials,
    OpenProject,
    Unauthenticated,
    WrongEventLoop,
)
from openproject_async._config import resolve_href
from openproject_async.testing import FakeOpenProject, MockTransport

API_KEY_SHAPED = "a" * 40 + "0123456789abcdef0123456789ab"[:24]  # 64 hex digits
JWT_SHAPED = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
UNAUTHENTICATED = {
    "_type": "Error",
    "errorIdentifier": "urn:openproject-org:api:v3:errors:Unauthenticated",
    "message": "You did not provide the correct credentials.",
}


@pytest.mark.parametrize(
    ("base", "href", "url"),
    [
        ("https://op.test", "work_packages/1", "https://op.test/api/v3/work_packages/1"),
        (
            "https://op.test",
            "work_packages?pageSize=2",
            "https://op.test/api/v3/work_packages?pageSize=2",
        ),
        ("https://op.test", "api/v3/projects/1", "https://op.test/api/v3/projects/1"),
        ("https://op.test", "api/v3", "https://op.test/api/v3"),
        ("https://op.test", "/api/v3/x", "https://op.test/api/v3/x"),
        ("https://op.test", "/oauth/token", "https://op.test/oauth/token"),
        ("https://op.test", "//cdn.test/a", "https://cdn.test/a"),
        ("https://op.test/sub", "work_packages/1", "https://op.test/sub/api/v3/work_packages/1"),
        ("https://op.test/sub", "/api/v3/x?f=%5B%5D", "https://op.test/sub/api/v3/x?f=%5B%5D"),
        ("https://op.test/sub", "/sub/api/v3/x", "https://op.test/sub/api/v3/x"),
        ("https://op.test/sub", "/x", "https://op.test/x"),
        ("https://op.test/sub", "/api/v3", "https://op.test/sub/api/v3"),
        ("https://op.test/sub", "/api/v3x", "https://op.test/api/v3x"),
        ("https://op.test/a/b", "work_packages/1", "https://op.test/a/b/api/v3/work_packages/1"),
        ("https://op.test/a/b", "api/v3", "https://op.test/a/b/api/v3"),
        ("https://op.test", "work_packages/1#f", "https://op.test/api/v3/work_packages/1#f"),
        ("https://op.test", "", "https://op.test"),
    ],
)
def test_hrefs_resolve_under_the_server_and_its_api_root(base: str, href: str, url: str) -> None:
    assert str(resolve_href(href, URL(base))) == url


async def test_a_relative_href_reaches_the_api_root_on_the_wire() -> None:
    async with FakeOpenProject(seed_size=2) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wp = await op.get("work_packages/1")
        assert wp["id"] == 1
        assert [r.path for r in server.requests] == ["/api/v3/work_packages/1"]


def test_an_explicit_none_credential_needs_anonymous() -> None:
    with pytest.raises(ValueError, match="no credential given") as info:
        OpenProject("https://op.test", api_key=None)
    assert str(info.value) == (
        "api_key=None: no credential given (an unset environment variable?); pass the key, "
        "or anonymous=True for a session without credentials"
    )
    with pytest.raises(ValueError, match=r"^token=None: "):
        OpenProject("https://op.test", token=None)
    assert OpenProject("https://op.test", api_key=None, anonymous=True).auth is None
    assert OpenProject("https://op.test").auth is None  # no credential argument at all
    assert OpenProject("https://op.test", api_key=None, token="t").auth is not None
    for given in ({"api_key": "k"}, {"token": "t"}, {"oauth": OAuthClientCredentials("i", "s")}):
        name = next(iter(given))
        with pytest.raises(TypeError) as both:
            OpenProject("https://op.test", anonymous=True, **given)  # type: ignore[arg-type]
        assert str(both.value) == f"anonymous=True and {name}= contradict each other: give one"
    with pytest.raises(TypeError) as two:
        OpenProject("https://op.test", api_key="k", token="t")
    assert str(two.value) == "give at most one of api_key=, token=, oauth=, auth="


def test_a_malformed_href_is_named() -> None:
    from openproject_async import InvalidHref

    with pytest.raises(InvalidHref) as info:
        resolve_href("http://[not-an-ip", URL("https://op.test"))
    assert str(info.value) == "malformed href 'http://[not-an-ip'"


def refusing() -> MockTransport:
    return MockTransport(lambda request: HttpResponse.json(UNAUTHENTICATED, 401))


async def test_a_401_with_an_api_key_given_as_token_says_which_argument() -> None:
    async with OpenProject("https://op.test", token=API_KEY_SHAPED, transport=refusing()) as op:
        with pytest.raises(Unauthenticated) as info:
            await op.get("/api/v3")
    assert str(info.value) == (
        "401 Unauthenticated: You did not provide the correct credentials.; hint: this token "
        "looks like an API key (hex, no 'opapi-' prefix); pass it as api_key= (sent as Basic "
        "auth with the user 'apikey')"
    )
    assert API_KEY_SHAPED not in str(info.value)


async def test_a_401_with_a_jwt_given_as_api_key_says_which_argument() -> None:
    mock = refusing()
    async with OpenProject("https://op.test", api_key=JWT_SHAPED, transport=mock) as op:
        with pytest.raises(Unauthenticated, match="pass it as token= "):
            await op.get("/api/v3")
    sent = mock.requests[0].headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"apikey:{JWT_SHAPED}".encode()).decode()


async def test_no_hint_for_credentials_of_the_right_shape() -> None:
    async with OpenProject("https://op.test", token="opapi-x1", transport=refusing()) as op:
        with pytest.raises(Unauthenticated) as info:
            await op.get("/api/v3")
    assert "hint" not in str(info.value)


def test_a_session_used_in_a_second_event_loop_says_so() -> None:
    mock = MockTransport(lambda request: HttpResponse.json({"_type": "Root"}))
    op = OpenProject("https://op.test", api_key="k", transport=mock)
    assert asyncio.run(op.root()).resource_type == "Root"
    with pytest.raises(WrongEventLoop) as info:
        asyncio.run(op.root())
    assert isinstance(info.value, RuntimeError)
    assert str(info.value).startswith(
        "this OpenProject session started in another event loop (now closed): "
    )
    assert len(mock.requests) == 1  # the second call sent nothing


async def test_typos_get_did_you_mean() -> None:
    def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(
            {
                "_type": "WorkPackage",
                "id": 1,
                "subject": "x",
                "_links": {
                    "self": {"href": "/api/v3/work_packages/1"},
                    "addWatcher": {"href": "/api/v3/work_packages/1/watchers", "method": "post"},
                },
            }
        )

    async with OpenProject("https://op.test", api_key="k", transport=MockTransport(handler)) as op:
        wp = await op.get("/api/v3/work_packages/1")
        with pytest.raises(AttributeError) as attr:
            _ = wp.subjet
        assert isinstance(attr.value, ActionUnavailable)
        assert str(attr.value) == (
            "WorkPackage #1 has neither a property nor a link 'subjet'; did you mean "
            "'subject'?; actions: addWatcher; relations: self"
        )
        with pytest.raises(
            ActionUnavailable, match=r"has no link 'addWatchers': .*did you mean 'addWatcher'"
        ):
            await wp.action("addWatchers")
        with pytest.raises(KeyError) as key:
            wp["Subject"]
        assert "has no property 'Subject'; did you mean 'subject'?" in str(key.value)
