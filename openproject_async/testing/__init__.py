"""An in-process fake of the OpenProject API v3, for tests and benchmarks.

``FakeOpenProject`` serves seeded, deterministic data over real HTTP (aiohttp) and follows
the real server's documents, link names, status codes and quirks (1-based ``offset``
pages, percent-encoded link templates, forms that answer 200 with validation errors,
409 on stale ``lockVersion``...). Knobs add latency, a worker limit and faults::

    from openproject_async.testing import FakeOpenProject, Fault

    async with FakeOpenProject(seed_size=50, max_concurrent_requests=4) as server:
        server.faults.add(Fault("status", status=503, times=1))
        ...  # point a client at server.url with api_key=server.api_key

The seed data is described in ``openproject_async.testing._seed``. Standalone:
``python -m openproject_async.testing --port 0`` prints ``READY <url> <api_key>``.
The pytest plugin provides the ``openproject_server`` fixture.

This package stands alone: it does not import the client library.
"""

from typing import TYPE_CHECKING

from ._data import Store, WorkPackage
from ._faults import Fault, FaultSet, InjectedFault
from ._http import RecordedRequest
from ._main import serve
from ._server import FakeOpenProject
from ._storage import FakeStorage

if TYPE_CHECKING:
    from ._mock import MockTransport

# MockTransport needs the client's HttpResponse; loaded when asked for, so that this
# package stays importable without the client.


def __getattr__(name: str) -> object:
    if name == "MockTransport":
        from ._mock import MockTransport

        return MockTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "FakeOpenProject",
    "FakeStorage",
    "Fault",
    "FaultSet",
    "InjectedFault",
    "MockTransport",
    "RecordedRequest",
    "Store",
    "WorkPackage",
    "serve",
]
