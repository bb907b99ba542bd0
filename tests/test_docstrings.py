"""Every public name has a docstring: the exported classes and functions, and each public
method, property, classmethod and staticmethod those classes define or inherit from a class
of this package (not builtins' or the standard library's).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
from collections.abc import Iterator
from typing import Any

import openproject_async
from openproject_async import errors, testing

PACKAGE = "openproject_async"
MODULES: tuple[types.ModuleType, ...] = (openproject_async, errors, testing)


def _ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _documented(doc: object) -> bool:
    return isinstance(doc, str) and bool(doc.strip())


def _class_doc(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return None
    if dataclasses.is_dataclass(cls) and doc.startswith(cls.__name__ + "("):
        return None  # the signature dataclasses writes in when the class has no docstring
    return doc


def _member_doc(attr: object) -> tuple[bool, str | None]:
    """(is a method-like member, its docstring); plain data attributes are not members."""
    if isinstance(attr, staticmethod | classmethod):
        return True, attr.__func__.__doc__
    if isinstance(attr, property | functools.cached_property):
        return True, attr.__doc__
    if inspect.isfunction(attr):
        return True, attr.__doc__
    return False, None


def _public() -> Iterator[tuple[str, Any]]:
    """(dotted public name, object) for every name in the modules' ``__all__``, each once."""
    seen: set[int] = set()
    for module in MODULES:
        yield module.__name__, module
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or isinstance(obj, types.ModuleType):
                continue
            seen.add(id(obj))
            yield f"{module.__name__}.{name}", obj


def audit() -> tuple[list[str], list[str]]:
    """(every name checked, the names without a docstring)."""
    checked: list[str] = []
    missing: list[str] = []
    members_seen: set[tuple[type, str]] = set()

    def check(name: str, doc: object) -> None:
        checked.append(name)
        if not _documented(doc):
            missing.append(name)

    for public_name, obj in _public():
        if isinstance(obj, types.ModuleType):
            check(public_name, obj.__doc__)
        elif inspect.isclass(obj):
            if not _ours(obj):
                continue
            check(public_name, _class_doc(obj))
            shadowed: set[str] = set()
            for klass in obj.__mro__:
                for name, attr in vars(klass).items():
                    if name.startswith("_") or name in shadowed:
                        continue
                    shadowed.add(name)
                    is_member, doc = _member_doc(attr)
                    if not is_member or not _ours(klass) or (klass, name) in members_seen:
                        continue
                    members_seen.add((klass, name))
                    check(f"{klass.__module__}.{klass.__qualname__}.{name}", doc)
        elif inspect.isfunction(obj) and _ours(obj):
            check(public_name, obj.__doc__)
    return checked, missing


def test_every_public_name_has_a_docstring() -> None:
    _, missing = audit()
    assert not missing, f"{len(missing)} public names without a docstring:\n  " + "\n  ".join(
        sorted(missing)
    )


def test_the_audit_covers_the_public_surface() -> None:
    checked, _ = audit()
    expected = {
        "openproject_async.testing",
        "openproject_async.OpenProject",
        "openproject_async.NotFound",  # errors are re-exported at the top
        "openproject_async.error_class_for",
        "openproject_async.errors.APIError.attribute",  # a property
        "openproject_async._links.Link.undisclosed",
        "openproject_async._auth.ApiKey.header",  # an async method
        "openproject_async._document.HalDocument.get",  # inherited by Resource
        "openproject_async.testing.InjectedFault",  # a dataclass
        "openproject_async.testing._faults.FaultSet.pick",
        "openproject_async.testing._data.Store.journal",
    }
    assert expected <= set(checked), sorted(expected - set(checked))
    assert len(checked) > 200


def test_undocumented_members_are_reported() -> None:
    @dataclasses.dataclass
    class Bare:
        x: int = 0

        def method(self) -> None:
            pass

        @property
        def prop(self) -> int:
            return self.x

        @staticmethod
        def static() -> None:
            pass

        @classmethod
        def klass(cls) -> None:
            pass

    assert _class_doc(Bare) is None
    for name in ("method", "prop", "static", "klass"):
        assert _member_doc(Bare.__dict__[name]) == (True, None), name
    assert _member_doc(Bare.__dict__["x"]) == (False, None)
