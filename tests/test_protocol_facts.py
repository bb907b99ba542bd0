"""Facts about the real server (PROTOCOL.md) that the client must honour, one by one.

Each test names the PROTOCOL.md section it checks and goes through the public API against
recorded answers (aioresponses) shaped like the real server's; the few that need a server
that checks what it receives use FakeOpenProject.
"""

# ruff: noqa: SIM117  (a server, then a session on it: nested blocks read better)
from __future__ import annotations

import datetime as dt
import re
import types
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from openproject_async import Collection, Link, OpenProject, RetryPolicy
from openproject_async import _retry as retry_module
from openproject_async.errors import (
    URN_PREFIX,
    ActionUnavailable,
    APIError,
    BadRequest,
    InsufficientScope,
    InternalServerError,
    InvalidHref,
    InvalidQuery,
    InvalidRenderContext,
    InvalidRequestBody,
    InvalidSignal,
    InvalidUserStatusTransition,
    LinkError,
    MissingEnterpriseToken,
    MissingPermission,
    MissingTemplateValue,
    MultipleErrors,
    NotAnAPIResource,
    NotFound,
    NotImplementedOnServer,
    NotVisible,
    OutboundRequestFailure,
    OutboundRequestForbidden,
    OutboundRequestNotFound,
    PropertyConstraintViolation,
    PropertyFormatError,
    PropertyIsReadOnly,
    PropertyMissingError,
    PropertyValueNotAvailableAnymore,
    ProtocolError,
    ResourceTypeMismatch,
    Throttled,
    TooManyRequests,
    TypeNotSupported,
    Unauthenticated,
    UnprocessableContent,
    UpdateConflict,
)
from openproject_async.testing import FakeOpenProject

from .docs import error, link, work_package

BASE = "https://op.example.com"
API = "/api/v3"
HAL = "application/hal+json; charset=utf-8"
UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"
WP42 = f"{BASE}{API}/work_packages/42"
ANY_WPS = re.compile(re.escape(f"{BASE}{API}/work_packages") + r"(\?.*)?$")  # any query


def requested(m: aioresponses) -> list[tuple[str, str]]:
    """(method, URL) of every request aioresponses saw."""
    return [(method, str(url)) for (method, url) in m.requests]


def calls(m: aioresponses, method: str, url: str) -> list[Any]:
    return m.requests.get((method, URL(url)), [])


async def load(m: aioresponses, op: OpenProject, doc: dict[str, Any], url: str = WP42) -> Any:
    m.get(url, payload=doc, content_type=HAL)
    return await op.get(url)


def rails_query(params: dict[str, str]) -> str:
    """A query string the way the server renders it: keys sorted, CGI-escaped."""
    return urlencode(sorted(params.items()))


# -- 2. Links ----------------------------------------------------------------------------------


async def test_link_methods_are_compared_case_insensitively_on_the_wire(
    mocked: aioresponses, op: OpenProject
) -> None:
    # server: lower case; doc examples: "POST", "DELETE" and once "delete,"
    doc = {
        "_type": "User",
        "id": 5,
        "_links": {
            "self": link(f"{API}/users/5"),
            "lock": link(f"{API}/users/5/lock", method="POST"),
            "unlock": link(f"{API}/users/5/lock", method="delete"),
            "delete": link(f"{API}/users/5", method="delete,"),
        },
    }
    user = await load(mocked, op, doc, f"{BASE}{API}/users/5")
    assert sorted(user.actions()) == ["delete", "lock", "unlock"]
    mocked.post(f"{BASE}{API}/users/5/lock", payload=doc, content_type=HAL)
    mocked.delete(f"{BASE}{API}/users/5/lock", payload=doc, content_type=HAL)
    mocked.delete(f"{BASE}{API}/users/5", status=204)
    await user.lock()
    await user.unlock()
    assert await user.delete() is None
    assert requested(mocked) == [
        ("GET", f"{BASE}{API}/users/5"),
        ("POST", f"{BASE}{API}/users/5/lock"),
        ("DELETE", f"{BASE}{API}/users/5/lock"),
        ("DELETE", f"{BASE}{API}/users/5"),
    ]


