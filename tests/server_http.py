"""Raw HTTP against FakeOpenProject for the server's own tests (no client library involved)."""

from __future__ import annotations

from typing import Any

from openproject_async.testing import FakeOpenProject


async def call(
    server: FakeOpenProject,
    method: str,
    path: str,
    body: Any = None,
    login: str = "admin",
    **kw: Any,
) -> tuple[int, Any]:
    """(status, decoded JSON answer, or its text when it is not JSON) as ``login``."""
    if body is not None:
        kw["json"] = body
    async with server.http(login) as http, http.request(method, path, **kw) as resp:
        text = await resp.text()
        if resp.content_type.endswith("json") and text:
            return resp.status, await resp.json(content_type=None)
        return resp.status, text
