"""The time limits of one call: its deadline, each exchange's share, the error when they run out.

A call (one API request, its retries and redirect hops included) may last the retry
policy's ``deadline``, counted from the moment it first got a concurrency slot; each
exchange may last its total limit, but never past what is left of the deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from yarl import URL

from ._policy import Timeouts, safe_url
from .errors import RequestTimeout


@dataclass(slots=True)
class Clock:
    """The time limit of one call: the retry policy's ``deadline`` from its first slot."""

    deadline: float | None
    started: float | None = None

    def budget(self, total: float) -> tuple[float, bool]:
        """Seconds the next exchange may take; True when the call's deadline is the limit."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if self.deadline is None:
            return total, False
        left = self.deadline - (now - self.started)  # exact when no time has passed
        return (left, True) if left < total else (total, False)

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started


def with_total(timeouts: Timeouts, total: float) -> Timeouts:
    """``timeouts`` with ``total``; a read timeout that cannot fire before it is left out."""
    read = timeouts.read
    return replace(timeouts, total=total, read=None if read is not None and read >= total else read)


def timed_out(
    method: str, url: URL, limit: float, by_deadline: bool, attempt: int, clock: Clock
) -> RequestTimeout:
    """The error for an exchange stopped by its total limit or by the call's deadline."""
    shown = safe_url(url)
    if by_deadline:
        why = (
            f"the retry policy's deadline of {clock.deadline:g}s for the whole call ran out "
            f"(attempt {attempt}, {clock.elapsed():.1f}s in all)"
        )
    else:
        why = f"the time limit of one exchange (attempt {attempt}, {clock.elapsed():.1f}s in all)"
    err = RequestTimeout(
        f"{method} {shown}: no complete answer within {max(limit, 0.0):g}s: {why}",
        url=shown,
        method=method,
    )
    err.timeout = max(limit, 0.0)
    return err
