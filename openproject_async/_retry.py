"""When to try a request again, and how long to wait (tenacity does the looping).

Safe to repeat: GET, HEAD, DELETE, and POSTs to form endpoints (forms have no side
effects). Everything else (creates, comments, watchers, PATCH) is sent once unless the
caller opts in per call with ``retry=True``: a lost answer to a create must not turn
into two work packages. A PATCH carries ``lockVersion``, so a repeated PATCH whose first
attempt did land fails with 409 UpdateConflict rather than applying twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tenacity import RetryCallState

from .errors import APIError, ConnectionFailed, OpenProjectError, ProtocolError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def is_form_url(path: str) -> bool:
    """OpenProject's form endpoints end in ``/form``."""
    return path.rstrip("/").endswith("/form")


def wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` or OpenProject's ``RateLimit-Reset``.

    ``RateLimit-Reset`` is epoch seconds on OpenProject (PROTOCOL.md section 8) but delta
    seconds in the IETF draft; large values are read as epoch.
    """
    now = time.time() if now is None else now
    for name in ("Retry-After", "RateLimit-Reset"):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            continue
        if value > 1_000_000_000:
            value -= now
        return max(value, 0.0)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How the session retries. ``OpenProject(retry=None)`` disables retries.

    attempts: total tries per request (first one included).
    deadline: give up retrying after this many seconds since the first try.
    backoff / max_backoff: jittered exponential backoff base and cap, in seconds.
    max_wait_hint: cap for waits the server asks for (429 reset, Retry-After).
    statuses: HTTP statuses worth another try.
    """

    attempts: int = 5
    deadline: float = 60.0
    backoff: float = 0.2
    max_backoff: float = 10.0
    max_wait_hint: float = 30.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))

    def retryable_error(self, exc: BaseException, *, replayable: bool) -> bool:
        """May the request that raised ``exc`` be sent again?

        A connection that failed before the request left is always safe to retry; any other
        failure only when the request itself is safe to repeat (``replayable``).
        """
        if isinstance(exc, ConnectionFailed) and exc.before_send:
            return True
        if not replayable:
            return False
        if isinstance(exc, OpenProjectError) and exc.transient:  # e.g. a body cut off
            return True
        if isinstance(exc, APIError | ProtocolError):
            return exc.status in self.statuses
        return isinstance(exc, ConnectionFailed)

    def wait(self, state: RetryCallState) -> float:
        """tenacity ``wait=`` callback: the server's hint if any, else jittered backoff."""
        exc = state.outcome.exception() if state.outcome else None
        hint = exc.retry_after if isinstance(exc, OpenProjectError) else None
        if hint is not None:
            return min(float(hint), self.max_wait_hint) + random.uniform(0, self.backoff)
        exp = self.backoff * (2 ** (state.attempt_number - 1))
        return random.uniform(0, min(exp, self.max_backoff))


def describe(exc: BaseException) -> str:
    """Short text for logs: the class and, for API errors, the status."""
    status = getattr(exc, "status", None)
    name = type(exc).__name__
    return f"{name} {status}" if status is not None and isinstance(exc, OpenProjectError) else name
