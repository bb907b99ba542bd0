"""The README's code that claims to run does run (its testing example is a real test)."""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from openproject_async import OpenProject
from openproject_async.testing import FakeOpenProject

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


async def test_the_mock_transport_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(python_block("async def test_subject"), str(README), "exec"), namespace)
    await namespace["test_subject"]()


def test_the_testing_example_runs_as_written_in_a_fresh_project(tmp_path: Path) -> None:
    """No ``asyncio_mode = "auto"`` there: pytest-asyncio's default (strict) mode."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_example.py").write_text(python_block("async def test_rename"), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("1 passed")


async def test_the_tour_runs_and_keeps_the_saved_copy() -> None:
    tour = python_block("asyncio.run(main())")
    assert 'new = await new.save(subject="Write better docs")' in tour
    out = io.StringIO()
    async with FakeOpenProject() as server:
        code = tour.replace(
            'OpenProject("https://op.example.com", api_key="...")',
            f'OpenProject("{server.url}", api_key="{server.api_key}")',
        ).replace("asyncio.run(main())", "")
        namespace: dict[str, Any] = {}
        exec(compile(code, str(README), "exec"), namespace)
        with contextlib.redirect_stdout(out):
            await namespace["main"]()
        wp = server.work_package(42)
        status = server.store.statuses[wp.status_id].name
        created = max(server.store.work_packages)
        assert server.work_package(created).subject == "Write better docs"
        assert [r.status for r in server.requests if r.method == "PATCH"] == [200]
    # what its print() showed: work package 42 as the tour read it
    assert out.getvalue() == f"{wp.subject} {wp.lock_version} {status}\n"


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


async def run_snippet(containing: str) -> str:
    """Run a README block that uses ``op`` and ``project`` (top-level await) on the fake."""
    code = compile(
        python_block(containing), str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    out = io.StringIO()
    async with FakeOpenProject() as server, OpenProject(server.url, api_key=server.api_key) as op:
        namespace: dict[str, Any] = {"op": op, "project": await op.get("/api/v3/projects/1")}
        with contextlib.redirect_stdout(out):
            result = eval(code, namespace)
            if result is not None:
                await result
    return out.getvalue()


def printed_as_commented(containing: str) -> list[str]:
    """What the block's comments say it prints: the ``# ...`` lines after a print call."""
    lines = python_block(containing).splitlines()
    return [
        line.strip().removeprefix("# ")
        for before, line in itertools.pairwise(lines)
        if before.lstrip().startswith("print(") and line.lstrip().startswith("# ")
    ]


async def test_the_forms_walkthrough_does_what_its_comments_say() -> None:
    out = (await run_snippet("form.commit()")).splitlines()
    assert out == [
        "False {'subject': \"Subject can't be blank.\"}",
        "customField1",
        "3 In progress",
    ]
    assert printed_as_commented("form.commit()")[0] == out[0]


async def test_the_errors_example_does_what_its_comments_say() -> None:
    out = (await run_snippet("errors.FormInvalid")).splitlines()
    assert out == [
        "404 urn:openproject-org:api:v3:errors:NotFound",
        "[('subject', \"Subject can't be blank.\")]",
    ]
    assert printed_as_commented("errors.FormInvalid") == [out[1]]
