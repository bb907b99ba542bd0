"""The exception tree, exactly: messages, fields, the class an Error document becomes, and
pickling in this process (``test_errors_pickle.py`` covers more, over sockets and in child
processes, and is left out of mutation runs).

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from openproject_async import HttpResponse, OpenProject, _api_errors, errors
from openproject_async._api_errors import _rebuild_multiple
from openproject_async._error_base import _rebuild, did_you_mean
from openproject_async.errors import (
    URN_PREFIX,
    ActionUnavailable,
    APIError,
    ChangesUnsupported,
    ConnectionFailed,
    DigestMismatch,
    FormInvalid,
    InvalidQuery,
    JobFailed,
    MultipleErrors,
    NotFound,
    OpenProjectError,
    OutboundRequestNotFound,
    OutcomeUnknown,
    PropertyConstraintViolation,
    PropertyIsReadOnly,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
    TimeoutOutcomeUnknown,
    TransportError,
    UnknownField,
    UnknownValue,
    UpdateConflict,
)
from openproject_async.testing import MockTransport

MODULE = "openproject_async.errors"


def test_the_urn_prefix() -> None:
    assert URN_PREFIX == "urn:openproject-org:api:v3:errors:"


# -- the base -------------------------------------------------------------------------------


def test_the_base_s_defaults_and_module() -> None:
    exc = OpenProjectError("x")
    assert (exc.retry_after, exc.transient, exc.attempts) == (None, False, 1)
    assert vars(exc) == {}
    assert OpenProjectError.__module__ == MODULE
    assert _rebuild.__module__ == MODULE
    assert repr(exc) == "OpenProjectError('x')"


def test_the_base_pickles_by_state() -> None:
    exc = OpenProjectError("a", "b")
    exc.attempts = 3
    assert exc.__reduce__() == (_rebuild, (OpenProjectError, ("a", "b")), {"attempts": 3})
    back = pickle.loads(pickle.dumps(exc))
    assert (type(back), back.args, back.attempts, vars(back)) == (
        OpenProjectError,
        ("a", "b"),
        3,
        {"attempts": 3},
    )
    rebuilt = _rebuild(NotFound, ("text",))
    assert type(rebuilt) is NotFound
    assert rebuilt.args == ("text",)
    assert vars(rebuilt) == {}  # __init__ was not run


@pytest.mark.parametrize(
    ("word", "candidates", "hint"),
    [
        ("subjet", ["subject", "status"], "; did you mean 'subject'?"),
        ("SUBJECT", ["subject"], "; did you mean 'subject'?"),
        ("subject", ["subject", "subjects"], ""),
        ("abcd", ["abce"], "; did you mean 'abce'?"),  # a ratio of 0.75: the cutoff
        ("abcd", ["abxy"], ""),
        ("abcdef", ["abcdxy"], ""),  # 0.67: above difflib's default cutoff, below ours
        (
            "stat",
            ["stat1", "stat2", "stat3", "stat4"],
            "; did you mean 'stat4' or 'stat3' or 'stat2'?",
        ),
        ("subjec", ["Subject", "subject"], "; did you mean 'Subject'?"),
        ("x", [], ""),
    ],
)
def test_did_you_mean(word: str, candidates: list[str], hint: str) -> None:
    assert did_you_mean(word, candidates) == hint


# -- API errors -----------------------------------------------------------------------------


def test_api_error_fields_and_copies() -> None:
    details = {"attribute": "subject"}
    body = {"_type": "Error", "message": "m"}
    member = PropertyConstraintViolation(422, URN_PREFIX + "PropertyConstraintViolation", "blank")
    members = [member]
    exc = APIError(422, URN_PREFIX + "X", "m", details, members, body)
    assert (exc.status, exc.identifier, exc.message) == (422, URN_PREFIX + "X", "m")
    assert (exc.details, exc.errors, exc.body) == (details, [member], body)
    assert exc.details is not details
    assert exc.errors is not members
    assert exc.body is not body
    bare = APIError(None, None, "m")
    assert (bare.details, bare.errors, bare.body, bare.attribute) == ({}, [], {}, None)
    assert str(bare) == "APIError: m"
    assert bare.args == ("APIError: m",)
    assert APIError.identifier_suffix is None


@pytest.mark.parametrize(
    ("cls", "status", "identifier", "details", "text"),
    [
        (NotFound, 404, URN_PREFIX + "NotFound", None, "404 NotFound: gone"),
        (
            OutboundRequestNotFound,
            500,
            URN_PREFIX + "OutboundRequest:NotFound",
            None,
            "500 OutboundRequest:NotFound: gone",
        ),
        (APIError, 400, "urn:other:errors:Odd", None, "400 Odd: gone"),
        (APIError, 400, "Plain", None, "400 Plain: gone"),
        (NotFound, None, "", None, "NotFound: gone"),
        (APIError, 400, URN_PREFIX, None, "400 APIError: gone"),
        (
            PropertyConstraintViolation,
            422,
            None,
            {"attribute": "subject"},
            "422 PropertyConstraintViolation: gone (attribute 'subject')",
        ),
        (APIError, 422, None, {"attribute": 5}, "422 APIError: gone"),
        (APIError, 422, None, {"attribute": ""}, "422 APIError: gone"),
    ],
)
def test_api_error_text(
    cls: type[APIError], status: Any, identifier: Any, details: Any, text: str
) -> None:
    exc = cls(status, identifier, "gone", details)
    assert str(exc) == text
    attribute = (details or {}).get("attribute")
    assert exc.attribute == (attribute if isinstance(attribute, str) else None)


def test_api_error_text_with_members() -> None:
    members = [
        PropertyConstraintViolation(422, None, "Subject can't be blank.", {"attribute": "subject"}),
        PropertyIsReadOnly(422, URN_PREFIX + "PropertyIsReadOnly", "read only"),
    ]
    exc = MultipleErrors(
        422, URN_PREFIX + "MultipleErrors", "Multiple field constraints", None, members
    )
    assert str(exc) == (
        "422 MultipleErrors: Multiple field constraints; "
        "422 PropertyConstraintViolation: Subject can't be blank. (attribute 'subject'); "
        "422 PropertyIsReadOnly: read only"
    )


async def test_error_documents_become_their_classes() -> None:
    """What the server answers, decoded into a typed error with every field."""
    member = {
        "_type": "Error",
        "errorIdentifier": URN_PREFIX + "PropertyConstraintViolation",
        "message": "Subject can't be blank.",
        "_embedded": {"details": {"attribute": "subject"}},
    }
    docs: dict[str, tuple[int, dict[str, Any]]] = {
        "/api/v3/a": (
            404,
            {"_type": "Error", "errorIdentifier": URN_PREFIX + "NotFound", "message": "gone"},
        ),
        "/api/v3/b": (
            422,
            {
                "_type": "Error",
                "errorIdentifier": URN_PREFIX + "MultipleErrors",
                "message": "Multiple field constraints have been violated.",
                "_embedded": {
                    "errors": [
                        member,
                        {**member, "_embedded": {"details": {"attribute": "project"}}},
                    ]
                },
            },
        ),
    }

    def handler(request: Any) -> HttpResponse:
        status, doc = docs[request.url.path]
        return HttpResponse.json(doc, status)

    async with OpenProject(
        "https://op.test", api_key="k", transport=MockTransport(handler), retry=None
    ) as op:
        with pytest.raises(NotFound) as gone:
            await op.get("/api/v3/a")
        with pytest.raises(PropertyConstraintViolation) as several:
            await op.get("/api/v3/b")
    assert (gone.value.status, gone.value.identifier, gone.value.message) == (
        404,
        URN_PREFIX + "NotFound",
        "gone",
    )
    assert str(gone.value) == "404 NotFound: gone"
    exc = several.value
    assert type(exc).__qualname__ == "MultipleErrors[PropertyConstraintViolation]"
    assert isinstance(exc, MultipleErrors)
    assert [(type(e), e.attribute) for e in exc.errors] == [
        (PropertyConstraintViolation, "subject"),
        (PropertyConstraintViolation, "project"),
    ]
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert [e.attribute for e in back.errors] == ["subject", "project"]


def test_multiple_errors_classes_and_their_pickles() -> None:
    kind = MultipleErrors._of_kind(InvalidQuery)
    assert kind.__name__ == "MultipleErrors"
    assert kind.__qualname__ == "MultipleErrors[InvalidQuery]"
    assert kind.__module__ == MODULE
    assert kind.__doc__ == "MultipleErrors whose members are all InvalidQuery (also one)."
    assert kind._member_kind is InvalidQuery
    assert MultipleErrors._member_kind is None
    members = [InvalidQuery(400, None, "a"), InvalidQuery(400, None, "b")]
    exc = kind(400, URN_PREFIX + "MultipleErrors", "Multiple", None, members)
    reduced = exc.__reduce__()
    assert reduced[0] is _rebuild_multiple
    assert reduced[1] == (InvalidQuery, exc.args)
    assert reduced[2] == vars(exc)
    plain = MultipleErrors(400, None, "Multiple", None, members)
    assert plain.__reduce__()[:2] == (_rebuild, (MultipleErrors, plain.args))
    for made in (pickle.loads(pickle.dumps(exc)), copy.deepcopy(exc)):
        assert type(made) is kind
        assert made.args == exc.args
        assert [e.message for e in made.errors] == ["a", "b"]
    rebuilt = _rebuild_multiple(InvalidQuery, ("x",))
    assert type(rebuilt) is kind
    assert rebuilt.args == ("x",)
    assert type(pickle.loads(pickle.dumps(plain))) is MultipleErrors


def test_expand() -> None:
    a, b, c = NotFound(404, None, "a"), NotFound(404, None, "b"), NotFound(404, None, "c")
    several = MultipleErrors(422, None, "m", None, [b, c])
    empty = MultipleErrors(422, None, "none")
    assert errors.expand([a, several, empty]) == [a, b, c, empty]
    assert errors.expand([]) == []
    assert errors.expand.__module__ == MODULE
    assert _rebuild_multiple.__module__ == MODULE
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert value.__module__ == MODULE, name


def test_form_invalid() -> None:
    subject = PropertyConstraintViolation(422, None, "blank", {"attribute": "subject"})
    a = PropertyConstraintViolation(422, None, "a")
    b = PropertyConstraintViolation(422, None, "b")
    several = MultipleErrors(422, None, "several", None, [a, b])
    by_property = {"subject": subject, "customField2": several}
    exc = FormInvalid(by_property, body={"_type": "Form"})
    assert exc.by_property == by_property
    assert exc.by_property is not by_property
    assert exc.errors == [subject, a, b]
    assert (exc.status, exc.identifier, exc.body) == (422, None, {"_type": "Form"})
    assert exc.message == "the form cannot be committed (subject, customField2)"
    assert str(exc).startswith(
        "422 FormInvalid: the form cannot be committed (subject, customField2); "
    )
    empty = FormInvalid({})
    assert empty.message == (
        "the form cannot be committed (no validation errors, but no commit link either)"
    )
    assert (empty.errors, empty.body) == ([], {})
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is FormInvalid
    assert list(back.by_property) == ["subject", "customField2"]
    assert str(back) == str(exc)


# -- the library's own errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "bad"),
        ({"status": 502}, "bad; status 502"),
        ({"status": 0}, "bad; status 0"),
        ({"content_type": "text/html"}, "bad; content type 'text/html'"),
        ({"content_type": ""}, "bad"),
        ({"url": "https://op.test/x"}, "bad; from https://op.test/x"),
        ({"snippet": "<html>"}, "bad; body starts '<html>'"),
        (
            {
                "status": 502,
                "content_type": "text/html",
                "url": "https://op.test/x",
                "snippet": "<",
            },
            "bad; status 502; content type 'text/html'; from https://op.test/x; body starts '<'",
        ),
    ],
)
def test_protocol_error_text(kwargs: dict[str, Any], text: str) -> None:
    exc = ProtocolError("bad", **kwargs)
    assert str(exc) == text
    assert (exc.status, exc.content_type, exc.snippet, exc.url) == (
        kwargs.get("status"),
        kwargs.get("content_type"),
        kwargs.get("snippet", ""),
        kwargs.get("url"),
    )


def test_digest_mismatch_and_response_too_large() -> None:
    exc = DigestMismatch("differs", algorithm="md5", expected="0" * 32, actual="f" * 32, url="u")
    assert (exc.algorithm, exc.expected, exc.actual, exc.url, exc.status) == (
        "md5",
        "0" * 32,
        "f" * 32,
        "u",
        None,
    )
    assert str(exc) == "differs; from u"
    assert str(DigestMismatch("d", algorithm="a", expected="e", actual="x")) == "d"
    assert ResponseTooLarge("big").limit is None


def test_transport_errors() -> None:
    exc = TransportError("reset", url="https://op.test/x", method="PATCH")
    assert (exc.url, exc.method, exc.before_send, exc.transient) == (
        "https://op.test/x",
        "PATCH",
        False,
        False,
    )
    assert str(exc) == "reset"
    assert vars(exc) == {"url": "https://op.test/x", "method": "PATCH"}
    set_ = TransportError("x", before_send=True, transient=True)
    assert (set_.before_send, set_.transient) == (True, True)
    cleared = ConnectionFailed("x", before_send=False, transient=False)
    assert (cleared.before_send, cleared.transient) == (False, False)
    assert ConnectionFailed("x").transient is True
    timeout = RequestTimeout("x")
    assert (timeout.transient, timeout.timeout, timeout.before_send) == (True, None, False)
    assert OutcomeUnknown("x").status is None
    assert TimeoutOutcomeUnknown("x").transient is False
    assert isinstance(TimeoutOutcomeUnknown("x"), RequestTimeout | OutcomeUnknown)


def test_action_unavailable() -> None:
    link = ActionUnavailable("updat", resource="WorkPackage #1", actions=["update"], relations=[])
    assert str(link) == (
        "WorkPackage #1 has no link 'updat': the server does not offer it now "
        "(an absent action link means it is not permitted or not possible in this state)"
        "; did you mean 'update'?; actions: update; relations: none"
    )
    assert link.message == str(link)
    assert link.args == (str(link),)
    assert (link.rel, link.actions, link.relations) == ("updat", ["update"], [])
    attr = ActionUnavailable("subjct", properties=["subject"], relations=["project", "status"])
    assert str(attr) == (
        "resource has neither a property nor a link 'subjct'; did you mean 'subject'?"
        "; actions: none; relations: project, status"
    )
    assert (attr.actions, attr.relations) == ([], ["project", "status"])
    bare = ActionUnavailable("x", properties=[])
    assert (
        str(bare)
        == "resource has neither a property nor a link 'x'; actions: none; relations: none"
    )
    assert isinstance(bare, KeyError)
    assert isinstance(bare, AttributeError)
    back = pickle.loads(pickle.dumps(link))
    assert (str(back), back.rel, back.actions) == (str(link), "updat", ["update"])


def test_unknown_field() -> None:
    exc = UnknownField("Story pointz", ["subject", "customField1 (Story points)"])
    assert str(exc) == (
        "unknown field 'Story pointz'; did you mean 'Story points'?; "
        "the schema has: subject, customField1 (Story points)"
    )
    assert (exc.name, exc.available, exc.message) == (
        "Story pointz",
        ["subject", "customField1 (Story points)"],
        str(exc),
    )
    assert exc.args == (str(exc),)
    key = UnknownField("customFeld1", ["customField1 (Story (points))"])
    assert str(key) == (
        "unknown field 'customFeld1'; did you mean 'customField1'?; "
        "the schema has: customField1 (Story (points))"
    )
    nested = UnknownField("Story (pointz", ["customField1 (Story (points))"])
    assert str(nested) == (  # the human name is all after the first " ("
        "unknown field 'Story (pointz'; did you mean 'Story (points)'?; "
        "the schema has: customField1 (Story (points))"
    )
    assert str(UnknownField("x", [])) == "unknown field 'x'; the schema has: "
    assert isinstance(exc, KeyError)


def test_job_failed() -> None:
    exc = JobFailed("Boom.", status="failure", job_id="7", payload={"errors": []})
    assert str(exc) == "job 7 ended with status 'failure': Boom."
    assert (exc.message, exc.status, exc.job_id, exc.payload) == (
        "Boom.",
        "failure",
        "7",
        {"errors": []},
    )
    assert str(JobFailed(None, status="error")) == "the job ended with status 'error': no message"
    assert str(JobFailed("", status="error", job_id="")) == (
        "the job ended with status 'error': no message"
    )
    back = pickle.loads(pickle.dumps(exc))
    assert (str(back), back.job_id, back.payload) == (str(exc), "7", {"errors": []})


def test_unknown_value() -> None:
    exc = UnknownValue("Tsak", field="Type", allowed=["Task", "Bug"])
    assert (
        str(exc)
        == "'Tsak' is not an allowed value of Type; did you mean 'Task'?; allowed: Task, Bug"
    )
    assert (exc.value, exc.field, exc.allowed) == ("Tsak", "Type", ["Task", "Bug"])
    many = [f"v{i}" for i in range(32)]
    long = UnknownValue("zzz", field="F", allowed=many)
    assert str(long) == (
        "'zzz' is not an allowed value of F; allowed: " + ", ".join(many[:30]) + ", ... (2 more)"
    )
    thirty = [f"v{i}" for i in range(30)]
    assert str(UnknownValue("zzz", field="F", allowed=thirty)).endswith(", v29")
    assert str(UnknownValue("x", field="F", allowed=[])) == (
        "'x' is not an allowed value of F; allowed: (the schema lists none)"
    )
    assert isinstance(exc, ValueError)


def test_messages_carry_no_credentials() -> None:
    """What the library puts in an error is what it was given: a redacted URL stays so."""
    exc = ConnectionFailed("refused", url="https://op.test/api/v3/x?token=<hidden>", method="GET")
    assert "secret" not in str(exc) + repr(exc)
    api = NotFound(404, URN_PREFIX + "NotFound", "gone", body={"message": "gone"})
    assert repr(api) == "NotFound('404 NotFound: gone')"


@pytest.mark.parametrize(
    "exc",
    [
        ChangesUnsupported("no updatedAt"),
        UpdateConflict(409, URN_PREFIX + "UpdateConflict", "stale", {"attribute": "lockVersion"}),
        ProtocolError("bad", status=502, content_type="text/html", snippet="<", url="u"),
        TransportError("reset", url="u", method="GET", before_send=True, transient=True),
    ],
    ids=lambda e: type(e).__name__,
)
def test_pickles_in_this_process(exc: OpenProjectError) -> None:
    exc.retry_after = 1.5
    for way in (lambda e: pickle.loads(pickle.dumps(e)), copy.copy, copy.deepcopy):
        back = way(exc)
        assert type(back) is type(exc)
        assert (str(back), back.args, vars(back)) == (str(exc), exc.args, vars(exc))


def test_a_multiple_errors_class_is_made_once_per_kind() -> None:
    """A kind seen for the first time (the library's own kinds are made by earlier tests)."""

    class Fresh(NotFound):  # no suffix of its own: the error map ignores it
        pass

    try:
        made = MultipleErrors._of_kind(Fresh)
        assert _api_errors._MULTIPLE_OF[Fresh] is made
        assert made.__bases__ == (MultipleErrors, Fresh)
        assert made.__name__ == "MultipleErrors"
        assert made.__qualname__ == "MultipleErrors[Fresh]"
        assert made.__module__ == MODULE
        assert made.__doc__ == "MultipleErrors whose members are all Fresh (also one)."
        assert made._member_kind is Fresh
        assert made.identifier_suffix == "MultipleErrors"
        assert MultipleErrors._of_kind(Fresh) is made
        exc = made(404, None, "m")
        assert isinstance(exc, Fresh)
        assert isinstance(exc, MultipleErrors)
    finally:
        _api_errors._MULTIPLE_OF.pop(Fresh, None)


def test_public_module_names_the_public_module() -> None:
    """(What import time does, done again: the names pickles and reprs use.)"""
    saved = (NotFound.__module__, errors.expand.__module__, _rebuild_multiple.__module__)
    NotFound.__module__ = errors.expand.__module__ = _rebuild_multiple.__module__ = "elsewhere"
    try:
        _api_errors._public_module()
        assert NotFound.__module__ == MODULE
        assert errors.expand.__module__ == MODULE
        assert _rebuild_multiple.__module__ == MODULE
    finally:
        NotFound.__module__, errors.expand.__module__, _rebuild_multiple.__module__ = saved
