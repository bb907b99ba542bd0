"""Griffe extension for the API reference: the docstrings' reStructuredText bits as Markdown.

The docstrings are written for ``help()`` and editors, with a little reST: roles such as
``:class:`Resource``` and literal blocks introduced by ``::``. mkdocstrings reads Markdown,
so the roles become code spans (``~a.b.C`` shows ``C``, as in Sphinx) and ``text::``
becomes ``text:`` (the indented block after it is a code block in Markdown too).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)


def markdown(text: str) -> str:
    """``:class:`~a.B``` -> ```B```, ``:meth:`A.b``` -> ```A.b```, ``see::`` -> ``see:``."""

    def code(match: re.Match[str]) -> str:
        short, target = match.group(1), match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if short else target}`"

    return _LITERAL.sub(":", _ROLE.sub(code, text))


class RestructuredText(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
