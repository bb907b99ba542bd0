"""The ``openproject_server`` fixture, for ``pytest_plugins = [...]`` lines that name this module.

The registered plugin (entry point ``openproject_async``) is the top-level module
``_openproject_async_pytest``, which stays light because it is outside this package;
importing this module loads the package (client and fake server) first.
"""

from __future__ import annotations

from _openproject_async_pytest import *  # noqa: F403
