"""The server's errors: :class:`APIError` and a class per ``errorIdentifier``.

Part of the tree in :mod:`openproject_async.errors` (import them from there): the classes
say ``openproject_async.errors`` as their module, which is also where pickles find them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ._error_base import URN_PREFIX, OpenProjectError, _rebuild


class APIError(OpenProjectError):
    """An Error document from the server.

    ``identifier`` is the full URN, ``details`` the ``_embedded.details`` object (it names
    the ``attribute`` for property errors), ``errors`` the expanded members of a
    MultipleErrors, ``body`` the whole document.
    """

    identifier_suffix: ClassVar[str | None] = None

    def __init__(
        self,
        status: int | None,
        identifier: str | None,
        message: str,
        details: Mapping[str, Any] | None = None,
        errors: list[APIError] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.identifier = identifier
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.errors: list[APIError] = list(errors or [])
        self.body: dict[str, Any] = dict(body or {})
        super().__init__(self._text())

    @property
    def attribute(self) -> str | None:
        """The API property this error is about (``_embedded.details.attribute``), if any."""
        value = self.details.get("attribute")
        return value if isinstance(value, str) else None

    def _text(self) -> str:
        ident = self.identifier or ""
        # the name after the URN prefix: "OutboundRequest:NotFound" keeps its own colon
        name = (
            ident[len(URN_PREFIX) :] if ident.startswith(URN_PREFIX) else ident.rsplit(":", 1)[-1]
        ) or type(self).__name__
        head = f"{self.status} {name}" if self.status is not None else name
        text = f"{head}: {self.message}"
        if self.attribute:
            text += f" (attribute {self.attribute!r})"
        if self.errors:
            text += "; " + "; ".join(str(e) for e in self.errors)
        return text


class BadRequest(APIError):
    """400: the request itself is malformed (its parameters or its body)."""

    identifier_suffix = "BadRequest"


class InvalidQuery(BadRequest):
    """400: a collection's ``filters``, ``sortBy``, ``groupBy`` or paging are invalid."""

    identifier_suffix = "InvalidQuery"


class InvalidRequestBody(BadRequest):
    """400: the body is not a single JSON object, or not of the expected shape."""

    identifier_suffix = "InvalidRequestBody"


class InvalidRenderContext(BadRequest):
    """400: the ``context`` given to a render endpoint (``/api/v3/render/...``) is unusable."""

    identifier_suffix = "InvalidRenderContext"


class InvalidSignal(BadRequest):
    """400: a signalling parameter such as ``select`` asks for something not supported."""

    identifier_suffix = "InvalidSignal"


class InvalidUserStatusTransition(BadRequest):
    """400: a user's status cannot change that way from its current status."""

    identifier_suffix = "InvalidUserStatusTransition"


class Unauthenticated(APIError):
    """401: missing or wrong credentials (also: an OAuth token request was refused)."""

    identifier_suffix = "Unauthenticated"


class MissingPermission(APIError):
    """403: the user lacks the permission this request needs."""

    identifier_suffix = "MissingPermission"


class InsufficientScope(MissingPermission):
    """403: the OAuth token's scope does not cover this request."""

    identifier_suffix = "InsufficientScope"


class NotFound(APIError):
    """Missing *or not visible to you*: OpenProject answers 404 for both."""

    identifier_suffix = "NotFound"


class UpdateConflict(APIError):
    """Stale or missing ``lockVersion``: someone changed the resource since you read it."""

    identifier_suffix = "UpdateConflict"


class TypeNotSupported(APIError):
    """415: the request's ``Content-Type`` is not one this endpoint accepts."""

    identifier_suffix = "TypeNotSupported"


class UnprocessableContent(APIError):
    """422: the request was understood but its content is invalid (base of the below)."""

    identifier_suffix = "UnprocessableContent"


class PropertyConstraintViolation(UnprocessableContent):
    """422: a property's value breaks a rule (blank, too long, not allowed...)."""

    identifier_suffix = "PropertyConstraintViolation"


class PropertyIsReadOnly(UnprocessableContent):
    """422: the body sets a property that is not writable."""

    identifier_suffix = "PropertyIsReadOnly"


class PropertyFormatError(UnprocessableContent):
    """422: a property's value has the wrong format (a date, a duration...)."""

    identifier_suffix = "PropertyFormatError"


class PropertyMissingError(UnprocessableContent):
    """422: a required property is missing."""

    identifier_suffix = "PropertyMissingError"


class ResourceTypeMismatch(UnprocessableContent):
    """422: a link points to a resource of the wrong type for that property."""

    identifier_suffix = "ResourceTypeMismatch"


class PropertyValueNotAvailableAnymore(UnprocessableContent):
    """422: the value was once allowed but is not available any more."""

    identifier_suffix = "PropertyValueNotAvailableAnymore"