async def test_null_href_means_no_resource_and_no_action(
    mocked: aioresponses, op: OpenProject
) -> None:
    doc = work_package()
    doc["_links"]["parent"] = link(None, title=None)  # unset parent: {href: null, title: null}
    doc["_links"]["watch"] = link(None, method="post")
    wp = await load(mocked, op, doc)
    assert await wp.follow("assignee") is None
    assert await wp.follow("parent") is None
    assert not wp.can("assignee")
    assert not wp.can("watch")
    with pytest.raises(ActionUnavailable, match="'watch'"):
        await wp.action("watch")
    assert requested(mocked) == [("GET", WP42)]


async def test_undisclosed_is_not_followed_but_can_be_written_back(
    mocked: aioresponses, op: OpenProject
) -> None:
    doc = work_package()
    doc["_links"]["ancestors"] = [link(UNDISCLOSED, title=None), link(f"{API}/work_packages/40")]
    wp = await load(mocked, op, doc)
    assert wp.can("parent")  # there is a parent, only it is not visible
    with pytest.raises(NotVisible, match="may not see"):
        await wp.follow("parent")
    assert requested(mocked) == [("GET", WP42)]
    # a link array: the visible members in place, None for the invisible one (not requested)
    mocked.get(f"{BASE}{API}/work_packages/40", payload=work_package(40), content_type=HAL)
    ancestors = await wp.follow("ancestors")
    assert [a if a is None else a["id"] for a in ancestors] == [None, 40]
    assert requested(mocked) == [("GET", WP42), ("GET", f"{BASE}{API}/work_packages/40")]
    # sending the URN back keeps the existing value: it goes out unchanged under _links
    mocked.patch(WP42, payload=work_package(lock=4), content_type=HAL)
    await wp.updateImmediately(subject="Renamed", parent=wp.links["parent"])
    assert orjson.loads(calls(mocked, "PATCH", WP42)[0].kwargs["data"]) == {
        "subject": "Renamed",
        "_links": {"parent": {"href": UNDISCLOSED}},
        "lockVersion": 3,
    }


async def test_urn_hrefs_that_name_states_are_never_requested(
    mocked: aioresponses, op: OpenProject
) -> None:
    # file links carry storage types and permission states as URN hrefs
    permission = "urn:openproject-org:api:v3:file-links:permission:ViewAllowed"
    doc = {
        "_type": "FileLink",
        "id": 17,
        "_links": {
            "self": link(f"{API}/file_links/17"),
            "status": link(permission),
            "storageType": link("urn:openproject-org:api:v3:storages:Nextcloud"),
        },
    }
    file_link = await load(mocked, op, doc, f"{BASE}{API}/file_links/17")
    assert file_link.links["status"].href == permission
    for rel in ("status", "storageType"):
        with pytest.raises(InvalidHref) as info:
            await file_link.follow(rel)
        assert isinstance(info.value, LinkError)
    assert len(mocked.requests) == 1


async def test_non_api_targets_in_link_arrays_are_not_requested(
    mocked: aioresponses, op: OpenProject
) -> None:
    # collection representations: an array of csv/pdf/atom links with a `type`
    doc: dict[str, Any] = {
        "_type": "WorkPackageCollection",
        "total": 0,
        "count": 0,
        "_embedded": {"elements": []},
        "_links": {
            "self": link(f"{API}/work_packages?filters=%5B%5D&offset=1&pageSize=20"),
            "representations": [
                link("/work_packages.pdf?filters=%5B%5D", type="application/pdf", title="PDF"),
                link("/work_packages.csv?filters=%5B%5D", type="text/csv", title="CSV"),
                link("/work_packages.atom", type="application/atom+xml", title="Atom"),
            ],
        },
    }
    page = await load(mocked, op, doc, f"{BASE}{API}/work_packages?filters=%5B%5D")
    assert [lk.is_api for lk in page.links["representations"]] == [False, False, False]
    with pytest.raises(NotAnAPIResource, match="application/pdf"):
        await page.follow("representations")
    assert len(mocked.requests) == 1


# -- 2/3. Templates, jumpTo and changeSize ---------------------------------------------------

PAGE_PARAMS = {"filters": "[]", "sortBy": '[["id","asc"]]'}


