"""The runnable examples (``examples/*.py``) against the in-process server."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp.test_utils import TestClient, TestServer

from openproject_async import OpenProject
from openproject_async.testing import FakeOpenProject

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
API = "/api/v3"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=60) as fake:
        yield fake


def comments(server: FakeOpenProject, wp_id: int) -> list[tuple[int, str]]:
    """(user id, text) of the comments on a work package, oldest first."""
    return [
        (a.user_id, a.comment)
        for a in sorted(server.store.activities.values(), key=lambda a: a.id)
        if a.work_package_id == wp_id and a.comment
    ]


# -- bulk summary ------------------------------------------------------------------------------


async def test_bulk_summary_counts_every_work_package(
    server: FakeOpenProject, tmp_path: Path
) -> None:
    bulk = load("bulk_summary")
    target = tmp_path / "summary.json"
    args = ["--url", server.url, "--api-key", server.api_key, "--project", "demo"]
    args += ["--project", "scrum", "--page-size", "7", "--json", "-o", str(target)]
    server.clear_requests()
    assert await asyncio.to_thread(bulk.main, args) == 0
    summary = json.loads(target.read_text())
    store = server.store
    wps = [w for w in store.work_packages.values() if w.project_id in (1, 2)]
    status = Counter(store.statuses[w.status_id].name for w in wps)
    assignee = Counter(
        store.users[w.assignee_id].name if w.assignee_id else "(unassigned)" for w in wps
    )
    assert summary["projects"] == {
        "Demo project": sum(w.project_id == 1 for w in wps),
        "Scrum project": sum(w.project_id == 2 for w in wps),
    }
    assert summary["total"] == len(wps)
    assert summary["by_status"] == dict(status)
    assert summary["by_assignee"] == dict(assignee)
    dana = Counter(store.statuses[w.status_id].name for w in wps if w.assignee_id == 4)
    assert summary["by_assignee_and_status"]["Dana Developer"] == dict(dana)
    # closed ones included, and only what the summary needs was asked for
    pages = [parse_qs(r.query) for r in server.requests if r.path.endswith("/work_packages")]
    assert {p["filters"][0] for p in pages} == {"[]"}
    assert {p["select"][0] for p in pages} == {"*,elements/id,elements/status,elements/assignee"}
    assert len(pages) == sum(-(-n // 7) for n in summary["projects"].values())


async def test_bulk_summary_table(
    server: FakeOpenProject, capsys: pytest.CaptureFixture[str]
) -> None:
    bulk = load("bulk_summary")
    args = ["--url", server.url, "--api-key", server.api_keys["member"]]
    assert await asyncio.to_thread(bulk.main, args) == 0
    lines = capsys.readouterr().out.splitlines()
    visible = [w for w in server.store.work_packages.values() if w.project_id in (1, 2)]
    assert lines[0] == f"{len(visible)} work packages"  # member sees demo and scrum only
    header = lines[4].split()
    assert header[0] == "assignee"
    assert header[-1] == "total"
    assert lines[-1].split()[-1] == str(len(visible))


# -- mention bot -------------------------------------------------------------------------------


async def test_mention_bot_answers_each_mention_once(server: FakeOpenProject) -> None:
    bot = load("mention_bot")
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tag = '<mention class="mention" data-id="4" data-type="user" data-text="@Dana">@Dana</mention>'
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as mia:
        for wp_id, text in [
            (1, "@dana can you look at this?"),
            (2, f"{tag} please review"),
            (3, "no mention here, @danais_not_dana"),
        ]:
            wp = await mia.get(f"{API}/work_packages/{wp_id}")
            await wp.addComment(comment=text)
    async with OpenProject(server.url, api_key=server.api_keys["dana"]) as dana:
        wp = await dana.get(f"{API}/work_packages/5")
        await wp.addComment(comment="note to self, @dana")  # her own: no answer
    args = ["--url", server.url, "--api-key", server.api_keys["dana"], "--since", since]
    args += ["--max-iterations", "2", "--interval", "0"]
    server.clear_requests()
    assert await asyncio.to_thread(bot.main, args) == 0
    for wp_id in (1, 2):
        mention_id = next(
            a.id
            for a in server.store.activities.values()
            if a.work_package_id == wp_id and a.user_id == 2 and a.comment
        )
        assert comments(server, wp_id)[-1] == (
            4,
            f"Hi Mia Member, I saw your mention and will look into it. "
            f"(reply to activity {mention_id})",
        )
    assert [c for c in comments(server, 3) if c[0] == 4] == []
    assert [c[0] for c in comments(server, 5)] == [4]
    polls = [parse_qs(r.query) for r in server.requests if r.path == f"{API}/work_packages"]
    assert len(polls) == 2
    assert json.loads(polls[0]["filters"][0]) == [
        {"updatedAt": {"operator": "<>d", "values": [since, ""]}}
    ]
    assert json.loads(polls[0]["sortBy"][0]) == [["updatedAt", "asc"], ["id", "asc"]]
    # the bot's in-app notifications for what it answered were marked read (#2's tag)
    assert [(n.work_package_id, n.read_ian) for n in server.notifications.values()] == [(2, True)]
    # a restarted bot does not answer again: its answers name the activity they answer
    # (every work package commented on since --since is read again)
    server.clear_requests()
    before = len(server.store.activities)
    assert await asyncio.to_thread(bot.main, args) == 0
    assert len(server.store.activities) == before
    read_again = {r.path for r in server.requests if r.path.endswith("/activities")}
    assert read_again == {f"{API}/work_packages/{i}/activities" for i in (1, 2, 3, 5)}


async def test_mention_bot_resumes_from_its_state_file(
    server: FakeOpenProject, tmp_path: Path
) -> None:
    bot = load("mention_bot")
    state = tmp_path / "bot.cursor"
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ["--url", server.url, "--api-key", server.api_keys["dana"], "--since", since]
    args += ["--max-iterations", "1", "--interval", "0", "--state", str(state)]
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as mia:
        wp = await mia.get(f"{API}/work_packages/1")
        await wp.addComment(comment="@dana first")
        assert await asyncio.to_thread(bot.main, args) == 0
        cursor = state.read_text()
        assert cursor
        before = len(server.store.activities)
        assert await asyncio.to_thread(bot.main, args) == 0  # nothing new since the cursor
        assert len(server.store.activities) == before
        wp = await mia.get(f"{API}/work_packages/3")
        await wp.addComment(comment="@dana second")
        server.clear_requests()
        assert await asyncio.to_thread(bot.main, args) == 0
    reads = [
        r.path for r in server.requests if r.method == "GET" and r.path.endswith("/activities")
    ]
    assert reads == [f"{API}/work_packages/3/activities"]
    answers = [c for c in comments(server, 1) + comments(server, 3) if c[0] == 4]
    assert [text.split(" (reply")[0] for _, text in answers] == [
        "Hi Mia Member, I saw your mention and will look into it.",
        "Hi Mia Member, I saw your mention and will look into it.",
    ]


def _example_env(server: FakeOpenProject, login: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENPROJECT_")}
    env.update(OPENPROJECT_URL=server.url, OPENPROJECT_API_KEY=server.api_keys[login])
    return env


async def test_mention_bot_stops_cleanly_on_sigint(server: FakeOpenProject) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "mention_bot.py"),
        "--interval",
        "30",
        env=_example_env(server, "dana"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert first.startswith("watching for mentions of Dana Developer since ")
        for _ in range(200):  # until the first poll has been made
            if any(r.path == f"{API}/work_packages" for r in server.requests):
                break
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "stopped after 1 polls, 0 answers\n"
    assert err == b""


# -- web service -------------------------------------------------------------------------------


@pytest.fixture
async def web_client(server: FakeOpenProject) -> AsyncIterator[TestClient[Any, Any]]:
    service = load("web_service")
    app = service.create_app(server.url, api_key=server.api_keys["member"])
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_web_service_shares_one_session(
    server: FakeOpenProject, web_client: TestClient[Any, Any]
) -> None:
    service = sys.modules["example_web_service"]
    session = web_client.app[service.SESSION]
    results = await asyncio.gather(*(web_client.get(f"/work_packages/{i}") for i in (1, 2, 3)))
    docs = [await r.json() for r in results]
    store = server.store
    for doc in docs:
        wp = store.work_packages[doc["id"]]
        assert doc == {
            "id": wp.id,
            "subject": wp.subject,
            "status": store.statuses[wp.status_id].name,
            "assignee": store.users[wp.assignee_id].name if wp.assignee_id else None,
            "lockVersion": wp.lock_version,
        }
    assert web_client.app[service.SESSION] is session
    assert session.stats["requests"] == 3
    summary = await (await web_client.get("/projects/2/summary")).json()
    scrum = [w for w in store.work_packages.values() if w.project_id == 2]
    assert summary == {
        "project": "Scrum project",
        "total": len(scrum),
        "by_status": dict(Counter(store.statuses[w.status_id].name for w in scrum)),
    }
    answer = await web_client.post("/work_packages/1/comment", json={"text": "From the web"})
    assert answer.status == 201
    activity = store.activities[(await answer.json())["activity"]]
    assert (activity.work_package_id, activity.user_id, activity.comment) == (1, 2, "From the web")


async def test_web_service_maps_errors(web_client: TestClient[Any, Any]) -> None:
    missing = await web_client.get("/work_packages/99999")
    assert missing.status == 404
    assert (await missing.json())["error"] == "NotFound"
    secret = await web_client.get("/projects/3/summary")  # member is not in "secret"
    assert secret.status == 404
    bad = await web_client.post("/work_packages/1/comment", json={"nope": 1})
    assert bad.status == 400


# -- webhook bot -------------------------------------------------------------------------------


async def test_webhook_bot_answers_deliveries_of_the_built_in_server(
    server: FakeOpenProject,
) -> None:
    bot = load("webhook_bot")
    app = bot.create_app(server.url, api_key=server.api_keys["dana"], secret="s3cret")
    async with TestClient(TestServer(app)) as client:
        handler = client.app[bot.HANDLER]
        server.add_webhook(
            str(client.make_url("/hooks/openproject")),
            secret="s3cret",
            events=["work_package:created", "work_package_comment:comment"],
        )

        async def settle() -> None:  # until no delivery and no handler is left
            while True:
                await server.wait_for_webhooks()
                await handler.join()
                if not handler.in_flight and all(d.status for d in server.webhook_deliveries):
                    return

        async with OpenProject(server.url, api_key=server.api_keys["member"]) as mia:
            project = await mia.get(f"{API}/projects/1")
            wp = await project.submit("createWorkPackage", subject="Pump broken")
            await settle()
            assert comments(server, wp["id"]) == [
                (4, f"Thanks Mia Member, #{wp['id']} is filed; we will triage it soon.")
            ]
            await wp.addComment(comment="what is the !status here?")
            await settle()
        stored = server.work_package(wp["id"])
        assert comments(server, wp["id"])[-1] == (
            4,
            f"#{wp['id']} is {server.store.statuses[stored.status_id].name}, assigned to nobody.",
        )
        assert len(comments(server, wp["id"])) == 3  # its own comments were not answered
        actions = [d.action for d in server.webhook_deliveries]
        assert actions == [
            "work_package:created",
            "work_package_comment:comment",  # the bot's thanks, ignored
            "work_package_comment:comment",  # !status
            "work_package_comment:comment",  # the bot's answer, ignored
        ]
        assert [d.status for d in server.webhook_deliveries] == [202, 202, 202, 202]
        assert handler.stats["failed"] == 0
        forged = await client.post(
            "/hooks/openproject",
            data=server.webhook_deliveries[0].body,
            headers={"X-OP-Signature": "sha1=" + "0" * 40},
        )
        assert forged.status == 401
