"""pytest plugin (entry point ``openproject_async``): the ``openproject_server`` fixture.

Import-light: the server is imported only when the fixture is used. The fixture needs
pytest-asyncio; without it the plugin defines nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is part of the test extra
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ._server import FakeOpenProject


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def openproject_server() -> AsyncIterator[FakeOpenProject]:
        """A started ``FakeOpenProject`` with default settings (50 seeded work packages)."""
        from ._server import FakeOpenProject

        async with FakeOpenProject() as server:
            yield server
