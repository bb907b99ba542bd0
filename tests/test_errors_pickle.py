"""Errors that travel: every exception class pickles, copies and deep-copies to an equal one.

multiprocessing pools, task queues (Celery, arq) and pytest-xdist move exceptions between
processes with pickle. "Equal" here: the same class, ``str()``, ``args`` and public
attributes (``vars()``), compared recursively for the member errors they hold.
"""

from __future__ import annotations

import copy
import pickle
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from openproject_async import HttpResponse, OpenProject, errors
from openproject_async._error_map import multiple_errors_of
from openproject_async.errors import (
    URN_PREFIX,
    ActionUnavailable,
    APIError,
    ConnectionFailed,
    DigestMismatch,
    FormInvalid,
    InvalidQuery,
    JobFailed,
    MultipleErrors,
    NotFound,
    OpenProjectError,
    PropertyConstraintViolation,
    PropertyIsReadOnly,
    ProtocolError,
    TransportError,
    UnknownField,
    UnknownValue,
    UpdateConflict,
)
from openproject_async.testing import FakeOpenProject, MockTransport

API = "/api/v3"


# -- equality ------------------------------------------------------------------------------


def assert_same(copied: Any, original: Any, path: str = "error", *, deep: bool = True) -> None:
    """Same class, str(), args and vars(), recursively for errors held in attributes.

    The copy is another object; with ``deep`` the errors it holds are other objects too.
    """
    if isinstance(original, BaseException):
        assert type(copied) is type(original), path
        assert copied is not original or (path != "error" and not deep), path
        assert str(copied) == str(original), path
        assert copied.args == original.args, path
        assert vars(copied).keys() == vars(original).keys(), path
        for name, value in vars(original).items():
            assert_same(vars(copied)[name], value, f"{path}.{name}", deep=deep)
    elif isinstance(original, list | tuple):
        assert type(copied) is type(original), path
        assert len(copied) == len(original), path
        for i, (c, o) in enumerate(zip(copied, original, strict=True)):
            assert_same(c, o, f"{path}[{i}]", deep=deep)
    elif isinstance(original, dict):
        assert type(copied) is dict, path
        assert list(copied) == list(original), path
        for key, value in original.items():
            assert_same(copied[key], value, f"{path}[{key!r}]", deep=deep)
    else:
        assert type(copied) is type(original), path
        assert copied == original, path


def _pickled(exc: BaseException, protocol: int) -> Any:
    return pickle.loads(pickle.dumps(exc, protocol=protocol))


