"""Waiting for background jobs (``/api/v3/job_statuses/{id}``), e.g. a project copy.

An action that runs in the background (``POST /api/v3/projects/{id}/copy``) answers with a
redirect to a JobStatus: ``jobId``, ``status`` (``in_queue``, ``in_process``, ``success``,
``failure``, ``error``, ``cancelled``), ``message`` and ``payload``. On success the payload
links what the job made (``_links.project`` for a copy).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._resource import Resource
from .errors import JobFailed, ProtocolError

if TYPE_CHECKING:
    from ._client import OpenProject

FAILED = frozenset({"failure", "error", "cancelled"})
_sleep = asyncio.sleep  # (tests replace it to see the waits)


async def wait_for_job(
    op: OpenProject,
    job: Resource | str,
    *,
    timeout: float | None = 300.0,
    interval: float = 0.2,
    max_interval: float = 5.0,
) -> Resource:
    """Poll a job status until it has finished; see :meth:`OpenProject.wait_for_job`."""
    for name, value in (("interval", interval), ("max_interval", max_interval)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be seconds > 0, got {value!r}")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise ValueError(f"timeout must be seconds > 0 or None, got {timeout!r}")
    if isinstance(job, str):
        status = await op.get(job)
    elif isinstance(job, Resource):
        status = job
    else:
        raise TypeError(f"job must be a JobStatus resource or its href, got {job!r}")
    try:
        async with asyncio.timeout(timeout):
            return await _poll(op, status, float(interval), float(max_interval))
    except TimeoutError:
        raise TimeoutError(
            f"job {status.get('jobId') or status.href} did not finish within {timeout} s"
        ) from None


async def _poll(op: OpenProject, status: Resource, delay: float, max_delay: float) -> Resource:
    href = status.href
    while True:
        if status.resource_type != "JobStatus":
            raise ProtocolError(f"expected a JobStatus, got {status!r}")
        state = status.get("status")
        if state == "success":
            return await _result(op, status)
        if state in FAILED:
            raise JobFailed(
                _message(status.get("message")),
                status=str(state),
                job_id=status.get("jobId"),
                payload=status.get("payload"),
            )
        if not href:
            raise ProtocolError(f"{status!r} has no self link to poll")
        await _sleep(delay)
        delay = min(delay * 2, max_delay)
        status = await op.get(href)


def _message(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


async def _result(op: OpenProject, status: Resource) -> Resource:
    """What the job made: the first link of its payload, else the job status itself."""
    payload = status.get("payload")
    links = payload.get("_links") if isinstance(payload, dict) else None
    if isinstance(links, dict):
        for value in links.values():
            href = value.get("href") if isinstance(value, dict) else None
            if isinstance(href, str) and href:
                return await op.get(href)
    return status
