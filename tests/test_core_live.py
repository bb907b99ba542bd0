"""The core API (issue 2) against the in-process server: real HTTP, real documents."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from openproject_async import Collection, OpenProject, Resource
from openproject_async.errors import (
    ActionUnavailable,
    MissingPermission,
    NotAnAPIResource,
    NotFound,
    Unauthenticated,
)
from openproject_async.testing import FakeOpenProject


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=40) as srv:
        yield srv


async def test_root_get_properties_and_links(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_key) as op:
        root = await op.root()
        assert root.resource_type == "Root"
        me = await root.follow("user")
        assert me.login == "admin"
        wp = await op.get("/api/v3/work_packages/1")
        assert wp.id == wp["id"] == 1
        assert wp.subject == server.work_package(1).subject
        assert wp.links["project"].title == "Demo project"  # type: ignore[union-attr]
        assert repr(wp) == "<WorkPackage #1 /api/v3/work_packages/1>"


async def test_follow_embedded_costs_no_request_and_arrays_keep_order(
    server: FakeOpenProject,
) -> None:
    async with OpenProject(server.url, api_key=server.api_key) as op:
        wp = await op.get("/api/v3/work_packages/1")
        server.clear_requests()
        project = await wp.follow("project")
        status = await wp.follow("status")
        assert (project.identifier, status.name) == ("demo", server.store.statuses[2].name)
        assert server.requests == []
        kids = await wp.follow("children")
        expected = [lk.href for lk in wp.links["children"]]  # type: ignore[union-attr]
        assert [k.href for k in kids] == expected
        assert len(server.requests) == len(expected)
        assert await wp.follow("parent") is None  # href null
        with pytest.raises(NotAnAPIResource):
            await wp.follow("move")


async def test_follow_with_query_parameters(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_key) as op:
        root = await op.root()
        wps = await root.follow(
            "workPackages",
            filters=[{"project": {"operator": "=", "values": ["2"]}}],
            sortBy=[["id", "desc"]],
            pageSize=5,
        )
        assert isinstance(wps, Collection)
        assert wps.page_size == 5
        ids = [e.id for e in wps.elements]
        assert ids == sorted(ids, reverse=True)
        assert {e.links["project"].href for e in wps.elements} == {"/api/v3/projects/2"}  # type: ignore[union-attr]
        request = server.requests[-1]
        assert '"project"' in request.query
        assert "sortBy" in request.query


async def test_actions_appear_by_permission(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_keys["reader"]) as op:
        wp = await op.get("/api/v3/work_packages/1")
        assert not wp.can("update")
        assert not wp.can("delete")
        with pytest.raises(ActionUnavailable, match="not permitted") as info:
            await wp.delete()
        assert "watch" in info.value.actions
        with pytest.raises(MissingPermission):  # visible, but not writable: 403
            await op.request("PATCH", "/api/v3/work_packages/1", json={"lockVersion": 0})
        with pytest.raises(NotFound):  # the secret project is invisible: 404
            await op.get("/api/v3/projects/secret")
    async with OpenProject(server.url, api_key=server.api_key) as op:
        wp = await op.get("/api/v3/work_packages/1")
        assert wp.can("update")
        assert wp.can("delete")


async def test_watchers_templated_payload_and_delete(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_key) as op:
        wp = await op.get("/api/v3/work_packages/1")
        quinn = await op.get(f"/api/v3/users/{server.users['quinn']}")
        added = await wp.addWatcher(user=quinn)
        assert added.id == quinn.id
        watchers = await op.get(f"{wp.href}/watchers")
        assert quinn.id in [w.id for w in watchers.elements]
        assert await wp.removeWatcher(user_id=quinn.id) is None
        watchers = await op.get(f"{wp.href}/watchers")
        assert quinn.id not in [w.id for w in watchers.elements]
        server.clear_requests()
        assert await wp.delete() is None
        assert server.requests[0].method == "DELETE"
        assert server.requests[0].headers["Content-Type"].startswith("application/json")
        with pytest.raises(NotFound):
            await op.get("/api/v3/work_packages/1")


async def test_credentials_and_401(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, token=server.api_token) as op:
        assert (await (await op.root()).follow("user")).login == "admin"
    async with OpenProject(server.url, api_key="wrong") as op:
        with pytest.raises(Unauthenticated) as info:
            await op.root()
        assert info.value.status == 401
        assert "wrong" not in str(info.value)


async def test_sub_path_deployment() -> None:
    async with FakeOpenProject(seed_size=5, base_path="/openproject") as server:
        assert server.url.endswith("/openproject")
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wp = await op.get("/api/v3/work_packages/1")  # typed without the prefix
            assert wp.href.startswith("/openproject/api/v3/")  # type: ignore[union-attr]
            project = await wp.follow("project")
            assert isinstance(project, Resource)
            type_ = await op.get(wp.links["type"].href)  # type: ignore[union-attr, arg-type]
            assert type_.resource_type == "Type"
            assert all(r.path.startswith("/openproject/") for r in server.requests)
