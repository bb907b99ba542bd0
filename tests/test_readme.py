"""The README's code that claims to run does run (its testing example is a real test)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).parent.parent / "README.md"


def python_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"expected one README python block with {containing!r}"
    return str(found[0])


async def test_the_testing_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(python_block("async def test_rename"), str(README), "exec"), namespace)
    await namespace["test_rename"]()


def test_the_two_commands_come_first() -> None:
    text = README.read_text(encoding="utf-8")
    first = text.index("```bash")
    commands = [
        line for line in text[first:].split("```", 2)[1].splitlines() if line.startswith("python")
    ]
    assert commands[0].endswith(".venv/bin/openproject-async demo")
    assert commands[1].endswith(".venv/bin/python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci
