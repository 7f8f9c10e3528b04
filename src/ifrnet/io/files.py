"""Safe output: never clobber unasked, never overwrite an input, never leave half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

# mkstemp creates files readable by the owner only; finished outputs get the usual umask-based mode.
# Read once at import, while no other thread can be changing the umask.
_UMASK = os.umask(0)
os.umask(_UMASK)


def check_output_path(
    output: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), overwrite: bool = False
) -> Path:
    """Validate an output path before any work is done; returns it as a ``Path``.

    Refuses an output that is one of the inputs (even with ``overwrite``), one that exists
    unless ``overwrite``, and one that is a directory.
    """
    out = Path(output)
    for src in inputs:
        src_path = Path(src)
        if src_path.exists() and out.exists() and out.resolve() == src_path.resolve():
            raise InputError(f"{out}: output would overwrite the input {src}; choose another output name")
    if out.is_dir():
        raise InputError(f"{out}: output is an existing directory, expected a file name")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: output exists; pass --overwrite to replace it")
    return out


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    Readers never see a partial file under the final name, and an error or Ctrl-C leaves
    the previous file (if any) untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
