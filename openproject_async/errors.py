"""Every exception the library raises, in one tree.

    OpenProjectError                  base of everything below
    ├── ProtocolError                 the answer is not a HAL document we can use
    ├── TransportError                the HTTP exchange itself failed
    │   ├── ConnectionFailed          could not connect / connection lost before an answer
    │   ├── RequestTimeout            no answer within the timeout
    │   ├── OutcomeUnknown            a non-idempotent request was sent, its answer lost
    │   └── TimeoutOutcomeUnknown     both of the last two (RequestTimeout, OutcomeUnknown)
    ├── SessionClosed                 the OpenProject session was used after close
    ├── LinkError                     a link cannot be used as asked
    │   ├── ActionUnavailable         no such link now (also KeyError, AttributeError)
    │   ├── MissingTemplateValue      a template variable was not given (also TypeError)
    │   ├── NotVisible                the href is the "undisclosed" URN
    │   ├── NotAnAPIResource          the link targets e.g. text/html
    │   ├── CrossOriginRefused        a write to another origin, refused by policy
    │   └── InvalidHref               not an http(s) URL we can request (also ValueError)
    ├── UnknownField                  a custom field name the schema does not have
    ├── SchemaNotLoaded               field(name) before load_schema() fetched the schema
    ├── ChangesUnsupported            op.changes() on a collection without updatedAt
    ├── JobFailed                     a background job ended without success
    └── APIError                      the server answered with an Error document
        ├── BadRequest
        │   ├── InvalidQuery, InvalidRequestBody, InvalidRenderContext,
        │   └── InvalidSignal, InvalidUserStatusTransition
        ├── Unauthenticated
        ├── MissingPermission
        │   └── InsufficientScope
        ├── NotFound
        ├── UpdateConflict
        ├── TypeNotSupported
        ├── UnprocessableContent      422 family
        │   ├── PropertyConstraintViolation, PropertyIsReadOnly, PropertyFormatError,
        │   ├── PropertyMissingError, ResourceTypeMismatch,
        │   ├── PropertyValueNotAvailableAnymore
        │   ├── MultipleErrors        .errors holds the members, expanded; members all of
        │   │                         one kind: also that kind (except InvalidQuery works)
        │   └── FormInvalid           a form without a commit link (nothing was sent)
        ├── TooManyRequests
        │   └── Throttled
        ├── InternalServerError
        │   └── MissingEnterpriseToken, OutboundRequestNotFound, OutboundRequestForbidden,
        │       OutboundRequestFailure
        └── NotImplementedOnServer    (URN suffix NotImplemented)

Match on the class or on ``identifier`` (the URN), never on ``message``: messages are
localized by the server.

Warnings: :class:`InsecureTransportWarning` (credentials over plain ``http://`` to a host
that is not loopback; once per process and origin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

URN_PREFIX = "urn:openproject-org:api:v3:errors:"

__all__ = [
    "URN_PREFIX",
    "APIError",
    "ActionUnavailable",
    "BadRequest",
    "ChangesUnsupported",
    "ConnectionFailed",
    "CrossOriginRefused",
    "FormInvalid",
    "InsecureTransportWarning",
    "InsufficientScope",
    "InternalServerError",
    "InvalidHref",
    "InvalidQuery",
    "InvalidRenderContext",
    "InvalidRequestBody",
    "InvalidSignal",
    "InvalidUserStatusTransition",
    "JobFailed",
    "LinkError",
    "MissingEnterpriseToken",
    "MissingPermission",
    "MissingTemplateValue",
    "MultipleErrors",
    "NotAnAPIResource",
    "NotFound",
    "NotImplementedOnServer",
    "NotVisible",
    "OpenProjectError",
    "OutboundRequestFailure",
    "OutboundRequestForbidden",
    "OutboundRequestNotFound",
    "OutcomeUnknown",
    "PropertyConstraintViolation",
    "PropertyFormatError",
    "PropertyIsReadOnly",
    "PropertyMissingError",
    "PropertyValueNotAvailableAnymore",
    "ProtocolError",
    "RequestTimeout",
    "ResourceTypeMismatch",
    "SchemaNotLoaded",
    "SessionClosed",
    "Throttled",
    "TimeoutOutcomeUnknown",
    "TooManyRequests",
    "TransportError",
    "TypeNotSupported",
    "Unauthenticated",
    "UnknownField",
    "UnprocessableContent",
    "UpdateConflict",
    "error_class_for",
    "expand",
]


class OpenProjectError(Exception):
    """Base class of every error raised by openproject_async.

    ``retry_after`` is the wait (seconds) the server asked for, ``transient`` marks
    failures worth another try (a body cut off mid-way); the retry policy reads both.
    ``attempts`` is how many times the request was sent before this error was raised.
    """

    retry_after: float | None = None
    transient: bool = False
    attempts: int = 1


class InsecureTransportWarning(UserWarning):
    """Credentials would travel over plain ``http://`` to a host that is not loopback."""