WAYS: dict[str, Callable[[BaseException], Any]] = {
    "pickle-0": lambda e: _pickled(e, 0),
    "pickle-2": lambda e: _pickled(e, 2),
    "pickle-highest": lambda e: _pickled(e, pickle.HIGHEST_PROTOCOL),
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


def assert_travels(exc: BaseException) -> None:
    for way, move in WAYS.items():
        moved = move(exc)
        try:
            assert_same(moved, exc, deep=way != "copy")
        except AssertionError as failure:
            raise AssertionError(f"{type(exc).__qualname__} via {way}: {failure}") from None
        if way != "copy":  # a deep copy shares no mutable state with the original
            for name, value in vars(exc).items():
                if isinstance(value, list | dict) and value:
                    assert vars(moved)[name] is not value, (way, name)


def test_the_equality_check_can_fail() -> None:
    def made(body: dict[str, Any], cls: type[APIError] = NotFound) -> APIError:
        member = PropertyConstraintViolation(422, None, "blank", body=body)
        return cls(404, URN_PREFIX + "NotFound", "gone", {"attribute": "x"}, [member], body)

    a = made({"n": 1})
    assert_same(made({"n": 1}), a)
    with pytest.raises(AssertionError, match=r"error\.errors\[0\]\.body\['n'\]"):
        assert_same(made({"n": 2}), a)  # same str() and args, another body
    moved = made({"n": 1})
    moved.retry_after = 1.0
    with pytest.raises(AssertionError, match="error"):
        assert_same(moved, a)
    with pytest.raises(AssertionError, match="error"):
        assert_same(made({"n": 1}, APIError), a)
    with pytest.raises(AssertionError, match="error"):
        assert_same(a, a)  # not a copy at all


# -- every class of the tree ---------------------------------------------------------------


def tree_classes() -> list[type[BaseException]]:
    """Every exception (and warning) class ``errors`` exports, most general first."""
    found = [
        obj
        for name in errors.__all__
        if isinstance(obj := getattr(errors, name), type) and issubclass(obj, BaseException)
    ]
    return sorted(found, key=lambda c: (len(c.__mro__), c.__name__))


def test_every_class_of_the_module_is_exported() -> None:
    """So that enumerating ``__all__`` cannot miss a class someone adds."""
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, BaseException)
        if obj.__module__ == errors.__name__
    }
    assert defined == set(tree_classes())
    # ... and every subclass made from them, except the MultipleErrors[kind] ones
    todo: list[type[BaseException]] = [OpenProjectError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__ == errors.__name__ and "_member_kind" not in vars(cls):
            assert cls in defined, cls
    assert len(defined) == 55


def _member(cls: type[APIError], n: int) -> APIError:
    suffix = cls.identifier_suffix or "Unknown"
    return cls(
        422,
        URN_PREFIX + suffix,
        f"member {n}",
        {"attribute": f"field{n}"},
        None,
        {"_type": "Error", "errorIdentifier": URN_PREFIX + suffix, "message": f"member {n}"},
    )


def _api_error(cls: type[APIError]) -> APIError:
    members = [_member(PropertyConstraintViolation, 1), _member(PropertyIsReadOnly, 2)]
    suffix = cls.identifier_suffix or "SomethingNew"
    body = {
        "_type": "Error",
        "errorIdentifier": URN_PREFIX + suffix,
        "message": "it failed",
        "_embedded": {"details": {"attribute": "subject"}},
    }
    return cls(422, URN_PREFIX + suffix, "it failed", {"attribute": "subject"}, members, body)


def _form_invalid(cls: type[FormInvalid]) -> FormInvalid:
    alike = [_member(PropertyConstraintViolation, 1), _member(PropertyConstraintViolation, 2)]
    several = multiple_errors_of(alike)(422, URN_PREFIX + "MultipleErrors", "several", None, alike)
    return cls(
        {"subject": _member(PropertyConstraintViolation, 0), "customField2": several},
        body={"_type": "Form", "_embedded": {"validationErrors": {}}},
    )


#: how to build an instance, by the class whose ``__init__`` it uses (``object``: a builtin's)
FACTORIES: dict[type, Callable[[Any], BaseException]] = {
    object: lambda cls: cls("something went wrong"),
    ProtocolError: lambda cls: cls(
        "error answer is not a HAL Error",
        status=502,
        content_type="text/html",
        snippet="<html>Bad Gateway",
        url="https://op.example.com/api/v3/work_packages?pageSize=20",
    ),
    TransportError: lambda cls: cls(
        "connection reset",
        url="https://op.example.com/api/v3/work_packages/1",
        method="PATCH",
        before_send=False,
        transient=True,
    ),
    ActionUnavailable: lambda cls: cls(
        "unwatch",
        resource="WorkPackage #1",
        actions=["update", "watch"],
        relations=["project", "status"],
    ),
    UnknownField: lambda cls: cls("Story pointz", ["subject", "customField1 (Story points)"]),
    DigestMismatch: lambda cls: cls(
        "content of attachment 7 does not match its md5 digest",
        algorithm="md5",
        expected="0" * 32,
        actual="f" * 32,
        url="https://op.example.com/api/v3/attachments/7/content",
    ),
    APIError: _api_error,
    FormInvalid: _form_invalid,
    UnknownValue: lambda cls: cls("Tsak", field="Type", allowed=["Task", "Bug"]),
    JobFailed: lambda cls: cls(
        "Identifier has already been taken.",
        status="failure",
        job_id="7",
        payload={"errors": ["Identifier has already been taken."]},
    ),
}


def build(cls: type[BaseException]) -> BaseException:
    owner = next(k for k in cls.__mro__ if "__init__" in vars(k))
    factory = FACTORIES.get(object if owner.__module__ == "builtins" else owner)
    assert factory is not None, f"add a factory for {owner.__qualname__} (used by {cls})"
    exc = factory(cls)
    if isinstance(exc, OpenProjectError):  # what the transport and the retry policy set
        exc.retry_after = 2.5
        exc.attempts = 3
        exc.add_note("while saving work package 1")
    return exc


@pytest.mark.parametrize("cls", tree_classes(), ids=lambda c: c.__name__)
def test_every_class_travels(cls: type[BaseException]) -> None:
    exc = build(cls)
    assert type(exc) is cls
    assert_travels(exc)


def test_the_built_instances_carry_what_they_should() -> None:
    """The factories give each attribute a value worth checking (not only defaults)."""
    api = build(UpdateConflict)
    assert isinstance(api, UpdateConflict)
    assert [type(e) for e in api.errors] == [PropertyConstraintViolation, PropertyIsReadOnly]
    assert api.attribute == "subject"
    form = build(FormInvalid)
    assert isinstance(form, FormInvalid)
    assert type(form.by_property["customField2"]).__qualname__ == (
        "MultipleErrors[PropertyConstraintViolation]"
    )
    assert [e.message for e in form.errors] == ["member 0", "member 1", "member 2"]
    action = build(ActionUnavailable)
    assert isinstance(action, ActionUnavailable)
    moved = pickle.loads(pickle.dumps(action))
    assert (moved.rel, moved.actions, moved.relations) == (
        "unwatch",
        ["update", "watch"],
        ["project", "status"],
    )
    field = pickle.loads(pickle.dumps(build(UnknownField)))
    assert field.name == "Story pointz"
    assert field.available == ["subject", "customField1 (Story points)"]
    assert str(field) == (
        "unknown field 'Story pointz'; did you mean 'Story points'?; "
        "the schema has: subject, customField1 (Story points)"
    )
    transport = pickle.loads(pickle.dumps(build(errors.TimeoutOutcomeUnknown)))
    assert (transport.url, transport.method, transport.transient, transport.attempts) == (
        "https://op.example.com/api/v3/work_packages/1",
        "PATCH",
        True,
        3,
    )
    assert transport.__notes__ == ["while saving work package 1"]


# -- MultipleErrors of one kind (classes made at run time) --------------------------------------


def combinable_kinds() -> list[type[APIError]]:
    return [
        c
        for c in tree_classes()
        if issubclass(c, APIError) and MultipleErrors._of_kind(c) is not MultipleErrors
    ]


def test_which_kinds_combine() -> None:
    kinds = combinable_kinds()
    assert NotFound in kinds
    assert InvalidQuery in kinds
    assert {APIError, MultipleErrors, FormInvalid}.isdisjoint(kinds)
    assert len(kinds) == 27  # every APIError class but itself, MultipleErrors, FormInvalid


@pytest.mark.parametrize("kind", combinable_kinds(), ids=lambda c: c.__name__)
def test_multiple_errors_of_one_kind_travels(kind: type[APIError]) -> None:
    members = [_member(kind, 1), _member(kind, 2)]
    cls = multiple_errors_of(members)
    assert cls.__qualname__ == f"MultipleErrors[{kind.__name__}]"
    exc = cls(400, URN_PREFIX + "MultipleErrors", "Multiple errors.", None, members)
    exc.retry_after = 1.0
    for way, move in WAYS.items():
        moved = move(exc)
        assert_same(moved, exc, deep=way != "copy")
        assert type(moved) is cls, way  # the same class object, not another one alike
        assert isinstance(moved, kind), way
        assert isinstance(moved, MultipleErrors), way


def test_mixed_multiple_errors_travels() -> None:
    members = [_member(InvalidQuery, 1), _member(PropertyIsReadOnly, 2)]
    assert multiple_errors_of(members) is MultipleErrors
    exc = MultipleErrors(400, URN_PREFIX + "MultipleErrors", "Multiple errors.", None, members)
    assert_travels(exc)
    assert not isinstance(pickle.loads(pickle.dumps(exc)), InvalidQuery)


def test_a_multiple_errors_class_is_rebuilt_in_a_fresh_process() -> None:
    """Unpickled where ``MultipleErrors[InvalidQuery]`` was never made, and sent back."""
    members = [_member(InvalidQuery, 1), _member(InvalidQuery, 2)]
    cls = multiple_errors_of(members)
    exc = cls(400, URN_PREFIX + "MultipleErrors", "Multiple errors.", None, members)
    exc.attempts = 2
    child = (
        "import pickle, sys\n"
        "from openproject_async import _api_errors, errors\n"
        "assert not _api_errors._MULTIPLE_OF, _api_errors._MULTIPLE_OF\n"
        "exc = pickle.loads(sys.stdin.buffer.read())\n"
        "assert isinstance(exc, errors.InvalidQuery), type(exc)\n"
        "assert isinstance(exc, errors.MultipleErrors), type(exc)\n"
        "assert type(exc).__qualname__ == 'MultipleErrors[InvalidQuery]'\n"
        "assert _api_errors._MULTIPLE_OF == {errors.InvalidQuery: type(exc)}\n"
        "sys.stdout.buffer.write(pickle.dumps(exc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], input=pickle.dumps(exc), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    back = pickle.loads(done.stdout)
    assert_same(back, exc)
    assert type(back) is cls


# -- raised for real by the library, against the fake server --------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=5) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_key) as session:
        yield session


async def test_a_404_from_op_get_travels(op: OpenProject) -> None:
    with pytest.raises(NotFound) as info:
        await op.get(f"{API}/work_packages/999")
    exc = info.value
    assert (exc.status, exc.identifier) == (404, URN_PREFIX + "NotFound")
    assert exc.body["message"] == "The specified work package does not exist."
    assert_travels(exc)


async def test_a_422_multiple_errors_from_a_write_travels(op: OpenProject) -> None:
    with pytest.raises(PropertyConstraintViolation) as info:
        await op.request("POST", f"{API}/work_packages", json={"subject": ""})
    exc = info.value
    assert type(exc).__qualname__ == "MultipleErrors[PropertyConstraintViolation]"
    assert [(e.status, e.attribute) for e in exc.errors] == [
        (422, "subject"),
        (422, "project"),
    ]
    assert_travels(exc)
    assert type(pickle.loads(pickle.dumps(exc))) is type(exc)


async def test_form_invalid_from_a_commit_travels(op: OpenProject) -> None:
    project = await op.get(f"{API}/projects/1")
    form = await project.createWorkPackage()
    with pytest.raises(FormInvalid) as info:
        await form.commit()
    exc = info.value
    assert list(exc.by_property) == ["subject"]
    assert_travels(exc)
    moved = pickle.loads(pickle.dumps(exc))
    assert moved.by_property["subject"].message == "Subject can't be blank."
    assert moved.body == exc.body != {}


async def test_conflict_action_and_protocol_errors_travel(op: OpenProject) -> None:
    with pytest.raises(UpdateConflict) as conflict:
        await op.request("PATCH", f"{API}/work_packages/1", json={"lockVersion": 99})
    assert conflict.value.status == 409
    assert_travels(conflict.value)
    wp = await op.get(f"{API}/work_packages/1")
    with pytest.raises(ActionUnavailable) as unavailable:
        await wp.action("noSuchLink")
    assert "update" in unavailable.value.actions
    assert_travels(unavailable.value)
    page = HttpResponse(502, {"Content-Type": "text/html"}, body=b"<html>502 Bad Gateway</html>")
    proxy = MockTransport(lambda request: page)
    async with OpenProject("https://op.test", api_key="k", transport=proxy, retry=None) as behind:
        with pytest.raises(ProtocolError) as protocol:
            await behind.get(f"{API}/projects")
    assert (protocol.value.status, protocol.value.snippet) == (502, "<html>502 Bad Gateway</html>")
    assert_travels(protocol.value)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there now: connecting is refused


async def test_a_connection_failure_travels(closed_port: int) -> None:
    async with OpenProject(f"http://127.0.0.1:{closed_port}", api_key="k", retry=None) as op:
        with pytest.raises(ConnectionFailed) as info:
            await op.get(f"{API}/work_packages/1")
    exc = info.value
    assert (exc.method, exc.before_send) == ("GET", True)
    assert exc.url == f"http://127.0.0.1:{closed_port}{API}/work_packages/1"
    assert_travels(exc)
