"""openproject-async: an asyncio client for the OpenProject API v3.

Resources are HAL documents whose ``_links`` are awaitable actions; writes go through
the server's forms and schemas; collections are async iterators that can fetch pages
concurrently. Start with :class:`OpenProject`.

Layers, lowest first. A module imports only from its own line (without cycles) and the
lines above it; imports for annotations only sit under ``TYPE_CHECKING``, and no module
imports one of the package's modules inside a function (tests/test_architecture.py)::

    _error_base                                 the root of the exception tree
    _api_errors                                 the server's errors (APIError family)
    errors                                      the exception tree, as users import it
    _links _error_map                           HAL links, URI templates; error documents
                                                to exception classes
    _sansio _body _retry _placement             pure protocol: decode/encode answers and
    _policy _config _paging _tasks _deadline    bodies, placement by schema, retry, origin,
                                                credential, redirect and replay decisions,
                                                paging arithmetic and how far a walk may go,
                                                a limit on tasks, the time limits of a call
    _transport                                  the I/O seam: one HTTP exchange (aiohttp)
    _auth                                       API key, bearer token, OAuth2 (token fetches
                                                go through the transport)
    _exchange                                   one API request as HTTP exchanges: headers,
                                                credentials, redirects, re-auth, retries
    _streaming                                  streamed exchanges: bodies from streams,
                                                answers read in chunks
    _shared_get                                 identical GETs in flight share one request
    _session                                    settings, lifecycle, URLs, merged GETs,
                                                the schema cache
    _registry _document                         extension points of resources; a HAL
                                                document as received (no I/O)
    _resource                                   Resource: a HAL document and its links
    _collection                                 Collection: pages, async iteration
    _schema                                     Schema, Field, allowed values
    _multipart                                  streamed multipart bodies (files from disk)
    _forms _custom_actions _attachments         writes and special links, attachment
    _preview _downloads                         uploads and downloads
    _changes _jobs                              change feeds; waiting for background jobs
    _client                                     OpenProject: session + resources
    webhooks notifications                      bots: verified webhook events and routing;
                                                in-app notifications
"""

import logging

from . import errors, notifications, webhooks
from ._auth import ApiKey, BearerToken, OAuthClientCredentials
from ._client import OpenProject
from ._collection import Collection, Progress
from ._downloads import Attachment
from ._error_map import error_class_for
from ._forms import Form
from ._links import UNDISCLOSED, Link
from ._resource import Resource
from ._retry import RetryPolicy
from ._schema import Field, Schema
from ._transport import AiohttpTransport, HttpRequest, HttpResponse, Transport
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

__version__ = "0.1.0"

# A library's records are the application's to show: without a handler configured, the
# package's warnings do not reach stderr through logging's last resort.
logging.getLogger("openproject_async").addHandler(logging.NullHandler())

__all__ = [
    "UNDISCLOSED",
    "ApiKey",
    "Attachment",
    "BearerToken",
    "Collection",
    "Field",
    "AiohttpTransport",
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "Form",
    "Link",
    "OAuthClientCredentials",
    "OpenProject",
    "Progress",
    "Resource",
    "RetryPolicy",
    "Schema",
    "error_class_for",
    "errors",
    "notifications",
    "webhooks",
    *_error_names,
]