class MultipleErrors(UnprocessableContent):
    """Several errors at once; ``errors`` holds each of them as its own typed APIError.

    When every member is of one class (several ``InvalidQuery`` for several bad filters,
    several ``PropertyConstraintViolation``), the error is also an instance of that class
    (its class is ``MultipleErrors[InvalidQuery]``), so ``except InvalidQuery`` catches one
    bad filter and many alike.
    """

    identifier_suffix = "MultipleErrors"
    #: the member class of a ``MultipleErrors[kind]`` class (None on MultipleErrors itself)
    _member_kind: ClassVar[type[APIError] | None] = None

    @classmethod
    def _of_kind(cls, kind: type[APIError]) -> type[MultipleErrors]:
        """The ``MultipleErrors[kind]`` class (made once per kind), or MultipleErrors itself
        for kinds that cannot be combined (plain APIError, MultipleErrors, FormInvalid)."""
        if kind is APIError or issubclass(kind, MultipleErrors | FormInvalid):
            return MultipleErrors
        made = _MULTIPLE_OF.get(kind)
        if made is None:
            new = type(
                "MultipleErrors",
                (MultipleErrors, kind),
                {
                    "__module__": "openproject_async.errors",
                    "__qualname__": f"MultipleErrors[{kind.__name__}]",
                    "__doc__": f"MultipleErrors whose members are all {kind.__name__} (also one).",
                    "_member_kind": kind,
                },
            )
            made = _MULTIPLE_OF.setdefault(kind, new)  # one class per kind, even when racing
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        """A ``MultipleErrors[kind]`` class is made at run time: pickle names its kind."""
        kind = type(self)._member_kind
        if kind is None:
            return super().__reduce__()
        return (_rebuild_multiple, (kind, self.args), dict(vars(self)))


class FormInvalid(UnprocessableContent):
    """A form has no ``commit`` link; ``errors`` lists every validation error (expanded).

    Raised by ``Form.commit()`` before anything is sent.
    """

    def __init__(self, errors: Mapping[str, APIError], body: Mapping[str, Any] | None = None):
        flat = expand(errors.values())
        self.by_property: dict[str, APIError] = dict(errors)
        names = ", ".join(errors) or "no validation errors, but no commit link either"
        super().__init__(
            422, None, f"the form cannot be committed ({names})", errors=flat, body=body
        )


class TooManyRequests(APIError):
    """429: too many requests; ``retry_after`` holds the wait when the server gave one."""

    identifier_suffix = "TooManyRequests"


class Throttled(TooManyRequests):
    """429 from OpenProject's rate limit (its ``RateLimit-Reset`` is epoch seconds)."""

    identifier_suffix = "Throttled"


class InternalServerError(APIError):
    """500: the server failed; base of the server-side failures below."""

    identifier_suffix = "InternalServerError"


class MissingEnterpriseToken(InternalServerError):
    """The feature needs an Enterprise token that the instance does not have."""

    identifier_suffix = "MissingEnterpriseToken"


class OutboundRequestNotFound(InternalServerError):
    """A request OpenProject made to another service (e.g. a file storage): not found there."""

    identifier_suffix = "OutboundRequest:NotFound"


class OutboundRequestForbidden(InternalServerError):
    """A request OpenProject made to another service (e.g. a file storage): refused there."""

    identifier_suffix = "OutboundRequest:Forbidden"


class OutboundRequestFailure(InternalServerError):
    """A request OpenProject made to another service (e.g. a file storage) failed."""

    identifier_suffix = "OutboundRequest:Failure"


class NotImplementedOnServer(APIError):
    """501: the server does not implement this (URN suffix ``NotImplemented``)."""

    identifier_suffix = "NotImplemented"


def expand(errors: Iterable[APIError]) -> list[APIError]:
    """Every single error, the members of each MultipleErrors in its place."""
    flat: list[APIError] = []
    for err in errors:
        flat.extend(err.errors if isinstance(err, MultipleErrors) and err.errors else [err])
    return flat


_MULTIPLE_OF: dict[type[APIError], type[MultipleErrors]] = {}


def _rebuild_multiple(kind: type[APIError], args: tuple[Any, ...]) -> OpenProjectError:
    """Unpickling a ``MultipleErrors[kind]``: the class is made again from its kind."""
    return _rebuild(MultipleErrors._of_kind(kind), args)


def _public_module() -> None:
    """Name ``openproject_async.errors`` as the module of everything here (reprs, pickles)."""
    for value in list(globals().values()):
        if (isinstance(value, type) and issubclass(value, OpenProjectError)) or value in (
            expand,
            _rebuild_multiple,
        ):
            value.__module__ = "openproject_async.errors"


_public_module()
