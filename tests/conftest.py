"""Shared test setup.

aioresponses 0.7.9 builds ``ClientResponse`` without the ``stream_writer`` argument that
aiohttp 3.14 requires (aioresponses issue #289). aiohttp 3.14 is a security release, so
instead of pinning it lower we give aioresponses a response class that supplies one.
Remove this shim once aioresponses ships a fix.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import aioresponses.core as aioresponses_core
import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses

from openproject_async import OpenProject

if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:

    class _ShimmedResponse(ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            if "stream_writer" not in kwargs:
                writer = Mock()
                writer.output_size = 0
                kwargs["stream_writer"] = writer
            super().__init__(method, url, **kwargs)

    aioresponses_core.ClientResponse = _ShimmedResponse  # type: ignore[attr-defined]

#: The server that recorded-answer tests (aioresponses) pretend to talk to.
RECORDED_BASE = "https://op.example.com"

SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "openproject" / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def shared_examples() -> Path:
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip("../shared/openproject/examples is not present")
    return SHARED_EXAMPLES


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """Recorded answers: requests to ``RECORDED_BASE`` are answered by aioresponses."""
    with aioresponses() as m:
        yield m


@pytest.fixture
async def op() -> AsyncIterator[OpenProject]:
    """A session on ``RECORDED_BASE`` with retries off, for tests with recorded answers."""
    async with OpenProject(RECORDED_BASE, api_key="secret-key", retry=None) as session:
        yield session
