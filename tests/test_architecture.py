"""The core's shape, as the package docstring writes it down (issue: one-way layers).

* Every module of the core sits on one line of the layer list in
  ``openproject_async/__init__``; it imports (at run time) only modules of its own line,
  without cycles, and of the lines above it. Imports under ``TYPE_CHECKING`` are for
  annotations and are not counted.
* No module imports one of the package's own modules inside a function.
* No core module over 450 lines, no function over 60.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import openproject_async

PACKAGE = Path(openproject_async.__file__).parent
#: Not part of the layered core: the entry points (the CLI imports its commands lazily,
#: so that ``--help`` does not load the fake server).
OUTSIDE = {"__init__", "__main__", "cli"}
CORE = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in OUTSIDE)


def layers() -> list[list[str]]:
    """The module names on each line of the docstring's layer block."""
    doc = openproject_async.__doc__ or ""
    block = doc.split("::", 1)[1]
    out: list[list[str]] = []
    for line in block.splitlines():
        # module lines are indented by 4 and their names end at the first double space;
        # description lines continue further right
        if not line.startswith("    ") or line.startswith("     "):
            continue
        out.append(re.split(r"\s{2,}", line.strip())[0].split())
    return out


def runtime_imports(module: str) -> tuple[set[str], list[str]]:
    """(modules of the package imported at run time, function-level package imports)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    local: list[str] = []

    def own(node: ast.ImportFrom) -> list[str]:
        if node.level != 1:
            return []
        if node.module:
            return [node.module.split(".")[0]]
        return [a.name for a in node.names]

    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            found.update(own(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and own(sub):
                    local.append(f"{module}.{node.name} imports {own(sub)}")
    return found & set(CORE), local


def test_every_core_module_is_on_exactly_one_layer() -> None:
    listed = [m for line in layers() for m in line]
    assert sorted(listed) == CORE
    assert len(listed) == len(set(listed))


def test_imports_go_only_down_and_never_in_a_cycle() -> None:
    level = {m: i for i, line in enumerate(layers()) for m in line}
    graph = {m: runtime_imports(m)[0] for m in CORE}
    upward = [
        f"{m} (layer {level[m]}) imports {t} (layer {level[t]})"
        for m, targets in graph.items()
        for t in targets
        if level[t] > level[m]
    ]
    assert upward == []
    # same-line imports: no cycle (a topological order exists)
    done: set[str] = set()
    pending = dict(graph)
    while pending:
        ready = [m for m, targets in pending.items() if targets <= done | {m}]
        assert ready, f"import cycle among {sorted(pending)}"
        for m in ready:
            done.add(m)
            del pending[m]


def test_no_function_level_imports_of_the_package() -> None:
    assert [hit for m in CORE for hit in runtime_imports(m)[1]] == []


def test_module_and_function_sizes() -> None:
    too_long: list[str] = []
    for m in CORE:
        source = (PACKAGE / f"{m}.py").read_text()
        lines = len(source.splitlines())
        if lines > 450:
            too_long.append(f"{m}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{m}.{node.name}: {length} lines")
    assert too_long == []


def test_resource_knows_no_special_link_by_name() -> None:
    """Special links are registered from above; _resource's code names none (its docs may)."""
    tree = ast.parse((PACKAGE / "_resource.py").read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    strings = " ".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    )
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    for special in ("addAttachment", "previewMarkup", "/form", "render", "customAction"):
        assert special not in strings
    for module in ("_forms", "_attachments", "_preview", "_custom_actions", "_schema"):
        assert module not in names
