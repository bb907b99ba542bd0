"""An aiohttp web service that calls OpenProject per request, through one shared session.

The ``OpenProject`` session is opened when the app starts and closed when it stops
(``cleanup_ctx``); every request handler uses it, so all requests share its connection
pool, its concurrency cap, its schema cache and its merging of identical GETs in flight.

Endpoints:

    GET  /work_packages/{id}          {"id", "subject", "status", "assignee", "lockVersion"}
    GET  /projects/{id}/summary       work packages of the project per status
    POST /work_packages/{id}/comment  body {"text": "..."} -> 201 {"activity": id}

OpenProject's errors become JSON answers with the same status (404, 403, 409...);
transport problems become 502.

    OPENPROJECT_URL=... OPENPROJECT_API_KEY=... python examples/web_service.py --port 8081
    curl http://127.0.0.1:8081/work_packages/1
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from openproject_async import APIError, Collection, OpenProject, OpenProjectError, Resource

SESSION: web.AppKey[OpenProject] = web.AppKey("openproject", OpenProject)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def link_title(resource: Resource, rel: str) -> str | None:
    link = resource.links.get(rel)
    if link is None or isinstance(link, list) or link.href is None:
        return None
    return link.title or link.href


@web.middleware
async def openproject_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """OpenProject's typed errors as JSON answers."""
    try:
        return await handler(request)
    except APIError as exc:
        status = exc.status if exc.status and 400 <= exc.status < 600 else 502
        body = {"error": type(exc).__name__, "identifier": exc.identifier, "message": exc.message}
        return web.json_response(body, status=status)
    except OpenProjectError as exc:
        return web.json_response({"error": type(exc).__name__, "message": str(exc)}, status=502)


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None


async def work_package(request: web.Request) -> web.Response:
    op = request.app[SESSION]
    wp = await op.get(f"/api/v3/work_packages/{_int(request, 'id')}")
    return web.json_response(
        {
            "id": wp.get("id"),
            "subject": wp.get("subject"),
            "status": link_title(wp, "status"),
            "assignee": link_title(wp, "assignee"),
            "lockVersion": wp.get("lockVersion"),
        }
    )


async def project_summary(request: web.Request) -> web.Response:
    op = request.app[SESSION]
    project = await op.get(f"/api/v3/projects/{_int(request, 'id')}")
    first = await project.follow("workPackages", filters=[], pageSize=1000)
    counts: Counter[str] = Counter()
    if isinstance(first, Collection):
        async for wp in first.iterate(concurrency=4):
            counts[link_title(wp, "status") or "(none)"] += 1
    return web.json_response(
        {"project": project.get("name"), "total": sum(counts.values()), "by_status": counts}
    )


async def add_comment(request: web.Request) -> web.Response:
    op = request.app[SESSION]
    try:
        body: Any = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='expected a JSON body {"text": "..."}') from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(text='expected a JSON body {"text": "..."}')
    wp = await op.get(f"/api/v3/work_packages/{_int(request, 'id')}")
    activity = await wp.addComment(comment=text)
    return web.json_response({"activity": activity.get("id")}, status=201)


def create_app(
    url: str, *, api_key: str | None = None, token: str | None = None
) -> web.Application:
    """The web app; its OpenProject session lives as long as the app runs."""

    async def openproject_session(app: web.Application) -> AsyncIterator[None]:
        async with OpenProject(url, api_key=api_key, token=token) as op:
            app[SESSION] = op
            yield

    app = web.Application(middlewares=[openproject_errors])
    app.cleanup_ctx.append(openproject_session)
    app.router.add_get("/work_packages/{id}", work_package)
    app.router.add_get("/projects/{id}/summary", project_summary)
    app.router.add_post("/work_packages/{id}/comment", add_comment)
    return app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A small web service in front of OpenProject.")
    parser.add_argument("--url", help="server URL (default: $OPENPROJECT_URL)")
    parser.add_argument("--api-key", help="API key (default: $OPENPROJECT_API_KEY)")
    parser.add_argument("--token", help="Bearer token (default: $OPENPROJECT_TOKEN)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url or os.environ.get("OPENPROJECT_URL")
    if not url:
        raise SystemExit("give --url or set OPENPROJECT_URL")
    token = args.token or (None if args.api_key else os.environ.get("OPENPROJECT_TOKEN"))
    api_key = args.api_key or (None if token else os.environ.get("OPENPROJECT_API_KEY"))
    web.run_app(create_app(url, api_key=api_key, token=token), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
