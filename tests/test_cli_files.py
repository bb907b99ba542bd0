"""``openproject-async download`` / ``upload`` against the built-in server (``main()`` in a
worker thread, the server on the test's loop)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from openproject_async import cli
from openproject_async._cli import _progress
from openproject_async.testing import FakeOpenProject

API = "/api/v3"
Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENPROJECT_URL", "OPENPROJECT_API_KEY", "OPENPROJECT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_progress, "_tqdm_class", lambda: None)  # the one-line display


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=5, content_redirect=True) as fake:
        yield fake


@pytest.fixture
def run(server: FakeOpenProject, capsys: pytest.CaptureFixture[str]) -> Run:
    async def go(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = [*argv, "--url", server.url, "--api-key", server.api_key]
        code = await asyncio.to_thread(cli.main, args)
        out, err = capsys.readouterr()
        return code, out, err

    return go


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_upload_to_a_work_package_then_download(
    server: FakeOpenProject, run: Run, tmp_path: Path
) -> None:
    data = hashlib.sha256(b"x").digest() * 40000  # 1.28 MB
    source = write(tmp_path / "report.csv", data)
    code, out, err = await run(
        "upload", str(source), "--to", "work_packages/4", "--description", "weekly", "--progress"
    )
    assert code == 0, err
    (att,) = [a for a in server.store.attachments.values() if a.container_id == 4]
    assert (att.file_name, att.content_type, att.description) == (
        "report.csv",
        "text/csv",
        "weekly",
    )
    assert out == f"{API}/attachments/{att.id}  report.csv  {len(data)} bytes\n"
    assert err.endswith(f"\r{len(data)}/{len(data)} bytes (100%)\n")
    target = tmp_path / "copy.csv"
    code, out, err = await run("download", f"attachments/{att.id}", "-o", str(target))
    assert (code, err) == (0, "")
    assert out == f"{target}: {len(data)} bytes\n"
    assert target.read_bytes() == data


async def test_containerless_upload_and_download_under_its_own_name(
    server: FakeOpenProject, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "a.bin", b"\x00\x01\x02")
    code, out, _ = await run("upload", str(source), "--name", "renamed.bin", "--no-progress")
    assert code == 0
    (att,) = server.store.attachments.values()
    assert (att.container_id, att.file_name) == (0, "renamed.bin")
    assert out.split()[0] == f"{API}/attachments/{att.id}"
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code, out, _ = await run("download", f"{API}/attachments/{att.id}")
    assert code == 0
    assert out == "renamed.bin: 3 bytes\n"
    assert (here / "renamed.bin").read_bytes() == b"\x00\x01\x02"


async def test_download_errors_are_one_line(
    server: FakeOpenProject, run: Run, tmp_path: Path
) -> None:
    code, out, err = await run("download", "attachments/999", "-o", str(tmp_path / "x"))
    assert (code, out) == (1, "")
    assert err.startswith("error: NotFound (HTTP 404")
    assert not (tmp_path / "x").exists()
    code, _, err = await run("upload", str(tmp_path / "missing.bin"))
    assert code == 1
    assert err == f"error: cannot read {tmp_path / 'missing.bin'}: No such file or directory\n"
