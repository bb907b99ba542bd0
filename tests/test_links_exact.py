"""_links, exactly: every rule of templates and link objects with its exact output.

Written against mutation testing (README, "Development"): each assertion pins one
behaviour a planted bug would change.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from openproject_async import Link
from openproject_async._links import (
    UNDISCLOSED,
    expand,
    expand_payload,
    parse_links,
    payload_variables,
    template_variables,
)
from openproject_async.errors import MissingTemplateValue, ProtocolError


@dataclass
class _HasId:
    id: int


# -- template_variables ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoded", "names"),
    [
        ("/a/{x}/b/{y}/{x}", True, ["x", "y"]),
        ("/a/{_b9}", True, ["_b9"]),
        ("/a/{9b}", True, []),  # a name starts with a letter or _
        ("/a/{}", True, []),
        ("/a/{a-b}", True, []),
        ("/w?offset=%7Boffset%7D&size=%7bsize%7d", True, ["offset", "size"]),
        ("/w?offset=%7Boffset%7D&size=%7bsize%7d", False, []),
        ("/w/%7Bid%7D", True, ["id"]),
        ("/w/%7Bid%7D/more", True, ["id"]),
        ("/w/%7Bid%7D?x=1", True, ["id"]),
        ("/w/%7Bid%7D#top", True, ["id"]),
        ("/w?q=%22%7Boffset%7D%22", True, []),  # inside a value: text
        ("/w?q=a%7Boffset%7D", True, []),  # not at the start of a value
        ("/w?q=%7Boffset%7Dz", True, []),  # not at the end of a value
        ("/w?q=%7Bo9_%7D", True, ["o9_"]),
        ("/w?q=%7B9o%7D", True, []),
        ("{a}%7Bb%7D", True, ["a"]),
        ("/{a}?b=%7Bb%7D", True, ["a", "b"]),
        ("/{a}?b=%7Bb%7D", False, ["a"]),
        ("", True, []),
    ],
)
def test_template_variables(text: str, encoded: bool, names: list[str]) -> None:
    assert template_variables(text, encoded=encoded) == names


def test_template_variables_default_counts_encoded() -> None:
    assert template_variables("/w?o=%7Bo%7D") == ["o"]


# -- expand ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "filled"),
    [
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("é", "%C3%A9"),
        ("?&=#", "%3F%26%3D%23"),
        ("%7B", "%257B"),
        (7, "7"),
        (True, "True"),
        (_HasId(42), "42"),
        (3.5, "3.5"),
    ],
)
def test_expand_encodes_every_value_into_one_segment(value: Any, filled: str) -> None:
    assert expand("/api/v3/users/{id}/x", {"id": value}) == f"/api/v3/users/{filled}/x"


def test_expand_without_encoding_inserts_text_as_is() -> None:
    assert expand("/u/{id}", {"id": "a/b c"}, encode=False) == "/u/a/b c"
    assert expand("/u/{id}", {"id": _HasId(5)}, encode=False) == "/u/5"


def test_expand_fills_percent_encoded_placeholders_only_when_told() -> None:
    text = "/w?offset=%7Boffset%7D&x={x}"
    assert expand(text, {"offset": 2, "x": "y"}) == "/w?offset=2&x=y"
    assert expand(text, {"x": "y"}, encoded=False) == "/w?offset=%7Boffset%7D&x=y"


def test_expand_a_string_with_an_id_attribute_is_the_string() -> None:
    class Named(str):
        id = 99

    assert expand("/u/{n}", {"n": Named("abc")}) == "/u/abc"


def test_missing_value_message_names_template_variable_and_all_variables() -> None:
    with pytest.raises(MissingTemplateValue) as info:
        expand("/a/{x}/{y}?o=%7Bo%7D", {"x": 1})
    assert str(info.value) == (
        "template '/a/{x}/{y}?o=%7Bo%7D' needs 'y'; pass it as a keyword argument "
        "(variables: x, y, o)"
    )
    assert isinstance(info.value, TypeError)


def test_missing_value_message_lists_braced_only_when_not_encoded() -> None:
    with pytest.raises(MissingTemplateValue) as info:
        expand("/a/{x}?o=%7Bo%7D", {}, encoded=False)
    assert str(info.value) == (
        "template '/a/{x}?o=%7Bo%7D' needs 'x'; pass it as a keyword argument (variables: x)"
    )


# -- payloads -------------------------------------------------------------------------


def test_expand_payload_fills_strings_at_any_depth_and_keeps_the_rest() -> None:
    payload = {
        "user": {"href": "/api/v3/users/{user_id}"},
        "list": ["{user_id}", "plain", 3, None, {"deep": "x/{name}"}],
        "n": 1,
        "flag": True,
        "text": "100% {not a var}",
    }
    out = expand_payload(payload, {"user_id": 7, "name": "a b/c"})
    assert out == {
        "user": {"href": "/api/v3/users/7"},
        "list": ["7", "plain", 3, None, {"deep": "x/a%20b%2Fc"}],
        "n": 1,
        "flag": True,
        "text": "100% {not a var}",
    }
    assert payload["user"] == {"href": "/api/v3/users/{user_id}"}  # input untouched


def test_expand_payload_leaves_strings_without_placeholders_alone() -> None:
    # such a string is not run through expand (and not re-encoded)
    assert expand_payload("a b%20c", {}) == "a b%20c"
    assert expand_payload(5, {}) == 5
    assert expand_payload(None, {}) is None


def test_expand_payload_missing_value() -> None:
    with pytest.raises(MissingTemplateValue, match="needs 'id'"):
        expand_payload({"a": ["{id}"]}, {})


def test_payload_variables_in_order_each_once() -> None:
    payload = {"a": "{x}", "b": ["{y}", {"c": "{x}/{z}"}], "d": 3, "e": "?q=%7Bw%7D"}
    assert payload_variables(payload) == ["x", "y", "z", "w"]
    assert payload_variables([["{b}"], "{a}"]) == ["b", "a"]
    assert payload_variables("{s}") == ["s"]
    assert payload_variables(None) == []
    assert payload_variables(12) == []


# -- Link -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [[1], "x", None, 5])
def test_link_refuses_a_non_object(raw: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        Link("self", raw)
    kind = type(raw).__name__
    assert str(info.value) == (
        f"link 'self' is not a link object (expected {{'href': ...}}, got {kind})"
    )


@pytest.mark.parametrize("href", [5, ["/a"], {"x": 1}])
def test_link_refuses_a_non_string_href(href: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        Link("parent", {"href": href})
    assert str(info.value) == f"link 'parent' has a non-string href ({type(href).__name__})"


def test_link_fields() -> None:
    raw = {"href": "/a", "title": "A", "type": "text/html", "payload": {"p": 1}}
    lk = Link("r", raw)
    assert lk.rel == "r"
    assert lk.raw is raw
    assert lk.href == "/a"
    assert lk.title == "A"
    assert lk.type == "text/html"
    assert lk.payload == {"p": 1}
    bare = Link("r", {})
    assert (bare.href, bare.title, bare.type, bare.payload) == (None, None, None, None)
    odd = Link("r", {"href": None, "title": 3, "type": ["x"]})
    assert (odd.title, odd.type) == (None, None)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (None, "GET"),
        ("", "GET"),
        (" , ", "GET"),
        (5, "GET"),
        ("post", "POST"),
        (" patch ", "PATCH"),
        ("delete,", "DELETE"),
        (",Put", "PUT"),
        ("get", "GET"),
    ],
)
def test_link_method(method: Any, expected: str) -> None:
    lk = Link("r", {"href": "/a", "method": method})
    assert lk.method == expected
    assert lk.is_action is (expected != "GET")


@pytest.mark.parametrize(
    ("raw", "templated"),
    [
        ({"href": "/a/{id}"}, True),
        ({"href": "/a?o=%7Bo%7D"}, False),
        ({"href": "/a?o=%7Bo%7D", "templated": True}, True),
        ({"href": "/a", "templated": True}, True),
        ({"href": "/a", "templated": False}, False),
        ({"href": None}, False),
        ({"href": "/a"}, False),
    ],
)
def test_link_templated(raw: dict[str, Any], templated: bool) -> None:
    assert Link("r", raw).templated is templated


def test_link_variables_and_expand_follow_the_templated_mark() -> None:
    unmarked = Link("r", {"href": "/w/{id}?o=%7Bo%7D"})
    assert unmarked.variables == ["id"]
    assert unmarked.expand(id="a/b") == "/w/a%2Fb?o=%7Bo%7D"
    marked = Link("r", {"href": "/w/{id}?o=%7Bo%7D", "templated": True})
    assert marked.variables == ["id", "o"]
    assert marked.expand(id=1, o=2) == "/w/1?o=2"


def test_link_variables_include_the_payload_once() -> None:
    lk = Link(
        "addWatcher",
        {"href": "/w/{id}", "method": "post", "payload": {"user": "{uid}", "again": "{id}"}},
    )
    assert lk.variables == ["id", "uid"]
    assert Link("r", {"href": None, "payload": "{p}"}).variables == ["p"]


def test_link_expand_without_href() -> None:
    with pytest.raises(TypeError) as info:
        Link("assignee", {"href": None}).expand()
    assert str(info.value) == "link 'assignee' has no href"


def test_undisclosed() -> None:
    assert UNDISCLOSED == "urn:openproject-org:api:v3:undisclosed"
    assert Link("p", {"href": UNDISCLOSED}).undisclosed is True
    assert Link("p", {"href": "/api/v3/projects/1"}).undisclosed is False
    assert Link("p", {"href": None}).undisclosed is False


@pytest.mark.parametrize(
    ("media_type", "is_api"),
    [
        (None, True),
        ("", True),
        ("application/hal+json", True),
        ("Application/HAL+JSON; charset=utf-8", True),
        (" application/json ", True),
        ("application/vnd.api+json", True),
        ("text/html", False),
        ("text/html; profile=json", False),
        ("application/pdf", False),
        ("application/jsonp", False),
    ],
)
def test_is_api(media_type: str | None, is_api: bool) -> None:
    raw: dict[str, Any] = {"href": "/a"}
    if media_type is not None:
        raw["type"] = media_type
    assert Link("r", raw).is_api is is_api


@pytest.mark.parametrize(
    ("raw", "endings", "result"),
    [
        ({"href": "/api/v3/work_packages/form", "method": "post"}, ("/form",), True),
        ({"href": "/api/v3/work_packages/form/", "method": "POST"}, ("/form",), True),
        ({"href": "/api/v3/work_packages/form?x=1", "method": "post"}, ("/form",), True),
        ({"href": "https://h.example/api/v3/x/form", "method": "post"}, ("/form",), True),
        ({"href": "/api/v3/work_packages/form"}, ("/form",), False),  # a GET
        ({"href": "/api/v3/work_packages/form", "method": "patch"}, ("/form",), False),
        ({"href": "/api/v3/render/markdown", "method": "post"}, ("/form", "/markdown"), True),
        ({"href": "/api/v3/render/markdown", "method": "post"}, ("/form",), False),
        ({"href": "/api/v3/platform", "method": "post"}, ("/form",), False),
        ({"href": None, "method": "post"}, ("/form",), False),
        ({"href": "http://[::1/form", "method": "post"}, ("/form",), False),  # unparsable
    ],
)
def test_posts_to(raw: dict[str, Any], endings: tuple[str, ...], result: bool) -> None:
    assert Link("r", raw).posts_to(*endings) is result


def test_equality_and_hash() -> None:
    a = Link("r", {"href": "/a", "method": "post"})
    same = Link("r", {"href": "/a", "method": "post"})
    other_rel = Link("s", {"href": "/a", "method": "post"})
    other_raw = Link("r", {"href": "/a", "method": "post", "title": "T"})
    assert a == same
    assert hash(a) == hash(same)
    assert a != other_rel
    assert a != other_raw
    assert a != "/a"
    assert a.__eq__("/a") is NotImplemented
    assert len({a, same, other_rel}) == 2
    assert hash(a) == hash(("r", "/a", "POST"))


def test_repr() -> None:
    assert repr(Link("self", {"href": "/a"})) == "<Link self /a>"
    assert repr(Link("del", {"href": "/a", "method": "delete", "title": "X"})) == (
        "<Link del DELETE /a 'X'>"
    )
    assert repr(Link("p", {"href": None, "title": ""})) == "<Link p None>"


def test_parse_links() -> None:
    assert parse_links(None) == {}
    assert parse_links({}) == {}
    out = parse_links({"self": {"href": "/a"}, "children": [{"href": "/b"}, {"href": "/c"}]})
    assert out == {
        "self": Link("self", {"href": "/a"}),
        "children": [Link("children", {"href": "/b"}), Link("children", {"href": "/c"})],
    }


@pytest.mark.parametrize("raw", [[1], "x", 3])
def test_parse_links_refuses_a_non_object(raw: Any) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_links(raw)
    assert str(info.value) == f"_links must be an object, got {type(raw).__name__}"


# -- properties -----------------------------------------------------------------------

_segments = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8)


@given(value=st.text(), prefix=st.lists(_segments, max_size=3), suffix=_segments)
def test_any_string_fills_exactly_one_path_segment(
    value: str, prefix: list[str], suffix: str
) -> None:
    assume(value not in (".", ".."))  # dot segments: their encoding is the hardening's
    base = "/api/" + "/".join([*prefix, ""])
    href = f"{base}{{v}}/{suffix}"
    filled = Link("r", {"href": href}).expand(v=value)
    # the path keeps its shape: the value never adds a segment, query or fragment
    parts = urlsplit(filled)
    assert (parts.query, parts.fragment) == ("", "")
    segments = parts.path.split("/")
    assert len(segments) == len(prefix) + 4
    assert segments[-1] == suffix
    assert unquote(segments[-2]) == value


@given(value=st.text())
def test_any_string_round_trips_through_a_query_placeholder(value: str) -> None:
    lk = Link("jumpTo", {"href": "/w?filters=%5B%5D&offset=%7Bo%7D&pageSize=2", "templated": True})
    filled = lk.expand(o=value)
    parts = urlsplit(filled)
    assert parts.path == "/w"
    assert parse_qsl(parts.query, keep_blank_values=True) == [
        ("filters", "[]"),
        ("offset", value),
        ("pageSize", "2"),
    ]


def test_posts_to_compares_the_path_as_it_is() -> None:
    assert Link("r", {"href": "/x/formX", "method": "post"}).posts_to("/form") is False
