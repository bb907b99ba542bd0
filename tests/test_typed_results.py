"""Public results are typed: a user's ``mypy --strict`` sees what each call returns.

Runs mypy (the ``dev`` extra) on a user-style script and pins every ``reveal_type``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

SCRIPT = '''\
from openproject_async import Collection, Form, OpenProject, Resource, Schema


async def main() -> None:
    async with OpenProject("https://op.example.com", api_key="k") as op:
        reveal_type(op)
        root = await op.root()
        reveal_type(root)
        wp = await op.get("/api/v3/work_packages/1")
        reveal_type(wp)
        wps = await op.get("/api/v3/work_packages", expect=Collection)
        reveal_type(wps)
        reveal_type(await wp.follow("project"))
        project = await wp.follow("project", expect=Resource)
        reveal_type(project)
        reveal_type(await wp.action("addComment", comment="x"))
        reveal_type(await wp.refresh())
        reveal_type(await wp.save(subject="y"))
        reveal_type(await project.submit("createWorkPackage", subject="z"))
        form = await wp.update(subject="u")
        reveal_type(form)
        reveal_type(await form.commit())
        reveal_type(await wp.load_schema())
        reveal_type(await op.get_many(["/a", "/b"]))
        reveal_type(wps.elements)
        reveal_type(await wps.to_list())
        reveal_type(wp.subject)
        async for item in wps:
            reveal_type(item)
'''

R = "openproject_async._resource.Resource"
EXPECTED = [
    "openproject_async._client.OpenProject",
    R,
    R,
    "openproject_async._collection.Collection",
    f"{R} | list[{R} | None] | None",
    R,
    f"{R} | str | None",
    R,
    R,
    R,
    "openproject_async._forms.Form",
    R,
    "openproject_async._schema.Schema",
    f"list[{R}]",
    f"list[{R}]",
    f"list[{R}]",
    "Any",  # attribute sugar (wp.subject) stays Any
    R,
]


def test_public_results_are_typed(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    user.write_text(SCRIPT)
    out, _err, _status = api.run(["--strict", "--no-error-summary", str(user)])
    revealed = [
        line.split('Revealed type is "', 1)[1].rstrip('"')
        for line in out.splitlines()
        if "Revealed type is" in line
    ]
    problems = [line for line in out.splitlines() if ": error:" in line]
    assert problems == []
    assert revealed == EXPECTED
