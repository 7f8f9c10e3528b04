"""One FFmpeg object that one thread works with while another may close it.

The pipeline decodes and encodes on threads of their own, and a stop (Ctrl-C, SIGTERM, an error
elsewhere) closes the reader and the writer from the main thread. FFmpeg frees the container's
memory on close, so a close while the other thread is inside a demux, decode, encode or mux
corrupts the heap (``free(): corrupted unsorted chunks``, a segfault at exit). Every such native
step runs under :meth:`NativeGuard.step`; :meth:`NativeGuard.close` waits for the step in
progress, and where that step does not end in time (a read from a pipe whose writer has stalled),
the close is left to the stepping thread, which does it when its step returns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

#: how long a close waits for a step in progress before leaving the close to its thread, in seconds
CLOSE_WAIT_S = 10.0


class Closed(Exception):
    """Raised by :meth:`NativeGuard.step` once the object is closed: the stepping thread stops."""


class NativeGuard:
    """Serialises the steps of one thread on a native object with its close from another.

    ``close``: what frees the object (``container.close``); it runs once, on whichever thread
    gets there first after the close was asked for.
    """

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close
        self._lock = threading.Lock()
        self._closing = False  # a close was asked for: no new step starts
        self._abandoned = False  # the close stopped waiting: the stepping thread does it
        self._closed = False

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """One native call on the object. Raises :class:`Closed` if it is closed or closing."""
        with self._lock:
            if self._closing:
                if self._abandoned:
                    self._finish_here()
                raise Closed
            try:
                yield
            finally:
                if self._abandoned:
                    self._finish_here()

    def close(self, wait_s: float | None = None) -> None:
        """Close now if no step is in progress or it ends within ``wait_s`` seconds (``None``:
        :data:`CLOSE_WAIT_S`); otherwise the thread in that step closes when it returns.
        Idempotent; what the close raises reaches the caller where the close ran on its thread."""
        self._closing = True
        if not self._lock.acquire(timeout=CLOSE_WAIT_S if wait_s is None else wait_s):
            self._abandoned = True
            if not self._lock.acquire(blocking=False):  # the step may have ended just now
                return
        try:
            self._finish()
        finally:
            self._lock.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def _finish_here(self) -> None:
        """The close, on the stepping thread: a failure there has no caller to reach."""
        with contextlib.suppress(Exception):
            self._finish()
