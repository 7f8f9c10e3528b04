"""Safe output: never clobber unasked, never overwrite an input, never leave half a file."""

from __future__ import annotations

import itertools
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import InputError

# mkstemp creates files readable by the owner only; finished outputs get the usual umask-based mode.
# Read once at import, while no other thread can be changing the umask.
_UMASK = os.umask(0)
os.umask(_UMASK)


def cache_dir(kind: str) -> Path:
    """The folder for cached artefacts of ``kind`` (exported graphs, compiled models), created on
    demand: ``$IFRNET_CACHE_DIR/kind``, else ``$XDG_CACHE_HOME/ifrnet/kind``, else
    ``~/.cache/ifrnet/kind`` (the XDG base-directory convention). Everything in it can be deleted.
    Raises ``OSError`` when it cannot be made and ``RuntimeError`` when there is no home folder."""
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(os.environ.get("IFRNET_CACHE_DIR") or xdg / "ifrnet") / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: What each kind of cache (:func:`cache_dir`: one folder per kind) may hold before
#: :func:`prune_cache` deletes its least recently used files: 25 to 70 of OpenVINO's compiled
#: shapes of IFRNet_S (7-21 MB each, from 640x360 to 1920x1088) or about 40 exported IFRNet_S
#: graphs (12 MB each).
CACHE_MAX_BYTES = 512 * 1024 * 1024
#: How long (seconds) :func:`prune_cache` spares a temporary output, which another run may still be writing
PARTIAL_GRACE_S = 3600.0


def prune_cache(
    folder: str | os.PathLike, keep: Iterable[str | os.PathLike] = (), max_bytes: int | None = None
) -> list[Path]:
    """Delete the least recently used files directly in ``folder`` until the rest hold at most
    ``max_bytes`` bytes (default :data:`CACHE_MAX_BYTES`), the way ccache trims its cache; returns
    the deleted paths, oldest first.

    A file's last use is the later of its access and modification times. Under Linux's default
    ``relatime`` a read updates the access time at most once a day, fine enough to tell a shape
    used this week from one last used in spring; on a ``noatime`` mount it is the time written.
    Never deleted: files in ``keep`` (the ones the caller is about to use), another run's
    :func:`atomic_output` temporary less than :data:`PARTIAL_GRACE_S` old (it is being written; an
    older one was left by a crash), anything but a regular file (a symbolic link frees nothing).
    It never raises for a file: one that cannot be deleted (a read-only folder) is skipped and one
    that vanished (another process pruning too) counts as gone, since a cache that cannot be
    trimmed still works.
    """
    limit = CACHE_MAX_BYTES if max_bytes is None else max_bytes
    kept = {Path(p).resolve() for p in keep}
    now = time.time()
    entries: list[tuple[float, int, Path]] = []
    total = 0
    try:
        children = list(Path(folder).iterdir())
    except OSError:
        return []
    for path in children:
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        total += info.st_size
        writing = _PARTIAL.match(path.name) is not None and now - info.st_mtime < PARTIAL_GRACE_S
        if not writing and path.resolve() not in kept:
            entries.append((max(info.st_atime, info.st_mtime), info.st_size, path))
    deleted = []
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        try:
            path.unlink()
        except FileNotFoundError:  # deleted by another process since the listing: gone all the same
            total -= size
            continue
        except OSError:
            continue
        total -= size
        deleted.append(path)
    return deleted


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
    check_writable(out.parent)
    return out


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks: constant memory for any size."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_writable(folder: str | os.PathLike) -> None:
    """Raise :class:`InputError` now, before any work, if files cannot be created in ``folder``
    (permission, a read-only file system, no space for even a name): tried, not guessed from mode
    bits, which root ignores. Leaves nothing behind."""
    folder = Path(folder)
    created = make_parents(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=".ifrnet-write-test.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write here ({exc.strerror or exc})") from None
    finally:
        remove_created(created)


