"""The library's error types.

Every error a user can cause (a missing file, a wrong checkpoint, a bad time value) is an
:class:`IFRNetError` whose message is one complete sentence meant for that user. Only the CLI
prints them; library code raises and never exits.
"""

from __future__ import annotations


class IFRNetError(Exception):
    """Base class of all errors with a user-facing message."""


class InputError(IFRNetError, ValueError):
    """An argument or input file does not have the expected shape, type, range or content."""


class CheckpointError(IFRNetError):
    """A checkpoint is missing, unsafe, unreadable or for another model variant."""


def missing_torch(exc: BaseException) -> bool:
    """Whether ``exc`` is torch (or one of its modules) failing to import: torch is an extra, so
    the commands that need it turn this into one line naming it."""
    return isinstance(exc, ImportError) and (exc.name or "").split(".")[0] == "torch"
