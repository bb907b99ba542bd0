"""A fake object storage (S3-like) on a second loopback origin.

With ``FakeOpenProject(direct_uploads=True)`` work packages offer ``prepareAttachment``
and ``POST .../attachments/prepare`` answers an ``AttachmentUpload`` whose
``addAttachment`` form points here; with ``content_redirect=True``
``/api/v3/attachments/{id}/content`` answers 302 to a pre-signed URL here, as OpenProject
does with fog (S3) storage (PROTOCOL.md section 13).

* ``POST /upload``: a ``multipart/form-data`` form, S3 POST policy style: the fields
  handed out (``key``, ``policy``, ``signature``, ``success_action_status``...) in any
  order, the ``file`` part last. A missing or wrong signature, or a key that is not the
  policy's, answers 403 with an XML error; success answers 201 with an XML
  ``PostResponse``.
* ``GET /bucket/{key}?expires=...&signature=...``: the object; 403 (XML) when the
  signature does not match, 404 when there is no such object.

``requests`` records every request (headers included), so tests can check that no
``Authorization`` and no cookie ever arrive here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Self

import orjson
from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from ._http import RecordedRequest

_SECRET = b"fake-storage-secret"


def _sign(value: str) -> str:
    return hmac.new(_SECRET, value.encode(), hashlib.sha256).hexdigest()


def _xml_error(status: int, code: str, message: str) -> web.Response:
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=body, content_type="application/xml")


@dataclass(slots=True)
class StoredObject:
    content: bytes
    content_type: str


@dataclass(slots=True)
class PendingUpload:
    """A prepared direct upload (its Attachment, not stored yet) waiting for its file."""

    attachment: Any
    key: str


class FakeStorage:
    """The storage server: ``objects`` by key, ``requests`` as received, ``origin``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.objects: dict[str, StoredObject] = {}
        self.requests: list[RecordedRequest] = []
        self.pending: dict[int, PendingUpload] = {}
        self.direct_uploads = False
        self.content_redirect = False
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        """``http://host:port`` of the storage (another origin than the API server's)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Self:
        """Start serving on a free port (stored in ``port``); returns self."""
        if self._runner is not None:
            return self
        app = web.Application(middlewares=[self._record], client_max_size=1024**3)
        app.router.add_post("/upload", self._upload)
        app.router.add_get("/bucket/{key:.+}", self._download)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- what the API server hands out -------------------------------------------------------

    def upload_form(self, key: str) -> dict[str, Any]:
        """The ``addAttachment`` link of an ``AttachmentUpload``: href and form fields."""
        policy = base64.b64encode(orjson.dumps({"key": key})).decode()
        return {
            "href": f"{self.origin}/upload",
            "method": "post",
            "form_fields": {
                "key": key,
                "acl": "private",
                "policy": policy,
                "x-amz-signature": _sign(policy),
                "success_action_status": "201",
            },
        }

    def presigned_url(self, key: str) -> str:
        """A download URL for ``key`` that this storage accepts."""
        return f"{self.origin}/bucket/{key}?expires=3600&signature={_sign(key)}"

    # -- HTTP ----------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=CIMultiDict(request.headers),
            body=b"",
        )
        self.requests.append(record)
        response: web.StreamResponse = await handler(request)
        record.status = response.status
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        fields: dict[str, str] = {}
        content: bytes | None = None
        content_type = "application/octet-stream"
        async for part in reader:
            if not isinstance(part, BodyPartReader):  # pragma: no cover - nested
                return _xml_error(400, "MalformedPOSTRequest", "nested multipart")
            if part.name == "file":
                content_type = part.headers.get("Content-Type", content_type)
                content = bytes(await part.read())
                break  # S3 ignores everything after the file
            fields[part.name or ""] = (await part.read()).decode()
        policy = fields.get("policy", "")
        if not hmac.compare_digest(fields.get("x-amz-signature", ""), _sign(policy)):
            return _xml_error(403, "SignatureDoesNotMatch", "The signature does not match.")
        key = orjson.loads(base64.b64decode(policy)).get("key")
        if content is None or fields.get("key") != key:
            return _xml_error(400, "InvalidArgument", "POST requires a key and a file, in order.")
        self.objects[key] = StoredObject(content, content_type)
        body = f"<?xml version='1.0'?><PostResponse><Key>{key}</Key></PostResponse>"
        return web.Response(status=201, text=body, content_type="application/xml")

    async def _download(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if not hmac.compare_digest(request.query.get("signature", ""), _sign(key)):
            return _xml_error(403, "SignatureDoesNotMatch", "The signature does not match.")
        found = self.objects.get(key)
        if found is None:
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(body=found.content, content_type=found.content_type.split(";")[0])
