"""The subcommands of ``ifrnet``, one module each: ``register(subparsers)`` adds its parser, whose
``func`` default is the module's ``run(args) -> exit status``. Modules import the library inside
``run``, so that ``ifrnet --help`` and argument errors answer at once."""

from __future__ import annotations

from . import bench, convert, evaluate, export, flow, info, pair, train, video

#: in the order ``ifrnet --help`` lists them
COMMANDS = (pair, video, train, flow, evaluate, info, export, bench, convert)
