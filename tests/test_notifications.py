"""``openproject_async.notifications`` against the built-in server's notifications."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from openproject_async import NotFound, OpenProject, ProtocolError, notifications
from openproject_async.testing import FakeOpenProject

API = "/api/v3"
TAG = '<mention class="mention" data-id="{id}" data-type="user" data-text="@x">@x</mention>'


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=20) as fake:
        yield fake


async def comment(server: FakeOpenProject, login: str, wp_id: int, text: str) -> int:
    async with OpenProject(server.url, api_key=server.api_keys[login]) as op:
        wp = await op.get(f"{API}/work_packages/{wp_id}")
        activity = await wp.addComment(comment=text)
        return int(activity["id"])


async def test_a_mention_notifies_the_mentioned_user(server: FakeOpenProject) -> None:
    dana, reader = server.users["dana"], server.users["reader"]
    activity_id = await comment(
        server,
        "member",
        1,
        f'{TAG.format(id=dana)} and user#{reader} and user:"admin", user#{server.users["member"]}',
    )
    # the author is not notified of her own mention; the others are
    got = sorted((n.recipient_id, n.reason, n.activity_id) for n in server.notifications.values())
    assert got == sorted(
        [
            (dana, "mentioned", activity_id),
            (reader, "mentioned", activity_id),
            (1, "mentioned", activity_id),
        ]
    )
    async with OpenProject(server.url, api_key=server.api_keys["dana"]) as op:
        server.clear_requests()
        items = [n async for n in notifications.unread(op)]
        assert [n["reason"] for n in items] == ["mentioned"]
        (n,) = items
        assert n["readIAN"] is False
        assert n.links["readIAN"].href == f"{API}/notifications/{n['id']}/read_ian"
        assert "unreadIAN" not in n.links
        wp = await n.follow("resource")  # embedded: no request
        assert (wp.resource_type, wp["id"]) == ("WorkPackage", 1)
        actor = await n.follow("actor")
        assert actor["name"] == "Mia Member"
        (request,) = server.requests
        assert request.path == f"{API}/notifications"
        assert json.loads(parse_qs(request.query)["filters"][0]) == [
            {"readIAN": {"operator": "=", "values": ["f"]}}
        ]


async def test_only_visible_work_packages_notify(server: FakeOpenProject) -> None:
    secret_wp = server.create_work_package(subject="Hidden", project_id=3)
    await comment(server, "admin", secret_wp, TAG.format(id=server.users["member"]))
    assert list(server.notifications.values()) == []


async def test_mark_one_read_and_unread_through_its_links(server: FakeOpenProject) -> None:
    await comment(server, "member", 1, f"user#{server.users['dana']}")
    async with OpenProject(server.url, api_key=server.api_keys["dana"]) as op:
        (n,) = [n async for n in notifications.unread(op)]
        server.clear_requests()
        await notifications.mark_read(op, n)
        assert [(r.method, r.path, r.status) for r in server.requests] == [
            ("POST", f"{API}/notifications/{n['id']}/read_ian", 204)
        ]
        assert server.notifications[n["id"]].read_ian is True
        assert [x async for x in notifications.unread(op)] == []
        (read,) = [x async for x in notifications.list_notifications(op, read=True)]
        assert read["readIAN"] is True
        assert "readIAN" not in read.links
        server.clear_requests()
        await notifications.mark_read(op, read)  # already read: nothing to do
        assert server.requests == []
        await notifications.mark_unread(op, read)
        assert [(r.method, r.path) for r in server.requests] == [
            ("POST", f"{API}/notifications/{n['id']}/unread_ian")
        ]
        assert server.notifications[n["id"]].read_ian is False


async def test_mark_many_with_one_bulk_request(server: FakeOpenProject) -> None:
    dana = server.users["dana"]
    for wp_id in (1, 2, 3):
        await comment(server, "member", wp_id, f"user#{dana}")
    async with OpenProject(server.url, api_key=server.api_keys["dana"]) as op:
        items = [n async for n in notifications.unread(op)]
        assert [n["id"] for n in items] == [3, 2, 1]  # newest first
        server.clear_requests()
        await notifications.mark_read(op, [items[0], 1])
        (bulk,) = server.requests
        assert (bulk.method, bulk.path, bulk.status) == (
            "POST",
            f"{API}/notifications/read_ian",
            204,
        )
        assert json.loads(parse_qs(bulk.query)["filters"][0]) == [
            {"id": {"operator": "=", "values": ["3", "1"]}}
        ]
        assert {i: n.read_ian for i, n in server.notifications.items()} == {
            1: True,
            2: False,
            3: True,
        }
        mentioned = [{"reason": {"operator": "=", "values": ["mentioned"]}}]
        await notifications.mark_unread(op, filters=mentioned)
        assert not any(n.read_ian for n in server.notifications.values())
        await notifications.mark_read(op, filters=[])
        assert all(n.read_ian for n in server.notifications.values())
        with pytest.raises(TypeError, match="filters=\\[\\] marks all of them"):
            await notifications.mark_read(op)
        with pytest.raises(TypeError, match="not both"):
            await notifications.mark_read(op, [1], filters=[])
        server.clear_requests()
        await notifications.mark_read(op, [])
        assert server.requests == []


async def test_notifications_are_private(server: FakeOpenProject) -> None:
    await comment(server, "member", 1, f"user#{server.users['dana']}")
    (item,) = server.notifications.values()
    async with OpenProject(server.url, api_key=server.api_keys["reader"]) as op:
        assert [n async for n in notifications.unread(op)] == []
        with pytest.raises(NotFound):
            await op.get(f"{API}/notifications/{item.id}")
        await notifications.mark_read(op, filters=[])  # marks the reader's own: none
    assert item.read_ian is False


async def test_a_notification_without_its_link_is_refused(server: FakeOpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_key) as op:
        odd = op.wrap({"_type": "Notification", "id": 9, "_links": {}})
        with pytest.raises(ProtocolError, match="has neither its readIAN link nor readIAN=True"):
            await notifications.mark_read(op, odd)
