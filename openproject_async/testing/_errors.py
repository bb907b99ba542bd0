"""HAL error documents and the exception the handlers raise to produce them.

Every error body has exactly the shape of the real server's ``ErrorRepresenter``:
``{"_type": "Error", "errorIdentifier": "urn:openproject-org:api:v3:errors:<Id>",
"message": ..., "_embedded"?: {"details": {...}} | {"errors": [...]}}``.
"""

from __future__ import annotations

from typing import Any

URN_ERROR_PREFIX = "urn:openproject-org:api:v3:errors:"

JsonDict = dict[str, Any]


def error_body(
    identifier: str,
    message: str,
    *,
    attribute: str | None = None,
    details: JsonDict | None = None,
    errors: list[JsonDict] | None = None,
) -> JsonDict:
    """Render one Error resource."""
    body: JsonDict = {
        "_type": "Error",
        "errorIdentifier": URN_ERROR_PREFIX + identifier,
        "message": message,
    }
    if attribute is not None:
        details = {**(details or {}), "attribute": attribute}
    if details is not None:
        body["_embedded"] = {"details": details}
    elif errors is not None:
        body["_embedded"] = {"errors": errors}
    return body


class ApiError(Exception):
    """Raised by handlers; the error middleware renders it as a HAL error response."""

    def __init__(
        self,
        status: int,
        identifier: str,
        message: str,
        *,
        attribute: str | None = None,
        details: JsonDict | None = None,
        errors: list[JsonDict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.identifier = identifier
        self.message = message
        self.headers = headers or {}
        self.body = error_body(
            identifier, message, attribute=attribute, details=details, errors=errors
        )


class PlainTextError(Exception):
    """An error answered with a ``text/plain`` body (the 406 missing Content-Type case)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# ---------------------------------------------------------------------------------------------
# Constructors for the errors the fake raises most often


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "NotFound", f"The specified {what} does not exist.")


def missing_permission(action: str = "perform this action") -> ApiError:
    return ApiError(403, "MissingPermission", f"You are not allowed to {action}.")


def invalid_query(message: str) -> ApiError:
    return ApiError(400, "InvalidQuery", message)


def invalid_body(message: str = "The request body was not a single JSON object.") -> ApiError:
    return ApiError(400, "InvalidRequestBody", message)


def update_conflict() -> ApiError:
    return ApiError(
        409,
        "UpdateConflict",
        "Your changes could not be saved, because the work package was changed since you've "
        "seen it the last time.",
    )


def resource_type_mismatch(attribute: str, expected: str, got: str) -> ApiError:
    """422 ``ResourceTypeMismatch``: the property is named only in the message.

    ``InvalidResourceLink`` passes no details to ``ErrorBase``, so unlike the property
    errors the body has no ``_embedded.details.attribute``.
    """
    return ApiError(
        422,
        "ResourceTypeMismatch",
        f"For property '{attribute}' a link like '{expected}' is expected, but got '{got}'.",
    )


def format_error(attribute: str, expected: str, got: object) -> ApiError:
    return ApiError(
        422,
        "PropertyFormatError",
        f"Invalid format for property '{attribute}': Expected format like '{expected}', "
        f"but got '{got}'.",
        attribute=attribute,
    )


def constraint(attribute: str, message: str) -> JsonDict:
    """One PropertyConstraintViolation error document (as embedded in forms)."""
    return error_body("PropertyConstraintViolation", message, attribute=attribute)


def read_only(attribute: str, message: str | None = None) -> JsonDict:
    return error_body(
        "PropertyIsReadOnly",
        message or f"The {attribute} can't be changed.",
        attribute=attribute,
    )


def multiple(errors: list[JsonDict]) -> JsonDict:
    return error_body(
        "MultipleErrors", "Multiple field constraints have been violated.", errors=errors
    )


def validation_failed(errors: list[JsonDict]) -> ApiError:
    """422 with the single error unwrapped, or MultipleErrors for several (``create_if_many``)."""
    if len(errors) == 1:
        only = errors[0]
        exc = ApiError(422, only["errorIdentifier"].removeprefix(URN_ERROR_PREFIX), only["message"])
        exc.body = only
        return exc
    exc = ApiError(422, "MultipleErrors", "Multiple field constraints have been violated.")
    exc.body = multiple(errors)
    return exc
