"""``download`` and ``upload``: attachment content to a file, a file to an attachment.

``download HREF [-o FILE]`` writes the content of an attachment (``/api/v3/attachments/7``)
to FILE (default: the attachment's file name in the current directory; ``-`` is stdout),
atomically and digest-checked. ``upload FILE [--to HREF]`` uploads to the resource at HREF
(its ``addAttachment`` link, or ``prepareAttachment`` for direct uploads), or without a
container when no ``--to`` is given; it prints the new attachment's href. Both show a
progress bar on stderr when it is a terminal (or with ``--progress``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from .. import Attachment, OpenProject
from ._common import EXIT_USAGE, CliError, write_line
from ._progress import ProgressDisplay


def _target_name(att: Attachment) -> str:
    name = Path(str(att.get("fileName") or "")).name
    if not name or name in (".", ".."):
        raise CliError(f"{att.href}: no usable file name; give -o FILE", EXIT_USAGE)
    return name


async def run_download(
    op: OpenProject,
    href: str,
    output: str | None,
    out: TextIO,
    err: TextIO,
    *,
    progress: bool | None = None,
) -> int:
    """Download the attachment at ``href``; prints where it went (and how many bytes)."""
    att = await op.get(href, expect=Attachment)
    display = ProgressDisplay(err, enabled=progress, unit="bytes")
    try:
        if output == "-":
            await att.download(sys.stdout.buffer, progress=display.update)
            sys.stdout.buffer.flush()
            return 0
        target = output or _target_name(att)
        written = await att.download(target, progress=display.update)
    except OSError as exc:  # the file system's, not the network's (those are typed)
        raise CliError(f"cannot write {output or 'the file'}: {exc.strerror or exc}") from None
    finally:
        display.close()
    write_line(out, f"{target}: {written} bytes")
    return 0


async def run_upload(
    op: OpenProject,
    path: str,
    to: str | None,
    out: TextIO,
    err: TextIO,
    *,
    description: str | None = None,
    file_name: str | None = None,
    content_type: str | None = None,
    progress: bool | None = None,
) -> int:
    """Upload ``path`` to the resource at ``to`` (or containerless); prints the href."""
    display = ProgressDisplay(err, enabled=progress, unit="bytes")
    try:
        if to is None:
            att = await op.upload(
                path,
                file_name,
                content_type,
                description=description,
                progress=display.update,
            )
        else:
            container = await op.get(to)
            att = await container.addAttachment(
                path,
                file_name=file_name,
                content_type=content_type,
                description=description,
                progress=display.update,
            )
    except OSError as exc:  # the file system's, not the network's (those are typed)
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        display.close()
    write_line(out, f"{att.href}  {att.get('fileName')}  {att.get('fileSize')} bytes")
    return 0
