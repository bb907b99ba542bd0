"""Non-form writes, request by request: multipart upload on a real socket, action bodies.

A small aiohttp app records what arrives (headers and parts matter, so no mocks for the
upload); the JSON bodies of the other actions are checked with aioresponses.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from yarl import URL

from openproject_async import OpenProject
from openproject_async.errors import ActionUnavailable, UpdateConflict

from .docs import error, link, user, work_package

BASE = "https://op.example.com"
API = "/api/v3"
HAL = "application/hal+json"


# -- attachment upload on a real socket ------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.uploads: list[dict[str, Any]] = []
        self.count = 0

    async def work_package(self, request: web.Request) -> web.Response:
        return web.json_response(work_package(embed=False) | _attachable(request))

    async def upload(self, request: web.Request) -> web.Response:
        self.count += 1
        if self.count == 1 and request.query.get("fail") == "once":
            return web.json_response(error("InternalServerError", "boom"), status=500)
        parts: list[dict[str, Any]] = []
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            parts.append(
                {
                    "name": part.name,
                    "filename": part.filename,
                    "content_type": part.headers.get("Content-Type"),
                    "data": await part.read(),
                }
            )
        self.uploads.append(
            {
                "content_type": request.headers.get("Content-Type", ""),
                "query": dict(request.query),
                "parts": parts,
            }
        )
        meta = orjson.loads(parts[0]["data"])
        return web.json_response(
            {
                "_type": "Attachment",
                "id": 7,
                "fileName": meta["fileName"],
                "fileSize": len(parts[1]["data"]),
                "_links": {"self": link(f"{API}/attachments/7")},
            },
            status=201,
        )


def _attachable(request: web.Request) -> dict[str, Any]:
    query = "?fail=once" if request.query.get("fail") else ""
    doc = work_package(embed=False)
    doc["_links"]["addAttachment"] = link(
        f"{API}/work_packages/42/attachments{query}", method="post"
    )
    return {"_links": doc["_links"]}


@pytest.fixture
async def upload_server() -> AsyncIterator[tuple[TestServer, Recorder]]:
    rec = Recorder()
    app = web.Application()
    app.router.add_get(f"{API}/work_packages/42", rec.work_package)
    app.router.add_post(f"{API}/work_packages/42/attachments", rec.upload)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, rec
    finally:
        await server.close()


async def test_upload_sends_metadata_then_file(
    upload_server: tuple[TestServer, Recorder], tmp_path: Path
) -> None:
    server, rec = upload_server
    path = tmp_path / "diagram.png"
    path.write_bytes(b"\x89PNG fake image \r\n--not-a-boundary")
    async with OpenProject(str(server.make_url("")), api_key="k") as op:
        wp = await op.get(f"{API}/work_packages/42")
        att = await wp.addAttachment(path, description="The *plan*", notify=False)
        assert att.resource_type == "Attachment"
        assert att.fileName == "diagram.png"
        raw = await wp.addAttachment(b"hello", file_name="notes.txt")
        assert raw.fileSize == 5
        with io.BytesIO(b"\x00\x01") as fh:
            await wp.addAttachment(fh, file_name='Übersicht "v2".bin', content_type="x/y")
    first, second, third = rec.uploads
    assert first["content_type"].startswith("multipart/form-data; boundary=")
    assert first["query"] == {"notify": "false"}
    assert [p["name"] for p in first["parts"]] == ["metadata", "file"]
    meta, file = first["parts"]
    assert meta["content_type"] == "application/json"
    assert orjson.loads(meta["data"]) == {
        "fileName": "diagram.png",
        "description": {"raw": "The *plan*"},
    }
    assert file["filename"] == "diagram.png"
    assert file["content_type"] == "image/png"
    assert file["data"] == path.read_bytes()
    assert orjson.loads(second["parts"][0]["data"]) == {"fileName": "notes.txt"}
    assert second["parts"][1]["content_type"] == "text/plain"
    assert second["parts"][1]["data"] == b"hello"
    assert orjson.loads(third["parts"][0]["data"])["fileName"] == 'Übersicht "v2".bin'
    assert third["parts"][1]["content_type"] == "x/y"
    assert third["parts"][1]["data"] == b"\x00\x01"


async def test_upload_is_never_retried_by_itself(
    upload_server: tuple[TestServer, Recorder],
) -> None:
    server, rec = upload_server
    async with OpenProject(str(server.make_url("")), api_key="k") as op:
        wp = await op.get(f"{API}/work_packages/42", fail="once")
        with pytest.raises(Exception, match="boom"):
            await wp.addAttachment(b"x", file_name="x.txt")
    assert rec.count == 1  # the 500 was not followed by a second upload
    assert rec.uploads == []


async def test_upload_needs_a_name_for_bytes_and_a_binary_source(
    upload_server: tuple[TestServer, Recorder],
) -> None:
    server, rec = upload_server
    async with OpenProject(str(server.make_url("")), api_key="k") as op:
        wp = await op.get(f"{API}/work_packages/42")
        with pytest.raises(TypeError, match="file_name="):
            await wp.addAttachment(b"x")
        with pytest.raises(TypeError, match="binary mode"):
            await wp.addAttachment(io.StringIO("text"), file_name="a.txt")
        with pytest.raises(TypeError, match="bytes, a path"):
            await wp.addAttachment(12, file_name="a.txt")
        with pytest.raises(TypeError, match="keyword arguments only"):
            await wp.addComment("positional")
    assert rec.count == 0


# -- JSON bodies of the other actions ---------------------------------------------------------


def calls(m: aioresponses, method: str, url: str) -> list[Any]:
    return m.requests.get((method, URL(url)), [])


def wp_doc(**extra_links: Any) -> dict[str, Any]:
    doc = work_package(embed=False)
    doc["_links"].update(extra_links)
    return doc


async def test_remove_watcher_by_resource_sends_no_body(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = op.wrap(wp_doc())
    url = f"{BASE}{API}/work_packages/42/watchers/7"
    mocked.delete(url, status=204, repeat=True)
    assert await wp.removeWatcher(user=op.wrap(user(7))) is None
    assert await wp.removeWatcher(user=f"{API}/users/7") is None
    assert await wp.removeWatcher(user=7) is None
    assert [c.kwargs["data"] for c in calls(mocked, "DELETE", url)] == [None, None, None]


async def test_add_watcher_by_href_id_or_resource(mocked: aioresponses, op: OpenProject) -> None:
    wp = op.wrap(wp_doc())
    url = f"{BASE}{API}/work_packages/42/watchers"
    mocked.post(url, payload=user(7), status=201, content_type=HAL, repeat=True)
    await wp.addWatcher(user=f"{API}/users/7")
    await wp.addWatcher(user=7)
    await wp.addWatcher(user_id=7)
    bodies = [orjson.loads(c.kwargs["data"]) for c in calls(mocked, "POST", url)]
    assert bodies == [{"user": {"href": f"{API}/users/7"}}] * 3


async def test_relation_to_href_and_snake_case_keys(mocked: aioresponses, op: OpenProject) -> None:
    wp = op.wrap(wp_doc())
    url = f"{BASE}{API}/work_packages/42/relations"
    mocked.post(url, payload={"_type": "Relation", "id": 1}, status=201, content_type=HAL)
    await wp.addRelation(to=f"{API}/work_packages/7", type="precedes", lag=0, description="d")
    assert orjson.loads(calls(mocked, "POST", url)[0].kwargs["data"]) == {
        "type": "precedes",
        "lag": 0,
        "description": "d",
        "_links": {"to": {"href": f"{API}/work_packages/7"}},
    }


async def test_patch_to_itself_carries_lock_version(mocked: aioresponses, op: OpenProject) -> None:
    wp = op.wrap(wp_doc())
    url = f"{BASE}{API}/work_packages/42"
    mocked.patch(url, payload=work_package(lock=4, embed=False), content_type=HAL)
    mocked.patch(url, payload=error("UpdateConflict", "changed"), status=409, content_type=HAL)
    await wp.updateImmediately(subject="x", due_date=dt.date(2025, 1, 31))
    with pytest.raises(UpdateConflict):
        await wp.updateImmediately(subject="y", lock_version=1)
    bodies = [orjson.loads(c.kwargs["data"]) for c in calls(mocked, "PATCH", url)]
    assert bodies == [
        {"subject": "x", "dueDate": "2025-01-31", "lockVersion": 3},
        {"subject": "y", "lockVersion": 1},
    ]


async def test_custom_action_by_title_sends_lock_version(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = op.wrap(
        wp_doc(
            customActions=[
                link(f"{API}/custom_actions/1", title="Reset"),
                link(f"{API}/custom_actions/2", title="Close"),
            ]
        )
    )
    mocked.get(
        f"{BASE}{API}/custom_actions/2",
        payload={
            "_type": "CustomAction",
            "name": "Close",
            "_links": {
                "self": link(f"{API}/custom_actions/2", title="Close"),
                "executeImmediately": link(f"{API}/custom_actions/2/execute", method="post"),
            },
        },
        content_type=HAL,
    )
    url = f"{BASE}{API}/custom_actions/2/execute"
    mocked.post(url, payload=work_package(lock=4, embed=False), content_type=HAL)
    updated = await wp.execute_custom_action("close")
    assert updated.lockVersion == 4
    assert orjson.loads(calls(mocked, "POST", url)[0].kwargs["data"]) == {
        "lockVersion": 3,
        "_links": {"workPackage": {"href": f"{API}/work_packages/42"}},
    }
    with pytest.raises(ActionUnavailable, match="Reset, Close"):
        await wp.execute_custom_action("Escalate")
