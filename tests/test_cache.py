"""The on-disk caches (exported graphs, OpenVINO's compiled shapes) are trimmed, least recently used first."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ifrnet.io import files
from ifrnet.io.files import prune_cache


def _file(folder: Path, name: str, size: int, used: float) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (used, used))
    return path


def test_the_least_recently_used_files_go_first_until_the_rest_fit(tmp_path):
    old, middle, new = (_file(tmp_path, name, 100, used) for name, used in (("a", 1e9), ("b", 2e9), ("c", 3e9)))
    (tmp_path / "sub").mkdir()
    _file(tmp_path / "sub", "big", 10_000, 0)  # sub-folders are not the cache's files
    assert prune_cache(tmp_path, max_bytes=250) == [old]
    assert prune_cache(tmp_path, max_bytes=250) == []  # 200 bytes left: nothing more to do
    assert prune_cache(tmp_path, max_bytes=100) == [middle]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "sub"] and new.exists()


def test_a_read_counts_as_use_and_kept_files_stay_whatever_their_age(tmp_path):
    read_lately = _file(tmp_path, "read", 100, 1e9)
    os.utime(read_lately, (4e9, 1e9))  # written long ago, read (access time) lately
    written = _file(tmp_path, "written", 100, 3e9)
    kept = _file(tmp_path, "kept", 100, 1.0)
    assert prune_cache(tmp_path, keep=[kept], max_bytes=150) == [written, read_lately]
    assert kept.exists()


def test_the_default_limit_is_read_when_pruning(tmp_path, monkeypatch):
    a = _file(tmp_path, "a", 100, 1e9)
    _file(tmp_path, "b", 100, 2e9)
    assert prune_cache(tmp_path) == []
    monkeypatch.setattr(files, "CACHE_MAX_BYTES", 150)
    assert prune_cache(tmp_path) == [a]


def test_files_that_cannot_be_deleted_are_skipped_not_raised(tmp_path, monkeypatch):
    stuck = _file(tmp_path, "stuck", 100, 1e9)
    other = _file(tmp_path, "other", 100, 2e9)
    newest = _file(tmp_path, "newest", 100, 3e9)
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        if self.name == "stuck":
            raise PermissionError(13, "Permission denied", str(self))
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    # the stuck file still counts, so the next ones make up for it
    assert prune_cache(tmp_path, max_bytes=150) == [other, newest]
    assert stuck.exists()
    assert prune_cache(tmp_path / "missing", max_bytes=0) == []


def test_temporaries_being_written_symlinks_and_folders_are_spared(tmp_path):
    writing = _file(tmp_path, ".IFRNet_S-ab.x1y2.partial.onnx", 100, time.time() - 60)  # another run's export
    crashed = _file(tmp_path, ".IFRNet_S-cd.z3w4.partial.onnx", 100, time.time() - 2 * files.PARTIAL_GRACE_S)
    (tmp_path / "elsewhere").mkdir()
    target = _file(tmp_path / "elsewhere", "target", 1000, 1.0)
    link = tmp_path / "link"
    link.symlink_to(target)
    fresh = _file(tmp_path, "fresh", 100, 3e9)
    assert prune_cache(tmp_path, max_bytes=0) == [crashed, fresh]
    assert writing.exists() and link.is_symlink() and target.exists()


def test_a_file_another_process_deleted_counts_as_gone(tmp_path, monkeypatch):
    first = _file(tmp_path, "first", 100, 1e9)
    _file(tmp_path, "second", 100, 2e9)
    real_unlink = Path.unlink

    def unlink(self, missing_ok=False):
        real_unlink(self, missing_ok)
        if self.name == "first":  # gone before we could: the other process took it
            raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "unlink", unlink)
    assert prune_cache(tmp_path, max_bytes=100) == []
    assert not first.exists() and (tmp_path / "second").exists()
