"""Decoding answers and mapping errors, with bytes only (no network)."""

from __future__ import annotations

import orjson
import pytest

from openproject_async import _sansio
from openproject_async._error_map import error_class_for
from openproject_async.errors import (
    APIError,
    InvalidQuery,
    MultipleErrors,
    NotFound,
    PropertyConstraintViolation,
    ProtocolError,
    Throttled,
    TooManyRequests,
    UpdateConflict,
)

from .docs import error

HAL = "application/hal+json; charset=utf-8"


def test_decodes_hal_object() -> None:
    doc = _sansio.decode(200, HAL, b'{"_type": "Root", "instanceName": "x"}')
    assert doc == {"_type": "Root", "instanceName": "x"}


def test_empty_2xx_is_none_but_empty_error_is_protocol_error() -> None:
    assert _sansio.decode(204, "", b"") is None
    with pytest.raises(ProtocolError) as info:
        _sansio.decode(502, "", b"")
    assert info.value.status == 502


def test_html_error_page_from_proxy() -> None:
    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    with pytest.raises(ProtocolError) as info:
        _sansio.decode(502, "text/html", body, url="https://op.example.com/api/v3")
    err = info.value
    assert (err.status, err.content_type) == (502, "text/html")
    assert "502 Bad Gateway" in err.snippet
    assert "expected application/hal+json" in str(err)


def test_plain_text_406_missing_content_type() -> None:
    with pytest.raises(ProtocolError) as info:
        _sansio.decode(406, "text/plain", b"Missing content-type header")
    assert info.value.snippet == "Missing content-type header"


@pytest.mark.parametrize("body", [b'{"_type": "WorkPackage", "subj', b"[1, 2]", b'"text"', b"nul"])
def test_truncated_or_non_object_json(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        _sansio.decode(200, HAL, body)


@pytest.mark.parametrize(
    ("suffix", "status", "cls"),
    [
        ("NotFound", 404, NotFound),
        ("UpdateConflict", 409, UpdateConflict),
        ("InvalidQuery", 400, InvalidQuery),
        ("Throttled", 429, Throttled),
        ("PropertyConstraintViolation", 422, PropertyConstraintViolation),
    ],
)
def test_error_documents_become_typed_errors(suffix: str, status: int, cls: type) -> None:
    body = orjson.dumps(error(suffix, "Localized text", details={"attribute": "subject"}))
    with pytest.raises(cls) as info:
        _sansio.decode(status, HAL, body)
    err = info.value
    assert err.status == status
    assert err.identifier == f"urn:openproject-org:api:v3:errors:{suffix}"
    assert err.attribute == "subject"
    assert err.message == "Localized text"


def test_throttled_is_a_too_many_requests() -> None:
    assert issubclass(Throttled, TooManyRequests)


def test_multiple_errors_are_expanded_and_typed() -> None:
    doc = error(
        "MultipleErrors",
        "Multiple field constraints have been violated.",
        errors=[
            error(
                "PropertyConstraintViolation",
                "Subject can't be blank.",
                details={"attribute": "subject"},
            ),
            error(
                "PropertyConstraintViolation",
                "Project can't be blank.",
                details={"attribute": "project"},
            ),
        ],
    )
    with pytest.raises(MultipleErrors) as info:
        _sansio.decode(422, HAL, orjson.dumps(doc))
    members = info.value.errors
    assert [e.attribute for e in members] == ["subject", "project"]
    assert all(isinstance(e, PropertyConstraintViolation) for e in members)
    assert "Subject can't be blank." in str(info.value)


def test_unknown_urn_keeps_identifier() -> None:
    doc = error("SomethingNew", "new kind")
    with pytest.raises(APIError) as info:
        _sansio.decode(418, HAL, orjson.dumps(doc))
    assert type(info.value) is APIError
    assert info.value.identifier.endswith(":SomethingNew")
    assert error_class_for(None) is APIError


def test_4xx_json_without_error_type_still_raises() -> None:
    with pytest.raises(APIError) as info:
        _sansio.decode(400, "application/json", b'{"foo": 1}')
    assert info.value.status == 400


def test_validation_errors_map() -> None:
    raw = {
        "subject": error(
            "PropertyConstraintViolation",
            "Subject can't be blank.",
            details={"attribute": "subject"},
        ),
        "junk": "not an object",
    }
    errs = _sansio.validation_errors(raw)
    assert list(errs) == ["subject"]
    assert isinstance(errs["subject"], PropertyConstraintViolation)


def test_encode_params() -> None:
    params = _sansio.encode_params(
        {
            "filters": [{"status": {"operator": "o", "values": []}}],
            "sortBy": [["id", "asc"]],
            "select": ["total", "elements/id"],
            "notify": False,
            "pageSize": 100,
            "skip": None,
        }
    )
    assert params == {
        "filters": '[{"status":{"operator":"o","values":[]}}]',
        "sortBy": '[["id","asc"]]',
        "select": "total,elements/id",
        "notify": "false",
        "pageSize": "100",
    }


@pytest.mark.parametrize("status", [100, 304, 399])
def test_non_2xx_success_status_with_json_is_protocol_error(status: int) -> None:
    with pytest.raises(ProtocolError, match="unexpected status"):
        _sansio.decode(status, HAL, b'{"_type": "WorkPackage"}')


def test_integers_beyond_64_bits_are_encoded_as_json_numbers() -> None:
    big = 2**70
    assert _sansio.dumps({"id": [big, -big], "é": "ü"}) == (
        b'{"id":[1180591620717411303424,-1180591620717411303424],"\xc3\xa9":"\xc3\xbc"}'
    )
    assert _sansio.encode_params({"filters": [{"id": {"operator": "=", "values": [big]}}]}) == {
        "filters": '[{"id":{"operator":"=","values":[1180591620717411303424]}}]'
    }
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        _sansio.dumps({"id": [big, object()]})
