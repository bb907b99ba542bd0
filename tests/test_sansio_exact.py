"""_sansio and _error_map, exactly: status x media type x body → document or typed error.

Written against mutation testing (README, "Development"): exact messages, fields and bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openproject_async._error_map import error_class_for, multiple_errors_of
from openproject_async._sansio import (
    JSON_TYPES,
    SNIPPET,
    decode,
    decode_text,
    dumps,
    encode_params,
    error_from_document,
    validation_errors,
)
from openproject_async.errors import (
    APIError,
    InvalidQuery,
    MultipleErrors,
    NotFound,
    OutboundRequestNotFound,
    PropertyConstraintViolation,
    ProtocolError,
    Throttled,
)

URN = "urn:openproject-org:api:v3:errors:"
HAL = "application/hal+json"


def _err(suffix: str, message: str = "m", **extra: Any) -> dict[str, Any]:
    return {"_type": "Error", "errorIdentifier": URN + suffix, "message": message, **extra}


# -- decode: success -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/hal+json",
        "application/json",
        "application/problem+json",
        "application/hal+json; charset=utf-8",
        " Application/HAL+JSON ",
        "application/vnd.custom+json",
    ],
)
def test_json_media_types_are_decoded(content_type: str) -> None:
    assert decode(200, content_type, b'{"a": 1}') == {"a": 1}


def test_json_types_constant() -> None:
    assert JSON_TYPES == ("application/hal+json", "application/json", "application/problem+json")
    assert SNIPPET == 200


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_empty_or_blank_2xx_is_none(status: int) -> None:
    assert decode(status, "", b"") is None
    assert decode(status, HAL, b"  \n") is None


@pytest.mark.parametrize("status", [200, 299])
def test_document_at_2xx_bounds(status: int) -> None:
    assert decode(status, HAL, b'{"_type": "Project"}') == {"_type": "Project"}


# -- decode: protocol errors -----------------------------------------------------------


@pytest.mark.parametrize("status", [199, 300, 304, 404, 500])
def test_empty_answer_outside_2xx(status: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(status, "text/plain", b" ", url="https://h/x")
    e = info.value
    assert (e.status, e.content_type, e.url, e.snippet) == (status, "text/plain", "https://h/x", "")
    assert (
        str(e)
        == f"empty error answer; status {status}; content type 'text/plain'; from https://h/x"
    )


def test_not_json_below_400() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(399, "text/html", b"<html>hi</html>", url="/p")
    assert str(info.value) == (
        "answer is not JSON (expected application/hal+json); status 399; "
        "content type 'text/html'; from /p; body starts '<html>hi</html>'"
    )
    assert info.value.snippet == "<html>hi</html>"


def test_not_json_from_400() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(400, "text/html", b"<html>bad</html>")
    assert str(info.value) == (
        "error answer is not a HAL Error (expected application/hal+json); status 400; "
        "content type 'text/html'; body starts '<html>bad</html>'"
    )
    assert info.value.url == ""


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/jsonx", "json"])
def test_media_types_that_are_not_json(content_type: str) -> None:
    with pytest.raises(ProtocolError, match="answer is not JSON"):
        decode(200, content_type, b'{"a": 1}')


def test_snippet_is_the_first_200_bytes_decoded_with_replacement() -> None:
    body = b"\xff" + b"x" * 300
    with pytest.raises(ProtocolError) as info:
        decode(502, "text/html", body)
    assert info.value.snippet == "\ufffd" + "x" * 199


def test_invalid_json() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(200, HAL, b'{"a": ', url="/u")
    e = info.value
    assert str(e).startswith("invalid or truncated JSON (")
    assert (e.status, e.content_type, e.snippet, e.url) == (200, HAL, '{"a": ', "/u")
    assert e.__cause__ is None
    assert e.__suppress_context__ is True


@pytest.mark.parametrize(("body", "kind"), [(b"[1]", "list"), (b'"s"', "str"), (b"3", "int")])
def test_json_that_is_not_an_object(body: bytes, kind: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(200, HAL, body, url="/u")
    assert str(info.value) == (
        f"expected a JSON object, got {kind}; status 200; content type "
        f"'application/hal+json'; from /u; body starts {body.decode()!r}"
    )


@pytest.mark.parametrize("status", [199, 300, 302, 399])
def test_object_with_a_status_that_is_neither_2xx_nor_error(status: int) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(status, HAL, b'{"a": 1}', url="/u")
    assert str(info.value) == (
        "unexpected status for an API answer (expected 2xx or an Error document); "
        f"status {status}; content type 'application/hal+json'; from /u; "
        "body starts '{\"a\": 1}'"
    )


def test_url_function_is_called_only_for_an_error() -> None:
    calls: list[int] = []

    def url() -> str:
        calls.append(1)
        return "https://h/lazy"

    assert decode(200, HAL, b"{}", url=url) == {}
    assert calls == []
    with pytest.raises(ProtocolError) as info:
        decode(200, HAL, b"[]", url=url)
    assert info.value.url == "https://h/lazy"
    for status, ctype, body in [(500, HAL, b""), (200, "text/html", b"x"), (200, HAL, b"{")]:
        with pytest.raises(ProtocolError) as info:
            decode(status, ctype, body, url=url)
        assert info.value.url == "https://h/lazy"
    with pytest.raises(ProtocolError) as info:
        decode(302, HAL, b"{}", url=url)
    assert info.value.url == "https://h/lazy"


# -- decode: error documents -----------------------------------------------------------


def test_error_document_at_2xx_is_raised() -> None:
    with pytest.raises(NotFound) as info:
        decode(200, HAL, json.dumps(_err("NotFound", "gone")).encode())
    assert (info.value.status, info.value.message) == (200, "gone")


def test_any_json_at_4xx_is_an_error() -> None:
    with pytest.raises(APIError) as info:
        decode(400, "application/json", b'{"x": 1}')
    e = info.value
    assert type(e) is APIError
    assert (e.status, e.identifier, e.message, e.body) == (400, None, "HTTP 400", {"x": 1})


def test_error_from_document_fields() -> None:
    doc = _err(
        "PropertyConstraintViolation",
        "Subject can't be blank.",
        _embedded={"details": {"attribute": "subject"}},
    )
    e = error_from_document(doc, 422)
    assert type(e) is PropertyConstraintViolation
    assert e.status == 422
    assert e.identifier == URN + "PropertyConstraintViolation"
    assert e.message == "Subject can't be blank."
    assert e.details == {"attribute": "subject"}
    assert e.attribute == "subject"
    assert e.errors == []
    assert e.body == doc
    assert e.body is not doc


@pytest.mark.parametrize(
    ("doc", "status", "message"),
    [
        ({"_type": "Error"}, 200, "Error document without errorIdentifier or message"),
        ({"_type": "Error"}, 399, "Error document without errorIdentifier or message"),
        ({"_type": "Error"}, 400, "HTTP 400"),
        ({"_type": "Error"}, None, ""),
        ({"_type": "Error", "message": 5}, 404, "5"),
        ({"_type": "Error", "message": None}, 404, "HTTP 404"),
        ({"_type": "Error", "message": "said"}, 404, "said"),
        ({"_type": "Error", "errorIdentifier": 5}, 404, "HTTP 404"),
    ],
)
def test_error_message_fallbacks(doc: dict[str, Any], status: int | None, message: str) -> None:
    e = error_from_document(doc, status)
    assert type(e) is APIError
    assert e.identifier is None
    assert e.message == message


def test_known_identifier_keeps_an_empty_message() -> None:
    e = error_from_document({"errorIdentifier": URN + "NotFound"}, 404)
    assert type(e) is NotFound
    assert e.message == ""


def test_unknown_identifier_without_message() -> None:
    e = error_from_document({"errorIdentifier": URN + "Brand:New"}, 409)
    assert type(e) is APIError
    assert (e.identifier, e.message) == (URN + "Brand:New", "")


def test_identifier_without_message_below_400_is_kept() -> None:
    e = error_from_document({"errorIdentifier": URN + "NotFound"}, 200)
    assert e.message == ""


@pytest.mark.parametrize("embedded", [None, [], "x", {"details": [1], "errors": "no"}])
def test_malformed_embedded_parts_are_ignored(embedded: Any) -> None:
    e = error_from_document(_err("NotFound", _embedded=embedded), 404)
    assert (e.details, e.errors) == ({}, [])


def test_multiple_errors_of_one_kind_are_catchable_as_that_kind() -> None:
    doc = _err(
        "MultipleErrors",
        "two",
        _embedded={
            "errors": [
                _err("InvalidQuery", "a"),
                "not an object",
                _err("InvalidQuery", "b"),
            ]
        },
    )
    e = error_from_document(doc, 400)
    assert isinstance(e, MultipleErrors)
    assert isinstance(e, InvalidQuery)
    assert [(type(m), m.message, m.status) for m in e.errors] == [
        (InvalidQuery, "a", 400),
        (InvalidQuery, "b", 400),
    ]


def test_multiple_errors_mixed_or_empty() -> None:
    mixed = error_from_document(
        _err("MultipleErrors", _embedded={"errors": [_err("InvalidQuery"), _err("NotFound")]}),
        400,
    )
    assert type(mixed) is MultipleErrors
    empty = error_from_document(_err("MultipleErrors", _embedded={"errors": []}), 400)
    assert type(empty) is MultipleErrors
    assert empty.errors == []


def test_members_of_a_non_multiple_error_are_kept_without_changing_its_class() -> None:
    e = error_from_document(_err("NotFound", _embedded={"errors": [_err("InvalidQuery")]}), 404)
    assert type(e) is NotFound
    assert [type(m) for m in e.errors] == [InvalidQuery]


def test_error_class_for() -> None:
    assert error_class_for(None) is APIError
    assert error_class_for("") is APIError
    assert error_class_for(URN + "NotFound") is NotFound
    assert error_class_for("NotFound") is NotFound
    assert error_class_for(URN + "Throttled") is Throttled
    assert error_class_for(URN + "OutboundRequest:NotFound") is OutboundRequestNotFound
    assert error_class_for(URN + "Nope") is APIError
    assert error_class_for("urn:other:NotFound") is APIError
    assert error_class_for(URN + "MultipleErrors") is MultipleErrors


def test_form_invalid_is_not_an_identifier() -> None:
    # FormInvalid is the library's own error (422 with validation errors), never a URN
    assert error_class_for(URN + "PropertyConstraintViolation") is PropertyConstraintViolation
    from openproject_async.errors import FormInvalid

    suffix = FormInvalid.__dict__.get("identifier_suffix")
    if isinstance(suffix, str):
        assert error_class_for(URN + suffix) is not FormInvalid


def test_multiple_errors_of() -> None:
    nf = [NotFound(404, None, "a"), NotFound(404, None, "b")]
    kind = multiple_errors_of(nf)
    assert issubclass(kind, MultipleErrors)
    assert issubclass(kind, NotFound)
    assert multiple_errors_of([NotFound(404, None, "a")]) is kind
    assert multiple_errors_of([*nf, InvalidQuery(400, None, "q")]) is MultipleErrors
    assert multiple_errors_of([]) is MultipleErrors


def test_validation_errors() -> None:
    raw = {
        "subject": _err("PropertyConstraintViolation", "blank"),
        "bad": "not an object",
        7: _err("PropertyFormatError", "fmt"),
    }
    out = validation_errors(raw)
    assert list(out) == ["subject", "7"]
    assert type(out["subject"]) is PropertyConstraintViolation
    assert (out["subject"].status, out["subject"].message) == (422, "blank")
    assert out["7"].message == "fmt"
    assert validation_errors(None) == {}
    assert validation_errors([raw]) == {}


# -- decode_text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/html", "<p>é</p>".encode(), "<p>é</p>"),
        ("text/html; charset=latin-1", "<p>é</p>".encode("latin-1"), "<p>é</p>"),
        ('text/html; Charset="ISO-8859-1"', "é".encode("latin-1"), "é"),
        ("text/html; CHARSET = latin-1 ", "é".encode("latin-1"), "é"),
        ("text/html; charset=", "é".encode(), "é"),
        ("text/html; format=flowed; charset=latin-1", "é".encode("latin-1"), "é"),
        ("text/html; charset=no-such-codec", "é".encode(), "é"),
        ("text/html", b"\xff", "\ufffd"),
        ("text/html; charset=ascii", b"a\xff", "a\ufffd"),
        ("", b"", ""),
    ],
)
def test_decode_text(content_type: str, body: bytes, text: str) -> None:
    assert decode_text(200, content_type, body) == text


@pytest.mark.parametrize("status", [201, 299])
def test_decode_text_2xx(status: int) -> None:
    assert decode_text(status, "text/plain", b"ok") == "ok"


def test_decode_text_error_answers_raise_like_decode() -> None:
    with pytest.raises(NotFound):
        decode_text(404, HAL, json.dumps(_err("NotFound")).encode())
    with pytest.raises(ProtocolError, match="error answer is not a HAL Error"):
        decode_text(500, "text/html", b"<h1>oops</h1>", url="/r")
    with pytest.raises(ProtocolError, match="unexpected status for an API answer"):
        decode_text(302, HAL, b"{}")
    with pytest.raises(ProtocolError, match="empty error answer"):
        decode_text(199, "text/html", b"")


# -- dumps / encode_params -------------------------------------------------------------


def test_dumps() -> None:
    assert dumps({"a": [1, "é", None, True]}) == '{"a":[1,"é",null,true]}'.encode()
    assert dumps({"d": dt.date(2024, 1, 2)}) == b'{"d":"2024-01-02"}'
    assert dumps({"n": 2**70, "s": "é", "d": dt.date(2024, 1, 2)}) == (
        '{"n":1180591620717411303424,"s":"é","d":"2024-01-02"}'.encode()
    )
    assert dumps({"n": 2**70, "t": dt.time(1, 2, 3)}) == (
        b'{"n":1180591620717411303424,"t":"01:02:03"}'
    )
    assert dumps({"n": -(2**70), "dt": dt.datetime(2024, 1, 2, 3, 4, 5)}) == (
        b'{"n":-1180591620717411303424,"dt":"2024-01-02T03:04:05"}'
    )


def test_dumps_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
    with pytest.raises(TypeError) as info:
        dumps({"n": 2**70, "x": object()})
    assert str(info.value) == "Type is not JSON serializable: object"


def test_encode_params() -> None:
    assert encode_params(
        {
            "none": None,
            "t": True,
            "f": False,
            "select": ["total", "elements/id"],
            "selectTuple": ("a", "b"),
            "filters": [{"status": {"operator": "o", "values": []}}],
            "sortBy": [["id", "asc"]],
            "obj": {"a": 1},
            "tuple": (1, 2),
            "n": 3,
            "s": "x y",
            "zero": 0,
        }
    ) == {
        "t": "true",
        "f": "false",
        "select": "total,elements/id",
        "selectTuple": '["a","b"]',
        "filters": '[{"status":{"operator":"o","values":[]}}]',
        "sortBy": '[["id","asc"]]',
        "obj": '{"a":1}',
        "tuple": "[1,2]",
        "n": "3",
        "s": "x y",
        "zero": "0",
    }
    assert encode_params({"select": ("a", 1)}) == {"select": "a,1"}
    assert encode_params({"select": "a,b"}) == {"select": "a,b"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(
    value=st.dictionaries(st.text(), _json, max_size=4) | st.lists(_json, max_size=4),
    key=st.sampled_from(["filters", "sortBy", "other"]),
)
def test_encode_params_json_values_round_trip(value: Any, key: str) -> None:
    assert json.loads(encode_params({key: value})[key]) == value


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters=","), min_size=1), max_size=5))
def test_encode_params_select_round_trips(fields: list[str]) -> None:
    out = encode_params({"select": fields})
    assert (out["select"].split(",") if fields else []) == fields


@given(st.integers() | st.text())
def test_encode_params_scalars_are_their_text(value: int | str) -> None:
    assert encode_params({"k": value}) == {"k": str(value)}


@given(_json)
def test_dumps_round_trips(value: Any) -> None:
    assert json.loads(dumps(value)) == value


# -- what mutation testing found untested ------------------------------------------------


def test_decode_text_300_is_not_success() -> None:
    with pytest.raises(ProtocolError, match="unexpected status for an API answer"):
        decode_text(300, HAL, b"{}")


def test_decode_text_errors_name_the_url() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_text(500, "text/html", b"<h1>x</h1>", url="/r")
    assert info.value.url == "/r"
    with pytest.raises(ProtocolError) as info:
        decode_text(500, "text/html", b"<h1>x</h1>")
    assert info.value.url == ""


def test_decode_text_charset_is_the_charset_parameter_only() -> None:
    latin = "é".encode("latin-1")
    assert decode_text(200, "text/html; charset=latin-1; format=flowed", latin) == "é"


def test_decode_text_replaces_what_the_charset_cannot_read() -> None:
    assert decode_text(200, "text/html; charset=ascii", b"\xc3\xa9\xff") == "\ufffd" * 3
    assert decode_text(200, "text/html; charset=no-such-codec", b"\xc3\xa9\xff") == "é\ufffd"


def test_media_type_with_several_parameters() -> None:
    assert decode(200, "application/json; charset=utf-8; v=1", b"{}") == {}


def test_media_types_are_classified_alike_however_many_a_server_sends() -> None:
    """The classification of a Content-Type is remembered (a bounded memo): the 65th and
    later distinct values are still classified, and a remembered one the same again."""
    for round_ in range(2):
        for i in range(100):
            assert decode(200, f"application/vnd.x{i}+json; v={round_}", b'{"a": 1}') == {"a": 1}
            with pytest.raises(ProtocolError, match=r"answer is not JSON"):
                decode(200, f"text/x{i}; v={round_}", b'{"a": 1}')
