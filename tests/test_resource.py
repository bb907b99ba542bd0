"""Resources against recorded answers (aioresponses): properties, links, follow, actions."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from openproject_async import Collection, OpenProject, Resource
from openproject_async.errors import (
    ActionUnavailable,
    NotAnAPIResource,
    NotFound,
    NotVisible,
    ProtocolError,
)

from .docs import collection, error, project, user, work_package

BASE = "https://op.example.com"
HAL = "application/hal+json"


def calls(m: aioresponses, method: str, url: str) -> list[Any]:
    return m.requests.get((method, URL(url)), [])


async def load_wp(m: aioresponses, op: OpenProject, **kw: Any) -> Resource:
    m.get(f"{BASE}/api/v3/work_packages/42", payload=work_package(**kw), content_type=HAL)
    return await op.get("/api/v3/work_packages/42")


async def test_properties_three_ways(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    assert wp["subject"] == wp.subject == wp.get("subject") == "Task 42"
    assert wp.get("nope", "default") == "default"
    assert wp.dueDate is None
    # a property named like a link (here "type") wins over the link
    assert wp.type == "not the type link"
    assert wp.resource_type == "WorkPackage"
    assert wp.href == "/api/v3/work_packages/42"
    assert repr(wp) == "<WorkPackage #42 /api/v3/work_packages/42>"
    with pytest.raises(KeyError, match="subject"):
        wp["nope"]


async def test_links_and_link_arrays(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    assert wp.links["project"].href == "/api/v3/projects/3"  # type: ignore[union-attr]
    children = wp.links["children"]
    assert isinstance(children, list)
    assert [c.title for c in children] == ["Child A", "Child B"]
    assert wp.can("addWatcher")
    assert not wp.can("unwatch")
    assert not wp.can("assignee")  # href null: nothing there


async def test_follow_uses_embedded_copy_without_request(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = await load_wp(mocked, op)
    proj = await wp.follow("project")
    assert proj.name == "Apollo"
    assert len(mocked.requests) == 1  # only the work package itself


async def test_follow_without_embedded_requests_it(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op, embed=False)
    mocked.get(f"{BASE}/api/v3/projects/3", payload=project(), content_type=HAL)
    proj = await wp.follow("project")
    assert proj.identifier == "apollo"
    assert len(calls(mocked, "GET", f"{BASE}/api/v3/projects/3")) == 1


async def test_follow_link_array_keeps_order(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    mocked.get(f"{BASE}/api/v3/work_packages/44", payload=work_package(44), content_type=HAL)
    mocked.get(f"{BASE}/api/v3/work_packages/43", payload=work_package(43), content_type=HAL)
    kids = await wp.follow("children")
    assert [k.id for k in kids] == [43, 44]


async def test_follow_link_array_lines_up_with_its_links(
    mocked: aioresponses, op: OpenProject
) -> None:
    """None in place of ``href: null``; query parameters go with every member's GET."""
    doc = work_package()
    doc["_links"]["children"] = [
        {"href": "/api/v3/work_packages/43"},
        {"href": None},
        {"href": "/api/v3/work_packages/44"},
    ]
    mocked.get(f"{BASE}/api/v3/work_packages/42", payload=doc, content_type=HAL)
    wp = await op.get("/api/v3/work_packages/42")
    for wp_id in (43, 44):
        mocked.get(
            f"{BASE}/api/v3/work_packages/{wp_id}?select=id",
            payload=work_package(wp_id),
            content_type=HAL,
        )
    kids = await wp.follow("children", select="id")
    assert [k if k is None else k.id for k in kids] == [43, None, 44]
    assert [str(url) for (method, url) in mocked.requests if method == "GET"] == [
        f"{BASE}/api/v3/work_packages/42",
        f"{BASE}/api/v3/work_packages/43?select=id",
        f"{BASE}/api/v3/work_packages/44?select=id",
    ]


