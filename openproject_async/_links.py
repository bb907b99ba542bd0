"""HAL links: what a resource says you may do next.

A :class:`Link` is a read-only view of one link object. Templates are filled the way
OpenProject writes them: ``{var}`` in paths and payloads, and the percent-encoded
``%7Bvar%7D`` that collections put in their query strings (an RFC 6570 expander misses it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from yarl import URL

from .errors import MissingTemplateValue, ProtocolError

UNDISCLOSED = "urn:openproject-org:api:v3:undisclosed"

_BRACED = r"\{([A-Za-z_][A-Za-z0-9_]*)\}"
# A percent-encoded placeholder is a whole query value or path segment
# (``offset=%7Boffset%7D``): inside a value it is text, e.g. a filter on the subject
# "{offset}" renders as ``%22%7Boffset%7D%22`` and must be sent as it is.
_ENCODED = r"(?<=[=/])%7[Bb]([A-Za-z_][A-Za-z0-9_]*)%7[Dd](?=[/?&#]|$)"
_VAR = re.compile(f"{_BRACED}|{_ENCODED}")
_VAR_BRACED = re.compile(_BRACED)


def _pattern(encoded: bool) -> re.Pattern[str]:
    return _VAR if encoded else _VAR_BRACED


def template_variables(text: str, *, encoded: bool = True) -> list[str]:
    """The placeholder names in ``text``, in order, each once.

    ``encoded=False`` counts only ``{var}``, not ``%7Bvar%7D`` (for links that are not
    ``templated``).
    """
    seen: dict[str, None] = {}
    for m in _pattern(encoded).finditer(text):
        seen[m.group(1) or m.group(2)] = None
    return list(seen)


def expand(
    text: str, values: Mapping[str, Any], *, encode: bool = True, encoded: bool = True
) -> str:
    """Fill ``{var}`` and ``%7Bvar%7D`` placeholders; a missing value is an error.

    ``%7Bvar%7D`` counts only as a whole query value or path segment, and only with
    ``encoded=True``. A filled path segment that would read ``.`` or ``..`` (which URL
    normalisation removes, moving the request to another path) has its dots encoded
    twice (``%252E``): the path keeps its segments and the server sees ``%2E``.
    """
    pattern = _pattern(encoded)

    def fill(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise MissingTemplateValue(
                f"template {text!r} needs {name!r}; pass it as a keyword argument "
                f"(variables: {', '.join(template_variables(text, encoded=encoded))})"
            )
        value = values[name]
        value = getattr(value, "id", value) if not isinstance(value, str | int) else value
        return quote(str(value), safe="") if encode else str(value)

    filled = pattern.sub(fill, text)
    return _keep_segments(text, filled) if encode else filled


def _keep_segments(template: str, filled: str) -> str:
    """``filled`` with path segments made ``.``/``..`` by values double-encoded."""
    end = min((i for i in (filled.find("?"), filled.find("#")) if i != -1), default=len(filled))
    segments = filled[:end].split("/")
    if "." not in filled[:end]:
        return filled
    written = re.split(r"[?#]", template, maxsplit=1)[0].split("/")
    if len(written) != len(segments):  # pragma: no cover - values are encoded, no "/"
        return filled
    kept = [
        "%252E" * len(seg) if seg in (".", "..") and seg != was else seg
        for seg, was in zip(segments, written, strict=True)
    ]
    return "/".join(kept) + filled[end:]


def expand_payload(payload: Any, values: Mapping[str, Any]) -> Any:
    """Fill placeholders in every string of a (templated) payload, recursively."""
    if isinstance(payload, str):
        return expand(payload, values, encode=True) if template_variables(payload) else payload
    if isinstance(payload, dict):
        return {k: expand_payload(v, values) for k, v in payload.items()}
    if isinstance(payload, list):
        return [expand_payload(v, values) for v in payload]
    return payload


def payload_variables(payload: Any) -> list[str]:
    """Placeholder names anywhere in a payload."""
    found: dict[str, None] = {}
    if isinstance(payload, str):
        found.update(dict.fromkeys(template_variables(payload)))
    elif isinstance(payload, dict):
        for v in payload.values():
            found.update(dict.fromkeys(payload_variables(v)))
    elif isinstance(payload, list):
        for v in payload:
            found.update(dict.fromkeys(payload_variables(v)))
    return list(found)


class Link:
    """One HAL link object, exactly as the server sent it (``raw``), with helpers.

    ``method`` is upper-cased (servers send ``post``, docs show ``POST``; one doc example
    even says ``"delete,"``); ``href`` may be ``None`` ("no resource").
    """

    __slots__ = ("raw", "rel")

    def __init__(self, rel: str, raw: Mapping[str, Any]) -> None:
        if not isinstance(raw, Mapping):
            raise ProtocolError(
                f"link {rel!r} is not a link object (expected {{'href': ...}}, "
                f"got {type(raw).__name__})"
            )
        href = raw.get("href")
        if href is not None and not isinstance(href, str):
            raise ProtocolError(f"link {rel!r} has a non-string href ({type(href).__name__})")
        self.rel = rel
        self.raw: Mapping[str, Any] = raw

    @property
    def href(self) -> str | None:
        """The target URL or path; None when the link points to no resource (``"href": null``)."""
        value = self.raw.get("href")
        return value if isinstance(value, str) else None

    @property
    def method(self) -> str:
        """The HTTP method, upper-cased and stripped of stray commas; ``GET`` when absent."""
        value = self.raw.get("method")
        if not isinstance(value, str) or not value.strip(" ,"):
            return "GET"
        return value.strip(" ,").upper()

    @property
    def is_action(self) -> bool:
        """True for links with an explicit method other than GET (things you *do*)."""
        return self.method != "GET"

    @property
    def templated(self) -> bool:
        """True when the href needs values: ``templated: true``, or ``{var}`` in the href.

        ``%7Bvar%7D`` is a placeholder only in a link marked ``templated`` (as OpenProject
        marks ``jumpTo``/``changeSize``); elsewhere it is percent-encoded text.
        """
        return self._marked or bool(self.href and _VAR_BRACED.search(self.href))

    @property
    def _marked(self) -> bool:
        return bool(self.raw.get("templated"))

    @property
    def title(self) -> str | None:
        """The link's ``title`` (usually the target's name), if any."""
        value = self.raw.get("title")
        return value if isinstance(value, str) else None

    @property
    def type(self) -> str | None:
        """Media type of the target when it is not the API (e.g. ``text/html``)."""
        value = self.raw.get("type")
        return value if isinstance(value, str) else None

    @property
    def payload(self) -> Any:
        """The ``payload`` an action link says to send (may hold placeholders), or None."""
        return self.raw.get("payload")

    @property
    def undisclosed(self) -> bool:
        """True when the target exists but the user may not see it.

        OpenProject then sends the href ``urn:openproject-org:api:v3:undisclosed``
        (:data:`UNDISCLOSED`) instead of the resource's URL.
        """
        return self.href == UNDISCLOSED

    @property
    def is_api(self) -> bool:
        """False when the target is an HTML page or file, not an API resource."""
        t = (self.type or "").split(";", 1)[0].strip().lower()
        return not t or t == "application/hal+json" or t.endswith("json")

    def posts_to(self, *endings: str) -> bool:
        """Is this a POST to a path ending in one of ``endings`` (``"/form"``)?

        How the library recognises endpoints that need special handling (forms, markdown
        previews) without hard-coding URLs. An unusable href is not one (requesting it
        reports InvalidHref).
        """
        href = self.href
        if href is None or self.method != "POST":
            return False
        try:
            path = URL(href).path
        except ValueError:
            return False
        return path.rstrip("/").endswith(endings)

    @property
    def variables(self) -> list[str]:
        """Template variables of the href and the payload."""
        names = template_variables(self.href or "", encoded=self._marked)
        names += [v for v in payload_variables(self.payload) if v not in names]
        return names

    def expand(self, **values: Any) -> str:
        """The href with its placeholders filled."""
        if self.href is None:
            raise TypeError(f"link {self.rel!r} has no href")
        return expand(self.href, values, encoded=self._marked)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Link):
            return self.rel == other.rel and dict(self.raw) == dict(other.raw)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.rel, self.href, self.method))

    def __repr__(self) -> str:
        extra = "" if self.method == "GET" else f" {self.method}"
        title = f" {self.title!r}" if self.title else ""
        return f"<Link {self.rel}{extra} {self.href}{title}>"


def parse_links(raw: Any) -> dict[str, Link | list[Link]]:
    """``_links`` as ``{rel: Link | [Link, ...]}``; malformed input raises ProtocolError."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"_links must be an object, got {type(raw).__name__}")
    out: dict[str, Link | list[Link]] = {}
    for rel, value in raw.items():
        if isinstance(value, list):
            out[rel] = [Link(rel, item) for item in value]
        else:
            out[rel] = Link(rel, value)
    return out