def page_doc(offset: int, size: int, total: int, params: dict[str, str]) -> dict[str, Any]:
    """A work package page with the links the server renders (keys sorted, CGI-escaped)."""
    href = f"{API}/work_packages"

    def q(**extra: str) -> str:
        query = {**params, "offset": str(offset), "pageSize": str(size), **extra}
        return f"{href}?{rails_query(query)}"

    first = (offset - 1) * size + 1
    ids = range(first, min(first + size, total + 1))
    links: dict[str, Any] = {
        "self": link(q()),
        "jumpTo": link(q(offset="{offset}"), templated=True),
        "changeSize": link(q(pageSize="{size}"), templated=True),
    }
    if offset > 1:
        links["previousByOffset"] = link(q(offset=str(offset - 1)))
    if offset * size < total:
        links["nextByOffset"] = link(q(offset=str(offset + 1)))
    return {
        "_type": "WorkPackageCollection",
        "total": total,
        "count": len(ids),
        "pageSize": size,
        "offset": offset,
        "_embedded": {"elements": [work_package(i, embed=False) for i in ids]},
        "_links": links,
    }


async def test_jump_to_and_change_size_fill_percent_encoded_placeholders(
    mocked: aioresponses, op: OpenProject
) -> None:
    page = await load(mocked, op, page_doc(2, 2, 6, PAGE_PARAMS), f"{BASE}{API}/work_packages")
    assert "offset=%7Boffset%7D" in (page.links["jumpTo"].href or "")
    assert "pageSize=%7Bsize%7D" in (page.links["changeSize"].href or "")
    seen: list[URL] = []

    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        seen.append(url)
        return CallbackResult(payload=page_doc(1, 50, 6, PAGE_PARAMS), content_type=HAL)

    mocked.get(ANY_WPS, callback=answer, repeat=True)  # the callback records the query
    await page.follow("changeSize", size=50)
    await page.follow("jumpTo", offset=3)
    assert [dict(u.query) for u in seen] == [
        {**PAGE_PARAMS, "offset": "2", "pageSize": "50"},  # changeSize keeps the offset
        {**PAGE_PARAMS, "offset": "3", "pageSize": "2"},
    ]
    with pytest.raises(MissingTemplateValue, match="'size'"):
        await page.follow("changeSize")
    assert len(seen) == 2


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_filter_text_that_looks_like_a_placeholder_is_sent_as_it_is(
    mocked: aioresponses, op: OpenProject, concurrency: int
) -> None:
    # a subject search for "{offset}" renders as %22%7Boffset%7D%22 inside `filters`: only
    # the whole value offset=%7Boffset%7D is jumpTo's placeholder
    params = {"filters": '[{"subject":{"operator":"~","values":["{offset}"]}}]'}
    pages = {n: page_doc(n, 2, 6, params) for n in (1, 2, 3)}
    assert "%22%7Boffset%7D%22" in pages[1]["_links"]["jumpTo"]["href"]
    seen: list[dict[str, str]] = []

    def answer(url: URL, **kwargs: Any) -> CallbackResult:
        query = dict(url.query)
        seen.append(query)
        return CallbackResult(payload=pages[int(query.get("offset", "1"))], content_type=HAL)

    mocked.get(ANY_WPS, callback=answer, repeat=True)
    first = await op.get(f"{API}/work_packages", filters=params["filters"])
    assert isinstance(first, Collection)
    next_link = first.links["nextByOffset"]
    assert isinstance(next_link, Link)
    assert next_link.variables == []  # not a template: followed as is
    ids = [wp["id"] async for wp in first.iterate(concurrency=concurrency)]
    assert ids == [1, 2, 3, 4, 5, 6]
    assert [q["filters"] for q in seen] == [params["filters"]] * 3
    assert sorted(q.get("offset", "1") for q in seen) == ["1", "2", "3"]


# -- 3. Collections ----------------------------------------------------------------------------


