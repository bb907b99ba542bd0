"""The mapping from Error documents to classes lives with decoding (``_error_map``);
``errors`` holds the classes and imports nothing of the package."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import openproject_async
from openproject_async import _error_map, errors
from openproject_async._error_map import _registry, error_class_for, multiple_errors_of
from openproject_async.errors import (
    URN_PREFIX,
    APIError,
    FormInvalid,
    InvalidQuery,
    MultipleErrors,
    NotFound,
    NotImplementedOnServer,
    OutboundRequestNotFound,
    PropertyConstraintViolation,
    PropertyIsReadOnly,
)

#: every identifier the library knows, and its class
EXPECTED = {
    "BadRequest": errors.BadRequest,
    "InvalidQuery": errors.InvalidQuery,
    "InvalidRequestBody": errors.InvalidRequestBody,
    "InvalidRenderContext": errors.InvalidRenderContext,
    "InvalidSignal": errors.InvalidSignal,
    "InvalidUserStatusTransition": errors.InvalidUserStatusTransition,
    "Unauthenticated": errors.Unauthenticated,
    "MissingPermission": errors.MissingPermission,
    "InsufficientScope": errors.InsufficientScope,
    "NotFound": errors.NotFound,
    "UpdateConflict": errors.UpdateConflict,
    "TypeNotSupported": errors.TypeNotSupported,
    "UnprocessableContent": errors.UnprocessableContent,
    "PropertyConstraintViolation": errors.PropertyConstraintViolation,
    "PropertyIsReadOnly": errors.PropertyIsReadOnly,
    "PropertyFormatError": errors.PropertyFormatError,
    "PropertyMissingError": errors.PropertyMissingError,
    "ResourceTypeMismatch": errors.ResourceTypeMismatch,
    "PropertyValueNotAvailableAnymore": errors.PropertyValueNotAvailableAnymore,
    "MultipleErrors": errors.MultipleErrors,
    "TooManyRequests": errors.TooManyRequests,
    "Throttled": errors.Throttled,
    "InternalServerError": errors.InternalServerError,
    "MissingEnterpriseToken": errors.MissingEnterpriseToken,
    "OutboundRequest:NotFound": errors.OutboundRequestNotFound,
    "OutboundRequest:Forbidden": errors.OutboundRequestForbidden,
    "OutboundRequest:Failure": errors.OutboundRequestFailure,
    "NotImplemented": errors.NotImplementedOnServer,
}


def test_the_exception_modules_import_only_each_other() -> None:
    """errors.py re-exports the tree from _error_base and _api_errors and imports nothing
    else of the package (the mapping is in _error_map, decoding in _sansio)."""
    package = Path(errors.__file__).parent
    allowed = {
        "errors": {"_error_base", "_api_errors"},
        "_api_errors": {"_error_base"},
        "_error_base": set(),
    }
    for module, may in allowed.items():
        tree = ast.parse((package / f"{module}.py").read_text(encoding="utf-8"))
        own: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                own.add(node.module or "")
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert all(str(n).split(".")[0] in sys.stdlib_module_names for n in names)
        assert own == may, module


def test_the_mapping_is_not_in_errors_any_more() -> None:
    for name in ("error_class_for", "multiple_errors_of", "_registry", "_BY_SUFFIX"):
        assert not hasattr(errors, name), name
    assert "error_class_for" not in errors.__all__
    # still public at the top, where it always was
    assert openproject_async.error_class_for is error_class_for
    assert "error_class_for" in openproject_async.__all__


def test_every_identifier_maps_to_its_class() -> None:
    assert _error_map._BY_SUFFIX == EXPECTED
    for suffix, cls in EXPECTED.items():
        assert error_class_for(URN_PREFIX + suffix) is cls, suffix
        assert error_class_for(suffix) is cls, suffix  # a bare suffix works too


def test_unknown_and_missing_identifiers_give_apierror() -> None:
    assert error_class_for(None) is APIError
    assert error_class_for("") is APIError
    assert error_class_for(URN_PREFIX + "SomethingNew") is APIError
    assert error_class_for(URN_PREFIX + "NotFound:Extra") is APIError
    assert error_class_for("urn:other:NotFound") is APIError
    assert error_class_for(URN_PREFIX + "OutboundRequest:NotFound") is OutboundRequestNotFound
    assert error_class_for(URN_PREFIX + "NotImplemented") is NotImplementedOnServer


def test_the_registry_ignores_classes_that_only_inherit_a_suffix() -> None:
    """``MultipleErrors[kind]`` classes may exist before the registry is built (unpickled
    ones, say) and inherit MultipleErrors' suffix: they must not take its place."""
    made = MultipleErrors._of_kind(NotFound)
    walked: list[type] = [*MultipleErrors.__subclasses__(), *NotFound.__subclasses__()]
    assert walked.count(made) == 2  # the registry's walk meets it twice

    class Local(NotFound):  # a subclass made elsewhere, without a suffix of its own
        pass

    assert _registry() == EXPECTED
    assert error_class_for(URN_PREFIX + "MultipleErrors") is MultipleErrors
    assert error_class_for(URN_PREFIX + "NotFound") is NotFound


def _error(cls: type[APIError]) -> APIError:
    return cls(422, None, "x")


def test_multiple_errors_of() -> None:
    alike = [_error(InvalidQuery), _error(InvalidQuery)]
    cls = multiple_errors_of(alike)
    assert cls.__qualname__ == "MultipleErrors[InvalidQuery]"
    assert cls.__module__ == "openproject_async.errors"
    assert cls.__bases__ == (MultipleErrors, InvalidQuery)
    assert cls._member_kind is InvalidQuery
    assert multiple_errors_of([_error(InvalidQuery)]) is cls  # made once per kind
    assert MultipleErrors._of_kind(InvalidQuery) is cls
    mixed = [_error(InvalidQuery), _error(PropertyIsReadOnly)]
    assert multiple_errors_of(mixed) is MultipleErrors
    assert multiple_errors_of([]) is MultipleErrors
    for kind in (APIError, MultipleErrors, FormInvalid, cls):
        assert MultipleErrors._of_kind(kind) is MultipleErrors, kind
    assert multiple_errors_of([_error(APIError), _error(APIError)]) is MultipleErrors
    several = multiple_errors_of([_error(PropertyConstraintViolation)])
    assert several is not cls
    assert issubclass(several, PropertyConstraintViolation)
    assert not issubclass(several, InvalidQuery)