def libc_function(name: str):
    """The C library's function ``name`` (through ctypes, errno kept), or None where there is none
    to call: not Linux (the calls wanted are Linux's), or a C library without it."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


def _rename_noreplace(source: Path, target: Path) -> bool:
    """``renameat2(RENAME_NOREPLACE)``: False where the system or file system lacks it; raises
    :class:`FileExistsError` when ``target`` exists."""
    import ctypes
    import errno

    call = libc_function("renameat2")
    if call is None:
        return False
    at_cwd, noreplace = -100, 1
    if call(at_cwd, os.fsencode(source), at_cwd, os.fsencode(target), noreplace) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise FileExistsError(code, os.strerror(code), str(target))
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(target))


def publish(source: Path, target: Path) -> None:
    """Give a finished file or folder its final name without ever replacing what is there:
    :class:`FileExistsError` if ``target`` appeared meanwhile (another run writing the same
    output). ``renameat2(RENAME_NOREPLACE)`` where the kernel and file system have it, else a hard
    link (made only where the name is free) and the temporary name removed, else a rename after a
    last look (a folder rename never replaces a non-empty folder anyway)."""
    if _rename_noreplace(source, target):
        return
    if source.is_file():
        try:
            os.link(source, target)
        except FileExistsError:
            raise
        except OSError:
            pass  # no hard links here (FAT, some network file systems)
        else:
            os.unlink(source)
            return
    if os.path.lexists(target):
        raise FileExistsError(17, "File exists", str(target))
    os.rename(source, target)


def publish_beside(source: Path, target: Path) -> Path:
    """Publish ``source`` at the first free name beside ``target`` (``clip.1.mkv``, ``frames.1``)
    and return it: where a result goes when its own name was taken while it was being made."""
    for n in itertools.count(1):
        candidate = target.with_name(f"{target.stem}.{n}{target.suffix}")
        with suppress(FileExistsError):
            publish(source, candidate)
            return candidate
    raise AssertionError("unreachable")


def appeared(target: Path, kept: Path) -> InputError:
    """The error for an output that appeared while this run worked on it (see :func:`publish`)."""
    return InputError(
        f"{target}: appeared while this run was working (another run?); kept it, and this result is at {kept}"
    )


def make_temporary(folder: Path, name: str, suffix: str, directory: bool = False) -> Path:
    """Create an empty temporary file (or, with ``directory``, folder) in ``folder`` for the output
    ``name``: ``.NAME.HOST-PID-xxxx`` + ``suffix``; return its path. Raises ``OSError``.

    The host and process say whose it is: what runs on this machine left under that name when they
    were killed outright (SIGKILL, a power cut: nothing of them ran its clean-up) is removed first,
    once their process is gone. Another machine's (a shared folder) and a live process's are kept.
    """
    prefix = f".{name}.{_host()}-"
    stale = re.compile(rf"^{re.escape(prefix)}(?P<pid>\d+)-[^./]+{re.escape(suffix)}$")
    with suppress(OSError):
        for entry in list(folder.iterdir()):
            match = stale.match(entry.name)
            if match and not _process_alive(int(match.group("pid"))):
                if entry.is_dir() and not entry.is_symlink():
                    import shutil

                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    quietly(entry.unlink)
    prefix += f"{os.getpid()}-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=folder))
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    return Path(path)


def _host() -> str:
    """This machine's name as it can stand inside a temporary name (no dots, no separators)."""
    import socket

    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def atomic_output(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    Readers never see a partial file under the final name, and an error or Ctrl-C leaves
    the previous file (if any) untouched; what a killed run left beside ``path`` goes first
    (:func:`make_temporary`). ``replace=False`` (an output checked absent, without
    ``--overwrite``): a file that appeared under ``path`` meanwhile is kept, this result is
    published beside it (:func:`publish_beside`) and :class:`InputError` says where.
    """
    final = Path(path)
    created = make_parents(final.parent)
    try:
        tmp = make_temporary(final.parent, final.stem, f".partial{final.suffix}")
    except OSError as exc:
        remove_created(created)
        raise InputError(f"{final}: cannot write here ({exc.strerror or exc})") from None
    done = False
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_UMASK)
        if replace:
            os.replace(tmp, final)
        else:
            try:
                publish(tmp, final)
            except FileExistsError:
                raise appeared(final, publish_beside(tmp, final)) from None
        done = True
    finally:
        if tmp.exists():
            quietly(tmp.unlink)
        if not done:
            remove_created(created)  # a failed run leaves no empty folders of its own making


def quietly(cleanup: Callable[[], object]) -> None:
    """Run a clean-up step during the handling of another error; an error of its own is dropped,
    so that the first fault is the one reported (a full disk makes closing a file fail too)."""
    with suppress(Exception):
        cleanup()


def make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first.

    Raises :class:`InputError` naming the folder and the cause (permission, read-only, no space).
    """
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a folder, so {(missing or [folder])[0]} cannot be made in it")
    created: list[Path] = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                # another process (a parallel worker) made it since we looked: that is what we wanted
                if not path.is_dir():
                    raise
                continue
            created.append(path)
    except OSError as exc:
        remove_created(created)
        raise InputError(f"{missing[0]}: cannot create this folder ({exc.strerror or exc})") from None
    return created


def remove_created(created: list[Path]) -> None:
    """Remove folders :func:`make_parents` created, innermost first, as long as they are empty."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            break


_PARTIAL = re.compile(r"^\.(?P<stem>.+)\.[^./]+\.partial(?P<suffix>\.[^/]*)?$")


def user_path(path: str | os.PathLike) -> Path:
    """The name the user gave for a path, seeing through the temporary names of
    :func:`atomic_output` and of image-sequence folders in any component
    (``.clip.k3j2.partial.mp4`` -> ``clip.mp4``, ``.frames.x8.partial/0001.png`` -> ``frames/0001.png``)."""
    p = Path(path)
    parts = []
    for part in p.parts:
        m = _PARTIAL.match(part)
        parts.append(m.group("stem") + (m.group("suffix") or "") if m else part)
    return Path(*parts) if parts else p


def hide_temporary_names(text: str, output: str | os.PathLike) -> str:
    """``text`` with every :func:`atomic_output` temporary name in it replaced by ``output``."""
    # the name ends at a space, a quote, or the punctuation after it ("NAME: cause", "NAME, ...")
    return re.sub(r"'?[^\s']*\.partial[^\s':,;)]*'?", str(output), text)


def describe_os_error(exc: OSError) -> str:
    """One line for a system error: the user's path (never a temporary name) and the cause."""
    cause = exc.strerror or str(exc) or exc.__class__.__name__
    return f"{user_path(exc.filename)}: {cause}" if exc.filename is not None else cause
