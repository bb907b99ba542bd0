"""The ``openproject-async`` command: get / follow / export / errors, in-process against
FakeOpenProject (``main()`` runs in a worker thread, the server on the test's loop)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from openproject_async import cli
from openproject_async._cli import _progress
from openproject_async._cli._common import error_line
from openproject_async.errors import TimeoutOutcomeUnknown
from openproject_async.testing import FakeOpenProject, Fault

API = "/api/v3"
Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENPROJECT_URL", "OPENPROJECT_API_KEY", "OPENPROJECT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=40) as fake:
        yield fake


@pytest.fixture
def run(server: FakeOpenProject, capsys: pytest.CaptureFixture[str]) -> Run:
    """``await run("get", "work_packages/1")`` -> (exit code, stdout, stderr)."""

    async def go(*argv: str, auth: bool = True) -> tuple[int, str, str]:
        capsys.readouterr()
        args = list(argv)
        if auth:
            args += ["--url", server.url, "--api-key", server.api_key]
        code = await asyncio.to_thread(cli.main, args)
        out, err = capsys.readouterr()
        return code, out, err

    return go


def open_ids(server: FakeOpenProject) -> set[int]:
    open_status = {s.id for s in server.store.statuses.values() if not s.is_closed}
    return {w.id for w in server.store.work_packages.values() if w.status_id in open_status}


# -- get / follow ------------------------------------------------------------------------------


async def test_get_prints_properties_actions_relations_embedded(
    server: FakeOpenProject, run: Run
) -> None:
    wp = server.store.work_packages[2]
    code, out, err = await run("get", "work_packages/2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f'WorkPackage #2 "{wp.subject}"  {API}/work_packages/2'
    sections = [line for line in lines if not line.startswith(" ")]
    assert sections[1:] == ["properties:", "actions:", "relations:", "embedded:"]
    assert f"  subject                {wp.subject}" in lines
    update = next(line for line in lines if line.lstrip().startswith("update "))
    assert update.split() == ["update", "POST", f"{API}/work_packages/2/form"]
    status = server.store.statuses[wp.status_id].name
    status_line = next(line for line in lines if line.lstrip().startswith("status "))
    assert status_line.split(None, 2) == ["status", f"{API}/statuses/{wp.status_id}", f'"{status}"']
    assert any(line.split()[:2] == ["customActions", "[2"] for line in lines)


async def test_get_json_is_the_document(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run("get", f"{API}/work_packages/3", "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["_type"], doc["id"], doc["subject"]) == (
        "WorkPackage",
        3,
        server.store.work_packages[3].subject,
    )
    assert doc["_links"]["self"]["href"] == f"{API}/work_packages/3"


async def test_get_with_query_params(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run(
        "get", "work_packages", "-p", "filters=[]", "-p", "pageSize=2", "--json"
    )
    doc = json.loads(out)
    assert code == 0
    assert (doc["total"], doc["count"]) == (len(server.store.work_packages), 2)


async def test_follow_root_to_the_first_page(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run("follow", "/api/v3", "workPackages", "-p", "pageSize=3")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith(f"-> workPackages: {API}/work_packages?")
    assert lines[1].startswith("WorkPackageCollection  ")
    assert f"  total     {len(open_ids(server))}" in lines
    first_three = sorted(open_ids(server))[:3]
    listed = [line.split()[2] for line in lines if line.startswith("    [")]
    assert listed == [f"#{i}" for i in first_three]


async def test_follow_through_embedded_elements_and_links(
    server: FakeOpenProject, run: Run
) -> None:
    code, out, _ = await run(
        "follow", "/api/v3", "workPackages", "elements[1]", "project", "--json"
    )
    second = sorted(open_ids(server))[1]
    project_id = server.store.work_packages[second].project_id
    assert code == 0
    assert json.loads(out)["id"] == project_id


async def test_follow_a_link_array_lists_it_and_picks_by_index(
    server: FakeOpenProject, run: Run
) -> None:
    code, out, _ = await run("follow", "work_packages/1", "customActions")
    assert code == 0
    assert out.splitlines()[1:] == [
        f'[0] {API}/custom_actions/1  "Reset"',
        f'[1] {API}/custom_actions/2  "Close"',
    ]
    code, out, _ = await run("follow", "work_packages/1", "customActions[1]", "--json")
    assert json.loads(out)["name"] == "Close"


async def test_follow_never_uses_an_action_link(server: FakeOpenProject, run: Run) -> None:
    server.clear_requests()
    code, _, err = await run("follow", "work_packages/1", "delete")
    assert code == 2
    assert err == (
        f"error: 'delete' is an action (DELETE {API}/work_packages/1); "
        "follow walks GET links only\n"
    )
    assert [r.method for r in server.requests] == ["GET"]
    assert 1 in server.store.work_packages


async def test_follow_unknown_rel_lists_what_there_is(run: Run) -> None:
    code, _, err = await run("follow", "/api/v3", "nope")
    assert code == 1
    assert err.startswith("error: ActionUnavailable: Root has no link 'nope'")
    assert "relations: self, " in err
    assert "workPackages" in err
    assert err.count("\n") == 1


# -- errors ------------------------------------------------------------------------------------


async def test_api_error_is_one_line(run: Run) -> None:
    code, out, err = await run("get", "work_packages/99999")
    assert (code, out) == (1, "")
    assert err == (
        "error: NotFound (HTTP 404, urn:openproject-org:api:v3:errors:NotFound): "
        "The specified work package does not exist.\n"
    )


async def test_debug_adds_traceback_and_http_log(server: FakeOpenProject, run: Run) -> None:
    code, _, err = await run("get", "work_packages/99999", "--debug")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert f"debug: GET {server.url}{API}/work_packages/99999 -> 404" in err
    assert err.splitlines()[-1].startswith("error: NotFound (HTTP 404,")


async def test_bad_credentials(server: FakeOpenProject, run: Run) -> None:
    code, _, err = await run(
        "get", "/api/v3/work_packages", "--url", server.url, "--api-key", "wrong", auth=False
    )
    assert code == 1
    assert err.startswith("error: Unauthenticated (HTTP 401, urn:openproject-org:api:v3:errors:")
    assert "wrong" not in err


async def test_connection_refused_is_one_line(run: Run) -> None:
    code, _, err = await run("get", "/api/v3", "--url", "http://127.0.0.1:9", auth=False)
    assert code == 1
    assert err.startswith("error: ConnectionFailed: GET http://127.0.0.1:9/api/v3: cannot connect")
    assert err.count("\n") == 1


async def test_configuration_from_the_environment(
    server: FakeOpenProject, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENPROJECT_URL", server.url)
    monkeypatch.setenv("OPENPROJECT_TOKEN", server.api_token)
    code, out, _ = await run("get", "/api/v3/users/me", "--json", auth=False)
    assert code == 0
    assert json.loads(out)["login"] == "admin"
    monkeypatch.setenv("OPENPROJECT_API_KEY", server.api_keys["member"])  # the key wins
    code, out, _ = await run("get", "/api/v3/users/me", "--json", auth=False)
    assert json.loads(out)["login"] == "member"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["get", "x"]) == 2
    assert capsys.readouterr().err == (
        "error: no server given: pass --url URL or set OPENPROJECT_URL "
        "(and --api-key/OPENPROJECT_API_KEY or --token/OPENPROJECT_TOKEN)\n"
    )
    assert cli.main(["get", "x", "--url", "http://h", "--api-key", "k", "--token", "t"]) == 2
    assert "either --api-key or --token" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("openproject-async ")
    assert cli.main(["get", "/api/v3", "--url", "ftp://h"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot use --url: url must be an http(s) URL")


# -- export ------------------------------------------------------------------------------------


async def test_export_jsonl_includes_closed_work_packages(
    server: FakeOpenProject, run: Run
) -> None:
    server.clear_requests()
    code, out, err = await run("export", "--page-size", "7", "--concurrency", "3")
    assert (code, err) == (0, "")
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["id"] for d in docs] == sorted(server.store.work_packages)
    assert {d["_type"] for d in docs} == {"WorkPackage"}
    first = parse_qs(server.requests[0].query)
    assert first["filters"] == ["[]"]  # without it the server's default filter hides closed
    pages = [r for r in server.requests if r.path == f"{API}/work_packages"]
    assert len(pages) == -(-len(docs) // 7)


async def test_export_filters_and_sort(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run(
        "export", "--filter", "status=o", "--filter", "subject~api", "--sort", "id:desc"
    )
    wanted = sorted(
        (i for i in open_ids(server) if "api" in server.store.work_packages[i].subject.casefold()),
        reverse=True,
    )
    assert code == 0
    assert wanted  # the seed has some
    assert [json.loads(line)["id"] for line in out.splitlines()] == wanted


async def test_export_raw_json_filter_and_project(server: FakeOpenProject, run: Run) -> None:
    raw = '[{"type": {"operator": "=", "values": ["1"]}}]'
    code, out, _ = await run("export", "--project", "demo", "--filter", raw)
    wanted = sorted(
        w.id for w in server.store.work_packages.values() if w.project_id == 1 and w.type_id == 1
    )
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == wanted


async def test_export_csv_columns_links_and_custom_fields_by_name(
    server: FakeOpenProject, run: Run, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    code, out, err = await run(
        "export",
        "-o",
        str(target),
        "--filter",
        "type=4,5",
        "--columns",
        "id,subject,status,assignee,Story points,Customer",
    )
    assert (code, out, err) == (0, "", "")
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == ["id", "subject", "status", "assignee", "Story points", "Customer"]
    store = server.store
    expected = []
    for wp in sorted(store.work_packages.values(), key=lambda w: w.id):
        if wp.type_id not in (4, 5):
            continue
        assignee = store.users[wp.assignee_id].name if wp.assignee_id else ""
        points = wp.custom_values.get(1)
        option = wp.custom_values.get(2)
        expected.append(
            [
                str(wp.id),
                wp.subject,
                store.statuses[wp.status_id].name,
                assignee,
                "" if points is None else str(points),
                store.custom_options[option].value if option else "",
            ]
        )
    assert rows[1:] == expected
    assert any(r[5] for r in rows[1:])  # custom field values really came through


async def test_export_csv_select_gives_the_columns(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run("export", "--format", "csv", "--select", "id,subject,status")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0
    assert rows[0] == ["id", "subject", "status"]
    assert len(rows) == len(server.store.work_packages) + 1
    query = parse_qs(server.requests[0].query)
    assert query["select"] == ["*,elements/id,elements/subject,elements/status"]


async def test_export_csv_of_another_collection(server: FakeOpenProject, run: Run) -> None:
    code, out, _ = await run("export", "projects", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [(r["id"], r["identifier"]) for r in rows] == [
        (str(p.id), p.identifier) for p in server.store.projects.values()
    ]


async def test_export_warns_about_unknown_columns(run: Run) -> None:
    code, out, err = await run("export", "--columns", "id,Nonsense field")
    assert code == 0
    assert err == (
        "warning: column 'Nonsense field' is not a property, link or schema field of the first "
        "page's elements; it stays empty where no element has it\n"
    )
    assert {row[1] for row in csv.reader(io.StringIO(out))} == {"Nonsense field", ""}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "nonsense"], "error: cannot read filter 'nonsense': expected NAME=VALUE"),
        (["--sort", "id:sideways"], "error: cannot read --sort 'id:sideways'"),
        (["--format", "jsonl", "--columns", "id"], "error: --columns is for CSV output"),
        (["--concurrency", "0"], "error: --concurrency must be at least 1"),
        (["--project", "demo", "projects"], "error: give either a collection HREF or --project"),
    ],
)
async def test_export_usage_errors(run: Run, args: list[str], message: str) -> None:
    code, out, err = await run("export", *args)
    assert (code, out) == (2, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


async def test_export_server_rejects_a_filter(run: Run) -> None:
    code, _, err = await run("export", "--filter", "nosuchthing=1")
    assert code == 1
    assert err == (
        "error: InvalidQuery (HTTP 400, urn:openproject-org:api:v3:errors:InvalidQuery): "
        "Filters nosuchthing filter does not exist.\n"
    )


async def test_export_of_a_single_resource_is_refused(run: Run) -> None:
    code, _, err = await run("export", "work_packages/1")
    assert code == 1
    assert err == f"error: {API}/work_packages/1 is not a collection (it is a WorkPackage)\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("with_tqdm", [True, False])
async def test_export_progress_on_a_terminal(
    server: FakeOpenProject,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    with_tqdm: bool,
) -> None:
    if not with_tqdm:
        monkeypatch.setattr(_progress, "_tqdm_class", lambda: None)
    elif _progress._tqdm_class() is None:
        pytest.skip("tqdm is not installed (the cli extra)")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    total = len(server.store.work_packages)
    args = ["export", "--url", server.url, "--api-key", server.api_key, "--page-size", "10"]
    code = await asyncio.to_thread(cli.main, args)
    assert code == 0
    shown = terminal.getvalue()
    assert f"{total}/{total}" in shown
    assert shown.endswith("\n")
    assert len(capsys.readouterr().out.splitlines()) == total


async def test_export_is_quiet_when_stderr_is_not_a_terminal(run: Run) -> None:
    code, _, err = await run("export", "--page-size", "5")
    assert (code, err) == (0, "")


class _HangAfter(Fault):
    """A ``hang`` fault that lets the first ``after`` matching requests through."""

    def __init__(self, after: int, path: str) -> None:
        super().__init__("hang", path=path)
        self.after = after
        self.passed = 0

    def fire(self, method: str, path: str) -> bool:
        if not self.matches(method, path):
            return False
        if self.passed < self.after:
            self.passed += 1
            return False
        self.injected += 1
        return True


async def _until(condition: Callable[[], bool], proc: asyncio.subprocess.Process) -> None:
    """Poll for ``condition`` (or the process ending); a safety limit, not a timing."""
    for _ in range(2000):
        if condition() or proc.returncode is not None:
            return
        await asyncio.sleep(0.01)


async def test_interrupted_export_leaves_a_valid_file(tmp_path: Path) -> None:
    # Deterministic: the server answers three pages of five, then the fourth request hangs
    # for good, so the export is certainly mid-way (15 records written) when interrupted.
    target = tmp_path / "wps.jsonl"
    async with FakeOpenProject(seed_size=40) as server:
        fault = server.faults.add(_HangAfter(3, path=r"/api/v3/work_packages$"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "openproject_async",
            "export",
            "--page-size",
            "5",
            "--concurrency",
            "1",
            "-o",
            str(target),
            env={
                **os.environ,
                "OPENPROJECT_URL": server.url,
                "OPENPROJECT_API_KEY": server.api_key,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

        def written() -> int:
            return target.read_text().count("\n") if target.exists() else 0

        try:
            await _until(lambda: fault.injected > 0 and written() >= 15, proc)
            assert proc.returncode is None, "the export ended before the hanging page"
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert (fault.passed, fault.injected) == (3, 1)
    assert proc.returncode == 130, err.decode()
    text = target.read_text()
    assert text.endswith("\n")
    ids = [json.loads(line)["id"] for line in text.splitlines()]
    assert ids == list(range(1, 16))
    # one line, said once (not a second bare "interrupted" after it)
    assert err.decode() == f"interrupted: 15 complete records written to {target}\n"


async def test_interrupted_get_says_interrupted_once() -> None:
    async with FakeOpenProject(seed_size=5) as hanging:
        fault = hanging.faults.add(Fault("hang"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "openproject_async",
            "get",
            "work_packages/1",
            env={
                **os.environ,
                "OPENPROJECT_URL": hanging.url,
                "OPENPROJECT_API_KEY": hanging.api_key,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(400):  # until the request hangs in the server (at most ~20 s)
                await asyncio.sleep(0.05)
                if fault.injected or proc.returncode is not None:
                    break
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert (proc.returncode, out, err) == (130, b"", b"interrupted\n")


# -- usability: what a new user runs first ------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "glued"),
    [
        (["export", "--sort", "-updatedAt"], ["export", "--sort=-updatedAt"]),
        (
            ["export", "--sort", "-updatedAt,id", "-o", "x"],
            ["export", "--sort=-updatedAt,id", "-o", "x"],
        ),
        (["export", "--sort=-id"], ["export", "--sort=-id"]),
        (["export", "--sort", "id:desc"], ["export", "--sort", "id:desc"]),
        (["export", "--sort", "-o", "x"], ["export", "--sort", "-o", "x"]),  # a short option
        (["export", "--sort", "--filter", "a=1"], ["export", "--sort", "--filter", "a=1"]),
        (["export", "--sort"], ["export", "--sort"]),
        (["follow", "x", "--", "--sort", "-y"], ["follow", "x", "--", "--sort", "-y"]),
    ],
)
def test_a_sort_value_starting_with_a_dash_is_glued_to_its_option(
    argv: list[str], glued: list[str]
) -> None:
    assert cli.glue_dash_values(argv) == glued


async def test_export_sort_descending_as_the_readme_writes_it(
    server: FakeOpenProject, run: Run
) -> None:
    server.clear_requests()
    code, out, err = await run("export", "--sort", "-id", "--page-size", "100")
    assert (code, err) == (0, "")
    assert [json.loads(line)["id"] for line in out.splitlines()] == sorted(
        server.store.work_packages, reverse=True
    )
    assert parse_qs(server.requests[0].query)["sortBy"] == ['[["id","desc"]]']
    assert await run("export", "--sort=-id", "--page-size", "100") == (0, out, "")
    readme = ("export", "--filter", "subject~api", "--sort", "-updatedAt")
    code, out, err = await run(*readme)
    assert (code, err) == (0, "")
    assert await run(*readme[:-1], "updatedAt:desc") == (0, out, "")


def readme_commands(name: str) -> list[list[str]]:
    """The README's ``openproject-async NAME ...`` command lines (continuations joined)."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")
    lines = [line.split("  #")[0] for line in joined.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith(f"{cli.PROG} {name} ")]


