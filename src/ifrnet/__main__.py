"""``python -m ifrnet``: the same as the ``ifrnet`` command."""

from .cli import entry

entry()
