"""pytest plugin of openproject-async (entry point ``openproject_async``): ``openproject_server``.

pytest loads this module in every run of every project that has openproject-async
installed, so it lives outside the ``openproject_async`` package: importing anything in
that package runs its ``__init__``, which loads the whole client and aiohttp. Here only
pytest-asyncio is imported up front; the fake server (and with it the client and aiohttp)
is imported when a test first uses the fixture. The fixture needs pytest-asyncio; without
it the plugin defines nothing. Disable the plugin with ``-p no:openproject_async``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is part of the test extra
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from openproject_async.testing import FakeOpenProject

__all__: list[str] = []


if pytest_asyncio is not None:
    __all__ += ["openproject_server"]

    @pytest_asyncio.fixture
    async def openproject_server() -> AsyncIterator[FakeOpenProject]:
        """A started ``FakeOpenProject`` with default settings (50 seeded work packages)."""
        from openproject_async.testing._server import FakeOpenProject

        async with FakeOpenProject() as server:
            yield server
