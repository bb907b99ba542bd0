"""When to try a request again, and how long to wait (tenacity does the looping).

Safe to repeat: GET, HEAD, DELETE, and POSTs to form endpoints (forms have no side
effects). Everything else (creates, comments, watchers, PATCH) is sent once unless the
caller opts in per call with ``retry=True``: a lost answer to a create must not turn
into two work packages. A PATCH carries ``lockVersion``, so a repeated PATCH whose first
attempt did land fails with 409 UpdateConflict rather than applying twice — which is
also why retrying one is pointless: the caller has to re-read the resource anyway.

A request that never left (the connection could not be made) is always safe to send
again, whatever its method.

Waits: the server's own hint when it gives one (``Retry-After``, or OpenProject's
``RateLimit-Reset`` on a 429 ``Throttled``, which is epoch seconds), capped at
``max_wait_hint``; the hint kept on an error (``retry_after``) is capped at
:data:`MAX_RETRY_AFTER` (an hour), so an absurd one cannot make a caller sleep for
years; otherwise jittered exponential backoff ("full jitter"). No wait ever takes the
request past its ``deadline``: when the next wait would, the last error is raised at
once. The ``deadline`` bounds the try in flight as well (see ``_exchange``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState

from .errors import APIError, OpenProjectError, ProtocolError, RequestTimeout, TransportError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})

#: Values of ``RateLimit-Reset`` above this are epoch seconds (OpenProject), below it
#: delta seconds (IETF draft).
_EPOCH_THRESHOLD = 1_000_000_000


#: The largest wait hint kept (seconds): a server's hint above it is taken as this.
MAX_RETRY_AFTER = 3600.0

#: How the paths of OpenProject's form endpoints end.
FORM_PATH_END = "/form"


def is_form_url(path: str) -> bool:
    """OpenProject's form endpoints end in ``/form``."""
    return path.rstrip("/").endswith(FORM_PATH_END)


def _seconds(raw: str, now: float) -> float | None:
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:  # Retry-After may be an HTTP date
            value = parsedate_to_datetime(text).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(value):
        return None
    if value > _EPOCH_THRESHOLD:
        value -= now
    return max(value, 0.0)


def wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` or OpenProject's ``RateLimit-Reset``.

    ``Retry-After`` is delta seconds or an HTTP date. ``RateLimit-Reset`` is epoch seconds
    on OpenProject (PROTOCOL.md section 8) but delta seconds in the IETF draft; large
    values are read as epoch. Unparsable values are ignored. Never negative, never above
    :data:`MAX_RETRY_AFTER`.
    """
    now = time.time() if now is None else now
    for name in ("Retry-After", "RateLimit-Reset"):
        raw = headers.get(name)
        if raw is None:
            continue
        value = _seconds(raw, now)
        if value is not None:
            return min(value, MAX_RETRY_AFTER)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How the session retries. ``OpenProject(retry=None)`` disables retries.

    attempts: total tries per request (the first one included).
    deadline: no retry starts (and no wait runs) past this many seconds after the first try.
    backoff / max_backoff: jittered exponential backoff: before retry *n* wait a random
        time between 0 and ``min(backoff * 2**(n-1), max_backoff)`` seconds.
    max_wait_hint: cap for waits the server asks for (429 ``RateLimit-Reset``, ``Retry-After``).
    statuses: HTTP statuses worth another try (for requests that are safe to repeat).
    retry_timeouts: also retry requests that are safe to repeat when they time out.
    """

    attempts: int = 5
    deadline: float = 60.0
    backoff: float = 0.2
    max_backoff: float = 10.0
    max_wait_hint: float = 30.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    retry_timeouts: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool):
            raise TypeError(f"attempts must be an int, got {type(self.attempts).__name__}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        for name in ("deadline", "backoff", "max_backoff", "max_wait_hint"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number of seconds, got {value!r}")
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
        statuses = frozenset(self.statuses)
        if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
            raise ValueError(f"statuses must be HTTP status codes, got {sorted(statuses)!r}")
        object.__setattr__(self, "statuses", statuses)

    def retryable_error(self, exc: BaseException, *, replayable: bool) -> bool:
        """May the request that raised ``exc`` be sent again?

        A request that never left (``before_send``) may always be sent again when the
        failure is transient (a refused connection, not a bad certificate); anything else
        only when the request itself is safe to repeat (``replayable``).
        """
        if isinstance(exc, TransportError):
            if not exc.transient:
                return False
            if exc.before_send:
                return True
            if not replayable:
                return False
            return self.retry_timeouts or not isinstance(exc, RequestTimeout)
        if not replayable or not isinstance(exc, OpenProjectError):
            return False
        if exc.transient:  # e.g. a body cut off
            return True
        if isinstance(exc, APIError | ProtocolError):
            return exc.status in self.statuses
        return False

    def delay(self, exc: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) raised ``exc``."""
        hint = exc.retry_after if isinstance(exc, OpenProjectError) else None
        if hint is not None:
            return min(float(hint), self.max_wait_hint) + random.uniform(0, self.backoff)
        exp = self.backoff * (2 ** min(attempt - 1, 62))
        return random.uniform(0, min(exp, self.max_backoff))

    def wait(self, state: RetryCallState) -> float:
        """tenacity ``wait=`` callback: the server's hint if any, else jittered backoff."""
        exc = state.outcome.exception() if state.outcome else None
        return self.delay(exc, state.attempt_number)

    def stop(self, state: RetryCallState) -> bool:
        """tenacity ``stop=`` callback: out of attempts, or the next wait ends past the deadline."""
        return self.stop_after(state, state.seconds_since_start or 0.0)

    def stop_after(self, state: RetryCallState, elapsed: float) -> bool:
        """:meth:`stop` with the seconds since the first try measured by the caller."""
        if state.attempt_number >= self.attempts:
            return True
        return elapsed + state.upcoming_sleep >= self.deadline


def describe(exc: BaseException) -> str:
    """Short text for logs: the class and, for API errors, the status."""
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    return f"{name} {status}" if status is not None and isinstance(exc, OpenProjectError) else name
