"""_config and _body, exactly: settings checks and request bodies of fixed-shape actions.

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from openproject_async import HttpResponse, Link, OpenProject, Resource, RetryPolicy
from openproject_async._body import (
    FORMATTABLE_ARGS,
    LINK_ARGS,
    _id_from,
    action_body,
    camel,
    fill_template_vars,
    href_of,
    is_reference,
    iso_duration,
    link_value,
    looks_like_href,
    scalar,
)
from openproject_async._config import (
    API_PATH,
    base_url_of,
    check_settings,
    client_timeout,
    timeouts_of,
)
from openproject_async._policy import Timeouts
from openproject_async.testing import MockTransport

OP = OpenProject(
    "https://op.test", api_key="k", transport=MockTransport(lambda r: HttpResponse.json({}))
)


def res(href: str | None, **data: Any) -> Resource:
    return Resource(OP, {"_type": "X", **data, "_links": {"self": {"href": href}}})


# -- _config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://op.test", "https://op.test"),
        ("https://op.test/", "https://op.test"),
        ("https://op.test/api/v3", "https://op.test"),
        ("https://op.test/api/v3/", "https://op.test"),
        ("https://op.test/sub/api/v3", "https://op.test/sub"),
        ("https://op.test/sub?q=1#f", "https://op.test/sub"),
        ("https://op.test/sub/?q=1", "https://op.test/sub"),  # a trailing slash before a query
        ("https://op.test/api/v3/?q=1#f", "https://op.test"),
        ("https://op.test/sub//", "https://op.test/sub"),
        ("http://127.0.0.1:8080/op", "http://127.0.0.1:8080/op"),
        ("https://op.test/api/v3x", "https://op.test/api/v3x"),
        ("https://op.test/subX", "https://op.test/subX"),
    ],
)
def test_base_url_of(url: str, base: str) -> None:
    assert API_PATH == "/api/v3"
    assert base_url_of(url) == URL(base)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (5, "url must be an http(s) URL of the server, got a 'int' value"),
        (None, "url must be an http(s) URL of the server, got a 'NoneType' value"),
        ("ftp://op.test", "url must be an http(s) URL of the server, got a 'ftp' value"),
        ("op.test", "url must be an http(s) URL of the server, got a 'op.test' value"),
        ("https://[::1", "url is not a valid URL"),
        (
            "https://u:secret@op.test/x?token=t",
            "url must not contain credentials (https://op.test/x?token=***); "
            "pass api_key=, token= or oauth= instead",
        ),
        (
            "https://u@op.test",
            "url must not contain credentials (https://op.test); "
            "pass api_key=, token= or oauth= instead",
        ),
        ("https:///path", "url has no host: 'https:///path'"),
        ("https:///path?token=s#f", "url has no host: 'https:///path'"),
        ("http://?x", "url has no host: 'http://'"),
        ("https:///p#frag", "url has no host: 'https:///p'"),
    ],
)
def test_base_url_of_refuses(url: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$") as info:
        base_url_of(url)
    assert info.value.__suppress_context__ is (message == "url is not a valid URL")


def test_check_settings() -> None:
    check_settings(1, None, "refuse_writes")
    check_settings(3, RetryPolicy(), "allow")
    check_settings(3, None, "refuse")


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0, None, "allow"), ValueError, "max_concurrency must be an int >= 1, got 0"),
        ((1.5, None, "allow"), ValueError, "max_concurrency must be an int >= 1, got 1.5"),
        (
            (1, 3, "allow"),
            TypeError,
            "retry must be a RetryPolicy or None (no retries), got int",
        ),
        (
            (1, None, "sometimes"),
            ValueError,
            "cross_origin must be one of refuse_writes, refuse, allow, got 'sometimes'",
        ),
    ],
)
def test_check_settings_refuses(args: tuple[Any, ...], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        check_settings(*args)
    assert str(info.value) == message


def test_client_timeout() -> None:
    given_timeout = aiohttp.ClientTimeout(total=3)
    assert client_timeout(given_timeout, -1, -1) is given_timeout
    assert client_timeout(None, 5, 30) == aiohttp.ClientTimeout(total=None, connect=5, sock_read=30)
    assert client_timeout(2, 5, 30) == aiohttp.ClientTimeout(total=2.0, connect=2.0, sock_read=30)
    assert client_timeout(10.5, 5, 30) == aiohttp.ClientTimeout(total=10.5, connect=5, sock_read=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, 0, 1), "connect_timeout must be seconds > 0, got 0"),
        ((None, True, 1), "connect_timeout must be seconds > 0, got True"),
        ((None, "1", 1), "connect_timeout must be seconds > 0, got '1'"),
        ((None, 1, -2), "read_timeout must be seconds > 0, got -2"),
        ((0, 1, 1), "timeout must be seconds > 0 or an aiohttp.ClientTimeout, got 0"),
        ((True, 1, 1), "timeout must be seconds > 0 or an aiohttp.ClientTimeout, got True"),
        (("5", 1, 1), "timeout must be seconds > 0 or an aiohttp.ClientTimeout, got '5'"),
    ],
)
def test_client_timeout_refuses(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        client_timeout(*args)


def test_timeouts_of() -> None:
    t = aiohttp.ClientTimeout(total=9, connect=2, sock_read=4)
    assert timeouts_of(t) == Timeouts(connect=2, read=4, total=9)


# -- _body: small functions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "out"),
    [
        ("work_package", "workPackage"),
        ("a_b_c", "aBC"),
        ("lock_version2", "lockVersion2"),
        ("x_1", "x1"),
        ("_links", "_links"),
        ("_private_thing", "_private_thing"),
        ("plain", "plain"),
        ("Upper_Case", "Upper_Case"),
        ("already_Camel", "already_Camel"),
    ],
)
def test_camel(name: str, out: str) -> None:
    assert camel(name) == out


def test_constants() -> None:
    assert dict(FORMATTABLE_ARGS) == {"addComment": frozenset({"comment"})}
    assert dict(LINK_ARGS) == {
        "addRelation": frozenset({"to", "from"}),
        "addWatcher": frozenset({"user"}),
        "executeImmediately": frozenset({"workPackage"}),
    }


@pytest.mark.parametrize(
    ("value", "href"),
    [
        ("/a", True),
        ("http://h", True),
        ("https://h", True),
        ("urn:x", True),
        ("Task", False),
        ("", False),
        ("ftp://h", False),
        (5, False),
        (None, False),
    ],
)
def test_looks_like_href(value: Any, href: bool) -> None:
    assert looks_like_href(value) is href


def test_href_of_and_is_reference() -> None:
    lk = Link("x", {"href": "/l"})
    r = res("/r")
    assert href_of(lk) == "/l"
    assert href_of(Link("x", {"href": None})) is None
    assert href_of(r) == "/r"
    assert href_of(res(None)) is None
    assert href_of("/str") is None
    assert href_of(type("H", (), {"href": "/h"})()) is None  # no links: not a resource
    assert is_reference(lk)
    assert is_reference(r)
    assert is_reference([lk, r])
    assert is_reference((r,))
    assert not is_reference([])
    assert not is_reference([lk, "/x"])
    assert not is_reference("/x")
    assert not is_reference({"href": "/x"})


def test_link_value() -> None:
    assert link_value(None) == {"href": None}
    assert link_value("/a") == {"href": "/a"}
    assert link_value({"href": "/m", "title": "t"}) == {"href": "/m"}
    assert link_value(Link("x", {"href": None})) == {"href": None}
    assert link_value(res("/r")) == {"href": "/r"}
    assert link_value(["/a", None, (res("/b"),)]) == [
        {"href": "/a"},
        {"href": None},
        [{"href": "/b"}],
    ]
    with pytest.raises(TypeError) as info:
        link_value(5)
    assert str(info.value) == (
        "cannot use 5 as a link: expected a resource, a Link, an href string or None"
    )
    with pytest.raises(TypeError):
        link_value({"title": "no href"})
    with pytest.raises(TypeError):
        link_value(res(None))


def test_scalar() -> None:
    assert scalar(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
    assert scalar(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "2024-01-02T03:04:05Z"
    cet = dt.timezone(dt.timedelta(hours=2))
    assert scalar(dt.datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=cet)) == (
        "2024-01-02T01:04:05.000600Z"
    )
    assert scalar(dt.date(2024, 1, 2)) == "2024-01-02"
    assert scalar(dt.timedelta(days=1, hours=2, minutes=30)) == "P1DT2H30M"
    assert scalar([dt.date(2024, 1, 2), (1, dt.timedelta(0))]) == ["2024-01-02", [1, "PT0S"]]
    assert scalar("x") == "x"
    assert scalar({"a": dt.date(2024, 1, 2)}) == {"a": dt.date(2024, 1, 2)}


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(0), "PT0S"),
        (dt.timedelta(seconds=0.4), "PT0S"),
        (dt.timedelta(seconds=0.6), "PT1S"),
        (dt.timedelta(days=5), "P5D"),
        (dt.timedelta(hours=10), "PT10H"),
        (dt.timedelta(minutes=1), "PT1M"),
        (dt.timedelta(seconds=59), "PT59S"),
        (dt.timedelta(days=1, seconds=1), "P1DT1S"),
        (dt.timedelta(hours=1, minutes=2, seconds=3), "PT1H2M3S"),
        (dt.timedelta(days=2, hours=3), "P2DT3H"),
    ],
)
def test_iso_duration(delta: dt.timedelta, text: str) -> None:
    assert iso_duration(delta) == text


def test_negative_duration() -> None:
    message = "negative duration datetime.timedelta(days=-1, seconds=86399)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        iso_duration(dt.timedelta(seconds=-1))


@given(st.integers(min_value=0, max_value=10**7))
def test_iso_duration_round_trips(seconds: int) -> None:
    text = iso_duration(dt.timedelta(seconds=seconds))
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text)
    assert m is not None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    assert d * 86400 + h * 3600 + mi * 60 + s == seconds
    assert (h < 24, mi < 60, s < 60) == (True, True, True)


@pytest.mark.parametrize(
    ("ref", "ident"),
    [
        (True, None),
        (7, 7),
        ("/api/v3/users/9", "9"),
        ("/api/v3/users/9/", "9"),
        ("https://h/api/v3/users/10", "10"),
        ("abc", "abc"),
        (Link("u", {"href": "/api/v3/users/11"}), "11"),
        (Link("u", {"href": None}), None),
        (res("/api/v3/users/12"), "12"),
        (res("/api/v3/users/12", id=13), 13),
        (res("/api/v3/users/12", id=None), "12"),
        (object(), None),
    ],
)
def test_id_from(ref: Any, ident: Any) -> None:
    assert _id_from(ref) == ident


def test_fill_template_vars() -> None:
    user = res("/api/v3/users/4", id=4)
    kwargs: dict[str, Any] = {"id": 1, "user": user, "other": "x", "thing": True}
    refs: dict[str, Any] = {}
    values = fill_template_vars(["id", "user_id", "missing", "thing_id"], kwargs, refs)
    assert values == {"id": 1, "user_id": 4}
    assert kwargs == {"other": "x", "thing": True}  # a bool is not an id: left alone
    assert refs == {"user": user}
    kw2: dict[str, Any] = {"user": "/api/v3/users/5"}
    assert fill_template_vars(["user_id"], kw2) == {"user_id": "5"}
    assert kw2 == {}


# -- action_body --------------------------------------------------------------------------

WATCH = Link(
    "addWatcher",
    {
        "href": "/api/v3/work_packages/1/watchers",
        "method": "post",
        "payload": {"user": {"href": "/api/v3/users/{user_id}"}},
        "templated": True,
    },
)


def test_add_watcher_from_an_id_or_a_reference() -> None:
    assert action_body(None, "addWatcher", WATCH, {}, {"user_id": 3}) == {
        "user": {"href": "/api/v3/users/3"}
    }
    user = res("https://op.test/api/v3/users/8")
    assert action_body(None, "addWatcher", WATCH, {}, {"user_id": 8}, {"user": user}) == {
        "user": {"href": "https://op.test/api/v3/users/8"}
    }
    assert action_body(None, "addWatcher", WATCH, {}, {"user_id": 8}, {"user": "/u/8"}) == {
        "user": {"href": "/u/8"}
    }
    # a reference that is neither a resource nor an href: the template is filled
    assert action_body(None, "addWatcher", WATCH, {}, {"user_id": 8}, {"user": 8}) == {
        "user": {"href": "/api/v3/users/8"}
    }
    # given as a keyword: a link at the root, where the payload has it
    assert action_body(None, "addWatcher", WATCH, {"user": "/api/v3/users/2"}, {"user_id": 0}) == {
        "user": {"href": "/api/v3/users/2"}
    }


def test_payload_links_and_scalars_are_filled() -> None:
    link = Link(
        "x",
        {
            "href": "/x",
            "method": "post",
            "payload": {
                "_links": {"a": {"href": "/a/{a_id}"}, "b": {"href": "/b"}},
                "n": "{a_id}",
                "k": 1,
            },
        },
    )
    a = res("/real/a")
    assert action_body(None, "x", link, {}, {"a_id": 5}) == {
        "_links": {"a": {"href": "/a/5"}, "b": {"href": "/b"}},
        "n": "5",
        "k": 1,
    }
    assert action_body(None, "x", link, {"k": 2}, {"a_id": 5}, {"a": a}) == {
        "_links": {"a": {"href": "/real/a"}, "b": {"href": "/b"}},
        "n": "5",
        "k": 2,
    }


def test_keyword_arguments_are_placed() -> None:
    link = Link("addComment", {"href": "/c", "method": "post"})
    body = action_body(
        None,
        "addComment",
        link,
        {
            "comment": "hi",
            "internal": False,
            "due_date": dt.date(2024, 1, 2),
            "assignee": res("/u/1"),
            "_links": {"x": {"href": "/x"}},
            "_meta": {"m": 1},
            "raw_list": [1],
        },
        {},
    )
    assert body == {
        "comment": {"raw": "hi"},
        "internal": False,
        "dueDate": "2024-01-02",
        "_links": {"assignee": {"href": "/u/1"}, "x": {"href": "/x"}},
        "_meta": {"m": 1},
        "rawList": [1],
    }
    # not a formattable argument of another action
    other = action_body(
        None, "other", Link("o", {"href": "/o", "method": "post"}), {"comment": "c"}, {}
    )
    assert other == {"comment": "c"}
    # a non-string comment is a scalar
    assert action_body(None, "addComment", link, {"comment": {"raw": "r"}}, {}) == {
        "comment": {"raw": "r"}
    }


def test_link_arguments_take_hrefs_and_none() -> None:
    link = Link("addRelation", {"href": "/r", "method": "post"})
    assert action_body(None, "addRelation", link, {"to": "/wp/2", "type": "follows"}, {}) == {
        "_links": {"to": {"href": "/wp/2"}},
        "type": "follows",
    }
    assert action_body(None, "addRelation", link, {"from": None}, {}) == {
        "_links": {"from": {"href": None}}
    }
    assert action_body(None, "addRelation", link, {"to": 5}, {}) == {"to": 5}
    assert action_body(None, "other", link, {"to": "/wp/2"}, {}) == {"to": "/wp/2"}


def test_nothing_to_send() -> None:
    delete = Link("delete", {"href": "/x", "method": "delete"})
    assert action_body(None, "delete", delete, {}, {}) is None
    empty_payload = Link("p", {"href": "/x", "method": "post", "payload": {}})
    assert action_body(None, "p", empty_payload, {}, {}) == {}
    odd_payload = Link("p", {"href": "/x", "method": "post", "payload": "text"})
    assert action_body(None, "p", odd_payload, {}, {}) == {}


def test_patch_to_the_resource_carries_its_lock_version() -> None:
    wp = res("/api/v3/work_packages/1", lockVersion=4)
    update = Link("updateImmediately", {"href": "/api/v3/work_packages/1", "method": "patch"})
    assert action_body(wp, "updateImmediately", update, {"subject": "s"}, {}) == {
        "subject": "s",
        "lockVersion": 4,
    }
    assert action_body(wp, "updateImmediately", update, {"lock_version": 9}, {}) == {
        "lockVersion": 9
    }
    elsewhere = Link("x", {"href": "/api/v3/other", "method": "patch"})
    assert action_body(wp, "x", elsewhere, {"a": 1}, {}) == {"a": 1}
    post = Link("x", {"href": "/api/v3/work_packages/1", "method": "post"})
    assert action_body(wp, "x", post, {"a": 1}, {}) == {"a": 1}
    nolock = res("/api/v3/work_packages/1")
    assert action_body(nolock, "x", update, {"a": 1}, {}) == {"a": 1}
    nohref = Link("x", {"href": None, "method": "patch"})
    assert action_body(res(None, lockVersion=1), "x", nohref, {"a": 1}, {}) == {"a": 1}


def test_execute_immediately() -> None:
    link = Link("executeImmediately", {"href": "/ca/1/execute", "method": "post"})
    wp = res("/api/v3/work_packages/3", lockVersion=6)
    assert action_body(None, "executeImmediately", link, {"work_package": wp}, {}) == {
        "lockVersion": 6,
        "_links": {"workPackage": {"href": "/api/v3/work_packages/3"}},
    }
    assert action_body(
        None,
        "executeImmediately",
        link,
        {"work_package": "/api/v3/work_packages/3", "lock_version": 2},
        {},
    ) == {"lockVersion": 2, "_links": {"workPackage": {"href": "/api/v3/work_packages/3"}}}
    assert action_body(None, "executeImmediately", link, {}, {}) is None
    with pytest.raises(TypeError) as info:
        action_body(None, "executeImmediately", link, {"work_package": "/wp/3"}, {})
    assert str(info.value) == (
        "executing a custom action needs the work package's lockVersion: pass the work "
        "package resource as work_package=, or lock_version= with its href"
    )
    with pytest.raises(TypeError, match="lockVersion"):
        action_body(None, "executeImmediately", link, {"work_package": res("/wp/3")}, {})


# -- what mutation testing found untested ------------------------------------------------


def test_id_from_edges() -> None:
    assert _id_from("a/b") == "a/b"  # not an href: the value itself
    assert _id_from("/api/v3/x/AX") == "AX"
    assert _id_from(Link("u", {"href": "/api/v3/users/11/"})) == "11"
    assert _id_from(res("/api/v3/x/BX")) == "BX"


def test_fill_template_vars_takes_a_reference_only_for_an_id_variable() -> None:
    kwargs: dict[str, Any] = {"off": 5}
    assert fill_template_vars(["offset"], kwargs) == {}
    assert kwargs == {"off": 5}


def test_an_object_with_an_href_but_no_links_is_not_a_reference() -> None:
    assert is_reference(type("H", (), {"href": "/h"})()) is False
    assert is_reference(type("L", (), {"links": {}})()) is False


def test_scalar_converts_to_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        cet = dt.timezone(dt.timedelta(hours=2))
        assert scalar(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=cet)) == "2024-01-02T01:04:05Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_payload_values_are_replaced_not_merged_but_links_and_meta_merge() -> None:
    link = Link(
        "x",
        {
            "href": "/x",
            "method": "post",
            "payload": {"x": {"a": 1}, "_meta": {"a": 1}, "_links": {"l": {"href": "/l"}}},
        },
    )
    body = action_body(
        None,
        "x",
        link,
        {"x": {"b": 2}, "_meta": {"b": 2}, "_links": {"m": {"href": "/m"}}},
        {},
    )
    assert body == {
        "x": {"b": 2},
        "_meta": {"a": 1, "b": 2},
        "_links": {"l": {"href": "/l"}, "m": {"href": "/m"}},
    }


def test_the_scheme_named_for_a_url_with_a_port() -> None:
    message = "url must be an http(s) URL of the server, got a 'ftp' value"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        base_url_of("ftp://op.test:21/x")
