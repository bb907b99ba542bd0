"""Markdown previews without sockets (``MockTransport``): the exact request, how the text is
given, retries (a preview has no side effects), and which links are previews."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openproject_async import HttpRequest, HttpResponse, OpenProject, RetryPolicy
from openproject_async.errors import URN_PREFIX, APIError
from openproject_async.testing import MockTransport

BASE = "https://op.test"
API = "/api/v3"
BASIC = "Basic " + base64.b64encode(b"apikey:k").decode()
FAST = RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)
HTML = "<p>Some <strong>bold</strong> text</p>"
UNAVAILABLE = {"_type": "Error", "errorIdentifier": URN_PREFIX + "ServiceUnavailable"}


class Renderer:
    """Answers previews with HTML; the first ``failures`` requests get a 503."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self.failures:
            self.failures -= 1
            return HttpResponse.json(UNAVAILABLE, 503, {"Retry-After": "0"})
        return HttpResponse(200, {"Content-Type": "text/html; charset=utf-8"}, body=HTML.encode())


def doc(href: str = f"{API}/render/markdown", method: str = "post") -> dict[str, Any]:
    return {
        "_type": "WorkPackage",
        "id": 42,
        "_links": {
            "self": {"href": f"{API}/work_packages/42"},
            "previewMarkup": {"href": href, "method": method},
        },
    }


@pytest.fixture
async def renderer() -> AsyncIterator[tuple[Renderer, OpenProject]]:
    server = Renderer()
    async with OpenProject(BASE, api_key="k", retry=FAST, transport=server.transport) as op:
        yield server, op


async def test_the_text_goes_as_text_plain(renderer: tuple[Renderer, OpenProject]) -> None:
    server, op = renderer
    wp = op.wrap(doc(f"{API}/render/markdown?context={API}/work_packages/42"))
    assert await wp.previewMarkup("Grüße **bold**") == HTML
    assert await wp.previewMarkup(text="x", params={"extra": 1}) == HTML
    first, second = server.transport.requests
    assert (first.method, str(first.url), first.body) == (
        "POST",
        f"{BASE}{API}/render/markdown?context={API}/work_packages/42",
        "Grüße **bold**".encode(),
    )
    assert dict(first.headers) == {
        "Accept": "text/html, application/hal+json;q=0.9, application/json;q=0.8",
        "Content-Type": "text/plain; charset=utf-8",
        "Authorization": BASIC,
    }
    assert second.url.query_string == f"context={API}/work_packages/42&extra=1"
    assert second.body == b"x"


async def test_plain_render_links_are_previews_too(renderer: tuple[Renderer, OpenProject]) -> None:
    server, op = renderer
    wp = op.wrap(doc(f"{API}/render/plain/"))
    assert await wp.previewMarkup("x") == HTML
    assert server.transport.requests[0].body == b"x"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a", "b"), {}),
        (("a",), {"text": "b"}),
        ((), {"txt": "a"}),
        ((), {"text": "a", "x": 1}),
    ],
)
async def test_one_text_exactly(
    renderer: tuple[Renderer, OpenProject], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    server, op = renderer
    with pytest.raises(TypeError) as info:
        await op.wrap(doc()).previewMarkup(*args, **kwargs)
    assert str(info.value) == (
        "'previewMarkup' renders one text: call it as previewMarkup('some *markdown*') or "
        "with text="
    )
    assert server.transport.requests == []


@pytest.mark.parametrize(("text", "name"), [(b"bytes", "bytes"), (None, "NoneType")])
async def test_the_text_must_be_a_str(
    renderer: tuple[Renderer, OpenProject], text: Any, name: str
) -> None:
    server, op = renderer
    with pytest.raises(TypeError) as info:
        await op.wrap(doc()).previewMarkup(text)
    assert str(info.value) == f"'previewMarkup' renders a str, got {name}"
    with pytest.raises(TypeError):
        await op.wrap(doc()).previewMarkup(text=text)
    assert server.transport.requests == []


async def test_a_preview_is_retried_unless_asked_not_to() -> None:
    server = Renderer(failures=1)
    async with OpenProject(BASE, api_key="k", retry=FAST, transport=server.transport) as op:
        assert await op.wrap(doc()).previewMarkup("x") == HTML
        assert len(server.transport.requests) == 2
        server.failures = 1
        with pytest.raises(APIError, match=r"^503 ServiceUnavailable"):
            await op.wrap(doc()).previewMarkup("x", retry=False)
        assert len(server.transport.requests) == 3


async def test_the_timeout_is_passed_on(renderer: tuple[Renderer, OpenProject]) -> None:
    server, op = renderer
    await op.wrap(doc()).previewMarkup("x", timeout=7)
    assert server.transport.requests[0].timeout.total == 7


@pytest.mark.parametrize(
    ("href", "method"),
    [(f"{API}/render/markdown", "get"), (f"{API}/render/textile", "post")],
)
async def test_other_links_are_plain_actions(
    renderer: tuple[Renderer, OpenProject], href: str, method: str
) -> None:
    _server, op = renderer
    with pytest.raises(TypeError) as info:
        await op.wrap(doc(href, method)).action("previewMarkup", "x")
    assert str(info.value) == "'previewMarkup' takes keyword arguments only"
