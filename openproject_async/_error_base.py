"""The root of the exception tree (no imports of the package: everything builds on it).

The whole tree, and where to import it from, is :mod:`openproject_async.errors`.
"""

from __future__ import annotations

import difflib
from typing import Any

URN_PREFIX = "urn:openproject-org:api:v3:errors:"


class OpenProjectError(Exception):
    """Base class of every error raised by openproject_async.

    ``retry_after`` is the wait (seconds) the server asked for, ``transient`` marks
    failures worth another try (a body cut off mid-way); the retry policy reads both.
    ``attempts`` is how many times the request was sent before this error was raised.
    """

    retry_after: float | None = None
    transient: bool = False
    attempts: int = 1

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (and copy) by state: ``args`` and the attributes, ``__init__`` not re-run.

        The subclasses' ``__init__`` take other arguments than the ``args`` they end up
        with, so the default (``cls(*args)``) would fail or build another message.
        """
        return (_rebuild, (type(self), self.args), dict(vars(self)))


# Pickles name these functions (``openproject_async.errors._rebuild``...): keep the
# names and signatures, or pickles made by one version will not load in the next.
def _rebuild(cls: type[OpenProjectError], args: tuple[Any, ...]) -> OpenProjectError:
    """Unpickling: an instance with these ``args`` (attributes follow as its state)."""
    return cls.__new__(cls, *args)


OpenProjectError.__module__ = _rebuild.__module__ = "openproject_async.errors"


def did_you_mean(word: str, candidates: list[str]) -> str:
    """``"; did you mean 'x'?"`` for close candidates (ignoring case), else ``""``."""
    folded: dict[str, str] = {}
    for c in candidates:
        folded.setdefault(c.casefold(), c)
    close = difflib.get_close_matches(word.casefold(), list(folded), n=3, cutoff=0.75)
    if not close or word in candidates:
        return ""
    return "; did you mean " + " or ".join(repr(folded[c]) for c in close) + "?"
