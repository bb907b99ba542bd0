"""Every exception the library raises, in one tree.

    OpenProjectError                  base of everything below
    ├── ProtocolError                 the answer is not a HAL document we can use
    │   ├── UnexpectedResource        not the kind asked for with expect= (also TypeError)
    │   ├── DigestMismatch            downloaded content differs from the attachment's digest
    │   └── ResponseTooLarge          the answer is larger than max_response_size
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
    ├── UnknownValue                  a value by name that is not allowed (also ValueError)
    ├── WrongEventLoop                the session used from another event loop
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

Every one of them pickles (and copies) to an equal exception: same class, ``args``,
message and attributes, so they can cross process boundaries (multiprocessing, task
queues, pytest-xdist). A ``MultipleErrors`` of one kind is rebuilt as that kind too.

This module holds the classes only and imports nothing from the package; which class an
Error document becomes is decided by the decoding layer (``_error_map``).

Warnings: :class:`InsecureTransportWarning` (credentials over plain ``http://`` to a host
that is not loopback; once per process and origin).
"""

from __future__ import annotations

from typing import Any

# Unpickling looks these up here (``openproject_async.errors._rebuild``...).
from ._api_errors import (
    APIError,
    BadRequest,
    FormInvalid,
    InsufficientScope,
    InternalServerError,
    InvalidQuery,
    InvalidRenderContext,
    InvalidRequestBody,
    InvalidSignal,
    InvalidUserStatusTransition,
    MissingEnterpriseToken,
    MissingPermission,
    MultipleErrors,
    NotFound,
    NotImplementedOnServer,
    OutboundRequestFailure,
    OutboundRequestForbidden,
    OutboundRequestNotFound,
    PropertyConstraintViolation,
    PropertyFormatError,
    PropertyIsReadOnly,
    PropertyMissingError,
    PropertyValueNotAvailableAnymore,
    ResourceTypeMismatch,
    Throttled,
    TooManyRequests,
    TypeNotSupported,
    Unauthenticated,
    UnprocessableContent,
    UpdateConflict,
    _rebuild_multiple,  # noqa: F401
    expand,
)
from ._error_base import (
    URN_PREFIX,
    OpenProjectError,
    _rebuild,  # noqa: F401
    did_you_mean,
)

__all__ = [
    "URN_PREFIX",
    "APIError",
    "ActionUnavailable",
    "BadRequest",
    "ChangesUnsupported",
    "ConnectionFailed",
    "CrossOriginRefused",
    "DigestMismatch",
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
    "ResponseTooLarge",
    "SchemaNotLoaded",
    "SessionClosed",
    "Throttled",
    "TimeoutOutcomeUnknown",
    "TooManyRequests",
    "TransportError",
    "TypeNotSupported",
    "Unauthenticated",
    "UnexpectedResource",
    "UnknownField",
    "UnknownValue",
    "UnprocessableContent",
    "UpdateConflict",
    "WrongEventLoop",
    "expand",
]


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


class UnexpectedResource(ProtocolError, TypeError):
    """The answer is not the kind of resource the caller asked for with ``expect=``."""


class DigestMismatch(ProtocolError):
    """Downloaded content does not match the attachment's ``digest`` (nothing was kept).

    ``algorithm`` (``md5``), ``expected`` (the server's hash) and ``actual`` (the hash of
    what arrived), hex.
    """

    def __init__(
        self, message: str, *, algorithm: str, expected: str, actual: str, url: str | None = None
    ) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        super().__init__(message, url=url)


class ResponseTooLarge(ProtocolError):
    """The answer (decoded: after gzip/deflate) is larger than the session's ``max_response_size``.

    Reading stopped at the cap, so memory never held more than that. ``limit`` is the cap
    in bytes, ``url`` the URL that answered.
    """

    limit: int | None = None


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
        properties: list[str] | None = None,
    ) -> None:
        self.rel = rel
        self.actions = actions or []
        self.relations = relations or []
        if properties is None:  # asked for as a link
            msg = (
                f"{resource} has no link {rel!r}: the server does not offer it now "
                "(an absent action link means it is not permitted or not possible in this state)"
            )
        else:  # asked for as an attribute: a typo is likelier than a permission
            msg = f"{resource} has neither a property nor a link {rel!r}"
        msg += did_you_mean(rel, [*self.actions, *self.relations, *(properties or [])])
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
        # "customField1 (Story points)": the key and the human name are both candidates
        names = [part for a in available for part in a.removesuffix(")").split(" (", 1)]
        self.message = (
            f"unknown field {name!r}{did_you_mean(name, names)}; "
            f"the schema has: {', '.join(available)}"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


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


class UnknownValue(OpenProjectError, ValueError):
    """A value given by name (``type="Task"``) that is not among the field's allowed values.

    ``value`` is the name given, ``field`` the field's human name, ``allowed`` the names
    on offer (shortened in the message when there are many).
    """

    def __init__(self, value: str, *, field: str, allowed: list[str]) -> None:
        self.value = value
        self.field = field
        self.allowed = allowed
        shown = (
            allowed if len(allowed) <= 30 else [*allowed[:30], f"... ({len(allowed) - 30} more)"]
        )
        super().__init__(
            f"{value!r} is not an allowed value of {field}{did_you_mean(value, allowed)}; "
            f"allowed: {', '.join(shown) or '(the schema lists none)'}"
        )


class WrongEventLoop(OpenProjectError, RuntimeError):
    """The session was used from another event loop than the one it started in: open it
    (``async with OpenProject(...)``) inside the loop that uses it, not across two
    ``asyncio.run()`` calls."""
