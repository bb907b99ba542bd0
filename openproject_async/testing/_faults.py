"""Fault injection: answer some requests with errors, drop or truncate them, or hang."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field

FAULT_KINDS = ("status", "throttle", "drop", "drop_after", "truncate", "hang")


@dataclass
class Fault:
    """One fault rule. All given conditions must match a request for it to apply.

    Kinds:

    * ``status`` -- answer ``status`` without handling the request: a HAL
      InternalServerError for 500 (and other codes), an nginx-like ``text/html`` page for
      502/503/504.
    * ``throttle`` -- 429 ``Throttled`` with ``RateLimit-Limit``, ``RateLimit-Remaining: 0``
      and ``RateLimit-Reset`` (epoch seconds, about 1 s ahead), no ``Retry-After``.
    * ``drop`` -- close the connection before handling (nothing changes server-side).
    * ``drop_after`` -- handle the request fully (changes are committed), then close the
      connection without answering: the lost response of a create.
    * ``truncate`` -- handle, send the status and the full ``Content-Length`` but only half
      of the body, then close.
    * ``hang`` -- never answer (until the client gives up or the server closes).

    ``status``/``throttle``/``drop``/``hang`` act in front of the workers (like a proxy),
    ``drop_after``/``truncate`` occupy a worker like any handled request.

    ``rate``: probability per matching request (deterministic RNG, ``seed``);
    ``times``: apply to the next N matching requests, then stop. With neither, every
    matching request is faulted. ``path`` is a regex searched in the request path,
    ``method`` is compared case-insensitively. ``injected`` counts this rule's faults.
    """

    kind: str
    _: KW_ONLY
    rate: float | None = None
    times: int | None = None
    method: str | None = None
    path: str | None = None
    status: int = 503
    seed: int | None = None
    injected: int = field(default=0, init=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0")
        self._rng = random.Random(self.seed if self.seed is not None else 0)
        self._pattern = re.compile(self.path) if self.path else None

    @property
    def exhausted(self) -> bool:
        """True once a ``times`` rule has injected that many faults (it then never fires)."""
        return self.times is not None and self.injected >= self.times

    def matches(self, method: str, path: str) -> bool:
        """Whether a request meets ``method`` and ``path`` (``rate`` and ``times`` aside)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return not (self._pattern is not None and not self._pattern.search(path))

    def fire(self, method: str, path: str) -> bool:
        """Whether this rule faults the request (and count it if so)."""
        if self.exhausted or not self.matches(method, path):
            return False
        if self.rate is not None and self._rng.random() >= self.rate:
            return False
        self.injected += 1
        return True


@dataclass(frozen=True)
class InjectedFault:
    """One entry of ``server.faults.log``: which kind of fault hit which request, when.

    ``status`` is the HTTP status sent (``status`` and ``throttle`` faults), ``at`` epoch seconds.
    """

    kind: str
    method: str
    path: str
    status: int | None
    at: float


class FaultSet:
    """``server.faults``: the active rules and a log of every injected fault."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.log: list[InjectedFault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a rule (after the others); returns it, to ``remove`` or read it later."""
        self.rules.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Deactivate a rule (ValueError when it is not active)."""
        self.rules.remove(fault)

    def clear(self) -> None:
        """Remove every rule (the log of injected faults is kept; see ``reset_log``)."""
        self.rules.clear()

    def reset_log(self) -> None:
        """Forget the injected faults (the rules stay)."""
        self.log.clear()

    @property
    def injected(self) -> int:
        """How many faults were injected so far."""
        return len(self.log)

    def count(self, kind: str | None = None) -> int:
        """How many faults were injected so far, of ``kind`` or of any kind."""
        return sum(1 for f in self.log if kind is None or f.kind == kind)

    def pick(self, method: str, path: str) -> Fault | None:
        """The first rule that faults this request (logged), or None; asked once per request."""
        for rule in self.rules:
            if rule.fire(method, path):
                status = (
                    rule.status
                    if rule.kind == "status"
                    else (429 if rule.kind == "throttle" else None)
                )
                self.log.append(InjectedFault(rule.kind, method, path, status, time.time()))
                return rule
        return None

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.rules)
