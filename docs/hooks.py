"""MkDocs hooks: the README's links to ``examples/*.py`` work on the site too.

docs/index.md includes README.md, whose links point into the repository's ``examples/``
folder. This hook adds those files to the site (as they are, not copied into docs/), so
the links resolve and strict mode can check them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent


def on_files(files: Files, config: Any) -> Files:
    for example in sorted((ROOT / "examples").glob("*.py")):
        files.append(File.generated(config, f"examples/{example.name}", abs_src_path=str(example)))
    return files
