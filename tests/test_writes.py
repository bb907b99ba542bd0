"""Writes through links against the in-process fake server: watchers, comments, relations,
attachments, custom actions, deletes, and that a create is never sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openproject_async import OpenProject, Resource
from openproject_async.errors import (
    ActionUnavailable,
    NotFound,
    OutcomeUnknown,
    UpdateConflict,
)
from openproject_async.testing import FakeOpenProject, Fault

API = "/api/v3"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=20) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as session:
        yield session


def statuses(server: FakeOpenProject, method: str, path: str) -> list[int]:
    return [r.status for r in server.requests if r.method == method and r.path == path]


async def test_watchers_201_200_204(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/1")
    dana = await op.get(f"{API}/users/4")
    watchers_path = f"{API}/work_packages/1/watchers"
    await wp.removeWatcher(user=dana)  # start from "not watching"
    server.clear_requests()
    added = await wp.addWatcher(user=dana)
    again = await wp.addWatcher(user_id=4)  # already watching: 200, same user
    assert added.id == again.id == 4
    assert statuses(server, "POST", watchers_path) == [201, 200]
    assert [r.json() for r in server.requests if r.method == "POST"] == [
        {"user": {"href": f"{API}/users/4"}}
    ] * 2
    watchers = await op.get(f"{API}/work_packages/1/watchers")
    assert 4 in [u.id for u in watchers.elements]
    assert await wp.removeWatcher(user=dana) is None
    assert await wp.removeWatcher(user=dana) is None  # not watching any more: still 204
    assert statuses(server, "DELETE", f"{watchers_path}/4") == [204, 204]
    watchers = await op.get(f"{API}/work_packages/1/watchers")
    assert 4 not in [u.id for u in watchers.elements]


async def test_watch_and_unwatch_toggle(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/5")
    if wp.can("unwatch"):
        await wp.unwatch()
        wp = await wp.refresh()
    assert wp.can("watch")
    assert not wp.can("unwatch")
    me = await wp.watch()
    assert me.login == "member"
    wp = await wp.refresh()
    assert wp.can("unwatch")
    assert not wp.can("watch")
    assert await wp.unwatch() is None
    assert not (await wp.refresh()).can("unwatch")


async def test_comment_is_a_formattable_and_notify_false(
    server: FakeOpenProject, op: OpenProject
) -> None:
    wp = await op.get(f"{API}/work_packages/2")
    server.clear_requests()
    activity = await wp.addComment(comment="Looks *good*", internal=False, notify=False)
    assert activity.comment["raw"] == "Looks *good*"
    request = server.requests[-1]
    assert (request.status, request.query) == (201, "notify=false")
    assert request.json() == {"comment": {"raw": "Looks *good*"}, "internal": False}
    assert server.store.notifications_suppressed == 1
    activities = await (await wp.refresh()).follow("activities")
    assert activities.elements[-1].comment["raw"] == "Looks *good*"


async def test_relation_to_another_work_package(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/2")
    other = await op.get(f"{API}/work_packages/5")
    relation = await wp.addRelation(to=other, type="follows", lag=2, description="after 5")
    assert (relation.type, relation.lag, relation.description) == ("follows", 2, "after 5")
    assert relation.links["to"].href == f"{API}/work_packages/5"
    assert server.requests[-1].json() == {
        "type": "follows",
        "lag": 2,
        "description": "after 5",
        "_links": {"to": {"href": f"{API}/work_packages/5"}},
    }
    listed = await (await wp.refresh()).follow("relations")  # embedded in a fresh copy
    assert [r.id for r in listed.elements] == [relation.id]


async def test_attachment_upload(server: FakeOpenProject, op: OpenProject, tmp_path: Path) -> None:
    wp = await op.get(f"{API}/work_packages/2")
    path = tmp_path / "plan.pdf"
    path.write_bytes(b"%PDF-1.4 fake\r\n--boundary-lookalike\r\n")
    server.clear_requests()
    attachment = await wp.addAttachment(path, description="The *plan*")
    assert attachment.fileName == "plan.pdf"
    stored = server.store.attachments[attachment.id]
    assert stored.content == path.read_bytes()
    assert (stored.content_type, stored.description) == ("application/pdf", "The *plan*")
    assert server.requests[-1].headers["Content-Type"].startswith("multipart/form-data")
    named = await wp.addAttachment(b"a,b\n1,2\n", file_name="data.csv", content_type="text/csv")
    assert server.store.attachments[named.id].content_type == "text/csv"
    listed = await (await wp.refresh()).follow("attachments")
    assert {a.fileName for a in listed.elements} == {"plan.pdf", "data.csv"}


async def test_custom_actions(server: FakeOpenProject, op: OpenProject) -> None:
    wp = await op.get(f"{API}/work_packages/2")
    closed = await wp.execute_custom_action("Close")
    assert closed.links["status"].title == "Closed"
    assert closed.lockVersion == wp.lockVersion + 1
    # the stale copy conflicts; retry_conflicts re-reads and runs the action again
    with pytest.raises(UpdateConflict):
        await wp.execute_custom_action("Reset")
    reset = await wp.execute_custom_action("reset", retry_conflicts=1)
    assert reset.links["status"].title == "New"
    assert reset.links["assignee"].href is None
    # by resource, from the CustomAction's side
    action = await op.get(f"{API}/custom_actions/2")
    again = await action.executeImmediately(work_package=reset)
    assert again.links["status"].title == "Closed"
    with pytest.raises(ActionUnavailable, match="Reset, Close"):
        await again.execute_custom_action("Escalate")


async def test_delete_then_not_found(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_keys["admin"]) as admin:
        wp = await admin.get(f"{API}/work_packages/6")
        assert await wp.delete() is None
        assert statuses(server, "DELETE", f"{API}/work_packages/6") == [204]
        with pytest.raises(NotFound):
            await wp.refresh()


async def test_a_create_is_never_sent_twice(server: FakeOpenProject, op: OpenProject) -> None:
    project: Resource = await op.get(f"{API}/projects/1")
    before = len(server.store.work_packages)
    create_path = f"{API}/projects/1/work_packages"
    server.faults.add(Fault("drop_after", times=1, method="POST", path=f"{create_path}$"))
    server.clear_requests()
    with pytest.raises(OutcomeUnknown):
        await project.submit("createWorkPackage", subject="Only once", type="Task")
    assert [r.path for r in server.requests].count(create_path) == 1
    assert len(server.store.work_packages) == before + 1  # it did land, once


async def test_form_requests_are_retried_creates_are_not(
    server: FakeOpenProject, op: OpenProject
) -> None:
    project: Resource = await op.get(f"{API}/projects/1")
    form_path = f"{API}/projects/1/work_packages/form"
    server.faults.add(Fault("status", times=1, method="POST", path="/form$", status=503))
    server.clear_requests()
    wp: Any = await project.submit("createWorkPackage", subject="After a 503", type="Task")
    assert wp.subject == "After a 503"
    assert statuses(server, "POST", form_path)[:2] == [503, 200]