async def test_unpaginated_collection_is_one_page_even_with_concurrency(
    mocked: aioresponses, op: OpenProject
) -> None:
    # statuses, types, watchers...: only total, count and self (no pageSize, no offset)
    statuses = {
        "_type": "Collection",
        "total": 3,
        "count": 3,
        "_embedded": {
            "elements": [
                {"_type": "Status", "id": i, "name": n, "_links": {"self": link(f"{API}/s/{i}")}}
                for i, n in [(1, "New"), (7, "In progress"), (12, "Closed")]
            ]
        },
        "_links": {"self": link(f"{API}/statuses")},
    }
    page = await load(mocked, op, statuses, f"{BASE}{API}/statuses")
    assert (page.total, page.count, page.page_size, page.offset) == (3, 3, None, None)
    names = [s["name"] async for s in page.iterate(concurrency=4)]
    assert names == ["New", "In progress", "Closed"]
    assert len(mocked.requests) == 1


# -- 1. Requests: bodies, Content-Type, values ------------------------------------------------


async def test_write_values_use_the_api_formats(mocked: aioresponses, op: OpenProject) -> None:
    # Date YYYY-MM-DD, DateTime ISO 8601 UTC with Z, Duration ISO 8601 (PT10H, P5D, PT0S)
    wp = await load(mocked, op, work_package())
    mocked.patch(WP42, payload=work_package(lock=4), content_type=HAL)
    cest = dt.timezone(dt.timedelta(hours=2))
    await wp.updateImmediately(
        due_date=dt.date(2025, 5, 9),
        spent_on=dt.datetime(2025, 4, 17, 15, 54, 40, tzinfo=cest),
        estimated_time=dt.timedelta(hours=10),
        duration=dt.timedelta(days=5),
        remaining_time=dt.timedelta(0),
        long=dt.timedelta(days=370, hours=13),
    )
    assert orjson.loads(calls(mocked, "PATCH", WP42)[0].kwargs["data"]) == {
        "dueDate": "2025-05-09",
        "spentOn": "2025-04-17T13:54:40Z",
        "estimatedTime": "PT10H",
        "duration": "P5D",
        "remainingTime": "PT0S",
        "long": "P370DT13H",
        "lockVersion": 3,
    }


async def test_every_write_carries_a_json_content_type(
    mocked: aioresponses, op: OpenProject
) -> None:
    # a missing Content-Type gets 406 (DELETE too, on servers before 14.x)
    mocked.post(f"{BASE}{API}/work_packages/42/watchers", payload={}, content_type=HAL)
    mocked.delete(f"{BASE}{API}/work_packages/42/watchers/5", status=204)
    await op.request("POST", f"{API}/work_packages/42/watchers")
    await op.request("DELETE", f"{API}/work_packages/42/watchers/5")
    post = calls(mocked, "POST", f"{BASE}{API}/work_packages/42/watchers")[0].kwargs
    delete = calls(mocked, "DELETE", f"{BASE}{API}/work_packages/42/watchers/5")[0].kwargs
    assert post["headers"]["Content-Type"] == "application/json"
    assert post["data"] == b"{}"  # a bodiless POST still sends a JSON object
    assert delete["headers"]["Content-Type"] == "application/json"
    assert delete["data"] is None


async def test_plain_text_406_is_a_protocol_error_and_not_retried(mocked: aioresponses) -> None:
    url = f"{BASE}{API}/work_packages/form"
    mocked.post(url, status=406, body="Missing content-type header", content_type="text/plain")
    async with OpenProject(BASE, api_key="k", retry=RetryPolicy(backoff=0.001)) as op:
        with pytest.raises(ProtocolError) as info:
            await op.request("POST", f"{API}/work_packages/form")
    err = info.value
    assert (err.status, err.content_type) == (406, "text/plain")
    assert err.snippet == "Missing content-type header"
    assert not isinstance(err, APIError)
    assert len(calls(mocked, "POST", url)) == 1


# -- 6. Errors ---------------------------------------------------------------------------------