class ProtocolError(OpenProjectError):
    """The server's answer is not a usable HAL+JSON document.

    Raised for HTML error pages from proxies, the plain-text 406, truncated or invalid
    JSON, and 2xx answers that are not JSON objects. ``snippet`` holds the start of the body.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        content_type: str | None = None,
        snippet: str = "",
        url: str | None = None,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.snippet = snippet
        self.url = url
        parts = [message]
        if status is not None:
            parts.append(f"status {status}")
        if content_type:
            parts.append(f"content type {content_type!r}")
        if url:
            parts.append(f"from {url}")
        text = "; ".join(parts)
        if snippet:
            text += f"; body starts {snippet!r}"
        super().__init__(text)


class TransportError(OpenProjectError):
    """The HTTP exchange failed below the API level (connection, timeout).

    ``url`` is the URL without user info and with secret-looking query values hidden,
    ``method`` the HTTP method. ``before_send`` is True when the request certainly never
    reached the server (the connection could not be made), so sending it again is safe
    whatever the method. ``transient`` is True when another try may succeed.
    """

    before_send: bool = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        method: str | None = None,
        before_send: bool | None = None,
        transient: bool | None = None,
    ) -> None:
        self.url = url
        self.method = method
        if before_send is not None:
            self.before_send = before_send
        if transient is not None:
            self.transient = transient
        super().__init__(message)


class ConnectionFailed(TransportError):
    """The connection could not be made (``before_send``) or broke before an answer arrived.

    Only raised for a broken connection when the request is safe to repeat; otherwise
    the library raises :class:`OutcomeUnknown`.
    """

    transient = True


class RequestTimeout(TransportError):
    """No complete answer within the configured timeout (``timeout``: the limit, seconds).

    ``before_send`` is True when the connection itself could not be made in time.
    """

    transient = True
    timeout: float | None = None


class OutcomeUnknown(TransportError):
    """A request with side effects was sent but its answer was lost.

    The server may or may not have carried it out; the library never re-sends such a
    request by itself. Look the result up (e.g. filter by subject) before trying again.
    ``status`` is the HTTP status when it arrived before the body was cut off.
    """

    status: int | None = None


class TimeoutOutcomeUnknown(RequestTimeout, OutcomeUnknown):
    """A request with side effects was sent and no answer came within the timeout.

    Both a :class:`RequestTimeout` and an :class:`OutcomeUnknown`: catch either.
    """

    transient = False


class SchemaNotLoaded(OpenProjectError, LookupError):
    """``resource.field(name)`` was used before the resource's schema was fetched.

    ``await resource.load_schema()`` fetches it once per session (schemas are cached).
    """


class SessionClosed(OpenProjectError):
    """The OpenProject session was used after it was closed."""


class LinkError(OpenProjectError):
    """A link of a resource cannot be used the way it was asked."""


class ActionUnavailable(LinkError, KeyError, AttributeError):
    """The resource has no such link now.

    In HATEOAS a missing action link means "not permitted (or not possible) now" — the
    server decides, per user and per state. The message lists what the resource offers.
    """

    def __init__(
        self,
        rel: str,
        *,
        resource: str = "resource",
        actions: list[str] | None = None,
        relations: list[str] | None = None,
    ) -> None:
        self.rel = rel
        self.actions = actions or []
        self.relations = relations or []
        msg = (
            f"{resource} has no link {rel!r}: the server does not offer it now "
            "(an absent action link means it is not permitted or not possible in this state)"
        )
        msg += f"; actions: {', '.join(self.actions) or 'none'}"
        msg += f"; relations: {', '.join(self.relations) or 'none'}"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class MissingTemplateValue(LinkError, TypeError):
    """A templated link needs a value (``{user_id}``, ``%7Boffset%7D``) that was not given."""


class NotVisible(LinkError):
    """The href is ``urn:openproject-org:api:v3:undisclosed``: it exists, you may not see it."""


class NotAnAPIResource(LinkError):
    """The link targets a non-API representation (``type`` such as ``text/html``)."""


class CrossOriginRefused(LinkError):
    """A request with side effects to another origin than the configured server was refused."""


class InvalidHref(LinkError, ValueError):
    """An href (from a document, a redirect or the caller) that is not an http(s) URL the
    library can request: unparsable, another scheme, or with credentials in it."""


class UnknownField(OpenProjectError, KeyError):
    """A field name (custom fields by human name included) that the schema does not have."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        self.message = f"unknown field {name!r}; the schema has: {', '.join(available)}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


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
    """Several errors at once; ``errors`` holds each of them as its own typed APIError."""

    identifier_suffix = "MultipleErrors"


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


