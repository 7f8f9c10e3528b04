"""The subcommands of ``ifrnet``, one module each.

A module names itself (``NAME``), says what it does (``HELP`` for ``ifrnet --help``; its
docstring's first paragraph for its own ``--help``), adds its options (``add_arguments(parser)``)
and runs (``run(args)`` -> exit status). Modules import the library inside ``run``, so that
``ifrnet --help`` and argument errors answer at once and never load torch.
"""

from __future__ import annotations

import argparse
import inspect

from . import batch, bench, convert, evaluate, export, flow, info, pair, train, video

#: in the order ``ifrnet --help`` lists them
COMMANDS = (pair, video, batch, train, flow, evaluate, info, export, bench, convert)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """One subparser per command, whose ``func`` default is the command's ``run``."""
    for command in COMMANDS:
        parser = sub.add_parser(command.NAME, help=command.HELP, description=_description(command))
        command.add_arguments(parser)
        parser.set_defaults(func=command.run)


def _description(command: object) -> str:
    """The first paragraph of the command module's docstring, without its ``ifrnet NAME``: prefix."""
    first = inspect.cleandoc(command.__doc__ or "").split("\n\n")[0]
    return " ".join(first.split(": ", 1)[-1].split()).replace("``", "")