ERROR_TABLE = [
    ("InvalidQuery", 400, InvalidQuery),
    ("InvalidRequestBody", 400, InvalidRequestBody),
    ("InvalidRenderContext", 400, InvalidRenderContext),
    ("InvalidSignal", 400, InvalidSignal),
    ("InvalidUserStatusTransition", 400, InvalidUserStatusTransition),
    ("BadRequest", 400, BadRequest),
    ("Unauthenticated", 401, Unauthenticated),
    ("MissingPermission", 403, MissingPermission),
    ("InsufficientScope", 403, InsufficientScope),
    ("NotFound", 404, NotFound),
    ("UpdateConflict", 409, UpdateConflict),
    ("TypeNotSupported", 415, TypeNotSupported),
    ("PropertyConstraintViolation", 422, PropertyConstraintViolation),
    ("PropertyIsReadOnly", 422, PropertyIsReadOnly),
    ("PropertyFormatError", 422, PropertyFormatError),
    ("PropertyMissingError", 422, PropertyMissingError),
    ("ResourceTypeMismatch", 422, ResourceTypeMismatch),
    ("PropertyValueNotAvailableAnymore", 422, PropertyValueNotAvailableAnymore),
    ("UnprocessableContent", 422, UnprocessableContent),
    ("MultipleErrors", 422, MultipleErrors),
    ("TooManyRequests", 429, TooManyRequests),
    ("Throttled", 429, Throttled),
    ("InternalServerError", 500, InternalServerError),
    ("NotImplemented", 501, NotImplementedOnServer),
    ("MissingEnterpriseToken", 500, MissingEnterpriseToken),
    ("OutboundRequest:NotFound", 500, OutboundRequestNotFound),
    ("OutboundRequest:Forbidden", 500, OutboundRequestForbidden),
    ("OutboundRequest:Failure", 500, OutboundRequestFailure),
]


@pytest.mark.parametrize(("suffix", "status", "cls"), ERROR_TABLE, ids=[r[0] for r in ERROR_TABLE])
async def test_every_error_identifier_raises_its_class(
    mocked: aioresponses, op: OpenProject, suffix: str, status: int, cls: type[APIError]
) -> None:
    mocked.get(WP42, status=status, payload=error(suffix, "Localized."), content_type=HAL)
    with pytest.raises(APIError) as info:
        await op.get(WP42)
    err = info.value
    assert type(err) is cls
    assert (err.status, err.identifier, err.message) == (
        status,
        f"urn:openproject-org:api:v3:errors:{suffix}",
        "Localized.",
    )
    assert str(err) == f"{status} {suffix}: Localized."


async def test_multiple_invalid_queries_keep_their_400_and_types(
    mocked: aioresponses, op: OpenProject
) -> None:
    body = error(
        "MultipleErrors",
        "Multiple field constraints have been violated.",
        errors=[
            error("InvalidQuery", "Filters Invalid filter does not exist."),
            error("InvalidQuery", "Sort by is invalid."),
        ],
    )
    mocked.get(f"{BASE}{API}/work_packages", status=400, payload=body, content_type=HAL)
    with pytest.raises(MultipleErrors) as info:
        await op.get(f"{API}/work_packages")
    err = info.value
    assert err.status == 400
    assert [(type(e), e.status, e.message) for e in err.errors] == [
        (InvalidQuery, 400, "Filters Invalid filter does not exist."),
        (InvalidQuery, 400, "Sort by is invalid."),
    ]


async def test_several_errors_of_one_kind_are_caught_as_that_kind(
    mocked: aioresponses, op: OpenProject
) -> None:
    """Two bad filters come as MultipleErrors of InvalidQuery: ``except InvalidQuery``
    catches them as it catches one; mixed members stay plain MultipleErrors."""
    alike = error(
        "MultipleErrors",
        "Multiple field constraints have been violated.",
        errors=[error("InvalidQuery", "Filter a."), error("InvalidQuery", "Filter b.")],
    )
    mixed = error(
        "MultipleErrors",
        "Multiple field constraints have been violated.",
        errors=[error("InvalidQuery", "Filter a."), error("PropertyIsReadOnly", "Read only.")],
    )
    mocked.get(f"{BASE}{API}/work_packages", status=400, payload=alike, content_type=HAL)
    mocked.get(f"{BASE}{API}/work_packages", status=400, payload=mixed, content_type=HAL)
    with pytest.raises(InvalidQuery) as caught:
        await op.get(f"{API}/work_packages")
    err = caught.value
    assert isinstance(err, MultipleErrors)
    assert (err.status, err.identifier) == (400, URN_PREFIX + "MultipleErrors")
    assert [e.message for e in err.errors] == ["Filter a.", "Filter b."]
    with pytest.raises(MultipleErrors) as caught_mixed:
        await op.get(f"{API}/work_packages")
    assert not isinstance(caught_mixed.value, InvalidQuery | PropertyIsReadOnly)
    assert [type(e) for e in caught_mixed.value.errors] == [InvalidQuery, PropertyIsReadOnly]


