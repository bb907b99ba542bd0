"""What every subcommand shares: configuration, the session, error lines, hrefs, values."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

from .. import Link, OpenProject, Resource
from ..errors import APIError, OpenProjectError, RequestTimeout

ENV_URL = "OPENPROJECT_URL"
ENV_API_KEY = "OPENPROJECT_API_KEY"
ENV_TOKEN = "OPENPROJECT_TOKEN"

#: Exit codes: 0 success, 1 failure (an API/transport error, a demo step), 2 usage.
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure the command reports as one ``error: ...`` line with exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


class StepFailed(Exception):
    """A demo step did not do what the usage guide says (the message says what happened)."""


@dataclass
class Interruption:
    """What an interrupted command has to say about its partial work.

    ``main`` prints it as the one ``interrupted`` line (``interrupted: <detail>``).
    """

    detail: str | None = None

    def line(self) -> str:
        return f"interrupted: {self.detail}" if self.detail else "interrupted"


@dataclass(frozen=True)
class Config:
    """Where the server is and how to authenticate (flags win over the environment)."""

    url: str | None
    api_key: str | None
    token: str | None
    timeout: float | None = None  # --timeout: seconds to wait for each answer

    @classmethod
    def from_args(
        cls,
        url: str | None,
        api_key: str | None,
        token: str | None,
        timeout: float | None = None,
    ) -> Config:
        if api_key and token:
            raise CliError("give either --api-key or --token, not both", EXIT_USAGE)
        if timeout is not None and not timeout > 0:
            raise CliError(f"--timeout must be more than 0 seconds, not {timeout:g}", EXIT_USAGE)
        env = os.environ
        url = url or env.get(ENV_URL) or None
        if not api_key and not token:
            api_key = env.get(ENV_API_KEY) or None
            token = None if api_key else (env.get(ENV_TOKEN) or None)
        return cls(url, api_key, token, timeout)

    def session(self, **kwargs: Any) -> OpenProject:
        """An :class:`OpenProject` for this configuration (``url`` required)."""
        if not self.url:
            raise CliError(
                f"no server given: pass --url URL or set {ENV_URL} "
                f"(and --api-key/{ENV_API_KEY} or --token/{ENV_TOKEN})",
                EXIT_USAGE,
            )
        if self.timeout is not None:
            kwargs.setdefault("read_timeout", self.timeout)
        try:
            return OpenProject(
                self.url,
                api_key=self.api_key,
                token=self.token,
                anonymous=not (self.api_key or self.token),
                **kwargs,
            )
        except (ValueError, TypeError) as exc:
            raise CliError(f"cannot use --url: {exc}", EXIT_USAGE) from None


def one_line(text: str, limit: int = 2000) -> str:
    """Whitespace (newlines included) collapsed, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe(exc: BaseException) -> str:
    """``Type (HTTP status, identifier): message`` for an error, on one line."""
    name = type(exc).__name__
    if isinstance(exc, APIError):
        where = [f"HTTP {exc.status}"] if exc.status is not None else []
        if exc.identifier:
            where.append(exc.identifier)
        head = f"{name} ({', '.join(where)})" if where else name
        message = exc.message or "(no message)"
        if exc.attribute:
            message += f" [attribute {exc.attribute}]"
        if exc.errors:
            message += "; " + "; ".join(
                f"{e.attribute}: {e.message}" if e.attribute else e.message for e in exc.errors
            )
        return one_line(f"{head}: {message}")
    if isinstance(exc, CliError | OpenProjectError):
        return one_line(f"{name}: {exc}") if isinstance(exc, OpenProjectError) else str(exc)
    return one_line(f"{name}: {exc}")


def error_line(exc: BaseException, elapsed: float | None = None) -> str:
    """The one line a failed command prints on stderr.

    A timeout also says how often the request was sent and, given ``elapsed``, how long
    the command had been running.
    """
    if isinstance(exc, CliError):
        return "error: " + one_line(str(exc))
    if isinstance(exc, RequestTimeout):
        tries = f"{exc.attempts} attempt{'' if exc.attempts == 1 else 's'}"
        ran = f", {elapsed:.1f} s since the command started" if elapsed is not None else ""
        return f"error: {describe(exc)} ({tries}{ran})"
    if isinstance(exc, OpenProjectError):
        return "error: " + describe(exc)
    return f"error: unexpected {describe(exc)} (run with --debug for the traceback)"


def normalize_href(text: str) -> str:
    """``work_packages/1`` -> ``/api/v3/work_packages/1``; hrefs and URLs stay as given."""
    text = text.strip()
    if text.startswith(("http://", "https://", "/")):
        return text
    if text.startswith("api/v3"):
        return "/" + text
    return "/api/v3/" + text if text else "/api/v3"


def parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """``-p KEY=VALUE`` options: a value starting with ``[`` or ``{`` is JSON."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"cannot read --param {item!r}: expected KEY=VALUE", EXIT_USAGE)
        parsed: Any = value
        if value.lstrip().startswith(("[", "{")):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise CliError(f"--param {key}: invalid JSON ({exc})", EXIT_USAGE) from None
        out[key.strip()] = parsed
    return out


def text_of(value: Any) -> str:
    """A property value as one cell of text: Formattables by ``raw``, objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("raw"), str | type(None)):
        return str(value.get("raw") or "")
    if isinstance(value, Mapping | list):
        return orjson.dumps(value).decode()
    return str(value)


def link_text(link: Link | list[Link] | None) -> str:
    """A link as a cell: its title (else its href); ``""`` for ``href: null``."""
    if link is None:
        return ""
    if isinstance(link, list):
        return "; ".join(t for t in (link_text(x) for x in link) if t)
    if link.href is None:
        return ""
    return link.title if link.title is not None else link.href


def label(resource: Resource) -> str:
    """What a resource is called: subject, name, title, login, value or its self title."""
    for key in ("subject", "name", "title", "login", "value"):
        value = resource.get(key)
        if isinstance(value, str) and value:
            return value
    self_link = resource.links.get("self")
    if isinstance(self_link, Link) and self_link.title:
        return self_link.title
    if resource.resource_type == "Activity::Comment":
        return text_of(resource.get("comment"))
    return ""


def headline(resource: Resource) -> str:
    """``WorkPackage #42 "Subject"``."""
    kind = resource.resource_type or "Resource"
    ident = resource.get("id")
    head = f"{kind} #{ident}" if ident is not None else kind
    name = label(resource)
    return f'{head} "{one_line(name, 120)}"' if name else head


def write_line(stream: TextIO, text: str = "") -> None:
    stream.write(text + "\n")


def json_text(doc: Any) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
