"""Progress of long steps on stderr: loading, kernel matrices, predicting folders and videos.

A step shows one line, rewritten in place (``loading images: 12,000/28,709
(42 %), 4 s, about 6 s left``), only when it takes longer than
:data:`MIN_SECONDS` and stderr is a terminal; ``fer-classic ... --json`` turns
it off (:func:`progress_enabled`). tqdm would do the drawing, but it is not a
dependency and the line needs no more than this.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import sys
import threading
import time
from typing import TextIO

__all__ = ["MIN_SECONDS", "Progress", "progress_enabled", "ticking"]

#: Steps quicker than this show nothing.
MIN_SECONDS = 2.0
_REDRAW_SECONDS = 0.5

# None: on when stderr is a terminal; True / False: forced (tests, --json).
_ENABLED: contextvars.ContextVar[bool | None] = contextvars.ContextVar("fer_classic_progress", default=None)
# The same choice for threads and worker processes (a context variable reaches neither).
_ENV = "FER_CLASSIC_PROGRESS"


@contextlib.contextmanager
def progress_enabled(enabled: bool | None):
    """Within the block, show progress (True), never (False) or when stderr is a terminal (None).

    Also sets ``FER_CLASSIC_PROGRESS`` for the block, so that worker threads
    and processes (``--n-jobs``, Dask) follow the choice.
    """
    token = _ENABLED.set(enabled)
    hold = None if enabled is None else _hold_env("1" if enabled else "0")
    try:
        yield
    finally:
        _ENABLED.reset(token)
        if hold is not None:
            _release_env(hold)


# The blocks of progress_enabled that set FER_CLASSIC_PROGRESS and have not ended, in the order they began,
# and the value before the first: the variable is the latest open block's, and the one before once all have
# ended, whatever the order they end in (blocks in two threads, each restoring what it found, left "0" set).
_ENV_LOCK = threading.Lock()
_ENV_HOLDS: list[list[str]] = []
_ENV_BEFORE: list[str | None] = [None]


def _hold_env(value: str) -> list[str]:
    hold = [value]  # its identity tells it from another block's of the same value
    with _ENV_LOCK:
        if not _ENV_HOLDS:
            _ENV_BEFORE[0] = os.environ.get(_ENV)
        _ENV_HOLDS.append(hold)
        os.environ[_ENV] = value
    return hold


def _release_env(hold: list[str]) -> None:
    with _ENV_LOCK:
        _ENV_HOLDS[:] = [other for other in _ENV_HOLDS if other is not hold]
        if _ENV_HOLDS:
            os.environ[_ENV] = _ENV_HOLDS[-1][0]
        elif _ENV_BEFORE[0] is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = _ENV_BEFORE[0]


def _enabled(stream) -> bool:
    chosen = _ENABLED.get()
    if chosen is None and os.environ.get(_ENV) in ("0", "1"):
        chosen = os.environ[_ENV] == "1"
    return chosen if chosen is not None else bool(getattr(stream, "isatty", lambda: False)())


def _columns(stream) -> int:
    """Columns of the terminal ``stream`` shows on: ``COLUMNS`` first, as :func:`shutil.get_terminal_size`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):  # no file descriptor, or not a terminal: stdout's, else 80
        return shutil.get_terminal_size().columns


class Progress:
    """Count the items of one step and redraw its line now and then.

    Parameters
    ----------
    total : int
        Items in the step (0 or less: no count, only elapsed seconds).
    what : str
        What is counted, e.g. ``"loading images"``.
    stream : text stream, optional
        Default ``sys.stderr`` at the time of the call.

    Examples
    --------
    >>> with Progress(3, "work") as progress:
    ...     for _ in range(3):
    ...         progress.update()
    """

    def __init__(self, total: int, what: str, *, stream: TextIO | None = None):
        self.total, self.what = int(total), what
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _enabled(self.stream)
        self.done = 0
        self._start = self._drawn = time.perf_counter()
        self._shown = False
        self._lock = threading.Lock()  # loaders count from several threads

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        with self._lock:
            self.done += n
            now = time.perf_counter()
            if self.enabled and now - self._start >= MIN_SECONDS and now - self._drawn >= _REDRAW_SECONDS:
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self._start
        if self.total > 0:
            share = self.done / self.total
            text = f"{self.what}: {self.done:,}/{self.total:,} ({share:.0%})"
            if 0 < share < 1:
                text += f", {elapsed:.0f} s, about {elapsed * (1 - share) / share:.0f} s left"
        else:  # nothing to count (a solver at work): the seconds only
            text = f"{self.what}: {elapsed:.0f} s"
        # One row of the terminal, padded over the last: a longer line wraps, and "\r" rewinds its last row only.
        width = max(_columns(self.stream) - 1, 1)
        self.stream.write("\r" + text[:width].ljust(width))
        self.stream.flush()
        self._drawn, self._shown = now, True

    def close(self) -> None:
        """End the line (when one was drawn)."""
        with self._lock:
            if self._shown:
                self._draw(time.perf_counter())
                self.stream.write("\n")
                self.stream.flush()
                self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def ticking(what: str, *, stream: TextIO | None = None):
    """Show the seconds a step without countable items has taken (e.g. libsvm's solver), while it runs."""
    progress = Progress(0, what, stream=stream)
    if not progress.enabled:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(_REDRAW_SECONDS):
            progress.update(0)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        progress.close()
