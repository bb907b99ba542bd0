"""A bot that answers comments mentioning it, following a change feed.

It follows the work packages that change (``op.changes()``: every work package updated
since a point, once per change, oldest first, polled every ``--interval`` seconds), reads
the comments of each, and answers each comment that mentions the bot's user (an
OpenProject ``<mention data-type="user" data-id="...">`` tag, ``user#ID``, or ``@login``)
and that it has not answered yet. Its answers carry ``(reply to activity N)``, so a
restarted bot does not answer the same comment twice. After answering it marks its
in-app "mentioned" notifications for that work package read.

With ``--state FILE`` it stores the feed's cursor after each work package and resumes
from it when started again (no work package read twice, none missed); without it, it
starts at ``--since`` (default: now).

Ctrl+C (SIGINT) or SIGTERM stops it cleanly: the work package in hand is finished, then
the session closes.

    OPENPROJECT_URL=http://127.0.0.1:8080 OPENPROJECT_API_KEY=... \\
        python examples/mention_bot.py --interval 30 --state mention_bot.cursor

Try it with ``openproject-async serve`` and the API key of another user than the one who
writes the comment (``serve`` prints the keys of admin, member, reader...). A comment
sets its work package's ``updatedAt`` (without changing ``lockVersion``), on OpenProject and
on the built-in server alike, which is what makes the feed see it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from openproject_async import (
    APIError,
    Collection,
    OpenProject,
    OpenProjectError,
    Resource,
    notifications,
)

REPLY_MARK = re.compile(r"\(reply to activity (\d+)\)")


def instant(text: str) -> dt.datetime:
    """An ISO 8601 instant (``Z`` or an offset; naive means UTC)."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def comment_text(activity: Resource) -> str:
    comment = activity.get("comment")
    return str(comment.get("raw") or "") if isinstance(comment, dict) else ""


def author_href(activity: Resource) -> str | None:
    link = activity.links.get("user")
    return getattr(link, "href", None)


class MentionBot:
    """Finds new comments that mention ``me`` and answers them."""

    def __init__(self, op: OpenProject, me: Resource, since: dt.datetime) -> None:
        self.op = op
        self.me = me
        self.since = since.replace(microsecond=0)  # comments older than this are not ours
        self.names: dict[str, str] = {}  # user href -> name
        ident = re.escape(str(me.get("id")))
        login = re.escape(str(me.get("login") or ""))
        patterns = [
            rf'<mention[^>]*data-type="user"[^>]*data-id="{ident}"',
            rf'<mention[^>]*data-id="{ident}"[^>]*data-type="user"',
            rf"\buser#{ident}\b",
        ] + ([rf"(?<![\w@])@{login}\b"] if login else [])
        self.mention = re.compile("|".join(patterns), re.IGNORECASE)

    def mentions_me(self, activity: Resource) -> bool:
        return author_href(activity) != self.me.href and bool(
            self.mention.search(comment_text(activity))
        )

    async def author_name(self, activity: Resource) -> str:
        """The commenter's name: an activity's user link carries no title, so follow it
        (once per user: the names are kept)."""
        href = author_href(activity)
        if href is None:
            return "there"
        if href not in self.names:
            try:
                user = await activity.follow("user")
            except APIError:  # e.g. a user we may not see: don't ask again
                self.names[href] = "there"
            except OpenProjectError:  # a bad moment of the server: ask next time
                return "there"
            else:
                self.names[href] = str(user.get("name") or "there")
        return self.names[href]

    async def answer_mentions(self, wp: Resource) -> int:
        """Answer the comments of ``wp`` that mention the bot; how many were answered."""
        activities = await wp.follow("activities")
        elements = activities.elements if isinstance(activities, Collection) else []
        comments = [a for a in elements if comment_text(a)]
        done = {
            int(m)
            for a in comments
            if author_href(a) == self.me.href
            for m in REPLY_MARK.findall(comment_text(a))
        }
        count = 0
        for activity in comments:
            if not self.mentions_me(activity) or activity.get("id") in done:
                continue
            created = activity.get("createdAt")
            if isinstance(created, str) and instant(created) < self.since:
                continue  # older than the bot's window: not ours to answer
            who = await self.author_name(activity)
            await wp.addComment(
                comment=f"Hi {who}, I saw your mention and will look into it. "
                f"(reply to activity {activity.get('id')})"
            )
            print(f"answered activity {activity.get('id')} on #{wp.get('id')}", flush=True)
            count += 1
        if count:
            mentioned = [
                {"reason": {"operator": "=", "values": ["mentioned"]}},
                {"resourceId": {"operator": "=", "values": [str(wp.get("id"))]}},
            ]
            with contextlib.suppress(OpenProjectError):  # a server without notifications
                await notifications.mark_read(self.op, filters=mentioned)
        return count