async def test_follow_null_undisclosed_and_html(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    assert await wp.follow("assignee") is None
    with pytest.raises(NotVisible, match="may not see"):
        await wp.follow("parent")
    with pytest.raises(NotAnAPIResource, match="text/html"):
        await wp.follow("move")
    assert len(mocked.requests) == 1


async def test_follow_query_params_json_encoded(mocked: aioresponses, op: OpenProject) -> None:
    root = {
        "_type": "Root",
        "_links": {"self": {"href": "/api/v3"}, "workPackages": {"href": "/api/v3/work_packages"}},
    }
    mocked.get(f"{BASE}/api/v3", payload=root, content_type=HAL)
    seen: list[URL] = []

    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        seen.append(url)
        return CallbackResult(payload=collection([work_package(1)]), content_type=HAL)

    mocked.get(
        f'{BASE}/api/v3/work_packages?filters=[]&pageSize=1000&sortBy=[["id","asc"]]',
        callback=answer,
    )
    r = await op.root()
    wps = await r.follow("workPackages", filters=[], pageSize=1000, sortBy=[["id", "asc"]])
    assert isinstance(wps, Collection)
    assert (wps.total, wps.count, wps.page_size, wps.offset) == (1, 1, 20, 1)
    assert seen[0].query["filters"] == "[]"
    assert seen[0].query["sortBy"] == '[["id","asc"]]'


async def test_action_with_templated_payload(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    url = f"{BASE}/api/v3/work_packages/42/watchers"
    mocked.post(url, payload=user(7), status=201, content_type=HAL)
    mocked.post(url, payload=user(5), status=200, content_type=HAL)
    added = await wp.action("addWatcher", user_id=7)
    assert added.id == 7
    ada = await wp.follow("author")
    again = await wp.addWatcher(user=ada)  # a resource works as well as an id
    assert again.id == 5
    sent = [orjson.loads(c.kwargs["data"]) for c in calls(mocked, "POST", url)]
    assert sent == [{"user": {"href": "/api/v3/users/7"}}, {"user": {"href": "/api/v3/users/5"}}]
    headers = calls(mocked, "POST", url)[0].kwargs["headers"]
    assert headers["Content-Type"] == "application/json"


async def test_templated_href_action_and_delete(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    mocked.delete(f"{BASE}/api/v3/work_packages/42/watchers/5", status=204)
    mocked.delete(f"{BASE}/api/v3/work_packages/42", status=204)
    assert await wp.removeWatcher(user_id=5) is None
    assert await wp.delete() is None
    deleted = calls(mocked, "DELETE", f"{BASE}/api/v3/work_packages/42")
    assert deleted[0].kwargs["headers"]["Content-Type"] == "application/json"


async def test_action_body_scalars_root_resources_under_links(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = await load_wp(mocked, op)
    other = op.wrap(work_package(99, embed=False))
    url = f"{BASE}/api/v3/work_packages/42/relations"
    mocked.post(
        url,
        payload={"_type": "Relation", "id": 1, "_links": {"self": {"href": "/api/v3/relations/1"}}},
        status=201,
        content_type=HAL,
    )
    rel = await wp.addRelation(to=other, type="follows", lag=2)
    assert rel.id == 1
    body = orjson.loads(calls(mocked, "POST", url)[0].kwargs["data"])
    assert body == {
        "type": "follows",
        "lag": 2,
        "_links": {"to": {"href": "/api/v3/work_packages/99"}},
    }


async def test_add_comment_formattable_and_notify(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    url = f"{BASE}/api/v3/work_packages/42/activities?notify=false"
    mocked.post(
        url,
        payload={"_type": "Activity::Comment", "id": 9, "_links": {}},
        status=201,
        content_type=HAL,
    )
    act = await wp.addComment(comment="Looks good", internal=False, notify=False)
    assert act.id == 9
    body = orjson.loads(calls(mocked, "POST", url)[0].kwargs["data"])
    assert body == {"comment": {"raw": "Looks good"}, "internal": False}


async def test_json_passes_body_as_is(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    url = f"{BASE}/api/v3/work_packages/42"
    mocked.patch(url, payload=work_package(lock=4), content_type=HAL)
    updated = await wp.action("updateImmediately", json={"lockVersion": 3, "subject": "x"})
    assert updated.lockVersion == 4
    assert orjson.loads(calls(mocked, "PATCH", url)[0].kwargs["data"]) == {
        "lockVersion": 3,
        "subject": "x",
    }


async def test_missing_action_lists_what_exists(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load_wp(mocked, op)
    with pytest.raises(ActionUnavailable) as info:
        await wp.action("unwatch")
    msg = str(info.value)
    assert "'unwatch'" in msg
    assert "not permitted" in msg
    assert "addWatcher" in msg
    assert "project" in msg
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, AttributeError)
    with pytest.raises(AttributeError, match="unwatch"):
        wp.unwatch  # noqa: B018
    assert not hasattr(wp, "unwatch")


async def test_errors_are_raised_typed(mocked: aioresponses, op: OpenProject) -> None:
    mocked.get(
        f"{BASE}/api/v3/work_packages/1",
        status=404,
        payload=error("NotFound", "The specified work package does not exist."),
        content_type=HAL,
    )
    with pytest.raises(NotFound) as info:
        await op.get("/api/v3/work_packages/1")
    assert info.value.status == 404


async def test_html_answer_is_protocol_error(mocked: aioresponses, op: OpenProject) -> None:
    mocked.get(
        f"{BASE}/api/v3/work_packages/1",
        status=200,
        body="<html>login</html>",
        content_type="text/html",
    )
    with pytest.raises(ProtocolError, match="text/html"):
        await op.get("/api/v3/work_packages/1")


async def test_basic_auth_header(mocked: aioresponses, op: OpenProject) -> None:
    await load_wp(mocked, op)
    headers = calls(mocked, "GET", f"{BASE}/api/v3/work_packages/42")[0].kwargs["headers"]
    assert headers["Authorization"] == "Basic YXBpa2V5OnNlY3JldC1rZXk="  # apikey:secret-key


async def test_sub_path_deployment_resolves_hrefs(mocked: aioresponses) -> None:
    async with OpenProject("https://example.com/openproject", token="t", retry=None) as op:
        wp_doc = work_package()
        wp_doc["_links"]["project"]["href"] = "/openproject/api/v3/projects/3"
        mocked.get(
            "https://example.com/openproject/api/v3/work_packages/42",
            payload=wp_doc,
            content_type=HAL,
        )
        mocked.get(
            "https://example.com/openproject/api/v3/projects/3?select=id",
            payload=project(),
            content_type=HAL,
        )
        wp = await op.get("/api/v3/work_packages/42")  # typed without the prefix
        proj = await wp.follow("project", select="id")  # server href with the prefix
        assert proj.id == 3
        assert op.api_root == URL("https://example.com/openproject/api/v3")
