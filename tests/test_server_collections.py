"""The fake server's collections follow PROTOCOL.md section 3/4 exactly."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from openproject_async.testing import FakeOpenProject

ALL = "filters=%5B%5D"
SORT = "sortBy=%5B%5B%22id%22%2C%22asc%22%5D%5D"
WP = "/api/v3/work_packages"


@pytest_asyncio.fixture
async def five() -> AsyncIterator[FakeOpenProject]:
    """Five work packages, as in the reconstructed collection examples."""
    async with FakeOpenProject(seed_size=5) as server:
        yield server


async def get(server: FakeOpenProject, path: str, login: str = "admin") -> tuple[int, Any]:
    async with server.http(login) as http, http.get(server.base_path + path) as resp:
        assert resp.headers["Content-Type"] == "application/hal+json; charset=utf-8"
        return resp.status, await resp.json(content_type=None)


def filt(filters: list[dict[str, Any]]) -> str:
    return "filters=" + quote(json.dumps(filters))


async def test_page_two_of_three_links_exactly(five: FakeOpenProject) -> None:
    status, doc = await get(five, f"{WP}?{ALL}&pageSize=2&offset=2")
    assert status == 200
    assert doc["_type"] == "WorkPackageCollection"
    assert (doc["total"], doc["count"], doc["pageSize"], doc["offset"]) == (5, 2, 2, 2)
    assert [e["id"] for e in doc["_embedded"]["elements"]] == [3, 4]
    links = doc["_links"]
    assert links["self"] == {"href": f"{WP}?{ALL}&offset=2&pageSize=2&{SORT}"}
    assert links["jumpTo"] == {
        "href": f"{WP}?{ALL}&offset=%7Boffset%7D&pageSize=2&{SORT}",
        "templated": True,
    }
    assert links["changeSize"] == {
        "href": f"{WP}?{ALL}&offset=2&pageSize=%7Bsize%7D&{SORT}",
        "templated": True,
    }
    assert links["previousByOffset"] == {"href": f"{WP}?{ALL}&offset=1&pageSize=2&{SORT}"}
    assert links["nextByOffset"] == {"href": f"{WP}?{ALL}&offset=3&pageSize=2&{SORT}"}
    assert links["createWorkPackage"] == {"href": f"{WP}/form", "method": "post"}
    assert links["createWorkPackageImmediate"] == {"href": WP, "method": "post"}
    schemas = links["schemas"]["href"]
    assert schemas.startswith(f"{WP}/schemas?filters=%5B%7B%22id%22%3A%7B%22operator%22")
    assert "%221-" in schemas


async def test_first_page_has_no_previous(five: FakeOpenProject) -> None:
    _, doc = await get(five, f"{WP}?{ALL}&pageSize=2")
    assert doc["offset"] == 1
    assert "previousByOffset" not in doc["_links"]
    assert "nextByOffset" in doc["_links"]


async def test_last_page_has_no_next(five: FakeOpenProject) -> None:
    _, doc = await get(five, f"{WP}?{ALL}&pageSize=2&offset=3")
    assert (doc["count"], doc["total"]) == (1, 5)
    assert [e["id"] for e in doc["_embedded"]["elements"]] == [5]
    assert "nextByOffset" not in doc["_links"]
    assert doc["_links"]["previousByOffset"]["href"].endswith(f"offset=2&pageSize=2&{SORT}")


async def test_past_the_end_is_empty_200_with_previous(five: FakeOpenProject) -> None:
    status, doc = await get(five, f"{WP}?{ALL}&pageSize=2&offset=9")
    assert status == 200
    assert (doc["count"], doc["total"], doc["offset"]) == (0, 5, 9)
    assert doc["_embedded"]["elements"] == []
    assert "nextByOffset" not in doc["_links"]
    assert "schemas" not in doc["_links"]
    assert doc["_links"]["previousByOffset"]["href"] == f"{WP}?{ALL}&offset=8&pageSize=2&{SORT}"


async def test_exact_multiple_has_no_next_on_last_page(five: FakeOpenProject) -> None:
    five.delete_work_package(5)
    _, doc = await get(five, f"{WP}?{ALL}&pageSize=2&offset=2")
    assert (doc["total"], doc["count"]) == (4, 2)
    assert "nextByOffset" not in doc["_links"]


async def test_empty_collection(five: FakeOpenProject) -> None:
    _, doc = await get(five, f"{WP}?" + filt([{"subject": {"operator": "~", "values": ["zzz"]}}]))
    assert (doc["total"], doc["count"], doc["offset"], doc["pageSize"]) == (0, 0, 1, 20)
    assert "nextByOffset" not in doc["_links"]
    assert "previousByOffset" not in doc["_links"]
    assert "schemas" not in doc["_links"]


@pytest.mark.parametrize(
    ("query", "page_size", "offset"),
    [
        ("pageSize=-1", 1000, 1),
        ("pageSize=5000", 1000, 1),
        ("", 20, 1),
        ("offset=0&pageSize=3", 3, 1),
        ("offset=-4&pageSize=3", 3, 1),
        ("offset=abc&pageSize=3", 3, 1),
        ("offset=2abc&pageSize=3", 3, 2),
    ],
)
async def test_page_size_and_offset_normalization(
    five: FakeOpenProject, query: str, page_size: int, offset: int
) -> None:
    _, doc = await get(five, f"{WP}?{ALL}&{query}")
    assert (doc["pageSize"], doc["offset"]) == (page_size, offset)
    assert f"offset={offset}&pageSize={page_size}&" in doc["_links"]["self"]["href"]


async def test_max_page_size_setting_caps() -> None:
    async with FakeOpenProject(seed_size=30, max_page_size=7) as server:
        _, doc = await get(server, f"{WP}?{ALL}&pageSize=-1")
        assert (doc["pageSize"], doc["count"], doc["total"]) == (7, 7, 30)
        _, doc = await get(server, f"{WP}?{ALL}&pageSize=100&offset=5")
        assert [e["id"] for e in doc["_embedded"]["elements"]] == [29, 30]


async def test_page_size_zero_counts_without_elements(five: FakeOpenProject) -> None:
    _, doc = await get(five, f"{WP}?{ALL}&pageSize=0")
    assert (doc["pageSize"], doc["count"], doc["total"]) == (0, 0, 5)
    assert doc["_embedded"]["elements"] == []


async def test_default_filter_is_open_only_and_filters_empty_is_all(
    openproject_server: FakeOpenProject,
) -> None:
    store = openproject_server.store
    open_ids = store.open_status_ids()
    expected_open = sum(1 for wp in store.work_packages.values() if wp.status_id in open_ids)
    assert 0 < expected_open < 50
    _, default = await get(openproject_server, f"{WP}?pageSize=1")
    assert default["total"] == expected_open
    assert default["_links"]["self"]["href"] == (
        f"{WP}?filters=%5B%7B%22status%22%3A%7B%22operator%22%3A%22o%22%2C%22values%22%3A"
        f"%5B%5D%7D%7D%5D&offset=1&pageSize=1&{SORT}"
    )
    _, everything = await get(openproject_server, f"{WP}?{ALL}&pageSize=1")
    assert everything["total"] == 50


async def test_project_scoped_collection_by_identifier(
    openproject_server: FakeOpenProject,
) -> None:
    _, doc = await get(openproject_server, f"/api/v3/projects/scrum/work_packages?{ALL}")
    assert doc["total"] == sum(
        1 for wp in openproject_server.store.work_packages.values() if wp.project_id == 2
    )
    assert {e["_links"]["project"]["href"] for e in doc["_embedded"]["elements"]} == {
        "/api/v3/projects/2"
    }
    assert doc["_links"]["self"]["href"].startswith("/api/v3/projects/2/work_packages?")
    assert doc["_links"]["createWorkPackage"]["href"] == "/api/v3/projects/2/work_packages/form"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"status": {"operator": "c", "values": []}}], lambda wp: wp.status_id in (4, 5)),
        ([{"status": {"operator": "=", "values": ["2"]}}], lambda wp: wp.status_id == 2),
        ([{"status": {"operator": "!", "values": ["1", "2"]}}], lambda wp: wp.status_id > 2),
        ([{"status": {"operator": "*", "values": None}}], lambda wp: True),
        ([{"type": {"operator": "!", "values": ["1"]}}], lambda wp: wp.type_id != 1),
        ([{"project": {"operator": "=", "values": ["2"]}}], lambda wp: wp.project_id == 2),
        ([{"assignee": {"operator": "!*", "values": []}}], lambda wp: wp.assignee_id is None),
        ([{"assignee": {"operator": "=", "values": ["2"]}}], lambda wp: wp.assignee_id == 2),
        ([{"priority": {"operator": "=", "values": ["3"]}}], lambda wp: wp.priority_id == 3),
        ([{"id": {"operator": "=", "values": ["3", "7"]}}], lambda wp: wp.id in (3, 7)),
        ([{"subject": {"operator": "~", "values": ["EXPORT"]}}],
         lambda wp: "export" in wp.subject.lower()),
        ([{"subject": {"operator": "!~", "values": ["export"]}}],
         lambda wp: "export" not in wp.subject.lower()),
        (
            [{"status": {"operator": "o", "values": []}},
             {"type": {"operator": "=", "values": ["5"]}}],
            lambda wp: wp.status_id in (1, 2, 3) and wp.type_id == 5,
        ),
    ],
)
async def test_filters(
    openproject_server: FakeOpenProject, filters: list[dict[str, Any]], expected: Any
) -> None:
    wanted = [wp.id for wp in openproject_server.store.work_packages.values() if expected(wp)]
    assert wanted, "the seed data should exercise this filter"
    _, doc = await get(openproject_server, f"{WP}?{filt(filters)}&pageSize=-1")
    assert [e["id"] for e in doc["_embedded"]["elements"]] == wanted
    assert doc["total"] == len(wanted)


async def test_assignee_me_is_the_current_user(openproject_server: FakeOpenProject) -> None:
    query = filt([{"assignee": {"operator": "=", "values": ["me"]}}])
    _, doc = await get(openproject_server, f"{WP}?{query}&pageSize=-1", login="member")
    store = openproject_server.store
    # explicit filters replace the default "open" filter
    wanted = [wp.id for wp in store.work_packages.values() if wp.assignee_id == 2]
    assert wanted
    assert [e["id"] for e in doc["_embedded"]["elements"]] == wanted
    assert "%22me%22" in doc["_links"]["self"]["href"]


async def test_updated_at_window_for_polling(openproject_server: FakeOpenProject) -> None:
    wp_id = openproject_server.create_work_package(subject="Fresh", project_id=1)
    stamp = openproject_server.work_package(wp_id).updated_at
    since = stamp.isoformat().replace("+00:00", "Z")
    query = filt([{"updatedAt": {"operator": "<>d", "values": [since, ""]}}])
    _, doc = await get(openproject_server, f"{WP}?{query}")
    assert [e["id"] for e in doc["_embedded"]["elements"]] == [wp_id]
    query = filt([{"updatedAt": {"operator": ">=", "values": [since]}}])
    _, doc = await get(openproject_server, f"{WP}?{query}")
    assert doc["total"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        "filters=" + quote('[{"bogus":{"operator":"=","values":["1"]}}]'),
        "filters=" + quote('[{"status":{"operator":"~~","values":[]}}]'),
        "filters=" + quote('{"status":{"operator":"o","values":[]}}'),
        "filters=" + quote("[{not json"),
        "filters=" + quote('[{"id":{"operator":"=","values":["x"]}}]'),
        "sortBy=" + quote('[["nope","asc"]]'),
        "sortBy=" + quote('[["id","sideways"]]'),
    ],
)
async def test_invalid_query(openproject_server: FakeOpenProject, raw: str) -> None:
    status, doc = await get(openproject_server, f"{WP}?{raw}")
    assert status == 400
    assert doc["_type"] == "Error"
    assert doc["errorIdentifier"] == "urn:openproject-org:api:v3:errors:InvalidQuery"
    assert set(doc) <= {"_type", "errorIdentifier", "message", "_embedded"}


async def test_sort_by_subject_desc_and_priority(openproject_server: FakeOpenProject) -> None:
    store = openproject_server.store
    query = f"{ALL}&pageSize=-1&sortBy=" + quote('[["subject","desc"]]')
    _, doc = await get(openproject_server, f"{WP}?{query}")
    subjects = [e["subject"] for e in doc["_embedded"]["elements"]]
    assert subjects == sorted(subjects, key=str.casefold, reverse=True)
    assert "sortBy=%5B%5B%22subject%22%2C%22desc%22%5D%5D" in doc["_links"]["self"]["href"]
    query = f"{ALL}&pageSize=-1&sortBy=" + quote('[["priority","desc"],["id","desc"]]')
    _, doc = await get(openproject_server, f"{WP}?{query}")
    elements = doc["_embedded"]["elements"]
    pairs = [(store.work_packages[e["id"]].priority_id, e["id"]) for e in elements]
    assert pairs == sorted(pairs, reverse=True)


async def test_select_trims_documents(openproject_server: FakeOpenProject) -> None:
    _, doc = await get(
        openproject_server, f"{WP}?{ALL}&pageSize=3&select=total,elements/id,elements/subject,self"
    )
    assert set(doc) == {"total", "_embedded", "_links"}
    assert set(doc["_links"]) == {"self"}
    assert doc["_embedded"]["elements"][0] == {"id": 1, "subject": "Fix API client #1"}
    assert "select=total%2Celements%2Fid" in doc["_links"]["self"]["href"]
    _, doc = await get(openproject_server, f"{WP}?{ALL}&pageSize=2&select=*,elements/*")
    assert doc["total"] == 50
    assert doc["_type"] == "WorkPackageCollection"
    assert doc["_embedded"]["elements"][0]["_links"]["self"]["href"] == f"{WP}/1"
    status, err = await get(openproject_server, f"{WP}?select=elements/nonsense")
    assert status == 400
    assert err["errorIdentifier"].endswith(":InvalidSignal")


async def test_unpaginated_collections(openproject_server: FakeOpenProject) -> None:
    for path, names in (
        ("/api/v3/statuses", ["New", "In progress", "On hold", "Closed", "Rejected"]),
        ("/api/v3/types", ["Task", "Milestone", "Phase", "Feature", "Bug"]),
        ("/api/v3/priorities", ["Low", "Normal", "High", "Immediate"]),
    ):
        _, doc = await get(openproject_server, path)
        assert doc["_type"] == "Collection"
        assert doc["total"] == doc["count"] == len(names)
        assert "pageSize" not in doc
        assert "offset" not in doc
        assert doc["_links"] == {"self": {"href": path}}
        assert [e["name"] for e in doc["_embedded"]["elements"]] == names
    _, statuses = await get(openproject_server, "/api/v3/statuses")
    new = statuses["_embedded"]["elements"][0]
    assert (new["isDefault"], new["isClosed"]) == (True, False)
    assert [s["isClosed"] for s in statuses["_embedded"]["elements"]] == [
        False, False, False, True, True,
    ]


async def test_elements_are_complete_work_packages(openproject_server: FakeOpenProject) -> None:
    _, doc = await get(openproject_server, f"{WP}?{ALL}&pageSize=1")
    element = doc["_embedded"]["elements"][0]
    assert element["_type"] == "WorkPackage"
    for key in ("id", "lockVersion", "subject", "description", "createdAt", "updatedAt"):
        assert key in element
    assert element["_links"]["self"]["title"] == element["subject"]
    assert element["_links"]["schema"]["href"] == "/api/v3/work_packages/schemas/1-2"


async def test_latency_per_element_is_charged_per_rendered_element() -> None:
    async with FakeOpenProject(seed_size=40, latency_per_element=0.001) as server:
        started = time.perf_counter()
        _, doc = await get(server, f"{WP}?{ALL}&pageSize=40")
        assert doc["count"] == 40
        assert time.perf_counter() - started >= 0.04


async def test_large_page_renders_quickly() -> None:
    async with FakeOpenProject(seed_size=3000) as server:
        started = time.perf_counter()
        _, doc = await get(server, f"{WP}?{ALL}&pageSize=1000&offset=2")
        elapsed = time.perf_counter() - started
        assert [doc["count"], doc["_embedded"]["elements"][0]["id"]] == [1000, 1001]
        assert elapsed < 10  # generous: a regression to seconds per page would show
