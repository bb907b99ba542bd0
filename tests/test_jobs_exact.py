"""``op.wait_for_job()`` over MockTransport, exactly: the polls, the waits, the result, the errors.

Written against mutation testing (README, "Development").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openproject_async import HttpRequest, HttpResponse, JobFailed, OpenProject, ProtocolError
from openproject_async import _jobs as jobs_module
from openproject_async.testing import MockTransport

BASE = "https://op.test"
JOB = "/api/v3/job_statuses/j1"


def status(state: str, **doc: Any) -> dict[str, Any]:
    return {
        "_type": "JobStatus",
        "jobId": "j1",
        "status": state,
        "_links": {"self": {"href": JOB}},
        **doc,
    }


class Jobs:
    """Answers the job status from a script, then anything else as a Thing."""

    def __init__(self, *states: dict[str, Any]) -> None:
        self.states = list(states)
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.seen.append((request.method, request.url.path_qs))
        assert len(self.seen) <= 200, "polled too often"  # (a mutant's endless loop)
        if request.url.path == JOB:
            doc = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return HttpResponse.json(doc)
        return HttpResponse.json({"_type": "Thing", "path": request.url.path})


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []

    async def record(seconds: float) -> None:
        seen.append(seconds)

    monkeypatch.setattr(jobs_module, "_sleep", record)
    return seen


@pytest.fixture
async def env() -> AsyncIterator[tuple[OpenProject, Jobs]]:
    jobs = Jobs(status("in_queue"))
    async with OpenProject(BASE, api_key="k", transport=MockTransport(jobs), retry=None) as op:
        yield op, jobs


Env = tuple[OpenProject, Jobs]


async def test_polls_until_success_and_reads_the_first_payload_link(
    env: Env, waits: list[float]
) -> None:
    op, jobs = env
    links = {
        "_links": {
            "none": None,
            "nohref": {"title": "x"},
            "empty": {"href": ""},
            "number": {"href": 5},
            "project": {"href": "/api/v3/projects/9"},
            "other": {"href": "/api/v3/projects/10"},
        }
    }
    jobs.states = [
        status("in_queue"),
        status("in_process"),
        status("in_process"),
        status("in_process"),
        status("success", payload=links),
    ]
    made = await op.wait_for_job(JOB, interval=0.5, max_interval=1.5)
    assert made.data == {"_type": "Thing", "path": "/api/v3/projects/9"}
    assert jobs.seen == [("GET", JOB)] * 5 + [("GET", "/api/v3/projects/9")]
    assert waits == [0.5, 1.0, 1.5, 1.5]


async def test_success_without_a_link_returns_the_status(env: Env, waits: list[float]) -> None:
    op, jobs = env
    for payload in (None, [], {"_links": []}, {"_links": {}}, {"_links": {"a": {"href": None}}}):
        done = op.wrap(status("success", payload=payload))
        assert await op.wait_for_job(done) is done
    assert jobs.seen == []
    assert waits == []


async def test_the_defaults(env: Env, waits: list[float]) -> None:
    op, jobs = env
    jobs.states = [status("in_queue")] * 7 + [status("success")]
    done = await op.wait_for_job(op.wrap(status("in_queue")))
    assert done["status"] == "success"
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert all(type(w) is float for w in waits)
    assert len(jobs.seen) == 8


async def test_int_intervals_become_seconds(env: Env, waits: list[float]) -> None:
    op, jobs = env
    jobs.states = [status("in_queue"), status("success")]
    await op.wait_for_job(op.wrap(status("in_queue")), interval=1, max_interval=3)
    assert waits == [1.0, 2.0]
    assert [type(w) for w in waits] == [float, float]


@pytest.mark.parametrize("state", ["failure", "error", "cancelled"])
async def test_a_failed_job(env: Env, waits: list[float], state: str) -> None:
    op, jobs = env
    jobs.states = [status("in_process"), status(state, message="Boom.", payload={"errors": [1]})]
    with pytest.raises(JobFailed) as info:
        await op.wait_for_job(JOB)
    error = info.value
    assert (error.status, error.message, error.job_id, error.payload) == (
        state,
        "Boom.",
        "j1",
        {"errors": [1]},
    )
    assert str(error) == f"job j1 ended with status {state!r}: Boom."
    assert waits == [0.2]


async def test_a_failed_job_without_a_message_or_id(env: Env, waits: list[float]) -> None:
    op, _ = env
    bare = op.wrap({"_type": "JobStatus", "status": "error"})
    with pytest.raises(JobFailed) as info:
        await op.wait_for_job(bare)
    assert (info.value.message, info.value.job_id, info.value.payload) == (None, None, None)
    assert str(info.value) == "the job ended with status 'error': no message"
    odd = op.wrap(status("failure", message={"text": "x"}))
    with pytest.raises(JobFailed) as info:
        await op.wait_for_job(odd)
    assert info.value.message == "{'text': 'x'}"


async def test_what_is_not_a_job_status(env: Env, waits: list[float]) -> None:
    op, jobs = env
    jobs.states = [status("in_queue"), {"_type": "Project", "id": 1}]
    with pytest.raises(ProtocolError) as info:
        await op.wait_for_job(JOB)
    assert str(info.value) == "expected a JobStatus, got <Project #1>"
    unlinked = op.wrap({"_type": "JobStatus", "jobId": "j2", "status": "in_queue"})
    with pytest.raises(ProtocolError) as info:
        await op.wait_for_job(unlinked)
    assert str(info.value) == f"{unlinked!r} has no self link to poll"
    assert waits == [0.2]


async def test_a_job_that_does_not_finish(env: Env) -> None:
    op, _jobs = env
    with pytest.raises(TimeoutError) as info:
        await op.wait_for_job(JOB, timeout=0.01, interval=0.001, max_interval=0.001)
    assert str(info.value) == "job j1 did not finish within 0.01 s"
    assert info.value.__suppress_context__
    anonymous = op.wrap(
        {"_type": "JobStatus", "status": "in_queue", "_links": {"self": {"href": JOB}}}
    )
    with pytest.raises(TimeoutError) as info:
        await op.wait_for_job(anonymous, timeout=0.01, interval=0.001, max_interval=0.001)
    assert str(info.value) == f"job {JOB} did not finish within 0.01 s"


async def test_no_timeout(env: Env, waits: list[float]) -> None:
    op, jobs = env
    jobs.states = [status("in_queue"), status("success")]
    assert (await op.wait_for_job(JOB, timeout=None))["status"] == "success"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, "interval must be seconds > 0, got 0"),
        ({"interval": -1.0}, "interval must be seconds > 0, got -1.0"),
        ({"interval": True}, "interval must be seconds > 0, got True"),
        ({"interval": "1"}, "interval must be seconds > 0, got '1'"),
        ({"max_interval": 0}, "max_interval must be seconds > 0, got 0"),
        ({"max_interval": None}, "max_interval must be seconds > 0, got None"),
        ({"timeout": 0}, "timeout must be seconds > 0 or None, got 0"),
        ({"timeout": -5}, "timeout must be seconds > 0 or None, got -5"),
        ({"timeout": True}, "timeout must be seconds > 0 or None, got True"),
        ({"timeout": "1"}, "timeout must be seconds > 0 or None, got '1'"),
    ],
)
async def test_arguments_are_checked_exactly(
    env: Env, kwargs: dict[str, Any], message: str
) -> None:
    op, jobs = env
    with pytest.raises(ValueError, match="must be seconds > 0") as info:
        await op.wait_for_job(JOB, **kwargs)
    assert str(info.value) == message
    assert jobs.seen == []


async def test_the_job_is_a_resource_or_an_href(env: Env) -> None:
    op, _ = env
    with pytest.raises(TypeError) as info:
        await op.wait_for_job(5)
    assert str(info.value) == "job must be a JobStatus resource or its href, got 5"


async def test_small_positive_values_are_accepted(env: Env, waits: list[float]) -> None:
    op, jobs = env
    jobs.states = [status("in_queue"), status("success")]
    await op.wait_for_job(JOB, timeout=30, interval=0.001, max_interval=0.001)
    assert waits == [0.001]
    await asyncio.sleep(0)