async def test_error_details_are_kept(mocked: aioresponses, op: OpenProject) -> None:
    # match on errorIdentifier and details.attribute, never on the localized message
    mocked.patch(
        WP42,
        status=422,
        payload=error(
            "PropertyIsReadOnly",
            "Erstellt am kann nicht geändert werden.",
            details={"attribute": "createdAt"},
        ),
        content_type=HAL,
    )
    mocked.post(
        f"{BASE}{API}/work_packages",
        status=400,
        payload=error(
            "InvalidRequestBody",
            "The request body was not a single JSON object.",
            details={"parseError": "unexpected token at '{'"},
        ),
        content_type=HAL,
    )
    with pytest.raises(PropertyIsReadOnly) as read_only:
        await op.request("PATCH", WP42, json={"lockVersion": 1, "createdAt": "x"})
    assert read_only.value.attribute == "createdAt"
    with pytest.raises(InvalidRequestBody) as bad_body:
        await op.request("POST", f"{API}/work_packages", json={})
    assert bad_body.value.details == {"parseError": "unexpected token at '{'"}
    assert bad_body.value.attribute is None


# -- 8. Rate limiting --------------------------------------------------------------------------

NOW = 1_750_000_000


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wall clock the wait hints are computed against (RateLimit-Reset is epoch)."""
    monkeypatch.setattr(retry_module, "time", types.SimpleNamespace(time=lambda: float(NOW)))


def throttled(m: aioresponses, url: str, method: str = "POST") -> None:
    m.add(
        url,
        method,
        status=429,
        payload=error("Throttled", "You have reached the request limit for this resource."),
        content_type=HAL,
        headers={
            "RateLimit-Limit": "6",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(NOW + 3),
        },
    )


@pytest.mark.usefixtures("frozen_clock")
async def test_throttled_carries_the_reset_even_without_retries(
    mocked: aioresponses, op: OpenProject
) -> None:
    url = f"{BASE}{API}/work_packages/form"
    throttled(mocked, url)
    with pytest.raises(Throttled) as info:
        await op.request("POST", url)  # this session does not retry: the caller waits
    assert info.value.retry_after == 3.0
    assert len(calls(mocked, "POST", url)) == 1


@pytest.mark.usefixtures("frozen_clock")
async def test_throttled_create_is_not_resent_but_says_how_long_to_wait(
    mocked: aioresponses,
) -> None:
    url = f"{BASE}{API}/work_packages"
    throttled(mocked, url)
    async with OpenProject(BASE, api_key="k", retry=RetryPolicy(backoff=0.001)) as op:
        with pytest.raises(Throttled) as info:
            await op.request("POST", url, json={"subject": "x"})
    assert info.value.retry_after == 3.0
    assert info.value.attempts == 1
    assert len(calls(mocked, "POST", url)) == 1


# -- 7/11. Sub-path deployments --------------------------------------------------------------


async def test_sub_path_deployment_keeps_the_query_of_a_typed_href(
    mocked: aioresponses,
) -> None:
    # without filters=[] the server applies its default filter (open work packages only)
    base = "https://example.com/openproject"
    page = page_doc(1, 20, 0, {"filters": "[]"})
    async with OpenProject(base, api_key="k", retry=None) as op:
        mocked.get(f"{base}{API}/work_packages?filters=%5B%5D", payload=page, content_type=HAL)
        mocked.get(
            f"{base}{API}/work_packages?filters=%5B%5D&pageSize=5", payload=page, content_type=HAL
        )
        mocked.get(
            f"{base}{API}/work_packages?filters=%5B%5D&offset=2", payload=page, content_type=HAL
        )
        await op.get(f"{API}/work_packages?filters=%5B%5D")  # typed without the prefix
        await op.get(f"{API}/work_packages?filters=%5B%5D", pageSize=5)
        await op.get(f"/openproject{API}/work_packages?filters=%5B%5D&offset=2")  # server href
    assert requested(mocked) == [
        ("GET", f"{base}{API}/work_packages?filters=%5B%5D"),
        ("GET", f"{base}{API}/work_packages?filters=%5B%5D&pageSize=5"),
        ("GET", f"{base}{API}/work_packages?filters=%5B%5D&offset=2"),
    ]


# -- 9. Markdown preview -----------------------------------------------------------------------

PREVIEW = f"{BASE}{API}/render/markdown?context=/api/v3/work_packages/42"


def previewable() -> dict[str, Any]:
    doc = work_package()
    doc["_links"]["previewMarkup"] = link(
        f"{API}/render/markdown?context={API}/work_packages/42", method="post"
    )
    return doc


async def test_preview_markup_posts_text_plain_and_returns_the_html(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = await load(mocked, op, previewable())
    html = '<p class="op-uc-p">Some <strong>bold</strong> text</p>'
    mocked.post(PREVIEW, status=200, body=html, content_type="text/html", repeat=True)
    assert await wp.previewMarkup("Some **bold** text") == html
    assert await wp.action("previewMarkup", text="Grüße") == html
    sent = calls(mocked, "POST", PREVIEW)
    assert [c.kwargs["data"] for c in sent] == [b"Some **bold** text", "Grüße".encode()]
    assert {c.kwargs["headers"]["Content-Type"] for c in sent} == {"text/plain; charset=utf-8"}
    with pytest.raises(TypeError, match="renders one text"):
        await wp.previewMarkup()
    with pytest.raises(TypeError, match="renders a str"):
        await wp.previewMarkup(b"bytes")
    assert len(calls(mocked, "POST", PREVIEW)) == 2


async def test_preview_markup_errors_are_typed(mocked: aioresponses, op: OpenProject) -> None:
    wp = await load(mocked, op, previewable())
    mocked.post(
        PREVIEW,
        status=415,
        payload=error(
            "TypeNotSupported",
            "Expected Content-Type to be 'text/plain' but got 'application/json'.",
        ),
        content_type=HAL,
    )
    mocked.post(
        PREVIEW,
        status=400,
        payload=error("InvalidRenderContext", "Could not render markdown string."),
        content_type=HAL,
    )
    with pytest.raises(TypeNotSupported):
        await wp.previewMarkup("x")
    with pytest.raises(InvalidRenderContext):
        await wp.previewMarkup("x")


async def test_preview_markup_against_a_server_that_checks_the_content_type() -> None:
    async with FakeOpenProject(seed_size=1) as server:
        async with OpenProject(server.url, api_key=server.api_key) as op:
            wp = await op.get(f"{API}/work_packages/1")
            html = await wp.previewMarkup("Some **bold** text")
            form = await wp.update(subject="Renamed")
            from_form = await form.previewMarkup("*hi*")
    assert "<strong>bold</strong>" in html
    assert "<em>hi</em>" in from_form
    posts = [r for r in server.requests if r.path == f"{API}/render/markdown"]
    assert len(posts) == 2
    assert all(r.status == 200 for r in posts)


# -- 5. Forms: problems that are raised, not embedded ----------------------------------------


async def test_update_form_raises_a_wrong_link_type_and_commits_nothing(
    mocked: aioresponses, op: OpenProject
) -> None:
    wp = await load(mocked, op, work_package())
    schema = {
        "_type": "Schema",
        "subject": {"type": "String", "name": "Subject", "writable": True},
        "assignee": {"type": "User", "name": "Assignee", "location": "_links", "writable": True},
        "_links": {"self": link(f"{API}/work_packages/schemas/3-1")},
    }
    mocked.get(f"{BASE}{API}/work_packages/schemas/3-1", payload=schema, content_type=HAL)
    mocked.post(
        f"{WP42}/form",
        status=422,
        payload=error(
            "ResourceTypeMismatch",
            "Expected a link to a User but got a Status.",
            details={"attribute": "assignee"},
        ),
        content_type=HAL,
    )
    with pytest.raises(ResourceTypeMismatch) as info:
        await wp.save(assignee=f"{API}/statuses/1")
    assert info.value.attribute == "assignee"
    forms = calls(mocked, "POST", f"{WP42}/form")
    assert [orjson.loads(c.kwargs["data"]) for c in forms] == [
        {"lockVersion": 3, "_links": {"assignee": {"href": f"{API}/statuses/1"}}}
    ]
    assert calls(mocked, "PATCH", WP42) == []
