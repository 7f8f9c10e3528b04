"""The ``ifrnet`` command: parse arguments (``ifrnet.commands``), run one, turn its errors into one line."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .errors import IFRNetError, missing_torch
from .version import __version__

PROG = "ifrnet"
#: the signals that stop a command as Ctrl-C does
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def build_parser() -> argparse.ArgumentParser:
    from .commands import add_commands
    from .commands.options import Parser

    parser = Parser(prog=PROG, description="IFRNet video frame interpolation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    add_commands(sub)
    return parser


#: stop signals received during this command (a library may turn the exception into another)
_received: list[int] = []


@contextlib.contextmanager
def _stop_signals():
    """SIGTERM (``timeout``, job schedulers, ``docker stop``) and SIGHUP (a closed terminal) stop a
    command as Ctrl-C does: temporary files removed, workers shut down, exit status 128 + signal.
    A signal that arrives during an import is delivered again once the import is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame) -> None:
        # An exception raised inside an import (torch's, a C extension initialising) can abort
        # the interpreter; there the signal is sent again a moment later, once the import is done.
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                threading.Timer(0.2, os.kill, (os.getpid(), signum)).start()
                return
            frame = frame.f_back
        # every stop signal raises what Ctrl-C raises, so the same clean-up runs; _report tells them apart
        _received.append(signum)
        raise KeyboardInterrupt

    # Ctrl-C too: Python's own handler raises inside an import as well (a C++ abort in torch's)
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``ifrnet`` command. Every failure is one line on stderr: exit 1 for bad input and
    system errors (permission, no space, ...), 130 for Ctrl-C, 143/129 for SIGTERM/SIGHUP."""
    _received.clear()
    with _stop_signals():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return args.func(args)
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            return _report(exc)


def _report(exc: BaseException) -> int:
    """Print the one line for ``exc`` and return the exit status."""
    if _received:
        # a stop signal came: whatever a library turned its exception into, this is why it ended
        signum = _received[0]
        line, status = (
            ("interrupted", 130)
            if signum == signal.SIGINT
            else (f"stopped by {signal.Signals(signum).name}", 128 + signum)
        )
    elif isinstance(exc, IFRNetError):
        line, status = f"error: {exc}", 1
    elif isinstance(exc, KeyboardInterrupt):
        line, status = "interrupted", 130
    elif missing_torch(exc):
        # torch is an extra: the main job runs on the shipped graphs without it
        line, status = "error: this needs PyTorch, which is not installed here: pip install 'ifrnet[torch]'", 1
    elif isinstance(exc, OSError):
        from .io.files import describe_os_error

        line, status = f"error: {describe_os_error(exc)}", 1
    elif isinstance(exc, MemoryError):
        line, status = "error: out of memory (try --scale 0.5, a smaller --batch or fewer --workers)", 1
    else:
        raise exc  # a bug: its traceback is what a report needs
    print(f"{PROG}: {line}", file=sys.stderr)
    return status


def entry() -> None:
    """The ``ifrnet`` console script: :func:`main`, then the process ends with its status.

    After a stop signal the process exits with :func:`main`'s status (128 + the signal) and, like
    the signal's default action, without the interpreter's teardown, once :func:`main` has removed
    its temporary files and stopped its workers. That teardown frees native libraries (FFmpeg's
    codec threads, the OpenMP pool behind torch) whose work the signal cut short, and it has
    crashed there (SIGSEGV after "interrupted" was printed) on a loaded machine; nothing of ours is
    left for it to do.
    """
    # Once main() has its outcome, every output is complete or removed, so a stop signal from then
    # on (Ctrl-C just as a job ends, or one re-sent after an import) must not change it. Python's
    # default actions would: main() hands back the disposition it found, and the teardown that
    # follows (threads joined, native libraries freed: a few hundred ms) would die "killed by
    # SIGINT" over a finished output, or print a KeyboardInterrupt traceback from an atexit hook.
    # SIG_IGN is the one disposition the interpreter leaves in place through its teardown.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    status = main()
    if _received:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed terminal or pipe: nothing to flush to
                stream.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