async def test_the_readme_export_commands_run_as_written(
    server: FakeOpenProject, run: Run, tmp_path: Path
) -> None:
    commands = readme_commands("export")
    assert len(commands) == 2
    for argv in commands:
        if ">" in argv:  # the shell's redirection
            argv = argv[: argv.index(">")]
        if "-o" in argv:
            argv[argv.index("-o") + 1] = str(tmp_path / argv[argv.index("-o") + 1])
        code, _, err = await run(*argv)
        assert (code, err) == (0, ""), argv
    header = (tmp_path / "open.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "id,subject,status,assignee,Story points"


async def test_export_sort_without_a_value_is_a_usage_error(run: Run) -> None:
    code, out, err = await run("export", "--sort", "-o", "x.csv")
    assert (code, out) == (2, "")
    assert (
        err.splitlines()[-1]
        == "openproject-async export: error: argument --sort: expected one argument"
    )


def test_serve_help_lists_only_what_serve_uses(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    options = [s for action in serve._actions for s in action.option_strings]
    assert options == [
        "-h", "--help", "--debug", "--port", "--seed-size", "--latency", "--max-page-size",
        "--ready-line",
    ]  # fmt: skip
    assert cli.main(["serve", "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: openproject-async serve [-h] [--debug] [--port PORT]")
    for unused in ("--url", "--api-key", "--token", "--timeout"):
        assert unused not in shown.replace("--url and --api-key", "")  # the epilog's hint
    assert shown.endswith(
        "It prints its URL and the API keys of its seeded users, and stops on Ctrl+C or\n"
        "SIGTERM (exit code 0). Point the other commands at it with --url and --api-key\n"
        "(or OPENPROJECT_URL and OPENPROJECT_API_KEY).\n"
    )


def test_serve_refuses_client_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--url", "http://localhost:8080", "serve"]) == 2
    assert capsys.readouterr().err == (
        "error: serve takes no --url, --api-key, --token or --timeout: it is the server "
        "(it prints its URL and API keys)\n"
    )


async def test_a_timeout_counts_attempts_and_time(
    server: FakeOpenProject, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = server.faults.add(Fault("hang"))
    times = iter([100.0, 112.5])
    monkeypatch.setattr(cli, "_clock", lambda: next(times))
    code, out, err = await run("get", "work_packages/1", "--timeout", "0.05")
    assert (code, out) == (1, "")
    assert err == (
        f"error: RequestTimeout: GET {server.url}{API}/work_packages/1: no answer after 0.05s "
        "(5 attempts, 12.5 s since the command started)\n"
    )
    assert fault.injected == 5


def test_a_lost_write_says_it_was_sent_once() -> None:
    lost = TimeoutOutcomeUnknown("POST http://h/api/v3/x: no answer after 60s after ...")
    assert error_line(lost) == (
        "error: TimeoutOutcomeUnknown: POST http://h/api/v3/x: no answer after 60s after ... "
        "(1 attempt)"
    )


def test_timeout_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["get", "x", "--url", "http://h", "--timeout", "0"]) == 2
    assert capsys.readouterr().err == "error: --timeout must be more than 0 seconds, not 0\n"
