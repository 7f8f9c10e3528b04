"""``python -m ifrnet``: the same as the ``ifrnet`` command."""

from .cli import entry

if __name__ == "__main__":
    entry()
