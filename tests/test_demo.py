"""``openproject-async demo`` and ``serve``: the walk passes on the built-in server, checks
every step against a real one, names the failed step and cleans up after itself."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from openproject_async import cli
from openproject_async.testing import FakeOpenProject, Fault

API = "/api/v3"
STEPS = [
    "Without credentials the server refuses",
    'Authenticate (API key as Basic auth, user "apikey")',
    "List work packages",
    "Fetch the create form with an empty body",
    "Fill the form from the schema's allowed values",
    "Commit the form: create the work package",
    "Find it again with a subject filter",
    "Update it through the update form with lockVersion",
    "Update the stale copy: 409 UpdateConflict",
    "Add a watcher",
    "Add a comment",
    "Delete it",
    "View the work package's project",
    "Update the project through its form",
    "Read the project's status",
]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENPROJECT_URL", "OPENPROJECT_API_KEY", "OPENPROJECT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=20) as fake:
        yield fake


def step_titles(out: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^ ?\d+\. (.+)$", out, re.MULTILINE)]


def demo_work_packages(server: FakeOpenProject) -> list[int]:
    return [
        w.id
        for w in server.store.work_packages.values()
        if w.subject.startswith("openproject-async demo")
    ]


def test_demo_on_the_built_in_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert step_titles(out) == STEPS
    assert out.splitlines()[-1].startswith("ok: all 15 steps did what the usage guide says (")
    assert "-> 401 Unauthenticated: " in out
    assert re.search(r"^      subject +Subject can't be blank\.$", out, re.MULTILINE)
    assert re.search(r"^      project +Project can't be blank\.$", out, re.MULTILINE)
    assert "Story points (customField1, a custom field set by its human name) = 3" in out
    assert "lockVersion 0 -> 1" in out
    assert "update with the stale lockVersion 0 -> 409 UpdateConflict: " in out
    assert re.search(r"-> 404 NotFound$", out, re.MULTILINE)
    assert "{" not in out.split("Fill the form")[0].split("validation errors:")[1]  # no dumps
    project_part = out.split("13. View the work package's project\n")[1].splitlines()
    token = re.search(r"openproject-async demo ([0-9a-f]{8})", out)
    assert token is not None
    assert project_part[:7] == [
        "    GET /api/v3/projects/1 -> Demo project (demo), status On track",
        "    it offers: update, updateImmediately, delete",
        "14. Update the project through its form",
        "    POST /api/v3/projects/1/form {status: At risk, statusExplanation} -> a valid form",
        "    PATCH /api/v3/projects/1 -> status At risk: "
        f'"Set by the openproject-async demo {token.group(1)}"',
        "15. Read the project's status",
        "    GET /api/v3/project_statuses/at_risk -> ProjectStatus 'at_risk': At risk",
    ]


def test_demo_verbose_dumps_documents(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "    validationErrors:" in out
    assert (
        '"errorIdentifier": "urn:openproject-org:api:v3:errors:PropertyConstraintViolation"' in out
    )
    assert '"customField1": 3' in out


async def test_demo_against_a_server_leaves_nothing_behind(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(server.store.work_packages)
    code = await asyncio.to_thread(
        cli.main, ["demo", "--url", server.url, "--api-key", server.api_key, "--project", "scrum"]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert f"server: {server.url} (your server: " in out
    assert "project  Scrum project (chosen with --project 'scrum')" in out
    assert set(server.store.work_packages) == before
    creates = [
        r for r in server.requests if r.method == "POST" and r.path == f"{API}/work_packages"
    ]
    assert [(r.status, r.query) for r in creates] == [(201, "notify=false")]
    patches = [r for r in server.requests if r.method == "PATCH"]
    assert [(r.status, r.query) for r in patches] == [(200, "notify=false")]
    assert server.store.notifications_sent == 0
    # against someone's real server the watcher is the user itself, nobody else
    assert "(yourself) watches" in out
    # ... and the project's update form is opened, never committed
    assert "    not committed (PATCH /api/v3/projects/2): your project stays as it is\n" in out
    assert {r.method for r in server.requests if r.path == f"{API}/projects/2"} == {"GET"}
    scrum = server.store.projects[2]
    assert (scrum.status_code, scrum.status_explanation) == (
        "at_risk", "The sprint is behind schedule.")
    assert "    GET /api/v3/project_statuses/at_risk -> ProjectStatus 'at_risk': At risk\n" in out


async def test_a_failing_step_is_named_and_the_work_package_deleted(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    server.faults.add(Fault("status", method="POST", path="/watchers$", status=403))
    code = await asyncio.to_thread(
        cli.main, ["demo", "--url", server.url, "--api-key", server.api_key]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert step_titles(out) == STEPS[:10]
    lines = err.splitlines()
    assert lines[0] == (
        "error: demo step 10 (watcher) failed: InternalServerError (HTTP 403, "
        "urn:openproject-org:api:v3:errors:InternalServerError): "
        "The server answered with status 403."
    )
    assert re.fullmatch(
        r"cleanup: deleted the demo work package /api/v3/work_packages/\d+", lines[1]
    )
    assert demo_work_packages(server) == []


async def test_a_check_that_fails_is_named_and_cleanup_reports_what_stays(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    # a Developer may do everything but delete: step 12 finds no delete link
    code = await asyncio.to_thread(
        cli.main, ["demo", "--url", server.url, "--api-key", server.api_keys["member"]]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert step_titles(out) == STEPS[:12]
    [wp_id] = demo_work_packages(server)
    failure, cleanup = err.splitlines()
    assert failure == (
        "error: demo step 12 (delete) failed: the work package offers no delete link: this "
        "user may not delete it"
    )
    assert cleanup.startswith(
        f"cleanup: could not delete {API}/work_packages/{wp_id} (MissingPermission (HTTP 403, "
        "urn:openproject-org:api:v3:errors:MissingPermission): "
    )
    assert cleanup.endswith("); delete it by hand")


async def test_a_user_who_may_not_create_stops_at_the_form(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        cli.main, ["demo", "--url", server.url, "--api-key", server.api_keys["reader"]]
    )
    _, err = capsys.readouterr()
    assert code == 1
    assert err == (
        "error: demo step 4 (empty form) failed: the work package collection offers no "
        "createWorkPackage link: this user may not create work packages (the guide: check the "
        "permissions)\n"
    )
    assert demo_work_packages(server) == []


async def test_demo_with_wrong_credentials(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(cli.main, ["demo", "--url", server.url, "--api-key", "nope"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: demo step 2 (authenticate) failed: Unauthenticated (HTTP 401, ")


async def test_demo_local_ignores_the_environment(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENPROJECT_URL", server.url)
    monkeypatch.setenv("OPENPROJECT_API_KEY", server.api_key)
    server.clear_requests()
    assert await asyncio.to_thread(cli.main, ["demo", "--local"]) == 0
    assert "(the built-in fake OpenProject, started for this demo)" in capsys.readouterr().out
    assert server.requests == []


def _console_script() -> Path:
    script = Path(sysconfig.get_path("scripts")) / "openproject-async"
    if not script.exists():
        pytest.skip("the console script is not installed (pip install -e .)")
    return script


def test_console_script_runs_the_demo() -> None:
    """What the README's first command does on a fresh machine."""
    result = subprocess.run(
        [str(_console_script()), "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENPROJECT_")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ok: all 15 steps did what the usage guide says" in result.stdout


async def test_serve_prints_url_and_key_and_stops_on_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "openproject_async",
        "serve",
        "--port",
        "0",
        "--seed-size",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        key_line = (await asyncio.wait_for(proc.stdout.readline(), 5)).decode()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        key = re.search(r"API key of admin +(\S+)", key_line)
        assert url is not None
        assert key is not None
        basic = base64.b64encode(f"apikey:{key.group(1)}".encode()).decode()
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                url.group(0) + "/api/v3/work_packages?filters=[]",
                headers={"Authorization": f"Basic {basic}"},
            ) as resp,
        ):
            assert resp.status == 200
            assert (await resp.json())["total"] == 5
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
