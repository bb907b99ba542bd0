"""The I/O-free heart: decode answers, map Error documents, encode bodies and queries.

Nothing here touches the network, so all of it is tested with plain bytes.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ._error_map import error_class_for, multiple_errors_of
from .errors import APIError, MultipleErrors, ProtocolError

JSON_TYPES = ("application/hal+json", "application/json", "application/problem+json")
SNIPPET = 200

Document = dict[str, Any]
#: What one request gives: a HAL document, None (an empty 2xx) or, for the few endpoints
#: that answer with text (``/api/v3/render/markdown``), that text.
Answer = Document | str | None


def _snippet(body: bytes) -> str:
    return body[:SNIPPET].decode("utf-8", "replace")


def _text(url: str | Callable[[], str]) -> str:
    return url() if callable(url) else url


def _is_json(content_type: str) -> bool:
    known = _JSON_SEEN.get(content_type)
    if known is None:
        base = content_type.split(";", 1)[0].strip().lower()
        known = base in JSON_TYPES or base.endswith("+json")
        if len(_JSON_SEEN) < 64:  # a server sends a handful of distinct values
            _JSON_SEEN[content_type] = known
    return known


#: ``Content-Type`` values already classified by :func:`_is_json` (bounded).
_JSON_SEEN: dict[str, bool] = {}


def decode(
    status: int, content_type: str, body: bytes, *, url: str | Callable[[], str] = ""
) -> Document | None:
    """Turn an HTTP answer into a HAL document, ``None`` (empty 2xx), or raise.

    Error documents raise their typed :class:`APIError`; anything that is not a JSON
    object raises :class:`ProtocolError` naming the status, content type and body start.
    ``url`` (for those messages) may be a function: it is only called when one is raised.
    """
    if not body.strip():
        if 200 <= status < 300:
            return None
        raise ProtocolError(
            "empty error answer", status=status, content_type=content_type, url=_text(url)
        )
    if not _is_json(content_type):
        what = "answer is not JSON" if status < 400 else "error answer is not a HAL Error"
        raise ProtocolError(
            f"{what} (expected application/hal+json)",
            status=status,
            content_type=content_type,
            snippet=_snippet(body),
            url=_text(url),
        )
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(
            f"invalid or truncated JSON ({exc})",
            status=status,
            content_type=content_type,
            snippet=_snippet(body),
            url=_text(url),
        ) from None
    if not isinstance(doc, dict):
        raise ProtocolError(
            f"expected a JSON object, got {type(doc).__name__}",
            status=status,
            content_type=content_type,
            snippet=_snippet(body),
            url=_text(url),
        )
    if doc.get("_type") == "Error" or status >= 400:
        raise error_from_document(doc, status)
    if not 200 <= status < 300:
        raise ProtocolError(
            "unexpected status for an API answer (expected 2xx or an Error document)",
            status=status,
            content_type=content_type,
            snippet=_snippet(body),
            url=_text(url),
        )
    return doc


def decode_text(
    status: int, content_type: str, body: bytes, *, url: str | Callable[[], str] = ""
) -> str:
    """The text of a 2xx answer to a request for text (``text/html`` of a markdown preview).

    Anything else raises as :func:`decode` does: Error documents their typed APIError.
    """
    if 200 <= status < 300:
        charset = "utf-8"
        for param in content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        try:
            return body.decode(charset, "replace")
        except LookupError:  # an unknown charset name
            return body.decode("utf-8", "replace")
    decode(status, content_type, body, url=url)
    raise ProtocolError(  # pragma: no cover - decode raises for every non-2xx status
        "unexpected status", status=status, content_type=content_type, url=_text(url)
    )


def error_from_document(doc: Mapping[str, Any], status: int | None = None) -> APIError:
    """Build the typed error for an Error document (MultipleErrors members expanded)."""
    identifier = doc.get("errorIdentifier")
    identifier = identifier if isinstance(identifier, str) else None
    message = doc.get("message")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    embedded = doc.get("_embedded")
    embedded = embedded if isinstance(embedded, dict) else {}
    details = embedded.get("details")
    details = details if isinstance(details, dict) else {}
    members: list[APIError] = []
    raw_members = embedded.get("errors")
    if isinstance(raw_members, list):
        members = [error_from_document(m, status) for m in raw_members if isinstance(m, dict)]
    if not identifier and not message and status is not None and status < 400:
        message = "Error document without errorIdentifier or message"
    cls = error_class_for(identifier)
    if cls is MultipleErrors and members:
        cls = multiple_errors_of(members)  # all alike: also catchable as that kind
    if cls is APIError and status is not None and identifier is None:
        message = message or f"HTTP {status}"
    return cls(status, identifier, message, details, members, dict(doc))


def validation_errors(raw: Any) -> dict[str, APIError]:
    """A form's ``_embedded.validationErrors`` as ``{property: APIError}``."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, APIError] = {}
    for prop, value in raw.items():
        if isinstance(value, dict):
            out[str(prop)] = error_from_document(value, 422)
    return out


def dumps(body: Any) -> bytes:
    """Encode a request body (orjson; dates and datetimes as ISO 8601).

    Integers beyond 64 bits (valid JSON, refused by orjson) go through the standard
    library's encoder; anything that is not JSON raises TypeError naming its type.
    """
    try:
        return orjson.dumps(body)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_iso).encode()


def _iso(value: Any) -> str:
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as OpenProject expects them.

    ``filters``/``sortBy`` given as Python lists or dicts become JSON; ``select`` given as a
    list becomes a comma-separated string; booleans become ``true``/``false``.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif key == "select" and isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        elif isinstance(value, list | tuple | dict):
            out[key] = dumps(value).decode()
        else:
            out[key] = str(value)
    return out
