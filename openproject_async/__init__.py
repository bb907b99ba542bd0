"""openproject-async: an asyncio client for the OpenProject API v3.

Resources are HAL documents whose ``_links`` are awaitable actions; writes go through
the server's forms and schemas; collections are async iterators that can fetch pages
concurrently. Start with :class:`OpenProject`.
"""

from . import errors, notifications, webhooks
from ._auth import ApiKey, BearerToken, OAuthClientCredentials
from ._collection import Collection, Progress
from ._forms import Form
from ._links import UNDISCLOSED, Link
from ._resource import Resource
from ._retry import RetryPolicy
from ._schema import Field, Schema
from ._session import OpenProject
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

__version__ = "0.1.0.dev0"

__all__ = [
    "UNDISCLOSED",
    "ApiKey",
    "BearerToken",
    "Collection",
    "Field",
    "Form",
    "Link",
    "OAuthClientCredentials",
    "OpenProject",
    "Progress",
    "Resource",
    "RetryPolicy",
    "Schema",
    "errors",
    "notifications",
    "webhooks",
    *_error_names,
]
