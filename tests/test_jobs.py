"""``op.wait_for_job()`` against the built-in server's project copy and job statuses."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openproject_async import JobFailed, MissingPermission, OpenProject, OpenProjectError
from openproject_async import _jobs as jobs_module
from openproject_async.testing import FakeOpenProject

API = "/api/v3"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenProject]:
    async with FakeOpenProject(seed_size=20) as fake:
        yield fake


@pytest.fixture
async def op(server: FakeOpenProject) -> AsyncIterator[OpenProject]:
    async with OpenProject(server.url, api_key=server.api_key) as session:
        yield session


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between polls, recorded instead of slept."""
    seen: list[float] = []

    async def record(seconds: float) -> None:
        seen.append(seconds)

    monkeypatch.setattr(jobs_module, "_sleep", record)
    return seen


async def copy(op: OpenProject, **body: str) -> Any:
    doc = await op.request("POST", f"{API}/projects/1/copy", json=body)
    assert doc is not None
    return op.wrap(doc)


async def test_copy_answers_a_job_that_finishes_with_the_copy(
    server: FakeOpenProject, op: OpenProject, waits: list[float]
) -> None:
    server.clear_requests()
    job = await copy(op, name="Demo copy", identifier="demo-copy")
    assert job.resource_type == "JobStatus"
    assert job["status"] == "in_queue"
    project = await op.wait_for_job(job)
    assert (project.resource_type, project["identifier"], project["name"]) == (
        "Project",
        "demo-copy",
        "Demo copy",
    )
    job_href = f"{API}/job_statuses/{job['jobId']}"
    assert [(r.method, r.path, r.status) for r in server.requests] == [
        ("POST", f"{API}/projects/1/copy", 302),
        ("GET", job_href, 200),
        ("GET", job_href, 200),
        ("GET", f"{API}/projects/{project['id']}", 200),
    ]
    assert waits == [0.2]
    originals = [w for w in server.store.work_packages.values() if w.project_id == 1]
    copies = [w for w in server.store.work_packages.values() if w.project_id == project["id"]]
    assert sorted(w.subject for w in copies) == sorted(w.subject for w in originals)


async def test_polling_backs_off(
    server: FakeOpenProject, op: OpenProject, waits: list[float]
) -> None:
    server.job_steps = 6
    job = await copy(op, name="Slow copy")
    project = await op.wait_for_job(job["_links"]["self"]["href"], interval=0.5, max_interval=3)
    assert project["identifier"] == "slow-copy"
    assert waits == [0.5, 1.0, 2.0, 3.0]  # the href is read once before the first wait


async def test_a_failed_job_raises_job_failed(
    server: FakeOpenProject, op: OpenProject, waits: list[float]
) -> None:
    job = await copy(op, name="Clash", identifier="scrum")
    with pytest.raises(JobFailed) as info:
        await op.wait_for_job(job)
    error = info.value
    assert (error.status, error.message, error.job_id) == (
        "failure",
        "Identifier has already been taken.",
        job["jobId"],
    )
    assert str(error) == (
        f"job {job['jobId']} ended with status 'failure': Identifier has already been taken."
    )
    assert isinstance(error, OpenProjectError)
    copied = pickle.loads(pickle.dumps(error))
    assert (type(copied), str(copied), copied.status) == (JobFailed, str(error), "failure")


async def test_a_job_that_does_not_finish_times_out(
    server: FakeOpenProject, op: OpenProject
) -> None:
    server.job_steps = 10_000
    job = await copy(op, name="Never")
    with pytest.raises(TimeoutError, match=r"job .* did not finish within 0.05 s"):
        await op.wait_for_job(job, timeout=0.05, interval=0.001, max_interval=0.001)


async def test_copy_needs_an_admin_and_a_name(server: FakeOpenProject, op: OpenProject) -> None:
    async with OpenProject(server.url, api_key=server.api_keys["member"]) as member:
        with pytest.raises(MissingPermission):
            await member.request("POST", f"{API}/projects/1/copy", json={"name": "x"})
    with pytest.raises(OpenProjectError, match="Name can't be blank"):
        await op.request("POST", f"{API}/projects/1/copy", json={"identifier": "x"})
    with pytest.raises(ValueError, match="timeout must be seconds > 0 or None"):
        await op.wait_for_job(f"{API}/job_statuses/x", timeout=0)
    with pytest.raises(TypeError, match="job must be a JobStatus resource or its href"):
        await op.wait_for_job(5)
