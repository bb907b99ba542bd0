"""Which exception class an Error document becomes: the decoding layer's half of the errors.

``errors`` holds the classes (and imports nothing of the package); this module maps an
``errorIdentifier`` URN to its class, and the members of a ``MultipleErrors`` document to
``MultipleErrors`` or, when they are all of one kind, ``MultipleErrors[kind]``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import URN_PREFIX, APIError, FormInvalid, MultipleErrors

__all__ = ["error_class_for", "multiple_errors_of"]


def _registry() -> dict[str, type[APIError]]:
    """``{URN suffix: class}`` for every APIError class that declares its own suffix.

    Classes that only inherit a suffix are left out: the ``MultipleErrors[kind]`` classes
    (which may exist before this runs, e.g. unpickled ones) and subclasses made elsewhere.
    """
    found: dict[str, type[APIError]] = {}
    todo: list[type[APIError]] = [APIError]
    seen: set[type[APIError]] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        suffix = cls.__dict__.get("identifier_suffix")
        if isinstance(suffix, str) and suffix and cls is not FormInvalid:
            found[suffix] = cls
        todo.extend(cls.__subclasses__())
    return found


_BY_SUFFIX = _registry()


def error_class_for(identifier: str | None) -> type[APIError]:
    """The APIError subclass for an errorIdentifier URN (APIError itself when unknown)."""
    if not identifier:
        return APIError
    suffix = identifier[len(URN_PREFIX) :] if identifier.startswith(URN_PREFIX) else identifier
    return _BY_SUFFIX.get(suffix, APIError)


def multiple_errors_of(members: Iterable[APIError]) -> type[MultipleErrors]:
    """The class for a MultipleErrors holding ``members``.

    When every member is of one class (several ``InvalidQuery`` for several bad filters,
    several ``PropertyConstraintViolation``), the error is also an instance of that class,
    so ``except InvalidQuery`` catches one bad filter and many alike. Mixed members give
    plain :class:`MultipleErrors`; ``.errors`` always lists them.
    """
    kinds = {type(m) for m in members}
    if len(kinds) != 1:
        return MultipleErrors
    (kind,) = kinds
    return MultipleErrors._of_kind(kind)