def multiple_errors_of(members: Iterable[APIError]) -> type[MultipleErrors]:
    """The class for a MultipleErrors holding ``members``.

    When every member is of one class (several ``InvalidQuery`` for several bad filters,
    several ``PropertyConstraintViolation``), the error is also an instance of that class,
    so ``except InvalidQuery`` catches one bad filter and many alike. Mixed members give
    plain :class:`MultipleErrors`; ``.errors`` always lists them.
    """
    kinds = {type(m) for m in members}
    if len(kinds) != 1:
        return MultipleErrors
    (kind,) = kinds
    if kind is APIError or issubclass(kind, MultipleErrors | FormInvalid):
        return MultipleErrors
    cls = _MULTIPLE_OF.get(kind)
    if cls is None:
        cls = type(
            "MultipleErrors",
            (MultipleErrors, kind),
            {"__module__": __name__, "__qualname__": f"MultipleErrors[{kind.__name__}]"},
        )
        cls.__doc__ = f"MultipleErrors whose members are all {kind.__name__} (also one)."
        _MULTIPLE_OF[kind] = cls
    return cls


def _registry() -> dict[str, type[APIError]]:
    found: dict[str, type[APIError]] = {}
    todo: list[type[APIError]] = [APIError]
    while todo:
        cls = todo.pop()
        if cls.identifier_suffix and cls is not FormInvalid:
            found[cls.identifier_suffix] = cls
        todo.extend(cls.__subclasses__())
    return found


_BY_SUFFIX = _registry()


def error_class_for(identifier: str | None) -> type[APIError]:
    """The APIError subclass for an errorIdentifier URN (APIError itself when unknown)."""
    if not identifier:
        return APIError
    suffix = identifier[len(URN_PREFIX) :] if identifier.startswith(URN_PREFIX) else identifier
    return _BY_SUFFIX.get(suffix, APIError)


# -- bots: change feeds and background jobs --------------------------------------------------


class ChangesUnsupported(OpenProjectError, TypeError):
    """``op.changes()`` on a collection that has no ``updatedAt`` filter or timestamps."""


class JobFailed(OpenProjectError):
    """A background job (``/api/v3/job_statuses/{id}``) ended without success.

    ``status`` is the job's last status (``failure``, ``error`` or ``cancelled``),
    ``message`` the server's message (may be None), ``job_id`` its id and ``payload`` its
    payload (may carry ``errors``).
    """

    def __init__(
        self,
        message: str | None,
        *,
        status: str,
        job_id: str | None = None,
        payload: Any = None,
    ) -> None:
        self.message = message
        self.status = status
        self.job_id = job_id
        self.payload = payload
        what = f"job {job_id}" if job_id else "the job"
        super().__init__(f"{what} ended with status {status!r}: {message or 'no message'}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_job_failed, (self.message, self.status, self.job_id, self.payload))


def _job_failed(message: str | None, status: str, job_id: str | None, payload: Any) -> JobFailed:
    return JobFailed(message, status=status, job_id=job_id, payload=payload)
