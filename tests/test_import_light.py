"""The test kit stays light: pytest loads the plugin in every run of every project that
installs openproject-async, so loading it must not import the client, aiohttp or the fake
server until a test uses the fixture. And the CLI imports the fake server only for
``demo`` (built-in server) and ``serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import _openproject_async_pytest
from openproject_async import OpenProject
from openproject_async.testing import FakeOpenProject

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "_openproject_async_pytest"
SERVER = "openproject_async.testing._server"
HEAVY = ("aiohttp", "openproject_async._session", SERVER)

#: prints, as JSON, which loaded modules belong to the client, the fake server or aiohttp
REPORT = (
    "import json, sys\n"
    "print(json.dumps(sorted(m for m in sys.modules"
    " if m.split('.')[0] in ('aiohttp', 'openproject_async'))))\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENPROJECT_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def loaded_after(code: str, *, cwd: Path = ROOT) -> list[str]:
    """The package/aiohttp modules a fresh interpreter has loaded after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", code + "\n" + REPORT],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


# -- the pytest plugin ------------------------------------------------------------------------


def test_the_registered_plugin_is_the_light_module() -> None:
    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "openproject_async"]
    assert plugin.value == PLUGIN
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pytest11"] == {"openproject_async": PLUGIN}
    # the module is outside the package: the wheel must carry it explicitly
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"] == {f"{PLUGIN}.py": f"{PLUGIN}.py"}
    assert Path(_openproject_async_pytest.__file__) == ROOT / f"{PLUGIN}.py"


def test_importing_the_plugin_loads_no_client_aiohttp_or_server(tmp_path: Path) -> None:
    assert loaded_after(f"import {PLUGIN}", cwd=tmp_path) == []


def test_the_check_sees_the_heavy_modules(tmp_path: Path) -> None:
    """The old plugin path goes through the package: the check above would see that."""
    loaded = loaded_after("import openproject_async.testing.pytest_plugin", cwd=tmp_path)
    assert set(HEAVY) <= set(loaded)


def test_the_old_plugin_path_offers_the_same_fixture() -> None:
    from openproject_async.testing import pytest_plugin

    assert pytest_plugin.openproject_server is _openproject_async_pytest.openproject_server


async def test_the_fixture_serves(openproject_server: FakeOpenProject) -> None:
    assert isinstance(openproject_server, FakeOpenProject)
    assert openproject_server.work_package(50).id == 50  # the default seed: 50 work packages
    async with OpenProject(openproject_server.url, api_key=openproject_server.api_key) as op:
        root: Any = await op.root()
    assert root["_type"] == "Root"


_SESSION_TESTS = """\
import sys

HEAVY = ("aiohttp", "openproject_async._session", "openproject_async.testing._server")


def test_1_nothing_heavy_before_the_fixture():
    assert [m for m in HEAVY if m in sys.modules] == []


async def test_2_fixture(openproject_server):
    from openproject_async import OpenProject

    async with OpenProject(openproject_server.url, api_key=openproject_server.api_key) as op:
        wp = await op.get("/api/v3/work_packages/1")
    assert wp["id"] == 1


def test_3_loaded_once_used():
    assert [m for m in HEAVY if m in sys.modules] == list(HEAVY)
"""


def _pytest_session(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
        encoding="utf-8",
    )
    (tmp_path / "test_uses_fixture.py").write_text(_SESSION_TESTS, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        check=False,
    )


def test_a_pytest_run_loads_the_server_only_when_the_fixture_is_used(tmp_path: Path) -> None:
    done = _pytest_session(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_plugin_can_still_be_disabled_by_its_name(tmp_path: Path) -> None:
    done = _pytest_session(tmp_path, "-p", "no:openproject_async")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "fixture 'openproject_server' not found" in done.stdout
    assert "1 failed, 1 passed, 1 error" in done.stdout  # test_3: nothing was loaded


# -- the command line -------------------------------------------------------------------------

_RUN_CLI = """\
import contextlib, io, sys
from openproject_async.cli import main
out = io.StringIO()
codes = []
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    for argv in {argvs!r}:
        codes.append(main(argv))
assert codes == {codes!r}, (codes, out.getvalue())
"""


def test_cli_help_does_not_import_the_fake_server(tmp_path: Path) -> None:
    argvs = [
        ["--help"],
        ["--version"],
        *([command, "--help"] for command in ("demo", "serve", "export", "get", "follow")),
    ]
    loaded = loaded_after(_RUN_CLI.format(argvs=argvs, codes=[0] * 7), cwd=tmp_path)
    assert "openproject_async.cli" in loaded
    assert [m for m in loaded if m.startswith("openproject_async.testing")] == []


async def test_cli_get_does_not_import_the_fake_server(tmp_path: Path) -> None:
    """A real command against a server; the check then imports the server, to show it sees it."""
    async with FakeOpenProject(seed_size=5) as server:
        argv = ["get", "/api/v3/work_packages/1", "--json", "--url", server.url]
        argv += ["--api-key", server.api_key]
        code = _RUN_CLI.format(argvs=[argv], codes=[0]) + (
            "assert '\"subject\"' in out.getvalue(), out.getvalue()\n"
            "before = sorted(m for m in sys.modules if m.startswith('openproject_async.testing'))\n"
            "import openproject_async.testing\n"
            "print(before)\n"
        )
        proc = await _run_async(code, tmp_path)
    lines = proc.splitlines()
    assert lines[-2] == "[]"  # nothing of the fake server while the command ran
    assert SERVER in json.loads(lines[-1])  # ... and the check does see it once imported
    assert "openproject_async._session" in json.loads(lines[-1])


async def _run_async(code: str, cwd: Path) -> str:
    """Run ``code`` + REPORT in a fresh interpreter while this loop keeps serving."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code + "\n" + REPORT,
        cwd=cwd,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()
