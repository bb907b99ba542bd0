"""Shared test setup.

aioresponses 0.7.9 builds ``ClientResponse`` without the ``stream_writer`` argument that
aiohttp 3.14 requires (aioresponses issue #289). aiohttp 3.14 is a security release, so
instead of pinning it lower we give aioresponses a response class that supplies one.
Remove this shim once aioresponses ships a fix.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import aioresponses.core
import pytest
from aiohttp import ClientResponse

if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:

    class _ShimmedResponse(ClientResponse):
        def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
            if "stream_writer" not in kwargs:
                writer = Mock()
                writer.output_size = 0
                kwargs["stream_writer"] = writer
            super().__init__(method, url, **kwargs)

    aioresponses.core.ClientResponse = _ShimmedResponse  # type: ignore[misc]

SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "openproject" / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def shared_examples() -> Path:
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip("../shared/openproject/examples is not present")
    return SHARED_EXAMPLES