def load_cursor(path: Path | None) -> str | None:
    if path is None or not path.exists():
        return None
    return path.read_text().strip() or None


def save_cursor(path: Path | None, cursor: str) -> None:
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(cursor)
        tmp.replace(path)  # atomic: a crash leaves the old cursor or the new one


async def run(
    op: OpenProject,
    *,
    interval: float,
    max_iterations: int | None,
    since: str | None,
    stop: asyncio.Event,
    state: Path | None = None,
) -> int:
    root = await op.root()
    me = await root.follow("user")
    start = instant(since) if since else dt.datetime.now(dt.UTC)
    cursor = load_cursor(state)
    feed = op.changes("/api/v3/work_packages", since=cursor or start, interval=interval)
    # resumed: the comments not handled yet are those after the cursor's newest change
    window = start if cursor is None else feed.since - dt.timedelta(seconds=1)
    bot = MentionBot(op, me, window)
    print(f"watching for mentions of {me.get('name')} since {iso(feed.since)}", flush=True)
    total = 0
    iterations = 0
    while not stop.is_set():
        try:
            async for wp in feed.poll():  # every work package changed since the last look
                total += await bot.answer_mentions(wp)
                save_cursor(state, feed.cursor)
                if stop.is_set():
                    break  # finish the work package in hand, then stop
        except OpenProjectError as exc:  # keep running through a bad moment of the server
            print(f"poll failed: {exc}", file=sys.stderr, flush=True)
        iterations += 1
        if max_iterations is not None and iterations >= max_iterations:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    print(f"stopped after {iterations} polls, {total} answers", flush=True)
    return total


def session(url: str | None, api_key: str | None, token: str | None) -> OpenProject:
    url = url or os.environ.get("OPENPROJECT_URL")
    if not url:
        raise SystemExit("give --url or set OPENPROJECT_URL")
    token = token or (None if api_key else os.environ.get("OPENPROJECT_TOKEN"))
    api_key = api_key or (None if token else os.environ.get("OPENPROJECT_API_KEY"))
    return OpenProject(url, api_key=api_key, token=token)


async def amain(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # graceful: no KeyboardInterrupt mid-request
    async with session(args.url, args.api_key, args.token) as op:
        await run(
            op,
            interval=args.interval,
            max_iterations=args.max_iterations,
            since=args.since,
            stop=stop,
            state=Path(args.state) if args.state else None,
        )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Answer comments that mention this user.")
    parser.add_argument("--url", help="server URL (default: $OPENPROJECT_URL)")
    parser.add_argument("--api-key", help="API key (default: $OPENPROJECT_API_KEY)")
    parser.add_argument("--token", help="Bearer token (default: $OPENPROJECT_TOKEN)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    parser.add_argument("--since", help="ISO 8601 instant to start from (default: now)")
    parser.add_argument("--state", help="file keeping the feed's cursor (resume from it)")
    parser.add_argument("--max-iterations", type=int, help="stop after N polls (default: never)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
