"""A bot that OpenProject calls: an aiohttp app receiving webhooks, answering with comments.

Configure a webhook in OpenProject (Administration > API and webhooks > Webhooks) with
the URL ``http://<this host>:8082/hooks/openproject``, a secret, and the events "Work
packages: created" and "Work package comments: comment". The bot then:

* thanks whoever files a work package, with a comment on it;
* answers a comment that says ``!status`` with the work package's status and assignee.

It never answers its own comments (their webhooks come back to it too). Deliveries are
verified (``X-OP-Signature``) and answered at once (202); the handlers run in the
background. OpenProject sends work package and comment webhooks after its journal
aggregation time (5 minutes by default), not right away.

    OPENPROJECT_URL=... OPENPROJECT_API_KEY=... WEBHOOK_SECRET=... \\
        python examples/webhook_bot.py --port 8082

Try it end to end with the built-in server: ``FakeOpenProject.add_webhook(url,
secret=...)`` makes it deliver like the real one (see tests/test_examples_run.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from openproject_async import OpenProject, Resource, webhooks

SESSION: web.AppKey[OpenProject] = web.AppKey("openproject", OpenProject)
HANDLER: web.AppKey[webhooks.WebhookHandler] = web.AppKey("webhooks", webhooks.WebhookHandler)
ME: web.AppKey[Resource] = web.AppKey("me", Resource)

log = logging.getLogger("webhook_bot")


def link_title(resource: Resource, rel: str, default: str) -> str:
    link = resource.links.get(rel)
    if link is None or isinstance(link, list) or link.href is None:
        return default
    return link.title or default


def make_router(me: Resource) -> webhooks.Router:
    """The bot's handlers; ``me`` is the bot's own user (its comments are ignored)."""
    router = webhooks.Router()

    @router.register("work_package:created")
    async def thank(event: webhooks.Event, op: OpenProject) -> None:
        wp = event.resource
        if wp is None or getattr(wp.links.get("author"), "href", None) == me.href:
            return
        author = link_title(wp, "author", "there")
        await wp.addComment(
            comment=f"Thanks {author}, #{wp['id']} is filed; we will triage it soon."
        )
        log.info("thanked for #%s", wp["id"])

    @router.register("work_package_comment:comment")
    async def status(event: webhooks.Event, op: OpenProject) -> None:
        activity = event.resource
        if activity is None:
            return
        user = activity.links.get("user")
        if getattr(user, "href", None) == me.href:
            return  # our own comment came back: never answer ourselves
        comment = activity.get("comment")
        text = str(comment.get("raw") or "") if isinstance(comment, dict) else ""
        if "!status" not in text:
            return
        wp = await activity.follow("workPackage")
        state = link_title(wp, "status", "unknown")
        assignee = link_title(wp, "assignee", "nobody")
        await wp.addComment(comment=f"#{wp['id']} is {state}, assigned to {assignee}.")
        log.info("answered !status on #%s", wp["id"])

    return router


def create_app(url: str, *, api_key: str, secret: str | None) -> web.Application:
    """The bot's app: POST /hooks/openproject. One OpenProject session for its lifetime."""
    app = web.Application()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with OpenProject(url, api_key=api_key) as op:
            root = await op.root()
            me = await root.follow("user")
            handler = webhooks.aiohttp_handler(make_router(me), secret=secret, session=op)
            app[SESSION], app[HANDLER], app[ME] = op, handler, me
            yield
            await handler.close()  # before the session closes under the handlers

    async def receive(request: web.Request) -> web.StreamResponse:
        return await request.app[HANDLER](request)

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/hooks/openproject", receive)
    return app


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Answer OpenProject webhooks with comments.")
    parser.add_argument("--url", help="server URL (default: $OPENPROJECT_URL)")
    parser.add_argument("--api-key", help="API key (default: $OPENPROJECT_API_KEY)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url or os.environ.get("OPENPROJECT_URL")
    api_key = args.api_key or os.environ.get("OPENPROJECT_API_KEY")
    secret = os.environ.get("WEBHOOK_SECRET")  # from the environment: not in `ps` output
    if not url or not api_key:
        raise SystemExit("give --url/--api-key or set OPENPROJECT_URL/OPENPROJECT_API_KEY")
    if not secret:
        raise SystemExit("set WEBHOOK_SECRET to the webhook's secret")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    web.run_app(create_app(url, api_key=api_key, secret=secret), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
