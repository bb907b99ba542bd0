"""A progress display on stderr: tqdm when installed (the ``cli`` extra), else one line.

Shown only when the stream is a terminal; otherwise every method does nothing.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, TextIO

from .. import Progress


def _tqdm_class() -> Any:
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


class ProgressDisplay:
    """Feed it the collection's :class:`Progress` reports; ``close()`` at the end."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None, unit: str = "items") -> None:
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.stream = stream
        self.enabled = enabled
        self.unit = unit
        self._bar: Any = None
        self._tqdm = _tqdm_class() if enabled else None
        self._last = 0.0
        self._shown = False
        self._done = 0
        self._total: int | None = None

    def __call__(self, progress: Progress) -> None:
        self.update(progress.elements_done, progress.total)

    def update(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        self._done, self._total = done, total
        if self._tqdm is not None:
            if self._bar is None:
                self._bar = self._tqdm(
                    total=total, unit=self.unit, file=self.stream, dynamic_ncols=True, leave=True
                )
            if total is not None and self._bar.total != total:
                self._bar.total = total
            self._bar.update(done - self._bar.n)
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return
        self._last = now
        self._draw()

    def _draw(self) -> None:
        done, total = self._done, self._total
        if total:
            percent = min(100, done * 100 // total)
            text = f"\r{done}/{total} {self.unit} ({percent}%)"
        else:
            text = f"\r{done} {self.unit}"
        self.stream.write(text)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._shown:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
