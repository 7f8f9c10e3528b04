"""A chunked job's work folder: its chunk files and the manifest that says what they hold.

The folder sits beside the output (``.NAME.ifrnet-work``), so it is on the output's file system
and the join's rename stays atomic. The manifest names what made the chunks (ifrnet version,
input, options, engine, chunk length) and, for each finished chunk, its source range, output
frame count, first and last pts, packet stamps and the sha256 of its file. It is rewritten
atomically after every chunk: a job killed at any moment leaves a manifest that names only
chunks whose files were complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..io.files import file_sha256
from ..video.chunks import CHUNK_FORMAT, Chunk, ChunkResult

MANIFEST = "manifest.json"
#: the manifest's own layout; a folder with another is refused
MANIFEST_VERSION = 1


def work_folder_of(output: Path) -> Path:
    """Where the chunks of ``output`` are kept while its job runs."""
    return output.parent / f".{output.name}.ifrnet-work"


@dataclass
class WorkFolder:
    """The work folder of one output: ``identity`` (what made it) and the finished chunks."""

    path: Path
    identity: dict
    chunks: dict[int, dict] = field(default_factory=dict)

    @classmethod
    def open(cls, output: Path, identity: dict, resume: bool, overwrite: bool) -> WorkFolder:
        """The work folder for ``output``: a new one, or (``resume``) the one an earlier run left,
        whose identity must equal ``identity``. An existing folder without ``resume`` is refused
        unless ``overwrite`` (then removed). Raises :class:`InputError` naming what differs."""
        path = work_folder_of(output)
        if path.exists() and not resume:
            if not overwrite:
                raise InputError(
                    f"{path}: an earlier run of {output} left its chunks here; pass --resume to finish it "
                    "or --overwrite to start over"
                )
            shutil.rmtree(path)
        folder = cls(path, identity)
        manifest = path / MANIFEST
        if resume and manifest.exists():
            try:
                recorded = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"{manifest}: unreadable manifest ({exc}); run without --resume and with --overwrite to start over"
                ) from None
            difference = _difference(recorded.get("identity", {}), identity)
            if recorded.get("manifest") != MANIFEST_VERSION or difference:
                raise InputError(
                    f"{path}: made by another job ({difference or 'another manifest layout'}); "
                    "run without --resume and with --overwrite to start over"
                )
            folder.chunks = {int(k): v for k, v in recorded.get("chunks", {}).items()}
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
        folder._save()
        return folder

    def chunk_path(self, number: int) -> Path:
        return self.path / f"chunk-{number:06d}.{CHUNK_FORMAT}"

    def reusable(self, chunk: Chunk) -> ChunkResult | None:
        """The recorded result of ``chunk`` if its file is complete and holds that chunk, else ``None``."""
        entry = self.chunks.get(chunk.number)
        path = self.chunk_path(chunk.number)
        if (
            entry is None
            or entry["source"] != [chunk.first_frame, chunk.last_frame]
            or entry["frames"] != chunk.frames_out
            or not path.is_file()
            or file_sha256(path) != entry["sha256"]
        ):
            return None
        return ChunkResult(
            number=chunk.number,
            stamps=[(p, d) for p, d in entry["stamps"]],
            time_base=Fraction(entry["time_base"]),
            frames_out=entry["frames"],
            interpolated=entry["interpolated"],
            irregular=entry["irregular"],
            pix_fmt=entry["pix_fmt"],
            notices=list(entry["notices"]),
        )

    @contextlib.contextmanager
    def writing(self, number: int) -> Iterator[Path]:
        """A temporary name in the folder for chunk ``number``'s file; renamed onto its own name
        only when the block succeeds (the caller then :meth:`record`\\ s it)."""
        fd, name = tempfile.mkstemp(prefix=f".chunk-{number:06d}.", suffix=f".partial.{CHUNK_FORMAT}", dir=self.path)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            os.replace(tmp, self.chunk_path(number))
        finally:
            tmp.unlink(missing_ok=True)

    def record(self, chunk: Chunk, result: ChunkResult) -> None:
        """Note a finished chunk in the manifest (written atomically)."""
        pts = [p for p, _ in result.stamps]
        self.chunks[chunk.number] = {
            "source": [chunk.first_frame, chunk.last_frame],
            "frames": result.frames_out,
            "first_pts": min(pts) if pts else None,
            "last_pts": max(pts) if pts else None,
            "time_base": str(result.time_base),
            "sha256": file_sha256(self.chunk_path(chunk.number)),
            "file": self.chunk_path(chunk.number).name,
            "stamps": [list(s) for s in result.stamps],
            "interpolated": result.interpolated,
            "irregular": result.irregular,
            "pix_fmt": result.pix_fmt,
            "notices": result.notices,
        }
        self._save()

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _save(self) -> None:
        body = {"manifest": MANIFEST_VERSION, "identity": self.identity, "chunks": self.chunks}
        fd, name = tempfile.mkstemp(prefix=".manifest.", suffix=".partial", dir=self.path)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(name, self.path / MANIFEST)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise


def _difference(recorded: dict, wanted: dict, prefix: str = "") -> str | None:
    """The first key whose value differs, as ``"options.crf: 18 -> 20"``; ``None`` if equal."""
    for key in sorted(set(recorded) | set(wanted)):
        old, new = recorded.get(key), wanted.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found = _difference(old, new, f"{prefix}{key}.")
            if found:
                return found
        elif old != new:
            return f"{prefix}{key}: {_shown(old)} -> {_shown(new)}"
    return None


def _shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
