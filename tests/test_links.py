"""Links: methods, templates (both placeholder spellings), payloads, special hrefs."""

from __future__ import annotations

import pytest

from openproject_async import Link
from openproject_async._links import expand, expand_payload, parse_links
from openproject_async.errors import ProtocolError


@pytest.mark.parametrize(
    ("raw", "method"), [("post", "POST"), ("PATCH", "PATCH"), ("delete,", "DELETE"), (None, "GET")]
)
def test_method_is_case_insensitive(raw: str | None, method: str) -> None:
    lk = Link("x", {"href": "/a", "method": raw} if raw else {"href": "/a"})
    assert lk.method == method
    assert lk.is_action is (method != "GET")


def test_percent_encoded_placeholders_are_filled() -> None:
    href = "/api/v3/work_packages?filters=%5B%5D&offset=%7Boffset%7D&pageSize=%7bsize%7D"
    lk = Link("jumpTo", {"href": href, "templated": True})
    assert lk.variables == ["offset", "size"]
    assert (
        lk.expand(offset=3, size=100)
        == "/api/v3/work_packages?filters=%5B%5D&offset=3&pageSize=100"
    )


def test_missing_template_value_names_it() -> None:
    with pytest.raises(TypeError, match="user_id"):
        expand("/api/v3/work_packages/1/watchers/{user_id}", {})


def test_payload_template() -> None:
    payload = {"user": {"href": "/api/v3/users/{user_id}"}, "n": 1}
    lk = Link("addWatcher", {"href": "/w", "method": "post", "payload": payload, "templated": True})
    assert lk.variables == ["user_id"]
    assert expand_payload(payload, {"user_id": 7}) == {"user": {"href": "/api/v3/users/7"}, "n": 1}


def test_special_hrefs_and_types() -> None:
    links = parse_links(
        {
            "assignee": {"href": None},
            "parent": {"href": "urn:openproject-org:api:v3:undisclosed", "title": None},
            "move": {"href": "/work_packages/1/move/new", "type": "text/html"},
            "children": [{"href": "/api/v3/work_packages/2"}],
        }
    )
    assert links["assignee"].href is None  # type: ignore[union-attr]
    assert links["parent"].undisclosed  # type: ignore[union-attr]
    assert not links["move"].is_api  # type: ignore[union-attr]
    assert isinstance(links["children"], list)


@pytest.mark.parametrize("raw", [[1, 2], "x", {"self": "not a link"}, {"self": {"href": 5}}])
def test_malformed_links_raise_protocol_error(raw: object) -> None:
    with pytest.raises(ProtocolError):
        parse_links(raw)
